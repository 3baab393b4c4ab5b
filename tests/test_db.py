"""Database: migrations, models, demo-data seeding, CLI, sessions, audit and hand-off queue.

Runs on SQLite, and again on PostgreSQL when ANXIN_TEST_DB_URL is set (see anxin.db.testing).
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from anxin.db.audit import audit, audit_entries
from anxin.db.cli import app as db_app
from anxin.db.engine import database_url, get_engine, normalize_url, session_scope
from anxin.db.handoff import close_ticket, open_ticket, queue, take_ticket
from anxin.db.migrate import current_revision, downgrade, head_revision, table_counts, upgrade
from anxin.db.models import ALL_TABLES, Base, ChatSession, Claim, Customer, Policy
from anxin.db.seed import expected_counts, seed, validate_demo_data
from anxin.db.sessions import add_message, latest_consent, messages, record_consent, update_state
from anxin.db.testing import backend, db, db_url, migrated_url, sqlite_template  # noqa: F401  (fixtures)
from anxin.knowledge.filing import load_demo_data
from anxin.tools.errors import ToolError


# --------------------------------------------------------------------------- engine / URL
def test_default_url_is_sqlite_under_anxin_home(tmp_path, monkeypatch):
    monkeypatch.delenv("ANXIN_DB_URL", raising=False)
    home = tmp_path / "nested" / "home"
    monkeypatch.setenv("ANXIN_HOME", str(home))
    url = database_url()
    assert url == f"sqlite:///{home / 'anxin.db'}"
    assert home.is_dir()


def test_postgres_urls_use_psycopg3():
    assert normalize_url("postgresql://u:p@127.0.0.1/x") == "postgresql+psycopg://u:p@127.0.0.1/x"
    assert normalize_url("postgres://u@h/x") == "postgresql+psycopg://u@h/x"
    assert normalize_url("postgresql+psycopg://u@h/x") == "postgresql+psycopg://u@h/x"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_pragmas(tmp_path):
    engine = get_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


# --------------------------------------------------------------------------- migrations
def test_migrations_create_every_table(migrated_url):
    engine = get_engine(migrated_url)
    tables = set(inspect(engine).get_table_names())
    assert set(ALL_TABLES) <= tables
    assert "alembic_version" in tables
    assert current_revision(migrated_url) == head_revision() == "0001_initial"


def test_migrations_match_the_models(migrated_url):
    with get_engine(migrated_url).connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diffs == []


def test_upgrade_is_repeatable_and_downgrade_removes_tables(migrated_url):
    assert upgrade(migrated_url) == "0001_initial"
    downgrade(migrated_url, "base")
    assert not set(ALL_TABLES) & set(inspect(get_engine(migrated_url)).get_table_names())
    assert upgrade(migrated_url) == "0001_initial"


def test_no_genetic_data_columns(migrated_url):
    insp = inspect(get_engine(migrated_url))
    for table in insp.get_table_names():
        for col in insp.get_columns(table):
            name = col["name"].lower()
            assert "genetic" not in name and "gene_" not in name and "dna" not in name, (table, name)


def test_foreign_keys_are_enforced(db):
    db.add(Policy(policy_number="XH-X-1", product_id="MED-100", policyholder_id="NOPE", insured_id="NOPE",
                  status="active", start_date=dt.date(2026, 1, 1), premium=Decimal("1")))
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()


# --------------------------------------------------------------------------- seed
def test_demo_data_is_consistent_with_catalog():
    assert validate_demo_data() == []


def test_seed_counts_match_demo_data_and_are_idempotent(db):
    expected = expected_counts()
    counts = table_counts(db.get_bind())
    for table, n in expected.items():
        assert counts[table] == n, table
    report = seed(db)
    assert report.added == {}
    assert report.updated == {}
    assert report.unchanged["customers"] == expected["customers"]
    assert table_counts(db.get_bind()) == counts


def test_seed_round_trips_values(db):
    data = load_demo_data()
    for p in data["policies"]:
        row = db.get(Policy, p["policy_number"])
        assert row.premium == Decimal(str(p["premium"])).quantize(Decimal("0.01"))
        assert row.quote_params == p["quote_params"]
        assert row.status == p["status"]
        assert row.underwriting == p.get("underwriting")
        assert (row.end_date.isoformat() if row.end_date else None) == p.get("end_date")
    minor = db.get(Customer, "C012")
    assert minor.guardian_id == "C002"
    assert db.get(Customer, "C006").id_last4 == "053X"
    claim = db.get(Claim, "CLM-2026-0009")
    assert claim.details["payments"][0]["amount"] == 1800
    assert [e.status for e in claim.events][-2:] == ["paid", "paid"]


def test_seed_updates_changed_rows_and_keeps_filed_claims(db):
    row = db.get(Policy, "XH-TL300-2025-000101")
    row.status = "lapsed"
    claim = db.get(Claim, "CLM-2026-0016")
    claim.events[0].status = "paid"
    db.add(Claim(claim_id="CLM-2026-0999", policy_number="XH-TL300-2025-000101", insured_id="C001",
                 coverages=["DEATH_TPD"], submitted_date=dt.date(2026, 11, 1), status="submitted", source="filed"))
    db.commit()
    report = seed(db)
    assert report.updated == {"policies": 1, "claim_events": 1}
    assert db.get(Policy, "XH-TL300-2025-000101").status == "active"
    assert db.get(Claim, "CLM-2026-0016").events[0].status == "submitted"
    assert db.get(Claim, "CLM-2026-0999") is not None


# --------------------------------------------------------------------------- CLI
def test_cli_init_seed_status_reset(db_url):
    runner = CliRunner()
    result = runner.invoke(db_app, ["init"])
    assert result.exit_code == 0, result.output
    assert "0001_initial" in result.output
    assert runner.invoke(db_app, ["seed"]).exit_code == 0
    assert runner.invoke(db_app, ["seed"]).exit_code == 0
    result = runner.invoke(db_app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["revision"] == "0001_initial" and info["up_to_date"]
    for table, n in expected_counts().items():
        assert info["tables"][table] == n
    assert "password" not in info["url"] or "***" in info["url"]

    with session_scope() as s:
        s.add(ChatSession(id="keep-me", state={}, handoff_state="none"))
    aborted = runner.invoke(db_app, ["reset"], input="n\n")
    assert aborted.exit_code != 0
    with session_scope() as s:
        assert s.get(ChatSession, "keep-me") is not None
    result = runner.invoke(db_app, ["reset", "--yes"])
    assert result.exit_code == 0, result.output
    with session_scope() as s:
        assert s.get(ChatSession, "keep-me") is None
    counts = table_counts(db_url)
    assert counts["claims"] == expected_counts()["claims"]
    assert counts["sessions"] == 0
    assert "revision" in runner.invoke(db_app, ["status"]).output


# --------------------------------------------------------------------------- sessions, consents, audit
def test_sessions_messages_and_consents(db):
    add_message(db, "sess-1", "user", "你好", {"intent": "greeting"})
    add_message(db, "sess-1", "assistant", "您好！")
    assert update_state(db, "sess-1", {"lang": "zh"}) == {"lang": "zh"}
    assert update_state(db, "sess-1", {"step": 2}) == {"lang": "zh", "step": 2}
    record_consent(db, "voice_recording", True, session_id="sess-1")
    record_consent(db, "voice_recording", False, session_id="sess-1", customer_id="C001")
    db.commit()
    msgs = messages(db, "sess-1")
    assert [m.role for m in msgs] == ["user", "assistant"]
    assert msgs[0].meta == {"intent": "greeting"}
    assert latest_consent(db, "voice_recording", session_id="sess-1") is False
    assert latest_consent(db, "marketing", customer_id="C001") is None


def test_audit_entries(db):
    audit(db, "cli", "test.action", "X-1", {"k": 1})
    audit(db, "cli", "test.other", "X-1", {})
    db.commit()
    assert [e.action for e in audit_entries(db, subject="X-1")] == ["test.action", "test.other"]
    assert len(audit_entries(db, action="test.")) == 2
    assert audit_entries(db, action="test.action")[0].detail == {"k": 1}


# --------------------------------------------------------------------------- hand-off queue
def test_handoff_queue_orders_by_urgency_then_age(db):
    t0 = dt.datetime(2026, 11, 1, 9, 0)
    a = open_ticket(db, "s-a", "wants a human", "asks about renewal", {}, now=t0)
    b = open_ticket(db, "s-b", "complaint", "angry about a rejected claim", {"emotion": "anger"},
                    now=t0 + dt.timedelta(minutes=5))
    c = open_ticket(db, "s-c", "question", "general", {}, now=t0 + dt.timedelta(minutes=1))
    assert a["status"] == "open" and a["ticket_id"].startswith("HT-")
    assert a["queue_position"] == 1
    assert b["urgency"] == "high" and b["queue_position"] == 1
    assert c["queue_position"] == 3
    order = [t["session_id"] for t in queue(db)]
    assert order == ["s-b", "s-a", "s-c"]
    assert [t["queue_position"] for t in queue(db)] == [1, 2, 3]
    assert db.get(ChatSession, "s-a").handoff_state == "open"

    again = open_ticket(db, "s-c", "urgent now", "second request", {}, urgency="urgent")
    assert again["existing"] and again["ticket_id"] == c["ticket_id"]
    assert again["queue_position"] == 1 and again["urgency"] == "urgent"
    assert len(queue(db)) == 3

    taken = take_ticket(db, b["ticket_id"], "advisor-7")
    assert taken["status"] == "taken" and db.get(ChatSession, "s-b").handoff_state == "taken"
    assert [t["session_id"] for t in queue(db)] == ["s-c", "s-a"]
    assert [t["session_id"] for t in queue(db, include_taken=True)][-1] == "s-b"
    closed = close_ticket(db, b["ticket_id"], resolution="explained the deductible")
    assert closed["status"] == "closed" and db.get(ChatSession, "s-b").handoff_state == "closed"
    assert len(audit_entries(db, action="handoff.")) >= 5

    with pytest.raises(ToolError) as err:
        open_ticket(db, "s-d", "", "", {})
    assert err.value.code == "MISSING_PARAM"
    with pytest.raises(ToolError) as err:
        take_ticket(db, "HT-999999", "x")
    assert err.value.code == "NOT_FOUND"


def test_session_scope_commits_and_rolls_back(db):
    with session_scope() as s:
        s.add(ChatSession(id="ok", state={}, handoff_state="none"))
    with pytest.raises(RuntimeError):
        with session_scope() as s:
            s.add(ChatSession(id="bad", state={}, handoff_state="none"))
            s.flush()
            raise RuntimeError("boom")
    with session_scope() as s:
        assert s.get(ChatSession, "ok") is not None
        assert s.get(ChatSession, "bad") is None
        assert s.scalar(select(text("1"))) == 1

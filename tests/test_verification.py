"""Identity verification (demo_data meta.verification) and lockout.

Runs on SQLite, and again on PostgreSQL when ANXIN_TEST_DB_URL is set.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from anxin.db.audit import audit_entries
from anxin.db.claims import claim_status
from anxin.db.models import ChatSession, Policy, VerificationAttempt
from anxin.db.testing import backend, db, db_url, migrated_url, sqlite_template  # noqa: F401  (fixtures)
from anxin.db.verification import (
    MAX_FAILURES_PER_POLICY,
    MAX_FAILURES_PER_SESSION,
    VerifiedIdentity,
    coerce_identity,
    identity_for_session,
    lockout_state,
    verify_identity,
)
from anxin.tools.errors import ToolError

NOW = dt.datetime(2026, 11, 1, 10, 0, 0)
WU = dict(policy_number="XH-CI200-2016-000123", id_last4="9315")  # C011 Wu Qiang, dob 1970-06-25


def _code(fn, *args, **kwargs) -> str:
    with pytest.raises(ToolError) as err:
        fn(*args, **kwargs)
    return err.value.code


def _attempts(db) -> int:
    return db.scalar(select(func.count()).select_from(VerificationAttempt))


# --------------------------------------------------------------------------- success
@pytest.mark.parametrize("name", ["吴强", "Wu Qiang", "wu qiang", "WUQIANG", " Wu  Qiang ", "Qiang Wu", "吴 强"])
def test_success_by_name(db, name):
    ident = verify_identity(db, "s1", **WU, name=name, now=NOW)
    assert isinstance(ident, VerifiedIdentity)
    assert ident.customer_id == "C011"
    assert ident.matched_on == "name" and ident.role == "policyholder"
    assert ident.policy_numbers == ("XH-CI200-2016-000123", "XH-MED100-2026-000124")
    assert db.get(ChatSession, "s1").verified_customer_id == "C011"


@pytest.mark.parametrize("dob", ["1970-06-25", "1970/6/25", "19700625", "1970年6月25日", dt.date(1970, 6, 25)])
def test_success_by_dob(db, dob):
    ident = verify_identity(db, "s1", **WU, dob=dob, now=NOW)
    assert ident.customer_id == "C011" and ident.matched_on == "dob"


def test_success_by_claim_id_and_lowercase_inputs(db):
    ident = verify_identity(db, "s1", claim_id="clm-2026-0010", id_last4="053x", name="liu yang", now=NOW)
    assert ident.customer_id == "C006"
    assert ident.verified_policy == "XH-UBI600-2026-000114"
    assert set(ident.policy_numbers) == {"XH-UBI600-2025-000115", "XH-UBI600-2026-000114"}


def test_name_or_dob_wrong_but_other_right(db):
    assert verify_identity(db, "s1", **WU, name="Wrong Name", dob="1970-06-25", now=NOW).matched_on == "dob"
    assert verify_identity(db, "s2", **WU, name="吴强", dob="1999-01-01", now=NOW).matched_on == "name"


# --------------------------------------------------------------------------- failure
@pytest.mark.parametrize("kwargs", [
    dict(policy_number="XH-CI200-2016-000123", id_last4="0000", name="吴强"),  # wrong ID digits
    dict(policy_number="XH-CI200-2016-000123", id_last4="9315", name="张伟"),  # another person's name
    dict(policy_number="XH-CI200-2016-000123", id_last4="9315", dob="1970-06-26"),  # wrong dob
    dict(policy_number="XH-CI200-2016-000123", id_last4="3918", name="张伟"),  # C001's credentials
    dict(policy_number="XH-NOPE-2026-999999", id_last4="9315", name="吴强"),  # unknown policy
    dict(claim_id="CLM-2099-0001", id_last4="9315", name="吴强"),  # unknown claim
    dict(claim_id="CLM-2026-0008", policy_number="XH-TL300-2025-000101", id_last4="9315", name="吴强"),  # mismatch
])
def test_failures_look_alike_and_are_counted(db, kwargs):
    with pytest.raises(ToolError) as err:
        verify_identity(db, "s1", now=NOW, **kwargs)
    assert err.value.code == "VERIFICATION_FAILED"
    assert "4 attempt(s) left" in err.value.detail
    assert "exist" not in err.value.detail.lower()
    assert _attempts(db) == 1
    assert db.get(ChatSession, "s1").verified_customer_id is None


def test_missing_inputs_are_not_counted(db):
    assert _code(verify_identity, db, "s1", id_last4="9315", name="吴强", now=NOW) == "MISSING_PARAM"
    assert _code(verify_identity, db, "s1", policy_number=WU["policy_number"], id_last4="", name="x") == "MISSING_PARAM"
    assert _code(verify_identity, db, "s1", **WU, now=NOW) == "MISSING_PARAM"
    assert _code(verify_identity, db, "s1", **WU, dob="not a date", now=NOW) == "INVALID_VALUE"
    assert _attempts(db) == 0


# --------------------------------------------------------------------------- lockout
def test_lockout_after_five_failures_in_a_session(db):
    for i in range(MAX_FAILURES_PER_SESSION):
        # different policies, so only the session counter can lock
        pn = ["XH-TL300-2025-000101", "XH-MED100-2026-000102", "XH-CI200-2021-000103",
              "XH-MED100-2026-000105", "XH-MED100-2026-000106"][i]
        with pytest.raises(ToolError) as err:
            verify_identity(db, "s1", policy_number=pn, id_last4="0000", name="nobody", now=NOW + dt.timedelta(minutes=i))
        assert err.value.code == "VERIFICATION_FAILED"
    assert "no attempts left" in err.value.detail
    # now even correct credentials are refused, also hours later, and not counted
    later = NOW + dt.timedelta(hours=5)
    assert _code(verify_identity, db, "s1", **WU, name="吴强", now=later) == "VERIFICATION_LOCKED"
    assert _attempts(db) == MAX_FAILURES_PER_SESSION
    assert lockout_state(db, "s1", now=later)["session_locked"]
    # another session is not affected
    assert verify_identity(db, "s2", **WU, name="吴强", now=later).customer_id == "C011"
    assert audit_entries(db, action="verification.locked")


def test_lockout_per_policy_within_an_hour_across_sessions(db):
    for i in range(MAX_FAILURES_PER_POLICY):
        with pytest.raises(ToolError):
            verify_identity(db, f"attacker-{i}", **WU, name="Nobody", now=NOW + dt.timedelta(minutes=i))
    # a fresh session with the right credentials is locked out of this policy for now
    t = NOW + dt.timedelta(minutes=30)
    assert _code(verify_identity, db, "customer", **WU, name="吴强", now=t) == "VERIFICATION_LOCKED"
    # the same policy through one of its claim ids is the same subject
    assert _code(verify_identity, db, "customer", claim_id="CLM-2026-0008", id_last4="9315",
                 name="吴强", now=t) == "VERIFICATION_LOCKED"
    # other policies are not locked
    assert verify_identity(db, "other", policy_number="XH-TL300-2025-000101", id_last4="3918",
                           name="张伟", now=t).customer_id == "C001"
    # the window slides: an hour after the first failure only 4 remain in it
    t2 = NOW + dt.timedelta(minutes=60)
    assert lockout_state(db, "customer", policy_number=WU["policy_number"], now=t2)["policy_failures_last_hour"] == 4
    ident = verify_identity(db, "customer", **WU, name="吴强", now=t2)
    assert ident.customer_id == "C011"
    # a success does not clear the window: one more failure within it locks again
    with pytest.raises(ToolError):
        verify_identity(db, "attacker-9", **WU, name="Nobody", now=t2)
    assert _code(verify_identity, db, "customer-2", **WU, name="吴强", now=t2) == "VERIFICATION_LOCKED"


def test_unknown_policy_locks_like_a_real_one(db):
    for i in range(MAX_FAILURES_PER_POLICY):
        with pytest.raises(ToolError):
            verify_identity(db, f"x{i}", policy_number="XH-NOPE-1", id_last4="1111", name="a", now=NOW)
    assert _code(verify_identity, db, "x9", policy_number="XH-NOPE-1", id_last4="1111", name="a", now=NOW) \
        == "VERIFICATION_LOCKED"


# --------------------------------------------------------------------------- guardian / minors
def test_guardian_sees_minor_policies(db):
    # C002 Li Na is the guardian of C012 (born 2018): C002's identity includes the child's policy
    ident = verify_identity(db, "g", policy_number="XH-MED100-2026-000105", id_last4="0427", name="李娜", now=NOW)
    assert ident.customer_id == "C002"
    assert "XH-MED100-2026-000105" in ident.policy_numbers
    assert ident.ward_ids == ("C012",)
    assert claim_status(db, ident, claim_id="CLM-2026-0006")["claim"]["insured_id"] == "C012"


def test_guardian_role_when_not_policyholder(db):
    # make the child the policyholder too: Li Na now qualifies only as the minor insured's guardian
    db.get(Policy, "XH-MED100-2026-000105").policyholder_id = "C012"
    db.commit()
    ident = verify_identity(db, "g", policy_number="XH-MED100-2026-000105", id_last4="0427", dob="1991-07-22", now=NOW)
    assert ident.customer_id == "C002" and ident.role == "guardian"
    assert "XH-MED100-2026-000105" in ident.policy_numbers
    # once the insured is an adult, the guardian no longer qualifies
    adult_day = dt.datetime(2036, 4, 10, 12, 0)
    assert _code(verify_identity, db, "g2", policy_number="XH-MED100-2026-000105", id_last4="0427",
                 dob="1991-07-22", now=adult_day) == "VERIFICATION_FAILED"


def test_insured_who_is_not_policyholder_can_verify(db):
    ident = verify_identity(db, "kid", policy_number="XH-MED100-2026-000105", id_last4="3028", name="郑小雨", now=NOW)
    assert ident.customer_id == "C012" and ident.role == "insured"
    assert ident.policy_numbers == ("XH-MED100-2026-000105",)


def test_forbidden_for_another_customers_policy(db):
    ident = verify_identity(db, "s1", **WU, name="吴强", now=NOW)
    assert _code(claim_status, db, ident, policy_number="XH-TL300-2025-000101") == "FORBIDDEN"
    assert _code(claim_status, db, ident, claim_id="CLM-2026-0006") == "FORBIDDEN"
    assert _code(claim_status, db, None, policy_number=WU["policy_number"]) == "NOT_VERIFIED"


# --------------------------------------------------------------------------- identity persistence, audit
def test_identity_for_session_and_dict_round_trip(db):
    ident = verify_identity(db, "s1", **WU, dob="1970-06-25", now=NOW)
    again = identity_for_session(db, "s1")
    assert again is not None and again.customer_id == "C011"
    assert again.policy_numbers == ident.policy_numbers and again.matched_on == "dob"
    assert identity_for_session(db, "unknown") is None
    from_dict = coerce_identity(db, json.loads(json.dumps(ident.to_dict())))
    assert from_dict.policy_numbers == ident.policy_numbers
    assert _code(coerce_identity, db, {"customer_id": "C999"}) == "NOT_VERIFIED"
    assert _code(coerce_identity, db, None) == "NOT_VERIFIED"


def test_audit_records_attempts_without_credentials(db):
    with pytest.raises(ToolError):
        verify_identity(db, "s1", **WU, dob="1970-06-26", now=NOW)
    verify_identity(db, "s1", **WU, dob="1970-06-25", now=NOW)
    entries = audit_entries(db, subject=WU["policy_number"])
    assert [e.action for e in entries] == ["verification.failure", "verification.success"]
    blob = json.dumps([e.detail for e in entries], ensure_ascii=False)
    assert "9315" not in blob and "1970" not in blob and "吴强" not in blob

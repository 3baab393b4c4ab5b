"""Pytest fixtures for database tests (imported by tests/test_db.py and friends).

Every test gets its own database: an SQLite file in its ``tmp_path`` and, when
``ANXIN_TEST_DB_URL`` names a PostgreSQL database, the same test runs a second time
against it (the ``backend`` fixture is parametrized ``sqlite`` / ``postgresql``), its schema
emptied (``db_url``) or its tables truncated and re-seeded (``db``) first.
``ANXIN_DB_URL`` points at the database under test while the test runs.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from anxin.db.engine import dispose_engines, make_engine, normalize_url, session_factory
from anxin.db.migrate import drop_everything, upgrade
from anxin.db.models import ALL_TABLES
from anxin.db.seed import seed

PG_ENV = "ANXIN_TEST_DB_URL"


def backends() -> list[str]:
    """``["sqlite"]``, plus ``"postgresql"`` when ``ANXIN_TEST_DB_URL`` is set."""
    return ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])


def empty_postgres(url: str) -> None:
    """Remove everything from the database's ``public`` schema."""
    engine = make_engine(url)
    try:
        try:
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        except Exception:  # not the schema owner: drop the tables one by one
            drop_everything(engine)
    finally:
        engine.dispose()


def truncate_postgres(url: str) -> None:
    """Empty every table of Anxin's (already migrated) schema, resetting identities."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE TABLE " + ", ".join(f'"{t}"' for t in ALL_TABLES)
                              + " RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(params=backends())
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite``, and ``postgresql`` when ANXIN_TEST_DB_URL is set."""
    return request.param


@pytest.fixture
def db_url(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """URL of an EMPTY database for this test (a new SQLite file, or the PostgreSQL
    database with its public schema dropped and recreated); ``ANXIN_DB_URL`` points at it."""
    dispose_engines()
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'anxin.db'}"
    else:
        url = normalize_url(os.environ[PG_ENV])
        empty_postgres(url)
    monkeypatch.setenv("ANXIN_DB_URL", url)
    yield url
    dispose_engines()


@pytest.fixture
def migrated_url(db_url: str) -> str:
    """The empty test database migrated to head (no data)."""
    upgrade(db_url)
    return db_url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to head and seeded once per test run; tests get copies."""
    path = tmp_path_factory.mktemp("anxin-db-template") / "template.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            seed(session)
    finally:
        engine.dispose()  # checkpoints the WAL into the main file
    return path


@pytest.fixture
def db(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
       request: pytest.FixtureRequest) -> Iterator[Session]:
    """A Session on a database at head holding exactly the demo data (SQLite: a copy of
    the seeded template; PostgreSQL: migrated if needed, every table emptied, seeded).
    ``ANXIN_DB_URL`` points at it; ``db.get_bind()`` is its engine. Do not combine with
    ``db_url``/``migrated_url`` (those empty the database)."""
    dispose_engines()
    if backend == "sqlite":
        path = tmp_path / "anxin.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = normalize_url(os.environ[PG_ENV])
        try:
            upgrade(url)
            truncate_postgres(url)
        except Exception:  # left in an odd state by an earlier test: start from scratch
            dispose_engines()
            empty_postgres(url)
            upgrade(url)
    monkeypatch.setenv("ANXIN_DB_URL", url)
    session = session_factory(url)()
    try:
        if backend != "sqlite":
            seed(session)
        yield session
    finally:
        session.rollback()
        session.close()
        dispose_engines()

"""Engine and session plumbing for Anxin's database.

The database URL comes from ``ANXIN_DB_URL`` (any SQLAlchemy URL; PostgreSQL through
psycopg 3, e.g. ``postgresql+psycopg://user:pw@127.0.0.1:5432/anxin``). Without it Anxin
uses an SQLite file ``$ANXIN_HOME/anxin.db`` (the folder is created on demand).

SQLite connections get WAL journaling, enforced foreign keys and a busy timeout, and
run in "manual BEGIN" mode so that SAVEPOINTs and transactional DDL behave as on
PostgreSQL (the pysqlite recipe from the SQLAlchemy documentation).
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from anxin.config import settings

SQLITE_BUSY_TIMEOUT_MS = 30_000

_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}
_lock = threading.Lock()


def normalize_url(url: str) -> str:
    """Point bare PostgreSQL URLs (``postgres://``, ``postgresql://``) at psycopg 3, the
    driver Anxin installs; other URLs are returned unchanged."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def database_url() -> str:
    """The configured database URL: ``ANXIN_DB_URL``, else ``sqlite:///$ANXIN_HOME/anxin.db``."""
    s = settings()
    if s.db_url:
        return normalize_url(s.db_url)
    s.home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{s.home / 'anxin.db'}"


def is_sqlite(url_or_engine: str | Engine) -> bool:
    """Whether a URL or engine talks to SQLite."""
    if isinstance(url_or_engine, Engine):
        return url_or_engine.dialect.name == "sqlite"
    return make_url(url_or_engine).get_backend_name() == "sqlite"


def _sqlite_pragmas(engine: Engine, path: str | None) -> None:
    memory = not path or path == ":memory:"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:  # pragma: no cover - trivial
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see "begin" below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:  # pragma: no cover - trivial
        # IMMEDIATE takes the write lock up front: a transaction that reads and then
        # writes can otherwise fail at once with "database is locked" when another
        # connection wrote in between (busy_timeout does not cover lock upgrades).
        conn.exec_driver_sql("BEGIN" if memory else "BEGIN IMMEDIATE")


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """A new engine for ``url`` (default :func:`database_url`) with Anxin's settings."""
    url = normalize_url(url or database_url())
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {}).setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        engine = create_engine(url, **kwargs)
        _sqlite_pragmas(engine, u.database)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def get_engine(url: str | None = None) -> Engine:
    """The shared engine for ``url`` (default :func:`database_url`), created once per URL."""
    url = normalize_url(url or database_url())
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    """A ``sessionmaker`` bound to the shared engine for ``url``."""
    url = normalize_url(url or database_url())
    engine = get_engine(url)
    with _lock:
        factory = _factories.get(url)
        if factory is None:
            factory = _factories[url] = sessionmaker(bind=engine, expire_on_commit=False)
        return factory


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A unit of work: yields a Session, commits when the block ends, rolls back on error.

    Services commit their own writes (a failed verification attempt must be stored even
    though the service then raises), so an exception here only discards what the block
    itself left uncommitted.
    """
    db = session_factory(url)()
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


def dispose_engines() -> None:
    """Close every pooled connection and forget the cached engines (tests, ``reset``)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _factories.clear()

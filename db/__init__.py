"""Anxin's operational database: customers, policies, claims, sessions, hand-offs, audit.

* :mod:`anxin.db.engine` — ``database_url()``, ``get_engine()``, ``session_scope()``
* :mod:`anxin.db.models` — SQLAlchemy 2 models
* :mod:`anxin.db.migrate` — Alembic migrations run in code (``upgrade()``, ``current_revision()``)
* :mod:`anxin.db.seed` — demo_data.yaml loader
* services: :mod:`~anxin.db.verification` (``verify_identity``), :mod:`~anxin.db.claims`
  (``claim_status``, ``file_claim``), :mod:`~anxin.db.handoff` (``open_ticket``, ``queue``),
  :mod:`~anxin.db.audit` (``audit``), :mod:`~anxin.db.sessions`
* :mod:`anxin.db.cli` — ``anxin db init | seed | reset | status``
"""
from __future__ import annotations

from anxin.db.engine import database_url, dispose_engines, get_engine, session_scope

__all__ = ["database_url", "dispose_engines", "get_engine", "session_scope", "ensure_database"]


def ensure_database(url: str | None = None, *, seed_demo: bool = True) -> str | None:
    """Migrate the database to head and (by default) load the demo data when it has no
    customers yet; returns the revision. Safe to call at every start-up."""
    from sqlalchemy import func, select

    from anxin.db.migrate import upgrade
    from anxin.db.models import Customer
    from anxin.db.seed import seed

    revision = upgrade(url)
    if seed_demo:
        with session_scope(url) as db:
            if not db.scalar(select(func.count()).select_from(Customer)):
                seed(db)
    return revision

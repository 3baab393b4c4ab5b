"""The audit trail: every disclosure and every write of the services leaves an entry."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anxin.db._util import naive_utc
from anxin.db.models import AuditEntry


def audit(
    db: Session,
    actor: str,
    action: str,
    subject: str | None,
    detail: dict[str, Any] | None = None,
    *,
    ts: dt.datetime | None = None,
) -> AuditEntry:
    """Add an audit entry (flushed, committed with the caller's unit of work).

    ``actor`` is who acted (``customer:C001``, ``session:<id>``, ``agent:<name>``, ``cli``),
    ``action`` what happened (``claim_status.disclose``, ``claim.file``,
    ``verification.failure``, ...), ``subject`` what it concerned (a policy number, claim
    id, session or ticket id) and ``detail`` JSON context. Never put credentials (ID
    digits, birth dates) in ``detail``.
    """
    entry = AuditEntry(
        ts=naive_utc(ts), actor=actor, action=action, subject=subject, detail=dict(detail or {})
    )
    db.add(entry)
    db.flush()
    return entry


def audit_entries(
    db: Session, *, subject: str | None = None, action: str | None = None, limit: int = 1000
) -> list[AuditEntry]:
    """Audit entries, oldest first, optionally filtered by subject and/or action (prefix
    match when ``action`` ends with ``.``)."""
    stmt = select(AuditEntry).order_by(AuditEntry.ts, AuditEntry.id).limit(limit)
    if subject is not None:
        stmt = stmt.where(AuditEntry.subject == subject)
    if action is not None:
        stmt = stmt.where(
            AuditEntry.action.startswith(action) if action.endswith(".") else AuditEntry.action == action
        )
    return list(db.scalars(stmt))

"""Conversation sessions, their messages and consents."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anxin.db.models import ChatSession, Consent, Message, utcnow


def get_or_create_session(
    db: Session, session_id: str, *, language: str | None = None, channel: str | None = None
) -> ChatSession:
    """The session row for ``session_id``, created (and flushed) when missing."""
    row = db.get(ChatSession, session_id)
    if row is None:
        row = ChatSession(id=session_id, language=language, channel=channel, state={}, handoff_state="none")
        db.add(row)
        db.flush()
    else:
        if language and row.language != language:
            row.language = language
        if channel and row.channel != channel:
            row.channel = channel
    return row


def update_state(db: Session, session_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Merge ``changes`` into the session's JSON state (one level deep) and return it."""
    row = get_or_create_session(db, session_id)
    state = dict(row.state or {})
    state.update(changes)
    row.state = state
    row.updated_at = utcnow()
    db.flush()
    return state


def add_message(
    db: Session, session_id: str, role: str, text: str, metadata: dict[str, Any] | None = None
) -> Message:
    """Append a message (role ``user``/``assistant``/``tool``/``system``) to a session."""
    get_or_create_session(db, session_id)
    msg = Message(session_id=session_id, role=role, text=text or "", meta=dict(metadata or {}))
    db.add(msg)
    db.flush()
    return msg


def messages(db: Session, session_id: str) -> list[Message]:
    """A session's messages, oldest first."""
    return list(db.scalars(select(Message).where(Message.session_id == session_id).order_by(Message.id)))


def record_consent(
    db: Session,
    kind: str,
    granted: bool,
    *,
    customer_id: str | None = None,
    session_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Consent:
    """Record a consent decision (e.g. ``voice_recording``, ``data_processing``)."""
    if session_id:
        get_or_create_session(db, session_id)
    row = Consent(customer_id=customer_id, session_id=session_id, kind=kind, granted=bool(granted),
                  detail=dict(detail or {}))
    db.add(row)
    db.flush()
    return row


def latest_consent(
    db: Session, kind: str, *, customer_id: str | None = None, session_id: str | None = None
) -> bool | None:
    """The most recent decision on ``kind`` for the customer or session (None if never asked)."""
    stmt = select(Consent).where(Consent.kind == kind).order_by(Consent.created_at.desc(), Consent.id.desc())
    if customer_id is not None:
        stmt = stmt.where(Consent.customer_id == customer_id)
    if session_id is not None:
        stmt = stmt.where(Consent.session_id == session_id)
    row = db.scalars(stmt.limit(1)).first()
    return None if row is None else row.granted

"""Hand-off tickets: a conversation asks for a human advisor and joins a queue.

The queue holds open tickets, most urgent first, then oldest first. Urgency levels:
``low`` (0), ``normal`` (1), ``high`` (2), ``urgent`` (3). Unless given, urgency is
derived from the reason and payload: distress or safety words → urgent; complaints,
anger, bereavement, vulnerability → high; otherwise normal.

A session has at most one open ticket: opening another while one is open returns the
existing ticket (its urgency raised if the new request is more urgent, the new summary
and payload appended), so a customer asking twice does not queue twice.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anxin.db._util import iso, naive_utc
from anxin.db.audit import audit
from anxin.db.models import ChatSession, HandoffTicket
from anxin.db.sessions import get_or_create_session
from anxin.tools.errors import ToolError

URGENCY_LEVELS = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
URGENCY_NAMES = {v: k for k, v in URGENCY_LEVELS.items()}

_URGENT_WORDS = ("suicide", "self-harm", "self harm", "emergency", "danger", "自杀", "轻生", "不想活", "紧急", "危险")
_HIGH_WORDS = (
    "complaint", "complain", "anger", "angry", "furious", "distress", "bereave", "death", "died", "vulnerable",
    "elderly", "disab", "regulator", "lawyer", "投诉", "生气", "愤怒", "去世", "身故", "丧", "监管", "律师", "失能",
)


def ticket_code(ticket_id: int) -> str:
    """The public ticket id, e.g. ``HT-000042``."""
    return f"HT-{ticket_id:06d}"


def _ticket_pk(ticket: str | int) -> int:
    if isinstance(ticket, int):
        return ticket
    text = str(ticket).strip().upper()
    if text.startswith("HT-"):
        text = text[3:]
    try:
        return int(text)
    except ValueError:
        raise ToolError("NOT_FOUND", f"ticket {ticket!r}") from None


def derive_urgency(reason: str, summary: str = "", payload: dict[str, Any] | None = None) -> int:
    """Urgency level (0..3) from the reason, the summary and the payload's ``emotion`` /
    ``urgency`` keys."""
    payload = payload or {}
    given = payload.get("urgency")
    if isinstance(given, str) and given.lower() in URGENCY_LEVELS:
        return URGENCY_LEVELS[given.lower()]
    text = f"{reason} {summary}".casefold()
    if any(w in text for w in _URGENT_WORDS):
        return URGENCY_LEVELS["urgent"]
    emotion = str(payload.get("emotion") or "").lower()
    if emotion in {"anger", "sadness", "anxiety"} or any(w in text for w in _HIGH_WORDS):
        return URGENCY_LEVELS["high"]
    return URGENCY_LEVELS["normal"]


def _open_queue(db: Session) -> list[HandoffTicket]:
    stmt = (select(HandoffTicket).where(HandoffTicket.status == "open")
            .order_by(HandoffTicket.urgency.desc(), HandoffTicket.created_at, HandoffTicket.id))
    return list(db.scalars(stmt))


def ticket_to_dict(ticket: HandoffTicket, position: int | None = None) -> dict[str, Any]:
    """A ticket as the tools return it."""
    return {
        "ticket_id": ticket_code(ticket.id),
        "id": ticket.id,
        "session_id": ticket.session_id,
        "status": ticket.status,
        "reason": ticket.reason,
        "summary": ticket.summary,
        "payload": dict(ticket.payload or {}),
        "urgency": URGENCY_NAMES.get(ticket.urgency, str(ticket.urgency)),
        "urgency_level": ticket.urgency,
        "queue_position": position,
        "created_at": iso(ticket.created_at),
        "taken_by": ticket.taken_by,
        "taken_at": iso(ticket.taken_at),
        "closed_at": iso(ticket.closed_at),
    }


def _position(db: Session, ticket: HandoffTicket) -> int | None:
    if ticket.status != "open":
        return None
    for i, t in enumerate(_open_queue(db), start=1):
        if t.id == ticket.id:
            return i
    return None


def _set_session_state(db: Session, session_id: str, state: str) -> None:
    row = db.get(ChatSession, session_id)
    if row is not None:
        row.handoff_state = state


def open_ticket(
    db: Session,
    session_id: str,
    reason: str,
    summary: str = "",
    payload: dict[str, Any] | None = None,
    *,
    urgency: str | int | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Open a hand-off ticket for ``session_id`` (or return its open one) and put the
    session in hand-off state ``open``.

    Returns ``{"ticket_id": "HT-000001", "id", "session_id", "status": "open", "reason",
    "summary", "payload", "urgency", "urgency_level", "queue_position" (1 = next),
    "queue_length", "created_at", "existing": bool, ...}``.
    """
    if not reason or not str(reason).strip():
        raise ToolError("MISSING_PARAM", "reason", field="reason")
    payload = dict(payload or {})
    if urgency is None:
        level = derive_urgency(str(reason), summary or "", payload)
    elif isinstance(urgency, int) and urgency in URGENCY_NAMES:
        level = urgency
    elif isinstance(urgency, str) and urgency.lower() in URGENCY_LEVELS:
        level = URGENCY_LEVELS[urgency.lower()]
    else:
        raise ToolError("INVALID_VALUE", f"urgency={urgency!r}; valid: {', '.join(URGENCY_LEVELS)}", field="urgency")
    get_or_create_session(db, session_id)
    existing = db.scalars(select(HandoffTicket).where(
        HandoffTicket.session_id == session_id, HandoffTicket.status == "open")).first()
    if existing is not None:
        existing.urgency = max(existing.urgency, level)
        if summary and summary not in (existing.summary or ""):
            existing.summary = f"{existing.summary}\n{summary}".strip()
        if payload:
            existing.payload = {**(existing.payload or {}), **payload}
        ticket, is_existing = existing, True
    else:
        ticket = HandoffTicket(session_id=session_id, reason=str(reason)[:200], summary=summary or "",
                               payload=payload, status="open", urgency=level, created_at=naive_utc(now))
        db.add(ticket)
        is_existing = False
    _set_session_state(db, session_id, "open")
    db.flush()
    audit(db, f"session:{session_id}", "handoff.open", ticket_code(ticket.id),
          {"session_id": session_id, "reason": ticket.reason, "urgency": URGENCY_NAMES[ticket.urgency],
           "existing": is_existing})
    db.commit()
    result = ticket_to_dict(ticket, _position(db, ticket))
    result["queue_length"] = len(_open_queue(db))
    result["existing"] = is_existing
    return result


def queue(db: Session, *, include_taken: bool = False) -> list[dict[str, Any]]:
    """Open tickets, most urgent first, then oldest first, each with its ``queue_position``;
    with ``include_taken`` the tickets being handled follow (position None)."""
    items = [ticket_to_dict(t, i) for i, t in enumerate(_open_queue(db), start=1)]
    if include_taken:
        taken = db.scalars(select(HandoffTicket).where(HandoffTicket.status == "taken")
                           .order_by(HandoffTicket.taken_at, HandoffTicket.id))
        items += [ticket_to_dict(t) for t in taken]
    return items


def take_ticket(db: Session, ticket: str | int, advisor: str, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """A human advisor takes an open ticket (session hand-off state ``taken``)."""
    row = db.get(HandoffTicket, _ticket_pk(ticket))
    if row is None:
        raise ToolError("NOT_FOUND", f"ticket {ticket}")
    if row.status != "open":
        raise ToolError("INVALID_VALUE", f"ticket {ticket_code(row.id)} is {row.status}", field="ticket")
    row.status, row.taken_by, row.taken_at = "taken", advisor, naive_utc(now)
    _set_session_state(db, row.session_id, "taken")
    audit(db, f"advisor:{advisor}", "handoff.take", ticket_code(row.id), {"session_id": row.session_id})
    db.commit()
    return ticket_to_dict(row)


def close_ticket(db: Session, ticket: str | int, *, actor: str = "advisor", resolution: str | None = None,
                 now: dt.datetime | None = None) -> dict[str, Any]:
    """Close a ticket (session hand-off state ``closed``)."""
    row = db.get(HandoffTicket, _ticket_pk(ticket))
    if row is None:
        raise ToolError("NOT_FOUND", f"ticket {ticket}")
    row.status, row.closed_at = "closed", naive_utc(now)
    if resolution:
        row.payload = {**(row.payload or {}), "resolution": resolution}
    _set_session_state(db, row.session_id, "closed")
    audit(db, actor, "handoff.close", ticket_code(row.id), {"session_id": row.session_id})
    db.commit()
    return ticket_to_dict(row)

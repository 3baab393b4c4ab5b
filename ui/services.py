"""What the HTTP API, the customer widget and the staff console do, written once.

:class:`AnxinService` wraps one :class:`~anxin.agent.advisor.Advisor` and the
database. The API (:mod:`anxin.ui.api`), the widget (:mod:`anxin.ui.widget`) and the
console (:mod:`anxin.ui.console`) call the same methods, so the rules live here:

* customer side: open a session (a random token is issued; only its SHA-256 digest is
  kept, as the ``session.token_issued`` entry of the audit log, so it survives a
  restart and works on SQLite and PostgreSQL alike), text and voice turns (one turn
  per session at a time), the transcript and hand-off state, new messages since an id;
* staff side: the hand-off queue and live sessions ordered by urgency and emotion, a
  session's full view (transcript, intent and emotion timeline, verified customer and
  policies, clauses, next best action), take over, send, return to the bot, a
  suggested reply and a one-click summary.

Staff messages are stored as role ``staff``, hand-off notices as role ``system``; both
are shown to the customer. Timestamps are naive UTC in ISO format.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import importlib.util
import logging
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from anxin.config import DEFAULT_COLLECTION
from anxin.ui.auth import StaffUser, new_session_token, token_digest

if TYPE_CHECKING:  # pragma: no cover
    from anxin.agent.advisor import Advisor
    from anxin.agent.types import TurnResult

log = logging.getLogger("anxin.ui.services")

#: Audit action under which a session token's digest is stored.
TOKEN_ACTION = "session.token_issued"
#: Emotions that move a conversation up the staff lists (higher = more pressing).
EMOTION_SEVERITY: dict[str, int] = {"anger": 3, "sadness": 3, "anxiety": 2, "confusion": 1, "neutral": 0, "joy": 0}
#: Hand-off state of the session row → status shown to customers and staff.
HANDOFF_STATUS = {"none": "none", "open": "pending", "taken": "taken", "closed": "returned"}
#: Roles a customer sees in the transcript.
CUSTOMER_ROLES = ("user", "assistant", "staff", "system")
MAX_STAFF_TEXT = 4000

NOTICES: dict[str, dict[str, str]] = {
    "taken": {"zh": "人工顾问 {name} 已接入，将由顾问继续为您服务。",
              "en": "Advisor {name} has joined the conversation and will help you from here."},
    "returned": {"zh": "人工顾问已结束本次服务，智能顾问安心将继续为您解答。",
                 "en": "The advisor has handed you back to Anxin, the AI advisor, who will carry on helping you."},
    "greeting": {"zh": "您好，我是星衡保险的人工顾问 {name}，已经了解了您的情况。",
                 "en": "Hello, I'm {name}, a Xingheng Insurance advisor. I've read through our conversation."},
    "greeting_anonymous": {"zh": "您好，我是星衡保险的人工顾问，已经了解了您的情况。",
                           "en": "Hello, I'm a Xingheng Insurance advisor. I've read through our conversation."},
    "anything_else": {"zh": "请问还有什么可以帮您？", "en": "How else can I help you?"},
}

_SORRY = {"zh": "非常抱歉给您带来了不好的体验。我会认真记录您反映的问题，并尽快为您处理。",
          "en": "I'm sorry for the trouble this has caused. I'll record your concerns and make sure they are dealt with promptly."}
#: Suggested openings by hand-off reason (when the bot has no answer to build on).
OPENINGS: dict[str, dict[str, str]] = {
    "complaint": _SORRY, "claim_dispute": _SORRY, "negative_emotion": _SORRY, "legal_threat": _SORRY,
    "vulnerability": {"zh": "听到这个消息我们非常难过。请不要着急，我会一步一步协助您办理后续事项。",
                      "en": "I'm so sorry to hear that. Please take your time; I'll help you with the next steps one at a time."},
    "verification_locked": {"zh": "为保护您的信息安全，我需要先人工核实您的身份，请问方便提供保单号吗？",
                            "en": "To protect your information I need to verify your identity first. Could you give me your policy number?"},
    "not_understood": {"zh": "请问您具体想办理什么业务？我来为您处理。",
                       "en": "Could you tell me a little more about what you need? I'll take care of it."},
}
_HANDOFF_TOOLS = {"handoff", "handoff_status"}
_DATE = re.compile(r"(?<!\d)\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*[日号]?|(?<!\d)\d{8}(?!\d)")


def mask_credentials(text: str, meta: dict[str, Any] | None) -> str:
    """A customer message with the verification credentials it carried masked (the ID
    digits and birth dates the advisor extracted from it); other text is unchanged."""
    entities = (meta or {}).get("entities") or {}
    if not isinstance(entities, dict):
        return text
    last4 = entities.get("id_last4")
    if last4:
        text = re.sub(rf"(?<![0-9A-Za-z]){re.escape(str(last4))}(?![0-9A-Za-z])", "****", text)
    if entities.get("dob") or entities.get("birth_date"):
        text = _DATE.sub("****-**-**", text)
    return text


class ServiceError(Exception):
    """A request the service refuses; ``status`` is the HTTP status the API answers with."""

    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status


class NotFound(ServiceError):
    """No such session (or ticket)."""

    status = 404
    code = "NOT_FOUND"


class Conflict(ServiceError):
    """The request does not fit the session's hand-off state."""

    status = 409
    code = "CONFLICT"


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _lang(value: str | None) -> str:
    return "en" if value == "en" else "zh"


def severity(label: str | None, score: float | None = None) -> float:
    """How pressing an emotion is for the staff lists (label weight plus its intensity)."""
    return EMOTION_SEVERITY.get(str(label or "neutral"), 0) + min(max(float(score or 0.0), 0.0), 1.0) * 0.5


def speech_available() -> bool:
    """Whether speech recognition (:mod:`anxin.agent.speech`) is installed."""
    try:
        return importlib.util.find_spec("anxin.agent.speech") is not None
    except (ImportError, ValueError):  # pragma: no cover - odd import states
        return False


class AnxinService:
    """The advisor and the database behind the API, the widget and the console.

    ``advisor`` defaults to ``Advisor(backend)`` created on first use (so building the
    app loads no model); ``db_factory`` returns a unit-of-work context manager (default:
    the configured database, migrated and seeded on first use).
    """

    def __init__(
        self,
        advisor: "Advisor | None" = None,
        *,
        backend: str | None = None,
        collection: str = DEFAULT_COLLECTION,
        db_factory: Callable[[], contextlib.AbstractContextManager[Session]] | None = None,
        searcher: Any | None = None,
        max_cached_results: int = 2000,
    ) -> None:
        self._advisor = advisor
        self._backend = backend
        self.collection = collection
        self._db_factory = db_factory
        self._searcher = searcher
        self._init_lock = threading.Lock()
        self._locks = [threading.RLock() for _ in range(64)]
        self._tokens: OrderedDict[str, str] = OrderedDict()
        self._results: OrderedDict[str, "TurnResult"] = OrderedDict()
        self._results_lock = threading.Lock()
        self._max_results = max_cached_results
        self._viewed: dict[tuple[str, str], float] = {}

    # ------------------------------------------------------------------ plumbing
    @property
    def advisor(self) -> "Advisor":
        """The advisor (created on first use)."""
        if self._advisor is None:
            with self._init_lock:
                if self._advisor is None:
                    from anxin.agent.advisor import Advisor

                    self._advisor = Advisor(self._backend, db_factory=self._db_factory,
                                            collection=self.collection, searcher=self._searcher)
        return self._advisor

    @contextlib.contextmanager
    def db(self) -> Iterator[Session]:
        """A database unit of work (committed on success)."""
        factory = self._db_factory
        if factory is None:
            from anxin.tools.context import default_session_scope

            factory = default_session_scope()
        with factory() as session:
            yield session

    def session_lock(self, session_id: str) -> threading.RLock:
        """The lock serialising turns and hand-off changes of one session."""
        return self._locks[hash(session_id) % len(self._locks)]

    def _remember(self, result: "TurnResult") -> None:
        with self._results_lock:
            self._results[result.session_id] = result
            self._results.move_to_end(result.session_id)
            while len(self._results) > self._max_results:
                self._results.popitem(last=False)

    def last_result(self, session_id: str) -> "TurnResult | None":
        """The last turn answered in this process for a session (None after a restart)."""
        with self._results_lock:
            return self._results.get(session_id)

    @staticmethod
    def _row(db: Session, session_id: str) -> Any:
        from anxin.db.models import ChatSession

        row = db.get(ChatSession, session_id)
        if row is None:
            raise NotFound(f"session {session_id} not found")
        return row

    # ------------------------------------------------------------------ customer sessions
    def create_session(self, language: str | None = None, channel: str = "web") -> tuple[str, str]:
        """Open a conversation; returns ``(session_id, token)``. The token is shown once."""
        from anxin.db.audit import audit

        session_id = self.advisor.new_session(channel=channel, language=language)
        token = new_session_token()
        digest = token_digest(token)
        with self.db() as db:
            audit(db, f"session:{session_id}", TOKEN_ACTION, session_id,
                  {"token_sha256": digest, "channel": channel})
        self._cache_token(session_id, digest)
        return session_id, token

    def _cache_token(self, session_id: str, digest: str) -> None:
        with self._results_lock:
            self._tokens[session_id] = digest
            self._tokens.move_to_end(session_id)
            while len(self._tokens) > 20_000:
                self._tokens.popitem(last=False)

    def check_session_token(self, session_id: str, token: str | None) -> bool:
        """Whether ``token`` was issued for ``session_id`` (False for unknown sessions)."""
        if not token or not session_id:
            return False
        digest = self._tokens.get(session_id)
        if digest is None:
            from anxin.db.models import AuditEntry

            with self.db() as db:
                entry = db.scalars(select(AuditEntry).where(
                    AuditEntry.subject == session_id, AuditEntry.action == TOKEN_ACTION)
                    .order_by(AuditEntry.id.desc()).limit(1)).first()
                digest = str((entry.detail or {}).get("token_sha256", "")) if entry is not None else ""
            if not digest:
                return False
            self._cache_token(session_id, digest)
        return hmac.compare_digest(digest, token_digest(token))

    def send_text(self, session_id: str, text: str, *, language_hint: str | None = None,
                  on_token: Callable[[str], None] | None = None) -> "TurnResult":
        """One customer text turn (``on_token`` receives the reply as it is produced)."""
        with self.session_lock(session_id):
            result = self.advisor.respond(session_id, text=text, language_hint=language_hint, on_token=on_token)
        self._remember(result)
        return result

    def send_audio(self, session_id: str, audio: bytes | str | Path, *, language: str | None = None,
                   on_token: Callable[[str], None] | None = None) -> "TurnResult":
        """One customer voice turn (a file path or the file's bytes). A recording that
        cannot be recognised gives a result whose ``transcript`` is None."""
        with self.session_lock(session_id):
            result = self.advisor.respond(session_id, audio=audio, language_hint=language, on_token=on_token)
        self._remember(result)
        return result

    def transcribe(self, audio: bytes | str | Path, *, language: str | None = None) -> dict[str, Any]:
        """Speech recognition only, no turn (so a low-confidence transcript can be shown
        for the customer to confirm or edit first): ``{"text", "language", "confidence",
        "low_confidence", "duration_s", "prosody"}`` or ``{"error": {"zh", "en"}}``, with
        plain JSON values."""
        return _plain(self.advisor.transcribe(audio, language=language))

    # ------------------------------------------------------------------ transcript and hand-off
    @staticmethod
    def _handoff(db: Session, row: Any, queue_items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        from anxin.db.handoff import queue, ticket_code
        from anxin.db.models import HandoffTicket

        state = row.handoff_state or "none"
        ticket = db.scalars(select(HandoffTicket).where(HandoffTicket.session_id == row.id)
                            .order_by(HandoffTicket.id.desc()).limit(1)).first()
        position = None
        if state == "open":
            for item in (queue_items if queue_items is not None else queue(db)):
                if item["session_id"] == row.id:
                    position = item["queue_position"]
                    break
        return {
            "active": state in ("open", "taken"),
            "status": HANDOFF_STATUS.get(state, state),
            "reason": ticket.reason if ticket is not None else None,
            "ticket_id": ticket_code(ticket.id) if ticket is not None else None,
            "queue_position": position,
            "taken_by": ticket.taken_by if ticket is not None and state == "taken" else None,
        }

    @staticmethod
    def public_message(msg: Any) -> dict[str, Any]:
        """A message as the customer sees it (no internal metadata; credentials masked)."""
        meta = msg.meta or {}
        text = mask_credentials(msg.text, meta) if msg.role == "user" else msg.text
        out: dict[str, Any] = {"id": msg.id, "role": msg.role, "text": text, "created_at": _iso(msg.created_at)}
        if msg.role == "assistant":
            out["citations"] = list(meta.get("citations") or [])
        if msg.role in ("staff", "system") and meta.get("staff"):
            out["author"] = meta["staff"]
        if meta.get("event"):
            out["event"] = meta["event"]
        return out

    def session_info(self, session_id: str) -> dict[str, Any]:
        """A session as its customer sees it: language, hand-off state and transcript."""
        from anxin.db.sessions import messages

        with self.db() as db:
            row = self._row(db, session_id)
            msgs = [self.public_message(m) for m in messages(db, session_id) if m.role in CUSTOMER_ROLES]
            return {
                "session_id": row.id, "language": row.language, "channel": row.channel,
                "created_at": _iso(row.created_at), "updated_at": _iso(row.updated_at),
                "handoff": self._handoff(db, row), "messages": msgs,
            }

    def messages_after(self, session_id: str, after: int = 0, *,
                       roles: tuple[str, ...] = CUSTOMER_ROLES) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """``(messages with id > after, hand-off state)``: what a customer polls for."""
        from anxin.db.models import Message

        with self.db() as db:
            row = self._row(db, session_id)
            rows = db.scalars(select(Message).where(Message.session_id == session_id, Message.id > int(after),
                                                    Message.role.in_(roles)).order_by(Message.id).limit(500))
            return [self.public_message(m) for m in rows], self._handoff(db, row)

    # ------------------------------------------------------------------ staff: lists
    @staticmethod
    def _last_user_meta(db: Session, session_ids: list[str]) -> dict[str, dict[str, Any]]:
        from anxin.db.models import Message

        if not session_ids:
            return {}
        last_ids = (select(func.max(Message.id)).where(Message.session_id.in_(session_ids), Message.role == "user")
                    .group_by(Message.session_id))
        out: dict[str, dict[str, Any]] = {}
        for m in db.scalars(select(Message).where(Message.id.in_(last_ids))):
            meta = m.meta or {}
            emotion = meta.get("emotion") or {}
            out[m.session_id] = {"intent": meta.get("intent"), "emotion": emotion.get("label") or "neutral",
                                 "emotion_score": float(emotion.get("score") or 0.0), "last_text": m.text[:200],
                                 "last_user_at": _iso(m.created_at)}
        return out

    def staff_queue(self) -> list[dict[str, Any]]:
        """Open tickets then those being handled, each ordered by urgency, then the
        customer's emotion, then age (``queue_position`` is the customer's place in line)."""
        from anxin.db.handoff import queue
        from anxin.db.models import ChatSession

        with self.db() as db:
            items = queue(db, include_taken=True)
            sids = [i["session_id"] for i in items]
            last = self._last_user_meta(db, sids)
            langs = dict(db.execute(select(ChatSession.id, ChatSession.language).where(ChatSession.id.in_(sids))).all()) if sids else {}
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        out = []
        for item in items:
            payload = item.get("payload") or {}
            info = last.get(item["session_id"], {})
            emotions = payload.get("emotions") or []
            label = info.get("emotion") or (emotions[-1].get("label") if emotions else None) or "neutral"
            score = info.get("emotion_score") or (emotions[-1].get("score") if emotions else 0.0) or 0.0
            created = dt.datetime.fromisoformat(item["created_at"]) if item.get("created_at") else now
            out.append({
                "ticket_id": item["ticket_id"], "session_id": item["session_id"], "status": item["status"],
                "urgency": item["urgency"], "urgency_level": item["urgency_level"], "reason": item["reason"],
                "queue_position": item["queue_position"], "emotion": label, "emotion_score": round(float(score), 3),
                "intent": info.get("intent") or payload.get("intent"), "language": langs.get(item["session_id"]),
                "summary": item["summary"], "next_best_action": payload.get("next_best_action"),
                "taken_by": item["taken_by"], "created_at": item["created_at"],
                "waiting_s": max(0, int((now - created).total_seconds())),
            })
        out.sort(key=lambda i: (i["status"] != "open", -i["urgency_level"], -severity(i["emotion"], i["emotion_score"]),
                                i["created_at"] or ""))
        return out

    def live_sessions(self, *, hours: float = 24.0, limit: int = 100) -> list[dict[str, Any]]:
        """Sessions with messages active in the last ``hours``: hand-offs first, then by
        urgency, the customer's emotion and last activity."""
        from anxin.db.handoff import URGENCY_NAMES, queue
        from anxin.db.models import ChatSession, HandoffTicket, Message

        since = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(hours=hours)
        with self.db() as db:
            stats = (select(Message.session_id, func.count(Message.id), func.max(Message.created_at))
                     .group_by(Message.session_id).having(func.max(Message.created_at) >= since)
                     .order_by(func.max(Message.created_at).desc()).limit(limit))
            counts = {sid: (n, last) for sid, n, last in db.execute(stats).all()}
            sids = list(counts)
            if not sids:
                return []
            rows = {r.id: r for r in db.scalars(select(ChatSession).where(ChatSession.id.in_(sids)))}
            tickets = {t.session_id: t for t in db.scalars(
                select(HandoffTicket).where(HandoffTicket.session_id.in_(sids), HandoffTicket.status.in_(("open", "taken")))
                .order_by(HandoffTicket.id))}
            last = self._last_user_meta(db, sids)
            q = queue(db)
            out = []
            for sid in sids:
                row = rows.get(sid)
                if row is None:
                    continue
                info = last.get(sid, {})
                ticket = tickets.get(sid)
                handoff = self._handoff(db, row, q)
                n, last_at = counts[sid]
                out.append({
                    "session_id": sid, "language": row.language, "channel": row.channel,
                    "last_activity": _iso(last_at), "messages": int(n),
                    "intent": info.get("intent"), "emotion": info.get("emotion", "neutral"),
                    "emotion_score": round(info.get("emotion_score", 0.0), 3), "last_text": info.get("last_text", ""),
                    "handoff": handoff["status"],
                    "urgency": URGENCY_NAMES.get(ticket.urgency) if ticket is not None else None,
                    "urgency_level": ticket.urgency if ticket is not None else -1,
                    "ticket_id": handoff["ticket_id"] if ticket is not None else None,
                    "verified_customer_id": row.verified_customer_id,
                })
        out.sort(key=lambda s: (-s["urgency_level"], -severity(s["emotion"], s["emotion_score"]),
                                _neg_time(s["last_activity"])))
        return out

    # ------------------------------------------------------------------ staff: one session
    @staticmethod
    def staff_message(msg: Any) -> dict[str, Any]:
        """A message with the metadata staff see (intent, emotion, citations, tools)."""
        meta = msg.meta or {}
        out = AnxinService.public_message(msg)
        if msg.role == "user":
            emotion = meta.get("emotion") or {}
            out.update(intent=meta.get("intent"), emotion=emotion.get("label") or "neutral",
                       emotion_score=round(float(emotion.get("score") or 0.0), 3),
                       transcript=meta.get("transcript"))
        elif msg.role == "assistant":
            out.update(tools=[t.get("name") for t in meta.get("tools") or [] if isinstance(t, dict)],
                       grounded=meta.get("grounded"), backend=meta.get("backend"), latency_ms=meta.get("latency_ms"))
        return out

    def _citations(self, session_id: str, msgs: list[Any], lang: str) -> list[dict[str, Any]]:
        last = self.last_result(session_id)
        if last is not None and last.citations:
            return [c.model_dump(mode="json") for c in last.citations]
        ids: list[str] = []
        for m in reversed(msgs):
            if m.role == "assistant" and (m.meta or {}).get("citations"):
                ids = list(m.meta["citations"])
                break
        out = []
        searcher = None
        for cid in ids[:12]:
            item: dict[str, Any] = {"clause_id": cid, "heading": "", "text": "", "product_id": None}
            try:
                if searcher is None:
                    from anxin.tools.context import ToolContext

                    searcher = ToolContext(collection=self.collection, searcher=self._searcher).get_searcher()
                hit = searcher.clause(cid, lang)
                if hit is not None:
                    item.update(heading=hit.heading, text=hit.text, product_id=hit.product_id or None, doc=hit.doc)
            except Exception:  # noqa: BLE001 - no index: the id alone is still useful
                log.debug("clause lookup failed for %s", cid, exc_info=True)
            out.append(item)
        return out

    @staticmethod
    def _customer(db: Session, customer_id: str | None) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        from anxin.db.models import Customer, Policy

        if not customer_id:
            return None, []
        c = db.get(Customer, customer_id)
        if c is None:
            return None, []
        today = dt.date.today()
        age = None
        if c.dob:
            age = today.year - c.dob.year - ((today.month, today.day) < (c.dob.month, c.dob.day))
        profile = {
            "customer_id": c.customer_id, "name": c.name, "gender": c.gender, "age": age, "city": c.city,
            "occupation": c.occupation, "occupation_class": c.occupation_class, "smoker": c.smoker,
            "social_insurance": c.social_insurance, "preferred_language": c.preferred_language,
            "phone_masked": c.phone_masked, "hbb_points": c.hbb_points,
        }
        policies = []
        for p in db.scalars(select(Policy).where(or_(Policy.policyholder_id == customer_id,
                                                     Policy.insured_id == customer_id)).order_by(Policy.start_date)):
            role = "both" if p.policyholder_id == p.insured_id == customer_id else (
                "policyholder" if p.policyholder_id == customer_id else "insured")
            policies.append({
                "policy_number": p.policy_number, "product_id": p.product_id, "status": p.status, "role": role,
                "start_date": _iso(p.start_date), "end_date": _iso(p.end_date), "sum_insured": p.sum_insured,
                "premium": float(p.premium) if p.premium is not None else None,
                "premium_frequency": p.premium_frequency, "waiting_period_until": _iso(p.waiting_period_until),
            })
        return profile, policies

    def _audit_view(self, db: Session, staff: StaffUser, customer_id: str, session_id: str) -> None:
        """Audit a staff view of customer data (at most once per 10 minutes per advisor and customer)."""
        from anxin.db.audit import audit

        key = (staff.actor, customer_id)
        now = time.monotonic()
        if now - self._viewed.get(key, -1e9) < 600:
            return
        if len(self._viewed) > 10_000:
            self._viewed = {k: v for k, v in self._viewed.items() if now - v < 600}
        self._viewed[key] = now
        audit(db, staff.actor, "staff.view_customer", customer_id, {"session_id": session_id})

    def staff_session(self, session_id: str, staff: StaffUser | None = None) -> dict[str, Any]:
        """Everything an advisor needs about one session."""
        from anxin.db.handoff import ticket_to_dict
        from anxin.db.models import HandoffTicket
        from anxin.db.sessions import messages

        staff = staff or StaffUser()
        with self.db() as db:
            row = self._row(db, session_id)
            msgs = messages(db, session_id)
            state = _state(row.state)
            lang = _lang(row.language or state.language)
            ticket = db.scalars(select(HandoffTicket).where(HandoffTicket.session_id == session_id)
                                .order_by(HandoffTicket.id.desc()).limit(1)).first()
            customer_id = row.verified_customer_id or state.verified_customer_id
            profile, policies = self._customer(db, customer_id)
            if profile is not None:
                self._audit_view(db, staff, profile["customer_id"], session_id)
            handoff = self._handoff(db, row)
            ticket_dict = ticket_to_dict(ticket) if ticket is not None else None
            transcript = [self.staff_message(m) for m in msgs]
        timeline = [{"message_id": m["id"], "turn": i, "at": m["created_at"], "intent": m.get("intent"),
                     "emotion": m.get("emotion", "neutral"), "score": m.get("emotion_score", 0.0)}
                    for i, m in enumerate((m for m in transcript if m["role"] == "user"), start=1)]
        last = self.last_result(session_id)
        nba = None
        if ticket_dict is not None and ticket_dict["status"] != "closed":
            nba = (ticket_dict.get("payload") or {}).get("next_best_action")
        if not nba and last is not None:
            nba = last.next_best_action
        if not nba and handoff["active"]:
            from anxin.agent.handoff_policy import next_best_action

            nba = next_best_action(handoff.get("reason") or "customer_request", state, lang)
        return {
            "session": {"session_id": row.id, "language": row.language, "channel": row.channel,
                        "created_at": _iso(row.created_at), "updated_at": _iso(row.updated_at),
                        "verified_customer_id": customer_id, "task": state.task, "product_id": state.product_id,
                        "turns": state.turns},
            "handoff": handoff,
            "ticket": ticket_dict,
            "messages": transcript,
            "timeline": timeline,
            "intents": [t["intent"] for t in timeline if t["intent"]],
            "customer": profile,
            "policies": policies,
            "citations": self._citations(session_id, msgs, lang),
            "next_best_action": nba,
            "suggested_actions": list(last.suggested_actions) if last is not None else [],
        }

    # ------------------------------------------------------------------ staff: actions
    def take(self, session_id: str, staff: StaffUser) -> dict[str, Any]:
        """Take the session over: take its open ticket, or open one (reason
        ``staff_takeover``) and take it. The bot stops answering until :meth:`return_to_bot`."""
        from anxin.agent.handoff_policy import summary as handoff_summary
        from anxin.db.handoff import open_ticket, take_ticket, ticket_code
        from anxin.db.models import HandoffTicket
        from anxin.db.sessions import add_message

        with self.session_lock(session_id), self.db() as db:
            row = self._row(db, session_id)
            ticket = db.scalars(select(HandoffTicket).where(
                HandoffTicket.session_id == session_id, HandoffTicket.status.in_(("open", "taken")))
                .order_by(HandoffTicket.id.desc()).limit(1)).first()
            state = _state(row.state)
            lang = _lang(row.language or state.language)
            if ticket is not None and ticket.status == "taken":
                if ticket.taken_by == staff.name:
                    return {"ticket_id": ticket_code(ticket.id), "already_taken": True,
                            "handoff": self._handoff(db, row)}
                raise Conflict(f"session {session_id} is already handled by {ticket.taken_by}")
            if ticket is None:
                last_user = next((m.text for m in reversed(row.messages) if m.role == "user"), "")
                text, payload = handoff_summary(state, "staff_takeover", lang, last_user)
                payload["staff_initiated"] = True
                payload["emotion"] = (state.emotions[-1].get("label") if state.emotions else None) or "neutral"
                opened = open_ticket(db, session_id, "staff_takeover", text, payload)
                ticket_pk, reason = opened["id"], "staff_takeover"
            else:
                ticket_pk, reason = ticket.id, ticket.reason
            taken = take_ticket(db, ticket_pk, staff.name)
            raw = dict(row.state or {})
            raw["handoff"] = {**(raw.get("handoff") or {}), "active": True, "status": "taken", "reason": reason,
                              "ticket_id": ticket_code(ticket_pk), "queue_position": None}
            row.state = raw
            add_message(db, session_id, "system", NOTICES["taken"][lang].format(name=staff.name),
                        {"event": "handoff.taken", "staff": staff.name})
            db.commit()
            return {"ticket_id": taken["ticket_id"], "already_taken": False, "handoff": self._handoff(db, row)}

    def staff_send(self, session_id: str, text: str, staff: StaffUser) -> dict[str, Any]:
        """Send an advisor's message to the customer (takes the session over first if needed)."""
        from anxin.db.audit import audit
        from anxin.db.models import utcnow
        from anxin.db.sessions import add_message

        text = (text or "").strip()
        if not text:
            raise ServiceError("the message is empty", code="EMPTY_MESSAGE")
        if len(text) > MAX_STAFF_TEXT:
            raise ServiceError(f"the message is longer than {MAX_STAFF_TEXT} characters", code="TOO_LONG")
        from anxin.db.models import HandoffTicket

        with self.session_lock(session_id):
            with self.db() as db:
                taken = self._row(db, session_id).handoff_state == "taken"
                holder = db.scalars(select(HandoffTicket.taken_by).where(
                    HandoffTicket.session_id == session_id, HandoffTicket.status == "taken")
                    .order_by(HandoffTicket.id.desc()).limit(1)).first()
            if taken and holder and holder != staff.name:
                raise Conflict(f"session {session_id} is handled by {holder}")
            if not taken:
                self.take(session_id, staff)
            with self.db() as db:
                row = self._row(db, session_id)
                msg = add_message(db, session_id, "staff", text, {"staff": staff.name})
                row.updated_at = utcnow()
                audit(db, staff.actor, "handoff.staff_message", session_id, {"message_id": msg.id, "chars": len(text)})
                db.commit()
                return self.public_message(msg)

    def return_to_bot(self, session_id: str, staff: StaffUser) -> dict[str, Any]:
        """Close the session's hand-off ticket(s): the bot advises again."""
        from anxin.db.handoff import close_ticket
        from anxin.db.models import HandoffTicket
        from anxin.db.sessions import add_message

        with self.session_lock(session_id), self.db() as db:
            row = self._row(db, session_id)
            tickets = list(db.scalars(select(HandoffTicket).where(
                HandoffTicket.session_id == session_id, HandoffTicket.status.in_(("open", "taken")))))
            if not tickets:
                raise Conflict(f"session {session_id} has no active hand-off")
            closed = [close_ticket(db, t.id, actor=staff.actor, resolution="returned_to_bot")["ticket_id"]
                      for t in tickets]
            raw = dict(row.state or {})
            raw["handoff"] = {**(raw.get("handoff") or {}), "active": False, "status": "returned",
                              "queue_position": None}
            row.state = raw
            lang = _lang(row.language or raw.get("language"))
            add_message(db, session_id, "system", NOTICES["returned"][lang],
                        {"event": "handoff.returned", "staff": staff.name})
            db.commit()
            return {"closed": closed, "handoff": self._handoff(db, row)}

    def suggest(self, session_id: str, staff: StaffUser | None = None) -> dict[str, Any]:
        """A reply the advisor can edit and send. Nothing is run or stored.

        A greeting, then the bot's answer to the customer's last message when it gave
        one (not a hand-off notice), else an opening that fits the hand-off reason
        (an apology for complaints, condolences for bereavement, ...); with the clauses
        cited and the next best action."""
        staff = staff or StaffUser()
        view = self.staff_session(session_id, staff)
        lang = _lang(view["session"]["language"])
        msgs = view["messages"]
        last_user_at = max((i for i, m in enumerate(msgs) if m["role"] == "user"), default=None)
        last_user = msgs[last_user_at] if last_user_at is not None else None
        answer, based_on = "", None
        if last_user is not None and last_user.get("intent") != "handoff_request":
            for m in msgs[last_user_at + 1:]:
                if m["role"] == "assistant" and m["text"].strip() and not set(m.get("tools") or []) & _HANDOFF_TOOLS:
                    answer, based_on = m["text"].strip(), m["id"]
                    break
        if staff.name and staff.name != "staff":
            greeting = NOTICES["greeting"][lang].format(name=staff.name)
        else:
            greeting = NOTICES["greeting_anonymous"][lang]
        reason = view["handoff"].get("reason") if view["handoff"].get("active") else None
        opening = OPENINGS.get(reason or "", NOTICES["anything_else"])[lang]
        text = "\n".join((greeting, answer or opening))
        return {"text": text, "language": lang, "based_on_message_id": based_on,
                "customer_message": last_user["text"] if last_user else None,
                "intent": last_user.get("intent") if last_user else None,
                "citations": view["citations"], "next_best_action": view["next_best_action"]}

    def summary(self, session_id: str) -> dict[str, Any]:
        """One-click summary: the hand-off ticket's, else one built from the dialogue state."""
        from anxin.agent.handoff_policy import summary as handoff_summary
        from anxin.db.handoff import ticket_code
        from anxin.db.models import HandoffTicket

        with self.db() as db:
            row = self._row(db, session_id)
            ticket = db.scalars(select(HandoffTicket).where(HandoffTicket.session_id == session_id)
                                .order_by(HandoffTicket.id.desc()).limit(1)).first()
            state = _state(row.state)
            lang = _lang(row.language or state.language)
            msgs = [m for m in row.messages]
            last_user = next((m.text for m in reversed(msgs) if m.role == "user"), "")
            n_user = sum(1 for m in msgs if m.role == "user")
            if ticket is not None and (ticket.summary or "").strip():
                payload = ticket.payload or {}
                return {"summary": ticket.summary.strip(), "source": "ticket", "ticket_id": ticket_code(ticket.id),
                        "next_best_action": payload.get("next_best_action"), "customer_messages": n_user}
        text, payload = handoff_summary(state, "staff_review", lang, last_user)
        text = f"{text}\nmessages: {len(msgs)} (customer {n_user})"
        return {"summary": text, "source": "generated", "ticket_id": None,
                "next_best_action": payload.get("next_best_action"), "customer_messages": n_user}


def _plain(value: Any) -> Any:
    """``value`` with NumPy scalars/arrays (prosody features) turned into JSON values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # JSON has no NaN
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    tolist = getattr(value, "tolist", None)  # numpy scalar or array
    if callable(tolist):
        return _plain(tolist())
    return str(value)


def _state(raw: dict[str, Any] | None) -> Any:
    from anxin.agent.state import DialogueState

    try:
        return DialogueState.model_validate(raw or {})
    except Exception:  # noqa: BLE001 - a corrupt state must not break the console
        return DialogueState()


def _neg_time(value: str | None) -> float:
    if not value:
        return 0.0
    try:
        return -dt.datetime.fromisoformat(value).timestamp()
    except ValueError:
        return 0.0


_default: AnxinService | None = None
_default_lock = threading.Lock()


def default_service() -> AnxinService:
    """The process-wide service on the configured back-end and database."""
    global _default
    with _default_lock:
        if _default is None:
            _default = AnxinService()
        return _default

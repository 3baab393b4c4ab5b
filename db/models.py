"""SQLAlchemy 2 models of Anxin's operational database.

Tables: customers, policies, claims, claim_events (the dated claim timeline), sessions,
messages, handoff_tickets, consents, verification_attempts, audit_log and
idempotency_keys (for ``file_claim``).

Conventions:
* timestamps are naive UTC (``DateTime`` without time zone, the same on SQLite and
  PostgreSQL); business dates are ``Date``;
* money is ``Numeric(14, 2)`` (read back as ``Decimal`` on every backend);
* bilingual texts are JSON ``{"zh": ..., "en": ...}``;
* fields of the filing that have no column of their own are kept in a ``details`` JSON
  column, so nothing of demo_data.yaml is lost;
* there is no genetic-data column anywhere (``general.genetic_data_policy``): genetic
  test results are never collected, stored or used.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

HANDOFF_STATUSES = ("open", "taken", "closed")
SESSION_HANDOFF_STATES = ("none", "open", "taken", "closed")


def utcnow() -> dt.datetime:
    """The current time as naive UTC (the storage convention of every timestamp)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Money(TypeDecorator[Decimal]):
    """``Numeric(14, 2)`` that reads back as ``Decimal`` on every backend.

    SQLite has no decimal type: values travel as floats there and are rounded back to
    two places, which is exact for amounts below 10^13.
    """

    impl = Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Numeric(14, 2, asdecimal=False))
        return dialect.type_descriptor(Numeric(14, 2))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(str(value)).quantize(Decimal("0.01"))
        return float(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Optional[Decimal]:
        if value is None:
            return None
        return Decimal(str(value)).quantize(Decimal("0.01"))


class Base(DeclarativeBase):
    """Declarative base; constraint names follow :data:`NAMING_CONVENTION`."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        Any: JSON,
    }


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class Customer(TimestampMixin, Base):
    """A person: policyholder, insured or guardian. Phones are stored masked only."""

    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128))
    gender: Mapped[Optional[str]] = mapped_column(String(8))
    dob: Mapped[dt.date] = mapped_column(Date)
    id_type: Mapped[Optional[str]] = mapped_column(String(48))
    id_last4: Mapped[str] = mapped_column(String(8))
    phone_masked: Mapped[Optional[str]] = mapped_column(String(32))
    city: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    occupation: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    occupation_class: Mapped[Optional[int]] = mapped_column(Integer)
    smoker: Mapped[Optional[bool]] = mapped_column(Boolean)
    social_insurance: Mapped[Optional[bool]] = mapped_column(Boolean)
    hbb_points: Mapped[int] = mapped_column(Integer, default=0)
    preferred_language: Mapped[Optional[str]] = mapped_column(String(8))
    guardian_id: Mapped[Optional[str]] = mapped_column(
        ForeignKey("customers.customer_id", ondelete="SET NULL"), index=True
    )
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    guardian: Mapped[Optional["Customer"]] = relationship(remote_side=[customer_id])

    @property
    def name(self) -> dict[str, str]:
        return {"zh": self.name_zh, "en": self.name_en}


class Policy(TimestampMixin, Base):
    """A policy with the quote parameters that reproduce its premium and its underwriting."""

    __tablename__ = "policies"

    policy_number: Mapped[str] = mapped_column(String(48), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(32), index=True)
    policyholder_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    insured_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    original_issue_date: Mapped[Optional[dt.date]] = mapped_column(Date)
    receipt_date: Mapped[Optional[dt.date]] = mapped_column(Date)
    cooling_off_until: Mapped[Optional[dt.date]] = mapped_column(Date)
    waiting_period_until: Mapped[Optional[dt.date]] = mapped_column(Date)
    rating_date: Mapped[Optional[dt.date]] = mapped_column(Date)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[Optional[dt.date]] = mapped_column(Date)  # NULL = whole life
    renewal_count: Mapped[int] = mapped_column(Integer, default=0)
    sum_insured: Mapped[Any] = mapped_column(JSON, nullable=True)  # a number or a dict
    premium: Mapped[Decimal] = mapped_column(Money)
    premium_frequency: Mapped[Optional[str]] = mapped_column(String(16))
    quote_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    underwriting: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    policyholder: Mapped[Customer] = relationship(foreign_keys=[policyholder_id])
    insured: Mapped[Customer] = relationship(foreign_keys=[insured_id])
    claims: Mapped[list["Claim"]] = relationship(
        back_populates="policy", order_by="Claim.submitted_date, Claim.claim_id"
    )


class Claim(TimestampMixin, Base):
    """A claim; its dated status history is in :class:`ClaimEvent`."""

    __tablename__ = "claims"

    claim_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    policy_number: Mapped[str] = mapped_column(ForeignKey("policies.policy_number"), index=True)
    insured_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    coverages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    claim_type: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)  # {"zh", "en"}
    incident_date: Mapped[Optional[dt.date]] = mapped_column(Date)
    submitted_date: Mapped[dt.date] = mapped_column(Date)
    amount_claimed: Mapped[Optional[Decimal]] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(32), index=True)
    approved_amount: Mapped[Optional[Decimal]] = mapped_column(Money)
    paid_amount: Mapped[Optional[Decimal]] = mapped_column(Money)
    paid_date: Mapped[Optional[dt.date]] = mapped_column(Date)
    missing_documents: Mapped[list[Any]] = mapped_column(JSON, default=list)
    settlement: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    estimate_if_approved: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    rejection_reason: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    description: Mapped[Optional[str]] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="demo")  # demo | filed
    filed_by_customer_id: Mapped[Optional[str]] = mapped_column(ForeignKey("customers.customer_id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    policy: Mapped[Policy] = relationship(back_populates="claims")
    events: Mapped[list["ClaimEvent"]] = relationship(
        back_populates="claim", order_by="ClaimEvent.seq", cascade="all, delete-orphan"
    )


class ClaimEvent(Base):
    """One dated step of a claim's timeline (submitted, documents_pending, ...)."""

    __tablename__ = "claim_events"
    __table_args__ = (UniqueConstraint("claim_id", "seq", name="uq_claim_events_claim_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.claim_id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    event_date: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    claim: Mapped[Claim] = relationship(back_populates="events")


class ChatSession(TimestampMixin, Base):
    """A conversation with the advisor: language, agent state, hand-off state and the
    customer verified in it (if any)."""

    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint(
            "handoff_state IN ('none', 'open', 'taken', 'closed')", name="handoff_state"
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[Optional[str]] = mapped_column(String(8))
    channel: Mapped[Optional[str]] = mapped_column(String(16))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    handoff_state: Mapped[str] = mapped_column(String(16), default="none")
    verified_customer_id: Mapped[Optional[str]] = mapped_column(
        ForeignKey("customers.customer_id", ondelete="SET NULL")
    )
    verified_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)

    messages: Mapped[list["Message"]] = relationship(
        back_populates="session", order_by="Message.id", cascade="all, delete-orphan"
    )


class Message(Base):
    """One message of a session (user, assistant, tool or system)."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    session: Mapped[ChatSession] = relationship(back_populates="messages")


class HandoffTicket(Base):
    """A request for a human advisor; the queue is ordered by urgency, then age."""

    __tablename__ = "handoff_tickets"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'taken', 'closed')", name="status"),
        Index("ix_handoff_tickets_queue", "status", "urgency", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")
    urgency: Mapped[int] = mapped_column(Integer, default=1)  # 0 low .. 3 urgent
    taken_by: Mapped[Optional[str]] = mapped_column(String(64))
    taken_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    closed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)


class Consent(Base):
    """A consent given or withdrawn (e.g. recording, data processing), by customer and/or session."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[Optional[str]] = mapped_column(
        ForeignKey("customers.customer_id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[Optional[str]] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    granted: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)


class VerificationAttempt(Base):
    """One identity-verification attempt. ``subject_key`` is what the per-policy lockout
    counts on: the policy number (also for attempts made with a claim id)."""

    __tablename__ = "verification_attempts"
    __table_args__ = (
        Index("ix_verification_attempts_subject_ts", "subject_key", "created_at"),
        Index("ix_verification_attempts_session_ts", "session_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    policy_number: Mapped[Optional[str]] = mapped_column(String(64))
    claim_id: Mapped[Optional[str]] = mapped_column(String(64))
    subject_key: Mapped[str] = mapped_column(String(80))
    success: Mapped[bool] = mapped_column(Boolean)
    customer_id: Mapped[Optional[str]] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)


class AuditEntry(Base):
    """Append-only record of every disclosure and write."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_subject_ts", "subject", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[Optional[str]] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class IdempotencyKey(Base):
    """A client-chosen key that makes ``file_claim`` safe to retry: unique per scope and
    owner (the verified customer), pointing at the claim it created."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "owner", "key", name="uq_idempotency_keys_scope_owner_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    claim_id: Mapped[str] = mapped_column(
        ForeignKey("claims.claim_id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)


ALL_TABLES = (
    "customers", "policies", "claims", "claim_events", "sessions", "messages",
    "handoff_tickets", "consents", "verification_attempts", "audit_log", "idempotency_keys",
)

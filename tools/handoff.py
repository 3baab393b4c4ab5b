"""Tool ``handoff``: hand the conversation to a human advisor
(service: :func:`anxin.db.handoff.open_ticket`)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from anxin.tools.claim_status import context_for
from anxin.tools.context import ToolContext, execute

NAME = "handoff"

DESCRIPTION = """Hand the conversation over to a human advisor: opens a ticket in the advisors' queue with your summary, and returns the ticket id and its status.

Rules for the caller:
- Call it when the customer asks for a person; is angry, distressed or grieving; makes a complaint; disputes a claim decision; when identity verification is locked; when a question needs judgement you must not give (medical, legal, tax or personalised investment advice, exceptions to the policy terms); or when you cannot answer from the policy wording and tools.
- reason: a short label (e.g. customer_request, complaint, negative_emotion, claim_dispute, verification_locked, out_of_scope, cannot_answer). summary: 1-3 sentences the advisor can act on — who (if verified), what they want, what you already did and found; no ID digits, birth dates or other credentials.
- Tell the customer a human advisor will take over and what happens next; do not promise a call-back time or an outcome. Stay polite and keep helping with what you may while they wait."""


class Input(BaseModel):
    """Why, and a summary for the human advisor."""

    model_config = ConfigDict(extra="forbid", title="handoff")

    reason: str = Field(..., min_length=1, max_length=200,
                        description="Short reason label, e.g. customer_request, complaint, negative_emotion, claim_dispute.")
    summary: str = Field("", max_length=4000, description="What the advisor needs to know (no credentials).")
    session_id: str | None = Field(None, max_length=64,
                                   description="Conversation id (used only when the caller supplies no session context).")

    @field_validator("reason", mode="after")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class Output(BaseModel):
    """The ticket as the hand-off service returns it (passed through)."""

    model_config = ConfigDict(extra="allow")


def _payload(ctx: ToolContext) -> dict[str, Any]:
    payload: dict[str, Any] = {"language": ctx.language, "actor": ctx.actor}
    ident = ctx.identity
    if ident is not None:
        payload["verified_customer_id"] = getattr(ident, "customer_id", None)
        payload["verified_policy"] = getattr(ident, "verified_policy", None)
    # The dialogue engine's structured summary (intent, slots, emotion trajectory,
    # cited clauses, tool results, next best action) travels with the ticket.
    payload.update(ctx.extra.get("handoff_payload") or {})
    return payload


def invoke(inp: Input, ctx: ToolContext) -> dict[str, Any]:
    """Open the ticket in the context's session."""
    from anxin.db.handoff import open_ticket

    with ctx.db() as db:
        return open_ticket(db, ctx.session_id, inp.reason, inp.summary or "", _payload(ctx))


def run(args: dict[str, Any] | str | None, ctx: ToolContext | None = None) -> dict[str, Any]:
    """Validate ``args`` and open a hand-off ticket; JSON data or ``{"error": ...}``."""
    return execute(NAME, Input, Output, invoke, args, context_for(args, ctx))

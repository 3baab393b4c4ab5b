"""Typed results of one advisor turn (the public contract of :meth:`Advisor.respond`).

Everything here is plain pydantic so a turn serialises to JSON unchanged for the HTTP
API, ``anxin eval``'s ``results.json`` and the staff console.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Language = Literal["zh", "en"]

#: Intent labels of ``conversation-tests.md``.
INTENTS: tuple[str, ...] = (
    "greeting", "policy_question", "quote", "underwriting", "premium_simulation",
    "recommendation", "claim_status", "claim_filing", "policy_service", "complaint",
    "handoff_request", "out_of_scope",
)

#: Emotion labels of ``conversation-tests.md``.
EMOTIONS: tuple[str, ...] = ("neutral", "anger", "anxiety", "sadness", "joy", "confusion")


class ToolCall(BaseModel):
    """One tool call made in the turn: its public name, arguments and JSON result
    (an ``{"error": {...}}`` object when it failed)."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict)
    ok: bool = True
    latency_ms: float = 0.0


class Citation(BaseModel):
    """A clause the reply relies on."""

    clause_id: str
    product_id: str | None = None
    heading: str = ""
    text: str = ""
    doc: str = ""
    score: float | None = None


class Emotion(BaseModel):
    """The customer's emotion in this turn; ``signals`` says what produced it."""

    label: str = "neutral"
    score: float = 0.0
    signals: dict[str, Any] = Field(default_factory=dict)


class HandoffState(BaseModel):
    """Whether a human advisor has (been asked to) take over the session."""

    active: bool = False
    status: str = "none"            # none | pending | taken | returned
    reason: str | None = None
    ticket_id: str | None = None
    queue_position: int | None = None


class TurnResult(BaseModel):
    """Everything one call of :meth:`Advisor.respond` produced."""

    session_id: str
    reply: str
    language: Language = "zh"
    intent: str = "out_of_scope"
    entities: dict[str, Any] = Field(default_factory=dict)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    emotion: Emotion = Field(default_factory=Emotion)
    handoff: HandoffState = Field(default_factory=HandoffState)
    latency_ms: float = 0.0
    transcript: str | None = None       # what speech recognition heard on a voice turn
    grounded: bool = True               # the verifier found every number grounded
    backend: str = "none"               # the LLM backend that phrased the reply
    suggested_actions: list[str] = Field(default_factory=list)
    next_best_action: str | None = None

    @property
    def tool_names(self) -> list[str]:
        """Names of the tools called, in order."""
        return [c.name for c in self.tool_calls]

    @property
    def clause_ids(self) -> list[str]:
        """Clause ids cited, in order."""
        return [c.clause_id for c in self.citations]

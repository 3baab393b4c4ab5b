"""What the advisor remembers about a conversation between turns.

:class:`DialogueState` is stored as JSON in the session row (``chat_sessions.state``),
so a conversation resumes after a restart of the process or on another app server.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

#: Slots that identify the customer for verification: kept only until verification
#: succeeds or fails, never written into hand-off summaries.
CREDENTIAL_SLOTS = ("id_last4", "name", "dob")

#: Keep this many recent turns verbatim; older ones fold into ``summary``.
RECENT_TURNS = 8


class DialogueState(BaseModel):
    """Per-session memory of the dialogue engine."""

    language: str | None = None
    task: str | None = None                      # the multi-turn intent in progress
    product_id: str | None = None
    slots: dict[str, Any] = Field(default_factory=dict)
    declarations: list[dict[str, Any]] = Field(default_factory=list)
    none_declared: bool = False
    expecting: list[str] = Field(default_factory=list)   # the slots we just asked for
    pending_confirmation: dict[str, Any] | None = None   # a write tool waiting for "yes"
    last_quote: dict[str, Any] | None = None             # {product_id, args, premium}
    verified: bool = False
    verified_customer_id: str | None = None
    emotions: list[dict[str, Any]] = Field(default_factory=list)   # trajectory
    intents: list[str] = Field(default_factory=list)
    not_understood: int = 0
    cited: list[str] = Field(default_factory=list)
    tool_log: list[dict[str, Any]] = Field(default_factory=list)   # short summaries
    recent: list[dict[str, str]] = Field(default_factory=list)     # last turns (role, text)
    summary: str = ""                                               # older turns, condensed
    turns: int = 0
    handoff: dict[str, Any] = Field(default_factory=dict)          # ticket_id, reason, status

    def remember_turn(self, user: str, reply: str) -> None:
        """Append a turn; fold the oldest into the running summary when too long."""
        self.turns += 1
        self.recent += [{"role": "user", "text": user[:500]}, {"role": "assistant", "text": reply[:500]}]
        while len(self.recent) > 2 * RECENT_TURNS:
            old_user, old_reply = self.recent[0], self.recent[1]
            self.recent = self.recent[2:]
            line = f"U: {old_user['text'][:80]} / A: {old_reply['text'][:80]}"
            self.summary = "\n".join((self.summary.splitlines() + [line])[-20:])

    def clear_task(self) -> None:
        """Forget the task in progress (its slots about the person stay)."""
        self.task = None
        self.expecting = []
        self.pending_confirmation = None

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict for the session row."""
        return self.model_dump(mode="json")

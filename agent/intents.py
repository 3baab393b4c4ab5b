"""Intent classification: weighted cues (data in ``agent/data/intents.yaml``) plus hints
from the entities found and the task the conversation is in the middle of.

Deterministic first; the LLM is consulted only when the cues leave a turn ambiguous
(:func:`classify` takes an optional ``llm_classify`` callable).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from anxin.agent.types import INTENTS

_DATA = Path(__file__).with_name("data") / "intents.yaml"

#: Intents that are multi-turn tasks: a turn that only supplies details continues them.
TASK_INTENTS = frozenset({
    "quote", "underwriting", "premium_simulation", "recommendation",
    "claim_status", "claim_filing", "policy_service",
})

#: Slot names whose presence hints at an intent.
_SLOT_HINTS: dict[str, tuple[str, float]] = {
    "claim_id": ("claim_status", 1.5),
    "driving_score": ("quote", 0.5),
    "driving_indicators": ("quote", 0.5),
    "sensors": ("quote", 0.5),
}


@dataclass
class IntentResult:
    """The chosen label, a confidence in [0, 1], every label's score and the cues that fired."""

    intent: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)
    cues: list[str] = field(default_factory=list)
    source: str = "rules"          # rules | state | llm


@dataclass
class _Cues:
    patterns: dict[str, list[tuple[re.Pattern[str], float]]]
    domain: re.Pattern[str]


@lru_cache(maxsize=1)
def _cues() -> _Cues:
    raw = yaml.safe_load(_DATA.read_text(encoding="utf-8"))
    patterns = {
        label: [(re.compile(c["re"], re.I), float(c["w"])) for c in cues]
        for label, cues in raw["intents"].items()
    }
    unknown = set(patterns) - set(INTENTS)
    if unknown:
        raise ValueError(f"{_DATA}: unknown intent labels {sorted(unknown)}")
    return _Cues(patterns, re.compile(raw["domain_terms"], re.I))


def is_insurance_related(text: str) -> bool:
    """Whether the text mentions anything about insurance at all."""
    return bool(_cues().domain.search(text))


def cue_scores(text: str) -> tuple[dict[str, float], list[str]]:
    """Summed cue weights per intent (one hit per pattern) and the labels that fired."""
    scores: dict[str, float] = {}
    fired: list[str] = []
    for label, pats in _cues().patterns.items():
        for pat, weight in pats:
            if pat.search(text):
                scores[label] = scores.get(label, 0.0) + weight
                fired.append(label)
    return scores, fired


def classify(
    text: str,
    entities: Mapping[str, Any] | None = None,
    *,
    active_task: str | None = None,
    expecting: str | None = None,
    has_declarations: bool = False,
    llm_classify: Callable[[str], str | None] | None = None,
    previous_intent: str | None = None,
) -> IntentResult:
    """The intent of one customer turn.

    ``entities`` are the slots found in the turn; ``active_task`` is the task the
    conversation is in (a turn that only answers our question continues it);
    ``expecting`` the slot we asked for; ``has_declarations`` whether the turn
    declares health conditions.
    """
    entities = entities or {}
    scores, fired = cue_scores(text)

    # Entity hints.
    for slot, (label, weight) in _SLOT_HINTS.items():
        if entities.get(slot):
            scores[label] = scores.get(label, 0.0) + weight
    if entities.get("policy_number") and not scores.get("claim_filing") and not scores.get("policy_service"):
        scores["claim_status"] = scores.get("claim_status", 0.0) + 1.0
    if has_declarations:
        scores["underwriting"] = scores.get("underwriting", 0.0) + 1.5
    # "How much is X" with a simulation cue is a simulation, not a fresh quote.
    if scores.get("premium_simulation") and scores.get("quote"):
        scores["quote"] -= 1.0
    # A question about a claims *procedure* is a policy question unless they want to file.
    if scores.get("claim_filing") and re.search(r"怎么|如何|流程|需要什么|需要哪些|how (?:do|to|can)|what do i need", text, re.I):
        if not re.search(r"我要|我想|帮我|i want|i'd like|i would like|please file", text, re.I):
            scores["policy_question"] = scores.get("policy_question", 0.0) + scores.pop("claim_filing")
    # "I have condition Y and want to buy X" is underwriting unless they ask for a price.
    if has_declarations and 0 < scores.get("quote", 0) < 2.5:
        scores["underwriting"] = scores.get("underwriting", 0.0) + 1.0

    # "那中症呢" / "what about X?" right after a policy question continues it.
    if not scores and previous_intent == "policy_question" and _ELLIPSIS.search(text):
        return IntentResult("policy_question", 0.6, scores, fired, "state")

    best, best_score = _best(scores)
    second = sorted(scores.values(), reverse=True)[1] if len(scores) > 1 else 0.0

    # Continuing a task: the turn answers what we asked, or only gives details.
    # A generic cue (a "policy question" word like 保额 inside an answer) does not switch
    # tasks; a specific cue for another task does.
    if active_task in TASK_INTENTS and best != active_task:
        supplies = bool(entities) or has_declarations or bool(expecting)
        generic = best in (None, "policy_question", "greeting")
        if best is None and (supplies or len(text.strip()) <= 12) or (generic and supplies and best_score < 4):
            return IntentResult(active_task, 0.8, scores, fired, "state")

    if best is None:
        label = None
        if llm_classify is not None:
            label = llm_classify(text)
        if label in INTENTS:
            return IntentResult(label, 0.5, scores, fired, "llm")
        if entities.get("product_ids") or is_insurance_related(text):
            return IntentResult("policy_question", 0.3, scores, fired)
        return IntentResult("out_of_scope", 0.4, scores, fired)

    confidence = min(1.0, 0.5 + 0.1 * (best_score - second))
    if llm_classify is not None and best_score - second < 0.75 and second > 0:
        label = llm_classify(text)
        if label in (best, *[k for k, v in scores.items() if v == second]):
            return IntentResult(label, confidence, scores, fired, "llm")
    return IntentResult(best, confidence, scores, fired)


_ELLIPSIS = re.compile(r"^\s*(?:那|那么|那要是|那如果)?.{1,15}(?:呢|怎么样|怎么算)[？?]?\s*$|^\s*(?:and|what|how) about\b.{1,40}\??\s*$", re.I)

# Tie-break order when two labels score the same: the more specific, actionable one.
_PRIORITY = (
    "handoff_request", "complaint", "claim_filing", "claim_status", "premium_simulation",
    "underwriting", "recommendation", "quote", "policy_service", "policy_question",
    "greeting", "out_of_scope",
)


def _best(scores: Mapping[str, float]) -> tuple[str | None, float]:
    live = {k: v for k, v in scores.items() if v > 0}
    if not live:
        return None, 0.0
    label = max(live, key=lambda k: (live[k], -_PRIORITY.index(k)))
    return label, live[label]

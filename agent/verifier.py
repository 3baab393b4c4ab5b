"""Grounding verifier: every number in a reply must come from this turn's tool calls
(arguments or results), the cited clause texts, or the advisor's fixed templates.

Used on every reply before it is sent (a reply that fails is regenerated without the
LLM's sentence or replaced by the template answer) and by ``anxin eval``'s
``grounded`` expectation.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from anxin.agent.numbers import find_numbers

_REPLIES = Path(__file__).with_name("data") / "replies.yaml"
_GUARDRAILS = Path(__file__).with_name("data") / "guardrails.yaml"


@dataclass
class Verdict:
    """``ok`` when every number is grounded; ``ungrounded`` lists the raw text of the others."""

    ok: bool
    ungrounded: list[str] = field(default_factory=list)
    checked: int = 0


def _walk(node: Any, out: set[Decimal]) -> None:
    if isinstance(node, bool) or node is None:
        return
    if isinstance(node, (int, float, Decimal)):
        try:
            out.add(abs(Decimal(str(node))).normalize())
        except Exception:  # noqa: BLE001 - NaN/inf are not numbers a reply can cite
            pass
    elif isinstance(node, str):
        for m in find_numbers(node):
            out.add(abs(m.value).normalize())
    elif isinstance(node, dict):
        for v in node.values():
            _walk(v, out)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _walk(v, out)


def source_numbers(sources: Iterable[Any]) -> set[Decimal]:
    """Every number found in the given JSON values and texts (absolute values)."""
    out: set[Decimal] = set()
    for s in sources:
        _walk(s, out)
    return out


def _replies_in(node: Any) -> list[Any]:
    """The ``reply`` blocks of the guardrail rules (their fixed texts, e.g. a hotline)."""
    out: list[Any] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out += [v] if k == "reply" else _replies_in(v)
    elif isinstance(node, list):
        for v in node:
            out += _replies_in(v)
    return out


@lru_cache(maxsize=1)
def template_numbers() -> frozenset[Decimal]:
    """Numbers written into the fixed reply texts: the reply templates (e.g. 后四位) and
    the guardrails' refusals (e.g. an emergency number)."""
    sources: list[Any] = [yaml.safe_load(_REPLIES.read_text(encoding="utf-8"))]
    sources += _replies_in(yaml.safe_load(_GUARDRAILS.read_text(encoding="utf-8")))
    # product names are the insurer's own words ("Million-Yuan Medical")
    from anxin.knowledge.filing import load_catalog

    sources += [p.get("name") for p in load_catalog().get("products", [])]
    return frozenset(source_numbers(sources))


def verify(reply: str, sources: Iterable[Any], *, allow_templates: bool = True,
           tolerance: Decimal = Decimal("0.005")) -> Verdict:
    """Check every number of ``reply`` against ``sources`` (tool args/results, clause texts)."""
    known = source_numbers(sources)
    if allow_templates:
        known |= template_numbers()
    bad: list[str] = []
    mentions = find_numbers(reply)
    for m in mentions:
        v = abs(m.value).normalize()
        if v in known or any(abs(v - k) <= tolerance for k in known):
            continue
        bad.append(m.raw)
    return Verdict(ok=not bad, ungrounded=bad, checked=len(mentions))

"""The ``expect`` keys of ``conversation-tests.md``, checked against one :class:`TurnResult`.

:func:`check` returns one :class:`Failure` per key that does not hold (an empty list
means the turn passed). Exact rules:

``intent`` / ``emotion``
    the label equals it (labels are compared trimmed and case-insensitively).
``tool``
    some call of that name (case-insensitive) has, for every ``args`` key, an equal value
    (:func:`values_equal`: numbers within 1e-6; strings trimmed and case-insensitive; a
    number written as text compares numerically; nested mappings must *contain* the
    expected keys; lists have the same length and match item for item in any order;
    ``null`` means "absent or null"). Whether the call succeeded is not part of it.
``tools``
    every item holds as a ``tool``.
``no_tool``
    none of the names was called.
``reply_contains`` / ``reply_contains_any`` / ``reply_not_contains``
    substring tests on the reply, case-insensitive, after Unicode NFKC normalisation
    (full-width ``５０％`` reads as ``50%``) and with runs of white space read as one space.
``reply_matches``
    ``re.search(pattern, reply, re.S)`` finds a match (a list: every pattern matches).
``numbers``
    every value is one of the numbers in the reply (read by
    :func:`anxin.agent.numbers.find_numbers`, so ``1,234.50``, ``1234.5``, ``50万``
    and Chinese numerals all count), within its absolute tolerance (default 0.01).
``cites`` / ``cites_any``
    clause ids among the turn's citations (exact id, case-insensitive).
``cites_product``
    a citation whose ``product_id`` is it, or whose clause id is it or starts with
    ``<it>-`` (a list: every product has such a citation).
``handoff``
    ``TurnResult.handoff.active`` after the turn equals it.
``language``
    the language of the reply *text* (:func:`reply_language`: Han characters against
    letters of Latin words, ids and codes left out) when the text clearly is one
    language; for an empty, number-only or evenly mixed reply, ``TurnResult.language``.
``grounded``
    (true) every number :func:`find_numbers` reads in the reply equals (within 0.01) a
    number in this turn's tool calls (arguments and results: every JSON number and every
    number inside a JSON string) or in the cited clauses' text and heading. No number
    is exempt: small integers, counts (``后四位``) and ordinals (``第3条``, a ``1.``
    list marker) count like any other; identifiers such as policy numbers and clause
    ids are not numbers to ``find_numbers``. Signs are ignored (``find_numbers`` reads
    none). A percentage also grounds against its fraction (``20%`` ~ ``0.2``) and the
    other way round; a date grounds against the same date in a source, a partial date
    (``10月1日``, ``2026年10月``) or a year (``2026年``) against a source date it is part of.
    ``grounded: false`` checks nothing (the spec defines only ``true``).
``max_latency_ms``
    ``TurnResult.latency_ms`` is at most it (the wall time the runner measured around
    ``respond`` when the advisor reports 0).
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from pydantic import BaseModel

from anxin.agent.types import TurnResult
from anxin.evals.suites import Expect, NumberValue, ToolExpect, parse_expected_number

#: Numbers in tool arguments compare within this.
ARG_TOLERANCE = 1e-6
#: Reply numbers ground against sources within this (absolute).
GROUNDING_TOLERANCE = Decimal("0.01")
#: Also accept the numbers written in the advisor's fixed reply templates
#: (:func:`anxin.agent.verifier.template_numbers`, e.g. the 4 of 后四位). Off: the spec
#: grounds numbers only in tool calls and cited clauses.
ALLOW_TEMPLATE_NUMBERS = False

_TRUE = {"true", "yes", "y", "on", "1", "是"}
_FALSE = {"false", "no", "n", "off", "0", "否"}


class Failure(BaseModel):
    """One expectation key that did not hold."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


# --------------------------------------------------------------------------- value equality

def _to_decimal(value: Any) -> Decimal | None:
    """A number from a JSON/YAML number or from text that is just a number (``"1,234.5"``)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return Decimal(str(value))
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "")
        if not text or not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", text):
            return None
        try:
            return Decimal(text)
        except InvalidOperation:
            return None
    return None


def _numbers_close(a: Decimal, b: Decimal, tolerance: Decimal | float) -> bool:
    return abs(a - b) <= Decimal(str(tolerance))


def _number_in(expected: Decimal, found: Iterable[Decimal], tolerance: float) -> bool:
    """Whether ``expected`` (sign ignored: ``find_numbers`` reads no minus sign) is among ``found``."""
    mod = _numbers_module()
    same = mod.numbers_equal if mod is not None and hasattr(mod, "numbers_equal") else _numbers_close
    return any(same(abs(expected), f, Decimal(str(tolerance))) for f in found)


def _bool_of(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        v = value.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    return None


def values_equal(expected: Any, actual: Any) -> bool:
    """Whether a tool argument ``actual`` equals the expected ``expected`` (rules in the module doc)."""
    if expected is None:
        return actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        a, b = _bool_of(expected), _bool_of(actual)
        return a is not None and a == b
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        return all(_arg_matches(k, v, actual) for k, v in expected.items())
    if isinstance(expected, (list, tuple)):
        if isinstance(actual, (list, tuple)):
            return len(expected) == len(actual) and _match_all(list(expected), list(actual))
        return len(expected) == 1 and values_equal(expected[0], actual)
    if isinstance(actual, (list, tuple)):
        return len(actual) == 1 and values_equal(expected, actual[0])
    if isinstance(actual, dict):
        return False
    if isinstance(expected, str) and isinstance(actual, str):
        if _fold(expected) == _fold(actual):
            return True
    ed, ad = _to_decimal(expected), _to_decimal(actual)
    if ed is not None and ad is not None:
        return _numbers_close(ed, ad, ARG_TOLERANCE)
    if isinstance(expected, str) or isinstance(actual, str):
        return _fold(str(expected)) == _fold(str(actual))
    return bool(expected == actual)


def _arg_matches(key: str, expected: Any, args: dict[str, Any]) -> bool:
    if key not in args:
        return expected is None
    return values_equal(expected, args[key])


def _match_all(expected: list[Any], actual: list[Any]) -> bool:
    """Every expected item matched by a distinct actual item (any order; backtracking)."""
    if not expected:
        return True
    first, rest = expected[0], expected[1:]
    for i, item in enumerate(actual):
        if values_equal(first, item) and _match_all(rest, actual[:i] + actual[i + 1:]):
            return True
    return False


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def tool_matches(item: ToolExpect, result: TurnResult) -> bool:
    """Whether some call in the turn satisfies ``item``."""
    return any(c.name.strip().lower() == item.name.strip().lower()
               and all(_arg_matches(k, v, c.args) for k, v in item.args.items())
               for c in result.tool_calls)


def tool_arg_score(item: ToolExpect, result: TurnResult) -> tuple[int, int]:
    """``(matched, expected)`` argument counts for the best call of ``item.name``."""
    total = len(item.args)
    best = 0
    for c in result.tool_calls:
        if c.name.strip().lower() == item.name.strip().lower():
            best = max(best, sum(_arg_matches(k, v, c.args) for k, v in item.args.items()))
    return best, total


def _describe_calls(result: TurnResult) -> str:
    if not result.tool_calls:
        return "no tool was called"
    return "called: " + "; ".join(f"{c.name}({_short(c.args)})" for c in result.tool_calls)


def _short(value: Any, limit: int = 160) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


# --------------------------------------------------------------------------- numbers

@dataclass
class Grounding:
    """Which numbers of a reply are backed by the turn's tool calls or cited clauses."""

    numbers: list[str] = field(default_factory=list)
    ungrounded: list[str] = field(default_factory=list)
    available: bool = True

    @property
    def grounded(self) -> int:
        return len(self.numbers) - len(self.ungrounded)


@dataclass
class Sources:
    """Numbers (absolute values) and ISO dates found in a turn's tool calls and citations."""

    values: set[Decimal] = field(default_factory=set)
    dates: set[str] = field(default_factory=set)


def _numbers_module() -> Any | None:
    try:
        from anxin.agent import numbers
    except ImportError:
        return None
    return numbers


def _mention_values(mention: Any) -> list[Decimal]:
    """The values a mention may stand for (absolute: ``find_numbers`` reads no sign);
    a percentage also as a fraction (``20%`` ~ ``0.2``)."""
    value = abs(Decimal(str(mention.value)))
    values = [value]
    if getattr(mention, "unit", None) == "%":
        values.append(value / 100)
    return values


def reply_numbers(text: str) -> list[Any] | None:
    """The numbers :func:`find_numbers` reads in ``text`` (None when it is not installed)."""
    mod = _numbers_module()
    if mod is None:
        return None
    return list(mod.find_numbers(text or ""))


def _walk_numbers(value: Any, out: Sources, find: Any) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float, Decimal)):
        d = _to_decimal(value)
        if d is not None:
            out.values.add(abs(d))
    elif isinstance(value, str):
        d = _to_decimal(value)
        if d is not None:
            out.values.add(abs(d))
        for m in find(value):
            out.values.update(_mention_values(m))
            if getattr(m, "unit", None) == "date" and getattr(m, "date", None):
                out.dates.add(m.date)
    elif isinstance(value, dict):
        for v in value.values():
            _walk_numbers(v, out, find)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _walk_numbers(v, out, find)


def source_numbers(result: TurnResult) -> Sources:
    """Every number in the turn's tool arguments and results and in the cited clauses."""
    mod = _numbers_module()
    out = Sources()
    if mod is None:
        return out
    for call in result.tool_calls:
        _walk_numbers(call.args, out, mod.find_numbers)
        _walk_numbers(call.result, out, mod.find_numbers)
    for cit in result.citations:
        _walk_numbers([cit.heading, cit.text], out, mod.find_numbers)
    if ALLOW_TEMPLATE_NUMBERS:
        try:
            from anxin.agent.verifier import template_numbers

            out.values.update(abs(v) for v in template_numbers())
        except Exception:  # noqa: BLE001 - no templates: nothing more is grounded
            pass
    return out


def _is_grounded(mention: Any, sources: Sources) -> bool:
    if any(_numbers_close(v, s, GROUNDING_TOLERANCE) for v in _mention_values(mention) for s in sources.values):
        return True
    unit = getattr(mention, "unit", None)
    iso = getattr(mention, "date", None)
    if unit == "date" and iso:
        if iso.startswith("--"):                      # 10月1日: any source date on that day
            return any(d.endswith(iso[1:]) for d in sources.dates)
        return any(d.startswith(iso) for d in sources.dates)   # 2026-10 or a full date
    value = abs(Decimal(str(mention.value)))
    if unit in ("year", None) and value == value.to_integral_value() and 1900 <= value <= 2100:
        return any(d.startswith(f"{int(value):04d}-") for d in sources.dates)   # 2026年
    return False


def grounding(result: TurnResult) -> Grounding:
    """Which numbers of the reply are grounded (see ``grounded`` in the module doc)."""
    mentions = reply_numbers(result.reply)
    if mentions is None:
        return Grounding(available=False)
    sources = source_numbers(result)
    g = Grounding()
    for m in mentions:
        raw = str(getattr(m, "raw", "") or m.value)
        g.numbers.append(raw)
        if not _is_grounded(m, sources):
            g.ungrounded.append(raw)
    return g


def _expected_numbers(items: Iterable[tuple[NumberValue, float]]) -> list[tuple[NumberValue, Decimal | None, float]]:
    return [(raw, parse_expected_number(raw), tol) for raw, tol in items]


# --------------------------------------------------------------------------- language

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"(?<![\w-])[A-Za-z]{2,}(?![\w-])")


def reply_language(text: str) -> str | None:
    """``zh`` or ``en`` when the text clearly is one: Han characters weigh 1, letters of
    Latin words 1/3 (ids, codes and words glued to digits or hyphens are not words), and
    one side must weigh at least twice the other. None when it has neither or is mixed."""
    han = len(_HAN.findall(text or ""))
    latin = sum(len(w) for w in _WORD.findall(text or "")) / 3
    if han == 0 and latin == 0:
        return None
    if han >= 2 * latin:
        return "zh"
    if latin >= 2 * han:
        return "en"
    return None


# --------------------------------------------------------------------------- check

def _contains(reply: str, needle: str) -> bool:
    return _fold(needle) in _fold(reply)


def check(expect: Expect, result: TurnResult, *, wall_ms: float | None = None) -> list[Failure]:
    """Every key of ``expect`` that ``result`` does not satisfy (empty: the turn passed)."""
    fails: list[Failure] = []
    reply = result.reply or ""

    def fail(key: str, message: str) -> None:
        fails.append(Failure(key=key, message=message))

    if expect.intent is not None and result.intent.strip().lower() != expect.intent.lower():
        fail("intent", f"expected {expect.intent!r}, got {result.intent!r}")

    for key, items in (("tool", [expect.tool] if expect.tool else []), ("tools", expect.tools or [])):
        for item in items:
            if not tool_matches(item, result):
                want = f"{item.name}({_short(item.args)})" if item.args else item.name
                fail(key, f"expected a call {want}; {_describe_calls(result)}")

    if expect.no_tool:
        called = {n.strip().lower() for n in result.tool_names}
        bad = [n for n in expect.no_tool if n.strip().lower() in called]
        if bad:
            fail("no_tool", f"{', '.join(bad)} must not be called; {_describe_calls(result)}")

    if expect.reply_contains:
        missing = [s for s in expect.reply_contains if not _contains(reply, s)]
        if missing:
            fail("reply_contains", f"reply lacks {missing!r}")
    if expect.reply_contains_any and not any(_contains(reply, s) for s in expect.reply_contains_any):
        fail("reply_contains_any", f"reply has none of {expect.reply_contains_any!r}")
    if expect.reply_not_contains:
        present = [s for s in expect.reply_not_contains if _contains(reply, s)]
        if present:
            fail("reply_not_contains", f"reply contains {present!r}")
    for pattern in expect.reply_matches or []:
        if not re.search(pattern, reply, re.S):
            fail("reply_matches", f"reply does not match /{pattern}/")

    if expect.numbers is not None:
        mentions = reply_numbers(reply)
        if mentions is None:
            fail("numbers", "the number parser anxin.agent.numbers is not available")
        else:
            found = [v for m in mentions for v in _mention_values(m)]
            missing_n = [str(raw) for raw, value, tol in _expected_numbers(expect.numbers.items())
                         if value is None or not _number_in(value, found, tol)]
            if missing_n:
                seen = ", ".join(str(getattr(m, "raw", m.value)) for m in mentions) or "none"
                fail("numbers", f"reply lacks {', '.join(missing_n)} (numbers in the reply: {seen})")

    cited = [c.clause_id.strip().casefold() for c in result.citations]
    if expect.cites:
        missing_c = [c for c in expect.cites if c.strip().casefold() not in cited]
        if missing_c:
            fail("cites", f"not cited: {', '.join(missing_c)}; cited: {', '.join(result.clause_ids) or 'nothing'}")
    if expect.cites_any and not any(c.strip().casefold() in cited for c in expect.cites_any):
        fail("cites_any", f"none of {', '.join(expect.cites_any)} cited; cited: {', '.join(result.clause_ids) or 'nothing'}")
    for pid in expect.cites_product or []:
        if not any(cites_product(c, pid) for c in result.citations):
            fail("cites_product", f"no citation of product {pid}; cited: {', '.join(result.clause_ids) or 'nothing'}")

    if expect.emotion is not None and result.emotion.label.strip().lower() != expect.emotion.lower():
        fail("emotion", f"expected {expect.emotion!r}, got {result.emotion.label!r}")
    if expect.handoff is not None and bool(result.handoff.active) != expect.handoff:
        fail("handoff", f"expected hand-off {'active' if expect.handoff else 'inactive'}, "
                        f"got {'active' if result.handoff.active else 'inactive'} (status {result.handoff.status})")
    if expect.language is not None:
        lang = reply_language(reply) or result.language
        if lang != expect.language:
            fail("language", f"expected a {expect.language} reply, got {lang} (advisor says {result.language})")
    if expect.grounded:
        g = grounding(result)
        if not g.available:
            fail("grounded", "the number parser anxin.agent.numbers is not available")
        elif g.ungrounded:
            fail("grounded", f"not in the tool results or cited clauses: {', '.join(g.ungrounded)}")
    if expect.max_latency_ms is not None:
        took = turn_latency(result, wall_ms)
        if took > expect.max_latency_ms:
            fail("max_latency_ms", f"took {took:.0f} ms > {expect.max_latency_ms:g} ms")
    return fails


def cites_product(citation: Any, product_id: str) -> bool:
    """Whether a citation belongs to ``product_id``."""
    pid = product_id.strip().casefold()
    if (citation.product_id or "").strip().casefold() == pid:
        return True
    cid = citation.clause_id.strip().casefold()
    return cid == pid or cid.startswith(pid + "-")


def turn_latency(result: TurnResult, wall_ms: float | None = None) -> float:
    """The turn's latency: the advisor's own figure, or the measured wall time when it gives 0."""
    if result.latency_ms and result.latency_ms > 0:
        return float(result.latency_ms)
    return float(wall_ms or 0.0)

"""Deterministic metrics over the turns of an :class:`~anxin.evals.runner.EvalReport`.

Every metric is computed from the recorded turns of every run (a conversation run
``k`` times contributes ``k`` times); turns in which the advisor raised count as wrong
wherever they are counted. Each metric is ``{"value": rate or null, "n": what it was
computed over, ...counts}``; ``value`` is null when there is nothing to measure.

``citation_precision`` / ``citation_recall``
    over turns with ``cites`` or ``cites_any``. Precision: cited clause ids that are
    among the expected ids (``cites`` ∪ ``cites_any``) / clause ids cited. Recall:
    expected found / expected, where every ``cites`` id is one expected item and a
    ``cites_any`` list is one item (found when any of its ids is cited). Micro-averaged.
``grounded_number_rate``
    over every turn: numbers in replies that are grounded (in the turn's tool calls or
    cited clauses; see ``grounded`` in :mod:`anxin.evals.expectations`) / numbers in
    replies.
``tool_argument_accuracy``
    over ``tool`` / ``tools`` items: expected arguments matched by the best call of
    that name / expected arguments. ``tool_call_accuracy``: items fully satisfied / items.
``handoff_precision`` / ``handoff_recall``
    over turns with a ``handoff`` expectation: true positives / predicted active, and
    true positives / expected active.
``intent_accuracy`` / ``emotion_accuracy`` / ``language_accuracy``
    over turns with that expectation: equal / checked.
``expectation_pass_rates``
    per ``expect`` key: turns where the key held / turns that set it.
``latency_ms``
    p50 / p95 / max of the turns' latency.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anxin.evals.runner import EvalReport, TurnRecord


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _metric(num: int, den: int, **extra: Any) -> dict[str, Any]:
    return {"value": _rate(num, den), "n": den, "hits": num, **extra}


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return round(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo), 2)


def all_turns(report: "EvalReport") -> list["TurnRecord"]:
    """Every recorded turn of every run, in report order."""
    return [t for c in report.conversations for r in c.runs for t in r.turns]


def compute_metrics(report: "EvalReport") -> dict[str, Any]:
    """The metrics of the module doc, as a JSON-ready dict."""
    from anxin.evals.expectations import reply_language, tool_arg_score, tool_matches

    turns = all_turns(report)
    cit_cited = cit_relevant = cit_expected = cit_found = 0
    num_total = num_grounded = 0
    arg_total = arg_hit = call_total = call_hit = 0
    ho_tp = ho_pred = ho_exp = ho_n = 0
    intent_n = intent_ok = emo_n = emo_ok = lang_n = lang_ok = 0
    key_checked: dict[str, int] = {}
    key_passed: dict[str, int] = {}
    latencies: list[float] = []

    for t in turns:
        e = t.expect
        result = t.result
        failed_keys = {f.key for f in t.failures}
        for key in e.given():
            key_checked[key] = key_checked.get(key, 0) + 1
            if result is not None and key not in failed_keys:
                key_passed[key] = key_passed.get(key, 0) + 1
        if result is not None:
            latencies.append(t.latency_ms)
            num_total += len(t.numbers)
            num_grounded += len(t.numbers) - len(t.ungrounded_numbers)
        cited = [c.clause_id.strip().casefold() for c in result.citations] if result else []

        if e.cites or e.cites_any:
            expected_ids = {x.strip().casefold() for x in (e.cites or []) + (e.cites_any or [])}
            unique = list(dict.fromkeys(cited))
            cit_cited += len(unique)
            cit_relevant += sum(c in expected_ids for c in unique)
            for cid in e.cites or []:
                cit_expected += 1
                cit_found += cid.strip().casefold() in cited
            if e.cites_any:
                cit_expected += 1
                cit_found += any(x.strip().casefold() in cited for x in e.cites_any)

        items = ([e.tool] if e.tool else []) + list(e.tools or [])
        for item in items:
            call_total += 1
            arg_total += len(item.args)
            if result is not None:
                call_hit += tool_matches(item, result)
                arg_hit += tool_arg_score(item, result)[0]

        if e.handoff is not None:
            ho_n += 1
            predicted = bool(result is not None and result.handoff.active)
            ho_pred += predicted
            ho_exp += e.handoff
            ho_tp += predicted and e.handoff
        if e.intent is not None:
            intent_n += 1
            intent_ok += bool(result is not None and result.intent.strip().lower() == e.intent.lower())
        if e.emotion is not None:
            emo_n += 1
            emo_ok += bool(result is not None and result.emotion.label.strip().lower() == e.emotion.lower())
        if e.language is not None:
            lang_n += 1
            lang_ok += bool(result is not None and (reply_language(result.reply) or result.language) == e.language)

    return {
        "turns": len(turns),
        "citation_precision": _metric(cit_relevant, cit_cited),
        "citation_recall": _metric(cit_found, cit_expected),
        "grounded_number_rate": _metric(num_grounded, num_total),
        "tool_argument_accuracy": _metric(arg_hit, arg_total),
        "tool_call_accuracy": _metric(call_hit, call_total),
        "handoff_precision": _metric(ho_tp, ho_pred, turns_checked=ho_n),
        "handoff_recall": _metric(ho_tp, ho_exp, turns_checked=ho_n),
        "intent_accuracy": _metric(intent_ok, intent_n),
        "emotion_accuracy": _metric(emo_ok, emo_n),
        "language_accuracy": _metric(lang_ok, lang_n),
        "expectation_pass_rates": {k: _metric(key_passed.get(k, 0), n) for k, n in sorted(key_checked.items())},
        "latency_ms": {"p50": _percentile(latencies, 50), "p95": _percentile(latencies, 95),
                       "max": round(max(latencies), 2) if latencies else 0.0, "n": len(latencies)},
    }


#: Headline metrics in the order ``anxin eval`` prints them.
HEADLINE = ("citation_precision", "citation_recall", "grounded_number_rate", "tool_argument_accuracy",
            "tool_call_accuracy", "handoff_precision", "handoff_recall", "intent_accuracy", "emotion_accuracy",
            "language_accuracy")


def format_metrics(metrics: dict[str, Any]) -> list[str]:
    """One printable line per headline metric (``n/a`` when nothing was measured)."""
    lines = []
    for name in HEADLINE:
        m = metrics.get(name) or {}
        value = m.get("value")
        shown = "n/a" if value is None else f"{value:.3f}"
        lines.append(f"{name.replace('_', ' ')}: {shown} ({m.get('hits', 0)}/{m.get('n', 0)})")
    lat = metrics.get("latency_ms") or {}
    if lat.get("n"):
        lines.append(f"latency ms: p50 {lat['p50']} p95 {lat['p95']} max {lat['max']}")
    return lines

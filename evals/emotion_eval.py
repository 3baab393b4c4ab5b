"""Evaluate :func:`anxin.agent.emotion.detect_emotion` on a labelled JSONL set.

Each line: ``{"text": ..., "lang": "zh"|"en", "label": one of EMOTIONS}``.

    python -m anxin.evals.emotion_eval [path ...]

prints the metrics of each file as JSON (default: ``evals/emotion/labelled.jsonl``).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

from anxin.agent.types import EMOTIONS, Emotion

DATA_DIR = Path(__file__).with_name("emotion")
LABELLED = DATA_DIR / "labelled.jsonl"
DEV = DATA_DIR / "dev.jsonl"


def load(path: str | Path) -> list[dict[str, Any]]:
    """Read a labelled JSONL file (blank lines skipped); raises ValueError on a bad line."""
    rows: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("text"), str) or row.get("label") not in EMOTIONS:
                raise ValueError(f"{path}:{n}: need a text and a label in {EMOTIONS}")
            rows.append(row)
    return rows


def metrics(gold: list[str], pred: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 (over labels seen in gold or predictions), per-label P/R/F1 and
    the confusion matrix ``confusion[gold][pred]``."""
    labels = [lab for lab in EMOTIONS if lab in gold or lab in pred]
    confusion = {g: {p: 0 for p in labels} for g in labels}
    for g, p in zip(gold, pred):
        confusion[g][p] += 1
    per_label: dict[str, dict[str, float]] = {}
    for lab in labels:
        tp = confusion[lab][lab]
        fp = sum(confusion[g][lab] for g in labels) - tp
        fn = sum(confusion[lab].values()) - tp
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[lab] = {"precision": round(precision, 4), "recall": round(recall, 4),
                          "f1": round(f1, 4), "support": tp + fn}
    n = len(gold)
    accuracy = sum(g == p for g, p in zip(gold, pred)) / n if n else 0.0
    macro = sum(v["f1"] for v in per_label.values()) / len(per_label) if per_label else 0.0
    return {"n": n, "accuracy": round(accuracy, 4), "macro_f1": round(macro, 4),
            "labels": labels, "per_label": per_label, "confusion": confusion}


def evaluate(
    path: str | Path = LABELLED,
    detector: Callable[..., Emotion] | None = None,
    errors: bool = False,
) -> dict[str, Any]:
    """Run the detector on every line of ``path`` and score it.

    Returns ``{"n", "accuracy", "macro_f1", "labels", "per_label": {label: {precision,
    recall, f1, support}}, "confusion": {gold: {pred: count}}, "by_lang": {lang: {n,
    accuracy, macro_f1}}}``; with ``errors=True`` also ``"errors"``: the misclassified lines.
    """
    if detector is None:
        from anxin.agent.emotion import detect_emotion as detector
    rows = load(path)
    preds = [detector(r["text"], r.get("lang")) for r in rows]
    gold = [r["label"] for r in rows]
    pred = [p.label for p in preds]
    result = metrics(gold, pred)
    result["path"] = str(path)
    by_lang: dict[str, Any] = {}
    for lang in sorted({str(r.get("lang")) for r in rows}):
        idx = [i for i, r in enumerate(rows) if str(r.get("lang")) == lang]
        m = metrics([gold[i] for i in idx], [pred[i] for i in idx])
        by_lang[lang] = {"n": m["n"], "accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}
    result["by_lang"] = by_lang
    if errors:
        result["errors"] = [
            {"text": r["text"], "gold": g, "pred": p.label, "score": p.score,
             "evidence": p.signals.get("evidence", {})}
            for r, g, p in zip(rows, gold, preds) if g != p.label
        ]
    return result


def main(argv: list[str] | None = None) -> int:
    """Print the metrics of each given file (default: the labelled set) as JSON."""
    paths = (argv if argv is not None else sys.argv[1:]) or [str(LABELLED)]
    for p in paths:
        print(json.dumps(evaluate(p), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

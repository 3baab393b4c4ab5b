"""``anxin emotion``: label the emotion of utterances from the command line.

    anxin emotion --text "理赔怎么还没到账？太过分了！"
    anxin emotion --batch turns.jsonl          # one {"text": ..., "lang": ...} per line

Each input gives one JSON line ``{"label": ..., "score": ...}`` on stdout (``--signals``
adds the signals). In a batch, a malformed line prints ``{"error": "..."}`` and the batch
goes on; blank lines are skipped. Exit code 0, or 2 when the batch file cannot be read or
neither/both of ``--batch`` and ``--text`` are given.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

_LANGS = ("zh", "en")


def _label_one(text: str, lang: Optional[str], with_signals: bool) -> dict[str, Any]:
    from anxin.agent.emotion import detect_emotion

    emotion = detect_emotion(text, lang)
    out: dict[str, Any] = {"label": emotion.label, "score": emotion.score}
    if with_signals:
        out["signals"] = emotion.signals
    return out


def _parse_line(raw: bytes, n: int) -> tuple[str, Optional[str]]:
    """(text, lang) of one JSONL line; ValueError with a readable message when malformed."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"line {n}: not UTF-8 ({exc.reason})") from None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"line {n}: invalid JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"line {n}: expected a JSON object")
    text = obj.get("text")
    if not isinstance(text, str):
        raise ValueError(f"line {n}: \"text\" must be a string")
    lang = obj.get("lang")
    if lang is not None and lang not in _LANGS:
        raise ValueError(f"line {n}: \"lang\" must be one of {', '.join(_LANGS)} or absent")
    return text, lang


def _emit(obj: dict[str, Any]) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False))


def emotion_command(
    batch: Optional[Path] = typer.Option(
        None, "--batch", "-b",
        help='JSONL file, one {"text": ..., "lang": "zh"|"en"} per line (lang optional); "-" reads stdin.',
    ),
    text: Optional[str] = typer.Option(None, "--text", "-t", help="One utterance to label."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Language of --text: zh or en (default: detected)."),
    signals: bool = typer.Option(False, "--signals", help="Also print what produced each label."),
) -> None:
    """Label the customer's emotion (neutral, anger, anxiety, sadness, joy, confusion) of one
    utterance (--text) or of every line of a JSONL file (--batch), one JSON line each."""
    if (batch is None) == (text is None):
        typer.echo("error: give exactly one of --batch FILE or --text TEXT", err=True)
        raise typer.Exit(2)
    if text is not None:
        if lang is not None and lang not in _LANGS:
            typer.echo(f"error: --lang must be one of {', '.join(_LANGS)}", err=True)
            raise typer.Exit(2)
        _emit(_label_one(text, lang, signals))
        return

    assert batch is not None
    try:
        data = sys.stdin.buffer.read() if str(batch) == "-" else batch.read_bytes()
    except OSError as exc:
        typer.echo(f"error: cannot read {batch}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2)
    for n, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line_text, line_lang = _parse_line(raw, n)
        except ValueError as exc:
            _emit({"error": str(exc)})
            continue
        try:
            _emit(_label_one(line_text, line_lang, signals))
        except Exception as exc:  # one bad turn must not stop the batch
            _emit({"error": f"line {n}: {type(exc).__name__}: {exc}"})

"""`anxin transcribe FILE`: speech to text from the command line (registered in cli.py)."""
from __future__ import annotations

import json
from pathlib import Path

import typer


def transcribe_command(
    file: Path = typer.Argument(..., help="Audio file: WAV, MP3, FLAC, OGG, WebM, ..."),
    lang: str | None = typer.Option(None, "--lang", help="Language hint: zh or en (default: detect)."),
    as_json: bool = typer.Option(False, "--json", help="Print text, language, segments, timing as JSON."),
) -> None:
    """Transcribe a recording with the offline Whisper model (no network).

    Prints the text; with --json: text, language, segments, duration_s, rtf, confidence,
    low_confidence. Unusable audio (unreadable, empty, too long, too large) exits with
    status 2 and a message on stderr; a missing speech model exits with status 1.
    """
    from anxin.agent.speech import AudioError, SpeechUnavailable, get_transcriber

    try:
        result = get_transcriber().transcribe(file, language=lang)
    except AudioError as exc:
        typer.echo(f"error: {exc.code}: {exc.bilingual['en']}" + (f" ({exc.detail})" if exc.detail else ""),
                   err=True)
        raise typer.Exit(2) from exc
    except SpeechUnavailable as exc:
        typer.echo(f"error: speech recognition unavailable: {exc}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        payload = {
            "text": result.text,
            "language": result.language,
            "segments": [s.model_dump() for s in result.segments],
            "duration_s": result.duration_s,
            "rtf": result.rtf,
            "confidence": result.confidence,
            "low_confidence": result.low_confidence,
        }
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=1))
    else:
        if not result.text:
            typer.echo("(no speech detected)", err=True)
        else:
            typer.echo(result.text)

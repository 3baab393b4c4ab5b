"""``anxin chat``: a terminal conversation with the advisor, for staff and testing.

Each reply is followed by what the advisor did: intent, emotion, tool calls with their
arguments, cited clause ids, hand-off state and latency. ``--session`` resumes a
conversation (sessions live in the database).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.console import Console

console = Console()


def chat_command(
    session: str | None = typer.Option(None, "--session", help="Resume this session id."),
    backend: str | None = typer.Option(None, "--backend", help="LLM back-end: local | openai | none (default ANXIN_LLM)."),
    message: list[str] = typer.Option(None, "--message", "-m", help="Send these messages and exit (repeatable)."),
    audio: Path | None = typer.Option(None, "--audio", help="Send one audio file as a voice turn and exit."),
    as_json: bool = typer.Option(False, "--json", help="Print each TurnResult as JSON."),
    lang: str | None = typer.Option(None, "--lang", help="Language hint for voice turns (zh|en)."),
) -> None:
    """Talk to the advisor in the terminal (type /quit to leave, /new for a new session)."""
    from anxin.agent.advisor import Advisor
    from anxin.agent.llm import backend_info

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    advisor = Advisor(backend=backend)
    sid = session or advisor.new_session(channel="cli")
    if not as_json:
        info = backend_info(advisor.backend_name)
        console.print(f"[dim]session {sid} · LLM back-end: {info.get('name')}"
                      f"{' (fallback: ' + str(info.get('fallback_reason')) + ')' if info.get('fallback_reason') else ''}[/dim]")

    def turn(text: str | None = None, audio_path: Path | None = None) -> None:
        streamed: list[str] = []
        result = advisor.respond(sid, text=text, audio=str(audio_path) if audio_path else None, language_hint=lang,
                                 on_token=None if as_json else streamed.append)
        if as_json:
            print(json.dumps(result.model_dump(mode="json"), ensure_ascii=False))
            return
        if result.transcript is not None:
            console.print(f"[dim](heard) {result.transcript}[/dim]")
        console.print(f"[bold green]Anxin:[/bold green] {result.reply}", highlight=False)
        meta = [f"intent={result.intent}", f"lang={result.language}",
                f"emotion={result.emotion.label}({result.emotion.score:.2f})", f"{result.latency_ms:.0f} ms",
                f"backend={result.backend}"]
        if not result.grounded:
            meta.append("UNGROUNDED")
        console.print("[dim]" + " · ".join(meta) + "[/dim]")
        for call in result.tool_calls:
            args = json.dumps({k: ("***" if k in ("id_last4", "name", "dob") else v) for k, v in call.args.items()},
                              ensure_ascii=False)
            console.print(f"[dim]  tool {call.name}({args[:300]}) -> {'ok' if call.ok else call.result.get('error', {}).get('code')}[/dim]",
                          highlight=False)
        if result.citations:
            console.print("[dim]  cites: " + ", ".join(result.clause_ids) + "[/dim]")
        if result.handoff.active:
            console.print(f"[yellow]  hand-off: {result.handoff.status} ticket {result.handoff.ticket_id} "
                          f"(queue {result.handoff.queue_position}) reason={result.handoff.reason}[/yellow]")

    if message or audio:
        for text in message or []:
            turn(text)
        if audio:
            turn(audio_path=audio)
        return
    while True:
        try:
            text = console.input("[bold cyan]You:[/bold cyan] ")
        except (EOFError, KeyboardInterrupt):
            console.print()
            break
        if text.strip() in ("/quit", "/exit"):
            break
        if text.strip() == "/new":
            sid = advisor.new_session(channel="cli")
            console.print(f"[dim]new session {sid}[/dim]")
            continue
        if text.strip().startswith("/audio "):
            turn(audio_path=Path(text.strip()[7:]))
            continue
        turn(text)

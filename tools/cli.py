"""`anxin tool`: run one advisor tool from the command line.

    anxin tool NAME 'JSON_ARGS'           print the tool's JSON result (exit 0);
                                          on error print {"error": {...}} and exit 2
    anxin tool NAME -                     read the JSON arguments from stdin
    anxin tool NAME --batch FILE.jsonl    one JSON object per non-blank line in, one JSON
                                          line out in the same order (errors inline);
                                          exit 0 unless the file cannot be read (2)
    anxin tool --list                     tool names and what they do
    anxin tool schema [NAME]              the OpenAI function-calling schema(s)

``claim_status`` and ``file_claim`` take the verification fields in their arguments
(``id_last4`` and ``name`` or ``dob``) and verify first. Each call (and each batch
line) gets a fresh context and session (``cli-<random>``, or the ``session_id``
argument), so one line's verification never serves another line and failed attempts
of separate invocations do not lock each other out (the per-policy lockout applies).
"""
from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from anxin.tools.errors import ToolError

CLI_SESSION = "cli"

# Short help per tool, kept here so `anxin --help` does not import every engine.
SUMMARY: dict[str, str] = {
    "search_policy": "Search the policy wordings; clauses with citable clause ids.",
    "quote": "Price one product: premium with every rating factor and step.",
    "pre_underwrite": "Health declarations -> underwriting decision and uw_loading_pct.",
    "simulate_premium": "Premium before/after a change (delta, delta_pct, when it takes effect).",
    "recommend": "Suggest products from age, income, dependents, budget and goals.",
    "claim_status": "Claim status and timeline (verifies identity first).",
    "file_claim": "File a new claim (verifies identity first; idempotency_key makes retries safe).",
    "handoff": "Hand the conversation over to a human advisor (opens a ticket).",
}


def _dump(data: Any, compact: bool) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":") if compact else None,
                      indent=None if compact else 2)


def _error_exit(err: ToolError, compact: bool = False) -> None:
    typer.echo(_dump(err.to_dict(), compact))
    raise typer.Exit(2)


def _context(args: Any) -> Any:
    """A fresh context per call: its own session ``cli-<random>`` (or the ``session_id``
    argument), so verification attempts of separate invocations never share a lockout
    counter or a verified identity."""
    from anxin.tools.context import ToolContext

    sid = args.get("session_id") if isinstance(args, dict) else None
    if not (isinstance(sid, str) and sid.strip()):
        sid = f"{CLI_SESSION}-{uuid.uuid4().hex[:12]}"
    return ToolContext(session_id=sid.strip()[:64], actor="cli")


def _run_one(name: str, args: Any) -> dict[str, Any]:
    from anxin.tools import registry
    from anxin.tools.context import parse_args

    try:
        parsed = parse_args(args)
    except ToolError as err:
        return err.to_dict()
    return registry.call(name, parsed, _context(parsed))


_UNKNOWN = "__unknown_tool__"


class ToolGroup(TyperGroup):
    """Tools as sub-commands; ``pre-underwrite`` finds ``pre_underwrite``; an unknown
    name runs a hidden command that answers with a structured ``UNKNOWN_TOOL`` error
    (exit 2) instead of click's usage text."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            return cmd
        cmd = super().get_command(ctx, cmd_name.strip().lower().replace("-", "_"))
        if cmd is not None or cmd_name.startswith("-"):
            return cmd
        ctx.meta["anxin_tool_name"] = cmd_name
        return super().get_command(ctx, _UNKNOWN)


app = typer.Typer(cls=ToolGroup, add_completion=False, invoke_without_command=True,
                  help="Run one advisor tool: `anxin tool NAME 'JSON'` or `anxin tool NAME --batch FILE.jsonl`.")


@app.callback()
def _root(
    ctx: typer.Context,
    list_: bool = typer.Option(False, "--list", help="List the tools and exit."),
) -> None:
    """Run one advisor tool with JSON arguments and print its JSON result.

    Examples: anxin tool quote '{"product_id": "MED-100", "age": 30}'
    | anxin tool claim_status '{"claim_id": "CLM-2026-0008", "id_last4": "9315", "dob": "1970-06-25"}'
    | anxin tool quote --batch inputs.jsonl
    """
    if list_:
        for name, text in SUMMARY.items():
            typer.echo(f"{name:<18} {text}")
        raise typer.Exit(0)
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


def _read_batch(path: Path) -> list[str]:
    try:
        if str(path) == "-":
            return sys.stdin.read().splitlines()
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        _error_exit(ToolError("MALFORMED_REQUEST", f"cannot read {path}: {getattr(exc, 'strerror', None) or exc.__class__.__name__}", field="batch"))
        return []


def _batch(name: str, path: Path) -> None:
    lines = _read_batch(path)
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            args = json.loads(line)
        except json.JSONDecodeError as exc:
            out: dict[str, Any] = ToolError("MALFORMED_REQUEST", f"line {n}: not valid JSON ({exc.msg})",
                                            field="line").to_dict()
        else:
            out = _run_one(name, args)
        typer.echo(_dump(out, compact=True))


def _make_command(name: str):
    def command(
        args: Optional[str] = typer.Argument(
            None, metavar="JSON_ARGS", show_default=False,
            help="The arguments as one JSON object ('-' reads it from stdin)."),
        batch: Optional[Path] = typer.Option(
            None, "--batch", metavar="FILE.jsonl",
            help="Run once per JSON line of FILE ('-' = stdin); prints one JSON line per input, in order."),
        compact: bool = typer.Option(False, "--compact", help="Print the result on one line."),
    ) -> None:
        if batch is not None:
            if args is not None:
                _error_exit(ToolError("MALFORMED_REQUEST", "give JSON_ARGS or --batch FILE, not both"), compact)
            _batch(name, batch)
            return
        text = sys.stdin.read() if args == "-" else (args if args is not None else "{}")
        result = _run_one(name, text)
        typer.echo(_dump(result, compact))
        if isinstance(result, dict) and set(result) == {"error"}:
            raise typer.Exit(2)

    command.__doc__ = f"{SUMMARY[name]}\n\nUsage: anxin tool {name} 'JSON_ARGS' | --batch FILE.jsonl"
    return command


for _name in SUMMARY:
    app.command(name=_name, help=f"{SUMMARY[_name]} (see `anxin tool schema {_name}`)")(_make_command(_name))


@app.command(name=_UNKNOWN, hidden=True,
             context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def _unknown_tool(ctx: typer.Context) -> None:
    """(answers an unknown tool name with UNKNOWN_TOOL)"""
    from anxin.tools import registry

    name = ctx.meta.get("anxin_tool_name", _UNKNOWN)
    try:
        registry.resolve(name)
    except ToolError as err:
        _error_exit(err)


@app.command(name="schema")
def _schema(
    name: Optional[str] = typer.Argument(None, help="Tool name; all tools when omitted."),
) -> None:
    """Print a tool's function-calling schema (OpenAI format), or all of them."""
    from anxin.tools import registry

    try:
        data: Any = registry.schema(name) if name else registry.openai_schemas()
    except ToolError as err:
        _error_exit(err)
        return
    typer.echo(_dump(data, compact=False))

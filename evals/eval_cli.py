"""``anxin eval PATH [PATH ...] [--k N] [--report-dir DIR] [--junit FILE]``.

Prints one line per conversation as it finishes (``PASS suite/id`` or ``FAIL suite/id —
turn N (line L): key: reason``; files that could not be loaded as ``FAIL`` lines naming
file and line), then pass^1 / pass^k and the metrics, then — always as the very last
line — ``N passed, N failed`` (counting conversations; a conversation that could not be
loaded is failed). Exit code: 0 when every conversation passed, 1 otherwise, 2 for a
usage error (a PATH that does not exist or holds no ``*.yaml``, a report that cannot be
written: the other paths still run and the final line is still printed).

The lead registers :func:`eval_command` as ``anxin eval`` in ``cli.py``; tests inject an
advisor through :data:`ADVISOR_FACTORY`.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from anxin.evals.runner import AdvisorFactory, ConversationRecord, run_suites, write_junit, write_results

#: Builds the advisor; None means ``Advisor(backend=--backend)``. Tests set a fake.
ADVISOR_FACTORY: AdvisorFactory | None = None


def _out(line: str) -> None:
    try:
        print(line, flush=True)
    except UnicodeEncodeError:          # a terminal that cannot show Chinese
        print(line.encode("ascii", "backslashreplace").decode("ascii"), flush=True)


def eval_command(
    paths: list[Path] = typer.Argument(..., help="Suite files, or folders (every *.yaml below them)."),
    k: int = typer.Option(1, "--k", "-k", min=1, help="Runs per conversation, each in a fresh session (pass^k)."),
    report_dir: Optional[Path] = typer.Option(None, "--report-dir", help="Write results.json and report.html here."),
    junit: Optional[Path] = typer.Option(None, "--junit", help="Write JUnit XML (one testcase per conversation) here."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1,
                                          help="Parallel runs (default 1; min(4, CPUs) for ANXIN_LLM=none on PostgreSQL)."),
    backend: Optional[str] = typer.Option(None, "--backend", help="ANXIN_LLM override (local | openai | none)."),
) -> None:
    """Run scripted conversation suites against the advisor (conversation-tests.md).

    The last line printed is exactly `N passed, N failed`; the exit code is 0 only when
    every conversation passed (1 otherwise, 2 for a missing path)."""
    if backend:
        os.environ["ANXIN_LLM"] = backend
    for p in paths:
        if not p.exists():
            print(f"error: {p}: no such file or folder", file=sys.stderr, flush=True)

    def show(rec: ConversationRecord) -> None:
        _out(rec.summary_line())

    report = run_suites(paths, k=k, advisor_factory=ADVISOR_FACTORY, workers=workers, backend=backend,
                        on_conversation=show)
    usage_error = bool(report.missing_paths)
    for p in report.missing_paths:
        if Path(p).exists():
            print(f"error: {p}: no *.yaml suite files in this folder", file=sys.stderr, flush=True)
    written: list[str] = []
    if report_dir is not None:
        try:
            results, html = write_results(report, report_dir)
            written += [str(results), str(html)]
        except OSError as exc:
            print(f"error: cannot write the report to {report_dir}: {exc}", file=sys.stderr, flush=True)
            usage_error = True
    if junit is not None:
        try:
            written.append(str(write_junit(report, junit)))
        except OSError as exc:
            print(f"error: cannot write {junit}: {exc}", file=sys.stderr, flush=True)
            usage_error = True

    from anxin.evals.metrics import format_metrics

    s = report.summary
    if s.get("conversations"):
        rates = f"pass^1 {s['pass^1']:.3f}"
        if report.k > 1:
            rates += f", pass^{report.k} {s[f'pass^{report.k}']:.3f}"
        _out(f"{rates} over {s['conversations']} conversation(s), {s['runs']} run(s), {s['turns']} turn(s)")
        for line in format_metrics(report.metrics):
            _out(line)
    if written:
        _out("wrote " + ", ".join(written))
    _out(report.final_line())
    if usage_error:
        raise typer.Exit(2)
    raise typer.Exit(0 if report.failed == 0 else 1)


def main() -> None:
    """Run ``eval_command`` on its own (``python -m anxin.evals.eval_cli``)."""
    typer.run(eval_command)


if __name__ == "__main__":
    main()

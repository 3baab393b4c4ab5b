"""The single `anxin` command-line entry point."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from anxin.config import DEFAULT_COLLECTION, offline_environment

offline_environment()

app = typer.Typer(
    help="Anxin (安心): a bilingual AI insurance advisor grounded on the insurer's policy clauses.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("{task.fields[item]}"), console=console, transient=False,
    )


def _report(report) -> None:
    console.print(
        f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.skipped)}, "
        f"failed {len(report.errors)} file(s); {report.chunks} chunks in {report.seconds:.1f}s"
        + (f" ({report.chunks_per_second:.1f} chunks/s)" if report.chunks else "")
    )
    for path, message in report.errors:
        console.print(f"[red]error[/red] {message}")


@app.command()
def ingest(
    paths: List[Path] = typer.Argument(..., help="Files (.md .txt .pdf .docx) or folders to ingest."),
    collection: str = typer.Option(DEFAULT_COLLECTION, "--collection", "-c", help="Collection to ingest into."),
) -> None:
    """Ingest policy documents: split at clause headings, embed, store. Unchanged files are
    skipped; changed files replace their chunks; a bad file is reported and the rest go on."""
    from anxin.knowledge.ingest import ingest as run_ingest

    with _progress() as bar:
        task = bar.add_task("ingest", total=None, item="")

        def tick(path: str, n: int, total: int) -> None:
            bar.update(task, total=total, completed=n - 1, item=Path(path).name)

        report = run_ingest(paths, collection, progress=tick)
        bar.update(task, completed=bar.tasks[0].total or 0, item="")
    _report(report)
    if report.errors:
        raise typer.Exit(1)


@app.command()
def index(
    collection: str = typer.Option(DEFAULT_COLLECTION, "--collection", "-c", help="Collection to build."),
) -> None:
    """Build (or refresh when stale) the index of the shipped policy wordings."""
    from anxin.knowledge.index import build_default_index

    with _progress() as bar:
        task = bar.add_task("index", total=None, item="")
        report = build_default_index(collection, progress=lambda p, n, t: bar.update(task, total=t, completed=n, item=Path(p).name))
    _report(report)
    if report.errors:
        raise typer.Exit(1)


@app.command()
def search(
    query: Optional[str] = typer.Argument(None, help="The question or keywords."),
    collection: str = typer.Option(DEFAULT_COLLECTION, "--collection", "-c", help="Collection to search."),
    k: int = typer.Option(5, "--k", "-k", min=1, max=100, help="Number of passages."),
    product: Optional[str] = typer.Option(None, "--product", "-p", help="Only this product id."),
    queries: Optional[Path] = typer.Option(None, "--queries", help='JSONL file of {"id": ..., "query": ...}; prints one JSON line per query.'),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Hybrid (dense + BM25) search over policy clauses, with citations."""
    from anxin.knowledge.retrieval import get_searcher

    searcher = get_searcher(collection)
    if queries is not None:
        try:
            lines = queries.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            console.print(f"[red]error[/red] cannot read {queries}: {exc}")
            raise typer.Exit(2)
        failed = False
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                qid, text = item["id"], str(item["query"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                console.print(f"[red]error[/red] {queries}:{n}: not a {{\"id\", \"query\"}} JSON object ({exc})")
                failed = True
                continue
            hits = searcher.search(text, k=k, product=item.get("product") or product)
            out = [{f: getattr(h, f) for f in ("rank", "doc", "clause_id", "heading", "text", "score")} for h in hits]
            print(json.dumps({"id": qid, "results": out}, ensure_ascii=False), flush=True)
        raise typer.Exit(1 if failed else 0)
    if not query:
        console.print("[red]error[/red] give a QUERY or --queries FILE.jsonl")
        raise typer.Exit(2)
    hits = searcher.search(query, k=k, product=product)
    if as_json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        console.print("no matching clauses")
    out = Console()
    for h in hits:
        out.print(f"[bold]{h.rank}. [{h.clause_id or h.heading or '-'}][/bold] {h.doc} ({h.language}) score={h.score:.4f}")
        if h.heading:
            out.print(f"   {h.heading}")
        body = " ".join(h.text.split())
        out.print(f"   {body[:300]}{'…' if len(body) > 300 else ''}")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(7860, help="Port."),
    collection: str = typer.Option(DEFAULT_COLLECTION, "--collection", "-c", help="Collection to answer from."),
) -> None:
    """Serve the advisor over HTTP (building the index first when it is stale)."""
    import uvicorn

    from anxin.knowledge.index import build_default_index
    from anxin.ui.server import create_app

    report = build_default_index(collection)
    _report(report)
    console.print(f"Anxin is serving on http://{host}:{port}/")
    uvicorn.run(create_app(collection), host=host, port=port, log_level="info")


@app.command()
def version() -> None:
    """Print the version."""
    from anxin import __version__

    print(__version__)


def _mount_subcommands() -> None:
    """Command groups that live beside the code they drive."""
    from anxin.db.cli import app as db_app
    from anxin.evals.bench import app as bench_app
    from anxin.knowledge.graph_cli import app as graph_app
    from anxin.model_store import app as models_app
    from anxin.tools.cli import app as tool_app

    app.add_typer(graph_app, name="graph", help="Query and export the product knowledge graph.")
    app.add_typer(models_app, name="models", help="Assemble and verify the offline models.")
    app.add_typer(bench_app, name="bench", help="Run benchmarks; results go to benchmarks/results/.")
    app.add_typer(tool_app, name="tool", help="Call an advisor tool with JSON arguments (scripts and evaluators).")
    app.add_typer(db_app, name="db", help="Create, migrate, seed or reset the database.")
    _mount_agent_commands()


def _mount_agent_commands() -> None:
    """The advisor's commands: chat, emotion, eval (each module imports its heavy parts lazily)."""
    from anxin.agent.chat_cli import chat_command

    app.command("chat")(chat_command)
    try:
        from anxin.agent.emotion_cli import emotion_command

        app.command("emotion", help="Label the emotion of utterances (--batch FILE.jsonl or --text).")(emotion_command)
    except ImportError:  # pragma: no cover - during development only
        pass
    try:
        from anxin.evals.eval_cli import eval_command

        app.command("eval", help="Run conversation test suites (shared/spec/conversation-tests.md).")(eval_command)
    except ImportError:  # pragma: no cover - during development only
        pass


_mount_subcommands()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()

"""``anxin db ...``: create, seed, reset and inspect the database."""
from __future__ import annotations

import json
from typing import Optional

import typer

app = typer.Typer(help="Database: migrations, demo data, status.", no_args_is_help=True, add_completion=False)

URL_OPTION = typer.Option(None, "--url", help="SQLAlchemy URL (default: ANXIN_DB_URL, else $ANXIN_HOME/anxin.db).")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def init(url: Optional[str] = URL_OPTION) -> None:
    """Create or upgrade the schema (Alembic migrations to head)."""
    from anxin.db.engine import database_url
    from anxin.db.migrate import upgrade

    target = url or database_url()
    revision = upgrade(target)
    typer.echo(f"database {_safe_url(target)} at revision {revision}")


@app.command()
def seed(url: Optional[str] = URL_OPTION) -> None:
    """Load demo_data.yaml (customers, policies, claims + timelines); safe to repeat."""
    from anxin.db.engine import database_url, session_scope
    from anxin.db.migrate import upgrade
    from anxin.db.seed import seed as run_seed

    target = url or database_url()
    upgrade(target)
    with session_scope(target) as db:
        report = run_seed(db)
    for outcome, counts in report.to_dict().items():
        if counts:
            typer.echo(f"{outcome}: " + ", ".join(f"{t} {n}" for t, n in sorted(counts.items())))


@app.command()
def reset(
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    url: Optional[str] = URL_OPTION,
) -> None:
    """Drop every table, migrate to head and load the demo data (asks first unless --yes)."""
    from anxin.db.engine import database_url, session_scope
    from anxin.db.migrate import drop_everything, upgrade
    from anxin.db.seed import seed as run_seed

    target = url or database_url()
    if not yes:
        typer.confirm(f"Drop ALL data in {_safe_url(target)} and reload the demo data?", abort=True)
    drop_everything(target)
    revision = upgrade(target)
    with session_scope(target) as db:
        run_seed(db)
    typer.echo(f"database {_safe_url(target)} reset to revision {revision} with the demo data")


@app.command()
def status(
    url: Optional[str] = URL_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the URL, the current and head revisions and each table's row count."""
    from anxin.db.engine import database_url
    from anxin.db.migrate import current_revision, head_revision, table_counts

    target = url or database_url()
    info = {
        "url": _safe_url(target),
        "revision": current_revision(target),
        "head": head_revision(),
        "tables": table_counts(target),
    }
    info["up_to_date"] = info["revision"] == info["head"]
    if as_json:
        typer.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    typer.echo(f"url:      {info['url']}")
    typer.echo(f"revision: {info['revision'] or '(none: run `anxin db init`)'} (head {info['head']})")
    for table, count in info["tables"].items():
        typer.echo(f"  {table:<24} {'-' if count is None else count}")

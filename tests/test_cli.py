"""The `anxin` command: one entry point, `--help` on every subcommand, clear errors."""
from __future__ import annotations

import typer
from typer.testing import CliRunner

from anxin.cli import app

runner = CliRunner()


def _all_command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(cmd, prefix: list[str]) -> None:
        paths.append(prefix)
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            walk(sub, prefix + [name])

    walk(root, [])
    return paths


def test_every_subcommand_has_help() -> None:
    paths = _all_command_paths()
    names = {" ".join(p) for p in paths}
    for expected in ("ingest", "index", "search", "serve", "graph", "models", "bench", "bench retrieval"):
        assert expected in names
    for path in paths:
        result = runner.invoke(app, path + ["--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output


def test_search_without_a_query_is_a_clear_error() -> None:
    result = runner.invoke(app, ["search"])
    assert result.exit_code == 2
    assert "QUERY" in result.output


def test_ingest_reports_a_missing_file_by_name(tmp_path, collection_name) -> None:
    missing = tmp_path / "nope.md"
    result = runner.invoke(app, ["ingest", "--collection", collection_name, str(missing)])
    assert result.exit_code == 1
    assert "nope.md" in result.output

"""Shared fixtures for the advisor tests: the shipped wordings indexed once per test
session (passage vectors come from the on-disk embedding cache after the first run)
and a fresh SQLite database per test module."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def policies_index() -> str:
    """The default collection with the shipped wordings (zh + en) in the test ANXIN_HOME."""
    from anxin.config import DEFAULT_COLLECTION
    from anxin.knowledge.index import build_default_index
    from anxin.knowledge.retrieval import invalidate

    report = build_default_index(DEFAULT_COLLECTION)
    assert not report.errors
    invalidate(DEFAULT_COLLECTION)
    return DEFAULT_COLLECTION


@pytest.fixture(scope="module")
def advisor_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh SQLite database (migrated and seeded with the demo data on first use)."""
    path: Path = tmp_path_factory.mktemp("advisor-db") / "anxin.db"
    url = f"sqlite:///{path}"
    previous = os.environ.get("ANXIN_DB_URL")
    os.environ["ANXIN_DB_URL"] = url
    yield url
    if previous is None:
        os.environ.pop("ANXIN_DB_URL", None)
    else:
        os.environ["ANXIN_DB_URL"] = previous


@pytest.fixture(scope="module")
def advisor(policies_index: str, advisor_db: str):
    """An advisor on the deterministic ``none`` back-end."""
    from anxin.agent.advisor import Advisor

    return Advisor(backend="none")


def converse(advisor, turns: list[str], session_id: str | None = None):
    """Send ``turns`` in one session; the list of TurnResults."""
    sid = session_id or advisor.new_session()
    return [advisor.respond(sid, text=t) for t in turns]

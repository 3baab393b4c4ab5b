"""The conversation-suite library (evals/suites) run end to end with the deterministic
``none`` back-end, as CI runs it: every file loads, and the pass rate may not fall
below the floor measured when it was last raised (issue 6 asks for 100%)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.agent_fixtures import policies_index  # noqa: F401

SUITES = Path(__file__).resolve().parents[1] / "evals" / "suites"

#: Share of conversations that must pass (raise it as the advisor improves).
PASS_FLOOR = 0.85


@pytest.fixture
def fresh_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'suites.db'}"
    monkeypatch.setenv("ANXIN_DB_URL", url)
    monkeypatch.setenv("ANXIN_LLM", "none")
    return url


def test_suite_library_size_and_languages() -> None:
    from anxin.evals.suites import load_paths

    loaded = load_paths([SUITES])
    assert not loaded.errors, loaded.errors
    convs = [(s.lang, c) for s in loaded.suites for c in s.conversations]
    assert len(convs) >= 150
    assert sum(lang == "zh" for lang, _ in convs) >= 75 and sum(lang == "en" for lang, _ in convs) >= 75


def test_suite_library_passes_with_the_none_backend(policies_index, fresh_db, tmp_path) -> None:  # noqa: F811
    from anxin.evals.runner import run_suites

    report = run_suites([SUITES], k=1, report_dir=tmp_path / "report", workers=2, backend="none")
    total = report.passed + report.failed
    rate = report.passed / total
    print(report.final_line(), f"pass rate {rate:.3f}")
    assert (tmp_path / "report" / "results.json").exists() and (tmp_path / "report" / "report.html").exists()
    assert rate >= PASS_FLOOR, report.final_line()
    assert os.environ["ANXIN_LLM"] == "none"

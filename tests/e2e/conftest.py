"""End-to-end browser tests: the ``e2e`` marker (select with ``-m e2e``, leave out with ``-m "not e2e"``)."""
from __future__ import annotations


def pytest_configure(config) -> None:  # noqa: ANN001 - pytest hook
    config.addinivalue_line("markers", "e2e: end-to-end browser tests (headless Chromium via Playwright)")

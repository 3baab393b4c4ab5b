"""The widget and the staff console in a real browser: headless Chromium (Debian's
``chromium`` package, driven by Playwright) against the real ``anxin serve``
(random port, ``ANXIN_LLM=none``, a temporary SQLite database, the shipped wordings
indexed in the test ANXIN_HOME).

A customer asks a policy question and gets a cited answer, opens the clause card,
asks for a human and sees the hand-off banner; a staff advisor logs in to ``/staff``
with the staff token and finds the conversation in the hand-off queue. Screenshots go
to ``ANXIN_E2E_ARTIFACTS`` (default ``tests/e2e/artifacts``, git-ignored).

Skips cleanly without the ``playwright`` package or a Chromium binary
(``ANXIN_CHROMIUM``, else ``chromium`` / ``chromium-browser`` on the PATH; Debian:
``apt-get install chromium``). ``playwright install`` is never needed.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

from anxin.evals.bench_api import ServerProcess, server_env  # noqa: E402
from tests.agent_fixtures import policies_index  # noqa: E402,F401

ARTIFACTS = Path(os.environ.get("ANXIN_E2E_ARTIFACTS") or Path(__file__).parent / "artifacts")
#: Flags for a root user on a machine with no network: no sandbox, no GPU, no background
#: connections (each would be refused, many at a time), a fresh profile per launch.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--lang=zh-CN"]
QUESTION = "百万医疗险的等待期是多久？"
CLAUSE = "MED-100-WAITING"
TIMEOUT_MS = 90_000


def chromium_path() -> str | None:
    """Chromium to drive: ``ANXIN_CHROMIUM``, else Debian's (or another) on the PATH."""
    configured = os.environ.get("ANXIN_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = chromium_path()
if CHROMIUM is None:
    pytest.skip("no Chromium found (apt-get install chromium, or set ANXIN_CHROMIUM)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(policies_index: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:  # noqa: F811
    tmp = tmp_path_factory.mktemp("e2e-widget")
    env = server_env(f"sqlite:///{tmp / 'anxin.db'}", ANXIN_STAFF_TOKEN=secrets.token_urlsafe(16))
    srv = ServerProcess(env, collection=policies_index, log_path=tmp / "server.log")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def send(page: Any, text: str) -> None:
    box = page.get_by_placeholder(re.compile("请输入您的问题"))
    box.fill(text)
    page.get_by_role("button", name="发送", exact=True).click()


def test_cited_answer_handoff_and_staff_queue(server: ServerProcess, browser: Any) -> None:
    expect = sync_api.expect
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        # ---- the customer: a cited answer and its clause card
        page.goto(server.url + "/")
        expect(page.get_by_text("安心 · 星衡保险智能顾问")).to_be_visible()
        send(page, QUESTION)
        expect(page.get_by_text(re.compile(rf"依据条款.*{CLAUSE}")).first).to_be_visible(timeout=TIMEOUT_MS)
        page.get_by_role("button", name=re.compile("引用条款")).click()
        card = page.locator("details.anxin-clause").filter(has_text=CLAUSE).first
        expect(card).to_be_visible()
        card.locator("summary").click()
        expect(card).to_contain_text("30")  # the waiting period's days, from the clause text
        shot(page, "01-widget-cited-answer")

        # ---- the hand-off
        send(page, "转人工")
        banner = page.locator(".anxin-banner")
        expect(banner).to_contain_text("正在为您转接人工顾问", timeout=TIMEOUT_MS)
        reply = page.get_by_text(re.compile(r"工单号 HT-\d+")).first
        expect(reply).to_be_visible()
        ticket = re.search(r"HT-\d+", reply.inner_text()).group()
        shot(page, "02-widget-handoff-banner")

        # ---- the staff console: log in, find the conversation in the queue
        staff = context.new_page()
        staff.goto(server.url + "/staff/")
        staff.get_by_label("姓名 Your name").fill("e2e")
        staff.get_by_label("坐席令牌 Staff token").fill(server.env["ANXIN_STAFF_TOKEN"])
        staff.get_by_role("button", name="登录 Log in").click()
        expect(staff.get_by_text(re.compile("Logged in as"))).to_be_visible()
        # (the table also renders hidden copies of its cells: look at the visible ones)
        expect(staff.get_by_text(ticket, exact=True).filter(visible=True).first).to_be_visible(timeout=30_000)
        import httpx

        token = server.env["ANXIN_STAFF_TOKEN"]
        queue = httpx.get(f"{server.url}/api/staff/queue", headers={"Authorization": f"Bearer {token}"},
                          timeout=30).json()["queue"]
        session_id = next(i["session_id"] for i in queue if i["ticket_id"] == ticket)
        expect(staff.get_by_text(session_id, exact=True).filter(visible=True).first).to_be_visible(timeout=30_000)
        shot(staff, "03-staff-queue")
    except Exception:
        for n, p in enumerate(context.pages):
            try:
                shot(p, f"failure-{n}")
            except Exception:  # noqa: BLE001 - best effort
                pass
        raise
    finally:
        context.close()

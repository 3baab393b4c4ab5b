"""The Gradio apps: they build, they mount into the one server, and their renderers
escape what they show. (The API behind them is tested in tests/test_api.py.)"""
from __future__ import annotations

import os

import pytest

pytest.importorskip("gradio")


@pytest.fixture(scope="module")
def service():
    """A service whose advisor is never created (building the apps needs none)."""
    from anxin.ui.services import AnxinService

    return AnxinService(backend="none")


def test_gradio_analytics_are_off() -> None:
    import anxin.ui.widget  # noqa: F401 - sets the variable before gradio is imported

    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"


def test_widget_and_console_build(service) -> None:
    import gradio as gr

    from anxin.ui import console, widget

    assert isinstance(widget.build(service), gr.Blocks)
    assert isinstance(console.build(service), gr.Blocks)


def test_server_mounts_the_widget_and_the_console(service, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from anxin.ui.server import create_app

    monkeypatch.setenv("ANXIN_STAFF_TOKEN", "ui-test-token")
    client = TestClient(create_app(service=service))
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    staff = client.get("/staff")
    assert staff.status_code == 200 and "text/html" in staff.headers["content-type"]
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/api/staff/queue").status_code == 401  # the API still answers beside the UI
    missing = client.get("/api/no-such-endpoint")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    old = client.get("/", params={"q": "等待期"}, follow_redirects=False)
    assert old.status_code == 307 and old.headers["location"].startswith("/search?q=")
    config = client.get("/config").json()
    assert all(d.get("api_visibility") == "private" for d in config["dependencies"])


def test_renderers_escape_and_localise() -> None:
    import pandas as pd

    from anxin.ui.console import timeline_frame, transcript_messages
    from anxin.ui.widget import banner_html, breakdown_frame, citations_html, simulation_frame

    cards = citations_html([{"clause_id": "MED-100-WAITING", "heading": "<b>等待期</b>", "text": "<script>x</script>30天"}], "zh")
    assert "<details" in cards and "MED-100-WAITING" in cards and "<script>" not in cards
    assert "没有引用" in citations_html([], "zh") and "No clause" in citations_html([], "en")
    assert "第 2 位" in banner_html({"active": True, "status": "pending", "queue_position": 2}, "zh")
    assert "number 2 in the queue" in banner_html({"active": True, "status": "pending", "queue_position": 2}, "en")
    assert "wang" in banner_html({"active": True, "status": "taken", "taken_by": "wang"}, "en")
    assert banner_html({"status": "returned"}, "zh") == ""
    result = {"tool_calls": [
        {"name": "quote", "ok": True, "result": {"breakdown": [{"step": "base", "basis": "rate = 13.2", "value": 13.2, "subtotal": 13.2}]}},
        {"name": "simulate_premium", "ok": True, "result": {"before_premium": 349.8, "after_premium": 318.0}},
    ]}
    table = breakdown_frame(result, "en")
    assert isinstance(table, pd.DataFrame) and list(table.columns)[0] == "Step" and table.iloc[0, 3] == 13.2
    chart = simulation_frame(result, "zh")
    assert list(chart["premium"]) == [349.8, 318.0] and list(chart["label"]) == ["当前", "调整后"]
    assert breakdown_frame({"tool_calls": []}, "zh") is None and simulation_frame({}, "zh") is None
    bubbles = transcript_messages([{"role": "user", "text": "转人工", "intent": "handoff_request", "emotion": "anger",
                                    "emotion_score": 0.9}, {"role": "staff", "text": "您好", "author": "wang"}])
    assert "handoff_request" in bubbles[0]["content"] and "wang" in bubbles[1]["content"]
    assert list(timeline_frame([{"turn": 1, "score": 0.5, "emotion": "anxiety", "intent": "quote"}])["emotion"]) == ["anxiety"]

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


class _FakeAdvisor:
    """Records ``respond`` calls; ``transcribe`` answers what the test sets."""

    def __init__(self, heard: dict) -> None:
        self.heard = heard
        self.transcribed: list[tuple[str, str | None]] = []
        self.responded: list[dict] = []

    def transcribe(self, audio, language=None):  # noqa: ANN001
        self.transcribed.append((audio, language))
        return self.heard

    def respond(self, session_id, text=None, audio=None, *, language_hint=None, on_token=None):  # noqa: ANN001
        from anxin.agent.types import TurnResult

        self.responded.append({"session_id": session_id, "text": text, "audio": audio, "language_hint": language_hint})
        if on_token:
            on_token("Hello")
        return TurnResult(session_id=session_id, reply="Hello, how can I help?", language="en", intent="greeting",
                          transcript=(self.heard.get("text") if audio is not None else None))


def _voice(heard: dict, lang: str = "en") -> tuple[_FakeAdvisor, tuple, dict]:
    from anxin.ui.services import AnxinService
    from anxin.ui.widget import N_OUTPUTS, WidgetHandlers

    fake = _FakeAdvisor(heard)
    handlers = WidgetHandlers(AnxinService(fake))
    state = handlers.new_state(lang)
    state["sid"] = "s-widget-test"  # an open session: no database needed
    outs = list(handlers.send_voice("/tmp/voice.wav", [], state))
    assert all(len(o) == N_OUTPUTS for o in outs)
    return fake, outs[-1], state


def test_widget_low_confidence_transcript_is_put_in_the_box_not_sent() -> None:
    fake, (chat, box, audio, _state, *_rest, notice), _ = _voice(
        {"text": "what does critical illness cover", "language": "en", "confidence": 0.4, "low_confidence": True,
         "duration_s": 1.2, "prosody": None})
    assert fake.transcribed == [("/tmp/voice.wav", "en")]
    assert fake.responded == []  # nothing sent: the customer confirms or edits first
    assert box == "what does critical illness cover"
    assert "misheard" in notice and "anxin-notice" in notice
    assert audio is None and not isinstance(chat, list)  # the chat is left as it was


def test_widget_low_confidence_notice_in_chinese() -> None:
    fake, outs, _ = _voice({"text": "重疾险报价", "language": "zh", "confidence": 0.3, "low_confidence": True}, "zh")
    assert fake.responded == [] and outs[1] == "重疾险报价" and "没听清楚" in outs[-1]


def test_widget_confident_transcript_is_sent_as_a_voice_turn() -> None:
    fake, (chat, box, audio, state, *_rest, _notice), _ = _voice(
        {"text": "hello there", "language": "en", "confidence": 0.93, "low_confidence": False,
         "duration_s": 1.0, "prosody": {"pitch_mean": 180.0}})
    assert fake.responded == [{"session_id": "s-widget-test", "text": None, "audio": "/tmp/voice.wav",
                               "language_hint": "en"}]
    assert chat[-2] == {"role": "user", "content": "🎤 hello there"}
    assert chat[-1] == {"role": "assistant", "content": "Hello, how can I help?"}
    assert audio is None and state["busy"] is False


def test_widget_transcription_error_is_shown_and_nothing_sent() -> None:
    fake, outs, _ = _voice({"error": {"zh": "无法识别这段录音。", "en": "Sorry, I couldn't process that audio."}})
    assert fake.responded == []
    assert "couldn&#x27;t process that audio" in outs[-1] and "error" in outs[-1]
    assert not isinstance(outs[0], list) and not isinstance(outs[1], str)  # chat and text box untouched


def test_widget_language_from_the_url_and_radio_value() -> None:
    from types import SimpleNamespace

    from anxin.ui.widget import WidgetHandlers, query_language

    assert query_language(SimpleNamespace(query_params={"lang": "en"})) == "en"
    assert query_language(SimpleNamespace(query_params={"lang": "EN-us"})) == "en"
    assert query_language(SimpleNamespace(query_params={})) == "zh"
    assert query_language(None) == "zh"
    state = WidgetHandlers.new_state()
    out = WidgetHandlers(None).on_load(state, SimpleNamespace(query_params={"lang": "en"}))  # type: ignore[arg-type]
    assert state["lang"] == "en" and out[0] is state and out[1].startswith("## Anxin")
    radio = out[-1]
    assert radio["value"] == "en"  # a plain value (a choice), so the radio shows it selected
    assert WidgetHandlers.set_language("zh", state)[-1]["value"] == "zh" and state["lang"] == "zh"

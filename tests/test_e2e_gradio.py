"""The customer widget end to end through ``gradio_client``: the real ``anxin serve``
in a subprocess (random port, ``ANXIN_LLM=none``, a temporary SQLite database, the
shipped wordings indexed in the test ANXIN_HOME), driven as a browser would drive it.

The widget's events are private by default (the HTTP API is the programmatic
interface); the server under test sets ``ANXIN_WIDGET_API=1``, which exposes the two
send events as ``/send_text`` and ``/send_voice``. The voice part needs the assembled
``whisper-base`` model and skips cleanly without it. (A low-confidence transcript comes
back in the text box with a notice instead of a turn; its handler is unit-tested in
tests/test_ui.py.)
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

gradio_client = pytest.importorskip("gradio_client")

from anxin.evals.bench_api import ServerProcess, server_env  # noqa: E402
from tests.agent_fixtures import policies_index  # noqa: E402,F401

AUDIO = Path(__file__).parent / "data" / "audio"
CLIP = AUDIO / "librivox-0930.wav"
CLIP_TEXT = (AUDIO / "librivox-0930.txt").read_text(encoding="utf-8").strip()
DEFAULT_HOME = Path.home() / ".local" / "share" / "anxin"

pytestmark = pytest.mark.timeout(600)


def _whisper_dir() -> Path | None:
    """The assembled whisper-base (the test home first, then the developer's default home)."""
    from anxin import model_store

    for home in (model_store.settings().home, DEFAULT_HOME):
        path = home / "models" / "whisper-base"
        if (path / "model.bin").is_file() and (path / "tokenizer.json").is_file():
            return path
    return None


WHISPER = _whisper_dir()


@pytest.fixture(scope="module")
def server(policies_index: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:  # noqa: F811
    tmp = tmp_path_factory.mktemp("e2e-gradio")
    env = server_env(f"sqlite:///{tmp / 'anxin.db'}", ANXIN_WIDGET_API="1",
                     ANXIN_STAFF_TOKEN=secrets.token_urlsafe(16))
    if WHISPER is not None:
        env["ANXIN_WHISPER_MODEL_DIR"] = str(WHISPER)
    srv = ServerProcess(env, collection=policies_index, log_path=tmp / "server.log")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[Any]:
    c = gradio_client.Client(server.url + "/", verbose=False, download_files=False)
    yield c
    c.close()


#: Positions in a send event's outputs as the client returns them (the gr.State is not
#: returned): chatbot, textbox, audio, clause cards, quote table, chart, hand-off banner, notice.
CHAT, BOX, AUDIO_OUT, CLAUSES, TABLE, CHART, BANNER, NOTICE = range(8)


def _named_endpoints(client: Any) -> dict[str, Any]:
    return client.view_api(print_info=False, return_format="dict")["named_endpoints"]


def _chat(outputs: tuple[Any, ...] | list[Any]) -> list[dict[str, Any]]:
    """The chatbot history (first output) as [{"role", "content"}] with text contents."""
    history = outputs[0]
    assert isinstance(history, list) and history, outputs
    out = []
    for m in history:
        content = m.get("content")
        if isinstance(content, list):  # gradio 6 messages: [{"type": "text", "text": ...}]
            content = " ".join(str(c.get("text", "")) if isinstance(c, dict) else str(c) for c in content)
        out.append({"role": m.get("role"), "content": str(content)})
    return out


def test_widget_exposes_only_the_send_events(client) -> None:
    endpoints = _named_endpoints(client)
    assert set(endpoints) == {"/send_text", "/send_voice"}
    names = [p["parameter_name"] for p in endpoints["/send_text"]["parameters"]]
    assert names[0] == "text"


def test_quote_then_handoff(client, server: ServerProcess) -> None:
    out = client.predict("我想给重疾险报个价，30岁男，保额50万", [], api_name="/send_text")
    chat = _chat(out)
    assert chat[-2] == {"role": "user", "content": "我想给重疾险报个价，30岁男，保额50万"}
    reply = chat[-1]["content"]
    assert chat[-1]["role"] == "assistant" and "CI-200" in reply and "元" in reply, reply
    assert len(out) == 8
    # the quote breakdown table is shown and filled in; no clause was cited
    table = out[TABLE]
    assert table.get("visible") is True and table["value"]["data"], table
    assert "anxin-clause" in out[CLAUSES] and "CI-200" in out[CLAUSES], out[CLAUSES]

    # same client → same gradio session → same advisor session
    out = client.predict("转人工", out[CHAT], api_name="/send_text")
    chat = _chat(out)
    assert len(chat) == 4
    reply = chat[-1]["content"]
    ticket = re.search(r"HT-\d+", reply)
    assert ticket, reply
    banner = out[BANNER]
    assert "anxin-banner" in str(banner) and "人工顾问" in str(banner), banner

    # the staff side sees the ticket, and the quote turn before it
    import httpx

    token = server.env["ANXIN_STAFF_TOKEN"]
    queue = httpx.get(f"{server.url}/api/staff/queue", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert queue.status_code == 200
    item = next(i for i in queue.json()["queue"] if i["ticket_id"] == ticket.group())
    view = httpx.get(f"{server.url}/api/staff/sessions/{item['session_id']}",
                     headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    texts = [m["text"] for m in view["messages"] if m["role"] == "user"]
    assert texts[:2] == ["我想给重疾险报个价，30岁男，保额50万", "转人工"]


@pytest.mark.skipif(WHISPER is None, reason="whisper-base is not assembled (`anxin models assemble whisper-base`)")
def test_voice_upload(server: ServerProcess) -> None:
    from gradio_client import handle_file

    from anxin.evals.bench_speech import error_rate, normalise_en

    client = gradio_client.Client(server.url + "/", verbose=False, download_files=False)  # a new customer
    try:
        out = client.predict(handle_file(str(CLIP)), [], api_name="/send_voice")
        if isinstance(out[BOX], str) and out[BOX].strip() and not (isinstance(out[CHAT], list) and out[CHAT]):
            # low confidence: the transcript waits in the text box for the customer to confirm
            assert "misheard" in str(out[NOTICE]) or "没听清楚" in str(out[NOTICE]), out[NOTICE]
            assert error_rate(normalise_en(CLIP_TEXT), normalise_en(out[BOX])) < 0.25, out[BOX]
            out = client.predict(out[BOX], [], api_name="/send_text")
            chat = _chat(out)
            heard = chat[-2]["content"]
        else:
            chat = _chat(out)
            heard = chat[-2]["content"]
            assert chat[-2]["role"] == "user" and heard.startswith("🎤 "), heard
            heard = heard[2:]
    finally:
        client.close()
    assert error_rate(normalise_en(CLIP_TEXT), normalise_en(heard)) < 0.25, heard
    assert chat[-1]["role"] == "assistant" and chat[-1]["content"].strip() not in ("", "…"), chat[-1]

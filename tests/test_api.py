"""The HTTP API: sessions and their tokens, text and streamed turns, voice errors,
staff hand-off (queue, take, send, return), limits and JSON errors.

The advisor runs on the deterministic ``none`` back-end against a fresh SQLite database;
no policy index is needed (greetings, hand-offs and quotes do not search clauses)."""
from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

STAFF_TOKEN = "test-staff-token-0123456789"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The API (no Gradio) on a fresh database, ``ANXIN_STAFF_TOKEN`` set."""
    from anxin.agent.advisor import Advisor
    from anxin.db import ensure_database
    from anxin.db.engine import dispose_engines, session_scope
    from anxin.ui.server import create_app
    from anxin.ui.services import AnxinService

    url = f"sqlite:///{tmp_path_factory.mktemp('api-db') / 'anxin.db'}"
    ensure_database(url)
    previous = os.environ.get("ANXIN_STAFF_TOKEN")
    os.environ["ANXIN_STAFF_TOKEN"] = STAFF_TOKEN

    def factory():
        return session_scope(url)

    service = AnxinService(Advisor(backend="none", db_factory=factory), db_factory=factory)
    yield TestClient(create_app(ui=False, service=service))
    if previous is None:
        os.environ.pop("ANXIN_STAFF_TOKEN", None)
    else:
        os.environ["ANXIN_STAFF_TOKEN"] = previous
    dispose_engines()


STAFF = {"Authorization": f"Bearer {STAFF_TOKEN}", "X-Staff-Name": "wang"}


def _session(client: TestClient, language: str = "zh") -> tuple[str, dict[str, str]]:
    r = client.post("/api/sessions", json={"language": language})
    assert r.status_code == 201, r.text
    body = r.json()
    return body["session_id"], {"Authorization": f"Bearer {body['token']}"}


def _say(client: TestClient, sid: str, auth: dict[str, str], text: str) -> dict[str, Any]:
    r = client.post(f"/api/sessions/{sid}/messages", json={"text": text}, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """``[(event, data), ...]`` of a Server-Sent Events body (data is JSON)."""
    events = []
    for block in text.split("\n\n"):
        name, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


# --------------------------------------------------------------------------- customer
def test_session_message_and_transcript(client: TestClient) -> None:
    sid, auth = _session(client)
    turn = _say(client, sid, auth, "你好")
    assert turn["session_id"] == sid and turn["intent"] == "greeting" and turn["language"] == "zh"
    assert turn["reply"] and turn["handoff"]["active"] is False
    info = client.get(f"/api/sessions/{sid}", headers=auth).json()
    assert [m["role"] for m in info["messages"]] == ["user", "assistant"]
    assert info["messages"][0]["text"] == "你好" and info["handoff"]["status"] == "none"
    assert "entities" not in info["messages"][0]  # internal metadata stays internal


def test_session_without_body_and_session_token_header(client: TestClient) -> None:
    r = client.post("/api/sessions")
    assert r.status_code == 201
    body = r.json()
    got = client.get(f"/api/sessions/{body['session_id']}", headers={"X-Session-Token": body["token"]})
    assert got.status_code == 200 and got.json()["messages"] == []


def test_stream_sends_tokens_then_result_then_done(client: TestClient) -> None:
    sid, auth = _session(client)
    r = client.post(f"/api/sessions/{sid}/messages/stream", json={"text": "重疾险报价，30岁男，保额50万"}, headers=auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.text)
    names = [e for e, _ in events]
    assert names[-2:] == ["result", "done"] and names.count("token") >= 2
    assert set(names[:-2]) == {"token"}
    result = events[-2][1]
    assert result["intent"] == "quote"
    (quote,) = [c for c in result["tool_calls"] if c["name"] == "quote"]
    assert quote["result"]["breakdown"] and "8,448.00" in result["reply"]
    streamed = "".join(d["text"] for e, d in events if e == "token")
    assert streamed.strip() == result["reply"].strip()


def test_tokens_grant_one_session_only(client: TestClient) -> None:
    a, auth_a = _session(client)
    b, auth_b = _session(client)
    assert client.get(f"/api/sessions/{b}", headers=auth_a).status_code == 403
    assert client.post(f"/api/sessions/{b}/messages", json={"text": "你好"}, headers=auth_a).status_code == 403
    r = client.get(f"/api/sessions/{b}")
    assert r.status_code == 401 and r.json()["error"]["code"] == "NO_TOKEN"
    assert client.get(f"/api/sessions/{b}", headers={"Authorization": "Bearer nope"}).status_code == 403
    assert client.get("/api/sessions/s-doesnotexist", headers=auth_a).status_code == 403
    assert client.get(f"/api/sessions/{a}", headers=auth_a).status_code == 200
    assert client.get(f"/api/sessions/{b}/events", params={"timeout": 0, "token": "wrong"}).status_code == 403


def test_polling_and_events(client: TestClient) -> None:
    sid, auth = _session(client, "en")
    _say(client, sid, auth, "hello")
    polled = client.get(f"/api/sessions/{sid}/messages", params={"after": 0}, headers=auth).json()
    assert [m["role"] for m in polled["messages"]] == ["user", "assistant"]
    last = polled["last_id"]
    assert client.get(f"/api/sessions/{sid}/messages", params={"after": last}, headers=auth).json()["messages"] == []
    token = auth["Authorization"].split()[1]
    r = client.get(f"/api/sessions/{sid}/events", params={"after": 0, "timeout": 0, "token": token})
    events = parse_sse(r.text)
    assert [e for e, _ in events] == ["message", "message", "handoff", "done"]
    assert events[-1][1]["last_id"] == last


# --------------------------------------------------------------------------- errors and limits
def test_malformed_json_and_invalid_body_are_json_errors(client: TestClient) -> None:
    sid, auth = _session(client)
    r = client.post(f"/api/sessions/{sid}/messages", content=b'{"text": "hi"', headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "MALFORMED_JSON"
    r = client.post(f"/api/sessions/{sid}/messages", json={"txt": "hi"}, headers=auth)
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_REQUEST"
    r = client.post("/api/sessions", json={"language": "fr"})
    assert r.status_code == 422 and "language" in r.json()["error"]["message"]


def test_body_size_limit(client: TestClient) -> None:
    sid, auth = _session(client)
    big = json.dumps({"text": "保" * 30000}).encode()  # ~90 KB of UTF-8
    r = client.post(f"/api/sessions/{sid}/messages", content=big, headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for i in range(0, len(big), 8192):
            yield big[i:i + 8192]

    r = client.post(f"/api/sessions/{sid}/messages", content=chunks(), headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 413
    assert _say(client, sid, auth, "你好")["intent"] == "greeting"


def test_bad_audio_is_a_clean_4xx_and_the_session_goes_on(client: TestClient) -> None:
    sid, auth = _session(client)
    r = client.post(f"/api/sessions/{sid}/audio", files={"file": ("a.wav", b"this is not audio at all", "audio/wav")},
                    headers=auth)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "BAD_AUDIO" and err["message_zh"] and err["message_en"]
    r = client.post(f"/api/sessions/{sid}/audio", files={"file": ("a.wav", b"", "audio/wav")}, headers=auth)
    assert r.status_code == 400 and r.json()["error"]["code"] == "EMPTY_AUDIO"
    r = client.post(f"/api/sessions/{sid}/audio", files={"file": ("a.wav", _wav(), "audio/wav")},
                    data={"language": "xx"}, headers=auth)
    assert r.status_code == 422
    assert client.post(f"/api/sessions/{sid}/audio", headers=auth).status_code == 422  # no file
    assert _say(client, sid, auth, "你好")["intent"] == "greeting"


def _wav(seconds: float = 0.1, rate: int = 16000) -> bytes:
    frames = b"\x00\x00" * int(seconds * rate)
    return (b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
            + b"data" + struct.pack("<I", len(frames)) + frames)


def test_audio_format_sniffing() -> None:
    from anxin.ui.api import looks_like_audio

    assert looks_like_audio(_wav())
    assert looks_like_audio(b"ID3\x04\x00" + b"\x00" * 20)
    assert looks_like_audio(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 20)
    assert not looks_like_audio(b"RIFF\x00\x00\x00\x00AVI LIST" + b"\x00" * 8)
    assert not looks_like_audio(b"%PDF-1.7\n" + b"\x00" * 20)


# --------------------------------------------------------------------------- staff
def test_staff_endpoints_need_the_staff_token(client: TestClient) -> None:
    sid, auth = _session(client)
    assert client.get("/api/staff/queue").status_code == 401
    assert client.get("/api/staff/queue", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/staff/queue", headers=auth).status_code == 401  # a customer token is not a staff token
    assert client.post(f"/api/staff/sessions/{sid}/take").status_code == 401
    r = client.get("/api/staff/sessions", headers=STAFF)
    assert r.status_code == 200 and isinstance(r.json()["sessions"], list)
    r = client.get("/api/staff/sessions/s-unknown", headers=STAFF)
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"


def test_handoff_queue_take_send_return(client: TestClient) -> None:
    sid, auth = _session(client)
    _say(client, sid, auth, "重疾险报价，30岁男，保额50万")
    turn = _say(client, sid, auth, "转人工")
    assert turn["handoff"]["active"] and turn["handoff"]["status"] == "pending"
    ticket = turn["handoff"]["ticket_id"]
    info = client.get(f"/api/sessions/{sid}", headers=auth).json()
    assert info["handoff"]["status"] == "pending" and info["handoff"]["queue_position"] >= 1

    queue = client.get("/api/staff/queue", headers=STAFF).json()["queue"]
    (item,) = [q for q in queue if q["session_id"] == sid]
    assert item["ticket_id"] == ticket and item["status"] == "open" and item["next_best_action"]
    live = client.get("/api/staff/sessions", headers=STAFF).json()["sessions"]
    assert any(s["session_id"] == sid and s["handoff"] == "pending" for s in live)

    view = client.get(f"/api/staff/sessions/{sid}", headers=STAFF).json()
    assert [t["intent"] for t in view["timeline"]] == ["quote", "handoff_request"]
    assert view["next_best_action"] and view["ticket"]["ticket_id"] == ticket
    assert any(c["clause_id"] == "CI-200-RATING" for c in view["citations"]) or view["citations"] == []

    suggestion = client.post(f"/api/staff/sessions/{sid}/suggest", headers=STAFF).json()
    assert suggestion["text"].startswith("您好") and suggestion["next_best_action"]
    assert suggestion["customer_message"] == "转人工" and suggestion["based_on_message_id"] is None
    summary = client.post(f"/api/staff/sessions/{sid}/summary", headers=STAFF).json()
    assert summary["source"] == "ticket" and summary["summary"]

    took = client.post(f"/api/staff/sessions/{sid}/take", headers=STAFF)
    assert took.status_code == 200 and took.json()["ticket_id"] == ticket
    assert client.post(f"/api/staff/sessions/{sid}/take",
                       headers={**STAFF, "X-Staff-Name": "li"}).status_code == 409  # someone else has it
    before = client.get(f"/api/sessions/{sid}/messages", headers=auth).json()["last_id"]
    sent = client.post(f"/api/staff/sessions/{sid}/send", json={"text": "您好，我是顾问小王。"}, headers=STAFF)
    assert sent.status_code == 200
    polled = client.get(f"/api/sessions/{sid}/messages", params={"after": before}, headers=auth).json()
    assert [(m["role"], m["text"]) for m in polled["messages"]] == [("staff", "您好，我是顾问小王。")]
    assert polled["handoff"]["status"] == "taken" and polled["handoff"]["taken_by"] == "wang"

    waiting = _say(client, sid, auth, "好的，谢谢")  # while a human has it, the bot does not advise
    assert waiting["intent"] == "handoff_request" and waiting["handoff"]["status"] == "taken"

    back = client.post(f"/api/staff/sessions/{sid}/return", headers=STAFF)
    assert back.status_code == 200 and back.json()["handoff"]["status"] == "returned"
    assert client.post(f"/api/staff/sessions/{sid}/return", headers=STAFF).status_code == 409
    again = _say(client, sid, auth, "你好")
    assert again["intent"] == "greeting" and not again["handoff"]["active"]
    roles = [m["role"] for m in client.get(f"/api/sessions/{sid}", headers=auth).json()["messages"]]
    assert roles.count("staff") == 1 and roles.count("system") == 2  # joined / handed back notices


def test_staff_can_take_over_without_a_request(client: TestClient) -> None:
    sid, auth = _session(client, "en")
    _say(client, sid, auth, "How much is critical illness cover for a 30 year old man, 500000 sum insured?")
    suggestion = client.post(f"/api/staff/sessions/{sid}/suggest", headers=STAFF).json()
    assert suggestion["text"].startswith("Hello, I'm wang") and "8,448.00" in suggestion["text"]
    took = client.post(f"/api/staff/sessions/{sid}/take", headers=STAFF).json()
    assert took["handoff"]["status"] == "taken"
    turn = _say(client, sid, auth, "what does critical illness insurance cover?")
    assert turn["intent"] == "handoff_request" and turn["handoff"]["status"] == "taken"
    summary = client.post(f"/api/staff/sessions/{sid}/summary", headers=STAFF).json()
    assert summary["summary"]
    assert client.post(f"/api/staff/sessions/{sid}/send", json={"text": " "}, headers=STAFF).status_code == 422
    client.post(f"/api/staff/sessions/{sid}/return", headers=STAFF)
    assert _say(client, sid, auth, "hello")["intent"] == "greeting"


def test_openapi_lists_the_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/sessions", "/api/sessions/{session_id}/messages/stream", "/api/sessions/{session_id}/audio",
                 "/api/staff/queue", "/api/staff/sessions/{session_id}/take", "/api/staff/sessions/{session_id}/summary"):
        assert path in paths
    assert client.get("/docs").status_code == 200
    assert client.get("/healthz").json()["status"] == "ok"


def test_staff_view_shows_the_verified_customer_and_policies(client: TestClient) -> None:
    sid, auth = _session(client)
    _say(client, sid, auth, "我想查一下理赔进度")
    turn = _say(client, sid, auth, "保单号 XH-CI200-2016-000123，身份证后四位 9315，生日 1970-06-25")
    assert any(c["name"] == "claim_status" and c["ok"] for c in turn["tool_calls"])
    view = client.get(f"/api/staff/sessions/{sid}", headers=STAFF).json()
    customer = view["customer"]
    assert customer and customer["customer_id"] == view["session"]["verified_customer_id"]
    assert "dob" not in customer and "id_last4" not in customer  # credentials never reach the console
    assert any(p["policy_number"] == "XH-CI200-2016-000123" for p in view["policies"])
    said = [m["text"] for m in view["messages"] if m["role"] == "user"][-1]
    assert "9315" not in said and "1970-06-25" not in said and "XH-CI200-2016-000123" in said
    live = client.get("/api/staff/sessions", headers=STAFF).json()["sessions"]
    assert any(s["session_id"] == sid and s["verified_customer_id"] == customer["customer_id"] for s in live)


# --------------------------------------------------------------------------- transcription only
def test_transcribe_low_confidence_returns_the_text_and_sends_nothing(client: TestClient, monkeypatch) -> None:
    import numpy as np

    from anxin.agent.advisor import Advisor

    calls: list[tuple[int, str | None]] = []

    def fake_transcribe(self, audio, language=None):  # noqa: ANN001
        calls.append((len(audio), language))
        return {"text": "我想查一下理赔进度", "language": "zh", "confidence": np.float32(0.41),
                "low_confidence": True, "duration_s": 1.5,
                "prosody": {"pitch_mean": np.float64(182.5), "energy": np.array([0.1, 0.2]), "rate": float("nan")}}

    monkeypatch.setattr(Advisor, "transcribe", fake_transcribe)
    sid, auth = _session(client)
    wav = _wav(5.0)  # ~160 KB: over the JSON body limit, under the audio one
    r = client.post(f"/api/sessions/{sid}/transcribe", files={"file": ("a.wav", wav, "audio/wav")},
                    data={"language": "zh"}, headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == "我想查一下理赔进度" and body["low_confidence"] is True and body["language"] == "zh"
    assert abs(body["confidence"] - 0.41) < 1e-6 and body["prosody"]["energy"] == [0.1, 0.2]
    assert body["prosody"]["rate"] is None  # JSON has no NaN
    assert calls == [(len(wav), "zh")]
    assert client.get(f"/api/sessions/{sid}", headers=auth).json()["messages"] == []  # no turn, nothing stored
    # the customer confirms (or edits) it and sends it as text
    assert _say(client, sid, auth, body["text"])["reply"]


def test_transcribe_errors(client: TestClient, monkeypatch) -> None:
    from anxin.agent.advisor import Advisor

    said = {"zh": "抱歉，没有听到说话声，请重新录制或改用文字输入。", "en": "Sorry, I couldn't hear any speech."}
    monkeypatch.setattr(Advisor, "transcribe", lambda self, audio, language=None: {"error": said})
    sid, auth = _session(client, "en")
    url = f"/api/sessions/{sid}/transcribe"
    r = client.post(url, files={"file": ("a.wav", _wav(), "audio/wav")}, headers=auth)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "AUDIO_NOT_RECOGNISED" and err["message_zh"] == said["zh"] and err["message_en"] == said["en"]
    # the same checks as /audio
    r = client.post(url, files={"file": ("a.wav", b"this is not audio at all", "audio/wav")}, headers=auth)
    assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_AUDIO"
    r = client.post(url, files={"file": ("a.wav", b"", "audio/wav")}, headers=auth)
    assert r.status_code == 400 and r.json()["error"]["code"] == "EMPTY_AUDIO"
    r = client.post(url, files={"file": ("a.wav", _wav(), "audio/wav")}, data={"language": "xx"}, headers=auth)
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_REQUEST"
    assert client.post(url, files={"file": ("a.wav", _wav(), "audio/wav")}).status_code == 401
    other, _ = _session(client)
    assert client.post(f"/api/sessions/{other}/transcribe", files={"file": ("a.wav", _wav(), "audio/wav")},
                       headers=auth).status_code == 403
    monkeypatch.setenv("ANXIN_AUDIO_MAX_BYTES", "2000")
    r = client.post(url, files={"file": ("a.wav", _wav(0.5), "audio/wav")}, headers=auth)
    assert r.status_code == 413 and r.json()["error"]["code"] == "AUDIO_TOO_LARGE"
    r = client.post(url, files={"file": ("a.wav", _wav(5.0), "audio/wav")}, headers=auth)  # past the body limit too
    assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    monkeypatch.delenv("ANXIN_AUDIO_MAX_BYTES")
    assert "/api/sessions/{session_id}/transcribe" in client.get("/openapi.json").json()["paths"]

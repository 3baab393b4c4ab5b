"""The HTTP API of the advisor (FastAPI), mounted by :func:`anxin.ui.server.create_app`.

Customer endpoints (a session's token in ``Authorization: Bearer`` or ``X-Session-Token``):

* ``POST /api/sessions`` → ``{"session_id", "token", "language", "channel"}``
* ``GET  /api/sessions/{id}`` → language, hand-off state, transcript
* ``POST /api/sessions/{id}/messages`` ``{"text"}`` → the turn (TurnResult JSON)
* ``POST /api/sessions/{id}/messages/stream`` ``{"text"}`` → Server-Sent Events:
  ``token`` (``{"text": piece}``) …, ``result`` (TurnResult JSON), ``done``
* ``POST /api/sessions/{id}/audio`` (multipart ``file``, optional ``language``) → the turn
* ``POST /api/sessions/{id}/transcribe`` (the same form) → speech recognition only, no turn:
  ``{"text", "language", "confidence", "low_confidence", "duration_s", "prosody"}``; when
  ``low_confidence`` is true, show the text for the customer to confirm or edit and send it
  to ``/messages``, otherwise send the text (or the recording to ``/audio``)
* ``GET  /api/sessions/{id}/messages?after=<id>`` → new messages (staff ones included) + hand-off
* ``GET  /api/sessions/{id}/events?after=<id>`` → the same as Server-Sent Events
  (``message``, ``handoff``, ``done``; ``?token=`` accepted here for ``EventSource``)

Staff endpoints (``/api/staff/…``, the staff token, see :mod:`anxin.ui.auth`): ``queue``,
``sessions``, ``sessions/{id}``, and ``POST sessions/{id}/take|send|return|suggest|summary``.

Every error is JSON ``{"error": {"code", "message", ...}}``. Request bodies are limited
(``ANXIN_API_MAX_BODY_BYTES``, default 64 KiB; audio ``ANXIN_AUDIO_MAX_BYTES``, default 10 MiB).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, File, Form, HTTPException, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from anxin.tools.errors import ToolError
from anxin.ui.auth import StaffUser, require_staff, session_token
from anxin.ui.services import AnxinService, ServiceError, speech_available

log = logging.getLogger("anxin.ui.api")

DEFAULT_JSON_MAX_BYTES = 64 * 1024
DEFAULT_AUDIO_MAX_BYTES = 10 * 1024 * 1024
MULTIPART_OVERHEAD = 64 * 1024
#: Endpoints (path endings) that take a recording and so get the audio body limit.
AUDIO_PATHS = ("/audio", "/transcribe")
SessionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Session id")]

_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
          409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 422: "INVALID_REQUEST",
          429: "TOO_MANY_REQUESTS", 500: "INTERNAL_ERROR", 503: "UNAVAILABLE"}

#: Bilingual texts of the errors a customer may meet.
MESSAGES: dict[str, dict[str, str]] = {
    "NO_TOKEN": {"en": "this session needs its token (Authorization: Bearer <token>)",
                 "zh": "请提供会话令牌（Authorization: Bearer <token>）"},
    "WRONG_TOKEN": {"en": "this token does not grant access to that session", "zh": "该令牌无权访问此会话"},
    "EMPTY_AUDIO": {"en": "the audio file is empty; please record again or type your message",
                    "zh": "音频文件为空，请重新录制或改用文字输入"},
    "BAD_AUDIO": {"en": "this file is not a recording we can read (use WAV, MP3, M4A, OGG, WebM or FLAC); "
                        "please record again or type your message",
                  "zh": "无法读取该音频文件（支持 WAV、MP3、M4A、OGG、WebM、FLAC），请重新录制或改用文字输入"},
    "AUDIO_TOO_LARGE": {"en": "the recording is too large", "zh": "录音文件过大"},
    "AUDIO_NOT_RECOGNISED": {"en": "the recording could not be recognised; please record again or type your message",
                             "zh": "无法识别这段录音，请重新录制或改用文字输入"},
    "SPEECH_UNAVAILABLE": {"en": "speech recognition is not available; please type your message",
                           "zh": "语音识别暂不可用，请改用文字输入"},
    "PAYLOAD_TOO_LARGE": {"en": "the request body is too large", "zh": "请求内容过大"},
}


def json_max_bytes() -> int:
    """Largest JSON body accepted (``ANXIN_API_MAX_BODY_BYTES``, default 64 KiB)."""
    return _env_int("ANXIN_API_MAX_BODY_BYTES", DEFAULT_JSON_MAX_BYTES)


def audio_max_bytes() -> int:
    """Largest audio upload accepted (``ANXIN_AUDIO_MAX_BYTES``, default 10 MiB)."""
    return _env_int("ANXIN_AUDIO_MAX_BYTES", DEFAULT_AUDIO_MAX_BYTES)


def _env_int(name: str, default: int) -> int:
    try:
        value = int(os.environ.get(name, "") or default)
    except ValueError:
        log.warning("%s is not an integer; using %d", name, default)
        return default
    return value if value > 0 else default


class ApiError(HTTPException):
    """An HTTP error with a code and (optionally) bilingual messages."""

    def __init__(self, status: int, code: str, message: str | None = None, **extra: Any) -> None:
        texts = MESSAGES.get(code)
        body: dict[str, Any] = {"code": code}
        if texts:
            body.update(message=message or f"{texts['en']} / {texts['zh']}", message_en=texts["en"], message_zh=texts["zh"])
        else:
            body["message"] = message or code.replace("_", " ").lower()
        body.update(extra)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        super().__init__(status_code=status, detail=body, headers=headers)


def error_body(status: int, detail: Any) -> dict[str, Any]:
    """``{"error": {"code", "message", ...}}`` for an HTTP status and an exception detail."""
    if isinstance(detail, dict) and "code" in detail:
        return {"error": dict(detail)}
    return {"error": {"code": _CODES.get(status, f"HTTP_{status}"), "message": str(detail)}}


# --------------------------------------------------------------------------- request models
class SessionIn(BaseModel):
    """Options of a new session (the body may be omitted)."""

    model_config = ConfigDict(extra="forbid")

    language: Literal["zh", "en"] | None = Field(None, description="Preferred reply language")
    channel: str = Field("web", pattern=r"^[a-z][a-z0-9_]{0,15}$", description="Where the customer is (web, app, ...)")


class SessionOut(BaseModel):
    """A new session and its secret token (shown once: keep it)."""

    session_id: str
    token: str
    language: str | None = None
    channel: str = "web"


class MessageIn(BaseModel):
    """A customer (or staff) message."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(..., min_length=1, max_length=4000)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


# --------------------------------------------------------------------------- body size limit
class BodySizeLimitMiddleware:
    """Refuse request bodies over the limit with 413 (JSON error) before they are read in
    full: by ``Content-Length`` when sent, else by counting the streamed body. Applies to
    paths under ``prefix``; ``/audio`` and ``/transcribe`` uploads get the audio limit."""

    def __init__(self, app: ASGIApp, *, prefix: str = "/api/",
                 json_max: Callable[[], int] = json_max_bytes, audio_max: Callable[[], int] = audio_max_bytes) -> None:
        self.app = app
        self.prefix = prefix
        self.json_max = json_max
        self.audio_max = audio_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        limit = self.audio_max() + MULTIPART_OVERHEAD if path.endswith(AUDIO_PATHS) else self.json_max()
        for name, value in scope.get("headers") or []:
            if name == b"content-length":
                try:
                    if int(value) > limit:
                        await _send_too_large(send, limit)
                        return
                except ValueError:
                    pass
        received = 0
        started = exceeded = False

        async def limited_receive() -> Message:
            # Past the limit the app sees the client "disconnect": it stops reading and
            # never runs the endpoint; its error response is replaced by the 413 below.
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not started:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded:
            await _send_too_large(send, limit)


async def _send_too_large(send: Send, limit: int) -> None:
    texts = MESSAGES["PAYLOAD_TOO_LARGE"]
    body = json.dumps({"error": {"code": "PAYLOAD_TOO_LARGE", "message": f"{texts['en']} (limit {limit} bytes) / {texts['zh']}",
                                 "message_en": texts["en"], "message_zh": texts["zh"], "limit": limit}},
                      ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------------------- errors
def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a JSON ``{"error": {...}}`` object."""

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(exc.status_code, exc.detail), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            details.append({"field": loc, "type": err.get("type"), "message": err.get("msg")})
        malformed = any(d["type"] == "json_invalid" for d in details)
        code = "MALFORMED_JSON" if malformed else "INVALID_REQUEST"
        first = details[0] if details else {"field": "body", "message": "invalid request"}
        message = "the body is not valid JSON" if malformed else f"{first['field']}: {first['message']}"
        return JSONResponse({"error": {"code": code, "message": message, "details": details}}, status_code=422)

    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status_code=exc.status)

    @app.exception_handler(ToolError)
    async def _tool_error(_request: Request, exc: ToolError) -> JSONResponse:
        status = 404 if exc.code == "NOT_FOUND" else 409 if exc.code == "INVALID_VALUE" else 400
        return JSONResponse(exc.to_dict(), status_code=status)


# --------------------------------------------------------------------------- SSE
def sse(event: str, data: Any, *, event_id: int | str | None = None) -> str:
    """One Server-Sent Event: ``data`` as one line of JSON."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

_AUDIO_MAGIC: tuple[tuple[int, bytes], ...] = (
    (0, b"RIFF"), (0, b"OggS"), (0, b"fLaC"), (0, b"ID3"), (0, b"\x1a\x45\xdf\xa3"), (4, b"ftyp"), (0, b"#!AMR"),
    (0, b"caff"), (0, b"FORM"),
)


def looks_like_audio(data: bytes) -> bool:
    """Whether ``data`` starts like an audio container we accept (WAV, OGG/Opus, FLAC,
    MP3, WebM/Matroska, MP4/M4A, AMR, CAF, AIFF, raw AAC/MP3 frames)."""
    if len(data) < 12:
        return False
    if any(data[off:off + len(magic)] == magic for off, magic in _AUDIO_MAGIC):
        if data[:4] == b"RIFF" and data[8:12] != b"WAVE":
            return False
        return True
    return data[0] == 0xFF and (data[1] & 0xE0) == 0xE0  # MPEG audio / ADTS frame sync


def _speech_unavailable_texts() -> dict[str, str] | None:
    """The advisor's message when speech recognition cannot run (to answer it with 503)."""
    try:
        from anxin.agent.speech import SpeechUnavailable
    except Exception:  # noqa: BLE001 - without the module the advisor says so in its own words
        return None
    return dict(SpeechUnavailable.bilingual)


# --------------------------------------------------------------------------- the router
def create_router(service: AnxinService | Callable[[], AnxinService]) -> APIRouter:
    """The ``/api/sessions`` and ``/api/staff`` routes, served by ``service`` (or a
    callable returning it, resolved per request)."""
    get_service: Callable[[], AnxinService] = service if callable(service) and not isinstance(service, AnxinService) \
        else (lambda: service)  # type: ignore[assignment,return-value]
    router = APIRouter(prefix="/api")

    def _check(session_id: str, token: str | None) -> str:
        if not token:
            raise ApiError(401, "NO_TOKEN")
        if not get_service().check_session_token(session_id, token):
            raise ApiError(403, "WRONG_TOKEN")
        return session_id

    def customer(request: Request, session_id: SessionId) -> str:
        """Dependency: the session id, once its token is checked (401 / 403)."""
        return _check(session_id, session_token(request))

    def customer_events(request: Request, session_id: SessionId) -> str:
        return _check(session_id, session_token(request, allow_query=True))

    async def _blocking(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(fn, *args, **kwargs)

    # ---------------------------------------------------------------- customer
    @router.post("/sessions", status_code=201, response_model=SessionOut, tags=["customer"],
                 summary="Open a conversation")
    async def create_session(body: SessionIn | None = None) -> SessionOut:
        """A new session and its token; send the token with every request of the session."""
        body = body or SessionIn()
        sid, token = await _blocking(get_service().create_session, body.language, body.channel)
        return SessionOut(session_id=sid, token=token, language=body.language, channel=body.channel)

    @router.get("/sessions/{session_id}", tags=["customer"], summary="Session, hand-off state and transcript")
    async def get_session(session_id: str = Depends(customer)) -> dict[str, Any]:
        """Language, hand-off state (queue position while waiting) and the transcript."""
        return await _blocking(get_service().session_info, session_id)

    @router.post("/sessions/{session_id}/messages", tags=["customer"], summary="Send a message")
    async def post_message(body: MessageIn, session_id: str = Depends(customer)) -> dict[str, Any]:
        """One text turn; the advisor's TurnResult."""
        result = await _blocking(get_service().send_text, session_id, body.text)
        return result.model_dump(mode="json")

    @router.post("/sessions/{session_id}/messages/stream", tags=["customer"], summary="Send a message, stream the reply",
                 response_class=StreamingResponse,
                 responses={200: {"content": {"text/event-stream": {}},
                                  "description": "events `token` {text}, `result` (TurnResult), `done`"}})
    async def stream_message(body: MessageIn, session_id: str = Depends(customer)) -> StreamingResponse:
        """Server-Sent Events: ``token`` pieces as the reply is produced, then ``result``
        (the TurnResult JSON) and ``done``."""
        svc = get_service()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def put(item: tuple[str, Any]) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone (client left, server stopping)
                pass

        def work() -> None:
            try:
                result = svc.send_text(session_id, body.text, on_token=lambda piece: put(("token", piece)))
                put(("result", result))
            except Exception as exc:  # noqa: BLE001 - reported as an SSE error event
                log.exception("session %s: streamed turn failed", session_id)
                put(("error", exc))

        loop.run_in_executor(None, work)

        async def events() -> AsyncIterator[str]:
            while True:
                kind, value = await queue.get()
                if kind == "token":
                    yield sse("token", {"text": value})
                elif kind == "result":
                    yield sse("result", value.model_dump(mode="json"))
                    break
                else:
                    yield sse("error", {"code": "INTERNAL_ERROR", "message": "the turn failed"})
                    break
            yield sse("done", {})

        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)

    async def _recording(file: UploadFile) -> bytes:
        """The uploaded recording, checked: size (413), empty / not audio (400), speech
        recognition installed (503)."""
        limit = audio_max_bytes()
        data = await file.read(limit + 1)
        if len(data) > limit:
            raise ApiError(413, "AUDIO_TOO_LARGE", limit=limit)
        if not data:
            raise ApiError(400, "EMPTY_AUDIO")
        if not looks_like_audio(data):
            raise ApiError(400, "BAD_AUDIO")
        if not speech_available():
            raise ApiError(503, "SPEECH_UNAVAILABLE")
        return data

    @router.post("/sessions/{session_id}/audio", tags=["customer"], summary="Send a voice message")
    async def post_audio(file: UploadFile = File(..., description="The recording (WAV, MP3, M4A, OGG, WebM, FLAC)"),
                         language: Literal["zh", "en"] | None = Form(None),
                         session_id: str = Depends(customer)) -> dict[str, Any]:
        """One voice turn: speech recognition, then the same pipeline as text. A file that
        is empty, not audio or not recognisable gives a 4xx error; the session goes on."""
        data = await _recording(file)
        result = await _blocking(get_service().send_audio, session_id, data, language=language)
        if result.transcript is None:
            texts = MESSAGES["AUDIO_NOT_RECOGNISED"]
            raise ApiError(422, "AUDIO_NOT_RECOGNISED", message=result.reply or f"{texts['en']} / {texts['zh']}",
                           reply=result.reply)
        return result.model_dump(mode="json")

    @router.post("/sessions/{session_id}/transcribe", tags=["customer"], summary="Transcribe a recording (no turn)")
    async def post_transcribe(file: UploadFile = File(..., description="The recording (WAV, MP3, M4A, OGG, WebM, FLAC)"),
                              language: Literal["zh", "en"] | None = Form(None),
                              session_id: str = Depends(customer)) -> dict[str, Any]:
        """Speech recognition only; nothing is sent or stored. ``{"text", "language",
        "confidence", "low_confidence", "duration_s", "prosody"}``. When ``low_confidence``
        is true, show the text for the customer to confirm or edit, then send it to
        ``/messages``. Errors as for ``/audio`` (422 ``AUDIO_NOT_RECOGNISED`` with the
        bilingual message when nothing usable was heard)."""
        data = await _recording(file)
        heard = await _blocking(get_service().transcribe, data, language=language)
        error = heard.get("error")
        if error:
            texts = error if isinstance(error, dict) else {"en": str(error), "zh": str(error)}
            code, status = "AUDIO_NOT_RECOGNISED", 422
            if texts == _speech_unavailable_texts():
                code, status = "SPEECH_UNAVAILABLE", 503
            en, zh = texts.get("en") or MESSAGES[code]["en"], texts.get("zh") or MESSAGES[code]["zh"]
            raise ApiError(status, code, message=f"{en} / {zh}", message_en=en, message_zh=zh)
        return heard

    @router.get("/sessions/{session_id}/messages", tags=["customer"], summary="Messages after an id (polling)")
    async def get_messages(after: int = Query(0, ge=0, description="Return messages with a larger id"),
                           session_id: str = Depends(customer)) -> dict[str, Any]:
        """New messages (the advisor's, staff's and hand-off notices) and the hand-off state."""
        msgs, handoff = await _blocking(get_service().messages_after, session_id, after)
        return {"messages": msgs, "handoff": handoff, "last_id": msgs[-1]["id"] if msgs else after}

    @router.get("/sessions/{session_id}/events", tags=["customer"], summary="Live messages (Server-Sent Events)",
                response_class=StreamingResponse,
                responses={200: {"content": {"text/event-stream": {}},
                                 "description": "events `message`, `handoff`, then `done` after `timeout` s"}})
    async def session_events(request: Request, after: int = Query(0, ge=0),
                             timeout: float = Query(300.0, ge=0, le=3600, description="Close after this many seconds"),
                             interval: float = Query(1.0, ge=0.2, le=30),
                             session_id: str = Depends(customer_events)) -> StreamingResponse:
        """New messages as ``message`` events (id = message id, so ``Last-Event-ID`` resumes),
        hand-off changes as ``handoff`` events; ``done`` when ``timeout`` elapses."""
        svc = get_service()
        last_seen = request.headers.get("last-event-id", "")
        start = max(after, int(last_seen) if last_seen.isdigit() else 0)

        async def events() -> AsyncIterator[str]:
            last, previous = start, None
            deadline = time.monotonic() + timeout
            while True:
                msgs, handoff = await run_in_threadpool(svc.messages_after, session_id, last)
                for m in msgs:
                    last = m["id"]
                    yield sse("message", m, event_id=m["id"])
                if handoff != previous:
                    previous = handoff
                    yield sse("handoff", handoff)
                if time.monotonic() >= deadline or await request.is_disconnected():
                    break
                await asyncio.sleep(interval)
            yield sse("done", {"last_id": last})

        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)

    # ---------------------------------------------------------------- staff
    staff = APIRouter(prefix="/staff", tags=["staff"])

    @staff.get("/queue", summary="Hand-off queue")
    async def staff_queue(user: StaffUser = Depends(require_staff)) -> dict[str, Any]:
        """Open tickets, then those being handled, by urgency, emotion and age."""
        return {"queue": await _blocking(get_service().staff_queue)}

    @staff.get("/sessions", summary="Live sessions")
    async def staff_sessions(hours: float = Query(24.0, gt=0, le=24 * 30), limit: int = Query(100, ge=1, le=500),
                             user: StaffUser = Depends(require_staff)) -> dict[str, Any]:
        """Sessions active in the last ``hours``: last activity, intent, emotion, hand-off state."""
        return {"sessions": await _blocking(get_service().live_sessions, hours=hours, limit=limit)}

    @staff.get("/sessions/{session_id}", summary="One session in full")
    async def staff_session(session_id: SessionId, user: StaffUser = Depends(require_staff)) -> dict[str, Any]:
        """Transcript, intent and emotion timeline, verified customer and policies,
        clauses, hand-off ticket and next best action."""
        return await _blocking(get_service().staff_session, session_id, user)

    @staff.post("/sessions/{session_id}/take", summary="Take the conversation over")
    async def staff_take(session_id: SessionId, user: StaffUser = Depends(require_staff)) -> dict[str, Any]:
        """Take the open ticket (or open and take one); the bot stops answering."""
        return await _blocking(get_service().take, session_id, user)

    @staff.post("/sessions/{session_id}/send", summary="Send a message to the customer")
    async def staff_send(body: MessageIn, session_id: SessionId,
                         user: StaffUser = Depends(require_staff)) -> dict[str, Any]:
        """Store a ``staff`` message the customer sees (takes the session over if needed)."""
        return {"message": await _blocking(get_service().staff_send, session_id, body.text, user)}

    @staff.post("/sessions/{session_id}/return", summary="Return the conversation to the bot")
    async def staff_return(session_id: SessionId, user: StaffUser = Depends(require_staff)) -> dict[str, Any]:
        """Close the hand-off ticket: the advisor bot answers again."""
        return await _blocking(get_service().return_to_bot, session_id, user)

    @staff.post("/sessions/{session_id}/suggest", summary="A suggested reply")
    async def staff_suggest(session_id: SessionId, user: StaffUser = Depends(require_staff)) -> dict[str, Any]:
        """A reply to edit and send: the bot's last answer, its clauses and the next best action."""
        return await _blocking(get_service().suggest, session_id, user)

    @staff.post("/sessions/{session_id}/summary", summary="One-click summary")
    async def staff_summary(session_id: SessionId, user: StaffUser = Depends(require_staff)) -> dict[str, Any]:
        """The hand-off ticket's summary, else one built from the conversation."""
        return await _blocking(get_service().summary, session_id)

    router.include_router(staff)
    return router


def mount_api(app: FastAPI, service: AnxinService | Callable[[], AnxinService]) -> None:
    """Add the API routes, JSON errors and the body size limit to ``app``."""
    install_error_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware)
    app.include_router(create_router(service))

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def _no_such_endpoint(rest: str) -> None:
        # Keep unknown /api paths JSON (the widget mounted at "/" would answer them otherwise).
        raise ApiError(404, "NOT_FOUND", message=f"no endpoint /api/{rest}")


__all__ = ["ApiError", "BodySizeLimitMiddleware", "MessageIn", "SessionIn", "SessionOut", "create_router",
           "install_error_handlers", "looks_like_audio", "mount_api", "sse"]

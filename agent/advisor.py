"""The advisor: one customer turn in, one grounded, cited :class:`TurnResult` out.

``Advisor.respond(session_id, text=None, audio=None)`` runs the turn pipeline:

1. load the session (database) — a session resumes after a restart;
2. speech recognition for a voice turn; language (zh/en, the customer's);
3. guardrails (injection, other customers' data, fraud, medical diagnosis, …);
4. emotion (text + prosody) and its trajectory;
5. entities and health declarations; intent (cues + dialogue state, LLM if ambiguous);
6. hand-off triggers; otherwise the intent's handler in :mod:`anxin.agent.dialogue`
   asks for missing inputs, confirms writes, calls tools and renders the reply;
7. the LLM (if any) adds a short framing sentence; the grounding verifier checks every
   number against this turn's tool results and cited clauses before anything is sent;
8. messages and state are persisted; the :class:`TurnResult` is returned.

Deterministic code owns identity checks, numbers, confirmations and policy.
"""
from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from anxin.agent import handoff_policy
from anxin.agent.dialogue import Turn, t
from anxin.agent.state import DialogueState
from anxin.agent.types import Emotion, HandoffState, TurnResult
from anxin.agent.verifier import verify
from anxin.config import DEFAULT_COLLECTION
from anxin.tools.context import ToolContext, default_session_scope

log = logging.getLogger("anxin.agent")

#: Longest customer message accepted (characters); longer text is cut with a notice.
MAX_TEXT_CHARS = 4000
#: The LLM writes at most this many tokens of framing (the 1.5B writes ~14 tokens/s here).
LEAD_MAX_TOKENS = 60
LEAD_TIMEOUT_S = 8.0

_CJK = re.compile(r"[\u4e00-\u9fff]")
_NUMERAL = re.compile(r"[0-9０-９零一二两三四五六七八九十百千万亿]|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million)\b", re.I)
_SENTENCE_END = re.compile(r"[。！？!?；;]|\.(?:\s|$)|\n")


class Advisor:
    """The conversational advisor (thread-safe across sessions; one turn per session at a time)."""

    def __init__(
        self,
        backend: str | None = None,
        *,
        db_factory: Callable[[], Any] | None = None,
        collection: str = DEFAULT_COLLECTION,
        searcher: Any | None = None,
        transcriber: Any | None = None,
    ) -> None:
        from anxin.agent.llm import get_backend

        self.llm = get_backend(backend)
        self.backend_name = self.llm.name
        if os.environ.get("ANXIN_REDACT", "1") != "0":
            # text sent to an external LLM server never carries ID, phone or card numbers
            from anxin.agent.guardrails import redact_pii
            from anxin.agent.llm import set_redactor

            set_redactor(redact_pii)
        self._db_factory = db_factory
        self.collection = collection
        self.searcher = searcher
        self._transcriber = transcriber

    # ------------------------------------------------------------------ plumbing
    def _db(self):
        factory = self._db_factory or default_session_scope()
        return factory()

    def context(self, session_id: str, lang: str) -> ToolContext:
        """The tool context of a session (its verification restored from the database)."""
        return ToolContext.for_session(session_id, language=lang, db_factory=self._db_factory,
                                       collection=self.collection, searcher=self.searcher)

    def new_session(self, channel: str = "web", language: str | None = None) -> str:
        """Start a conversation; returns its id."""
        from anxin.db.sessions import get_or_create_session

        session_id = f"s-{uuid.uuid4().hex[:16]}"
        with self._db() as db:
            row = get_or_create_session(db, session_id, language=language, channel=channel)
            row.state = DialogueState(language=language).to_json()
        return session_id

    def load_state(self, session_id: str) -> tuple[DialogueState, str, str | None]:
        """(state, hand-off state of the row, channel) of a session; a new one if unknown."""
        return _retry_busy(lambda: self._load_state_once(session_id))

    def _load_state_once(self, session_id: str) -> tuple[DialogueState, str, str | None]:
        from anxin.db.sessions import get_or_create_session

        with self._db() as db:
            row = get_or_create_session(db, session_id)
            try:
                state = DialogueState.model_validate(row.state or {})
            except Exception:  # noqa: BLE001 - a corrupt state must not end the conversation
                log.warning("session %s: unreadable state, starting afresh", session_id)
                state = DialogueState()
            if not state.language and row.language:
                state.language = row.language
            return state, row.handoff_state or "none", row.channel

    def _save(self, session_id: str, state: DialogueState, user_text: str, result: TurnResult) -> None:
        """Persist the turn (retried when the database is busy: a turn is never dropped silently)."""
        _retry_busy(lambda: self._save_once(session_id, state, user_text, result))

    def _save_once(self, session_id: str, state: DialogueState, user_text: str, result: TurnResult) -> None:
        from anxin.db.sessions import add_message, get_or_create_session

        with self._db() as db:
            row = get_or_create_session(db, session_id, language=result.language)
            add_message(db, session_id, "user", _mask_credentials(user_text, result.entities), {"intent": result.intent, "emotion": result.emotion.model_dump(),
                                                             "entities": _json_safe(result.entities),
                                                             "transcript": result.transcript})
            add_message(db, session_id, "assistant", result.reply, {
                "citations": [c.clause_id for c in result.citations],
                "tools": [{"name": c.name, "args": _redact_args(c.args), "ok": c.ok} for c in result.tool_calls],
                "latency_ms": result.latency_ms, "backend": result.backend, "grounded": result.grounded,
            })
            row.state = state.to_json()
            if state.verified_customer_id and hasattr(row, "verified_customer_id") and not row.verified_customer_id:
                row.verified_customer_id = state.verified_customer_id

    def warm_up(self) -> None:
        """Load what the first turn would otherwise wait for: the clause index snapshot,
        the embedder, word weights, the NLU lexicons and the LLM (with its system prompt)."""
        from anxin.agent import emotion, entities, guardrails, health

        try:
            searcher = self.searcher or self.context("warm-up", "zh").get_searcher()
            searcher.search("等待期", k=1)
            from anxin.agent.answers import corpus_idf

            corpus_idf(searcher)
        except Exception:  # noqa: BLE001 - no index yet: policy answers will say so
            log.warning("warm-up: the clause index is not available", exc_info=True)
        entities.extract_entities("30岁 50万", "zh")
        health.extract_declarations("高血压", "zh")
        guardrails.screen("你好", "zh")
        emotion.detect_emotion("你好", "zh")
        if hasattr(self.llm, "warm_up"):
            self.llm.warm_up()

    # ------------------------------------------------------------------ public API
    def respond(
        self,
        session_id: str,
        text: str | None = None,
        audio: str | Path | bytes | None = None,
        *,
        language_hint: str | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> TurnResult:
        """Answer one customer turn (``text`` or ``audio``: a file path or bytes).

        ``on_token`` receives the reply as it is produced (the LLM's sentence token by
        token once verified, then the rendered body). Never raises for bad input: the
        reply explains the problem and the session goes on.
        """
        started = time.perf_counter()
        state, row_handoff, channel = self.load_state(session_id)
        transcript = None
        prosody = None
        if audio is not None:
            heard = self._transcribe(audio, language_hint)
            if heard.get("error"):
                lang = language_hint or state.language or "zh"
                reply = heard["error"][lang] if isinstance(heard["error"], dict) else str(heard["error"])
                result = TurnResult(session_id=session_id, reply=reply, language=lang, intent="out_of_scope",
                                    backend=self.backend_name, latency_ms=_ms(started))
                self._save(session_id, state, "[audio]", result)
                return result
            text = heard.get("text", "")
            transcript = text
            prosody = heard.get("prosody")
        text = (text or "").strip()
        if len(text) > MAX_TEXT_CHARS:
            text = text[:MAX_TEXT_CHARS]

        turn = Turn(self, session_id, state, text, language_hint=language_hint, prosody=prosody,
                    handoff_row_state=row_handoff, channel=channel)
        try:
            turn.run()
        except Exception:  # noqa: BLE001 - one failing component must not end the session
            log.exception("session %s: turn failed", session_id)
            turn.fail_safe()

        reply = self._finish(turn, on_token)
        state.remember_turn(text, reply)
        result = TurnResult(
            session_id=session_id,
            reply=reply,
            language=turn.lang,
            intent=turn.intent,
            entities=_json_safe(turn.entities),
            tool_calls=turn.tool_calls,
            citations=turn.citations,
            emotion=turn.emotion or Emotion(),
            handoff=turn.handoff_state(),
            latency_ms=_ms(started),
            transcript=transcript,
            grounded=turn.grounded,
            backend=turn.backend_used,
            suggested_actions=turn.suggestions,
            next_best_action=turn.next_best_action,
        )
        try:
            self._save(session_id, state, text if transcript is None else f"[voice] {text}", result)
        except Exception:  # noqa: BLE001 - report, but still answer the customer
            log.exception("session %s: could not persist the turn", session_id)
        return result

    # ------------------------------------------------------------------ reply assembly
    def _finish(self, turn: Turn, on_token: Callable[[str], None] | None) -> str:
        """Framing sentence(s) (LLM, streamed and verified) + the deterministic body."""
        body = "\n".join(p for p in turn.parts if p)
        sources = turn.sources()
        emit = on_token or (lambda _piece: None)
        lead = ""
        if turn.llm_lead_wanted and self.llm.available and self.llm.name != "none":
            lead = self._stream_lead(turn, sources, emit)
        if lead:
            turn.backend_used = self.llm.name
        else:
            lead = turn.lead
            if lead:
                emit(lead + "\n")
        reply = "\n".join(p for p in (lead, body) if p).strip()
        reply = _screen_outgoing(reply, lead if turn.backend_used != "none" else "", turn)
        verdict = verify(reply, sources)
        if verdict.ok:
            if body:
                for piece in _pieces(body):
                    emit(piece)
        else:
            # The body is rendered from tool results; this only happens when a clause or
            # template carries a number we cannot trace. Send the numberless answer.
            log.warning("ungrounded numbers %s; sending the safe answer", verdict.ungrounded)
            reply = turn.safe_fallback()
            emit(reply)
            verdict = verify(reply, sources)
        turn.grounded = verdict.ok
        return reply

    def _stream_lead(self, turn: Turn, sources: list[Any], emit: Callable[[str], None]) -> str:
        """Stream the LLM's framing sentence(s): text without numbers goes out at once;
        a sentence with a number is held until the verifier grounds it (otherwise the
        sentence is dropped and generation stops). Returns what was sent."""
        messages = turn.lead_messages()
        if not messages:
            return ""
        sent: list[str] = []
        held = ""
        wants_zh = turn.lang == "zh"
        checked_lang = False
        for piece in self.llm.stream(messages, max_tokens=LEAD_MAX_TOKENS, temperature=0.2, timeout_s=LEAD_TIMEOUT_S):
            held += piece
            if not checked_lang and len(held.strip()) >= 6:
                checked_lang = True
                if wants_zh != bool(_CJK.search(held)):
                    return ""            # drifted into the other language: keep the template
            if _NUMERAL.search(held):
                # hold until the sentence ends, then verify it
                m = _SENTENCE_END.search(held)
                if not m:
                    continue
                sentence, held = held[: m.end()], held[m.end():]
                if not verify(sentence, sources).ok:
                    break
                sent.append(sentence)
                emit(sentence)
            elif checked_lang:
                sent.append(held)
                emit(held)
                held = ""
        if held:
            lang_ok = checked_lang or wants_zh == bool(_CJK.search(held))
            if lang_ok and (not _NUMERAL.search(held) or verify(held, sources).ok):
                sent.append(held)
                emit(held)
        text = "".join(sent).strip()
        if text:
            emit("\n")
        return text

    def transcribe(self, audio: str | Path | bytes, language: str | None = None) -> dict[str, Any]:
        """Speech recognition only (no turn): ``{"text", "language", "confidence",
        "low_confidence", "duration_s", "prosody"}`` or ``{"error": {"zh", "en"}}``.
        The widget uses it to let the customer confirm a low-confidence transcript
        before it is sent (then as text, with ``respond``)."""
        return self._transcribe(audio, language)

    def _transcribe(self, audio: Any, lang: str | None) -> dict[str, Any]:
        """Speech to text for a voice turn: ``{"text", "prosody"}`` or ``{"error": {zh, en}}``."""
        try:
            from anxin.agent import speech
        except ImportError:
            return {"error": {"zh": "抱歉，语音识别暂不可用，请改用文字输入。",
                              "en": "Sorry, speech recognition isn't available; please type your message."}}
        try:
            return speech.transcribe_turn(audio, language=lang, transcriber=self._transcriber)
        except Exception as exc:  # noqa: BLE001 - an unreadable file is the customer's problem, not a crash
            log.info("audio rejected: %s", exc)
            msg = getattr(exc, "bilingual", None) or {
                "zh": f"抱歉，无法识别这段音频（{exc}）。请重新录制或改用文字输入。",
                "en": f"Sorry, I couldn't process that audio ({exc}). Please record it again or type your message."}
            return {"error": msg}


def _screen_outgoing(reply: str, llm_text: str, turn: Turn) -> str:
    """Last look at what the LLM wrote before the reply leaves: no system prompt, no
    promise (guaranteed returns, "will definitely be paid"), no ID/phone/card numbers.
    The rest of the reply is tool renderings and clause quotes, checked by the verifier."""
    if not llm_text:
        return reply
    from anxin.agent.guardrails import check_reply, redact_pii
    from anxin.agent.prompts import ADVISOR_SYSTEM_PROMPT

    problems = check_reply(llm_text, system_prompt=ADVISOR_SYSTEM_PROMPT)
    if {"system_prompt_leak", "claim_guarantee", "guaranteed_returns"} & set(problems):
        log.warning("LLM text blocked: %s", problems)
        return reply.replace(llm_text, turn.template_lead, 1).strip()
    if any(p.startswith("pii:") for p in problems):
        return reply.replace(llm_text, redact_pii(llm_text), 1)
    return reply


def _retry_busy(fn: Callable[[], Any], attempts: int = 3) -> Any:
    """Run a unit of work, again when the database reports it is busy/locked."""
    from sqlalchemy.exc import OperationalError

    for attempt in range(attempts):
        try:
            return fn()
        except OperationalError as exc:
            if attempt == attempts - 1 or "locked" not in str(exc).lower() and "busy" not in str(exc).lower():
                raise
            log.warning("database busy (attempt %d): retrying", attempt + 1)
            time.sleep(0.2 * (attempt + 1))
    return None


def _mask_credentials(text: str, entities: dict[str, Any]) -> str:
    """The customer's message as stored: ID digits, birth date and the name given for
    verification masked (they are checked, never kept)."""
    from anxin.agent.state import CREDENTIAL_SLOTS

    for key in CREDENTIAL_SLOTS:
        value = entities.get(key)
        if isinstance(value, str) and len(value) >= 2 and value in text:
            text = text.replace(value, "*" * len(value))
    dob = entities.get("dob")
    if isinstance(dob, str):
        y, _, rest = dob.partition("-")
        text = re.sub(rf"{y}\s*[-/年.]\s*0?{int(rest[:2]) if rest[:2].isdigit() else 0}\s*[-/月.]\s*0?{int(rest[3:5]) if rest[3:5].isdigit() else 0}日?",
                      "****-**-**", text)
    return text


def _pieces(text: str, size: int = 8) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _json_safe(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def _redact_args(args: dict[str, Any]) -> dict[str, Any]:
    """Tool arguments as logged with the message: credentials masked."""
    from anxin.agent.state import CREDENTIAL_SLOTS

    return {k: ("***" if k in CREDENTIAL_SLOTS else v) for k, v in _json_safe(args).items()}


__all__ = ["Advisor", "TurnResult", "HandoffState", "handoff_policy", "t"]

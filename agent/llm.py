"""Language-model back-ends behind one small interface.

``ANXIN_LLM`` picks the back-end (:func:`get_backend`):

* ``local`` (default): the embedded GGUF models through ``llama-cpp-python``. The
  1.5B model writes answers and, by default, classifies and extracts too (it was far
  more accurate, and cached prompt prefixes make it fast enough). The 0.5B model, when
  assembled, is a faster tier for :meth:`LLMBackend.classify` /
  :meth:`LLMBackend.extract_json` on request (``fast=True``, or ``ANXIN_LLM_FAST=1``
  for every such call; ``ANXIN_LLM_FAST=0`` never loads it). When llama-cpp-python is
  not installed or the model is not assembled, :func:`get_backend` logs one warning and
  returns the ``none`` back-end.
* Each local model keeps the KV state of its last few fixed prompt prefixes (system
  prompt + examples), so alternating intent / emotion / phrasing calls only evaluate
  the customer's words (``ANXIN_LLM_PREFIX_STATES``, default 8).
* ``openai``: any OpenAI-compatible server through ``langchain-openai``
  (``OPENAI_BASE_URL``, ``OPENAI_API_KEY`` default ``not-needed``, ``ANXIN_MODEL``
  default ``gpt-4o-mini``). Every message is passed through the redaction hook
  (:func:`set_redactor`) before it leaves the process.
* ``none``: every call returns ``None`` (or yields nothing): the caller uses its
  deterministic templates.

The model never decides numbers, identity checks, tool confirmation or policy; it
phrases, classifies and extracts. Every call has a deadline (``timeout_s``, default
``ANXIN_LLM_TIMEOUT_S`` = 20 s) and returns ``None`` on failure, timeout or junk, so a
caller always has a deterministic fallback. All prompts live in :mod:`anxin.agent.prompts`.
"""
from __future__ import annotations

import concurrent.futures
import importlib
import json
import logging
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, convert_to_messages
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from anxin.agent import prompts

log = logging.getLogger("anxin.llm")

#: Model registry names (``models.yaml``) of the two local tiers.
MAIN_MODEL = "qwen2.5-coder-1.5b"
FAST_MODEL = "qwen2.5-coder-0.5b"
#: Hard cap on the tokens one local call may write (phrasing needs far fewer).
MAX_LOCAL_TOKENS = 256
#: Default deadlines of the constrained calls (seconds).
CLASSIFY_TIMEOUT_S = 6.0
EXTRACT_TIMEOUT_S = 10.0
TOOL_TIMEOUT_S = 12.0

Messages = Sequence[Mapping[str, Any]] | Sequence[BaseMessage]
ToolSpec = Any  # an OpenAI function schema dict, or a LangChain BaseTool


class LLMError(RuntimeError):
    """A language-model call failed, timed out or returned nothing (LangChain wrapper only)."""


def default_timeout() -> float:
    """``ANXIN_LLM_TIMEOUT_S`` (seconds, default 20): the deadline of a call that names none."""
    try:
        return max(0.1, float(os.environ.get("ANXIN_LLM_TIMEOUT_S", "20")))
    except ValueError:
        return 20.0


# ---------------------------------------------------------------- redaction hook
_redactor: Callable[[str], str] | None = None


def set_redactor(fn: Callable[[str], str] | None) -> None:
    """Install the function applied to every message text sent to an external server
    (the ``openai`` back-end). ``None`` restores the identity. ``ANXIN_REDACT=0``
    bypasses the hook (debugging against a trusted local server)."""
    global _redactor
    _redactor = fn


def redact(text: str) -> str:
    """``text`` through the installed redactor (identity when none is installed)."""
    fn = _redactor
    if fn is None or os.environ.get("ANXIN_REDACT", "1") == "0" or not text:
        return text
    return fn(text)


def _redact_content(content: Any) -> Any:
    if isinstance(content, str):
        return redact(content)
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, str):
                out.append(redact(part))
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                out.append({**part, "text": redact(part["text"])})
            else:
                out.append(part)
        return out
    return content


def redact_messages(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """Copies of ``messages`` whose text content went through :func:`redact`."""
    return [m.model_copy(update={"content": _redact_content(m.content)}) for m in messages]


# ---------------------------------------------------------------- message helpers
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool",
          "AIMessageChunk": "assistant", "developer": "system", "function": "tool"}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in content
                       if isinstance(p, (str, dict)))
    return str(content or "")


def to_dicts(messages: Messages) -> list[dict[str, str]]:
    """Messages (dicts or LangChain messages) as ``[{"role", "content"}]`` with text content."""
    out: list[dict[str, str]] = []
    for m in messages:
        if isinstance(m, BaseMessage):
            out.append({"role": _ROLES.get(m.type, "user"), "content": _text(m.content)})
        else:
            out.append({"role": str(m.get("role", "user")), "content": _text(m.get("content", ""))})
    return out


def _repair_truncated(text: str) -> Any:
    """A JSON object cut off by the token limit, closed after its last complete member."""
    start = text.find("{")
    if start < 0:
        return None
    body = text[start:]
    for _ in range(40):
        cut = body.rfind(",")
        if cut <= 0:
            return None
        body = body[:cut]
        depth = body.count("{") - body.count("}")
        if depth <= 0:
            continue
        try:
            return json.loads(body + "}" * depth)
        except ValueError:
            continue
    return None


def _json_object(text: str | None) -> dict[str, Any] | None:
    """The first JSON object in ``text`` (models sometimes wrap it in prose or fences, or
    run out of tokens before closing it)."""
    if not text:
        return None
    text = text.strip()
    try:
        value = json.loads(text)
    except ValueError:
        m = re.search(r"\{.*\}", text, re.DOTALL)
        try:
            value = json.loads(m.group(0)) if m else None
        except ValueError:
            value = None
        if value is None:
            value = _repair_truncated(text)
    return value if isinstance(value, dict) else None


def _match_label(value: Any, labels: Sequence[str]) -> str | None:
    if not isinstance(value, str):
        return None
    key = value.strip().strip('"').strip().lower()
    for label in labels:
        if label.lower() == key:
            return label
    return None


def _label_schema(labels: Sequence[str]) -> dict[str, Any]:
    return {"type": "object", "properties": {"label": {"type": "string", "enum": list(labels)}},
            "required": ["label"], "additionalProperties": False}


def _nullable(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The grammar schema of an extraction: every top-level property present and allowed
    to be ``null`` (a grammar that forbids null makes a small model invent a value)."""
    props = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(props, Mapping) or not props:
        return dict(schema)
    out = {k: (v if v.get("type") == "null" or {"type": "null"} in v.get("anyOf", []) else
               {"anyOf": [dict(v), {"type": "null"}]}) for k, v in props.items() if isinstance(v, Mapping)}
    return {"type": "object", "properties": out, "required": list(out), "additionalProperties": False}


def _clean_extracted(value: dict[str, Any] | None, schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """Keep the schema's properties (unless it allows others) and drop nulls."""
    if value is None:
        return None
    props = schema.get("properties")
    if isinstance(props, Mapping) and schema.get("additionalProperties") is not True:
        value = {k: v for k, v in value.items() if k in props}
    return {k: v for k, v in value.items() if v is not None and v != ""}


def tool_schemas(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """Tools (OpenAI schema dicts or LangChain tools) as OpenAI function schemas."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    out = []
    for tool in tools:
        if isinstance(tool, Mapping) and tool.get("type") == "function":
            out.append(dict(tool))
        else:
            out.append(convert_to_openai_tool(tool))
    return out


def _valid_calls(calls: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    known = {t["function"]["name"] for t in tools}
    out = []
    for call in calls:
        name, args = call.get("name"), call.get("args")
        if name in known:
            out.append({"name": name, "args": dict(args) if isinstance(args, Mapping) else {}})
    return out


def _params_of(tools: Sequence[Mapping[str, Any]], name: str) -> dict[str, Any]:
    for tool in tools:
        if tool["function"]["name"] == name:
            return dict((tool["function"].get("parameters") or {}).get("properties") or {})
    return {}


def _stated_args(args: Mapping[str, Any], props: Mapping[str, Any], said: str) -> dict[str, Any]:
    """Arguments a small model proposed, kept only when the tool has that parameter and
    the value is a boolean, one of the parameter's enum values, or appears in what the
    customer wrote (a 1.5B model invents names, dates and ids otherwise)."""
    text = said.casefold()
    out: dict[str, Any] = {}
    for key, value in args.items():
        spec = props.get(key)
        if not isinstance(spec, Mapping) or value is None or isinstance(value, (dict, list)):
            continue
        if isinstance(value, bool) or value in (spec.get("enum") or []):
            out[key] = value
            continue
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        if shown and shown.casefold() in text:
            out[key] = value
    return out


def _use_fast(fast: bool | None) -> bool:
    """Whether a constrained call goes to the fast tier. Default (``ANXIN_LLM_FAST``
    unset): no. Measured here, the 0.5B labelled 3/8 intents and 4/6 emotions right
    where the 1.5B labelled 8/8 and 6/6, and with cached prompt prefixes the 1.5B only
    evaluates the customer's words, so it is the better default."""
    if fast is not None:
        return fast
    return os.environ.get("ANXIN_LLM_FAST", "") == "1"


# ---------------------------------------------------------------- interface
class LLMBackend(ABC):
    """One language-model back-end. Every method returns ``None`` (or yields nothing)
    instead of raising when the model fails, times out or answers junk."""

    name: str = "none"
    available: bool = False
    chat_model: BaseChatModel | None = None
    fallback_reason: str | None = None

    @abstractmethod
    def stream(self, messages: Messages, *, max_tokens: int = 120, temperature: float = 0.2,
               stop: list[str] | None = None, timeout_s: float | None = None) -> Iterator[str]:
        """Token deltas of the reply; stops at the deadline; raises nothing (yields nothing on failure)."""

    def generate(self, messages: Messages, *, max_tokens: int = 120, temperature: float = 0.2,
                 stop: list[str] | None = None, timeout_s: float | None = None) -> str | None:
        """The whole reply, stripped; ``None`` on failure, timeout or an empty reply."""
        timed_out = [False]
        parts = list(self._stream(messages, max_tokens=max_tokens, temperature=temperature, stop=stop,
                                  timeout_s=timeout_s, timed_out=timed_out))
        text = "".join(parts).strip()
        if timed_out[0]:
            log.info("%s: generate timed out after %d tokens", self.name, len(parts))
            return None
        return text or None

    def _stream(self, messages: Messages, *, max_tokens: int, temperature: float, stop: list[str] | None,
                timeout_s: float | None, timed_out: list[bool]) -> Iterator[str]:
        yield from self.stream(messages, max_tokens=max_tokens, temperature=temperature, stop=stop,
                               timeout_s=timeout_s)

    def _complete_json(self, messages: list[dict[str, str]], schema: Mapping[str, Any] | None, *,
                       max_tokens: int, timeout_s: float, fast: bool) -> str | None:
        """Raw JSON text of a constrained call (``schema`` None: any JSON object)."""
        return None

    def classify(self, text: str, labels: Sequence[str], *, instructions: str,
                 timeout_s: float = CLASSIFY_TIMEOUT_S, fast: bool | None = None) -> str | None:
        """One of ``labels`` for ``text`` (the model answers ``{"label": ...}``), else ``None``.

        ``fast`` picks the local fast tier (0.5B); ``None``: ``ANXIN_LLM_FAST=1`` says so."""
        if not labels or not text or not text.strip():
            return None
        raw = self._complete_json(prompts.classify_messages(text, labels, instructions), _label_schema(labels),
                                  max_tokens=24, timeout_s=timeout_s, fast=_use_fast(fast))
        obj = _json_object(raw)
        label = _match_label(obj.get("label") if obj else raw, labels)
        if raw is not None and label is None:
            log.info("%s: classify answered outside the labels: %r", self.name, raw[:80])
        return label

    def extract_json(self, text: str, schema: dict[str, Any], *, instructions: str,
                     timeout_s: float = EXTRACT_TIMEOUT_S, fast: bool | None = None) -> dict[str, Any] | None:
        """The object of ``schema`` found in ``text`` (unknown keys and nulls removed), else ``None``.
        ``fast`` as in :meth:`classify`."""
        if not text or not text.strip():
            return None
        raw = self._complete_json(prompts.extract_messages(text, schema, instructions), _nullable(schema),
                                  max_tokens=160, timeout_s=timeout_s, fast=_use_fast(fast))
        return _clean_extracted(_json_object(raw), schema)

    def bind_tools(self, tools: Sequence[ToolSpec]) -> Any | None:
        """A LangChain runnable with native function calling over ``tools``
        (``openai`` back-end only; ``None`` elsewhere)."""
        return None

    def choose_tool(self, messages: Messages, tools: Sequence[ToolSpec], *,
                    timeout_s: float = TOOL_TIMEOUT_S) -> list[dict[str, Any]] | None:
        """Tool calls ``[{"name", "args"}]`` the model proposes for the conversation
        (``[]``: no tool fits; ``None``: no answer). Names are checked against ``tools``;
        arguments are only a proposal the caller must validate and confirm."""
        schemas = tool_schemas(tools)
        if not schemas:
            return None
        names = [t["function"]["name"] for t in schemas] + ["none"]
        schema = {"type": "object", "properties": {"tool": {"type": "string", "enum": names},
                                                   "args": {"type": "object"}},
                  "required": ["tool", "args"]}
        conversation = to_dicts(messages)
        raw = self._complete_json(prompts.tool_choice_messages(schemas, conversation), schema,
                                  max_tokens=128, timeout_s=timeout_s, fast=False)
        obj = _json_object(raw)
        if obj is None:
            return None
        if obj.get("tool") == "none":
            return []
        calls = _valid_calls([{"name": obj.get("tool"), "args": obj.get("args")}], schemas)
        said = " ".join(m["content"] for m in conversation if m["role"] == "user")
        return [{"name": c["name"], "args": _stated_args(c["args"], _params_of(schemas, c["name"]), said)}
                for c in calls]

    def warm_up(self) -> None:
        """Load the models and prime the cache of the fixed system prompt (no-op by default)."""

    def info(self) -> dict[str, Any]:
        """What this back-end is, for ``anxin chat`` and benchmarks."""
        return {"name": self.name, "available": self.available, "fallback_reason": self.fallback_reason}


class NoneBackend(LLMBackend):
    """No model: every call returns ``None`` / yields nothing, so callers use templates."""

    name = "none"
    available = True

    def __init__(self, fallback_reason: str | None = None, requested: str = "none") -> None:
        self.fallback_reason = fallback_reason
        self.requested = requested

    def stream(self, messages: Messages, *, max_tokens: int = 120, temperature: float = 0.2,
               stop: list[str] | None = None, timeout_s: float | None = None) -> Iterator[str]:
        """Yields nothing."""
        return iter(())

    def generate(self, messages: Messages, **kwargs: Any) -> str | None:
        """Always ``None``."""
        return None

    def classify(self, text: str, labels: Sequence[str], **kwargs: Any) -> str | None:
        """Always ``None``."""
        return None

    def extract_json(self, text: str, schema: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        """Always ``None``."""
        return None

    def choose_tool(self, messages: Messages, tools: Sequence[ToolSpec], **kwargs: Any) -> list[dict[str, Any]] | None:
        """Always ``None``."""
        return None

    def info(self) -> dict[str, Any]:
        """Name, requested back-end and why it fell back (if it did)."""
        return {**super().info(), "requested": self.requested}


# ---------------------------------------------------------------- local (llama-cpp-python)
def _max_threads() -> int:
    """Most llama.cpp threads a call may use: ``ANXIN_LLM_THREADS`` as a number, else 2
    (never more than the CPUs)."""
    value = os.environ.get("ANXIN_LLM_THREADS", "auto").strip().lower()
    cpus = os.cpu_count() or 2
    if value.isdigit() and int(value) > 0:
        return int(value)
    return max(1, min(2, cpus))


def _threads_now() -> int:
    """Threads for the next call. A fixed ``ANXIN_LLM_THREADS`` is used as given. With
    ``auto`` (default) the call uses every allowed thread on an idle CPU and one thread
    when other work is runnable right now: llama.cpp's threads wait for each other at
    every layer, so on a shared 2-core machine two threads ran 2-30x slower than one
    (measured: 1.5B generation 0.3-1.9 vs 7.3 tokens/s at load average ~4)."""
    limit = _max_threads()
    if os.environ.get("ANXIN_LLM_THREADS", "auto").strip().lower() != "auto" or limit == 1:
        return limit
    try:
        samples = []
        for _ in range(4):
            with open("/proc/loadavg") as fh:
                samples.append(int(fh.read().split()[3].split("/")[0]))
            time.sleep(0.002)
        busy = min(samples) - 1  # this thread, reading, is one of the runnable ones
    except (OSError, ValueError, IndexError):
        return limit
    return limit if busy + limit <= (os.cpu_count() or limit) else 1


def _prefix_states() -> int:
    """``ANXIN_LLM_PREFIX_STATES`` (default 8; 0 turns it off): how many KV states of
    fixed prompt prefixes each local model keeps, so calls that alternate system prompts
    (intent, emotion, slots, phrasing) each resume from their own evaluated prefix."""
    try:
        return max(0, int(os.environ.get("ANXIN_LLM_PREFIX_STATES", "8")))
    except ValueError:
        return 8


class _LocalModel:
    """One GGUF model, loaded on first use and kept; calls are serialised by ``lock``
    (a llama.cpp context is not thread-safe)."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label
        self.lock = threading.Lock()
        self.llm: Any | None = None
        self.load_s: float | None = None
        self._grammars: dict[str, Any] = {}
        self._states: OrderedDict[str, tuple[Any, int, bytes]] = OrderedDict()
        self._current: str | None = None  # prefix key whose tokens the context holds
        self.threads = 0

    def set_threads(self, n: int) -> None:
        """Use ``n`` threads for the next evaluation (caller holds ``lock``)."""
        if n != self.threads and self.llm is not None:
            import llama_cpp

            llama_cpp.llama_set_n_threads(self.llm._ctx.ctx, n, n)
            self.threads = n

    # llama-cpp-python's own LlamaRAMCache also copies the (n_tokens x vocabulary) score
    # matrix into every entry (~150 MB for a 250-token prompt of a Qwen model) without
    # counting it, so the few prefix states needed here are kept directly: token ids plus
    # llama.cpp's compact state (a few MB).
    def restore_prefix(self, key: str) -> None:
        """Before a call whose messages (all but the last) hash to ``key``: load the saved
        KV state of that prefix unless the context already holds it (caller holds ``lock``)."""
        if key == self._current or key not in self._states:
            return
        import ctypes

        import llama_cpp

        ids, n_tokens, data = self._states[key]
        llm = self.get()
        buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if llama_cpp.llama_state_set_data(llm._ctx.ctx, buf, len(data)) != len(data):
            llm.reset()
            self._current = None
            return
        llm.input_ids[:n_tokens] = ids
        llm.n_tokens = n_tokens
        llm._requires_eval = True
        self._states.move_to_end(key)
        self._current = key

    def save_prefix(self, key: str) -> None:
        """After a completed call: remember the context's state under ``key`` (once)."""
        self._current = key
        limit = _prefix_states()
        if limit == 0 or key in self._states:
            return
        import ctypes

        import llama_cpp

        llm = self.get()
        size = llama_cpp.llama_state_get_size(llm._ctx.ctx)
        buf = (ctypes.c_uint8 * int(size))()
        n_bytes = int(llama_cpp.llama_state_get_data(llm._ctx.ctx, buf, size))
        if n_bytes <= 0 or n_bytes > size:
            return
        self._states[key] = (llm.input_ids[: llm.n_tokens].copy(), llm.n_tokens, ctypes.string_at(buf, n_bytes))
        while len(self._states) > limit:
            self._states.popitem(last=False)

    def get(self) -> Any:
        """The ``Llama`` object (caller holds ``lock``)."""
        if self.llm is None:
            from llama_cpp import Llama

            t0 = time.perf_counter()
            threads = _max_threads()
            self.llm = Llama(model_path=str(self.path), n_ctx=2048, n_threads=threads, n_threads_batch=threads,
                             n_batch=256, verbose=False, use_mlock=False)
            self.threads = threads
            self.load_s = time.perf_counter() - t0
            log.info("loaded %s in %.1f s", self.path.name, self.load_s)
        return self.llm

    def grammar(self, schema: Mapping[str, Any] | None) -> Any:
        """A cached ``LlamaGrammar`` for a JSON schema (any JSON object when ``None``;
        a label enum becomes a small exact grammar)."""
        key = json.dumps(schema, sort_keys=True) if schema is not None else ""
        if key not in self._grammars:
            from llama_cpp import LlamaGrammar

            text = _label_gbnf(schema)
            if text is not None:
                self._grammars[key] = LlamaGrammar.from_string(text, verbose=False)
            else:
                try:
                    self._grammars[key] = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False) \
                        if schema is not None else None
                except Exception:  # a schema the converter does not handle: plain JSON
                    log.info("JSON schema not convertible to a grammar; using generic JSON")
                    self._grammars[key] = None
                if self._grammars[key] is None:
                    from llama_cpp.llama_grammar import JSON_GBNF

                    self._grammars[key] = LlamaGrammar.from_string(JSON_GBNF, verbose=False)
        return self._grammars[key]


def _prefix_key(messages: list[dict[str, str]]) -> str:
    """A key for the fixed part of a prompt: every message but the last."""
    import hashlib

    return hashlib.sha1(json.dumps(messages[:-1], ensure_ascii=False).encode()).hexdigest()


def _gbnf_literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label_gbnf(schema: Mapping[str, Any] | None) -> str | None:
    """An exact GBNF grammar for ``{"label": "<one of the enum>"}``; ``None`` for other schemas."""
    if not schema or set(schema.get("properties", {})) != {"label"}:
        return None
    labels = schema["properties"]["label"].get("enum")
    if not labels:
        return None
    alts = " | ".join(_gbnf_literal(str(label)) for label in labels)
    return f'root ::= "{{\\"label\\": \\"" label "\\"}}"\nlabel ::= {alts}\n'


class LlamaCppChatModel(BaseChatModel):
    """The local back-end as a LangChain chat model (``_generate`` and ``_stream``);
    failures raise :class:`LLMError`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    backend: Any = Field(exclude=True)
    max_tokens: int = 120
    temperature: float = 0.2
    timeout_s: float | None = None

    @property
    def _llm_type(self) -> str:
        return "anxin-llama-cpp"

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"max_tokens": int(kwargs.get("max_tokens", self.max_tokens)),
                "temperature": float(kwargs.get("temperature", self.temperature)),
                "stop": stop, "timeout_s": kwargs.get("timeout_s", self.timeout_s)}

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        text = self.backend.generate(messages, **self._params(stop, kwargs))
        if text is None:
            raise LLMError("local model gave no answer (failure or timeout)")
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: Any = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for delta in self.backend.stream(messages, **self._params(stop, kwargs)):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
            if run_manager is not None:
                run_manager.on_llm_new_token(delta, chunk=chunk)
            yield chunk


class LocalBackend(LLMBackend):
    """The embedded GGUF models through llama-cpp-python: ``model_path`` writes answers,
    ``fast_model_path`` (optional) classifies and extracts."""

    name = "local"
    available = True

    def __init__(self, model_path: Path, fast_model_path: Path | None = None) -> None:
        self.main = _LocalModel(Path(model_path), MAIN_MODEL)
        self.fast = _LocalModel(Path(fast_model_path), FAST_MODEL) if fast_model_path else None
        self.chat_model = LlamaCppChatModel(backend=self)

    def _model(self, fast: bool) -> _LocalModel:
        return self.fast if fast and self.fast is not None else self.main

    def _run(self, model: _LocalModel, messages: list[dict[str, str]], *, max_tokens: int, temperature: float,
             stop: list[str] | None, timeout_s: float | None, timed_out: list[bool],
             grammar_schema: Mapping[str, Any] | None | bool = False) -> Iterator[str]:
        """Token deltas of one llama.cpp chat completion, under the model's lock, until
        the deadline. The prompt evaluation itself cannot be interrupted; the deadline is
        enforced while waiting for the lock and between generated tokens."""
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else default_timeout())
        if not model.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            timed_out[0] = True
            log.info("%s busy past the deadline", model.label)
            return
        stream = None
        key = _prefix_key(messages)
        completed = False
        try:
            llm = model.get()
            model.set_threads(_threads_now())
            model.restore_prefix(key)
            kwargs: dict[str, Any] = {}
            if grammar_schema is not False:
                kwargs["grammar"] = model.grammar(grammar_schema)  # type: ignore[arg-type]
            stream = llm.create_chat_completion(
                messages=messages, max_tokens=max(1, min(int(max_tokens), MAX_LOCAL_TOKENS)),
                temperature=temperature, stop=stop or None, stream=True, **kwargs)
            for chunk in stream:
                delta = chunk["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta
                if chunk["choices"][0].get("finish_reason") is not None:
                    completed = True
                elif time.monotonic() > deadline:
                    timed_out[0] = True
                    break
            completed = completed or not timed_out[0]
        except Exception:
            timed_out[0] = True
            completed = False
            model._current = None
            log.warning("%s: local model call failed", model.label, exc_info=True)
        finally:
            if stream is not None:
                try:
                    stream.close()
                except Exception:
                    pass
            try:
                if completed:
                    model.save_prefix(key)
            except Exception:
                log.debug("prefix state not saved", exc_info=True)
            model.lock.release()

    def _stream(self, messages: Messages, *, max_tokens: int, temperature: float, stop: list[str] | None,
                timeout_s: float | None, timed_out: list[bool]) -> Iterator[str]:
        yield from self._run(self.main, to_dicts(messages), max_tokens=max_tokens, temperature=temperature,
                             stop=stop, timeout_s=timeout_s, timed_out=timed_out)

    def stream(self, messages: Messages, *, max_tokens: int = 120, temperature: float = 0.2,
               stop: list[str] | None = None, timeout_s: float | None = None) -> Iterator[str]:
        """Token deltas from the answer model until the deadline. Consume or close the
        iterator promptly: it holds the model's lock while open."""
        return self._run(self.main, to_dicts(messages), max_tokens=max_tokens, temperature=temperature,
                         stop=stop, timeout_s=timeout_s, timed_out=[False])

    def _complete_json(self, messages: list[dict[str, str]], schema: Mapping[str, Any] | None, *,
                       max_tokens: int, timeout_s: float, fast: bool) -> str | None:
        timed_out = [False]
        text = "".join(self._run(self._model(fast), messages, max_tokens=max_tokens, temperature=0.0, stop=None,
                                 timeout_s=timeout_s, timed_out=timed_out, grammar_schema=schema))
        return None if timed_out[0] else (text or None)

    def warm_up(self) -> None:
        """Load the answer model (and the fast one when ``ANXIN_LLM_FAST=1``) and evaluate
        the fixed advisor prompt prefix once, so the first phrasing call only evaluates
        its own user message. Takes a few seconds; call it at server start."""
        probe = prompts.phrase_messages("en", "greeting", "-", "hi")
        list(self._run(self.main, probe, max_tokens=1, temperature=0.0, stop=None, timeout_s=120,
                       timed_out=[False]))
        if self.fast is not None and _use_fast(None):
            with self.fast.lock:
                self.fast.get()

    def info(self) -> dict[str, Any]:
        """Name, model files, whether they are loaded and their load times."""
        return {**super().info(), "model": self.main.label, "model_path": str(self.main.path),
                "loaded": self.main.llm is not None, "load_s": self.main.load_s,
                "threads": os.environ.get("ANXIN_LLM_THREADS", "auto"), "max_threads": _max_threads(),
                "fast_model": self.fast.label if self.fast else None,
                "fast_model_path": str(self.fast.path) if self.fast else None,
                "fast_loaded": bool(self.fast and self.fast.llm is not None),
                "fast_load_s": self.fast.load_s if self.fast else None}


# ---------------------------------------------------------------- OpenAI-compatible server
_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="anxin-llm")
        return _POOL


def _redacting_chat_openai() -> type:
    from langchain_openai import ChatOpenAI

    class RedactingChatOpenAI(ChatOpenAI):
        """``ChatOpenAI`` that passes every message through :func:`redact` before sending."""

        def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                      run_manager: Any = None, **kwargs: Any) -> ChatResult:
            return super()._generate(redact_messages(messages), stop=stop, run_manager=run_manager, **kwargs)

        def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,  # type: ignore[override]
                    run_manager: Any = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
            return super()._stream(redact_messages(messages), stop=stop, run_manager=run_manager, **kwargs)

        async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                             run_manager: Any = None, **kwargs: Any) -> ChatResult:
            return await super()._agenerate(redact_messages(messages), stop=stop, run_manager=run_manager,
                                            **kwargs)

        def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,  # type: ignore[override]
                     run_manager: Any = None, **kwargs: Any) -> Any:
            return super()._astream(redact_messages(messages), stop=stop, run_manager=run_manager, **kwargs)

    return RedactingChatOpenAI


class OpenAIBackend(LLMBackend):
    """Any OpenAI-compatible chat-completions server through ``langchain-openai``.
    Message texts pass through :func:`redact` before they are sent."""

    name = "openai"
    available = True

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 timeout_s: float | None = None, http_client: Any = None) -> None:
        self.model = model or os.environ.get("ANXIN_MODEL", "gpt-4o-mini")
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.timeout_s = timeout_s if timeout_s is not None else default_timeout()
        kwargs: dict[str, Any] = {}
        if http_client is not None:
            kwargs["http_client"] = http_client
        self.chat_model = _redacting_chat_openai()(
            model=self.model, base_url=self.base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
            timeout=self.timeout_s, max_retries=1, temperature=0.2, **kwargs)

    def _deadline_call(self, fn: Callable[[], Any], timeout_s: float | None) -> Any:
        """``fn()`` with a hard deadline: ``None`` on timeout or any error (the request
        itself also carries the timeout, so an abandoned call ends soon after)."""
        t = timeout_s if timeout_s is not None else self.timeout_s
        future = _pool().submit(fn)
        try:
            return future.result(timeout=t + 0.05)
        except concurrent.futures.TimeoutError:
            log.info("openai: call timed out after %.1f s", t)
        except Exception as exc:
            log.warning("openai: call failed: %s", exc)
        return None

    def _invoke(self, messages: Messages, timeout_s: float | None, **kwargs: Any) -> AIMessage | None:
        t = timeout_s if timeout_s is not None else self.timeout_s
        msgs = convert_to_messages(list(messages))
        return self._deadline_call(lambda: self.chat_model.invoke(msgs, timeout=t, **kwargs), t)

    def generate(self, messages: Messages, *, max_tokens: int = 120, temperature: float = 0.2,
                 stop: list[str] | None = None, timeout_s: float | None = None) -> str | None:
        """The server's reply text, stripped; ``None`` on failure, timeout or empty reply."""
        ai = self._invoke(messages, timeout_s, max_tokens=max_tokens, temperature=temperature, stop=stop)
        text = _text(ai.content).strip() if ai is not None else ""
        return text or None

    def stream(self, messages: Messages, *, max_tokens: int = 120, temperature: float = 0.2,
               stop: list[str] | None = None, timeout_s: float | None = None) -> Iterator[str]:
        """Token deltas from the server until the deadline; nothing on failure."""
        t = timeout_s if timeout_s is not None else self.timeout_s
        deadline = time.monotonic() + t
        msgs = convert_to_messages(list(messages))
        try:
            for chunk in self.chat_model.stream(msgs, max_tokens=max_tokens, temperature=temperature, stop=stop,
                                                timeout=t):
                delta = _text(chunk.content)
                if delta:
                    yield delta
                if time.monotonic() > deadline:
                    log.info("openai: stream cut at the deadline")
                    return
        except Exception as exc:
            log.warning("openai: stream failed: %s", exc)

    def _complete_json(self, messages: list[dict[str, str]], schema: Mapping[str, Any] | None, *,
                       max_tokens: int, timeout_s: float, fast: bool) -> str | None:
        ai = self._invoke(messages, timeout_s, max_tokens=max_tokens, temperature=0.0,
                          response_format={"type": "json_object"})
        return _text(ai.content) if ai is not None else None

    def bind_tools(self, tools: Sequence[ToolSpec]) -> Any:
        """``ChatOpenAI.bind_tools`` over ``tools`` (registry ``openai_schemas()`` or
        ``langchain_tools(ctx)``); messages are still redacted."""
        return self.chat_model.bind_tools(list(tools))

    def choose_tool(self, messages: Messages, tools: Sequence[ToolSpec], *,
                    timeout_s: float = TOOL_TIMEOUT_S) -> list[dict[str, Any]] | None:
        """Native tool calls proposed by the server (``[]`` when it answers in text)."""
        schemas = tool_schemas(tools)
        if not schemas:
            return None
        bound = self.chat_model.bind_tools(schemas)
        msgs = convert_to_messages(list(messages))
        ai = self._deadline_call(lambda: bound.invoke(msgs, timeout=timeout_s), timeout_s)
        if ai is None:
            return None
        return _valid_calls(getattr(ai, "tool_calls", None) or [], schemas)

    def info(self) -> dict[str, Any]:
        """Name, model, server URL and timeout."""
        return {**super().info(), "model": self.model, "base_url": self.base_url or "https://api.openai.com/v1",
                "timeout_s": self.timeout_s}


# ---------------------------------------------------------------- selection
_BACKENDS: dict[str, LLMBackend] = {}
_BACKENDS_LOCK = threading.Lock()
BACKEND_NAMES = ("local", "openai", "none")


def _model_file(name: str, env: str) -> Path | None:
    """A model file: the path in ``env`` if set, else the assembled registry model."""
    override = os.environ.get(env)
    if override:
        path = Path(override).expanduser()
        return path if path.is_file() else None
    try:
        from anxin import model_store

        if not model_store.is_ready(name):
            return None
        fname = next(iter(model_store.registry()[name]["files"]))
        path = model_store.model_dir(name) / fname
        return path if path.is_file() else None
    except Exception:
        log.debug("model %s not resolvable", name, exc_info=True)
        return None


def _make_local() -> LLMBackend:
    try:
        importlib.import_module("llama_cpp")
    except Exception as exc:  # ImportError, or a broken shared library
        reason = (f"llama-cpp-python is not installed ({exc.__class__.__name__}); "
                  "run `make llm` to build it")
        log.warning("LLM: %s; using templates only (ANXIN_LLM=none)", reason)
        return NoneBackend(fallback_reason=reason, requested="local")
    main = _model_file(MAIN_MODEL, "ANXIN_LLM_MODEL_PATH")
    if main is None:
        reason = f"model {MAIN_MODEL} is not assembled; run `anxin models assemble {MAIN_MODEL}`"
        log.warning("LLM: %s; using templates only (ANXIN_LLM=none)", reason)
        return NoneBackend(fallback_reason=reason, requested="local")
    fast = None if os.environ.get("ANXIN_LLM_FAST", "1") == "0" else _model_file(FAST_MODEL, "ANXIN_LLM_FAST_MODEL_PATH")
    return LocalBackend(main, fast)


def get_backend(name: str | None = None) -> LLMBackend:
    """The back-end ``name`` (default ``ANXIN_LLM``, else ``local``), created once per
    name and shared (thread-safe). ``local`` without llama-cpp-python or its model, and
    an unknown name, give the ``none`` back-end with ``fallback_reason`` set."""
    key = (name or os.environ.get("ANXIN_LLM") or "local").strip().lower()
    with _BACKENDS_LOCK:
        backend = _BACKENDS.get(key)
        if backend is None:
            if key == "local":
                backend = _make_local()
            elif key == "openai":
                try:
                    backend = OpenAIBackend()
                except Exception as exc:
                    reason = f"openai back-end unavailable: {exc}"
                    log.warning("LLM: %s; using templates only", reason)
                    backend = NoneBackend(fallback_reason=reason, requested="openai")
            elif key == "none":
                backend = NoneBackend()
            else:
                reason = f"unknown ANXIN_LLM={key!r} (expected one of {', '.join(BACKEND_NAMES)})"
                log.warning("LLM: %s; using templates only", reason)
                backend = NoneBackend(fallback_reason=reason, requested=key)
            _BACKENDS[key] = backend
        return backend


def reset_backends() -> None:
    """Forget the cached back-ends (tests; after changing ``ANXIN_LLM*`` variables)."""
    with _BACKENDS_LOCK:
        _BACKENDS.clear()


def backend_info(name: str | None = None) -> dict[str, Any]:
    """``{name, available, fallback_reason, model, model_path, ...}`` of the back-end in use."""
    return get_backend(name).info()

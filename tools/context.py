"""The runtime every advisor tool runs in: :class:`ToolContext` and the shared call wrapper.

A tool module (``anxin.tools.quote`` ...) declares ``NAME``, ``DESCRIPTION``, an
``Input`` and an ``Output`` pydantic model and an ``invoke(inp, ctx)`` function.
:func:`execute` is what its public ``run(args, ctx)`` does: parse the arguments
(a dict, or a JSON string), validate them against ``Input``, call ``invoke`` and
return plain JSON data. It never raises: every failure comes back as the wire form
of a :class:`~anxin.tools.errors.ToolError` (``{"error": {"code", "message", ...}}``):

* malformed JSON / not an object           -> ``MALFORMED_REQUEST``
* a required argument missing (pydantic)   -> ``MISSING_PARAM`` with the ``field``
* an argument not in the schema            -> ``INVALID_PARAM`` with the ``field``
* a value of the wrong type or range       -> ``INVALID_VALUE`` with the ``field``
* a ``ToolError`` of the engine or service -> passed through unchanged
* anything else                            -> ``INTERNAL_ERROR``, logged, no traceback

:class:`ToolContext` carries what lasts longer than one call: the conversation's
``session_id``, the identity verified in it (so a customer verifies once per
session), the reply language, a database session factory and the retrieval
collection.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from anxin.config import DEFAULT_COLLECTION
from anxin.tools.errors import ToolError

log = logging.getLogger("anxin.tools")

#: Fields every verification-gated tool accepts (demo_data ``meta.verification``).
VERIFICATION_FIELDS = ("id_last4", "name", "dob")


@dataclass
class ToolContext:
    """Per-conversation state shared by the tools.

    ``session_id`` names the conversation (a fresh random id when not given, so two
    contexts never share verification attempts or hand-off tickets by accident).

    ``identity`` is the ``VerifiedIdentity`` returned by
    :func:`anxin.db.verification.verify_identity` once the customer passed
    verification in this session; claim tools reuse it instead of asking again.
    ``db_factory`` returns a context manager yielding a SQLAlchemy session (default
    :func:`default_session_scope`: :func:`anxin.db.engine.session_scope` on
    ``ANXIN_DB_URL`` or SQLite under ``ANXIN_HOME``, migrated and seeded on first use). ``searcher`` may replace the retrieval searcher of
    ``collection`` (tests, other back-ends). ``today`` fixes "today" for date checks
    (default: the filing's ``meta.as_of_date``).

    ``restore_identity``: when True (a server that builds a fresh context per turn for
    a session id it controls), a verification stored in the database for
    ``session_id`` is reused; when False (default, the CLI) only ``identity`` held by
    this context object counts. A ``session_id`` *argument* of a tool call never
    unlocks a stored verification: only the caller's context can.
    """

    session_id: str = field(default_factory=lambda: f"session-{uuid.uuid4().hex[:12]}")
    language: str = "zh"
    identity: Any | None = None
    db_factory: Callable[[], contextlib.AbstractContextManager[Any]] | None = None
    collection: str = DEFAULT_COLLECTION
    searcher: Any | None = None
    today: dt.date | None = None
    actor: str = "advisor"
    restore_identity: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_session(cls, session_id: str, **kwargs: Any) -> "ToolContext":
        """A context for a server-controlled conversation id (restores its verification)."""
        kwargs.setdefault("restore_identity", True)
        return cls(session_id=session_id, **kwargs)

    @property
    def verified(self) -> bool:
        """Whether a customer has passed identity verification in this session."""
        return self.identity is not None

    @contextlib.contextmanager
    def db(self) -> Iterator[Any]:
        """A database session (committed on success, rolled back on error)."""
        factory = self.db_factory
        if factory is None:
            factory = default_session_scope()
        with factory() as session:
            yield session

    def get_searcher(self) -> Any:
        """The retrieval searcher for ``collection`` (or the injected one)."""
        if self.searcher is not None:
            return self.searcher
        from anxin.knowledge.retrieval import get_searcher

        return get_searcher(self.collection)


_ensured: set[str] = set()
_ensure_lock = threading.Lock()


def default_session_scope() -> Callable[[], contextlib.AbstractContextManager[Any]]:
    """``anxin.db``'s unit-of-work context manager for the configured database
    (``ANXIN_DB_URL``, else SQLite under ``ANXIN_HOME``). The first use in a process
    migrates it to head and loads the demo data into an empty one
    (:func:`anxin.db.ensure_database`). Imported late: most tools need no database."""
    from anxin.db import ensure_database
    from anxin.db.engine import database_url, session_scope

    url = database_url()
    with _ensure_lock:
        if url not in _ensured:
            ensure_database(url)
            _ensured.add(url)
    return lambda: session_scope(url)


# --------------------------------------------------------------------------- argument handling

def parse_args(args: Any) -> dict[str, Any]:
    """Arguments as a dict: a mapping, a JSON object string, or None (= ``{}``)."""
    if args is None:
        return {}
    if isinstance(args, (str, bytes, bytearray)):
        try:
            args = json.loads(args)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ToolError("MALFORMED_REQUEST", f"arguments are not valid JSON ({exc.msg} at position {exc.pos})"
                            if isinstance(exc, json.JSONDecodeError) else "arguments are not valid UTF-8 JSON") from None
    if isinstance(args, BaseModel):
        args = args.model_dump(exclude_unset=True)
    if not isinstance(args, Mapping):
        raise ToolError("MALFORMED_REQUEST", f"arguments must be a JSON object, got {type(args).__name__}")
    bad = [k for k in args if not isinstance(k, str)]
    if bad:
        raise ToolError("MALFORMED_REQUEST", f"argument names must be strings: {bad!r}")
    return dict(args)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def validation_error(exc: ValidationError) -> ToolError:
    """The first pydantic error as a ToolError naming the field."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(p for p in err.get("loc", ()) if p != "__root__")
    field_name = _loc(loc) or None
    kind = err.get("type", "")
    ctx_field = (err.get("ctx") or {}).get("field")
    if ctx_field and not field_name:
        field_name = str(ctx_field)
    if kind == "missing" or kind.startswith("missing_"):
        return ToolError("MISSING_PARAM", f"'{field_name}' is required", field=field_name)
    if kind == "extra_forbidden":
        return ToolError("INVALID_PARAM", f"'{field_name}' is not an argument of this tool", field=field_name)
    msg = str(err.get("msg", "invalid value"))
    if kind == "value_error" and msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if msg.startswith("MISSING_PARAM:"):
        detail = msg.split(":", 1)[1].strip()
        return ToolError("MISSING_PARAM", detail, field=field_name or (detail.split() or [None])[0])
    value = err.get("input")
    shown = "" if isinstance(value, Mapping) or value is None else f"{field_name}={value!r}: "
    hint = ""
    if isinstance(value, str) and kind in ("int_parsing", "float_parsing", "decimal_parsing", "int_type", "float_type"):
        hint = " (write numbers as digits, e.g. 500000 for 五十万; words are not parsed here)"
    return ToolError("INVALID_VALUE", f"{shown}{msg}{hint}", field=field_name)


_WORD_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千万亿壹贰叁肆伍陆柒捌玖拾佰仟]")
_DIGITS_HINT = "write amounts as digits, e.g. 500000 for 五十万"


def with_digits_hint(err: ToolError, args: Mapping[str, Any]) -> ToolError:
    """An INVALID_VALUE about an argument written in Chinese number words ("五十万") gets
    the hint to send digits (the tools never parse words: that is the language layer's job)."""
    if err.code != "INVALID_VALUE" or not err.field or "digits" in err.detail:
        return err
    value: Any = args
    for part in err.field.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str) and _WORD_NUMBER.search(value):
        return ToolError(err.code, f"{err.detail} ({_DIGITS_HINT})", field=err.field)
    return err


def to_jsonable(value: Any) -> Any:
    """Plain JSON data from pydantic models, dataclasses, dates, Decimals, tuples, sets."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return to_jsonable(asdict(value))
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    try:
        from decimal import Decimal

        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
    except Exception:  # pragma: no cover
        pass
    return str(value)


def execute(name: str, input_model: type[BaseModel], output_model: type[BaseModel] | None,
            invoke: Callable[[Any, ToolContext], Any], args: Any, ctx: ToolContext | None) -> dict[str, Any]:
    """Validate ``args``, run ``invoke`` and return JSON data; failures as ``{"error": ...}``."""
    ctx = ctx if ctx is not None else ToolContext()
    try:
        raw = parse_args(args)
        try:
            inp = input_model.model_validate(raw)
        except ValidationError as exc:
            raise validation_error(exc) from None
        result = invoke(inp, ctx)
        if output_model is not None and not isinstance(result, BaseModel):
            try:
                result = output_model.model_validate(result)
            except ValidationError:
                log.exception("tool %s returned data that does not fit its Output model", name)
                raise ToolError("INTERNAL_ERROR") from None
        return to_jsonable(result)
    except ToolError as err:
        return err.to_dict()
    except Exception:  # the caller gets a code, the log gets the traceback
        log.exception("tool %s failed", name)
        return ToolError("INTERNAL_ERROR").to_dict()


def is_error(result: Mapping[str, Any]) -> bool:
    """Whether a tool result is an error object."""
    return isinstance(result, Mapping) and set(result) == {"error"}


def today(ctx: ToolContext | None) -> dt.date:
    """"Today" for date checks: ``ctx.today`` or the filing's ``meta.as_of_date``."""
    if ctx is not None and ctx.today is not None:
        return ctx.today
    from anxin.tools.pricing_inputs import as_of_date

    return as_of_date()

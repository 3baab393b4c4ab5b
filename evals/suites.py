"""Scripted conversation test suites (``conversation-tests.md``): loading and validation.

A suite file is YAML::

    suite: claims-zh
    lang: zh
    conversations:
      - id: claim-status-verified
        channel: web            # web | voice | copilot (default web)
        tags: [claims, auth]
        turns:
          - user: 我想查一下理赔进度
            expect: {intent: claim_status, no_tool: [claim_status]}
          - audio: audio/angry-claim-zh.wav     # relative to the suite file
            expect: {emotion: anger, handoff: true}

:func:`load_paths` expands files and folders (every ``*.yaml`` below a folder, sorted)
and returns the suites that loaded plus one :class:`LoadError` per problem. A problem
is always named with its file **and line** (taken from the YAML node tree, so a
misspelt key deep inside ``expect`` is reported at that key's line), and never stops
the other files:

* a YAML syntax error (nothing parses) counts as **one** failed conversation;
* a file that is not a mapping, or a bad top-level key (allowed: ``suite``, ``lang``,
  ``conversations``, ``description``) makes the whole file fail without running it:
  every conversation entry it holds counts as one failed conversation (at least 1);
* a bad conversation (unknown key, a turn with both or neither of ``user`` /
  ``audio``, a duplicate id, an invalid regular expression, ...) fails that
  conversation only; the valid conversations of the same file still run.

YAML is read with YAML 1.2 core-schema scalars: only ``true``/``false`` are booleans,
``0427`` stays the string ``"0427"`` (not an octal number), ``2026-06-25`` stays a string
(not a date) and ``10:30`` stays a string (not a base-60 number). Boolean keys still
accept ``yes``/``no``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

#: Channels a conversation may run on.
CHANNELS: tuple[str, ...] = ("web", "voice", "copilot")

#: Default tolerance of the ``numbers`` expectation.
DEFAULT_NUMBER_TOLERANCE = 0.01


# --------------------------------------------------------------------------- YAML

class SuiteLoader(yaml.SafeLoader):
    """A safe loader with YAML 1.2 core-schema scalar resolution (see the module doc)."""


_DROPPED_TAGS = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                 "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:null"}
SuiteLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SuiteLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
SuiteLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+|0o[0-7]+)$"),
    list("-+0123456789"))
SuiteLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|(?:0|[1-9][0-9]*)(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))
SuiteLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


def _construct_int(loader: SuiteLoader, node: yaml.ScalarNode) -> int:
    value = str(loader.construct_scalar(node))
    if value.startswith("0o"):
        return int(value[2:], 8)
    return int(value, 0) if value.startswith("0x") else int(value)


def _construct_float(loader: SuiteLoader, node: yaml.ScalarNode) -> float:
    value = str(loader.construct_scalar(node)).lower()
    if value.endswith(".inf"):
        return float("-inf") if value.startswith("-") else float("inf")
    if value == ".nan":
        return float("nan")
    return float(value)


SuiteLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
SuiteLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def parse_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """Parse one YAML document; return ``(data, node tree)`` (the tree maps data to lines).

    Raises :class:`yaml.YAMLError` (with a ``problem_mark``) on a syntax error.
    """
    loader = SuiteLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return data, node


def node_at(node: yaml.Node | None, loc: Iterable[Any]) -> tuple[yaml.Node | None, yaml.Node | None]:
    """Follow ``loc`` (mapping keys and sequence indexes, as in pydantic error locations)
    down the node tree. Returns ``(deepest node reached, key node of the last step)``;
    steps that do not exist in the tree (pydantic's union-branch names) stop the walk."""
    current = node
    key_node: yaml.Node | None = None
    for step in loc:
        if isinstance(current, yaml.MappingNode):
            for k, v in current.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(step):
                    key_node, current = k, v
                    break
            else:
                break
        elif isinstance(current, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(current.value):
            key_node, current = None, current.value[step]
        else:
            break
    return current, key_node


def line_at(node: yaml.Node | None, loc: Iterable[Any]) -> int | None:
    """1-based line of the element at ``loc`` (the key's line when ``loc`` ends at a key)."""
    if node is None:
        return None
    loc = list(loc)
    target, key_node = node_at(node, loc)
    # an unknown key is reported at the key itself; a bad value at its key when on one line
    chosen = key_node if key_node is not None else target
    return (chosen.start_mark.line + 1) if chosen is not None else None


# --------------------------------------------------------------------------- models

def _as_list(value: Any) -> Any:
    """A scalar where a list is expected becomes a one-item list."""
    if value is None:
        return value
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _as_text(value: Any) -> Any:
    """Numbers and booleans written where text is expected are taken as their text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ToolExpect(_Strict):
    """``tool: {name, args}``: a call of ``name`` whose arguments contain every ``args`` key."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        if isinstance(value, str):          # `tool: quote` is a call of quote with any arguments
            return {"name": value}
        return value

    @field_validator("args", mode="before")
    @classmethod
    def _args(cls, value: Any) -> Any:
        return {} if value is None else value


NumberValue = int | float | str


class NumberItem(_Strict):
    """One expected number and the tolerance it is compared with (absolute)."""

    value: NumberValue
    tolerance: float | None = None

    @field_validator("value", mode="after")
    @classmethod
    def _parseable(cls, value: NumberValue) -> NumberValue:
        if isinstance(value, bool):
            raise ValueError("a number is expected, not a boolean")
        if isinstance(value, str) and parse_expected_number(value) is None:
            raise ValueError(f"not a number: {value!r}")
        return value


class NumbersExpect(_Strict):
    """``numbers``: every value appears in the reply within its tolerance (default 0.01).

    Accepted shapes: ``[1234.5, "1,234.50", "50万"]``; ``{values: [...], tolerance: 0.5}``;
    ``{value: 88, tolerance: 1}``; list items ``{value: 88, tolerance: 1}``; a bare number;
    a list holding a lone ``{tolerance: x}`` item, which sets the list's tolerance; a map
    of labelled values ``{premium: 1234.5, tolerance: 0.5}``; and a ``tolerance`` key
    beside ``numbers`` in ``expect`` (used when ``numbers`` sets none itself).
    """

    values: list[NumberItem]
    tolerance: float = DEFAULT_NUMBER_TOLERANCE

    @model_validator(mode="before")
    @classmethod
    def _shapes(cls, value: Any) -> Any:
        if isinstance(value, dict):
            value = dict(value)
            if "value" not in value and "values" not in value:
                # a map of labelled values: {premium: 1234.5, sum_insured: 500000, tolerance: 0.5}
                out_map: dict[str, Any] = {"values": []}
                for key, item in value.items():
                    if key == "tolerance":
                        out_map["tolerance"] = item
                    else:
                        out_map["values"].extend(_as_list(item) or [])
                return out_map
            if "value" in value and "values" not in value:
                value["values"] = [value.pop("value")]
            if "values" in value:
                value["values"] = _as_list(value["values"])
            return value
        items = _as_list(value)
        if items is None:
            return value
        tolerance: Any = None
        values: list[Any] = []
        for item in items:
            if isinstance(item, dict) and set(item) == {"tolerance"}:
                tolerance = item["tolerance"]
            elif isinstance(item, dict):
                values.append(item)
            else:
                values.append({"value": item})
        out: dict[str, Any] = {"values": values}
        if tolerance is not None:
            out["tolerance"] = tolerance
        return out

    @field_validator("values", mode="before")
    @classmethod
    def _items(cls, value: Any) -> Any:
        items = _as_list(value)
        if isinstance(items, list):
            return [item if isinstance(item, dict) else {"value": item} for item in items]
        return items

    @field_validator("tolerance")
    @classmethod
    def _non_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError("tolerance must be >= 0")
        return value

    def items(self) -> list[tuple[NumberValue, float]]:
        """``(value, tolerance)`` pairs, each item's own tolerance winning over the list's."""
        return [(i.value, self.tolerance if i.tolerance is None else i.tolerance) for i in self.values]


_LIST_KEYS = ("tools", "no_tool", "reply_contains", "reply_contains_any", "reply_not_contains",
              "cites", "cites_any")
_TEXT_LIST_KEYS = ("no_tool", "reply_contains", "reply_contains_any", "reply_not_contains", "cites", "cites_any")


class Expect(_Strict):
    """Everything a turn must satisfy; every key optional, all given keys must hold."""

    intent: str | None = None
    tool: ToolExpect | None = None
    tools: list[ToolExpect] | None = None
    no_tool: list[str] | None = None
    reply_contains: list[str] | None = None
    reply_contains_any: list[str] | None = None
    reply_not_contains: list[str] | None = None
    reply_matches: list[str] | None = None
    numbers: NumbersExpect | None = None
    cites: list[str] | None = None
    cites_any: list[str] | None = None
    cites_product: list[str] | None = None
    emotion: str | None = None
    handoff: bool | None = None
    language: Literal["zh", "en"] | None = None
    grounded: bool | None = None
    max_latency_ms: float | None = None
    #: the tolerance of ``numbers`` written beside it (``numbers``' own wins)
    tolerance: float | None = None

    @field_validator(*_LIST_KEYS, "reply_matches", "cites_product", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator(*_TEXT_LIST_KEYS, "reply_matches", "cites_product", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [_as_text(v) for v in value]
        return value

    @field_validator("intent", "emotion", mode="before")
    @classmethod
    def _label(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("language", mode="before")
    @classmethod
    def _lang(cls, value: Any) -> Any:
        return _normalise_lang(value)

    @field_validator("reply_matches")
    @classmethod
    def _regex(cls, value: list[str] | None) -> list[str] | None:
        for pattern in value or []:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return value

    @field_validator("max_latency_ms")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and value < 0:
            raise ValueError("max_latency_ms must be >= 0")
        return value

    @model_validator(mode="after")
    def _numbers_tolerance(self) -> "Expect":
        if self.tolerance is not None:
            if self.tolerance < 0:
                raise ValueError("tolerance must be >= 0")
            if self.numbers is not None and "tolerance" not in self.numbers.model_fields_set:
                self.numbers.tolerance = self.tolerance
        return self

    def given(self) -> list[str]:
        """The expectation keys this expectation sets (``tolerance`` is part of ``numbers``)."""
        return [k for k in type(self).model_fields if k != "tolerance" and getattr(self, k) is not None]


def _normalise_lang(value: Any) -> Any:
    if isinstance(value, str):
        v = value.strip().lower().replace("_", "-")
        if v.startswith("zh") or v in ("cn", "chinese", "中文"):
            return "zh"
        if v.startswith("en") or v == "english":
            return "en"
    return value


class Turn(_Strict):
    """One user turn: text (``user``) or a voice file (``audio``), and what must hold after it."""

    user: str | None = None
    audio: str | None = None
    expect: Expect = Field(default_factory=Expect)
    #: 1-based line of the turn in its file (set by the loader).
    line: int | None = Field(default=None, exclude=True)
    #: ``audio`` resolved against the suite file's folder (set by the loader).
    audio_path: Path | None = Field(default=None, exclude=True)

    @field_validator("user", "audio", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return _as_text(value)

    @field_validator("expect", mode="before")
    @classmethod
    def _none(cls, value: Any) -> Any:
        return {} if value is None else value

    @model_validator(mode="after")
    def _exactly_one(self) -> "Turn":
        if (self.user is None) == (self.audio is None):
            raise ValueError("a turn needs exactly one of `user` (text) or `audio` (a sound file)")
        return self


class Conversation(_Strict):
    """A scripted conversation; each run starts a fresh session."""

    id: str
    description: str = ""
    channel: Literal["web", "voice", "copilot"] = "web"
    tags: list[str] = Field(default_factory=list)
    turns: list[Turn] = Field(min_length=1)
    #: 1-based line of the conversation in its file (set by the loader).
    line: int | None = Field(default=None, exclude=True)

    @field_validator("id", "description", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return "" if value is None else _as_text(value)

    @field_validator("channel", mode="before")
    @classmethod
    def _channel(cls, value: Any) -> Any:
        return "web" if value is None else (value.strip().lower() if isinstance(value, str) else value)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        value = _as_list(value)
        return [] if value is None else [_as_text(v) for v in value]


class SuiteHeader(_Strict):
    """The top level of a suite file (conversations validated one by one)."""

    suite: str | None = None
    lang: Literal["zh", "en"] | None = None
    description: str = ""
    conversations: list[Any]

    @field_validator("suite", "description", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return _as_text(value)

    @field_validator("lang", mode="before")
    @classmethod
    def _lang(cls, value: Any) -> Any:
        return _normalise_lang(value)

    @field_validator("conversations", mode="before")
    @classmethod
    def _none(cls, value: Any) -> Any:
        return [] if value is None else value


@dataclass
class Suite:
    """A loaded suite file: its valid conversations (invalid ones are :class:`LoadError`)."""

    name: str
    path: Path
    lang: str | None
    conversations: list[Conversation]
    description: str = ""


@dataclass
class LoadError:
    """A problem that kept (part of) a suite file from running.

    ``conversations`` is how many conversations the problem counts as failed: 1 for a bad
    conversation; for a whole-file problem every conversation entry of the file (at
    least 1)."""

    path: Path
    line: int | None
    message: str
    conversation_id: str | None = None
    conversations: int = 1
    suite: str | None = None
    #: the suite's language and the conversation's tags, where they could be read
    lang: str | None = None
    tags: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        what = f" (conversation {self.conversation_id})" if self.conversation_id else ""
        return f"{where}: {self.message}{what}"


@dataclass
class LoadResult:
    """What :func:`load_paths` found."""

    suites: list[Suite] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)
    #: paths given that do not exist or hold no ``*.yaml`` (usage errors)
    missing: list[Path] = field(default_factory=list)


# --------------------------------------------------------------------------- loading

def expand_paths(paths: Iterable[Path | str]) -> tuple[list[Path], list[Path]]:
    """Files to load (folders give every ``*.yaml`` below them, sorted; duplicates dropped)
    and the paths that do not exist or hold no suite file."""
    files: list[Path] = []
    missing: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*.yaml") if q.is_file())
            if not found:
                missing.append(p)
        elif p.is_file():
            found = [p]
        else:
            missing.append(p)
            found = []
        for q in found:
            key = q.resolve()
            if key not in seen:
                seen.add(key)
                files.append(q)
    return files, missing


def _format_validation(exc: ValidationError, root: yaml.Node | None, prefix: tuple[Any, ...]) -> tuple[int | None, str]:
    """First line and a readable message of a pydantic error located in the file."""
    lines: list[int] = []
    parts: list[str] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        where = ".".join(str(x) for x in loc if not _is_branch_name(x))
        line = line_at(root, prefix + loc)
        if line:
            lines.append(line)
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown key"
        parts.append(f"{where or '(top)'}: {msg}" + (f" (line {line})" if line else ""))
    return (min(lines) if lines else None), "; ".join(dict.fromkeys(parts))


def _is_branch_name(step: Any) -> bool:
    """pydantic inserts union-branch names (``function-after[...]``, ``str``...) in locations."""
    return isinstance(step, str) and ("[" in step or step in ("str", "int", "float", "list", "dict", "bool"))


def load_file(path: Path) -> tuple[Suite | None, list[LoadError]]:
    """Load one suite file; see the module doc for how problems are counted."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [LoadError(path, None, f"cannot read: {exc}")]
    try:
        data, root = parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        cmark = getattr(exc, "context_mark", None)
        if context and cmark is not None and mark is not None and cmark.line != mark.line:
            context += f" started at line {cmark.line + 1}"
        message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
        return None, [LoadError(path, line, message)]
    if not isinstance(data, dict):
        return None, [LoadError(path, 1 if root is None else root.start_mark.line + 1,
                                "a suite file must be a mapping with `suite`, `lang` and `conversations`")]
    raw_entries = data.get("conversations")
    entries: list[Any] = raw_entries if isinstance(raw_entries, list) else []
    try:
        header = SuiteHeader.model_validate(data)
    except ValidationError as exc:
        line, message = _format_validation(exc, root, ())
        lang = data.get("lang") if data.get("lang") in ("zh", "en") else None
        return None, [LoadError(path, line, message, conversations=max(1, len(entries)),
                                suite=str(data.get("suite") or path.stem), lang=lang)]
    name = header.suite or path.stem
    suite = Suite(name=name, path=path, lang=header.lang, conversations=[], description=header.description)
    errors: list[LoadError] = []
    seen: dict[str, int | None] = {}
    for i, entry in enumerate(header.conversations):
        conv_line = line_at(root, ("conversations", i))
        cid = str(entry.get("id")) if isinstance(entry, dict) and entry.get("id") is not None else None
        if not isinstance(entry, dict):
            errors.append(LoadError(path, conv_line, "a conversation must be a mapping with `id` and `turns`",
                                    suite=name, lang=header.lang))
            continue
        raw_tags = entry.get("tags")
        tags = [str(t) for t in raw_tags] if isinstance(raw_tags, list) else ([str(raw_tags)] if raw_tags else [])
        try:
            conv = Conversation.model_validate(entry)
        except ValidationError as exc:
            line, message = _format_validation(exc, root, ("conversations", i))
            errors.append(LoadError(path, line or conv_line, message, conversation_id=cid, suite=name,
                                    lang=header.lang, tags=tags))
            continue
        if conv.id in seen:
            errors.append(LoadError(path, line_at(root, ("conversations", i, "id")) or conv_line,
                                    f"duplicate conversation id {conv.id!r} (first at line {seen[conv.id]})",
                                    conversation_id=conv.id, suite=name, lang=header.lang, tags=tags))
            continue
        seen[conv.id] = conv_line
        conv.line = conv_line
        for j, turn in enumerate(conv.turns):
            turn.line = line_at(root, ("conversations", i, "turns", j))
            if turn.audio is not None:
                audio = Path(turn.audio).expanduser()
                turn.audio_path = audio if audio.is_absolute() else (path.parent / audio)
        suite.conversations.append(conv)
    return suite, errors


def load_paths(paths: Iterable[Path | str]) -> LoadResult:
    """Load every suite under ``paths``; problems are collected, never raised."""
    files, missing = expand_paths(paths)
    result = LoadResult(missing=missing)
    for f in files:
        suite, errors = load_file(f)
        if suite is not None:
            result.suites.append(suite)
        result.errors.extend(errors)
    return result


# --------------------------------------------------------------------------- numbers in expectations

def parse_expected_number(value: NumberValue) -> Decimal | None:
    """The value of an expected number: a YAML number, or text such as ``"1,234.50"``,
    ``"50万"``, ``"20%"`` (read by :func:`anxin.agent.numbers.find_numbers` when it is more
    than a plain decimal)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    text = str(value).strip()
    plain = text.replace(",", "").replace("，", "").replace(" ", "").replace("_", "")
    if plain.startswith("¥") or plain.startswith("￥"):
        plain = plain[1:]
    try:
        return Decimal(plain)
    except InvalidOperation:
        pass
    try:
        from anxin.agent.numbers import find_numbers
    except ImportError:
        return None
    mentions = find_numbers(text)
    if len(mentions) == 1:
        return Decimal(mentions[0].value)
    return None

"""The advisor's public tools: one module each, offered to an LLM in OpenAI or LangChain form.

Every module in :data:`TOOLS` has ``NAME``, ``DESCRIPTION`` (what it does and the policy
the caller must follow), ``Input`` / ``Output`` pydantic models and
``run(args, ctx=None) -> dict``. Tool and argument names are the public contract of
``shared/spec/conversation-tests.md``.

* :func:`call` ``(name, args, ctx)`` runs a tool and returns JSON data; failures come
  back as ``{"error": {"code", "message", ...}}`` (unknown tool: ``UNKNOWN_TOOL``).
* :func:`schema` / :func:`openai_schemas` give the function-calling schemas.
* :func:`langchain_tools` wraps each tool as a ``StructuredTool`` bound to a context.
"""
from __future__ import annotations

import copy
import importlib
import logging
from collections.abc import Mapping
from functools import lru_cache
from types import ModuleType
from typing import Any

from anxin.tools.context import ToolContext
from anxin.tools.errors import ToolError

log = logging.getLogger("anxin.tools")

#: Public tool names in the order of the spec table, mapped to their modules.
TOOL_MODULES: dict[str, str] = {
    "search_policy": "anxin.tools.search_policy",
    "quote": "anxin.tools.quote",
    "pre_underwrite": "anxin.tools.pre_underwrite",
    "simulate_premium": "anxin.tools.simulate_premium",
    "recommend": "anxin.tools.recommend",
    "claim_status": "anxin.tools.claim_status",
    "file_claim": "anxin.tools.file_claim",
    "handoff": "anxin.tools.handoff",
}


class _Tools(Mapping[str, ModuleType]):
    """name -> tool module, imported on first use (so a missing optional back-end
    only affects its own tool)."""

    def __getitem__(self, name: str) -> ModuleType:
        if name not in TOOL_MODULES:
            raise KeyError(name)
        return importlib.import_module(TOOL_MODULES[name])

    def __iter__(self):
        return iter(TOOL_MODULES)

    def __len__(self) -> int:
        return len(TOOL_MODULES)


TOOLS: Mapping[str, ModuleType] = _Tools()


def names() -> list[str]:
    """Public tool names."""
    return list(TOOL_MODULES)


def resolve(name: Any) -> str:
    """The canonical tool name (``pre-underwrite`` and ``Pre_Underwrite`` are accepted);
    raises ``UNKNOWN_TOOL``."""
    key = str(name).strip().lower().replace("-", "_") if isinstance(name, str) else None
    if key not in TOOL_MODULES:
        raise ToolError("UNKNOWN_TOOL", f"{name!r}; tools: {', '.join(TOOL_MODULES)}", field="name")
    return key


def get(name: str) -> ModuleType:
    """A tool's module by (loosely spelled) name; raises ``UNKNOWN_TOOL``."""
    return TOOLS[resolve(name)]


def _clean(node: Any) -> Any:
    """A JSON schema as an LLM reads it best: no pydantic per-property titles, and an
    optional field's ``anyOf: [{X}, {"type": "null"}]`` (default null) written as plain ``X``."""
    if isinstance(node, dict):
        branches = node.get("anyOf")
        if isinstance(branches, list) and len(branches) == 2 and {"type": "null"} in branches:
            (kept,) = [b for b in branches if b != {"type": "null"}]
            node = {**{k: v for k, v in node.items() if k != "anyOf"}, **kept}
        if "default" in node and node["default"] is None:
            node = {k: v for k, v in node.items() if k != "default"}
        out = {}
        for k, v in node.items():
            if k == "title" and isinstance(v, str):
                continue
            if k == "properties" and isinstance(v, dict):
                out[k] = {pk: _clean(pv) for pk, pv in v.items()}
            else:
                out[k] = _clean(v)
        return out
    if isinstance(node, list):
        return [_clean(v) for v in node]
    return node


@lru_cache(maxsize=None)
def _parameters(name: str) -> dict[str, Any]:
    mod = TOOLS[name]
    params = _clean(mod.Input.model_json_schema())
    params.pop("description", None)
    params.setdefault("type", "object")
    params.setdefault("properties", {})
    return params


def parameters(name: str) -> dict[str, Any]:
    """The JSON schema of a tool's arguments (from its Input model)."""
    return copy.deepcopy(_parameters(resolve(name)))


def schema(name: str) -> dict[str, Any]:
    """One tool in OpenAI function-calling form: ``{"type": "function", "function": {name, description, parameters}}``."""
    key = resolve(name)
    return {"type": "function",
            "function": {"name": key, "description": TOOLS[key].DESCRIPTION, "parameters": parameters(key)}}


def openai_schemas(names_: list[str] | None = None) -> list[dict[str, Any]]:
    """Every tool (or the named ones) in OpenAI function-calling form, in spec order."""
    return [schema(n) for n in (names_ or names())]


def output_schema(name: str) -> dict[str, Any]:
    """The JSON schema of a tool's successful result (from its Output model)."""
    return TOOLS[resolve(name)].Output.model_json_schema()


def call(name: str, args: Any = None, ctx: ToolContext | None = None) -> dict[str, Any]:
    """Run a tool: ``args`` as a dict or JSON string. Returns the result as JSON data, or
    ``{"error": {...}}`` (never raises for bad input; ``UNKNOWN_TOOL`` for an unknown name)."""
    try:
        mod = get(name)
    except ToolError as err:
        return err.to_dict()
    except Exception:  # a back-end of this tool is not installed or broken
        log.exception("tool %s could not be loaded", name)
        return ToolError("INTERNAL_ERROR", f"tool {name} is not available").to_dict()
    return mod.run(args, ctx)


def langchain_tools(ctx: ToolContext | None = None, names_: list[str] | None = None) -> list[Any]:
    """The tools as LangChain ``StructuredTool`` objects bound to ``ctx``.

    The argument schema is the tool's JSON schema (so rating parameters of ``quote``
    pass through untouched); validation happens in the tool, and errors come back as
    the ``{"error": ...}`` result rather than exceptions, so the model can recover.
    """
    from langchain_core.tools import StructuredTool

    ctx = ctx if ctx is not None else ToolContext()
    out = []
    for n in names_ or names():
        key = resolve(n)

        def _run(_key: str = key, **kwargs: Any) -> dict[str, Any]:
            return call(_key, kwargs, ctx)

        out.append(StructuredTool.from_function(func=_run, name=key, description=TOOLS[key].DESCRIPTION,
                                                args_schema=parameters(key)))
    return out

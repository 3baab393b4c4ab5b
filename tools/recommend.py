"""Tool ``recommend``: needs analysis -> suitable products with reasons
(engine: :func:`anxin.tools.needs_analysis.recommend`)."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from anxin.tools.context import ToolContext, execute
from anxin.tools.needs_analysis import RecommendationResult, recommend

# A list of texts (a single comma-separated string is accepted too); checked by the engine.
_TextList = Annotated[Any, WithJsonSchema({"type": "array", "items": {"type": "string"}})]

NAME = "recommend"

DESCRIPTION = """Recommend insurance products for a customer's situation (needs analysis): the uncovered protection needs ranked by priority, and for each the catalog product that covers it with a real quote (premium, quote_params, reasons with clause ids), plus products dropped for budget, not quoted (missing inputs), ineligible or already held.

Rules for the caller:
- Use only what the customer told you; every argument is optional, so leave out what you do not know rather than guessing (ask for age, dependents, income and budget when they matter).
- income and budget are yearly amounts in CNY as digits (300000, not "三十万"); existing_policies lists the products, policy numbers or kinds of cover already held; goals are short phrases (e.g. "medical", "protect my family", "重疾").
- Present recommendations as options with their reasons and cite clause_ids, not as advice to buy. Premiums marked indicative or subject_to_underwriting are not final: before confirming a price, run pre_underwrite (health-underwritten products) and quote with the customer's own details. Never invent a premium that is not in a tool result.
- Never ask for or send genetic test results: genetic inputs are refused and listed in refused_inputs.
- Offer a human advisor (handoff) when the customer wants personalised financial, tax or legal advice."""


class Input(BaseModel):
    """The customer's situation; every field optional."""

    model_config = ConfigDict(extra="allow", title="recommend")

    age: int | None = Field(None, ge=0, le=130, description="Age last birthday.")
    gender: str | None = Field(None, description="M or F.")
    income: float | None = Field(None, ge=0, description="Annual income in CNY (digits).")
    dependents: int | None = Field(None, ge=0, le=50, description="Number of people who depend on the customer financially.")
    existing_policies: _TextList = Field(
        None, description="Products, policy numbers or kinds of cover already held, e.g. [\"MED-100\", \"百万医疗\"].")
    budget: float | None = Field(None, ge=0, description="Yearly budget for premiums in CNY (digits).")
    goals: _TextList = Field(None, description="What the customer wants to protect against, as short phrases.")


Output = RecommendationResult


def invoke(inp: Input, ctx: ToolContext) -> RecommendationResult:
    """Call the needs-analysis engine."""
    fields = {k: getattr(inp, k) for k in ("age", "gender", "income", "dependents", "existing_policies",
                                           "budget", "goals")}
    return recommend(**fields, **(inp.model_extra or {}))


def run(args: dict[str, Any] | str | None, ctx: ToolContext | None = None) -> dict[str, Any]:
    """Validate ``args`` and recommend; returns the engine's result as JSON data or ``{"error": ...}``."""
    return execute(NAME, Input, Output, invoke, args, ctx)

"""Tool ``simulate_premium``: what-if pricing, before vs after a change
(engine: :func:`anxin.tools.pricing.simulate`)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from anxin.knowledge.filing import products
from anxin.tools import pricing
from anxin.tools.context import ToolContext, execute, with_digits_hint
from anxin.tools.errors import ToolError
from anxin.tools.pricing_models import SimulationResult

NAME = "simulate_premium"

DESCRIPTION = """Simulate how a premium changes: quotes `base` and `base` merged with `changes`, and returns before, after, delta = after - before (both rounded premiums), delta_pct (2 dp), the breakdown steps that changed and when the change would take effect.

Rules for the caller:
- base holds the quote arguments exactly as for the quote tool (without product_id); changes holds only the arguments that change (e.g. {"smoker": false}, {"deductible": 20000}, {"driving_score": 85}). Dict parameters (sensors, driving_indicators) are merged one level deep.
- Quote the before/after/delta numbers from this tool only; never compute a difference yourself.
- Tell the customer when the change takes effect (the result's `effective` notes, e.g. at renewal) — a simulation is not a policy change.
- Keep uw_loading_pct from pre_underwrite in base; genetic inputs are refused and never change the premium.
- Errors as for quote (UNKNOWN_PRODUCT, MISSING_PARAM, INVALID_PARAM, INVALID_VALUE, INELIGIBLE_AGE ...)."""


class Input(BaseModel):
    """``product_id``, the ``base`` quote arguments and the ``changes``."""

    model_config = ConfigDict(extra="forbid", title="simulate_premium")

    product_id: str = Field(..., description="Catalog product id, e.g. MED-100 (case-insensitive).",
                            json_schema_extra={"enum": list(products())})
    base: dict[str, Any] = Field(..., description="The current quote arguments (as for the quote tool, without product_id).")
    changes: dict[str, Any] = Field(..., description="Only the arguments that change, with their new values.")


Output = SimulationResult


def invoke(inp: Input, ctx: ToolContext) -> SimulationResult:
    """Call the pricing engine's simulation."""
    try:
        return pricing.simulate(inp.product_id, inp.base, inp.changes)
    except ToolError as err:
        raise with_digits_hint(with_digits_hint(err, inp.changes), inp.base) from None


def run(args: dict[str, Any] | str | None, ctx: ToolContext | None = None) -> dict[str, Any]:
    """Validate ``args`` and simulate; returns the SimulationResult as JSON data or ``{"error": ...}``."""
    return execute(NAME, Input, Output, invoke, args, ctx)

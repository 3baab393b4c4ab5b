"""Tool ``pre_underwrite``: health declarations -> underwriting decision for one product
(engine: :func:`anxin.tools.underwriting.pre_underwrite`)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from anxin.knowledge.filing import load_underwriting, products
from anxin.tools import underwriting
from anxin.tools.context import ToolContext, execute
from anxin.tools.underwriting import UnderwritingResult

NAME = "pre_underwrite"


def _conditions_text() -> str:
    parts = []
    for cid, spec in load_underwriting()["conditions"].items():
        inputs = []
        for name, ispec in (spec.get("inputs") or {}).items():
            if ispec["type"] == "enum":
                inputs.append(f"{name}: {'|'.join(str(v) for v in ispec['values'])}")
            else:
                rng = ""
                if "min" in ispec or "max" in ispec:
                    rng = f" {ispec.get('min', '')}..{ispec.get('max', '')}"
                inputs.append(f"{name}: {ispec['type']}{rng}")
        parts.append(f"  {cid}({', '.join(inputs)})")
    return "\n".join(parts)


def _lines_text() -> str:
    uw = load_underwriting()
    out = [f"{', '.join(v['products'])} -> {k} (loading cap {v['max_total_loading_pct']}%)" for k, v in uw["lines"].items()]
    out.append(f"{', '.join(uw['not_underwritten']['products'])} -> not_applicable (no health underwriting)")
    return "; ".join(out)


DESCRIPTION = f"""Pre-underwrite an applicant for one product from their health declarations: decision (standard, loading, exclusion, loading_and_exclusion, postpone, decline, not_applicable), total_loading_pct, exclusions with clause text, postpone_months, the rules that fired and the quote_params to pass on.

Rules for the caller:
- Ask the customer only about the conditions listed below and send each condition at most once, e.g. {{"condition": "thyroid_nodule", "tirads": "3"}}; send [] when they declare nothing.
- The decision comes only from this tool; explain it with rule_hits[].reason and exclusion_details, never promise acceptance before calling it.
- Pass total_loading_pct on to quote / simulate_premium as uw_loading_pct (the result's quote_params). Declined or postponed applicants get no quote.
- bmi (or height_cm + weight_kg) becomes a bmi declaration; age and gender are accepted but do not change the decision.
- Never ask for or send genetic test results: any genetic condition or key is refused (rule UW-GEN-00), listed in refused_inputs, and the decision is the same as without it.
- Errors: UNKNOWN_PRODUCT, UNKNOWN_CONDITION, MISSING_INPUT, UNKNOWN_INPUT, DUPLICATE_CONDITION, INVALID_VALUE (field names the declaration input).
Lines: {_lines_text()}.
Conditions and their inputs:
{_conditions_text()}"""


def _declarations_schema(schema: dict[str, Any]) -> None:
    schema["items"] = {
        "type": "object",
        "properties": {"condition": {"type": "string", "enum": list(load_underwriting()["conditions"]),
                                     "description": "condition id from underwriting.yaml"}},
        "required": ["condition"],
        "additionalProperties": True,
    }


class Input(BaseModel):
    """``product_id``, the health ``declarations`` and applicant fields."""

    model_config = ConfigDict(extra="allow", title="pre_underwrite")

    product_id: str = Field(..., description="Catalog product id, e.g. MED-100 (case-insensitive).",
                            json_schema_extra={"enum": list(products())})
    declarations: list[dict[str, Any]] = Field(
        ..., description="Health declarations, each {condition: <id>, <input>: <value>, ...}; [] when none.",
        json_schema_extra=_declarations_schema)
    age: int | None = Field(None, ge=0, le=130, description="Age last birthday (accepted, does not change the decision).")
    gender: str | None = Field(None, description="M or F (accepted, does not change the decision).")
    bmi: float | None = Field(None, description="BMI; becomes a bmi declaration when none is declared.")
    height_cm: float | None = Field(None, description="Height in cm (with weight_kg instead of bmi).")
    weight_kg: float | None = Field(None, description="Weight in kg (with height_cm instead of bmi).")
    birth_date: str | None = Field(None, description="ISO date of birth (accepted, does not change the decision).")

    def applicant(self) -> dict[str, Any]:
        """Applicant fields given (None dropped), plus any extra keys for the engine to judge
        (genetic keys are refused there, anything else is UNKNOWN_INPUT)."""
        out = {k: getattr(self, k) for k in ("age", "gender", "bmi", "height_cm", "weight_kg", "birth_date")
               if getattr(self, k) is not None}
        out.update(self.model_extra or {})
        return out


Output = UnderwritingResult


def invoke(inp: Input, ctx: ToolContext) -> UnderwritingResult:
    """Call the underwriting engine."""
    return underwriting.pre_underwrite(inp.product_id, inp.declarations, **inp.applicant())


def run(args: dict[str, Any] | str | None, ctx: ToolContext | None = None) -> dict[str, Any]:
    """Validate ``args`` and pre-underwrite; returns the UnderwritingResult as JSON data or ``{"error": ...}``."""
    return execute(NAME, Input, Output, invoke, args, ctx)

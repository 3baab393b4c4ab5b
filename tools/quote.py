"""Tool ``quote``: price one product of the catalog (engine: :func:`anxin.tools.pricing.quote`).

Arguments are ``product_id`` plus that product's ``rating.params`` named exactly as in
``catalog.yaml`` (and the common inputs of ``general.common_quote_inputs``:
``birth_date``/``start_date``, the aliases, person descriptors the product ignores).
The Input model therefore declares ``product_id`` and allows extra keys; its JSON
schema lists every rating parameter of every product with the products that use it.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from anxin.knowledge.filing import load_catalog, products
from anxin.tools import pricing
from anxin.tools.context import ToolContext, execute, with_digits_hint
from anxin.tools.errors import ToolError
from anxin.tools.pricing_models import QuoteResult

NAME = "quote"

_JSON_TYPES = {"int": "integer", "number": "number", "bool": "boolean", "dict": "object"}


def _param_schema(spec: dict[str, Any]) -> dict[str, Any]:
    kind = spec["type"]
    if kind == "enum":
        values = spec["values"]
        return {"type": "integer" if all(isinstance(v, int) and not isinstance(v, bool) for v in values) else "string"}
    return {"type": _JSON_TYPES.get(kind, "string")}


def rating_param_properties() -> dict[str, dict[str, Any]]:
    """JSON-schema properties for every rating parameter of every product (union),
    each described with the products that take it, their allowed values and defaults."""
    props: dict[str, dict[str, Any]] = {}
    uses: dict[str, list[str]] = {}
    for pid, prod in products().items():
        for spec in prod["rating"]["params"]:
            name = spec["name"]
            entry = props.setdefault(name, _param_schema(spec))
            if entry.get("type") != _param_schema(spec)["type"]:
                entry["type"] = sorted({entry["type"], _param_schema(spec)["type"]}) if isinstance(
                    entry["type"], str) else sorted(set(entry["type"]) | {_param_schema(spec)["type"]})
            note = pid
            if spec["type"] == "enum":
                note += f" one of {spec['values']}"
            if spec.get("required"):
                note += " (required)"
            elif "default" in spec:
                note += f" (default {spec['default']})"
            uses.setdefault(name, []).append(note)
            entry.setdefault("_en", spec.get("en", ""))
            entry.setdefault("_zh", spec.get("zh", ""))
    out: dict[str, dict[str, Any]] = {}
    for name, entry in props.items():
        en, zh = entry.pop("_en"), entry.pop("_zh")
        entry["description"] = f"{en} / {zh}. Products: {'; '.join(uses[name])}."
        out[name] = entry
    common = load_catalog()["general"]["common_quote_inputs"]
    out["birth_date"] = {"type": "string", "format": "date",
                         "description": f"{common['birth_date']['en']} / {common['birth_date']['zh']}"}
    out["start_date"] = {"type": "string", "format": "date",
                         "description": f"{common['start_date']['en']} / {common['start_date']['zh']}"}
    for pid, alias_map in common.get("aliases", {}).items():
        for alias, canon in alias_map.items():
            if alias in out:
                out[alias]["description"] += f" {pid}: alias of {canon}."
    return out


def _schema_extra(schema: dict[str, Any]) -> None:
    props = schema.setdefault("properties", {})
    for name, prop in rating_param_properties().items():
        props.setdefault(name, prop)
    schema["additionalProperties"] = True


def _product_lines() -> str:
    lines = []
    for pid, prod in products().items():
        req = [p["name"] for p in prod["rating"]["params"] if p.get("required")]
        opt = [p["name"] for p in prod["rating"]["params"] if not p.get("required")]
        lines.append(f"  {pid} ({prod['name']['en']} / {prod['name']['zh']}): required {', '.join(req) or '-'}; "
                     f"optional {', '.join(opt) or '-'}")
    return "\n".join(lines)


DESCRIPTION = f"""Price one insurance product: premium (CNY, 2 dp, half-up) with every rating factor and step.

Rules for the caller:
- Every premium you tell the customer must come from this tool (or simulate_premium); never compute, estimate or round a premium yourself, and show the factors from `breakdown`.
- Pass product_id and the product's rating parameters named exactly as below; amounts as digits (500000, not "五十万"), dates as YYYY-MM-DD. birth_date (+ start_date) may replace age.
- For underwritten products run pre_underwrite first and pass its total_loading_pct as uw_loading_pct (its quote_params). Do not quote a declined or postponed applicant.
- Never send genetic test results (genetic_*, brca*, dna*, ...): they are refused, not stored, listed in refused_inputs with a notice, and cannot change the premium.
- Person descriptors a product does not rate on (gender, smoker, bmi...) are ignored and listed in ignored_inputs; any other unknown key is INVALID_PARAM.
- Errors: UNKNOWN_PRODUCT, MISSING_PARAM, INVALID_PARAM, INVALID_VALUE, INELIGIBLE_AGE, INELIGIBLE_OCCUPATION, INELIGIBLE, NOT_OFFERED (field names the argument).
Products and parameters:
{_product_lines()}"""


class Input(BaseModel):
    """``product_id`` plus the product's rating parameters (passed through to the engine)."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_schema_extra, title="quote")

    product_id: str = Field(..., description="Catalog product id, e.g. MED-100, CI-200, TL-300 (case-insensitive).",
                            json_schema_extra={"enum": list(products())})

    def params(self) -> dict[str, Any]:
        """The rating parameters (everything but product_id)."""
        return dict(self.model_extra or {})


Output = QuoteResult


def invoke(inp: Input, ctx: ToolContext) -> QuoteResult:
    """Call the pricing engine."""
    params = inp.params()
    try:
        return pricing.quote(inp.product_id, params)
    except ToolError as err:
        raise with_digits_hint(err, params) from None


def run(args: dict[str, Any] | str | None, ctx: ToolContext | None = None) -> dict[str, Any]:
    """Validate ``args`` and quote; returns the QuoteResult as JSON data or ``{"error": ...}``."""
    return execute(NAME, Input, Output, invoke, args, ctx)

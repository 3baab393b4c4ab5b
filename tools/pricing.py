"""The pricing engine: ``quote()`` and ``simulate()`` for every product of the filing.

``quote(product_id, params)`` validates the inputs (:mod:`anxin.tools.pricing_inputs`),
runs the product's ``rating.engine`` step by step (:mod:`anxin.tools.pricing_health`,
:mod:`anxin.tools.pricing_pnc`) in exact decimal arithmetic, and rounds half-up
to the cent once at the end. Errors are :class:`anxin.tools.errors.ToolError`
with the codes of ``general.error_codes``.

``simulate(product_id, base, changes)`` quotes before and after a change and
reports the difference, with ``rating.simulation_notes`` saying when each
change would take effect.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from anxin.knowledge.filing import product as catalog_product
from anxin.knowledge.filing import products as catalog_products
from anxin.tools.errors import ToolError
from anxin.tools.pricing_calc import Calc, check_rules
from anxin.tools.pricing_health import rate_acc, rate_ci, rate_dm, rate_ltc, rate_med, rate_term_gm
from anxin.tools.pricing_inputs import apply_aliases, genetic_notice, is_genetic_key, prepare
from anxin.tools.pricing_models import (BreakdownStep, EffectiveNote, QuoteResult, SimulationResult, StepChange)
from anxin.tools.pricing_pnc import rate_flt, rate_home, rate_rsi, rate_ubi, rebate_amount, ubi_rebate
from anxin.tools.pricing_tables import round_half_up, to_json

__all__ = ["quote", "simulate", "ubi_rebate", "rebate_amount", "QuoteResult", "SimulationResult", "ENGINES"]

ENGINES: dict[str, Callable[[Calc], Decimal]] = {
    "MED": rate_med, "CI": rate_ci, "TERM_GM": rate_term_gm, "DM": rate_dm, "LTC": rate_ltc,
    "UBI": rate_ubi, "HOME": rate_home, "FLT": rate_flt, "RSI": rate_rsi, "ACC": rate_acc,
}
_PRECISION = 100  # digits; every product of finite decimals stays exact


def _product(product_id: Any) -> dict[str, Any]:
    prod = catalog_product(product_id) if isinstance(product_id, str) else None
    if prod is None:
        raise ToolError("UNKNOWN_PRODUCT", f"{product_id!r}; products: {', '.join(catalog_products())}",
                        field="product_id")
    return prod


def _params(params: Any, name: str, product_id: str) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ToolError("INVALID_VALUE", f"{name} must be an object of parameters, got {type(params).__name__}",
                        field=name)
    out = dict(params)
    pid = out.pop("product_id", None)
    if pid is not None and str(pid).strip().upper() != product_id:
        raise ToolError("INVALID_VALUE", f"product_id {pid!r} in {name} differs from {product_id}", field="product_id")
    return out


def quote(product_id: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> QuoteResult:
    """Price one product.

    ``params`` (or keyword arguments, merged over it) are the product's
    ``rating.params`` plus the common inputs (``birth_date``/``start_date``,
    aliases, ignored descriptors). Returns a :class:`QuoteResult`: ``premium``
    (2 dp, half-up), ``breakdown`` (one entry per ``rating.steps`` step),
    ``notices``, ``refused_inputs`` (genetic keys), ``ignored_inputs``,
    ``inputs_used`` and product extras (HBB credit, UBI detail, programme cap).
    Raises :class:`ToolError` (UNKNOWN_PRODUCT, INVALID_PARAM, INVALID_VALUE,
    MISSING_PARAM, INELIGIBLE_AGE, INELIGIBLE_OCCUPATION, INELIGIBLE, NOT_OFFERED).
    """
    prod = _product(product_id)
    merged = {**_params(params, "params", prod["id"]), **_params(kwargs, "params", prod["id"])}
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        prep = prepare(prod, merged)
        calc = Calc(prep)
        check_rules(calc)
        premium = ENGINES[prod["rating"]["engine"]](calc)
    notices = ([genetic_notice()] if prep.refused else []) + calc.notices
    inputs_used = {k: to_json(v) for k, v in prep.values.items()}
    inputs_used.update({k: v for k, v in prep.derived.items() if k in ("birth_date", "start_date")})
    kind = prod.get("term", {}).get("kind")
    return QuoteResult(
        product_id=prod["id"], product_name=dict(prod["name"]), premium=float(premium), currency="CNY",
        premium_frequency="single" if kind in ("per_segment", "per_order") else "annual",
        payment_years=calc.payment_years, breakdown=calc.steps, notices=notices, refused_inputs=prep.refused,
        ignored_inputs=prep.ignored, inputs_used=inputs_used,
        hbb_credit=None if calc.hbb_credit is None else float(calc.hbb_credit),
        points_redeemed=calc.points_redeemed, programme=calc.programme, ubi=calc.ubi,
        extras={k: to_json(v) for k, v in calc.extras.items()})


# --------------------------------------------------------------------------- simulate

def _age_param(prod: Mapping[str, Any]) -> str | None:
    names = {p["name"] for p in prod["rating"]["params"]}
    return next((a for a in ("age", "driver_age") if a in names), None)


def merge_params(prod: Mapping[str, Any], base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied: dict params merged one level deep, others replaced.

    A change supersedes the inputs it conflicts with: a new age drops the base
    ``birth_date``/``start_date``; a new ``birth_date``/``start_date`` drops the
    base age; a new ``bmi`` drops base height/weight and vice versa.
    """
    dict_params = {p["name"] for p in prod["rating"]["params"] if p["type"] == "dict"}
    out = dict(base)
    age = _age_param(prod)
    if age and age in changes and "birth_date" not in changes:
        out.pop("birth_date", None)
        out.pop("start_date", None)
    if age and ("birth_date" in changes or "start_date" in changes) and age not in changes:
        out.pop(age, None)
    if "bmi" in changes and not {"height_cm", "weight_kg"} & set(changes):
        out.pop("height_cm", None)
        out.pop("weight_kg", None)
    if {"height_cm", "weight_kg"} & set(changes) and "bmi" not in changes:
        out.pop("bmi", None)
    for key, value in changes.items():
        if key in dict_params and isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _effective(prod: Mapping[str, Any], changes: Mapping[str, Any]) -> list[EffectiveNote]:
    notes = prod["rating"].get("simulation_notes", {})
    out: list[EffectiveNote] = []
    for key in changes:
        target = "bmi" if key in ("height_cm", "weight_kg") else key
        if target in notes and all(n.key != target for n in out):
            out.append(EffectiveNote(key=target, zh=notes[target]["zh"], en=notes[target]["en"]))
    return out


def _changed_steps(before: list[BreakdownStep], after: list[BreakdownStep]) -> list[StepChange]:
    out = []
    for b, a in zip(before, after):
        if (b.value, b.input, b.subtotal, b.band) != (a.value, a.input, a.subtotal, a.band):
            out.append(StepChange(step=b.step, factor=a.factor or b.factor, before_input=b.input, after_input=a.input,
                                  before_value=b.value, after_value=a.value, before_subtotal=b.subtotal,
                                  after_subtotal=a.subtotal))
    return out


def simulate(product_id: str, base: Mapping[str, Any] | None, changes: Mapping[str, Any] | None) -> SimulationResult:
    """Quote ``base`` and ``base`` merged with ``changes``; report the difference.

    ``delta = after - before`` (both rounded premiums) and ``delta_pct =
    delta / before x 100`` rounded half-up to 2 dp (None when before is 0).
    ``effective`` carries ``rating.simulation_notes`` for each changed key
    (height/weight count as ``bmi``); ``changed_steps`` lists the breakdown
    steps that differ. Errors as :func:`quote`.
    """
    prod = _product(product_id)
    base_p = _params(base, "base", prod["id"])
    change_p = _params(changes, "changes", prod["id"])
    before = quote(prod["id"], base_p)
    canon_base = apply_aliases(prod, base_p)
    canon_changes = apply_aliases(prod, change_p)
    merged = merge_params(prod, canon_base, canon_changes)
    after = quote(prod["id"], merged)
    b, a = before.premium_decimal, after.premium_decimal
    delta = a - b
    pct = float(round_half_up(Fraction(delta) / Fraction(b) * 100, 2)) if b else None
    shown_changes = {k: to_json(v) for k, v in canon_changes.items() if not is_genetic_key(k)}
    return SimulationResult(
        product_id=prod["id"], before=before, after=after, before_premium=float(b), after_premium=float(a),
        delta=float(delta), delta_pct=pct, changes=shown_changes,
        params_after={k: to_json(v) for k, v in merged.items() if not is_genetic_key(k)},
        effective=_effective(prod, shown_changes), changed_steps=_changed_steps(before.breakdown, after.breakdown))

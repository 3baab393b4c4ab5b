"""The calculation recorder and the steps several products share.

:class:`Calc` holds one quote's typed inputs and records every step of
``rating.steps`` (with the filing's own formula text) as it is computed. The
shared steps are the BMI factor, the underwriting loading, the Health
Behaviour Bank credit, the programme-cap check and the final rounding.
:data:`RULES` implements the ``eligibility_checks`` / ``validation`` rules of
the catalog, keyed by their exact text.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from anxin.knowledge.filing import load_catalog
from anxin.tools.errors import ToolError
from anxin.tools.pricing_inputs import Prepared
from anxin.tools.pricing_models import BreakdownStep, Factor, Notice, ProgrammeSummary, UbiDetail
from anxin.tools.pricing_tables import (band_label, dec, find_band, fmt, keyed, keyed_label, round1,
                                        round_half_up, to_json)

ONE = Decimal(1)
HUNDRED = Decimal(100)


class Calc:
    """One quote in progress: inputs, recorded breakdown, notices and product extras."""

    def __init__(self, prep: Prepared) -> None:
        self.prep = prep
        self.product = prep.product
        self.rating: dict[str, Any] = prep.product["rating"]
        self.tables: dict[str, Any] = self.rating.get("tables", {})
        self.v: dict[str, Any] = prep.values
        self.notices: list[Notice] = prep.notices
        self.steps: list[BreakdownStep] = []
        self.extras: dict[str, Any] = {}
        self.hbb_credit: Decimal | None = None
        self.points_redeemed: int | None = None
        self.programme: ProgrammeSummary | None = None
        self.ubi: UbiDetail | None = None
        self.payment_years: int | None = None
        self._formulas = {s["id"]: s["formula"] for s in self.rating["steps"]}

    def notice(self, code: str, zh: str, en: str) -> None:
        """Attach a bilingual notice."""
        self.notices.append(Notice(code=code, zh=zh, en=en))

    def record(self, step: str, subtotal: Any, *, op: str, factors: Sequence[Factor] = (),
               basis: str = "") -> None:
        """Record step ``step`` of ``rating.steps`` with its factors and exact subtotal."""
        if step not in self._formulas:
            raise ToolError("INTERNAL_ERROR", f"step {step!r} is not in {self.product['id']} rating.steps")
        single = factors[0] if len(factors) == 1 else None
        combined = None
        if len(factors) > 1 and op == "multiply":
            combined = math.prod(dec(f.value) for f in factors)
        self.steps.append(BreakdownStep(
            step=step, formula=self._formulas[step], op=op,
            factor=single.name if single else (" x ".join(f.name for f in factors) if factors else None),
            input=single.input if single else None,
            band=single.band if single else None,
            value=single.value if single else (float(combined) if combined is not None else None),
            factors=list(factors) if len(factors) > 1 else [], basis=basis, subtotal=float(subtotal)))

    # ------------------------------------------------------------------ look-ups

    def option(self, table: str, key: Any, *, name: str | None = None) -> tuple[Decimal, Factor]:
        """``table[key]`` for an option table, as (exact value, Factor)."""
        t = self.tables[table]
        value = dec(keyed(t, key))
        return value, Factor(name=f"{table}", input=to_json(key), band=keyed_label(t, key), value=float(value))

    def band(self, table: str, key: Any, *, column: str | None = None, field: str | None = None,
             code: str = "INVALID_VALUE") -> tuple[Decimal, Factor]:
        """``table[key]`` for a banded table (optionally a gender column), as (exact value, Factor)."""
        t = self.tables[table]
        b = find_band(t["bands"], key)
        if b is None:
            raise ToolError(code, f"{field or t.get('key')}={fmt(key)} is outside every band of {table}",
                            field=field or t.get("key"))
        raw = b[column] if column else b["value"]
        value = dec(raw)
        label = band_label(b) + (f" {column}" if column else "")
        return value, Factor(name=table, input=to_json(key), band=label, value=float(value))

    def multiply(self, step: str, running: Decimal, value: Decimal, factor: Factor) -> Decimal:
        """Record ``P_new = running x value`` and return it."""
        new = running * value
        self.record(step, new, op="multiply", factors=[factor], basis=f"{fmt(running)} x {fmt(value)} = {fmt(new)}")
        return new


# ---------------------------------------------------------------------- shared steps

def bmi_step(calc: Calc, running: Decimal, step: str = "bmi", table: str = "bmi_factor") -> Decimal:
    """``P = P x bmi_factor[round1(bmi)]`` (1.00 under ``applies_from_age`` or when BMI is missing)."""
    t = calc.tables[table]
    bmi, age = calc.v.get("bmi"), calc.v["age"]
    if age < t.get("applies_from_age", 0):
        value = dec(1)
        f = Factor(name=table, input=to_json(bmi), band=f"n/a (age < {t['applies_from_age']})", value=1.0)
        if bmi is not None:
            calc.notice("BMI_NOT_RATED_UNDER_18", f"未满{t['applies_from_age']}周岁，BMI 不作为费率因子（系数1.00）。",
                        f"Under {t['applies_from_age']}, BMI is not a rating factor (factor 1.00).")
    elif bmi is None:
        value = dec(t.get("default_if_missing", 1))
        f = Factor(name=table, input=None, band="not provided", value=float(value))
        calc.notice("BMI_NOT_PROVIDED", "未提供 BMI，BMI 系数按1.00计算，保费以投保健康告知为准。",
                    "BMI not provided: BMI factor 1.00; the premium is subject to the health declaration.")
    else:
        r = round1(bmi)
        value, f = calc.band(table, r, field="bmi")
        f.input = to_json(bmi)
        f.band = f"round1={fmt(r)} -> {f.band}"
    return calc.multiply(step, running, value, f)


def uw_step(calc: Calc, running: Decimal, step: str = "uw_loading") -> Decimal:
    """``P = P x (1 + uw_loading_pct / 100)``."""
    pct = calc.v["uw_loading_pct"]
    value = ONE + pct / HUNDRED
    f = Factor(name="1 + uw_loading_pct/100", input=to_json(pct), band=f"+{fmt(pct)}%", value=float(value))
    return calc.multiply(step, running, value, f)


def hbb_step(calc: Calc, running: Decimal, step: str = "hbb_credit") -> Decimal:
    """``C = min(floor(health_points / 10), floor(P x cap% ))``; records C and returns ``P - C``."""
    hbb = load_catalog()["programmes"]["HBB"]["redemption"]
    block, value_cny = int(hbb["block_points"]), dec(hbb["block_value_cny"])
    cap_pct = dec(calc.rating.get("caps", {}).get("hbb_credit_max_pct", hbb["cap_pct_of_premium"]))
    points = int(calc.v.get("health_points") or 0)
    by_points = (points // block) * value_cny
    by_cap = Decimal(math.floor(running * cap_pct / HUNDRED))
    credit = min(by_points, by_cap)
    calc.hbb_credit = credit
    calc.points_redeemed = int(credit / value_cny) * block
    after = running - credit
    band = "points" if by_points <= by_cap else f"capped at {fmt(cap_pct)}% of premium"
    calc.record(step, after, op="subtract", factors=[
        Factor(name="floor(health_points/10)", input=points, band=band, value=float(by_points)),
        Factor(name=f"floor(P x {fmt(cap_pct)}/100)", input=float(running), band=band, value=float(by_cap)),
    ], basis=f"C = min({fmt(by_points)}, {fmt(by_cap)}) = {fmt(credit)}; {fmt(running)} - {fmt(credit)} = {fmt(after)}")
    last = calc.steps[-1]
    last.factor, last.input, last.band, last.value = "hbb_credit", points, band, float(credit)
    if points and by_points > by_cap:
        left = points - calc.points_redeemed
        calc.notice("HBB_CREDIT_CAPPED", f"健康积分抵扣以保费的{fmt(cap_pct)}%为限（{fmt(credit)}元），剩余{left}分可下次使用。",
                    f"The HBB credit is capped at {fmt(cap_pct)}% of the premium ({fmt(credit)} CNY); "
                    f"{left} points remain for later.")
    return after


def programme_summary(calc: Calc, names: list[str], pre: Decimal, post: Decimal) -> None:
    """Record the combined programme reduction and enforce ``general.programme_discount_cap_pct``."""
    cap = dec(load_catalog()["general"]["programme_discount_cap_pct"])
    reduction = max(pre - post, Decimal(0))
    pct = reduction / pre * HUNDRED if pre else Decimal(0)
    if pct > cap:
        raise ToolError("INTERNAL_ERROR", f"programme reductions {pct}% exceed the {cap}% cap")
    calc.programme = ProgrammeSummary(programmes=names, pre_programme_premium=float(round_half_up(pre)),
                                      reduction=float(round_half_up(reduction)),
                                      discount_pct=float(round_half_up(pct)), cap_pct=float(cap))


def final_step(calc: Calc, amount: Decimal | float, step: str = "final", *, factors: Sequence[Factor] = (),
               expr: str = "") -> Decimal:
    """``premium = round_half_up(amount, 2)`` -- the only rounding of money.

    ``factors``/``expr`` describe a final step that also multiplies (FLT segments, RSI).
    """
    premium = round_half_up(amount if isinstance(amount, Decimal) else dec(amount), 2)
    inner = f"{expr} = {fmt(amount)}" if expr else fmt(amount)
    calc.record(step, premium, op="round", factors=factors, basis=f"round_half_up({inner}, 2) = {premium}")
    return premium


# ---------------------------------------------------------------------- eligibility rules

Rule = tuple[Callable[[Mapping[str, Any]], bool], str]

RULES: dict[str, Rule | None] = {
    "age + payment_term <= 70": (lambda v: v["age"] + v["payment_term"] <= 70, "payment_term"),
    "age < 18 => sum_insured <= 500000": (lambda v: v["age"] >= 18 or v["sum_insured"] <= 500000, "sum_insured"),
    "age + term_years <= 70": (lambda v: v["age"] + v["term_years"] <= 70, "term_years"),
    "100000 <= sum_insured <= 3000000 and sum_insured % 100000 == 0":
        (lambda v: 100000 <= v["sum_insured"] <= 3000000 and v["sum_insured"] % 100000 == 0, "sum_insured"),
    "hba1c_pct < 10.0": (lambda v: v["hba1c_pct"] < Decimal("10.0"), "hba1c_pct"),
    "occupation_class in [1,2,3,4]": (lambda v: v["occupation_class"] in (1, 2, 3, 4), "occupation_class"),
    "0 <= returned_orders_12m <= completed_orders_12m":
        (lambda v: 0 <= v["returned_orders_12m"] <= v["completed_orders_12m"], "returned_orders_12m"),
    # handled by the DM engine (a notice, not an error)
    "cgm_consecutive_days_in_target is ignored (with a notice) when renewal = false": None,
}


def check_rules(calc: Calc) -> None:
    """Apply ``rating.eligibility_checks`` and ``rating.validation`` in catalog order."""
    for entry in list(calc.rating.get("eligibility_checks", [])) + list(calc.rating.get("validation", [])):
        rule = RULES[entry["rule"]]  # KeyError = a filing rule this engine does not implement
        if rule is None or entry.get("code") is None:
            continue
        predicate, field = rule
        if not predicate(calc.v):
            shown = ", ".join(f"{k}={to_json(calc.v[k])}" for k in calc.v
                              if k in entry["rule"] and calc.v[k] is not None)
            raise ToolError(entry["code"], f"rule '{entry['rule']}' not met ({shown})", field=field)

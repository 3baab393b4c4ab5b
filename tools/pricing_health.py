"""Rating engines of the health, life and accident products: MED, CI, TERM_GM, DM, LTC, ACC.

Each engine follows its product's ``rating.steps`` in order, reads every rate
from the catalog tables and returns the rounded premium. TERM_GM (TL-300)
uses IEEE doubles as the filing allows; all others are exact Decimals.
"""
from __future__ import annotations

import math
from decimal import Decimal

from anxin.tools.errors import ToolError
from anxin.tools.pricing_calc import HUNDRED, Calc, bmi_step, final_step, hbb_step, programme_summary, uw_step
from anxin.tools.pricing_models import Factor
from anxin.tools.pricing_tables import dec, fmt


def _level_premium_notice(calc: Calc, years: int) -> None:
    calc.payment_years = years
    calc.notice("LEVEL_PREMIUM", f"此为年缴均衡保费，共缴{years}年。",
                f"This is a level annual premium, payable for {years} years.")


def _base(calc: Calc, table: str, step: str = "base", column: str | None = None) -> Decimal:
    age = calc.v["age"]
    value, f = calc.band(table, age, column=column, field="age", code="INELIGIBLE_AGE")
    calc.record(step, value, op="set", factors=[f], basis=f"{table}[age={age}{', ' + column if column else ''}] = {fmt(value)}")
    return value


def _per_thousand(calc: Calc, table: str, amount: str) -> Decimal:
    """Base rate per 1,000 (by age band and gender) times ``amount / 1000``: the ``base``
    and ``amount`` steps of the per-mille products."""
    v = calc.v
    r = _base(calc, table, column=v["gender"])
    units = Decimal(v[amount])
    p = units / 1000 * r
    calc.record("amount", p, op="multiply", factors=[Factor(name=f"{amount} / 1000", input=v[amount],
                band=str(v[amount]), value=float(units / 1000))], basis=f"{fmt(units)} / 1000 x {fmt(r)} = {fmt(p)}")
    return p


def rate_med(calc: Calc) -> Decimal:
    """MED-100 million-yuan medical: base x social x deductible x smoker x BMI x loading - HBB credit."""
    v = calc.v
    p = _base(calc, "base_rate")
    p = calc.multiply("social", p, *calc.option("social_insurance_factor", v["social_insurance"]))
    p = calc.multiply("deductible", p, *calc.option("deductible_factor", v["deductible"]))
    p = calc.multiply("smoker", p, *calc.option("smoker_factor", v["smoker"]))
    p = bmi_step(calc, p)
    p5 = uw_step(calc, p)
    after = hbb_step(calc, p5)
    programme_summary(calc, ["HBB"], p5, after)
    return final_step(calc, after)


def rate_ci(calc: Calc) -> Decimal:
    """CI-200 critical illness: per-1,000 rate x amount x payment term x coverage period x smoker x BMI x loading."""
    v = calc.v
    p = _per_thousand(calc, "base_rate_per_1000", "sum_insured")
    p = calc.multiply("payment_term", p, *calc.option("payment_term_factor", v["payment_term"]))
    p = calc.multiply("coverage_period", p, *calc.option("coverage_period_factor", v["coverage_period"]))
    p = calc.multiply("smoker", p, *calc.option("smoker_factor", v["smoker"]))
    p = bmi_step(calc, p)
    p = uw_step(calc, p)
    _level_premium_notice(calc, v["payment_term"])
    return final_step(calc, p)


def rate_term_gm(calc: Calc) -> Decimal:
    """TL-300 term life: Gompertz-Makeham mortality, 2.5% interest, 25% expense loading (doubles)."""
    v, rating = calc.v, calc.rating
    x, n, sa, gender = v["age"], v["term_years"], v["sum_insured"], v["gender"]
    mort = rating["mortality"]
    par = mort["parameters"][gender]
    a, b, c = float(par["A"]), float(par["B"]), float(par["c"])
    mult = float(mort["smoker_multiplier"]) if v["smoker"] else 1.0
    disc = 1.0 / (1.0 + float(rating["interest_rate"]))
    calc.record("discount", disc, op="set", factors=[Factor(name="v = 1/(1+i)", input=float(rating["interest_rate"]),
                value=disc)], basis=f"v = 1 / (1 + {rating['interest_rate']}) = {disc!r}")
    p, a1, ann, rows = 1.0, 0.0, 0.0, []
    for k in range(n):
        q = 1.0 - math.exp(-(a + b * c ** (x + k)))
        qq = min(1.0, mult * q) if v["smoker"] else q
        ann += disc**k * p
        a1 += disc ** (k + 1) * p * qq
        rows.append({"k": k, "age": x + k, "q": q, "q_rated": qq, "p_k": p})
        p *= 1.0 - qq
    calc.extras["mortality"] = rows
    calc.extras["mortality_law"] = f"q_x = 1 - exp(-({a} + {b} * {c}**x)), {gender}" + (
        f"; smoker q' = min(1, {mult} q)" if v["smoker"] else "")
    smoker_band = f"smoker x{mort['smoker_multiplier']}" if v["smoker"] else "non-smoker"
    calc.record("survival", p, op="set", factors=[Factor(name="q'_x", input={"age": x, "term_years": n, "gender": gender},
                band=f"ages {x}-{x + n - 1}, {smoker_band}", value=mult)], basis=f"p_{n} = {p!r}")
    calc.record("apv_benefit", a1, op="set", basis=f"A1 = {a1!r}")
    calc.record("apv_annuity", ann, op="set", basis=f"a = {ann!r}")
    net = sa * a1 / ann
    calc.record("net", net, op="set", factors=[Factor(name="A1 / a", input=sa, value=a1 / ann)],
                basis=f"NET = {sa} x {a1!r} / {ann!r} = {net!r}")
    load = 1.0 + float(rating["expense_loading"])
    gross = net * load
    calc.record("gross", gross, op="multiply", factors=[Factor(name="1 + expense_loading", input=float(rating["expense_loading"]),
                value=load)], basis=f"G = {net!r} x {load!r} = {gross!r}")
    uw = 1.0 + float(v["uw_loading_pct"]) / 100.0
    g2 = gross * uw
    calc.record("uw_loading", g2, op="multiply", factors=[Factor(name="1 + uw_loading_pct/100", input=float(v["uw_loading_pct"]),
                band=f"+{fmt(v['uw_loading_pct'])}%", value=uw)], basis=f"G2 = {gross!r} x {uw!r} = {g2!r}")
    calc.extras.update(A1=a1, annuity_due=ann, net_premium=net)
    _level_premium_notice(calc, n)
    return final_step(calc, dec(g2))


def rate_dm(calc: Calc) -> Decimal:
    """DM-400 diabetes care: base x SI x HbA1c x insulin x smoker x loading x CGM reward - HBB credit."""
    v = calc.v
    p = _base(calc, "base_rate")
    p = calc.multiply("sum_insured", p, *calc.option("sum_insured_factor", v["sum_insured"]))
    value, f = calc.band("hba1c_factor", v["hba1c_pct"], field="hba1c_pct", code="NOT_OFFERED")
    p = calc.multiply("hba1c", p, value, f)
    p = calc.multiply("insulin", p, *calc.option("insulin_factor", v["on_insulin"]))
    p = calc.multiply("smoker", p, *calc.option("smoker_factor", v["smoker"]))
    p5 = uw_step(calc, p)
    p6 = calc.multiply("cgm", p5, *_cgm_factor(calc))
    after = hbb_step(calc, p6)
    programme_summary(calc, ["CGM", "HBB"], p5, after)
    return final_step(calc, after)


def _cgm_factor(calc: Calc) -> tuple[Decimal, Factor]:
    """0.85 if renewal and a run of >= 90 in-target days, else 1.00 (new business: ignored with a notice)."""
    prog = calc.product["cgm_programme"]
    need = int(prog["qualifying_run_days"])
    pct = dec(calc.rating.get("caps", {}).get("cgm_discount_pct", prog["discount_pct"]))
    days, renewal = calc.v["cgm_consecutive_days_in_target"], calc.v["renewal"]
    if days > 366:
        raise ToolError("INVALID_VALUE", f"cgm_consecutive_days_in_target={days}: at most 366 days in a policy year",
                        field="cgm_consecutive_days_in_target")
    if not renewal:
        band = "n/a (new business)"
        if "cgm_consecutive_days_in_target" in calc.prep.given and days:
            calc.notice("CGM_IGNORED_NEW_BUSINESS", f"控糖达标奖励仅适用于续保（需上一保单年度连续{need}天达标），新投保不计入。",
                        f"The CGM reward applies only at renewal (a {need}-day in-target run in the previous "
                        "policy year); it is ignored for new business.")
        value = Decimal(1)
    elif days >= need:
        band, value = f">= {need} days (renewal)", 1 - pct / HUNDRED
    else:
        band, value = f"< {need} days", Decimal(1)
    return value, Factor(name="cgm_factor", input=days, band=band, value=float(value))


def rate_ltc(calc: Calc) -> Decimal:
    """LTC-500 long-term care: per-1,000 rate x monthly benefit x smoker x loading (level to 65)."""
    v = calc.v
    p = _per_thousand(calc, "rate_per_1000_monthly_benefit", "monthly_benefit")
    p = calc.multiply("smoker", p, *calc.option("smoker_factor", v["smoker"]))
    p = uw_step(calc, p)
    years = 65 - v["age"]
    calc.extras["payment_years"] = years
    _level_premium_notice(calc, years)
    return final_step(calc, p)


def rate_acc(calc: Calc) -> Decimal:
    """ACC-110 personal accident: (death/disability + medical) x age x loading - HBB credit."""
    v = calc.v
    occ = v["occupation_class"]
    rate, f_rate = calc.option("add_rate_per_10000", occ)
    si = Decimal(v["sum_insured"])
    pa = si / 10000 * rate
    f_si = Factor(name="sum_insured / 10000", input=v["sum_insured"], band=str(v["sum_insured"]), value=float(si / 10000))
    calc.record("add", pa, op="multiply", factors=[f_si, f_rate], basis=f"{fmt(si)} / 10000 x {fmt(rate)} = {fmt(pa)}")
    med, f_med = calc.option("medical_premium", v["medical_limit"])
    cls, f_cls = calc.option("medical_class_factor", occ)
    pm = med * cls
    calc.record("medical", pm, op="multiply", factors=[f_med, f_cls], basis=f"{fmt(med)} x {fmt(cls)} = {fmt(pm)}")
    age_f, f_age = calc.band("age_factor", v["age"], field="age", code="INELIGIBLE_AGE")
    p1 = (pa + pm) * age_f
    calc.record("age", p1, op="multiply", factors=[f_age], basis=f"({fmt(pa)} + {fmt(pm)}) x {fmt(age_f)} = {fmt(p1)}")
    p2 = uw_step(calc, p1)
    after = hbb_step(calc, p2)
    programme_summary(calc, ["HBB"], p2, after)
    return final_step(calc, after)

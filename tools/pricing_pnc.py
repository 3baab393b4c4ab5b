"""Rating engines of the motor, property, travel and e-commerce products: UBI, HOME, FLT, RSI.

Also :func:`ubi_rebate`, the UBI-600 safe-driving rebate for a policy year's
monthly scores (``rating.rebate``).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

from anxin.knowledge.filing import product as catalog_product
from anxin.tools.errors import ToolError
from anxin.tools.pricing_calc import HUNDRED, ONE, Calc, final_step, programme_summary
from anxin.tools.pricing_models import Factor, IndicatorScore, RebateTerms, UbiDetail
from anxin.tools.pricing_tables import band_label, clamp, dec, find_band, fmt, frac, round1, round_half_up, to_json

# Constants written only in formula text of the filing (tests check the text still says so).
UBI_PIVOT_SCORE = Decimal(75)          # U = clamp(1 + (75 - S) * 0.02, 0.70, 1.30)
UBI_SLOPE = Decimal("0.02")
REBATE_MIN_MONTHLY_SCORE = Decimal(90)  # 3 consecutive months each >= 90 = one window
REBATE_RUN_MONTHS = 3
HOME_BUILDING_SI = (200_000, 5_000_000, 10_000)  # "0, or 200,000-5,000,000 in multiples of 10,000"
HOME_SENSOR_REQUIRES = {"gas": "has_gas_supply", "auto_shutoff_valve": "water_leak"}


def _require(ok: bool, code: str, detail: str, field: str) -> None:
    if not ok:
        raise ToolError(code, detail, field=field)


# --------------------------------------------------------------------------- UBI-600

def rate_ubi(calc: Calc) -> Decimal:
    """UBI-600 motor: (own damage + TPL + in-vehicle) x driver age x claims x UBI factor."""
    v, t, elig = calc.v, calc.tables, calc.product["eligibility"]
    for name in ("vehicle_value", "seats"):
        lo, hi = elig[name]["min"], elig[name]["max"]
        _require(lo <= v[name] <= hi, "INELIGIBLE", f"{name}={to_json(v[name])} outside {lo}-{hi}", name)
    value = v["vehicle_value"]
    fixed, rate = dec(t["own_damage"]["fixed"]), dec(t["own_damage"]["rate_of_value"])
    od = fixed + rate * value
    calc.record("own_damage", od, op="add", factors=[
        Factor(name="own_damage.fixed", value=float(fixed)),
        Factor(name="own_damage.rate_of_value", input=to_json(value), value=float(rate))],
        basis=f"{fmt(fixed)} + {fmt(rate)} x {fmt(value)} = {fmt(od)}")
    tpl, f_tpl = calc.option("tpl_premium", v["tpl_limit"])
    calc.record("tpl", tpl, op="set", factors=[f_tpl], basis=f"tpl_premium[{v['tpl_limit']}] = {fmt(tpl)}")
    ivr, seat, seats = dec(t["in_vehicle_rate"]), Decimal(v["in_vehicle_per_seat"]), Decimal(v["seats"])
    iv = ivr * seat * seats
    calc.record("in_vehicle", iv, op="multiply", factors=[
        Factor(name="in_vehicle_rate", value=float(ivr)),
        Factor(name="in_vehicle_per_seat", input=v["in_vehicle_per_seat"], value=float(seat)),
        Factor(name="seats", input=v["seats"], value=float(seats))],
        basis=f"{fmt(ivr)} x {fmt(seat)} x {fmt(seats)} = {fmt(iv)}")
    base = od + tpl + iv
    calc.record("base", base, op="sum", basis=f"{fmt(od)} + {fmt(tpl)} + {fmt(iv)} = {fmt(base)}")
    p1 = calc.multiply("driver_age", base, *calc.band("driver_age_factor", v["driver_age"], field="driver_age",
                                                        code="INELIGIBLE_AGE"))
    claims = v["at_fault_claims_3y"]
    cf, f_claims = calc.option("claims_factor", min(claims, 3))
    f_claims.input = claims
    p2 = calc.multiply("claims", p1, cf, f_claims)
    u, detail = _ubi_factor(calc)
    p3 = calc.multiply("ubi", p2, u, detail)
    premium = final_step(calc, p3)
    programme_summary(calc, ["UBI"], p2, p3)
    pre = round_half_up(p2)
    calc.ubi = _ubi_detail(calc, u, premium, pre)
    return premium


def _ubi_factor(calc: Calc) -> tuple[Decimal, Factor]:
    """``U = clamp(1 + (75 - S) x 0.02, floor, ceiling)``; unscored -> 1.00 (score precedence per the filing)."""
    t = calc.tables["ubi_factor"]
    lo, hi = dec(t["floor"]), dec(t["ceiling"])
    score, inds = calc.v["driving_score"], calc.v["driving_indicators"]
    calc.extras["ubi_subscores"] = []
    if score is not None:
        _require(0 <= score <= 100, "INVALID_VALUE", f"driving_score={fmt(score)}: expected 0-100", "driving_score")
        s, unrounded, source = round1(score), score, "driving_score"
        if inds is not None:
            calc.notice("UBI_INDICATORS_NOT_USED", "已提供安全驾驶指数，驾驶指标未参与计算。",
                        "A driving score was given, so the driving indicators were not used.")
    elif inds is not None:
        total = Fraction(0)
        for ind in calc.product["driving_score"]["indicators"]:
            val, good, bad, w = frac(inds[ind["key"]]), frac(ind["good"]), frac(ind["bad"]), frac(ind["weight"])
            sub = 100 * min(max((bad - val) / (bad - good), Fraction(0)), Fraction(1))
            total += w * sub
            calc.extras["ubi_subscores"].append(IndicatorScore(
                key=ind["key"], value=float(val), good=float(good), bad=float(bad), weight=float(w),
                subscore=float(round_half_up(sub, 4)), weighted=float(round_half_up(w * sub, 4))))
        s, unrounded, source = round1(total), total, "driving_indicators"
    else:
        calc.extras.update(ubi_source="unscored", ubi_score=None, ubi_unrounded=None, ubi_raw=None)
        calc.notice("UBI_UNSCORED", "未提供驾驶数据，UBI 系数按1.00计算。",
                    "No driving data: the UBI factor is 1.00 (unscored).")
        return Decimal("1.00"), Factor(name="ubi_factor", input=None, band="unscored", value=1.0)
    raw = ONE + (UBI_PIVOT_SCORE - s) * UBI_SLOPE
    u = clamp(raw, lo, hi)
    calc.extras.update(ubi_source=source, ubi_score=s, ubi_unrounded=unrounded, ubi_raw=raw)
    band = f"S={fmt(s)}: 1 + ({fmt(UBI_PIVOT_SCORE)} - {fmt(s)}) x {fmt(UBI_SLOPE)} = {fmt(raw)}"
    if u != raw:
        band += f" -> clamped to {fmt(u)}"
        if u == lo:
            calc.notice("UBI_DISCOUNT_CAPPED", f"安全驾驶优惠已达上限（系数 {fmt(lo)}）。",
                        f"The safe-driving discount is at its maximum (factor {fmt(lo)}).")
        else:
            calc.notice("UBI_LOADING_CAPPED", f"驾驶风险加费已达上限（系数 {fmt(hi)}）。",
                        f"The driving-risk loading is capped (factor {fmt(hi)}).")
    return u, Factor(name="ubi_factor", input=float(s), band=band, value=float(u))


def _ubi_detail(calc: Calc, u: Decimal, premium: Decimal, pre: Decimal) -> UbiDetail:
    t, rb, ex = calc.tables["ubi_factor"], calc.rating["rebate"], calc.extras
    subs = ex.pop("ubi_subscores")
    raw, s, unrounded = ex.pop("ubi_raw"), ex.pop("ubi_score"), ex.pop("ubi_unrounded")
    terms = RebateTerms(
        rebate_pct_per_window=float(rb["rebate_pct_per_window"]), max_windows_per_year=int(rb["max_windows_per_year"]),
        rebate_one_window=float(rebate_amount(1, premium, pre)),
        max_rebate=float(rebate_amount(int(rb["max_windows_per_year"]), premium, pre)),
        net_cost_floor=float(round_half_up(dec(t["floor"]) * pre)), formula=rb["formula"])
    return UbiDetail(score_source=ex.pop("ubi_source"), driving_score=None if s is None else float(s),
                     score_unrounded=None if unrounded is None else float(unrounded), subscores=subs,
                     factor_unclamped=None if raw is None else float(raw), factor=float(u),
                     floor=float(t["floor"]), ceiling=float(t["ceiling"]), pre_ubi_premium=float(pre), rebate=terms)


def rebate_amount(windows: int, premium_paid: Decimal, pre_ubi_premium: Decimal, product_id: str = "UBI-600") -> Decimal:
    """``round_half_up(min(windows x 5% x premium_paid, max(0, premium_paid - 0.70 x pre_ubi_premium)), 2)``."""
    rating = (catalog_product(product_id) or {})["rating"]
    pct = dec(rating["rebate"]["rebate_pct_per_window"]) / HUNDRED
    floor = dec(rating["tables"]["ubi_factor"]["floor"])
    windows = min(int(windows), int(rating["rebate"]["max_windows_per_year"]))
    paid, pre = dec(premium_paid), dec(pre_ubi_premium)
    return round_half_up(min(windows * pct * paid, max(Decimal(0), paid - floor * pre)), 2)


def ubi_rebate(premium_paid: float | Decimal, pre_ubi_premium: float | Decimal,
               monthly_scores: Iterable[float | Mapping[str, Any]]) -> dict[str, Any]:
    """The UBI-600 safe-driving rebate for one policy year.

    ``monthly_scores`` are the year's monthly scores in order (numbers, or
    ``{month, score}`` dicts as in demo_data). Three consecutive months each
    >= 90 make a window; windows do not overlap (the run restarts after one);
    at most ``max_windows_per_year`` count. Returns ``{windows: [[first, last], ...],
    window_count, rebate}`` (months as given, or 0-based indexes).
    """
    rating = (catalog_product("UBI-600") or {})["rating"]
    windows: list[list[Any]] = []
    run: list[Any] = []
    for i, item in enumerate(monthly_scores):
        label = item.get("month", i) if isinstance(item, Mapping) else i
        score = dec(item["score"] if isinstance(item, Mapping) else item)
        run = run + [label] if score >= REBATE_MIN_MONTHLY_SCORE else []
        if len(run) == REBATE_RUN_MONTHS:
            windows.append([run[0], run[-1]])
            run = []
    windows = windows[: int(rating["rebate"]["max_windows_per_year"])]
    amount = rebate_amount(len(windows), dec(premium_paid), dec(pre_ubi_premium))
    return {"windows": windows, "window_count": len(windows), "rebate": float(amount)}


# --------------------------------------------------------------------------- HOME-700

def rate_home(calc: Calc) -> Decimal:
    """HOME-700 home property: (building + contents) x risk factors x (1 - sensor discount) + liability."""
    v, t, elig = calc.v, calc.tables, calc.product["eligibility"]
    bsi, csi = v["building_si"], v["contents_si"]
    lo, hi, step = HOME_BUILDING_SI
    _require(bsi == 0 or (lo <= bsi <= hi and bsi % step == 0), "INVALID_VALUE",
             f"building_si={bsi}: must be 0, or {lo}-{hi} in multiples of {step}", "building_si")
    _require(bsi > 0 or csi > 0, "INELIGIBLE", "at least one of building_si or contents_si must be > 0", "building_si")
    age_rng = elig["building_age_years"]
    _require(age_rng["min"] <= v["building_age_years"] <= age_rng["max"], "INELIGIBLE",
             f"building_age_years={v['building_age_years']} outside {age_rng['min']}-{age_rng['max']}", "building_age_years")
    b_rate = dec(t["building_rate"])
    cf, f_con = calc.option("construction_factor", v["construction"])
    pb = Decimal(bsi) * b_rate * cf
    calc.record("building", pb, op="multiply", factors=[
        Factor(name="building_si", input=bsi, value=float(bsi)), Factor(name="building_rate", value=float(b_rate)), f_con],
        basis=f"{bsi} x {fmt(b_rate)} x {fmt(cf)} = {fmt(pb)}")
    c_rate = dec(t["contents_rate"])
    pc = Decimal(csi) * c_rate
    calc.record("contents", pc, op="multiply", factors=[
        Factor(name="contents_si", input=csi, value=float(csi)), Factor(name="contents_rate", value=float(c_rate))],
        basis=f"{csi} x {fmt(c_rate)} = {fmt(pc)}")
    af, f_age = calc.band("building_age_factor", v["building_age_years"], field="building_age_years", code="INELIGIBLE")
    ff, f_floor = calc.option("floor_factor", v["floor_type"])
    rf, f_region = calc.option("region_factor", v["region_tier"])
    pr = (pb + pc) * af * ff * rf
    calc.record("risk", pr, op="multiply", factors=[f_age, f_floor, f_region],
                basis=f"({fmt(pb)} + {fmt(pc)}) x {fmt(af)} x {fmt(ff)} x {fmt(rf)} = {fmt(pr)}")
    d = _sensor_discount(calc)
    ps = pr * (1 - d)
    calc.record("after_sensors", ps, op="multiply", factors=[Factor(name="1 - D", input=float(d), value=float(1 - d))],
                basis=f"{fmt(pr)} x (1 - {fmt(d)}) = {fmt(ps)}")
    liab = dec(t["liability_premium"]) if v["liability"] else Decimal(0)
    calc.record("liability", liab, op="add", factors=[Factor(name="liability_premium", input=v["liability"],
                band="included" if v["liability"] else "not included", value=float(liab))],
                basis=f"L = {fmt(liab)} (no sensor discount)")
    programme_summary(calc, ["SENSORS"], pr + liab, ps + liab)
    return final_step(calc, ps + liab, expr=f"{fmt(ps)} + {fmt(liab)}")


def _sensor_discount(calc: Calc) -> Decimal:
    """``D = min(sum of qualifying sensor_discount_pct, cap) / 100`` (gas needs gas supply; valve needs water_leak)."""
    table = calc.tables["sensor_discount_pct"]
    sensors = calc.v["sensors"]
    total, factors = Decimal(0), []
    for name, pct in table.items():
        if name in ("conditions", "cap_pct"):
            continue
        installed = bool(sensors.get(name))
        need = HOME_SENSOR_REQUIRES.get(name)
        ok = installed and (need is None or bool(calc.v.get(need) if need in calc.v else sensors.get(need)))
        if installed and not ok:
            cond = table.get("conditions", {}).get(name, {})
            band = f"not counted ({cond.get('en', 'condition not met')})"
            calc.notice("SENSOR_NOT_COUNTED", f"{name} 传感器不计入优惠：{cond.get('zh', '条件不满足')}",
                        f"The {name} sensor does not count: {cond.get('en', 'condition not met')}.")
        else:
            band = "counted" if ok else "not installed"
        value = dec(pct) if ok else Decimal(0)
        total += value
        factors.append(Factor(name=f"sensor_discount_pct.{name}", input=installed, band=band, value=float(value)))
    cap = dec(table["cap_pct"])
    used = min(total, cap)
    if total > cap:
        calc.notice("SENSOR_DISCOUNT_CAPPED", f"传感器优惠合计以{fmt(cap)}%为限。",
                    f"Sensor discounts are capped at {fmt(cap)}% in total.")
    d = used / HUNDRED
    calc.record("sensors", d, op="rate", factors=factors, basis=f"D = min({fmt(total)}, {fmt(cap)}) / 100 = {fmt(d)}")
    return d


# --------------------------------------------------------------------------- FLT-800

def rate_flt(calc: Calc) -> Decimal:
    """FLT-800 flight delay: base x route x on-time-rate x season, per segment, x segments."""
    v, t = calc.v, calc.tables
    rate = v["on_time_rate_pct"]
    _require(rate <= 100, "INVALID_VALUE", f"on_time_rate_pct={fmt(rate)}: expected 0-100", "on_time_rate_pct")
    _require(v["segments"] >= 1, "INVALID_VALUE", f"segments={v['segments']}: at least 1", "segments")
    base, f_base = calc.option("base_premium", v["plan"])
    route, f_route = calc.option("route_factor", v["route_type"])
    band = find_band(t["on_time_factor"]["bands"], rate)
    if band is None or band["value"] == "NOT_OFFERED":
        minimum = calc.product.get("eligibility", {}).get("min_route_on_time_rate_pct", 60)
        raise ToolError("NOT_OFFERED", f"on_time_rate_pct={fmt(rate)}: routes below {minimum}% on-time are not offered",
                        field="on_time_rate_pct")
    otf = dec(band["value"])
    f_ot = Factor(name="on_time_factor", input=to_json(rate), band=band_label(band), value=float(otf))
    season, f_season = calc.option("season_factor", v["peak_season"])
    s = base * route * otf * season
    calc.record("per_segment", s, op="multiply", factors=[f_base, f_route, f_ot, f_season],
                basis=f"{fmt(base)} x {fmt(route)} x {fmt(otf)} x {fmt(season)} = {fmt(s)}")
    n = v["segments"]
    return final_step(calc, s * n, factors=[Factor(name="segments", input=n, value=float(n))], expr=f"{fmt(s)} x {n}")


# --------------------------------------------------------------------------- RSI-900

def rate_rsi(calc: Calc) -> Decimal:
    """RSI-900 return shipping: base[category] x route x return-rate factor (exact rate, unrated under 10 orders)."""
    v, t = calc.v, calc.tables
    base, f_base = calc.option("base_premium", v["category"])
    route, f_route = calc.option("route_factor", v["route"])
    rt = t["return_rate_factor"]
    done, back = v["completed_orders_12m"], v["returned_orders_12m"]
    minimum = int(rt["unrated_if_completed_orders_below"])
    if done < minimum:
        value = dec(rt["unrated_value"])
        f_rr = Factor(name="return_rate_factor", input={"returned": back, "completed": done},
                      band=f"unrated (< {minimum} completed orders)", value=float(value))
        calc.notice("RSI_UNRATED_BUYER", f"近12个月完成订单少于{minimum}笔，退货率系数按{fmt(value)}计算。",
                    f"Fewer than {minimum} completed orders in 12 months: return-rate factor {fmt(value)}.")
    else:
        rate = Fraction(back * 100, done)
        band = find_band(rt["bands"], rate)
        assert band is not None
        value = dec(band["value"])
        shown = float(round_half_up(rate, 4))
        f_rr = Factor(name="return_rate_factor", input={"returned": back, "completed": done, "return_rate_pct": shown},
                      band=band_label(band), value=float(value))
        calc.extras["return_rate_pct"] = shown
    amount = base * route * value
    return final_step(calc, amount, factors=[f_base, f_route, f_rr], expr=f"{fmt(base)} x {fmt(route)} x {fmt(value)}")

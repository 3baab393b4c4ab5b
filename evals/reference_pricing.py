"""An independent reference for the pricing engine: the filing's formulas re-written in
exact ``Fraction`` arithmetic (half-up rounding once at the end).

It shares only the rate tables (data) with :mod:`anxin.tools.pricing`, not its code; the
property tests and ``anxin bench tools`` compare the engine against it over random inputs.
TL-300 (Gompertz-Makeham in doubles) is checked against its worked example instead.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from anxin.knowledge import filing


F = Fraction


def fr(x: Any) -> Fraction:
    return Fraction(str(x))


def ref_round2(x: Fraction) -> Fraction:
    return Fraction(math.floor(x * 100 + F(1, 2)), 100)


def ref_round1(x: Fraction) -> Fraction:
    return Fraction(math.floor(x * 10 + F(1, 2)), 10)


def ref_band(bands: list[dict[str, Any]], x: Fraction, col: str = "value") -> Any:
    for b in bands:
        lo = b.get("min", b.get("gte"))
        if lo is not None and x < fr(lo):
            continue
        if "max" in b and x > fr(b["max"]):
            continue
        if "lt" in b and x >= fr(b["lt"]):
            continue
        return b[col]
    raise LookupError(x)


def tab(pid: str) -> dict[str, Any]:
    """The rate tables of a product (data shared with the engine; the code is not)."""
    return filing.products()[pid]["rating"]["tables"]


def ref_hbb(p: Fraction, points: int) -> Fraction:
    return p - min(points // 10, math.floor(p / 10))


def ref_med(a: dict[str, Any]) -> Fraction:
    t = tab("MED-100")
    p = fr(ref_band(t["base_rate"]["bands"], F(a["age"])))
    p *= fr(t["social_insurance_factor"][a["social_insurance"]]) * fr(t["deductible_factor"][a["deductible"]])
    p *= fr(t["smoker_factor"][a["smoker"]])
    if a.get("bmi") is not None and a["age"] >= 18:
        p *= fr(ref_band(t["bmi_factor"]["bands"], ref_round1(fr(a["bmi"]))))
    p *= 1 + fr(a["uw_loading_pct"]) / 100
    return ref_round2(ref_hbb(p, a["health_points"]))


def ref_ci(a: dict[str, Any]) -> Fraction:
    t = tab("CI-200")
    p = F(a["sum_insured"], 1000) * fr(ref_band(t["base_rate_per_1000"]["bands"], F(a["age"]), a["gender"]))
    p *= fr(t["payment_term_factor"][a["payment_term"]]) * fr(t["coverage_period_factor"][a["coverage_period"]])
    p *= fr(t["smoker_factor"][a["smoker"]])
    if a.get("bmi") is not None and a["age"] >= 18:
        p *= fr(ref_band(t["bmi_factor"]["bands"], ref_round1(fr(a["bmi"]))))
    return ref_round2(p * (1 + fr(a["uw_loading_pct"]) / 100))


def ref_dm(a: dict[str, Any]) -> Fraction:
    t = tab("DM-400")
    p = fr(ref_band(t["base_rate"]["bands"], F(a["age"]))) * fr(t["sum_insured_factor"][a["sum_insured"]])
    p *= fr(ref_band(t["hba1c_factor"]["bands"], fr(a["hba1c_pct"])))
    p *= fr(t["insulin_factor"][a["on_insulin"]]) * fr(t["smoker_factor"][a["smoker"]])
    p *= 1 + fr(a["uw_loading_pct"]) / 100
    if a["renewal"] and a["cgm_consecutive_days_in_target"] >= 90:
        p *= F(85, 100)
    return ref_round2(ref_hbb(p, a["health_points"]))


def ref_ltc(a: dict[str, Any]) -> Fraction:
    t = tab("LTC-500")
    p = F(a["monthly_benefit"], 1000) * fr(ref_band(t["rate_per_1000_monthly_benefit"]["bands"], F(a["age"]), a["gender"]))
    p *= fr(t["smoker_factor"][a["smoker"]]) * (1 + fr(a["uw_loading_pct"]) / 100)
    return ref_round2(p)


def ref_acc(a: dict[str, Any]) -> Fraction:
    t = tab("ACC-110")
    occ = a["occupation_class"]
    pa = F(a["sum_insured"], 10000) * fr(t["add_rate_per_10000"][occ])
    pm = fr(t["medical_premium"][a["medical_limit"]]) * fr(t["medical_class_factor"][occ])
    p = (pa + pm) * fr(ref_band(t["age_factor"]["bands"], F(a["age"])))
    p *= 1 + fr(a["uw_loading_pct"]) / 100
    return ref_round2(ref_hbb(p, a["health_points"]))


def ref_ubi(a: dict[str, Any]) -> Fraction:
    t = tab("UBI-600")
    b = 550 + fr("0.011") * fr(a["vehicle_value"]) + fr(t["tpl_premium"][a["tpl_limit"]])
    b += fr("0.003") * a["in_vehicle_per_seat"] * a["seats"]
    p = b * fr(ref_band(t["driver_age_factor"]["bands"], F(a["driver_age"])))
    claims = a["at_fault_claims_3y"]
    p *= fr(t["claims_factor"][claims] if claims < 3 else t["claims_factor"]["3+"])
    if a["driving_score"] is not None:
        s = ref_round1(fr(a["driving_score"]))
        p *= min(max(1 + (75 - s) * fr("0.02"), fr("0.7")), fr("1.3"))
    return ref_round2(p)


def ref_home(a: dict[str, Any]) -> Fraction:
    t = tab("HOME-700")
    pb = a["building_si"] * fr("0.0002") * fr(t["construction_factor"][a["construction"]])
    pc = a["contents_si"] * fr("0.0012")
    pr = (pb + pc) * fr(ref_band(t["building_age_factor"]["bands"], F(a["building_age_years"])))
    pr *= fr(t["floor_factor"][a["floor_type"]]) * fr(t["region_factor"][a["region_tier"]])
    s = a["sensors"]
    pct = 10 * s["water_leak"] + 8 * s["smoke"] + 7 * (s["gas"] and a["has_gas_supply"])
    pct += 5 * (s["auto_shutoff_valve"] and s["water_leak"])
    return ref_round2(pr * (1 - F(min(pct, 30), 100)) + (30 if a["liability"] else 0))


def ref_flt(a: dict[str, Any]) -> Fraction:
    t = tab("FLT-800")
    s = fr(t["base_premium"][a["plan"]]) * fr(t["route_factor"][a["route_type"]])
    s *= fr(ref_band(t["on_time_factor"]["bands"], fr(a["on_time_rate_pct"])))
    s *= fr(t["season_factor"][a["peak_season"]])
    return ref_round2(s * a["segments"])


def ref_rsi(a: dict[str, Any]) -> Fraction:
    t = tab("RSI-900")
    f = F(1)
    if a["completed_orders_12m"] >= 10:
        f = fr(ref_band(t["return_rate_factor"]["bands"], F(a["returned_orders_12m"] * 100, a["completed_orders_12m"])))
    return ref_round2(fr(t["base_premium"][a["category"]]) * fr(t["route_factor"][a["route"]]) * f)


REFERENCES: dict[str, Callable[[dict[str, Any]], Fraction]] = {
    "MED-100": ref_med, "CI-200": ref_ci, "DM-400": ref_dm, "LTC-500": ref_ltc, "ACC-110": ref_acc,
    "UBI-600": ref_ubi, "HOME-700": ref_home, "FLT-800": ref_flt, "RSI-900": ref_rsi,
}

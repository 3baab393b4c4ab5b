"""The pricing engine against the filing: worked examples, demo policies, input rules,
simulation, properties (hypothesis) and an independent Fraction re-implementation."""
from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from anxin.evals.reference_pricing import (
    F, fr, ref_acc, ref_band, ref_ci, ref_dm, ref_flt, ref_home, ref_ltc, ref_med, ref_rsi, ref_ubi, tab,
)
from anxin.knowledge import filing
from anxin.tools.errors import ToolError
from anxin.tools.pricing import quote, simulate, ubi_rebate
from anxin.tools.pricing_calc import RULES

PRODUCTS = filing.products()
CATALOG = filing.load_catalog()
DEMO = filing.load_demo_data()
CUSTOMERS = {c["customer_id"]: c for c in DEMO["customers"]}
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def D(x: Any) -> Decimal:
    return Decimal(str(x))


def code_of(product_id: str, params: dict[str, Any]) -> tuple[str, str | None]:
    with pytest.raises(ToolError) as info:
        quote(product_id, params)
    return info.value.code, info.value.field


def example(pid: str) -> dict[str, Any]:
    return dict(PRODUCTS[pid]["rating"]["worked_example"]["params"])


# =========================================================================== worked examples

@pytest.mark.parametrize("pid", list(PRODUCTS))
def test_worked_example_to_the_cent(pid: str) -> None:
    we = PRODUCTS[pid]["rating"]["worked_example"]
    q = quote(pid, we["params"])
    if pid == "TL-300":
        assert abs(q.premium_decimal - D(we["premium"])) <= Decimal("0.01")
    else:
        assert q.premium_decimal == D(we["premium"])
    assert q.currency == "CNY" and q.product_id == pid


@pytest.mark.parametrize("pid", list(PRODUCTS))
def test_breakdown_has_every_step_in_order(pid: str) -> None:
    q = quote(pid, example(pid))
    steps = PRODUCTS[pid]["rating"]["steps"]
    assert [b.step for b in q.breakdown] == [s["id"] for s in steps]
    assert [b.formula for b in q.breakdown] == [s["formula"] for s in steps]
    assert q.breakdown[-1].subtotal == q.premium


def test_half_up_373_18() -> None:
    q = quote("MED-100", {"age": 30, "smoker": True, "bmi": 29.0, "deductible": 5000})
    assert q.premium == 373.18 and q.premium_decimal == Decimal("373.18")
    assert q.breakdown[-2].subtotal == 373.175  # unrounded until the end
    assert round(236 * 1.25 * 1.10 * 1.15, 2) == 373.17  # the float trap the filing warns about


def test_tl300_intermediates_match_the_filing() -> None:
    q = quote("TL-300", example("TL-300"))
    assert q.extras["A1"] == pytest.approx(0.0179217661, abs=1e-10)
    assert q.extras["annuity_due"] == pytest.approx(15.8530123673, abs=1e-9)
    assert q.extras["net_premium"] == pytest.approx(1130.4959, abs=1e-4)
    assert len(q.extras["mortality"]) == 20 and q.payment_years == 20


def test_worked_example_factor_values() -> None:
    q = quote("ACC-110", example("ACC-110"))
    assert q.hbb_credit == 59 and q.points_redeemed == 590
    dm = quote("DM-400", example("DM-400"))
    assert dm.hbb_credit == 50 and [b.value for b in dm.breakdown if b.step == "cgm"] == [0.85]
    home = quote("HOME-700", example("HOME-700"))
    assert [b.subtotal for b in home.breakdown if b.step == "sensors"] == [0.3]
    ubi = quote("UBI-600", example("UBI-600"))
    assert ubi.ubi is not None and ubi.ubi.factor == 1.30 and ubi.ubi.factor_unclamped == 1.40
    assert any(n.code == "UBI_LOADING_CAPPED" for n in ubi.notices)


# =========================================================================== demo policies

POLICIES = DEMO["policies"]


@pytest.mark.parametrize("pol", POLICIES, ids=[p["policy_number"] for p in POLICIES])
def test_demo_policy_premium_reproduced(pol: dict[str, Any]) -> None:
    q = quote(pol["product_id"], pol["quote_params"])
    assert q.premium_decimal == D(pol["premium"])
    if "pre_ubi_premium" in pol:
        assert q.ubi is not None and D(q.ubi.pre_ubi_premium) == D(pol["pre_ubi_premium"])
    if "hbb_points_redeemed" in pol:
        assert q.points_redeemed == pol["hbb_points_redeemed"]


AGE_POLICIES = [p for p in POLICIES if {"age", "driver_age"} & set(p["quote_params"])]


@pytest.mark.parametrize("pol", AGE_POLICIES, ids=[p["policy_number"] for p in AGE_POLICIES])
def test_demo_policy_from_birth_date_and_rating_date(pol: dict[str, Any]) -> None:
    params = dict(pol["quote_params"])
    key = "age" if "age" in params else "driver_age"
    age = params.pop(key)
    params.update(birth_date=CUSTOMERS[pol["insured_id"]]["dob"], start_date=pol["rating_date"])
    q = quote(pol["product_id"], params)
    assert q.inputs_used[key] == age
    assert q.premium_decimal == D(pol["premium"])
    # both given and agreeing is fine too
    assert quote(pol["product_id"], {**params, key: age}).premium == q.premium


def test_demo_ubi_indicators_give_the_stored_score_and_rebate() -> None:
    pol = next(p for p in POLICIES if p["policy_number"] == "XH-UBI600-2026-000114")
    ind = pol["trailing_12m_indicators"]
    params = {k: v for k, v in pol["quote_params"].items() if k != "driving_score"}
    q = quote("UBI-600", {**params, "driving_indicators": ind["values"]})
    assert q.ubi is not None and q.ubi.driving_score == ind["computed_score"]
    assert q.ubi.score_source == "driving_indicators" and len(q.ubi.subscores) == 12
    rebate = ubi_rebate(pol["premium"], pol["pre_ubi_premium"], pol["monthly_scores"])
    assert rebate["windows"] == [["2026-05", "2026-07"]]
    assert D(rebate["rebate"]) == D(pol["rebates"][0]["amount"])
    stored = quote("UBI-600", pol["quote_params"])
    assert stored.ubi is not None and D(stored.ubi.rebate.rebate_one_window) == D(pol["rebates"][0]["amount"])


def test_ubi_rebate_windows_reset_and_cap() -> None:
    scores = [95, 95, 95, 95, 95, 95, 95, 95, 95, 80, 91, 92]
    r = ubi_rebate(4000, 4000, scores)
    assert r["window_count"] == 2 and r["windows"] == [[0, 2], [3, 5]]
    assert r["rebate"] == 400.0  # 2 x 5% x 4000, floor 0.70 x 4000 leaves room
    assert ubi_rebate(2900, 4000, [90, 90, 90])["rebate"] == 100.0  # 2900 - 2800 < 145
    assert ubi_rebate(2800, 4000, [99] * 12)["rebate"] == 0.0
    assert ubi_rebate(3000, 4000, [89.9, 95, 95, 89, 95])["window_count"] == 0


# =========================================================================== common inputs

def test_aliases() -> None:
    base = {"vehicle_value": 250000, "at_fault_claims_3y": 2, "driving_score": 55}
    a = quote("UBI-600", {**base, "age": 23})
    b = quote("UBI-600", {**base, "driver_age": 23})
    assert a.premium == b.premium == 8913.94 and a.inputs_used["driver_age"] == 23
    assert "age" not in a.ignored_inputs
    ci = {"age": 30, "gender": "F", "sum_insured": 500000, "coverage_period": "to_70"}
    assert quote("CI-200", {**ci, "term_years": 20}).premium == 5352.96
    assert quote("CI-200", {**ci, "term_years": 10}).inputs_used["payment_term"] == 10
    assert code_of("UBI-600", {**base, "age": 23, "driver_age": 24}) == ("INVALID_VALUE", "driver_age")
    assert code_of("CI-200", {**ci, "term_years": 10, "payment_term": 20})[0] == "INVALID_VALUE"
    # the same value twice is fine
    assert quote("UBI-600", {**base, "age": 23, "driver_age": 23}).premium == 8913.94


def test_ignored_descriptors_are_listed_and_change_nothing() -> None:
    plain = quote("TL-300", example("TL-300"))
    extra = {"bmi": 31.2, "height_cm": 180, "weight_kg": 90, "health_points": 500, "occupation_class": 2}
    q = quote("TL-300", {**example("TL-300"), **extra})
    assert q.premium == plain.premium
    assert q.ignored_inputs == list(extra)
    assert any(n.code == "IGNORED_INPUTS" for n in q.notices)
    flt = quote("FLT-800", {**example("FLT-800"), "age": 30, "gender": "F", "birth_date": "1990-01-01",
                            "start_date": "2026-12-01", "smoker": True})
    assert flt.premium == 84.67 and set(flt.ignored_inputs) == {"age", "gender", "birth_date", "start_date", "smoker"}


def test_occupation_descriptor_outside_product_classes_gets_a_notice() -> None:
    q = quote("MED-100", {"age": 30, "occupation_class": 6})
    assert "occupation_class" in q.ignored_inputs
    assert any(n.code == "INELIGIBLE_OCCUPATION" for n in q.notices)


@pytest.mark.parametrize("pid,key", [("MED-100", "sum_insured"), ("TL-300", "deductible"), ("UBI-600", "renewal"),
                                     ("HOME-700", "sum_insured"), ("RSI-900", "uw_loading_pct"),
                                     ("ACC-110", "foo"), ("CI-200", "health")])
def test_unknown_key_is_invalid_param(pid: str, key: str) -> None:
    assert code_of(pid, {**example(pid), key: 1}) == ("INVALID_PARAM", key)


GENETIC_KEYS = ["genetic_test", "genetic_test_result", "genetic_risk", "gene_mutation", "brca", "BRCA1", "brca2",
                "polygenic_risk_score", "dna_test", "Genome_Sequencing", "APOE4", "my_DNA_report", "family_genetics"]


@pytest.mark.parametrize("pid", list(PRODUCTS))
def test_genetic_inputs_refused_result_identical(pid: str) -> None:
    plain = quote(pid, example(pid))
    bad = {k: "positive" for k in GENETIC_KEYS}
    q = quote(pid, {**example(pid), **bad})
    assert q.refused_inputs == GENETIC_KEYS
    assert q.notices[0].code == "GENETIC_INPUT_REFUSED"
    assert q.notices[0].en == CATALOG["general"]["genetic_data_policy"]["notice"]["en"]
    assert _without_genetic(q) == plain.model_dump()


def _without_genetic(q: Any) -> dict[str, Any]:
    d = q.model_dump()
    d["refused_inputs"] = []
    d["notices"] = [n for n in d["notices"] if n["code"] != "GENETIC_INPUT_REFUSED"]
    return d


def test_genetic_key_inside_a_dict_param_is_refused() -> None:
    params = example("HOME-700")
    q = quote("HOME-700", {**params, "sensors": {**params["sensors"], "dna_sensor": True}})
    assert q.refused_inputs == ["sensors.dna_sensor"] and q.premium == 382.35


def test_birth_date_rules() -> None:
    q = quote("MED-100", {"birth_date": "1996-03-15"})  # start = as_of 2026-11-01
    assert q.inputs_used["age"] == 30 and q.inputs_used["start_date"] == "2026-11-01"
    assert quote("MED-100", {"birth_date": "1996-11-02"}).inputs_used["age"] == 29
    assert quote("MED-100", {"birth_date": "1996-11-01"}).inputs_used["age"] == 30
    assert quote("MED-100", {"birth_date": "2000-02-29", "start_date": "2027-02-28"}).inputs_used["age"] == 26
    assert quote("MED-100", {"birth_date": "2000-02-29", "start_date": "2027-03-01"}).inputs_used["age"] == 27
    assert code_of("MED-100", {"birth_date": "1996-03-15", "age": 29}) == ("INVALID_VALUE", "age")
    assert code_of("MED-100", {"birth_date": "15/03/1996"}) == ("INVALID_VALUE", "birth_date")
    assert code_of("MED-100", {"birth_date": "2027-01-01"}) == ("INVALID_VALUE", "birth_date")
    assert code_of("MED-100", {"birth_date": "2026-10-20"})[0] == "INELIGIBLE_AGE"  # under 30 days old
    assert code_of("MED-100", {"birth_date": "1960-01-01"})[0] == "INELIGIBLE_AGE"
    q = quote("MED-100", {"age": 30, "start_date": "2027-01-01"})
    assert q.ignored_inputs == ["start_date"]


def test_height_weight_give_bmi() -> None:
    q = quote("MED-100", {"age": 37, "height_cm": 162, "weight_kg": 66})
    assert q.inputs_used["bmi"] == 25.1
    step = next(b for b in q.breakdown if b.step == "bmi")
    assert step.value == 1.05
    assert code_of("MED-100", {"age": 37, "height_cm": 162}) == ("MISSING_PARAM", "weight_kg")
    assert code_of("MED-100", {"age": 37, "height_cm": 162, "weight_kg": 66, "bmi": 22}) == ("INVALID_VALUE", "bmi")
    assert quote("MED-100", {"age": 37, "height_cm": 162, "weight_kg": 66, "bmi": 25.14}).premium == q.premium
    assert code_of("MED-100", {"age": 37, "height_cm": 1.62, "weight_kg": 66}) == ("INVALID_VALUE", "height_cm")


def test_bmi_round1_before_banding_and_minors() -> None:
    # 23.95 -> 24.0 -> band [24, 28): 1.05
    assert quote("MED-100", {"age": 30, "bmi": 23.95}).premium == round(236 * 1.05, 2)
    assert quote("MED-100", {"age": 30, "bmi": 23.94}).premium == 236.0
    minor = quote("MED-100", {"age": 12, "bmi": 35})
    assert minor.premium == 180.0 and any(n.code == "BMI_NOT_RATED_UNDER_18" for n in minor.notices)
    assert any(n.code == "BMI_NOT_PROVIDED" for n in quote("MED-100", {"age": 30}).notices)


def test_type_leniency() -> None:
    assert quote("MED-100", {"age": "30", "deductible": "5000", "smoker": True, "bmi": "29"}).premium == 373.18
    assert quote("MED-100", {"age": 30.0, "deductible": 5000.0, "smoker": True, "bmi": 29}).premium == 373.18
    assert quote("CI-200", {"age": 30, "gender": "f", "sum_insured": "500000", "payment_term": 20,
                            "coverage_period": "TO_70"}).premium == 5352.96
    assert quote("MED-100", age=30, smoker=True, bmi=29.0, deductible=5000).premium == 373.18
    assert quote(product_id="MED-100", params={"age": 30, "smoker": True, "bmi": 29, "deductible": 5000}).premium == 373.18


@pytest.mark.parametrize("pid,params,expected", [
    ("MED-100", {"age": 30.5}, ("INVALID_VALUE", "age")),
    ("MED-100", {"age": "thirty"}, ("INVALID_VALUE", "age")),
    ("MED-100", {"age": True}, ("INVALID_VALUE", "age")),
    ("MED-100", {"age": 30, "smoker": "true"}, ("INVALID_VALUE", "smoker")),
    ("MED-100", {"age": 30, "deductible": 7000}, ("INVALID_VALUE", "deductible")),
    ("MED-100", {"age": 30, "bmi": float("nan")}, ("INVALID_VALUE", "bmi")),
    ("MED-100", {"age": 30, "health_points": -10}, ("INVALID_VALUE", "health_points")),
    ("MED-100", {"age": 30, "uw_loading_pct": 60}, ("INVALID_VALUE", "uw_loading_pct")),
    ("UBI-600", {"driver_age": 30, "vehicle_value": "五十万"}, ("INVALID_VALUE", "vehicle_value")),
    ("CI-200", {"age": 30, "gender": "X", "sum_insured": 500000}, ("INVALID_VALUE", "gender")),
    ("CI-200", {"age": 30, "gender": "F", "sum_insured": 400000}, ("INVALID_VALUE", "sum_insured")),
    ("FLT-800", {"on_time_rate_pct": 101}, ("INVALID_VALUE", "on_time_rate_pct")),
    ("FLT-800", {"on_time_rate_pct": 80, "segments": 0}, ("INVALID_VALUE", "segments")),
    ("HOME-700", {"building_age_years": 5, "building_si": 255000}, ("INVALID_VALUE", "building_si")),
    ("HOME-700", {"building_age_years": 5, "contents_si": 50000, "sensors": {"smoke": "yes"}},
     ("INVALID_VALUE", "sensors.smoke")),
    ("HOME-700", {"building_age_years": 5, "contents_si": 50000, "sensors": {"camera": True}},
     ("INVALID_PARAM", "sensors.camera")),
    ("UBI-600", {"driver_age": 30, "vehicle_value": 200000, "driving_score": 101}, ("INVALID_VALUE", "driving_score")),
])
def test_bad_values(pid: str, params: dict[str, Any], expected: tuple[str, str]) -> None:
    assert code_of(pid, params) == expected


def test_bad_value_message_explains_words_are_not_parsed() -> None:
    with pytest.raises(ToolError) as info:
        quote("CI-200", {"age": 30, "gender": "F", "sum_insured": "五十万"})
    assert info.value.code == "INVALID_VALUE" and "五十万" in info.value.message_en


@pytest.mark.parametrize("pid,params,expected", [
    ("MED-100", {}, ("MISSING_PARAM", "age")),
    ("CI-200", {"age": 30, "gender": "F"}, ("MISSING_PARAM", "sum_insured")),
    ("TL-300", {"age": 30, "sum_insured": 1000000}, ("MISSING_PARAM", "gender")),
    ("DM-400", {"age": 50}, ("MISSING_PARAM", "hba1c_pct")),
    ("UBI-600", {"vehicle_value": 200000}, ("MISSING_PARAM", "driver_age")),
    ("HOME-700", {"building_si": 500000}, ("MISSING_PARAM", "building_age_years")),
    ("FLT-800", {}, ("MISSING_PARAM", "on_time_rate_pct")),
    ("RSI-900", {}, ("MISSING_PARAM", "category")),
    ("UBI-600", {"driver_age": 30, "vehicle_value": 200000, "driving_indicators": {"hard_braking_per_100km": 1}},
     ("MISSING_PARAM", "driving_indicators.hard_acceleration_per_100km")),
])
def test_missing_params(pid: str, params: dict[str, Any], expected: tuple[str, str]) -> None:
    assert code_of(pid, params) == expected


@pytest.mark.parametrize("pid,params,code", [
    ("MED-100", {"age": 61}, "INELIGIBLE_AGE"),
    ("MED-100", {"age": 101, "renewal": True}, "INELIGIBLE_AGE"),
    ("CI-200", {"age": 56, "gender": "F", "sum_insured": 100000}, "INELIGIBLE_AGE"),
    ("CI-200", {"age": 45, "gender": "F", "sum_insured": 100000, "payment_term": 30}, "INELIGIBLE_AGE"),
    ("CI-200", {"age": 10, "gender": "M", "sum_insured": 800000}, "INELIGIBLE"),
    ("TL-300", {"age": 17, "gender": "M", "sum_insured": 100000}, "INELIGIBLE_AGE"),
    ("TL-300", {"age": 45, "gender": "M", "sum_insured": 100000, "term_years": 30}, "INELIGIBLE_AGE"),
    ("TL-300", {"age": 30, "gender": "M", "sum_insured": 150000}, "INVALID_VALUE"),
    ("TL-300", {"age": 30, "gender": "M", "sum_insured": 3100000}, "INVALID_VALUE"),
    ("DM-400", {"age": 71, "hba1c_pct": 7}, "INELIGIBLE_AGE"),
    ("DM-400", {"age": 50, "hba1c_pct": 10.0}, "NOT_OFFERED"),
    ("LTC-500", {"age": 39, "gender": "F", "monthly_benefit": 2000}, "INELIGIBLE_AGE"),
    ("UBI-600", {"driver_age": 76, "vehicle_value": 200000}, "INELIGIBLE_AGE"),
    ("UBI-600", {"driver_age": 30, "vehicle_value": 20000}, "INELIGIBLE"),
    ("UBI-600", {"driver_age": 30, "vehicle_value": 200000, "seats": 12}, "INELIGIBLE"),
    ("HOME-700", {"building_age_years": 5}, "INELIGIBLE"),
    ("HOME-700", {"building_age_years": 51, "contents_si": 50000}, "INELIGIBLE"),
    ("FLT-800", {"on_time_rate_pct": 59.99}, "NOT_OFFERED"),
    ("RSI-900", {"category": "electronics", "completed_orders_12m": 3, "returned_orders_12m": 4}, "INVALID_VALUE"),
    ("ACC-110", {"age": 30, "occupation_class": 5, "sum_insured": 100000}, "INELIGIBLE_OCCUPATION"),
    ("ACC-110", {"age": 66, "occupation_class": 1, "sum_insured": 100000}, "INELIGIBLE_AGE"),
])
def test_eligibility(pid: str, params: dict[str, Any], code: str) -> None:
    assert code_of(pid, params)[0] == code


def test_renewal_age_limits() -> None:
    assert quote("MED-100", {"age": 61, "renewal": True}).premium == 2218.0
    assert quote("ACC-110", {"age": 70, "renewal": True, "occupation_class": 1, "sum_insured": 100000}).premium > 0
    assert quote("DM-400", {"age": 80, "renewal": True, "hba1c_pct": 7}).premium == 4350.0


def test_unknown_product() -> None:
    assert code_of("XYZ-1", {}) == ("UNKNOWN_PRODUCT", "product_id")
    with pytest.raises(ToolError) as info:
        quote(None, {})  # type: ignore[arg-type]
    assert info.value.code == "UNKNOWN_PRODUCT"
    assert quote("med-100", {"age": 30}).product_id == "MED-100"


def test_every_filing_rule_is_implemented() -> None:
    for p in PRODUCTS.values():
        for entry in p["rating"].get("eligibility_checks", []) + p["rating"].get("validation", []):
            assert entry["rule"] in RULES, (p["id"], entry["rule"])


def test_constants_written_in_formula_text_still_match() -> None:
    ubi = PRODUCTS["UBI-600"]["rating"]
    assert ubi["tables"]["ubi_factor"]["formula"].startswith("U = clamp(1 + (75 - S) * 0.02, 0.70, 1.30)")
    assert ">= 90" in ubi["rebate"]["window_rule"]["en"] and "3 consecutive months" in ubi["rebate"]["window_rule"]["en"]
    assert "200,000-5,000,000 in multiples of 10,000" in PRODUCTS["HOME-700"]["eligibility"]["building_si"]["allowed"]
    ind = PRODUCTS["UBI-600"]["driving_score"]["indicators"]
    assert sum(D(i["weight"]) for i in ind) == 1


def test_product_specific_notices() -> None:
    dm = quote("DM-400", {"age": 46, "hba1c_pct": 8.2, "cgm_consecutive_days_in_target": 120})
    assert any(n.code == "CGM_IGNORED_NEW_BUSINESS" for n in dm.notices)
    assert dm.premium == quote("DM-400", {"age": 46, "hba1c_pct": 8.2}).premium
    ubi = quote("UBI-600", {"driver_age": 30, "vehicle_value": 100000})
    assert ubi.ubi is not None and ubi.ubi.score_source == "unscored" and ubi.ubi.factor == 1.0
    rsi = quote("RSI-900", {"category": "books_media", "completed_orders_12m": 9, "returned_orders_12m": 9})
    assert rsi.premium == 0.5 and any(n.code == "RSI_UNRATED_BUYER" for n in rsi.notices)
    home = quote("HOME-700", {"building_age_years": 1, "contents_si": 50000, "has_gas_supply": False,
                              "sensors": {"gas": True, "auto_shutoff_valve": True}})
    assert home.premium == 90.0  # 60 x 1 x 1 x 1, no qualifying sensor, + 30
    assert sum(n.code == "SENSOR_NOT_COUNTED" for n in home.notices) == 2
    hbb = quote("MED-100", {"age": 30, "health_points": 5000})
    assert hbb.hbb_credit == 23 and any(n.code == "HBB_CREDIT_CAPPED" for n in hbb.notices)
    assert quote("LTC-500", example("LTC-500")).payment_years == 15


def test_json_serialisation() -> None:
    for pid in PRODUCTS:
        q = quote(pid, example(pid))
        wire = json.loads(json.dumps(q.model_dump()))
        assert isinstance(wire["premium"], float) and wire["premium"] == q.premium
        assert json.loads(q.model_dump_json())["premium"] == q.premium


# =========================================================================== simulate

def test_simulate_delta_and_pct() -> None:
    base = example("MED-100")
    s = simulate("MED-100", base, {"smoker": False})
    assert s.before_premium == 373.18 and s.after_premium == 339.25
    assert s.delta == -33.93
    assert s.delta_pct == -9.09  # -33.93 / 373.18 x 100 = -9.0921...
    assert [e.key for e in s.effective] == ["smoker"]
    assert s.effective[0].en == PRODUCTS["MED-100"]["rating"]["simulation_notes"]["smoker"]["en"]
    assert [c.step for c in s.changed_steps][:1] == ["smoker"]
    same = simulate("MED-100", base, {})
    assert same.delta == 0 and same.delta_pct == 0


def test_simulate_half_up_pct() -> None:
    s = simulate("FLT-800", {"on_time_rate_pct": 85}, {"segments": 3})
    assert (s.before_premium, s.after_premium, s.delta, s.delta_pct) == (25.0, 75.0, 50.0, 200.0)
    s = simulate("RSI-900", {"category": "home_goods"}, {"route": "same_province"})
    assert s.delta == -0.3 and s.delta_pct == -30.0


def test_simulate_dict_params_merge_one_level() -> None:
    base = {"building_age_years": 5, "contents_si": 100000, "sensors": {"water_leak": True}}
    s = simulate("HOME-700", base, {"sensors": {"smoke": True}})
    assert s.params_after["sensors"] == {"water_leak": True, "smoke": True}
    assert s.after.inputs_used["sensors"]["water_leak"] is True
    assert s.after_premium < s.before_premium and [e.key for e in s.effective] == ["sensors"]
    pol = next(p for p in POLICIES if p["policy_number"] == "XH-UBI600-2026-000114")
    params = {k: v for k, v in pol["quote_params"].items() if k != "driving_score"}
    params["driving_indicators"] = pol["trailing_12m_indicators"]["values"]
    s = simulate("UBI-600", params, {"driving_indicators": {"phone_use_per_100km": 0, "speeding_distance_pct": 1.0}})
    assert s.after.ubi is not None and s.before.ubi is not None
    assert s.after.ubi.driving_score > s.before.ubi.driving_score and s.delta < 0
    assert [e.key for e in s.effective] == ["driving_indicators"]


def test_simulate_aliases_and_superseded_inputs() -> None:
    s = simulate("UBI-600", {"age": 30, "vehicle_value": 200000}, {"driver_age": 22})
    assert s.after.inputs_used["driver_age"] == 22 and s.delta > 0
    s = simulate("CI-200", {"age": 30, "gender": "F", "sum_insured": 500000, "term_years": 20}, {"payment_term": 10})
    assert s.after.inputs_used["payment_term"] == 10 and s.effective[0].key == "payment_term"
    s = simulate("MED-100", {"birth_date": "1996-03-15", "start_date": "2026-03-20"}, {"age": 41})
    assert s.before.inputs_used["age"] == 30 and s.after.inputs_used["age"] == 41
    s = simulate("MED-100", {"age": 37, "height_cm": 162, "weight_kg": 66}, {"bmi": 22})
    assert s.after.inputs_used["bmi"] == 22 and s.delta < 0
    s = simulate("MED-100", {"age": 37, "bmi": 22}, {"height_cm": 162, "weight_kg": 66})
    assert s.after.inputs_used["bmi"] == 25.1 and [e.key for e in s.effective] == ["bmi"]


def test_simulate_errors_and_genetic() -> None:
    with pytest.raises(ToolError) as info:
        simulate("MED-100", {"age": 30}, {"deductible": 1})
    assert info.value.code == "INVALID_VALUE"
    with pytest.raises(ToolError):
        simulate("NOPE", {}, {})
    s = simulate("MED-100", {"age": 30}, {"brca1": "positive"})
    assert s.delta == 0 and s.after.refused_inputs == ["brca1"] and s.changes == {}


# =========================================================================== independent reference (Fractions)
# anxin.evals.reference_pricing re-implements the formulas; these strategies draw its inputs.

bools = st.booleans()
loading = st.one_of(st.integers(0, 50), st.decimals(0, 50, places=2).map(float))
bmi_s = st.one_of(st.none(), st.decimals(12, 45, places=2).map(float))
points = st.integers(0, 6000)


@st.composite
def med_args(draw: Any) -> dict[str, Any]:
    renewal = draw(bools)
    return {"age": draw(st.integers(0, 100 if renewal else 60)), "renewal": renewal,
            "social_insurance": draw(bools), "deductible": draw(st.sampled_from([5000, 10000, 20000])),
            "smoker": draw(bools), "bmi": draw(bmi_s), "health_points": draw(points), "uw_loading_pct": draw(loading)}


@st.composite
def ci_args(draw: Any) -> dict[str, Any]:
    term = draw(st.sampled_from([10, 20, 30]))
    age = draw(st.integers(0, min(55, 70 - term)))
    si = draw(st.sampled_from([100000, 200000, 300000, 500000] + ([800000, 1000000] if age >= 18 else [])))
    return {"age": age, "gender": draw(st.sampled_from("MF")), "sum_insured": si, "payment_term": term,
            "coverage_period": draw(st.sampled_from(["to_70", "whole_life"])), "smoker": draw(bools),
            "bmi": draw(bmi_s), "uw_loading_pct": draw(st.integers(0, 100))}


@st.composite
def dm_args(draw: Any) -> dict[str, Any]:
    renewal = draw(bools)
    return {"age": draw(st.integers(18, 80 if renewal else 70)), "renewal": renewal,
            "sum_insured": draw(st.sampled_from([50000, 100000, 200000])),
            "hba1c_pct": float(draw(st.decimals(4, "9.99", places=2))), "on_insulin": draw(bools),
            "smoker": draw(bools), "cgm_consecutive_days_in_target": draw(st.integers(0, 366)),
            "health_points": draw(points), "uw_loading_pct": draw(loading)}


@st.composite
def ltc_args(draw: Any) -> dict[str, Any]:
    return {"age": draw(st.integers(40, 60)), "gender": draw(st.sampled_from("MF")),
            "monthly_benefit": draw(st.sampled_from([2000, 3000, 5000])), "smoker": draw(bools),
            "uw_loading_pct": draw(st.integers(0, 75))}


@st.composite
def acc_args(draw: Any) -> dict[str, Any]:
    renewal = draw(bools)
    return {"age": draw(st.integers(18, 70 if renewal else 65)), "renewal": renewal,
            "occupation_class": draw(st.integers(1, 4)),
            "sum_insured": draw(st.sampled_from([100000, 300000, 500000, 1000000])),
            "medical_limit": draw(st.sampled_from([0, 10000, 20000, 50000])), "health_points": draw(points),
            "uw_loading_pct": draw(loading)}


@st.composite
def ubi_args(draw: Any) -> dict[str, Any]:
    return {"driver_age": draw(st.integers(18, 75)), "vehicle_value": float(draw(st.decimals(30000, 1000000, places=2))),
            "tpl_limit": draw(st.sampled_from([1000000, 2000000, 3000000])),
            "in_vehicle_per_seat": draw(st.sampled_from([0, 10000, 20000])), "seats": draw(st.integers(2, 9)),
            "at_fault_claims_3y": draw(st.integers(0, 6)),
            "driving_score": draw(st.one_of(st.none(), st.decimals(0, 100, places=2).map(float)))}


SENSORS = ["water_leak", "smoke", "gas", "auto_shutoff_valve"]


@st.composite
def home_args(draw: Any) -> dict[str, Any]:
    building = draw(st.one_of(st.just(0), st.integers(20, 500).map(lambda n: n * 10000)))
    contents = draw(st.sampled_from([0, 50000, 100000, 200000, 300000] if building else [50000, 100000, 300000]))
    return {"building_si": building, "contents_si": contents, "liability": draw(bools),
            "construction": draw(st.sampled_from(["reinforced_concrete", "brick_concrete", "timber_other"])),
            "building_age_years": draw(st.integers(0, 50)),
            "floor_type": draw(st.sampled_from(["ground_or_basement", "middle", "top"])),
            "region_tier": draw(st.sampled_from("ABC")), "has_gas_supply": draw(bools),
            "sensors": {k: draw(bools) for k in SENSORS}}


@st.composite
def flt_args(draw: Any) -> dict[str, Any]:
    return {"plan": draw(st.sampled_from(["P2H", "P3H"])), "route_type": draw(st.sampled_from(["domestic", "international"])),
            "on_time_rate_pct": float(draw(st.decimals(60, 100, places=2))), "peak_season": draw(bools),
            "segments": draw(st.integers(1, 6))}


@st.composite
def rsi_args(draw: Any) -> dict[str, Any]:
    done = draw(st.integers(0, 400))
    return {"category": draw(st.sampled_from(list(tab("RSI-900")["base_premium"]))),
            "route": draw(st.sampled_from(["same_province", "cross_province", "remote"])),
            "completed_orders_12m": done, "returned_orders_12m": draw(st.integers(0, done))}


REFERENCE = {"MED-100": (med_args, ref_med), "CI-200": (ci_args, ref_ci), "DM-400": (dm_args, ref_dm),
             "LTC-500": (ltc_args, ref_ltc), "ACC-110": (acc_args, ref_acc), "UBI-600": (ubi_args, ref_ubi),
             "HOME-700": (home_args, ref_home), "FLT-800": (flt_args, ref_flt), "RSI-900": (rsi_args, ref_rsi)}


@pytest.mark.parametrize("pid", list(REFERENCE))
@PROPS
@given(data=st.data())
def test_matches_independent_fraction_reference(pid: str, data: Any) -> None:
    strategy, ref = REFERENCE[pid]
    args = data.draw(strategy())
    q = quote(pid, args)
    assert Fraction(q.premium_decimal) == ref(args)
    assert [b.step for b in q.breakdown] == [s["id"] for s in PRODUCTS[pid]["rating"]["steps"]]


# =========================================================================== properties

def _age_table_monotone(pid: str, a1: int, a2: int) -> bool:
    """Whether the product's age-banded tables are non-decreasing between ages a1 <= a2."""
    t = tab(pid)
    for name, table in t.items():
        if isinstance(table, dict) and table.get("key") == "age" and "bands" in table:
            cols = [c for c in ("value", "M", "F") if c in table["bands"][0]]
            for col in cols:
                vals = [fr(ref_band(table["bands"], F(a), col)) for a in range(a1, a2 + 1)]
                if any(x > y for x, y in zip(vals, vals[1:])):
                    return False
    return True


AGE_RATED = {"MED-100": med_args, "CI-200": ci_args, "DM-400": dm_args, "LTC-500": ltc_args, "ACC-110": acc_args}


@pytest.mark.parametrize("pid", list(AGE_RATED))
@PROPS
@given(data=st.data())
def test_premium_monotone_in_age_where_tables_are(pid: str, data: Any) -> None:
    args = data.draw(AGE_RATED[pid]())
    args.pop("health_points", None)  # the HBB credit floor is a step function (see test below)
    a1 = args["age"]
    a2 = data.draw(st.integers(a1, a1 + 15))
    args2 = {**args, "age": a2}
    try:
        high = quote(pid, args2)
    except ToolError:
        assume(False)
    if _age_table_monotone(pid, a1, a2):
        assert quote(pid, args).premium <= high.premium


@PROPS
@given(age=st.integers(18, 59), gap=st.integers(1, 10), term=st.sampled_from([10, 20, 30]),
       gender=st.sampled_from("MF"), smoker=bools)
def test_term_life_monotone_in_age(age: int, gap: int, term: int, gender: str, smoker: bool) -> None:
    assume(age + gap + term <= 70 and age + gap <= 60)
    args = {"gender": gender, "sum_insured": 500000, "term_years": term, "smoker": smoker}
    assert quote("TL-300", {**args, "age": age}).premium <= quote("TL-300", {**args, "age": age + gap}).premium


UW_RATED = {**AGE_RATED, "TL-300": None}


@pytest.mark.parametrize("pid", list(UW_RATED))
@PROPS
@given(data=st.data())
def test_premium_monotone_in_uw_loading(pid: str, data: Any) -> None:
    if pid == "TL-300":
        args = {"age": data.draw(st.integers(18, 40)), "gender": "F", "sum_insured": 300000}
    else:
        args = data.draw(AGE_RATED[pid]())
        args.pop("health_points", None)
    cap = filing.load_underwriting()["lines"][PRODUCTS[pid]["underwriting_line"]]["max_total_loading_pct"]
    lo = data.draw(st.decimals(0, cap, places=2))
    hi = data.draw(st.decimals(lo, cap, places=2))
    assert quote(pid, {**args, "uw_loading_pct": str(lo)}).premium <= quote(pid, {**args, "uw_loading_pct": str(hi)}).premium


def test_hbb_credit_floor_makes_premium_locally_non_monotone() -> None:
    """A filing quirk worth knowing: C = floor(10% of P) jumps by 1 CNY at each 10 CNY of P."""
    low = quote("MED-100", {"age": 30, "health_points": 1000, "uw_loading_pct": "10.16"})
    high = quote("MED-100", {"age": 30, "health_points": 1000, "uw_loading_pct": "10.17"})
    assert (low.hbb_credit, high.hbb_credit) == (25, 26) and high.premium < low.premium


SMOKER_RATED = {"MED-100": med_args, "CI-200": ci_args, "DM-400": dm_args, "LTC-500": ltc_args}


@pytest.mark.parametrize("pid", list(SMOKER_RATED))
@PROPS
@given(data=st.data())
def test_smoker_never_cheaper(pid: str, data: Any) -> None:
    args = data.draw(SMOKER_RATED[pid]())
    args.pop("health_points", None)
    assert quote(pid, {**args, "smoker": True}).premium >= quote(pid, {**args, "smoker": False}).premium


@PROPS
@given(age=st.integers(18, 45), term=st.sampled_from([10, 20]), gender=st.sampled_from("MF"))
def test_term_life_smoker_never_cheaper(age: int, term: int, gender: str) -> None:
    args = {"age": age, "gender": gender, "sum_insured": 1000000, "term_years": term}
    assert quote("TL-300", {**args, "smoker": True}).premium >= quote("TL-300", {**args, "smoker": False}).premium


indicator_values = st.fixed_dictionaries({
    i["key"]: (st.decimals(0, 100, places=2) if i["key"].endswith("_pct") else st.decimals(0, 6000, places=1)).map(float)
    for i in PRODUCTS["UBI-600"]["driving_score"]["indicators"]})


@PROPS
@given(args=ubi_args(), indicators=st.one_of(st.none(), indicator_values))
def test_ubi_factor_always_within_bounds(args: dict[str, Any], indicators: Any) -> None:
    if indicators is not None:
        args = {**args, "driving_score": None, "driving_indicators": indicators}
    q = quote("UBI-600", args)
    assert q.ubi is not None and 0.70 <= q.ubi.factor <= 1.30
    step = next(b for b in q.breakdown if b.step == "ubi")
    assert step.value == q.ubi.factor
    if q.ubi.driving_score is not None:
        assert 0 <= q.ubi.driving_score <= 100
    for s in q.ubi.subscores:
        assert 0 <= s.subscore <= 100


PROGRAMME_ARGS = {"MED-100": med_args, "DM-400": dm_args, "ACC-110": acc_args, "UBI-600": ubi_args,
                  "HOME-700": home_args}


@pytest.mark.parametrize("pid", list(PROGRAMME_ARGS))
@PROPS
@given(data=st.data())
def test_programme_discounts_never_beyond_30_pct(pid: str, data: Any) -> None:
    args = data.draw(PROGRAMME_ARGS[pid]())
    if pid == "DM-400":  # the strongest case: renewal reward + HBB
        args.update(renewal=True, cgm_consecutive_days_in_target=data.draw(st.integers(90, 366)),
                    health_points=data.draw(st.integers(0, 100000)))
    q = quote(pid, args)
    assert q.programme is not None
    assert q.programme.discount_pct <= 30
    assert q.premium_decimal >= (D(q.programme.pre_programme_premium) * Decimal("0.70")).quantize(Decimal("0.01")) - Decimal("0.01")


HBB_ARGS = {"MED-100": med_args, "DM-400": dm_args, "ACC-110": acc_args}


@pytest.mark.parametrize("pid", list(HBB_ARGS))
@PROPS
@given(data=st.data())
def test_hbb_credit_whole_cny_and_at_most_10_pct(pid: str, data: Any) -> None:
    args = data.draw(HBB_ARGS[pid]())
    args["health_points"] = data.draw(st.integers(0, 1_000_000))
    q = quote(pid, args)
    steps = {b.step: b for b in q.breakdown}
    before_credit = Fraction(str(q.breakdown[[b.step for b in q.breakdown].index("hbb_credit") - 1].subtotal))
    credit = q.hbb_credit
    assert credit is not None and credit == int(credit) and credit >= 0
    assert Fraction(int(credit)) <= before_credit / 10
    assert q.points_redeemed == int(credit) * 10 <= args["health_points"]
    assert steps["hbb_credit"].value == credit


genetic_names = st.one_of(
    st.sampled_from(CATALOG["general"]["genetic_data_policy"]["prohibited_input_keys"]),
    st.tuples(st.text("abcxyz_", max_size=5), st.sampled_from(CATALOG["general"]["genetic_data_policy"]["prohibited_key_substrings"]),
              st.text("abcxyz_", max_size=5), bools).map(lambda t: (t[0] + t[1] + t[2]).upper() if t[3] else t[0] + t[1] + t[2]))


@PROPS
@given(pid=st.sampled_from(list(PRODUCTS)), keys=st.lists(genetic_names, min_size=1, max_size=4, unique=True),
       value=st.one_of(st.text(max_size=5), st.integers(), st.booleans(), st.none()))
def test_genetic_refusal_property(pid: str, keys: list[str], value: Any) -> None:
    plain = quote(pid, example(pid))
    q = quote(pid, {**example(pid), **{k: value for k in keys}})
    assert q.refused_inputs == keys
    assert _without_genetic(q) == plain.model_dump()

"""The needs-analysis / recommendation engine (``anxin.tools.needs_analysis.recommend``)."""
from __future__ import annotations

import json
from typing import Any

import pytest

from anxin.knowledge import filing
from anxin.tools.errors import ToolError
from anxin.tools.needs_analysis import RecommendationResult, recommend
from anxin.tools.pricing import quote

PRODUCTS = filing.products()

PROFILES: list[dict[str, Any]] = [
    {"age": 25, "gender": "F"},
    {"age": 25},
    {"age": 35, "gender": "M", "income": 300000, "dependents": 2},
    {"age": 35, "gender": "F", "income": 123456, "dependents": 1, "goals": ["retirement care", "travel"]},
    {"age": 45, "gender": "M", "income": 500000, "dependents": 3, "goals": ["养老护理", "重疾"]},
    {"age": 52, "gender": "F", "income": 200000, "dependents": 1},
    {"age": 57, "gender": "M", "income": 80000, "dependents": 2},
    {"age": 62, "gender": "F"},
    {"age": 70, "gender": "M", "goals": ["car"], "vehicle_value": 150000},
    {"age": 10, "gender": "M", "income": 300000},
    {"age": 30, "gender": "M", "goals": ["car"], "vehicle_value": 200000, "driving_score": 88},
    {"age": 30, "gender": "F", "smoker": True, "bmi": 29.0, "occupation_class": 4},
    {"age": 40, "gender": "F", "goals": ["home"], "building_age_years": 12, "building_si": 1000000,
     "contents_si": 100000},
    {"age": 40, "gender": "M", "goals": ["diabetes"], "hba1c_pct": 7.5},
    {"age": 33, "gender": "M", "goals": ["flight delay"], "on_time_rate_pct": 85},
    {"age": 35, "gender": "M", "income": 300000, "dependents": 2, "budget": 8000},
    {},
]


def _ids(items: list[Any]) -> list[str]:
    return [i.product_id for i in items]


def _rec(result: RecommendationResult, pid: str):
    return next(r for r in result.recommendations if r.product_id == pid)


# =========================================================================== the brief's scenarios

def test_young_single_person_gets_medical_then_accident_first() -> None:
    r = recommend(age=25, gender="F")
    assert _ids(r.recommendations)[:2] == ["MED-100", "ACC-110"]
    assert [g.need for g in r.coverage_gaps][:2] == ["medical", "accident"]
    assert "TL-300" not in _ids(r.recommendations)  # no dependants: no life need
    assert r.recommendations[0].rank == 1 and r.recommendations[0].priority == "high"
    # no occupation class given: ACC-110 is quoted with a documented assumption
    acc = _rec(r, "ACC-110")
    assert acc.indicative and acc.quote_params["occupation_class"] == 1
    assert any("occupation" in x.en for x in acc.indicative_reasons)


def test_parent_with_income_gets_term_life_sized_from_income_plus_ci_and_medical() -> None:
    r = recommend(age=35, gender="M", income=300000, dependents=2)
    ids = _ids(r.recommendations)
    assert {"TL-300", "CI-200", "MED-100"} <= set(ids)
    assert ids[0] == "TL-300" and r.coverage_gaps[0].need == "life"
    tl = _rec(r, "TL-300")
    assert tl.quote_params["sum_insured"] == 3000000        # 10 x 300,000
    assert tl.sizing[0].target == 3000000
    assert "10 x annual income" in tl.sizing[0].rule_en and "10倍" in tl.sizing[0].rule_zh
    assert any("10 x annual income" in reason.en for reason in tl.reasons)
    ci = _rec(r, "CI-200")
    assert ci.quote_params["sum_insured"] == 800000         # 3 x 300,000 = 900,000 -> grid 800,000
    assert ci.quote_params["gender"] == "M"


@pytest.mark.parametrize("income, expected", [(150000, 1500000), (123456, 1200000), (5000, 100000),
                                              (900000, 3000000)])
def test_term_life_rounds_down_to_the_sum_insured_grid(income: int, expected: int) -> None:
    r = recommend(age=40, gender="F", income=income, dependents=1)
    tl = _rec(r, "TL-300")
    assert tl.quote_params["sum_insured"] == expected
    assert expected % 100000 == 0


def test_dependants_without_income_leave_life_cover_unquoted() -> None:
    r = recommend(age=35, gender="M", dependents=2)
    nq = {n.product_id: n for n in r.not_quoted}
    assert nq["TL-300"].missing_inputs == ["income"]
    assert "TL-300" not in _ids(r.recommendations)


@pytest.mark.parametrize("held", [["MED-100"], ["百万医疗"], ["med-100"], ["XH-MED100-2026-000102"],
                                  ["million-yuan medical"]])
def test_product_already_held_is_not_recommended_again(held: list[str]) -> None:
    r = recommend(age=30, gender="M", existing_policies=held)
    assert "MED-100" not in _ids(r.recommendations)
    assert "MED-100" not in _ids(r.not_quoted) + _ids(r.ineligible)
    assert "medical" not in [g.need for g in r.coverage_gaps]
    assert [h.product_id for h in r.already_held] == ["MED-100"]
    assert r.already_held[0].matched_from == held[0]


def test_held_types_by_name_in_both_languages() -> None:
    r = recommend(age=35, gender="F", income=200000, dependents=1,
                  existing_policies=["critical illness", "寿险", "some foreign annuity"])
    assert {h.product_id for h in r.already_held} == {"CI-200", "TL-300"}
    assert not {"CI-200", "TL-300"} & set(_ids(r.recommendations))
    assert any("some foreign annuity" in a.en for a in r.assumptions)


def test_age_62_lists_med_and_ci_as_ineligible() -> None:
    r = recommend(age=62, gender="F")
    inel = {i.product_id: i for i in r.ineligible}
    assert {"MED-100", "CI-200"} <= set(inel)
    assert inel["MED-100"].code == "INELIGIBLE_AGE" and inel["CI-200"].code == "INELIGIBLE_AGE"
    assert "MED-100-ELIGIBILITY" in inel["MED-100"].clause_ids
    assert "renew" in inel["MED-100"].en          # existing holders can renew to 100
    assert not {"MED-100", "CI-200"} & set(_ids(r.recommendations))
    gaps = {g.need: g.status for g in r.coverage_gaps}
    assert gaps["medical"] == "ineligible" and gaps["critical_illness"] == "ineligible"
    assert "ACC-110" in _ids(r.recommendations)  # 18-65


def test_occupation_outside_classes_is_ineligible() -> None:
    r = recommend(age=30, gender="M", occupation_class=5)
    inel = {i.product_id: i.code for i in r.ineligible}
    assert inel["ACC-110"] == "INELIGIBLE_OCCUPATION" and inel["MED-100"] == "INELIGIBLE_OCCUPATION"
    assert "CI-200" in _ids(r.recommendations)  # CI-200 accepts classes 1-6


def test_budget_constraint_drops_lower_priority_items() -> None:
    full = recommend(age=35, gender="M", income=300000, dependents=2)
    r = recommend(age=35, gender="M", income=300000, dependents=2, budget=8000)
    assert r.budget_fit.within_budget is False
    assert r.budget_fit.dropped and r.budget_fit.dropped == _ids(r.dropped_for_budget)
    assert "CI-200" in r.budget_fit.dropped
    assert r.budget_fit.total_premium <= 8000
    assert r.budget_fit.total_premium == pytest.approx(sum(x.premium for x in r.recommendations))
    assert r.budget_fit.total_before_budget == pytest.approx(sum(x.premium for x in full.recommendations))
    assert "CI-200" in r.budget_fit.en and "budget" in r.budget_fit.en and "预算" in r.budget_fit.zh
    # the highest priorities are kept, in order
    kept = _ids(r.recommendations)
    assert kept[0] == "TL-300" and set(kept) | set(r.budget_fit.dropped) == set(_ids(full.recommendations))
    assert [x.rank for x in r.recommendations] == list(range(1, len(kept) + 1))
    dropped = r.dropped_for_budget[0]
    assert any("budget" in reason.en for reason in dropped.reasons)
    gaps = {g.need: g.status for g in r.coverage_gaps}
    assert gaps["critical_illness"] == "dropped_for_budget"


def test_budget_that_fits_keeps_everything() -> None:
    r = recommend(age=25, gender="F", budget=100000)
    assert r.budget_fit.within_budget is True and not r.dropped_for_budget
    assert r.budget_fit.total_premium == pytest.approx(sum(x.premium for x in r.recommendations))


def test_goal_car_without_vehicle_data_is_not_quoted() -> None:
    r = recommend(age=30, gender="M", goals=["car"])
    nq = {n.product_id: n for n in r.not_quoted}
    assert "UBI-600" in nq and "vehicle_value" in nq["UBI-600"].missing_inputs
    assert "UBI-600" not in _ids(r.recommendations)
    assert next(g for g in r.coverage_gaps if g.need == "motor").status == "not_quoted"
    assert next(g for g in r.coverage_gaps if g.need == "motor").from_goals == ["car"]


def test_goal_car_with_vehicle_value_is_an_indicative_quote() -> None:
    r = recommend(age=30, gender="M", goals=["car"], vehicle_value=200000)
    ubi = _rec(r, "UBI-600")
    assert ubi.quote_params == {"driver_age": 30, "vehicle_value": 200000}
    assert ubi.indicative and any("driving" in x.en for x in ubi.indicative_reasons)
    assert ubi.premium == quote("UBI-600", {"driver_age": 30, "vehicle_value": 200000}).premium


@pytest.mark.parametrize("goal, need", [("medical", "medical"), ("family protection", "life"),
                                        ("retirement care", "long_term_care"), ("car", "motor"),
                                        ("travel", "travel"), ("住院", "medical"), ("重疾", "critical_illness"),
                                        ("养老护理", "long_term_care"), ("孩子", "life"), ("意外", "accident"),
                                        ("home", "home")])
def test_goals_raise_their_need(goal: str, need: str) -> None:
    base = {g.need: g for g in recommend(age=45, gender="F").coverage_gaps}
    r = recommend(age=45, gender="F", goals=[goal])
    gap = next(g for g in r.coverage_gaps if g.need == need)
    assert goal in gap.from_goals
    assert need not in base or gap.score > base[need].score


def test_unrecognised_goal_is_reported() -> None:
    r = recommend(age=30, gender="M", goals=["cheap stuff"])
    assert any("cheap stuff" in a.en for a in r.assumptions)


# =========================================================================== quotes

@pytest.mark.parametrize("profile", PROFILES)
def test_every_premium_equals_quote_for_the_same_params(profile: dict[str, Any]) -> None:
    r = recommend(**profile)
    for rec in r.recommendations + r.dropped_for_budget:
        q = quote(rec.product_id, rec.quote_params)
        assert rec.premium == q.premium
        assert rec.premium_frequency == q.premium_frequency
        assert [b.step for b in rec.breakdown_summary] == [b.step for b in q.breakdown]
        assert rec.breakdown_summary[-1].subtotal == q.premium
        rated = {p["name"] for p in PRODUCTS[rec.product_id]["rating"]["params"]}
        assert set(rec.quote_params) <= rated
        for key in ("smoker", "bmi", "height_cm", "weight_kg", "hba1c_pct", "on_insulin"):
            assert key not in rec.quote_params or key in profile   # never invent health facts
        assert any("RATING" in cid for cid in rec.clause_ids)


def test_given_health_facts_reach_the_products_that_rate_them() -> None:
    r = recommend(age=30, gender="F", smoker=True, bmi=29.0)
    med = _rec(r, "MED-100")
    assert med.quote_params == {"age": 30, "smoker": True, "bmi": 29.0}
    assert med.premium == quote("MED-100", {"age": 30, "smoker": True, "bmi": 29.0}).premium
    assert "smoker" not in _rec(r, "ACC-110").quote_params   # ACC-110 does not rate on it


def test_income_dependants_and_goals_never_change_a_price() -> None:
    a = _rec(recommend(age=35, gender="M"), "MED-100")
    b = _rec(recommend(age=35, gender="M", income=900000, dependents=4, goals=["retirement care"]), "MED-100")
    assert a.quote_params == b.quote_params == {"age": 35}
    assert a.premium == b.premium


def test_long_terms_respect_age_plus_term_limit() -> None:
    r = recommend(age=57, gender="M", income=80000, dependents=2)
    tl = _rec(r, "TL-300")
    assert tl.quote_params["term_years"] == 10
    r = recommend(age=52, gender="F", income=200000)
    ci = _rec(r, "CI-200")
    assert ci.quote_params["payment_term"] == 10


def test_minor_ci_sum_insured_capped() -> None:
    r = recommend(age=10, gender="M", income=300000)
    assert _rec(r, "CI-200").quote_params["sum_insured"] <= 500000
    assert {"ACC-110"} <= set(_ids(r.ineligible))


def test_missing_gender_leaves_gender_rated_products_unquoted() -> None:
    r = recommend(age=45, income=200000, dependents=1)
    nq = {n.product_id: n.missing_inputs for n in r.not_quoted}
    assert "gender" in nq["CI-200"] and "gender" in nq["TL-300"] and "gender" in nq["LTC-500"]
    assert "MED-100" in _ids(r.recommendations)


# =========================================================================== citations

@pytest.mark.parametrize("profile", PROFILES + [{"age": 30, "existing_policies": ["MED-100", "重疾"]},
                                                {"age": 30, "occupation_class": 6}])
def test_every_cited_clause_id_exists(profile: dict[str, Any]) -> None:
    r = recommend(**profile)
    checked = 0
    groups = [r.recommendations, r.dropped_for_budget, r.not_quoted, r.ineligible, r.already_held]
    for group in groups:
        for item in group:
            valid = set(filing.product_section_ids(item.product_id))
            cited = list(item.clause_ids)
            for reason in getattr(item, "reasons", []):
                cited += reason.clause_ids
            assert cited, item.product_id
            assert set(cited) <= valid, (item.product_id, set(cited) - valid)
            checked += len(cited)
    for gap in r.coverage_gaps:
        assert set(gap.clause_ids) <= set(filing.product_section_ids(gap.product_id))
    for rec in r.recommendations:
        assert any(cid.startswith(f"{rec.product_id}-COV-") for cid in rec.clause_ids)
    assert checked or not r.coverage_gaps


def test_reasons_are_bilingual() -> None:
    r = recommend(age=35, gender="M", income=300000, dependents=2)
    for rec in r.recommendations:
        assert rec.reasons and all(x.zh and x.en for x in rec.reasons)
    for gap in r.coverage_gaps:
        assert gap.why_zh and gap.why_en and gap.zh and gap.en
    assert r.assumptions and all(a.zh and a.en for a in r.assumptions)


# =========================================================================== inputs

@pytest.mark.parametrize("key", ["genetic_test_result", "brca1", "dna_test", "polygenic_risk_score"])
def test_genetic_key_is_refused_with_identical_result(key: str) -> None:
    base = recommend(age=35, gender="F", income=300000, dependents=2)
    r = recommend(age=35, gender="F", income=300000, dependents=2, **{key: "positive"})
    assert r.refused_inputs == [key]
    assert [n.code for n in r.notices] == ["GENETIC_INPUT_REFUSED"]
    strip = {"refused_inputs", "notices"}
    assert r.model_dump(exclude=strip) == base.model_dump(exclude=strip)
    assert key not in json.dumps(r.model_dump(exclude=strip), ensure_ascii=False)


def test_goal_mentioning_a_genetic_test_is_refused() -> None:
    base = recommend(age=35, gender="F", goals=["medical"])
    r = recommend(age=35, gender="F", goals=["medical", "my BRCA test says cancer risk"])
    assert r.refused_inputs == ["goals[1]"]
    assert r.model_dump(exclude={"refused_inputs", "notices"}) == base.model_dump(exclude={"refused_inputs", "notices"})


def test_unknown_key_is_invalid_param() -> None:
    with pytest.raises(ToolError) as info:
        recommend(age=30, favourite_colour="blue")
    assert info.value.code == "INVALID_PARAM" and info.value.field == "favourite_colour"


@pytest.mark.parametrize("kwargs, field", [({"age": "thirty"}, "age"), ({"age": -1}, "age"),
                                           ({"age": True}, "age"), ({"gender": "X"}, "gender"),
                                           ({"income": -5}, "income"), ({"dependents": 1.5}, "dependents"),
                                           ({"budget": "lots"}, "budget"), ({"goals": 5}, "goals")])
def test_malformed_arguments_are_invalid_value(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ToolError) as info:
        recommend(**kwargs)
    assert info.value.code == "INVALID_VALUE" and info.value.field == field


def test_json_style_inputs_are_accepted() -> None:
    a = recommend(age="35", gender="male", income="300000", dependents="2", goals="medical, car")
    b = recommend(age=35, gender="M", income=300000, dependents=2, goals=["medical", "car"])
    assert a.model_dump(exclude={"profile"}) == b.model_dump(exclude={"profile"})
    assert recommend(age=35, gender="男").profile["gender"] == "M"


def test_birth_date_gives_the_age() -> None:
    r = recommend(birth_date="1990-11-02", gender="F")   # as_of 2026-11-01 -> 35
    assert r.profile["age"] == 35 and _rec(r, "MED-100").quote_params["age"] == 35
    with pytest.raises(ToolError) as info:
        recommend(age=30, birth_date="1990-11-02")
    assert info.value.code == "INVALID_VALUE"


# =========================================================================== determinism and shape

@pytest.mark.parametrize("profile", PROFILES)
def test_deterministic_and_json_serialisable(profile: dict[str, Any]) -> None:
    a = recommend(**profile).model_dump()
    b = recommend(**profile).model_dump()
    assert a == b
    assert json.loads(json.dumps(a, ensure_ascii=False)) == a


def test_no_age_means_nothing_is_quoted() -> None:
    r = recommend()
    assert not r.recommendations
    assert r.not_quoted and all("age" in n.missing_inputs for n in r.not_quoted if n.product_id != "TL-300")
    assert any("No age" in a.en for a in r.assumptions)

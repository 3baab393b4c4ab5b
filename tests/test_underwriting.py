"""Pre-underwriting engine (anxin.tools.underwriting) against underwriting.yaml.

Expected values in the hand-written cases were worked out by reading the YAML;
the per-rule tests derive a witness declaration for every rule from its ``when``
with a matcher written independently of the engine.
"""
from __future__ import annotations

import itertools
import json
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anxin.knowledge import filing
from anxin.tools.errors import ToolError
from anxin.tools.underwriting import (UnderwritingResult, is_genetic, parse_outcome, pre_underwrite, round1,
                                      underwrite)

UW = filing.load_underwriting()
CONDITIONS: dict[str, Any] = UW["conditions"]
LINES: list[str] = UW["line_order"]
CAPS = {line: spec["max_total_loading_pct"] for line, spec in UW["lines"].items()}
NOT_UW = UW["not_underwritten"]["products"]
UW_PRODUCTS = [p for spec in UW["lines"].values() for p in spec["products"]]


def ids(result: UnderwritingResult) -> list[str]:
    return [h.rule_id for h in result.rule_hits]


def cond_ids(result: UnderwritingResult) -> list[str]:
    return [h.rule_id for h in result.rule_hits if h.condition is not None]


# --------------------------------------------------------------------------- the filing itself

def test_filing_rules_are_complete_and_well_formed() -> None:
    assert set(LINES) == set(UW["lines"])
    assert len(CONDITIONS) >= 30
    for cid, cond in CONDITIONS.items():
        assert cond["rules"], cid
        for rule in cond["rules"]:
            assert set(rule["outcomes"]) == set(LINES), rule["rule_id"]
            for outcome in rule["outcomes"].values():
                parse_outcome(outcome)  # raises on a bad outcome / unknown clause
            assert set(rule.get("when") or {}) <= set(cond.get("inputs") or {}), rule["rule_id"]


def test_no_filing_condition_or_input_is_mistaken_for_genetic_data() -> None:
    for cid, cond in CONDITIONS.items():
        assert not is_genetic(cid)
        assert not any(is_genetic(k) for k in cond.get("inputs") or {})
    for key in UW["applicant_fields"]["accepted"] + ["height_cm", "weight_kg", "condition"]:
        assert not is_genetic(key)


# --------------------------------------------------------------------------- one test per rule

def _t_matches(when: dict[str, Any], decl: dict[str, Any]) -> bool:
    """Independent reading of `matching`: list = in, range map, scalar = ==, {} = always."""
    for key, cond in (when or {}).items():
        v = decl[key]
        if isinstance(cond, list):
            if str(v) not in [str(c) for c in cond]:
                return False
        elif isinstance(cond, dict):
            ops = {"gte": lambda a, b: a >= b, "gt": lambda a, b: a > b,
                   "lte": lambda a, b: a <= b, "lt": lambda a, b: a < b}
            if not all(ops[op](float(v), float(b)) for op, b in cond.items()):
                return False
        elif v != cond:
            return False
    return True


def _candidates(cid: str, name: str, spec: dict[str, Any]) -> list[Any]:
    if spec["type"] == "enum":
        return list(spec["values"])
    if spec["type"] == "bool":
        return [False, True]
    bounds = {float(b) for r in CONDITIONS[cid]["rules"]
              for c in [(r.get("when") or {}).get(name)] if isinstance(c, dict) for b in c.values()}
    lo, hi = float(spec["min"]), float(spec["max"])
    raw = {lo, hi} | {b + d for b in bounds for d in (-1, -0.5, 0, 0.5, 1)}
    vals = sorted(v for v in raw if lo <= v <= hi)
    if spec["type"] == "int":
        vals = sorted({int(v) for v in vals if v == int(v)})
    return vals


def _witness(cid: str, rule_index: int) -> dict[str, Any]:
    """A declaration whose first matching rule (per the independent matcher) is rules[rule_index]."""
    inputs = CONDITIONS[cid].get("inputs") or {}
    names = list(inputs)
    for combo in itertools.product(*[_candidates(cid, n, inputs[n]) for n in names]):
        decl = dict(zip(names, combo))
        first = next(i for i, r in enumerate(CONDITIONS[cid]["rules"]) if _t_matches(r.get("when"), decl)) \
            if any(_t_matches(r.get("when"), decl) for r in CONDITIONS[cid]["rules"]) else None
        if first == rule_index:
            return {"condition": cid, **decl}
    raise AssertionError(f"no witness for {CONDITIONS[cid]['rules'][rule_index]['rule_id']}")


def _expected_single(outcome: str, line: str) -> tuple[str, float, list[str], int | None]:
    kind, _, arg = outcome.partition(":")
    if kind == "standard":
        return "standard", 0, [], None
    if kind == "decline":
        return "decline", 0, [], None
    if kind == "loading":
        return ("decline" if float(arg) > CAPS[line] else "loading"), float(arg), [], None
    if kind == "exclude":
        return "exclusion", 0, [arg], None
    return "postpone", 0, [], int(arg)


RULES = [(cid, i, r["rule_id"]) for cid, c in CONDITIONS.items() for i, r in enumerate(c["rules"])]


@pytest.mark.parametrize("cid,index,rule_id", RULES, ids=[r[2] for r in RULES])
def test_every_rule_of_every_condition(cid: str, index: int, rule_id: str) -> None:
    decl = _witness(cid, index)
    rule = CONDITIONS[cid]["rules"][index]
    for line in LINES:
        res = underwrite(line, [decl])
        hit = res.rule_hits[0]
        assert (hit.rule_id, hit.condition, hit.outcome) == (rule_id, cid, rule["outcomes"][line])
        assert hit.reason.zh == rule["reason"]["zh"] and hit.reason.en == rule["reason"]["en"]
        decision, total, excl, months = _expected_single(rule["outcomes"][line], line)
        if line == "diabetes_care" and cid != "type2_diabetes":
            decision, excl, months = "decline", [], None  # UW-ELIG-DM
            assert ids(res)[-1] == "UW-ELIG-DM"
        assert res.decision == decision
        assert res.total_loading_pct == total
        assert res.exclusions == excl
        assert res.postpone_months == months
    # each product decides exactly like its line
    for pid in UW_PRODUCTS:
        line = filing.product(pid)["underwriting_line"]
        assert underwrite(pid, [decl]).model_dump(exclude={"product_id"}) == \
            underwrite(line, [decl]).model_dump(exclude={"product_id"})


# --------------------------------------------------------------------------- hand-written cases

def D(condition: str, **inputs: Any) -> dict[str, Any]:
    return {"condition": condition, **inputs}


# (target, declarations, applicant, decision, total_loading_pct, exclusions, postpone_months, rule ids)
HAND_CASES: list[tuple[str, list[dict[str, Any]], dict[str, Any] | None, str, float, list[str], int | None, list[str]]] = [
    ("MED-100", [D("thyroid_nodule", tirads="3")], None, "exclusion", 0, ["EX-THYROID"], None, ["UW-THY-02"]),
    ("CI-200", [D("thyroid_nodule", tirads=3)], None, "exclusion", 0, ["EX-THYROID-CA"], None, ["UW-THY-02"]),
    ("CI-200", [D("thyroid_nodule", tirads="4A")], None, "postpone", 0, [], 6, ["UW-THY-03"]),
    ("ACC-110", [D("thyroid_nodule", tirads="5")], None, "standard", 0, [], None, ["UW-THY-04"]),
    ("LTC-500", [D("hypertension", grade=1, controlled=True)], None, "loading", 25, [], None, ["UW-HTN-01"]),
    ("MED-100", [D("hypertension", grade="2", controlled=False)], None, "decline", 0, [], None, ["UW-HTN-04"]),
    ("TL-300", [D("hypertension", grade=3, controlled=True)], None, "loading", 100, [], None, ["UW-HTN-05"]),
    ("DM-400", [D("hypertension", grade=1, controlled=True)], None, "decline", 10, [], None,
     ["UW-HTN-01", "UW-ELIG-DM"]),
    ("DM-400", [D("type2_diabetes", hba1c_pct=8.0, complications="early_retinopathy")], None,
     "exclusion", 0, ["EX-DM-RETINO"], None, ["UW-T2D-04"]),
    ("DM-400", [D("type2_diabetes", hba1c_pct=10.0, complications="none")], None, "decline", 0, [], None,
     ["UW-T2D-02"]),
    ("ACC-110", [D("type2_diabetes", hba1c_pct=12, complications="advanced")], None, "loading", 25, [], None,
     ["UW-T2D-01"]),
    # loading exactly at the cap is accepted
    ("CI-200", [D("hypertension", grade=2, controlled=False), D("bmi", bmi=33)], None, "loading", 100, [], None,
     ["UW-HTN-04", "UW-BMI-03"]),
    # 75 + 25 + 20 = 120 > 100
    ("CI-200", [D("hypertension", grade=2, controlled=False), D("smoking", cigarettes_per_day=25),
                D("hyperlipidaemia", controlled=False)], None, "decline", 120, [], None,
     ["UW-HTN-04", "UW-SMK-02", "UW-LIP-02", "UW-COMB-CAP"]),
    ("MED-100", [D("gout", attacks_per_year=1, kidney_involvement=False), D("bmi", bmi=33)], None,
     "loading_and_exclusion", 20, ["EX-GOUT"], None, ["UW-GOUT-02", "UW-BMI-03"]),
    ("LTC-500", [D("depression_anxiety", status="current_mild"), D("prediabetes", hba1c_pct=6.7)], None,
     "postpone", 0, [], 12, ["UW-DEP-02", "UW-PDM-03"]),
    ("MED-100", [D("alcohol", grams_per_day=50), D("fatty_liver", severity="moderate", liver_function="normal"),
                 D("hepatitis_b_carrier", liver_function="normal")], None,
     "exclusion", 0, ["EX-LIVER", "EX-HBV"], None, ["UW-ALC-02", "UW-FL-02", "UW-HBV-01"]),
    ("ACC-110", [D("epilepsy", seizure_free_years=3)], None, "exclusion", 0, ["EX-ACC-SEIZURE"], None, ["UW-EPI-01"]),
    ("ACC-110", [D("coronary_heart_disease", status="event_last_12m")], None, "postpone", 0, [], 6, ["UW-CHD-01"]),
    # 101.2 / 1.70^2 = 35.017 -> 35.0 -> severe obesity
    ("TL-300", [D("bmi", height_cm=170, weight_kg=101.2)], None, "loading", 75, [], None, ["UW-BMI-04"]),
    # 127.8 / 2.00^2 = 31.95 exactly -> half-up 32.0 (float rounding would give 31.9)
    ("MED-100", [D("bmi", height_cm=200, weight_kg=127.8)], None, "loading", 20, [], None, ["UW-BMI-03"]),
    ("ACC-110", [D("stroke_history", years_since_event=1.5)], None, "loading", 50, [], None, ["UW-STK-01"]),
    ("ACC-110", [D("stroke_history", years_since_event=1.5), D("alcohol", grams_per_day=60)], None,
     "decline", 75, [], None, ["UW-STK-01", "UW-ALC-02", "UW-COMB-CAP"]),
    ("MED-100", [D("pregnancy", weeks=20, complications=False)], None, "exclusion", 0, ["EX-PREG"], None,
     ["UW-PRG-02"]),
    ("medical", [D("pregnancy", weeks=30, complications=False)], None, "postpone", 0, [], 4, ["UW-PRG-03"]),
    ("TL-300", [D("hypertension", grade=2, controlled=False), D("cancer_history", years_since_treatment_end=12)],
     None, "loading", 100, [], None, ["UW-HTN-04", "UW-CA-04"]),
    ("MED-100", [D("systemic_lupus"), D("thyroid_nodule", tirads="4b")], None, "decline", 0, [], None,
     ["UW-SLE-01", "UW-THY-04"]),
    # cap is checked before postpone: 75 + 25 + 25 = 125 > 100
    ("CI-200", [D("hypertension", grade=2, controlled=False), D("smoking", cigarettes_per_day=30),
                D("thyroid_nodule", tirads="4a"), D("fatty_liver", severity="severe", liver_function="abnormal")],
     None, "decline", 125, [], None, ["UW-HTN-04", "UW-SMK-02", "UW-THY-03", "UW-FL-03", "UW-COMB-CAP"]),
    ("CI-200", [D("thyroid_nodule", tirads="4a"), D("hypertension", grade=1, controlled=False)], None,
     "postpone", 30, [], 6, ["UW-THY-03", "UW-HTN-02"]),
    ("DM-400", [D("type2_diabetes", hba1c_pct=7.4, complications="none"), D("high_myopia", diopters=12),
                D("hypertension", grade=1, controlled=True), D("gout", attacks_per_year=0, kidney_involvement=True)],
     None, "loading_and_exclusion", 10, ["EX-DM-RETINO", "EX-DM-NEPHRO"], None,
     ["UW-T2D-06", "UW-MYO-03", "UW-HTN-01", "UW-GOUT-01"]),
    ("DM-400", [D("type2_diabetes", hba1c_pct=7.0, complications="early_retinopathy"), D("high_myopia", diopters=12)],
     None, "exclusion", 0, ["EX-DM-RETINO"], None, ["UW-T2D-04", "UW-MYO-03"]),
    ("critical_illness", [D("uterine_fibroid", size_cm=5, surgery_planned=True)], None, "standard", 0, [], None,
     ["UW-UFB-01"]),
    ("life", [D("gout", attacks_per_year=5, kidney_involvement=False)], None, "standard", 0, [], None, ["UW-GOUT-03"]),
    ("LTC-500", [D("gout", attacks_per_year=5, kidney_involvement=False)], None, "loading", 25, [], None,
     ["UW-GOUT-03"]),
    ("TL-300", [D("smoking", cigarettes_per_day=20)], None, "standard", 0, [], None, ["UW-SMK-01"]),
    ("TL-300", [D("smoking", cigarettes_per_day=21)], None, "loading", 25, [], None, ["UW-SMK-02"]),
    ("MED-100", [], None, "standard", 0, [], None, []),
    ("DM-400", [], None, "decline", 0, [], None, ["UW-ELIG-DM"]),
    # applicant-level BMI becomes a bmi declaration; age/gender are ignored
    ("CI-200", [], {"age": 40, "gender": "F", "bmi": 34.9}, "loading", 25, [], None, ["UW-BMI-03"]),
    ("LTC-500", [D("hypertension", grade=1, controlled=True)], {"height_cm": 160, "weight_kg": 40},
     "postpone", 25, [], 6, ["UW-HTN-01", "UW-BMI-01"]),
]


@pytest.mark.parametrize("target,decls,applicant,decision,total,excl,months,rule_ids", HAND_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(HAND_CASES)])
def test_hand_written_cases(target: str, decls: list[dict[str, Any]], applicant: dict[str, Any] | None,
                            decision: str, total: float, excl: list[str], months: int | None,
                            rule_ids: list[str]) -> None:
    res = underwrite(target, decls, applicant)
    assert res.decision == decision
    assert res.total_loading_pct == total
    assert res.exclusions == excl
    assert [e.clause_id for e in res.exclusion_details] == excl
    assert res.postpone_months == months
    assert ids(res) == rule_ids
    assert res.refused_inputs == [] and res.notices == []
    assert res.decision_text.en == UW["combination"]["decisions"][decision]["en"]
    accepted = decision in ("standard", "loading", "exclusion", "loading_and_exclusion")
    assert res.quote_params == ({"uw_loading_pct": total} if accepted else None)
    assert res.loading_factor == (1 + total / 100 if decision in ("loading", "loading_and_exclusion") else 1.0)
    json.dumps(res.to_dict(), ensure_ascii=False)


def test_hand_cases_cover_every_decision() -> None:
    assert {c[3] for c in HAND_CASES} == set(UW["combination"]["decisions"]) - {"not_applicable"}


# --------------------------------------------------------------------------- combination

def test_decline_wins_over_everything() -> None:
    decls = [D("thyroid_nodule", tirads="4b"), D("bmi", bmi=33), D("hypertension", grade=1, controlled=True),
             D("alcohol", grams_per_day=90)]
    res = underwrite("MED-100", decls)
    assert res.decision == "decline"
    assert res.exclusions == [] and res.postpone_months is None and res.quote_params is None
    assert res.loading_factor == 1.0 and res.total_loading_pct == 20
    assert "UW-COMB-CAP" not in ids(res)


def test_cap_is_inclusive_and_the_cap_rule_reports_sum_and_cap() -> None:
    res = underwrite("MED-100", [D("bmi", bmi=33), D("smoking", cigarettes_per_day=40),
                                 D("hypertension", grade=1, controlled=True)])
    assert (res.decision, res.total_loading_pct, res.exclusions) == ("loading_and_exclusion", 35, ["EX-HTN"])
    at_cap = [D("hypertension", grade=2, controlled=True), D("bmi", bmi=33)]  # ltc 50 + 25 = 75 = cap
    res = underwrite("LTC-500", at_cap)
    assert (res.decision, res.total_loading_pct, res.loading_factor) == ("loading", 75, 1.75)
    res = underwrite("LTC-500", at_cap + [D("hyperlipidaemia", controlled=False)])  # + 15 = 90 > 75
    assert (res.decision, res.total_loading_pct, res.quote_params) == ("decline", 90, None)
    cap = res.rule_hits[-1]
    assert cap.rule_id == "UW-COMB-CAP" and cap.condition is None and cap.outcome == "decline"
    assert "90% > cap 75%" in cap.reason.en and "90% > 上限 75%" in cap.reason.zh
    assert cap.reason.en.startswith(UW["combination"]["cap_rule"]["reason"]["en"])


def test_same_declarations_against_every_line_cap() -> None:
    # hyperlipidaemia uncontrolled + 30 cigarettes/day + BMI 33 + 50 g alcohol/day, summed per line
    decls = [D("hyperlipidaemia", controlled=False), D("smoking", cigarettes_per_day=30), D("bmi", bmi=33),
             D("alcohol", grams_per_day=50)]
    t2d = [D("type2_diabetes", hba1c_pct=7, complications="none")]
    expected = {  # line: (sum, decision)  -- caps: 50 / 100 / 150 / 75 / 50 / 50
        "medical": (0 + 15 + 20, "loading_and_exclusion"),   # + EX-LIVER
        "critical_illness": (20 + 25 + 25 + 25, "loading"),   # 95 <= 100
        "life": (15 + 25 + 25 + 50, "loading"),               # 115 <= 150
        "ltc": (15 + 25 + 25 + 25, "decline"),                # 90 > 75
        "accident": (0 + 0 + 0 + 25, "loading"),
        "diabetes_care": (10 + 15 + 15 + 20, "decline"),      # 60 > 50
    }
    for line, (total, decision) in expected.items():
        res = underwrite(line, decls + (t2d if line == "diabetes_care" else []))
        assert (res.total_loading_pct, res.decision) == (total, decision), line
        assert ("UW-COMB-CAP" in ids(res)) == (decision == "decline")


def test_postpone_takes_the_longest_months() -> None:
    decls = [D("prediabetes", hba1c_pct=6.6), D("pregnancy", weeks=30, complications=False),
             D("depression_anxiety", status="current_mild"), D("thyroid_nodule", tirads="5")]
    res = underwrite("LTC-500", decls)
    assert res.decision == "postpone" and res.postpone_months == 12
    assert underwrite("LTC-500", decls[:2]).postpone_months == 4
    assert underwrite("LTC-500", [decls[0]]).postpone_months == 3
    assert res.exclusions == [] and res.quote_params is None


def test_exclusions_deduplicated_in_first_appearance_order() -> None:
    decls = [D("hepatitis_b_carrier", liver_function="normal"), D("alcohol", grams_per_day=45),
             D("fatty_liver", severity="moderate", liver_function="normal"), D("hypertension", grade=2, controlled=True)]
    res = underwrite("MED-100", decls)
    assert res.decision == "exclusion"
    assert res.exclusions == ["EX-HBV", "EX-LIVER", "EX-HTN"]
    assert [e.en for e in res.exclusion_details] == [UW["exclusion_clauses"][c]["en"] for c in res.exclusions]


def test_loading_factor_and_quote_params() -> None:
    res = underwrite("dm-400", [D("type2_diabetes", hba1c_pct=7.4, complications="none"),
                                D("hypertension", grade=1, controlled=True)])
    assert res.loading_factor == pytest.approx(1.10) and res.quote_params == {"uw_loading_pct": 10}
    assert isinstance(res.total_loading_pct, int)
    assert underwrite("MED-100", [D("thyroid_nodule", tirads="3")]).quote_params == {"uw_loading_pct": 0}


# --------------------------------------------------------------------------- demo policies

POLICIES = [p for p in filing.load_demo_data()["policies"] if p.get("underwriting")]


@pytest.mark.parametrize("policy", POLICIES, ids=[p["policy_number"] for p in POLICIES])
def test_demo_policy_declarations_reproduce_the_stored_decision(policy: dict[str, Any]) -> None:
    stored = policy["underwriting"]
    res = underwrite(policy["product_id"], stored["declarations"])
    assert res.decision == stored["decision"]
    assert res.total_loading_pct == stored.get("total_loading_pct", 0)
    assert res.exclusions == stored.get("exclusions", [])
    assert cond_ids(res) == stored["rule_ids"]
    assert res.quote_params == {"uw_loading_pct": policy["quote_params"]["uw_loading_pct"]}


def test_demo_data_has_underwriting_test_vectors() -> None:
    assert len(POLICIES) >= 10
    assert {p["underwriting"]["decision"] for p in POLICIES} >= {"standard", "exclusion", "loading"}


# --------------------------------------------------------------------------- BMI

@pytest.mark.parametrize("height,weight,bmi,rule", [
    (200, 127.8, "32.0", "UW-BMI-03"),   # 31.95 exactly -> half-up
    (200, 127.6, "31.9", "UW-BMI-02"),   # 31.9
    (200, 63.8, "16.0", "UW-BMI-02"),    # 15.95 -> 16.0
    (200, 63.6, "15.9", "UW-BMI-01"),
    (200, 139.8, "35.0", "UW-BMI-04"),   # 34.95 -> 35.0
    ("175", "61.25", "20.0", "UW-BMI-02"),  # numeric strings accepted
    (162, 66, "25.1", "UW-BMI-02"),      # the demo customer C003
])
def test_bmi_from_height_and_weight(height: Any, weight: Any, bmi: str, rule: str) -> None:
    res = underwrite("CI-200", [D("bmi", height_cm=height, weight_kg=weight)])
    assert ids(res) == [rule]
    # the same BMI given directly (and also together with height/weight) gives the same hit
    assert ids(underwrite("CI-200", [D("bmi", bmi=float(bmi))])) == [rule]
    assert ids(underwrite("CI-200", [D("bmi", bmi=float(bmi), height_cm=height, weight_kg=weight)])) == [rule]
    assert ids(underwrite("CI-200", [], {"height_cm": height, "weight_kg": weight})) == [rule]


def test_round1_is_exact_half_up() -> None:
    assert round1(Decimal("32.25")) == Decimal("32.3")  # half-even would give 32.2
    assert round1(Fraction(1278, 40)) == Decimal("32.0") and str(round1(Fraction(1278, 40))) == "32.0"
    assert round1(Decimal("31.9499999")) == Decimal("31.9")
    assert round1(Decimal("-1.25")) == Decimal("-1.3")


def test_given_bmi_is_rounded_half_up_before_matching() -> None:
    assert ids(underwrite("MED-100", [D("bmi", bmi=31.95)])) == ["UW-BMI-03"]
    assert ids(underwrite("MED-100", [D("bmi", bmi=31.94)])) == ["UW-BMI-02"]
    assert ids(underwrite("MED-100", [D("bmi", bmi="15.95")])) == ["UW-BMI-02"]


def test_bmi_disagreeing_with_height_weight_is_invalid() -> None:
    with pytest.raises(ToolError) as e:
        underwrite("MED-100", [D("bmi", bmi=22, height_cm=170, weight_kg=90)])
    assert e.value.code == "INVALID_VALUE" and e.value.field == "declarations[0].bmi"


def test_bmi_needs_both_height_and_weight() -> None:
    with pytest.raises(ToolError) as e:
        underwrite("MED-100", [D("bmi", height_cm=170)])
    assert e.value.code == "MISSING_INPUT" and e.value.field == "declarations[0].weight_kg"
    with pytest.raises(ToolError) as e:
        underwrite("MED-100", [], {"weight_kg": 70})
    assert e.value.code == "MISSING_INPUT" and e.value.field == "height_cm"
    with pytest.raises(ToolError) as e:
        underwrite("MED-100", [D("bmi")])
    assert e.value.code == "MISSING_INPUT"


def test_bmi_from_height_weight_out_of_range_is_invalid() -> None:
    for decl in (D("bmi", height_cm=170, weight_kg=250), D("bmi", height_cm=10, weight_kg=70), D("bmi", bmi=9.9),
                 D("bmi", bmi=70.1)):
        with pytest.raises(ToolError) as e:
            underwrite("MED-100", [decl])
        assert e.value.code == "INVALID_VALUE"


def test_applicant_bmi_is_ignored_when_a_bmi_declaration_exists() -> None:
    res = underwrite("MED-100", [D("bmi", bmi=22)], {"bmi": 40})
    assert ids(res) == ["UW-BMI-02"] and res.decision == "standard"


def test_applicant_age_gender_birth_date_do_not_change_the_decision() -> None:
    decls = [D("hypertension", grade=1, controlled=False)]
    base = underwrite("TL-300", decls)
    other = underwrite("TL-300", decls, {"age": 99, "gender": "F", "birth_date": "1950-01-01"})
    assert base == other and base.decision == "loading" and base.total_loading_pct == 25


def test_pre_underwrite_tool_signature() -> None:
    res = pre_underwrite("MED-100", [D("thyroid_nodule", tirads="3")], age=30, gender="M", bmi=33)
    assert res.decision == "loading_and_exclusion" and ids(res) == ["UW-THY-02", "UW-BMI-03"]
    assert pre_underwrite("MED-100", [], age=None, bmi=None).decision == "standard"


# --------------------------------------------------------------------------- value matching

@pytest.mark.parametrize("decl,rule", [
    (D("thyroid_nodule", tirads=3), "UW-THY-02"),
    (D("thyroid_nodule", tirads="3"), "UW-THY-02"),
    (D("thyroid_nodule", tirads=" 4B "), "UW-THY-04"),
    (D("hypertension", grade="1", controlled=True), "UW-HTN-01"),
    (D("hypertension", grade=2.0, controlled=True), "UW-HTN-03"),
    (D("chronic_kidney_disease", stage="3"), "UW-CKD-02"),
    (D("kidney_stones", status="Present"), "UW-KST-02"),
    (D("smoking", cigarettes_per_day="21"), "UW-SMK-02"),
    (D("smoking", cigarettes_per_day=20.0), "UW-SMK-01"),
    (D("type2_diabetes", hba1c_pct="9.99", complications="none"), "UW-T2D-07"),
    (D("type2_diabetes", hba1c_pct=7.5, complications="none"), "UW-T2D-07"),
    (D("lung_nodule", size_mm=6), "UW-LNG-02"),
    (D("lung_nodule", size_mm=5.99), "UW-LNG-01"),
])
def test_values_are_compared_sensibly(decl: dict[str, Any], rule: str) -> None:
    assert ids(underwrite("CI-200", [decl])) == [rule]


def test_condition_ids_are_case_insensitive() -> None:
    assert ids(underwrite("MED-100", [{"condition": "Thyroid_Nodule", "tirads": "3"}])) == ["UW-THY-02"]


# --------------------------------------------------------------------------- errors

ERROR_CASES: list[tuple[str, Any, Any, str, str]] = [
    ("XX-999", [], None, "UNKNOWN_PRODUCT", "product_id"),
    ("", [], None, "UNKNOWN_PRODUCT", "product_id"),
    ("dental", [], None, "UNKNOWN_PRODUCT", "product_id"),
    ("MED-100", [D("diabetes")], None, "UNKNOWN_CONDITION", "declarations[0].condition"),
    ("MED-100", [D("bmi", bmi=22), {"condition": 5}], None, "UNKNOWN_CONDITION", "declarations[1].condition"),
    ("MED-100", [D("hypertension", grade=1)], None, "MISSING_INPUT", "declarations[0].controlled"),
    ("MED-100", [D("hypertension", grade=1, controlled=None)], None, "MISSING_INPUT", "declarations[0].controlled"),
    ("MED-100", [{"tirads": "3"}], None, "MISSING_INPUT", "declarations[0].condition"),
    ("MED-100", [D("thyroid_nodule", tirads="6")], None, "INVALID_VALUE", "declarations[0].tirads"),
    ("MED-100", [D("thyroid_nodule", tirads=True)], None, "INVALID_VALUE", "declarations[0].tirads"),
    ("MED-100", [D("hypertension", grade=4, controlled=True)], None, "INVALID_VALUE", "declarations[0].grade"),
    ("MED-100", [D("hypertension", grade=1, controlled="yes")], None, "INVALID_VALUE", "declarations[0].controlled"),
    ("MED-100", [D("hypertension", grade=1, controlled=1)], None, "INVALID_VALUE", "declarations[0].controlled"),
    ("MED-100", [D("prediabetes", hba1c_pct=25)], None, "INVALID_VALUE", "declarations[0].hba1c_pct"),
    ("MED-100", [D("prediabetes", hba1c_pct=2.9)], None, "INVALID_VALUE", "declarations[0].hba1c_pct"),
    ("MED-100", [D("prediabetes", hba1c_pct="high")], None, "INVALID_VALUE", "declarations[0].hba1c_pct"),
    ("MED-100", [D("prediabetes", hba1c_pct=True)], None, "INVALID_VALUE", "declarations[0].hba1c_pct"),
    ("MED-100", [D("prediabetes", hba1c_pct=float("nan"))], None, "INVALID_VALUE", "declarations[0].hba1c_pct"),
    ("MED-100", [D("smoking", cigarettes_per_day=3.5)], None, "INVALID_VALUE", "declarations[0].cigarettes_per_day"),
    ("MED-100", [D("smoking", cigarettes_per_day=-1)], None, "INVALID_VALUE", "declarations[0].cigarettes_per_day"),
    ("MED-100", [D("pregnancy", weeks=43, complications=False)], None, "INVALID_VALUE", "declarations[0].weeks"),
    ("MED-100", "thyroid", None, "INVALID_VALUE", "declarations"),
    ("MED-100", ["thyroid_nodule"], None, "INVALID_VALUE", "declarations[0]"),
    ("MED-100", [], ["bmi"], "INVALID_VALUE", "applicant"),
    ("MED-100", [D("hypertension", grade=1, controlled=True), D("hypertension", grade=2, controlled=True)], None,
     "DUPLICATE_CONDITION", "declarations[1].condition"),
    ("MED-100", [D("bmi", bmi=22), D("BMI", bmi=22)], None, "DUPLICATE_CONDITION", "declarations[1].condition"),
    ("MED-100", [D("thyroid_nodule", tirads="3", size_mm=5)], None, "UNKNOWN_INPUT", "declarations[0].size_mm"),
    ("MED-100", [D("systemic_lupus", active=True)], None, "UNKNOWN_INPUT", "declarations[0].active"),
    ("MED-100", [D("alcohol", grams_per_day=10, height_cm=170)], None, "UNKNOWN_INPUT", "declarations[0].height_cm"),
    ("MED-100", [], {"occupation": "teacher"}, "UNKNOWN_INPUT", "occupation"),
]


@pytest.mark.parametrize("target,decls,applicant,code,field", ERROR_CASES)
def test_error_codes(target: str, decls: Any, applicant: Any, code: str, field: str) -> None:
    with pytest.raises(ToolError) as e:
        underwrite(target, decls, applicant)
    assert e.value.code == code and e.value.field == field
    assert e.value.message_zh and e.value.message_en
    assert e.value.to_dict()["error"]["code"] == code


def test_every_matching_error_code_is_exercised() -> None:
    assert set(UW["matching"]["errors"]) <= {c[3] for c in ERROR_CASES}


# --------------------------------------------------------------------------- targets / not_applicable

@pytest.mark.parametrize("pid", NOT_UW)
def test_products_without_health_underwriting_are_not_applicable(pid: str) -> None:
    res = underwrite(pid.lower(), [D("hypertension", grade=3, controlled=False)], {"bmi": 40})
    assert res.decision == "not_applicable" and res.product_id == pid and res.line is None
    assert res.decision_text.zh == UW["combination"]["decisions"]["not_applicable"]["zh"]
    assert res.rule_hits == [] and res.quote_params == {} and res.total_loading_pct == 0
    assert res.notices[0].en == UW["not_underwritten"]["en"]
    assert filing.product(pid)["underwriting_line"] == "none"


def test_targets_resolve_products_and_lines() -> None:
    for line, spec in UW["lines"].items():
        for pid in spec["products"]:
            for variant in (pid, pid.lower(), f" {pid.title()} "):
                res = underwrite(variant, [D("bmi", bmi=22)])
                assert (res.product_id, res.line) == (pid, line)
            assert filing.product(pid)["underwriting_line"] == line
        assert underwrite(line.upper(), []).line == line and underwrite(line, []).product_id is None
    assert underwrite("critical illness", []).line == "critical_illness"


# --------------------------------------------------------------------------- genetic data

def test_genetic_declaration_is_dropped_and_refused() -> None:
    base = underwrite("CI-200", [D("breast_nodule", birads="3")])
    res = underwrite("CI-200", [D("BRCA1", result="positive"), D("breast_nodule", birads="3"),
                                D("genetic_test", result="positive")])
    assert res.refused_inputs == ["BRCA1", "genetic_test"]
    assert res.notices == [res.rule_hits[0].reason] and res.notices[0].en == UW["genetic_data"]["notice"]["en"]
    assert res.rule_hits[0].rule_id == "UW-GEN-00" and res.rule_hits[0].outcome == "refused"
    assert res.model_dump(exclude={"refused_inputs", "notices", "rule_hits"}) == \
        base.model_dump(exclude={"refused_inputs", "notices", "rule_hits"})
    assert res.rule_hits[1:] == base.rule_hits


def test_genetic_input_key_is_dropped_from_its_declaration() -> None:
    res = underwrite("MED-100", [D("thyroid_nodule", tirads="3", brca_status="carrier", DNA_Result="x")],
                     {"polygenic_score": 0.9, "Apoe4": True, "age": 40})
    assert res.refused_inputs == ["thyroid_nodule.brca_status", "thyroid_nodule.DNA_Result", "polygenic_score",
                                  "Apoe4"]
    assert res.decision == "exclusion" and ids(res) == ["UW-GEN-00", "UW-THY-02"]


def test_genetic_refusal_also_applies_to_products_without_underwriting() -> None:
    res = underwrite("FLT-800", [D("genome_sequencing")], {"gene_panel": "x"})
    assert res.decision == "not_applicable" and res.refused_inputs == ["genome_sequencing", "gene_panel"]
    assert UW["genetic_data"]["notice"]["en"] in [n.en for n in res.notices]


def test_genetic_values_are_never_stored_and_inputs_not_mutated() -> None:
    secret = "SECRET-VARIANT-c.68_69delAG"
    decls = [D("thyroid_nodule", tirads="3", genetic_note=secret), D("brca2", variant=secret)]
    snapshot = json.loads(json.dumps(decls))
    res = underwrite("MED-100", decls, {"dna_test": secret})
    assert secret not in json.dumps(res.to_dict(), ensure_ascii=False)
    assert decls == snapshot


def test_genetic_declarations_never_trigger_duplicate_or_validation_errors() -> None:
    res = underwrite("MED-100", [D("brca"), D("brca"), D("gene_mutation", anything=object()),
                                 {"condition": "Polygenic_Risk_Score", "x": float("nan")}])
    assert res.decision == "standard" and res.refused_inputs == ["brca", "gene_mutation", "Polygenic_Risk_Score"]


# ---- hypothesis: genetic refusal identity -----------------------------------

def _value(spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    t = spec["type"]
    if t == "enum":
        return st.sampled_from(spec["values"]).flatmap(
            lambda v: st.sampled_from([v, str(v)] + ([int(v)] if str(v).isdigit() else [])))
    if t == "bool":
        return st.booleans()
    if t == "int":
        return st.integers(int(spec["min"]), int(spec["max"]))
    return st.decimals(spec["min"], spec["max"], places=2).map(float)


def _declaration(cid: str) -> st.SearchStrategy[dict[str, Any]]:
    inputs = CONDITIONS[cid].get("inputs") or {}
    return st.fixed_dictionaries({k: _value(v) for k, v in inputs.items()}).map(lambda d: {"condition": cid, **d})


valid_declarations = st.lists(st.sampled_from(sorted(CONDITIONS)), unique=True, max_size=6).flatmap(
    lambda cids: st.tuples(*[_declaration(c) for c in cids]).map(list))

# sometimes a broken declaration, so that errors must be identical too
broken_declaration = st.sampled_from([
    D("not_a_condition"), D("hypertension", grade=1), D("thyroid_nodule", tirads="9"),
    D("alcohol", grams_per_day=10, colour="red"), D("smoking", cigarettes_per_day=1000),
])

_GEN_SUBSTR = UW["genetic_data"]["prohibited_key_substrings"]
genetic_names = st.one_of(
    st.sampled_from(UW["genetic_data"]["prohibited_conditions"]).map(str),
    st.sampled_from(UW["genetic_data"]["prohibited_conditions"]).map(str.upper),
    st.tuples(st.sampled_from(["", "my_", "X"]), st.sampled_from(_GEN_SUBSTR), st.sampled_from(["", "_result", "Score"]))
    .map(lambda t: t[0] + (t[1].upper() if t[0] == "X" else t[1]) + t[2]),
)
junk_values = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=True))
genetic_declarations = st.builds(lambda name, extra: {"condition": name, **extra}, genetic_names,
                                 st.dictionaries(st.sampled_from(["result", "variant", "tirads", "bmi"]), junk_values,
                                                 max_size=2))
TARGETS = sorted(filing.products()) + LINES


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_genetic_refusal_identity(data: st.DataObject) -> None:
    target = data.draw(st.sampled_from(TARGETS))
    base = data.draw(valid_declarations)
    if data.draw(st.integers(0, 9)) == 0:
        base = base + [data.draw(broken_declaration)]
    applicant = data.draw(st.fixed_dictionaries({}, optional={
        "age": st.integers(0, 90), "gender": st.sampled_from(["M", "F"]), "bmi": st.sampled_from([15.0, 22.5, 33.3]),
    }))

    # the same request with genetic declarations inserted and genetic keys added
    noisy = [dict(d) for d in base]
    for d in noisy:
        if data.draw(st.integers(0, 3)) == 0:
            d[data.draw(genetic_names)] = data.draw(junk_values)
    for g in data.draw(st.lists(genetic_declarations, min_size=1, max_size=3)):
        noisy.insert(data.draw(st.integers(0, len(noisy))), g)
    noisy_applicant = dict(applicant)
    if data.draw(st.booleans()):
        noisy_applicant[data.draw(genetic_names)] = data.draw(junk_values)

    def outcome(decls: list[dict[str, Any]], app: dict[str, Any]) -> tuple[str, Any]:
        try:
            r = underwrite(target, decls, app)
        except ToolError as e:
            return "error", e.code
        d = r.model_dump()
        refused, notices = d.pop("refused_inputs"), d.pop("notices")
        d["rule_hits"] = [h for h in d["rule_hits"] if h["rule_id"] != "UW-GEN-00"]
        return "ok", (d, refused, [n for n in notices if n["en"] == UW["genetic_data"]["notice"]["en"]])

    clean_kind, clean = outcome(base, applicant)
    noisy_kind, noisy_res = outcome(noisy, noisy_applicant)
    assert clean_kind == noisy_kind
    if clean_kind == "error":
        assert clean == noisy_res
        return
    assert clean[0] == noisy_res[0]
    assert clean[1] == [] and clean[2] == []
    assert noisy_res[1] and all(is_genetic(r.rsplit(".", 1)[-1]) for r in noisy_res[1])
    assert len(noisy_res[2]) == 1


@settings(max_examples=300, deadline=None)
@given(target=st.sampled_from(TARGETS), decls=valid_declarations)
def test_any_valid_declarations_get_a_decision(target: str, decls: list[dict[str, Any]]) -> None:
    res = underwrite(target, decls)
    cond_hits = [h for h in res.rule_hits if h.condition]
    assert [h.condition for h in cond_hits] == ([] if res.decision == "not_applicable" else
                                                [d["condition"] for d in decls])
    if res.decision in ("loading", "loading_and_exclusion"):
        assert res.total_loading_pct <= CAPS[res.line] and res.loading_factor == 1 + res.total_loading_pct / 100
    if res.decision == "postpone":
        assert res.postpone_months and res.postpone_months == max(
            int(h.outcome.split(":")[1]) for h in cond_hits if h.outcome.startswith("postpone"))
    if any(h.outcome == "decline" for h in cond_hits):
        assert res.decision == "decline"
    assert res.exclusions == list(dict.fromkeys(res.exclusions))

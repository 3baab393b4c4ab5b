"""Health declarations from customer wording (anxin.agent.health).

Every condition of underwriting.yaml has at least one Chinese and one English
utterance; every complete extraction is run through the real ``pre_underwrite``
tool, which must accept it (no MISSING_INPUT / INVALID_VALUE / UNKNOWN_INPUT).
"""
from __future__ import annotations

import re
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import yaml

from anxin.agent import health
from anxin.agent.health import (HealthExtraction, extract_declarations, missing_for, question_for,
                                required_inputs)
from anxin.knowledge import filing
from anxin.tools import registry

UW = filing.load_underwriting()
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
CONDITIONS: dict[str, Any] = UW["conditions"]


def decls(text: str, **kw: Any) -> list[dict[str, Any]]:
    return extract_declarations(text, **kw).declarations


def tool(declarations: list[dict[str, Any]], product_id: str = "MED-100", **applicant: Any) -> dict[str, Any]:
    return registry.call("pre_underwrite", {"product_id": product_id, "declarations": declarations, **applicant})


def assert_tool_accepts(declarations: list[dict[str, Any]], product_id: str = "MED-100") -> dict[str, Any]:
    result = tool(declarations, product_id)
    assert "error" not in result, result
    assert result["decision"] in {"standard", "loading", "exclusion", "loading_and_exclusion", "postpone", "decline"}
    return result


# --------------------------------------------------------------------------- one case per condition and language
# (utterance, expected declarations) — input names, types and enum values exactly as underwriting.yaml.

CASES: list[tuple[str, list[dict[str, Any]]]] = [
    # thyroid_nodule
    ("我有甲状腺结节，3类", [{"condition": "thyroid_nodule", "tirads": "3"}]),
    ("体检查出甲状腺结节，TI-RADS 4a类", [{"condition": "thyroid_nodule", "tirads": "4a"}]),
    ("I have a thyroid nodule, TI-RADS 3", [{"condition": "thyroid_nodule", "tirads": "3"}]),
    ("thyroid nodules, category 2", [{"condition": "thyroid_nodule", "tirads": "2"}]),
    # hypertension
    ("高血压1级，吃药控制得很好", [{"condition": "hypertension", "grade": 1, "controlled": True}]),
    ("我有高血压，没吃药时最高165/105，现在控制得不好", [{"condition": "hypertension", "grade": 2, "controlled": False}]),
    ("high blood pressure, 145/92, on meds", [{"condition": "hypertension", "grade": 1, "controlled": False}]),
    ("hypertension grade 2, well controlled", [{"condition": "hypertension", "grade": 2, "controlled": True}]),
    # type2_diabetes
    ("2型糖尿病，糖化7.5，没有并发症", [{"condition": "type2_diabetes", "hba1c_pct": 7.5, "complications": "none"}]),
    ("糖尿病十年了，糖化血红蛋白8.2%，有视网膜病变", [{"condition": "type2_diabetes", "hba1c_pct": 8.2, "complications": "early_retinopathy"}]),
    ("type 2 diabetes, HbA1c 7.2%, no complications", [{"condition": "type2_diabetes", "hba1c_pct": 7.2, "complications": "none"}]),
    ("diabetic with microalbuminuria, my A1c is 6.9", [{"condition": "type2_diabetes", "hba1c_pct": 6.9, "complications": "early_nephropathy"}]),
    # type1_diabetes
    ("我是1型糖尿病", [{"condition": "type1_diabetes"}]),
    ("I have type 1 diabetes", [{"condition": "type1_diabetes"}]),
    # prediabetes
    ("糖尿病前期，糖化6.2", [{"condition": "prediabetes", "hba1c_pct": 6.2}]),
    ("prediabetes, A1c 5.9", [{"condition": "prediabetes", "hba1c_pct": 5.9}]),
    # hepatitis_b_carrier
    ("乙肝小三阳，肝功能正常", [{"condition": "hepatitis_b_carrier", "liver_function": "normal"}]),
    ("我是乙肝大三阳，转氨酶偏高", [{"condition": "hepatitis_b_carrier", "liver_function": "abnormal"}]),
    ("I'm a hep B carrier with normal liver function", [{"condition": "hepatitis_b_carrier", "liver_function": "normal"}]),
    # breast_nodule
    ("乳腺结节 BI-RADS 3类", [{"condition": "breast_nodule", "birads": "3"}]),
    ("breast lump, BI-RADS 4a", [{"condition": "breast_nodule", "birads": "4a"}]),
    # fatty_liver
    ("轻度脂肪肝，肝功能正常", [{"condition": "fatty_liver", "severity": "mild", "liver_function": "normal"}]),
    ("脂肪肝中度，肝功能有点异常", [{"condition": "fatty_liver", "severity": "moderate", "liver_function": "abnormal"}]),
    ("I have mild fatty liver and my liver tests are normal", [{"condition": "fatty_liver", "severity": "mild", "liver_function": "normal"}]),
    # hyperlipidaemia
    ("血脂高，吃他汀控制得挺好", [{"condition": "hyperlipidaemia", "controlled": True}]),
    ("high cholesterol, still high despite statins", [{"condition": "hyperlipidaemia", "controlled": False}]),
    # gout
    ("痛风，一年发作两次，肾功能正常", [{"condition": "gout", "attacks_per_year": 2, "kidney_involvement": False}]),
    ("gout, 3 attacks a year, kidneys are fine", [{"condition": "gout", "attacks_per_year": 3, "kidney_involvement": False}]),
    # asthma
    ("哮喘，轻度，近两年没住过院", [{"condition": "asthma", "severity": "mild", "hospitalised_last_2y": False}]),
    ("asthma, moderate, never been hospitalised", [{"condition": "asthma", "severity": "moderate", "hospitalised_last_2y": False}]),
    # depression_anxiety
    ("焦虑症，目前在吃药，轻度", [{"condition": "depression_anxiety", "status": "current_mild"}]),
    ("抑郁症，已经停药三年了", [{"condition": "depression_anxiety", "status": "remission_2y_plus"}]),
    ("I have depression, currently on antidepressants", [{"condition": "depression_anxiety", "status": "current_mild"}]),
    # coronary_heart_disease
    ("冠心病，放了两个支架", [{"condition": "coronary_heart_disease", "status": "post_pci_or_cabg"}]),
    ("I had a stent put in", [{"condition": "coronary_heart_disease", "status": "post_pci_or_cabg"}]),
    ("angina, stable, medication only", [{"condition": "coronary_heart_disease", "status": "stable_no_intervention"}]),
    # stroke_history
    ("三年前中风过", [{"condition": "stroke_history", "years_since_event": 3}]),
    ("I had a stroke 5 years ago", [{"condition": "stroke_history", "years_since_event": 5}]),
    # cancer_history
    ("癌症 5年前 乳腺癌 已治愈", [{"condition": "cancer_history", "years_since_treatment_end": 5}]),
    ("breast cancer, finished treatment 12 years ago", [{"condition": "cancer_history", "years_since_treatment_end": 12}]),
    # pregnancy
    ("怀孕24周，产检一切正常", [{"condition": "pregnancy", "weeks": 24, "complications": False}]),
    ("怀孕6个月，有妊娠期糖尿病", [{"condition": "pregnancy", "weeks": 26, "complications": True}]),
    ("I'm 20 weeks pregnant, no complications", [{"condition": "pregnancy", "weeks": 20, "complications": False}]),
    # smoking
    ("抽烟，一天20支", [{"condition": "smoking", "cigarettes_per_day": 20}]),
    ("一天抽一包半", [{"condition": "smoking", "cigarettes_per_day": 30}]),
    ("I smoke a pack a day", [{"condition": "smoking", "cigarettes_per_day": 20}]),
    # bmi
    ("身高1米75，体重140斤", [{"condition": "bmi", "height_cm": 175, "weight_kg": 70}]),
    ("BMI 31", [{"condition": "bmi", "bmi": 31}]),
    ("I'm 175 cm and 95 kg", [{"condition": "bmi", "height_cm": 175, "weight_kg": 95}]),
    # alcohol
    ("喝酒，每天二两白酒", [{"condition": "alcohol", "grams_per_day": 41}]),
    ("I drink about 2 glasses of wine a day", [{"condition": "alcohol", "grams_per_day": 28.4}]),
    # kidney_stones
    ("肾结石，已经排出两年了", [{"condition": "kidney_stones", "status": "resolved"}]),
    ("I have a kidney stone, still there", [{"condition": "kidney_stones", "status": "present"}]),
    # gallstones
    ("胆结石，做了手术切了胆囊", [{"condition": "gallstones", "status": "removed"}]),
    ("gallstones, no symptoms", [{"condition": "gallstones", "status": "present_asymptomatic"}]),
    # uterine_fibroid
    ("子宫肌瘤3厘米，医生说定期复查就行", [{"condition": "uterine_fibroid", "size_cm": 3, "surgery_planned": False}]),
    ("uterine fibroid 4 cm, surgery scheduled", [{"condition": "uterine_fibroid", "size_cm": 4, "surgery_planned": True}]),
    # lung_nodule
    ("肺结节 8mm", [{"condition": "lung_nodule", "size_mm": 8}]),
    ("a 5 mm lung nodule", [{"condition": "lung_nodule", "size_mm": 5}]),
    # chronic_kidney_disease
    ("慢性肾病2期", [{"condition": "chronic_kidney_disease", "stage": 2}]),
    ("chronic kidney disease stage 3", [{"condition": "chronic_kidney_disease", "stage": 3}]),
    # rheumatoid_arthritis
    ("类风湿关节炎，目前缓解期", [{"condition": "rheumatoid_arthritis", "activity": "remission"}]),
    ("rheumatoid arthritis, flaring a lot lately", [{"condition": "rheumatoid_arthritis", "activity": "active"}]),
    # systemic_lupus
    ("我有红斑狼疮", [{"condition": "systemic_lupus"}]),
    ("I have lupus", [{"condition": "systemic_lupus"}]),
    # epilepsy
    ("癫痫，两年没发作了", [{"condition": "epilepsy", "seizure_free_years": 2}]),
    ("epilepsy, seizure-free for 3 years", [{"condition": "epilepsy", "seizure_free_years": 3}]),
    # spinal_disc_disease
    ("腰椎间盘突出，保守治疗", [{"condition": "spinal_disc_disease", "surgery_recommended": False}]),
    ("herniated disc, doctor recommended surgery", [{"condition": "spinal_disc_disease", "surgery_recommended": True}]),
    # high_myopia
    ("高度近视800度", [{"condition": "high_myopia", "diopters": 8}]),
    ("high myopia, -8.5", [{"condition": "high_myopia", "diopters": 8.5}]),
    # hpv_high_risk_positive
    ("HPV16阳性，TCT正常", [{"condition": "hpv_high_risk_positive", "cytology": "normal"}]),
    ("HPV positive, abnormal pap smear", [{"condition": "hpv_high_risk_positive", "cytology": "abnormal"}]),
    # chronic_gastritis
    ("慢性萎缩性胃炎", [{"condition": "chronic_gastritis", "type": "atrophic"}]),
    ("萎缩性胃炎伴肠化", [{"condition": "chronic_gastritis", "type": "atrophic_with_metaplasia_or_dysplasia"}]),
    ("chronic gastritis, non-atrophic", [{"condition": "chronic_gastritis", "type": "non_atrophic"}]),
    # colorectal_polyp
    ("肠息肉已切除，病理是腺瘤", [{"condition": "colorectal_polyp", "type": "adenoma_removed"}]),
    ("肠息肉 增生性的", [{"condition": "colorectal_polyp", "type": "hyperplastic"}]),
    ("colon polyp, hyperplastic", [{"condition": "colorectal_polyp", "type": "hyperplastic"}]),
    ("a colon polyp, an adenoma that has not been removed yet", [{"condition": "colorectal_polyp", "type": "adenoma_not_removed"}]),
]


def _id(case: tuple[str, list[dict[str, Any]]]) -> str:
    return case[0][:40]


@pytest.mark.parametrize("text,expected", CASES, ids=[_id(c) for c in CASES])
def test_utterance_becomes_declaration(text: str, expected: list[dict[str, Any]]) -> None:
    ex = extract_declarations(text)
    assert ex.declarations == expected
    assert ex.missing_inputs == {}
    assert ex.is_complete and ex.complete == expected
    assert not ex.none_declared and not ex.refused_genetic


@pytest.mark.parametrize("text,expected", CASES, ids=[_id(c) for c in CASES])
def test_declarations_pass_the_real_tool(text: str, expected: list[dict[str, Any]]) -> None:
    ex = extract_declarations(text)
    assert_tool_accepts(ex.complete)


def test_every_condition_has_zh_and_en_cases() -> None:
    from anxin.knowledge.text import has_cjk
    seen: dict[str, set[str]] = {}
    for text, expected in CASES:
        for d in expected:
            seen.setdefault(d["condition"], set()).add("zh" if has_cjk(text) else "en")
    assert set(seen) == set(CONDITIONS)
    assert all(langs == {"zh", "en"} for langs in seen.values()), seen
    assert len(CASES) >= 70


def test_values_have_the_filing_types() -> None:
    for text, _ in CASES:
        for d in decls(text):
            spec = CONDITIONS[d["condition"]].get("inputs") or {}
            for k, v in d.items():
                if k == "condition" or d["condition"] == "bmi":
                    continue
                kind = spec[k]["type"]
                if kind == "enum":
                    assert v in spec[k]["values"] and type(v) is type(spec[k]["values"][0]), (d, k)
                elif kind == "bool":
                    assert isinstance(v, bool)
                elif kind == "int":
                    assert isinstance(v, int) and not isinstance(v, bool)
                else:
                    assert isinstance(v, (int, float)) and not isinstance(v, bool)


# --------------------------------------------------------------------------- several conditions in one turn

MULTI: list[tuple[str, list[dict[str, Any]]]] = [
    ("我有高血压和糖尿病，血压控制得很好，1级，糖化6.8，没有并发症",
     [{"condition": "hypertension", "grade": 1, "controlled": True},
      {"condition": "type2_diabetes", "hba1c_pct": 6.8, "complications": "none"}]),
    ("甲状腺结节3类，乳腺结节4a类，肺结节5mm",
     [{"condition": "thyroid_nodule", "tirads": "3"}, {"condition": "breast_nodule", "birads": "4a"},
      {"condition": "lung_nodule", "size_mm": 5}]),
    ("甲状腺结节3类乳腺结节4a类",
     [{"condition": "thyroid_nodule", "tirads": "3"}, {"condition": "breast_nodule", "birads": "4a"}]),
    ("乙肝小三阳，脂肪肝轻度，肝功能正常",
     [{"condition": "hepatitis_b_carrier", "liver_function": "normal"},
      {"condition": "fatty_liver", "severity": "mild", "liver_function": "normal"}]),
    ("每天抽烟10支，喝二两白酒",
     [{"condition": "smoking", "cigarettes_per_day": 10}, {"condition": "alcohol", "grams_per_day": 41}]),
    ("I have high blood pressure and diabetes; my blood pressure is well controlled, grade 1, "
     "and my HbA1c is 6.9 with no complications",
     [{"condition": "hypertension", "grade": 1, "controlled": True},
      {"condition": "type2_diabetes", "hba1c_pct": 6.9, "complications": "none"}]),
    ("thyroid nodule TI-RADS 2, and a 7 mm lung nodule; I'm 170 cm, 80 kg",
     [{"condition": "thyroid_nodule", "tirads": "2"}, {"condition": "lung_nodule", "size_mm": 7},
      {"condition": "bmi", "height_cm": 170, "weight_kg": 80}]),
]


@pytest.mark.parametrize("text,expected", MULTI, ids=[_id(c) for c in MULTI])
def test_several_conditions(text: str, expected: list[dict[str, Any]]) -> None:
    ex = extract_declarations(text)
    assert ex.declarations == expected
    assert ex.is_complete
    for pid in ("MED-100", "CI-200", "TL-300"):
        assert_tool_accepts(ex.complete, pid)


def test_modifier_before_and_after_is_attached_to_the_right_condition() -> None:
    ex = extract_declarations("轻度哮喘中度脂肪肝")
    assert ex.declarations == [{"condition": "asthma", "severity": "mild"},
                               {"condition": "fatty_liver", "severity": "moderate"}]
    assert ex.missing_inputs == {"asthma": ["hospitalised_last_2y"], "fatty_liver": ["liver_function"]}


def test_bmi_fields() -> None:
    ex = extract_declarations("身高1米75，体重140斤")
    assert (ex.height_cm, ex.weight_kg, ex.bmi) == (175, 70, 22.9)
    ex = extract_declarations("I'm 5'9\" and 200 lbs")
    assert ex.height_cm == pytest.approx(175.3) and ex.weight_kg == pytest.approx(90.7)
    ex = extract_declarations("BMI 31")
    assert ex.bmi == 31 and ex.applicant() == {"bmi": 31.0}
    assert "error" not in tool([], **ex.applicant())
    ex = extract_declarations("I'm 175 cm and 95 kg")
    assert ex.bmi == 31.0
    assert tool(ex.complete)["rule_hits"][0]["rule_id"] == "UW-BMI-02"


# --------------------------------------------------------------------------- negations and "nothing to declare"

@pytest.mark.parametrize("text", ["没有", "都没有", "都没有，身体健康", "身体很健康，没什么病", "否认其他疾病", "无",
                                  "no", "none", "no health issues", "I'm perfectly healthy", "nothing to declare"])
def test_nothing_to_declare(text: str) -> None:
    ex = extract_declarations(text)
    assert ex.declarations == [] and ex.none_declared and ex.no_others
    assert "error" not in tool(ex.complete)


@pytest.mark.parametrize("text,negated", [
    ("没有高血压", ["hypertension"]),
    ("没有高血压、糖尿病", ["hypertension", "type2_diabetes"]),
    ("I don't have diabetes", ["type2_diabetes"]),
    ("never had a stroke", ["stroke_history"]),
    ("不抽烟不喝酒", ["smoking", "alcohol"]),
    ("I'm a non-smoker and I don't drink", ["smoking", "alcohol"]),
    ("以前抽烟，现在戒了", ["smoking"]),
    ("HPV阴性", ["hpv_high_risk_positive"]),
    ("高血压：无", ["hypertension"]),
    ("diabetes: no", ["type2_diabetes"]),
])
def test_negations_produce_no_declaration(text: str, negated: list[str]) -> None:
    ex = extract_declarations(text)
    assert ex.declarations == [] and ex.negated == negated


def test_negation_next_to_a_declaration() -> None:
    ex = extract_declarations("我有甲状腺结节3类，没有高血压，其他都没有")
    assert ex.declarations == [{"condition": "thyroid_nodule", "tirads": "3"}]
    assert ex.negated == ["hypertension"] and ex.no_others and not ex.none_declared
    ex = extract_declarations("没有高血压但是有糖尿病，糖化6.5，没有并发症")
    assert ex.conditions() == ["type2_diabetes"] and ex.negated == ["hypertension"]
    ex = extract_declarations("no high blood pressure, no diabetes, nothing else")
    assert ex.declarations == [] and ex.none_declared
    ex = extract_declarations("我没有什么病，就是有点高血压，1级，控制得挺好")
    assert ex.declarations == [{"condition": "hypertension", "grade": 1, "controlled": True}]
    assert not ex.none_declared


def test_negated_values_invert_or_drop() -> None:
    assert decls("哮喘，中度，没有住过院") == [{"condition": "asthma", "severity": "moderate", "hospitalised_last_2y": False}]
    assert decls("哮喘，重度，去年住过院") == [{"condition": "asthma", "severity": "severe", "hospitalised_last_2y": True}]
    assert decls("腰突，医生没建议手术") == [{"condition": "spinal_disc_disease", "surgery_recommended": False}]
    assert decls("无症状胆结石") == [{"condition": "gallstones", "status": "present_asymptomatic"}]
    assert decls("子宫肌瘤2cm，不需要手术") == [{"condition": "uterine_fibroid", "size_cm": 2, "surgery_planned": False}]
    assert decls("冠心病，没有放支架，只吃药") == [{"condition": "coronary_heart_disease", "status": "stable_no_intervention"}]


def test_relatives_and_hypotheticals_are_not_declared() -> None:
    ex = extract_declarations("我妈妈有乳腺癌，我自己有甲状腺结节3类")
    assert ex.declarations == [{"condition": "thyroid_nodule", "tirads": "3"}]
    assert ex.family_history == ["cancer_history"]
    assert extract_declarations("my mother had breast cancer").family_history == ["cancer_history"]
    assert extract_declarations("我和我妈都有高血压，2级，控制得很好").declarations == [
        {"condition": "hypertension", "grade": 2, "controlled": True}]
    assert extract_declarations("我妈有高血压，2级", for_relative=True).declarations == [
        {"condition": "hypertension", "grade": 2}]
    ex = extract_declarations("重疾险保不保癌症？")
    assert ex.declarations == [] and ex.hypothetical == ["cancer_history"]
    assert extract_declarations("I'm worried about getting diabetes").declarations == []
    assert extract_declarations("打过HPV疫苗，乙肝疫苗也打过").declarations == []


# --------------------------------------------------------------------------- pending turns

def _turns(*texts: str, lang: str | None = None) -> HealthExtraction:
    pending: list[dict[str, Any]] | None = None
    ex = None
    for t in texts:
        ex = extract_declarations(t, lang, pending=pending)
        pending = ex.declarations
    assert ex is not None
    return ex


@pytest.mark.parametrize("turns,expected", [
    (("我有甲状腺结节", "3类"), [{"condition": "thyroid_nodule", "tirads": "3"}]),
    (("I have a thyroid nodule", "TI-RADS 4"), None),       # 4 alone is not a category: still missing
    (("I have a thyroid nodule", "TI-RADS 4b"), [{"condition": "thyroid_nodule", "tirads": "4b"}]),
    (("甲状腺结节", "4a"), [{"condition": "thyroid_nodule", "tirads": "4a"}]),
    (("我有高血压", "150/95"), [{"condition": "hypertension", "grade": 1, "controlled": False}]),
    (("高血压", "控制得挺好", "2级"), [{"condition": "hypertension", "grade": 2, "controlled": True}]),
    (("高血压，吃药控制得很好，血压130/85", "没吃药的时候最高170/100"),
     [{"condition": "hypertension", "grade": 2, "controlled": True}]),
    (("哮喘", "轻度", "没有"), [{"condition": "asthma", "severity": "mild", "hospitalised_last_2y": False}]),
    (("I have asthma", "mild", "no"), [{"condition": "asthma", "severity": "mild", "hospitalised_last_2y": False}]),
    (("我有糖尿病", "7.2", "没有并发症"), [{"condition": "type2_diabetes", "hba1c_pct": 7.2, "complications": "none"}]),
    (("乙肝携带者", "正常"), [{"condition": "hepatitis_b_carrier", "liver_function": "normal"}]),
    (("hep B carrier", "normal"), [{"condition": "hepatitis_b_carrier", "liver_function": "normal"}]),
    (("我怀孕了", "24周", "没有"), [{"condition": "pregnancy", "weeks": 24, "complications": False}]),
    (("子宫肌瘤", "3厘米", "医生建议手术"), [{"condition": "uterine_fibroid", "size_cm": 3, "surgery_planned": True}]),
    (("抽烟", "20支"), [{"condition": "smoking", "cigarettes_per_day": 20}]),
    (("身高175", "70"), [{"condition": "bmi", "height_cm": 175, "weight_kg": 70}]),
    (("我有点胖", "身高170，体重80公斤"), [{"condition": "bmi", "height_cm": 170, "weight_kg": 80}]),
    (("脂肪肝", "中度", "肝功能正常"), [{"condition": "fatty_liver", "severity": "moderate", "liver_function": "normal"}]),
])
def test_pending_answers_complete_declarations(turns: tuple[str, ...], expected: list[dict[str, Any]] | None) -> None:
    ex = _turns(*turns)
    if expected is None:
        assert ex.declarations == [{"condition": "thyroid_nodule"}] and ex.missing_inputs == {"thyroid_nodule": ["tirads"]}
        return
    assert ex.declarations == expected and ex.is_complete
    assert_tool_accepts(ex.complete)


def test_pending_with_a_new_condition_and_retraction() -> None:
    ex = _turns("甲状腺结节", "3类，另外还有乳腺结节")
    assert ex.declarations == [{"condition": "thyroid_nodule", "tirads": "3"}, {"condition": "breast_nodule"}]
    assert ex.missing_inputs == {"breast_nodule": ["birads"]}
    assert [d for d in ex.complete] == [{"condition": "thyroid_nodule", "tirads": "3"}]
    ex = _turns("甲状腺结节", "其实没有甲状腺结节")
    assert ex.declarations == [] and ex.negated == ["thyroid_nodule"]
    # a correction of a value already given
    ex = _turns("甲状腺结节3类", "不对，甲状腺结节是4a类")
    assert ex.declarations == [{"condition": "thyroid_nodule", "tirads": "4a"}]


def test_asked_places_a_bare_answer() -> None:
    pending = [{"condition": "gout", "attacks_per_year": 1}, {"condition": "asthma", "severity": "mild"}]
    ex = extract_declarations("没有", pending=pending, asked=("asthma", "hospitalised_last_2y"))
    assert ex.declarations == [{"condition": "gout", "attacks_per_year": 1},
                               {"condition": "asthma", "severity": "mild", "hospitalised_last_2y": False}]
    assert ex.missing_inputs == {"gout": ["kidney_involvement"]}
    assert not ex.none_declared
    # a yes/no never fills a question that was not a yes/no question
    ex = extract_declarations("没有", pending=[{"condition": "hypertension"}], asked=("hypertension", "grade"))
    assert ex.missing_inputs == {"hypertension": ["grade", "controlled"]}


# --------------------------------------------------------------------------- missing inputs and questions

def test_missing_inputs_follow_the_filing() -> None:
    ex = extract_declarations("高血压 吃药控制得很好 血压130/85")
    assert ex.declarations == [{"condition": "hypertension", "controlled": True}]
    assert ex.missing_inputs == {"hypertension": ["grade"]}
    assert ex.complete == [] and ex.incomplete == ex.declarations
    result = tool(ex.declarations)
    assert result["error"]["code"] == "MISSING_INPUT"
    qs = ex.questions()
    assert qs[0][:2] == ("hypertension", "grade") and "级" in qs[0][2]
    for cid in CONDITIONS:
        if cid != "bmi":
            assert required_inputs(cid) == list((CONDITIONS[cid].get("inputs") or {}))
    assert missing_for({"condition": "bmi", "height_cm": 170}) == ["weight_kg"]
    assert missing_for({"condition": "bmi"}) == ["bmi"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_question_for_every_input(lang: str) -> None:
    for cid, spec in CONDITIONS.items():
        for name in (spec.get("inputs") or {}):
            q = question_for(cid, name, lang)
            assert q and "{" not in q
            assert health.normalise(q) != q.lower() or lang == "en" or any("\u4e00" <= c <= "\u9fff" for c in q)
    assert question_for("bmi", "weight_kg", "zh") == "您的体重是多少？"
    assert question_for("thyroid_nodule", "tirads", "en").startswith("What TI-RADS")


# --------------------------------------------------------------------------- genetic data and unknown conditions

@pytest.mark.parametrize("text", ["我做过基因检测，BRCA1突变", "I did a 23andMe genetic test, BRCA2 positive",
                                  "基因检测说我乳腺癌风险高", "my DNA test shows a high risk of Alzheimer's",
                                  "有BRCA基因突变"])
def test_genetic_information_is_flagged_not_declared(text: str) -> None:
    ex = extract_declarations(text)
    assert ex.refused_genetic
    assert ex.declarations == []


def test_genetic_flag_next_to_a_real_condition() -> None:
    ex = extract_declarations("我有甲状腺结节2类，也做过基因检测")
    assert ex.refused_genetic and ex.declarations == [{"condition": "thyroid_nodule", "tirads": "2"}]
    # a viral-load test is not genetic data
    ex = extract_declarations("乙肝携带，HBV-DNA阴性，肝功能正常")
    assert not ex.refused_genetic
    assert ex.declarations == [{"condition": "hepatitis_b_carrier", "liver_function": "normal"}]


@pytest.mark.parametrize("text,unknown", [
    ("我有鼻炎和偏头痛", ["鼻炎", "偏头痛"]),
    ("I get migraines and hay fever", ["migraines", "hay fever"]),
    ("确诊了慢性荨麻疹", ["荨麻疹"]),
    ("I was diagnosed with sinusitis last year", ["sinusitis"]),
])
def test_unknown_conditions(text: str, unknown: list[str]) -> None:
    ex = extract_declarations(text)
    assert ex.unknown_conditions == unknown and ex.declarations == [] and not ex.none_declared


def test_unknown_next_to_known() -> None:
    ex = extract_declarations("有甲亢，还有甲状腺结节3类")
    assert ex.unknown_conditions == ["甲亢"]
    assert ex.declarations == [{"condition": "thyroid_nodule", "tirads": "3"}]
    assert extract_declarations("没有鼻炎").unknown_conditions == []


# --------------------------------------------------------------------------- numbers and units

@pytest.mark.parametrize("text,expected", [
    ("近视左眼600度右眼750度", {"condition": "high_myopia", "diopters": 7.5}),
    ("肌瘤 3x2.5cm 和 4cm两个，不用手术", {"condition": "uterine_fibroid", "size_cm": 4, "surgery_planned": False}),
    ("肺结节0.8cm", {"condition": "lung_nodule", "size_mm": 8}),
    ("一周抽一包烟", {"condition": "smoking", "cigarettes_per_day": 3}),
    ("I drink 14 units a week", {"condition": "alcohol", "grams_per_day": 16}),
    ("痛风，一年发作两三次，肾功能正常", {"condition": "gout", "attacks_per_year": 3, "kidney_involvement": False}),
    ("癫痫，最后一次发作是一年半前", {"condition": "epilepsy", "seizure_free_years": 1.5}),
    ("心梗，三个月前", {"condition": "coronary_heart_disease", "status": "event_last_12m"}),
    ("肾结石，两个月前刚排出", {"condition": "kidney_stones", "status": "present"}),
    ("体重一百四十斤，身高一米六八", {"condition": "bmi", "height_cm": 168, "weight_kg": 70}),
])
def test_number_and_unit_wording(text: str, expected: dict[str, Any]) -> None:
    assert decls(text) == [expected]
    assert_tool_accepts([expected])


def test_out_of_range_values_are_not_guessed() -> None:
    # HbA1c given in mmol/mol (53) is outside 3-20 %: asked again rather than sent as INVALID_VALUE
    ex = extract_declarations("2型糖尿病，糖化53，没有并发症")
    assert ex.missing_inputs == {"type2_diabetes": ["hba1c_pct"]}


# --------------------------------------------------------------------------- the filing drives the conditions

def test_an_insurer_filing_with_another_condition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uw = yaml.load((filing.DATA_DIR / "underwriting.yaml").read_text(encoding="utf-8"), Loader=_LOADER)
    uw["conditions"] = {
        "sleep_apnoea": {
            "name": {"zh": "睡眠呼吸暂停", "en": "sleep apnoea"},
            "inputs": {"uses_cpap": {"type": "bool", "zh": "是否使用呼吸机", "en": "uses a CPAP machine"}},
            "rules": [{"rule_id": "X-1", "when": {}, "outcomes": {ln: "standard" for ln in uw["line_order"]},
                       "reason": {"zh": "x", "en": "x"}}],
        },
        "hypertension": uw["conditions"]["hypertension"],
    }
    (tmp_path / "underwriting.yaml").write_text(yaml.dump(uw, Dumper=_DUMPER, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("ANXIN_FILING_DIR", str(tmp_path))
    ex = extract_declarations("我有睡眠呼吸暂停，还有高血压1级，控制得很好")
    assert ex.declarations == [{"condition": "sleep_apnoea"}, {"condition": "hypertension", "grade": 1, "controlled": True}]
    assert ex.missing_inputs == {"sleep_apnoea": ["uses_cpap"]}
    assert question_for("sleep_apnoea", "uses_cpap", "zh") == "关于您的睡眠呼吸暂停：是否使用呼吸机？（是/否）"
    assert question_for("sleep_apnoea", "uses_cpap", "en") == "About your sleep apnoea: uses a CPAP machine? (yes/no)"
    ex = extract_declarations("是的", pending=ex.declarations, asked=("sleep_apnoea", "uses_cpap"))
    assert ex.declarations[0] == {"condition": "sleep_apnoea", "uses_cpap": True}
    # conditions this filing lacks are not recognised
    assert extract_declarations("我有甲状腺结节3类").declarations == []


def test_lexicon_only_names_filing_conditions_and_inputs() -> None:
    raw = yaml.load(health.LEXICON_PATH.read_text(encoding="utf-8"), Loader=_LOADER)
    for cid, entry in raw["conditions"].items():
        assert cid in CONDITIONS, cid
        for name in (entry.get("inputs") or {}):
            assert name in (CONDITIONS[cid].get("inputs") or {}), (cid, name)


def test_fast() -> None:
    texts = [c[0] for c in CASES + MULTI]
    started = time.perf_counter()
    for t in texts:
        extract_declarations(t)
    assert (time.perf_counter() - started) / len(texts) < 0.05


def test_doc_example_round_trip() -> None:
    sample = textwrap.dedent("""\
        我有高血压，吃药控制得很好，血压130/85，还有甲状腺结节3类。
        身高1米75，体重140斤，不抽烟，其他没有。""")
    ex = extract_declarations(sample)
    assert ex.declarations == [{"condition": "hypertension", "controlled": True},
                               {"condition": "thyroid_nodule", "tirads": "3"},
                               {"condition": "bmi", "height_cm": 175, "weight_kg": 70}]
    assert ex.missing_inputs == {"hypertension": ["grade"]}
    assert ex.negated == ["smoking"] and ex.no_others
    ex2 = extract_declarations("1级", pending=ex.declarations)
    assert ex2.is_complete
    result = assert_tool_accepts(ex2.complete, "MED-100")
    assert result["exclusions"] == ["EX-HTN", "EX-THYROID"]


# --------------------------------------------------------------------------- property: whatever is said, the tool accepts it

_FRAGMENTS = sorted({p.strip() for t, _ in CASES + MULTI for p in re.split(r"[，,;；。]", t) if p.strip()}
                    | {"没有", "不", "3类", "150/95", "no", "yes", "7.5", "甲状腺", "ti-rads", "4a", "BRCA", "我妈",
                       "保不保", "其他没有", "身高1米75", "BMI 31", "70公斤", "😀", ""})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=5),
       st.sampled_from(["，", ", ", " ", "。", "和", " and "]),
       st.one_of(st.none(), st.sampled_from(_FRAGMENTS)))
def test_any_mix_of_wording_gives_declarations_the_tool_accepts(parts: list[str], joiner: str,
                                                                 previous: str | None) -> None:
    pending = extract_declarations(previous).declarations if previous is not None else None
    ex = extract_declarations(joiner.join(parts), pending=pending)
    conditions = ex.conditions()
    assert len(conditions) == len(set(conditions))
    assert set(ex.missing_inputs) <= set(conditions)
    for d in ex.incomplete:
        assert missing_for(d) == ex.missing_inputs[d["condition"]]
    if ex.complete:
        assert_tool_accepts(ex.complete)


# --------------------------------------------------------------------------- phrasings from the scripted suites
# (evals/suites/underwriting-*.yaml) and their variants: the expected declarations are the
# suites' pre_underwrite arguments, exactly as underwriting.yaml names them.

SUITE_PHRASINGS: list[tuple[str, list[dict[str, Any]]]] = [
    # a grading system names its organ: BI-RADS is a breast finding, TI-RADS a thyroid one
    ("乳腺B超结果是BI-RADS 4a类，医生让我去做穿刺", [{"condition": "breast_nodule", "birads": "4a"}]),
    ("钼靶报告 BI-RADS 4b", [{"condition": "breast_nodule", "birads": "4b"}]),
    ("My breast ultrasound came back BI-RADS 4a and they want a biopsy", [{"condition": "breast_nodule", "birads": "4a"}]),
    ("ultrasound says TI-RADS 4a on the thyroid", [{"condition": "thyroid_nodule", "tirads": "4a"}]),
    # a complication named after the pregnancy ("妊娠糖尿病") does not deny the pregnancy
    ("我现在怀孕20周，产检都正常，没有妊娠糖尿病什么的", [{"condition": "pregnancy", "weeks": 20, "complications": False}]),
    ("孕22周，没有任何并发症", [{"condition": "pregnancy", "weeks": 22, "complications": False}]),
    ("怀孕30周了，有妊娠期高血压", [{"condition": "pregnancy", "weeks": 30, "complications": True}]),
    ("I'm 20 weeks pregnant, no pregnancy complications", [{"condition": "pregnancy", "weeks": 20, "complications": False}]),
    ("I'm expecting, 20 weeks along, everything's fine", [{"condition": "pregnancy", "weeks": 20, "complications": False}]),
    # 不过 ("but") is not a negation
    ("体检说我中度脂肪肝，不过肝功能是正常的",
     [{"condition": "fatty_liver", "severity": "moderate", "liver_function": "normal"}]),
    ("轻度脂肪肝，不过转氨酶有点高", [{"condition": "fatty_liver", "severity": "mild", "liver_function": "abnormal"}]),
    # high-risk HPV is not a hypothetical "risk"; cytology wording with a parenthesis
    ("I tested positive for high-risk HPV but my cervical smear (TCT) was normal",
     [{"condition": "hpv_high_risk_positive", "cytology": "normal"}]),
    ("HPV 16 positive, pap smear came back normal", [{"condition": "hpv_high_risk_positive", "cytology": "normal"}]),
    ("HPV阳性，宫颈细胞学检查（TCT）未见异常", [{"condition": "hpv_high_risk_positive", "cytology": "normal"}]),
    ("HPV阳性，液基细胞检查正常", [{"condition": "hpv_high_risk_positive", "cytology": "normal"}]),
    ("HPV 阳性，TCT 提示 ASCUS", [{"condition": "hpv_high_risk_positive", "cytology": "abnormal"}]),
    # gastritis: a denied metaplasia does not upgrade the type
    ("Gastroscopy showed chronic atrophic gastritis, no metaplasia", [{"condition": "chronic_gastritis", "type": "atrophic"}]),
    ("胃镜显示慢性萎缩性胃炎，没有肠化", [{"condition": "chronic_gastritis", "type": "atrophic"}]),
    # grams of pure alcohol
    ("I drink quite a bit - roughly 50 grams of pure alcohol a day", [{"condition": "alcohol", "grams_per_day": 50}]),
    ("I drink about 350 grams of alcohol a week", [{"condition": "alcohol", "grams_per_day": 50}]),
    ("我每天大概喝50克纯酒精", [{"condition": "alcohol", "grams_per_day": 50}]),
    # disc disease with a location between the adjective and "disc"
    ("I've got a herniated lumbar disc, just physio, no surgery recommended",
     [{"condition": "spinal_disc_disease", "surgery_recommended": False}]),
    ("I have a bulging disc in my neck, no surgery needed", [{"condition": "spinal_disc_disease", "surgery_recommended": False}]),
    ("L4-L5 disc herniation, surgery recommended", [{"condition": "spinal_disc_disease", "surgery_recommended": True}]),
    # adenomas / polyps found at colonoscopy
    ("A colonoscopy found an adenomatous polyp that hasn't been removed yet",
     [{"condition": "colorectal_polyp", "type": "adenoma_not_removed"}]),
    ("a polyp was found in my colon, it's an adenoma, not removed yet", [{"condition": "colorectal_polyp", "type": "adenoma_not_removed"}]),
    ("an adenoma was removed at colonoscopy", [{"condition": "colorectal_polyp", "type": "adenoma_removed"}]),
    ("colonoscopy showed a tubular adenoma, it was removed during the procedure",
     [{"condition": "colorectal_polyp", "type": "adenoma_removed"}]),
    ("肠镜发现一个腺瘤性息肉，还没切", [{"condition": "colorectal_polyp", "type": "adenoma_not_removed"}]),
    # lipids on target
    ("I take statins for high cholesterol and my levels are on target now", [{"condition": "hyperlipidaemia", "controlled": True}]),
    ("I'm on statins, cholesterol still above target", [{"condition": "hyperlipidaemia", "controlled": False}]),
    ("my lipids are fine now on statins", [{"condition": "hyperlipidaemia", "controlled": True}]),
    ("高血脂，吃阿托伐他汀，现在达标了", [{"condition": "hyperlipidaemia", "controlled": True}]),
    # denying a heart attack after a stent does not take the coronary disease back
    ("I had a stent put in for coronary heart disease three years ago, no heart attack since",
     [{"condition": "coronary_heart_disease", "status": "post_pci_or_cabg"}]),
    ("冠心病，五年前放了支架，之后没有再心梗", [{"condition": "coronary_heart_disease", "status": "post_pci_or_cabg"}]),
    # cancer / fibroid / combination as in the suites
    ("I had thyroid cancer surgery 12 years ago, all clear since then",
     [{"condition": "cancer_history", "years_since_treatment_end": 12}]),
    ("甲状腺癌手术12年了，一直没复发", [{"condition": "cancer_history", "years_since_treatment_end": 12}]),
    ("I have a 4 cm uterine fibroid and my gynaecologist has scheduled surgery",
     [{"condition": "uterine_fibroid", "size_cm": 4, "surgery_planned": True}]),
    ("我有2级高血压，吃药控制得很好，最近三次都低于140/90；另外血脂偏高，吃药了还没达标",
     [{"condition": "hypertension", "grade": 2, "controlled": True}, {"condition": "hyperlipidaemia", "controlled": False}]),
]


@pytest.mark.parametrize("text,expected", SUITE_PHRASINGS, ids=[_id(c) for c in SUITE_PHRASINGS])
def test_suite_phrasings(text: str, expected: list[dict[str, Any]]) -> None:
    ex = extract_declarations(text)
    assert ex.declarations == expected
    assert ex.is_complete and not ex.negated and not ex.hypothetical
    assert_tool_accepts(ex.complete)


@pytest.mark.parametrize("text", ["I have high blood pressure", "I have hypertension", "我有高血压"])
def test_plain_hypertension_is_declared_but_incomplete(text: str) -> None:
    ex = extract_declarations(text)
    assert ex.declarations == [{"condition": "hypertension"}]
    assert ex.missing_inputs == {"hypertension": ["grade", "controlled"]}
    assert ex.complete == [] and [q[1] for q in ex.questions()] == ["grade", "controlled"]


def test_a_later_denial_takes_back_only_the_same_condition() -> None:
    assert extract_declarations("I have diabetes. Actually no, I don't have diabetes").negated == ["type2_diabetes"]
    assert extract_declarations("I used to smoke, now I'm a non-smoker").negated == ["smoking"]
    assert extract_declarations("我有高血压……其实没有高血压").declarations == []


def test_risk_words_still_make_hypotheticals() -> None:
    ex = extract_declarations("I have a high risk of diabetes")
    assert ex.declarations == [] and ex.hypothetical == ["type2_diabetes"]


@pytest.mark.parametrize("text", ["My home has water leak and smoke sensors", "家里装了烟感报警器", "smoke detectors in every room",
                                  "I am expecting a refund"])
def test_household_words_are_not_health(text: str) -> None:
    ex = extract_declarations(text)
    assert ex.declarations == [] and ex.negated == []


@pytest.mark.parametrize("text", ["好的谢谢，没别的问题了，拜拜", "no more questions, thanks", "没有别的要问的了"])
def test_closing_a_conversation_is_not_nothing_to_declare(text: str) -> None:
    ex = extract_declarations(text)
    assert ex.declarations == [] and not ex.none_declared and not ex.no_others


@pytest.mark.parametrize("text", ["没有别的了", "其他都没有", "no other conditions", "没有，谢谢"])
def test_nothing_else_still_counts(text: str) -> None:
    assert extract_declarations(text).no_others or extract_declarations(text).none_declared

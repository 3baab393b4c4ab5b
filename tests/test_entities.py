"""Entity extraction from customer messages (agent/entities.py)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from anxin.agent.entities import Entities, extract_entities
from anxin.knowledge.filing import load_catalog

TODAY = dt.date(2026, 11, 1)   # demo_data meta.as_of_date (a Sunday)


def _check(text: str, expected: dict[str, Any], absent: tuple[str, ...] = (), expecting: str | None = None) -> dict:
    got = extract_entities(text, expecting=expecting, today=TODAY).to_dict()
    for key, value in expected.items():
        assert key in got, f"{key} missing from {got}"
        assert got[key] == value, f"{key}: {got[key]!r} != {value!r} in {got}"
    for key in absent:
        assert key not in got, f"{key} should be absent: {got}"
    return got


# --------------------------------------------------------------------------- products

@pytest.mark.parametrize("text, ids", [
    ("MED-100 的等待期多久", ["MED-100"]),
    ("med100 waiting period", ["MED-100"]),
    ("ci 200 and tl-300", ["CI-200", "TL-300"]),
    ("星衡安心百万医疗险怎么样", ["MED-100"]),
    ("百万医疗和重疾有什么区别", ["MED-100", "CI-200"]),
    ("I want a term life quote", ["TL-300"]),
    ("Xingheng Guardian Critical Illness premium", ["CI-200"]),
    ("车险怎么买", ["UBI-600"]),
    ("flight delay insurance please", ["FLT-800"]),
    ("运费险多少钱", ["RSI-900"]),
    ("长期护理险和意外险", ["LTC-500", "ACC-110"]),
    ("家财险能保漏水吗", ["HOME-700"]),
    ("糖尿病险能买吗", ["DM-400"]),
    ("意外医疗险赔不赔门诊", ["ACC-110"]),
    ("I'd like car insurance and home insurance", ["UBI-600", "HOME-700"]),
])
def test_products(text: str, ids: list[str]) -> None:
    _check(text, {"product_ids": ids})


@pytest.mark.parametrize("text", [
    "你好安心", "Hi Anxin, how are you?", "我的保单XH-CI200-2016-000123", "I am the guardian of my son",
])
def test_no_product(text: str) -> None:
    _check(text, {}, absent=("product_ids",))


# --------------------------------------------------------------------------- person

@pytest.mark.parametrize("text, expected, absent", [
    ("30岁男", {"age": 30, "gender": "M"}, ()),
    ("我今年35，女", {"age": 35, "gender": "F"}, ()),
    ("男，40岁，不抽烟", {"age": 40, "gender": "M", "smoker": False}, ()),
    ("本人女性28周岁，有吸烟", {"age": 28, "gender": "F", "smoker": True}, ()),
    ("I'm a 45 year old female smoker", {"age": 45, "gender": "F", "smoker": True}, ()),
    ("male, 30, non-smoker", {"age": 30, "gender": "M", "smoker": False}, ()),
    ("I'm 52 and I quit smoking two years ago", {"age": 52, "smoker": False}, ()),
    ("戒烟三年了", {"smoker": False}, ()),
    ("我抽烟，一天一包", {"smoker": True}, ()),
    ("我是女的，想给女儿买", {"gender": "F"}, ()),
    # buying for a family member: the insured is that person (their age and gender)
    ("想给女儿买保险", {"gender": "F"}, ()),
    ("我男朋友想买", {}, ("gender",)),
    ("20年", {}, ("age", "term_years", "payment_term", "amounts")),
    ("我30岁，孩子5岁", {"age": 30}, ()),
    ("出生日期1990-05-20", {"birth_date": "1990-05-20", "dob": "1990-05-20"}, ("age",)),
    ("李先生，32岁", {"gender": "M", "age": 32}, ("name",)),
    ("以前抽烟，现在戒了", {"smoker": False}, ()),
    ("我没有吸烟史", {"smoker": False}, ()),
    ("35/M", {"age": 35, "gender": "M"}, ()),
    ("保额2m", {}, ("gender",)),
    ("I weigh 80kg and I'm 1.8m tall", {"weight_kg": 80, "height_cm": 180}, ("gender", "amounts")),
    ("给孙女买", {"gender": "F"}, ()),
    ("我女儿8岁", {"age": 8}, ("gender",)),
    ("smoke detector installed", {}, ("smoker",)),
])
def test_person(text: str, expected: dict, absent: tuple[str, ...]) -> None:
    _check(text, expected, absent)


# --------------------------------------------------------------------------- verification

@pytest.mark.parametrize("text, expected", [
    ("保单号XH-CI200-2016-000123，身份证后四位9315，姓名陈秀英",
     {"policy_number": "XH-CI200-2016-000123", "id_last4": "9315", "name": "陈秀英"}),
    ("My policy is xh-med100-2026-000102, ID ending 0427, name is Li Na",
     {"policy_number": "XH-MED100-2026-000102", "id_last4": "0427", "name": "Li Na"}),
    ("DOB 06/25/1970, last 4 of ID 031x, I'm Zhang Wei",
     {"dob": "1970-06-25", "birth_date": "1970-06-25", "id_last4": "031X", "name": "Zhang Wei"}),
    ("查一下理赔 CLM-2026-0008，我叫王建国，生日1970年6月25日",
     {"claim_id": "CLM-2026-0008", "name": "王建国", "dob": "1970-06-25"}),
    ("clm 2025 0417 进度怎么样", {"claim_id": "CLM-2025-0417"}),
    ("XH MED100 2026 000102", {"policy_number": "XH-MED100-2026-000102"}),
    ("证件号后4位是053X", {"id_last4": "053X"}),
    ("身份证尾号0318，出生于1985年3月2日", {"id_last4": "0318", "dob": "1985-03-02"}),
    ("born 25 June 1970", {"dob": "1970-06-25"}),
    ("my date of birth is June 25, 1970", {"dob": "1970-06-25"}),
    ("生日19700625", {"dob": "1970-06-25"}),
    ("my name is li na and my id ends in 0427", {"name": "Li Na", "id_last4": "0427"}),
    ("我是张伟，身份证后四位3918", {"name": "张伟", "id_last4": "3918"}),
])
def test_verification(text: str, expected: dict) -> None:
    got = _check(text, expected)
    assert "amounts" not in got      # no digit of an identifier is an amount


@pytest.mark.parametrize("text, expecting, expected", [
    ("0427", "id_last4", {"id_last4": "0427"}),
    ("031x", "id_last4", {"id_last4": "031X"}),
    ("王芳", "name", {"name": "王芳"}),
    ("zhang wei", "name", {"name": "Zhang Wei"}),
    ("1996-03-15", "dob", {"dob": "1996-03-15", "birth_date": "1996-03-15"}),
    ("1996年3月15日", "dob", {"dob": "1996-03-15"}),
    ("19960315", "dob", {"dob": "1996-03-15"}),
])
def test_verification_answers(text: str, expecting: str, expected: dict) -> None:
    _check(text, expected, expecting=expecting)


def test_policy_number_year_is_not_a_number() -> None:
    got = _check("XH-CI200-2016-000123 还有效吗", {"policy_number": "XH-CI200-2016-000123"},
                 absent=("amounts", "building_age_years", "age", "incident_date"))
    assert "product_ids" not in got


def test_name_is_not_an_occupation() -> None:
    _check("我是程序员", {"occupation_class": 1}, absent=("name",))


# --------------------------------------------------------------------------- quote parameters per product

@pytest.mark.parametrize("text, expected", [
    # MED-100
    ("百万医疗，30岁，有社保，免赔额1万，不吸烟", {"product_ids": ["MED-100"], "age": 30, "social_insurance": True,
                                         "deductible": 10000, "smoker": False}),
    ("没有社保，免赔5000", {"social_insurance": False, "deductible": 5000}),
    ("医疗险 deductible of 20k, no social insurance", {"deductible": 20000, "social_insurance": False}),
    ("身高1米75，体重70公斤，BMI 22.9", {"height_cm": 175, "weight_kg": 70, "bmi": 22.9}),
    ("我175cm，140斤", {"height_cm": 175, "weight_kg": 70}),
    ("height 1.80m weight 154 lb", {"height_cm": 180, "weight_kg": 69.9}),
    ("身高170，体重65", {"height_cm": 170, "weight_kg": 65}),
    ("我有2000积分", {"health_points": 2000}),
    ("I have 640 health points", {"health_points": 640}),
    ("是续保的，我要续保百万医疗", {"renewal": True}),
    # CI-200
    ("我30岁男，想买50万保额的重疾险，20年缴，保到70岁",
     {"product_ids": ["CI-200"], "age": 30, "gender": "M", "sum_insured": 500000, "payment_term": 20,
      "coverage_period": "to_70"}),
    ("重疾保额100万，保终身，缴费30年", {"sum_insured": 1000000, "coverage_period": "whole_life",
                                "payment_term": 30}),
    ("critical illness cover of 800k, whole life, pay for 10 years",
     {"sum_insured": 800000, "coverage_period": "whole_life", "payment_term": 10}),
    ("重疾50万，交20年", {"sum_insured": 500000, "payment_term": 20}),
    # TL-300
    ("定期寿险，保额200万，保20年，男，35岁", {"product_ids": ["TL-300"], "sum_insured": 2000000,
                                   "term_years": 20, "gender": "M", "age": 35}),
    ("I want term life 1 million for 20 years", {"sum_insured": 1000000, "term_years": 20}),
    ("寿险30年期，一百万", {"term_years": 30}),
    # DM-400
    ("糖化8.2，在打胰岛素，续保", {"hba1c_pct": 8.2, "on_insulin": True}),
    ("HbA1c 7.5%, not on insulin, diabetes plan", {"hba1c_pct": 7.5, "on_insulin": False,
                                                 "product_ids": ["DM-400"]}),
    ("CGM连续90天达标", {"cgm_consecutive_days_in_target": 90}),
    ("糖尿病险保额20万，46岁", {"sum_insured": 200000, "age": 46}),
    # LTC-500
    ("长期护理险，月领5000，50岁女", {"product_ids": ["LTC-500"], "monthly_benefit": 5000, "age": 50, "gender": "F"}),
    ("eldercare with a monthly benefit of 3000", {"monthly_benefit": 3000}),
    # UBI-600
    ("车价20万，三者100万，出过2次险，驾驶评分85分，司机28岁",
     {"vehicle_value": 200000, "tpl_limit": 1000000, "at_fault_claims_3y": 2, "driving_score": 85,
      "driver_age": 28}),
    ("my car is worth 250k, I'm 23, 2 at-fault claims, driving score 55",
     {"vehicle_value": 250000, "driver_age": 23, "at_fault_claims_3y": 2, "driving_score": 55}),
    ("车险：7座车，车上人员每座2万，三者险300万", {"seats": 7, "in_vehicle_per_seat": 20000, "tpl_limit": 3000000}),
    ("车险，三年没出过险", {"at_fault_claims_3y": 0}),
    ("20万的车，主驾驶人45岁", {"vehicle_value": 200000, "driver_age": 45}),
    # HOME-700
    ("房龄15年，一楼，砖混，C类地区，房屋保额100万，室内财产10万",
     {"building_age_years": 15, "floor_type": "ground_or_basement", "construction": "brick_concrete",
      "region_tier": "C", "building_si": 1000000, "contents_si": 100000}),
    ("家财险：顶楼，钢混结构，通燃气，不要居家责任", {"floor_type": "top", "construction": "reinforced_concrete",
                                         "has_gas_supply": True, "liability": False}),
    ("home insurance, the house is 30 years old, timber, basement flat, contents 50k",
     {"building_age_years": 30, "construction": "timber_other", "floor_type": "ground_or_basement",
      "contents_si": 50000}),
    ("家里住8楼，房子是2005年建的", {"floor_type": "middle", "building_age_years": 21}),
    # FLT-800
    ("国际航班，准点率75%，春运，往返，3小时方案",
     {"route_type": "international", "on_time_rate_pct": 75, "peak_season": True, "segments": 2, "plan": "P3H"}),
    ("航延险，去香港，8月出发", {"route_type": "international", "peak_season": True}),
    ("flight delay cover, domestic, on-time rate 92%, 2-hour plan, 3 segments",
     {"route_type": "domestic", "on_time_rate_pct": 92, "plan": "P2H", "segments": 3}),
    ("国内航班，淡季，单程", {"route_type": "domestic", "peak_season": False, "segments": 1}),
    # RSI-900
    ("买了件衣服，跨省退货，近一年50单，退了18单",
     {"category": "apparel_shoes", "route": "cross_province", "completed_orders_12m": 50,
      "returned_orders_12m": 18}),
    ("运费险，买的耳机，寄到新疆", {"category": "electronics", "route": "remote"}),
    ("return shipping for a lipstick, same province", {"category": "beauty_personal_care",
                                                       "route": "same_province"}),
    # ACC-110
    ("快递员，意外险保额50万，意外医疗5万", {"occupation_class": 4, "sum_insured": 500000, "medical_limit": 50000}),
    ("意外险，职业类别3类，保额100万", {"occupation_class": 3, "sum_insured": 1000000}),
    ("I work as a teacher, accident insurance 300k", {"occupation_class": 1, "sum_insured": 300000}),
    ("我是矿工", {"occupation_class": 6}),
    ("我是货车司机", {"occupation_class": 4}),
])
def test_quote_params(text: str, expected: dict) -> None:
    _check(text, expected)


def test_worked_example_home_sensors() -> None:
    _check("有漏水传感器和烟感，没有燃气报警", {"sensors": {"water_leak": True, "smoke": True, "gas": False}},
           absent=("has_gas_supply",))
    _check("四种传感器都装了", {"sensors": {"water_leak": True, "smoke": True, "gas": True,
                                     "auto_shutoff_valve": True}})
    _check("smoke detector and auto shut-off valve installed",
           {"sensors": {"smoke": True, "auto_shutoff_valve": True}})


@pytest.mark.parametrize("text, indicators", [
    ("急刹车每百公里2次，夜间驾驶占比15%，超速3%",
     {"hard_braking_per_100km": 2, "night_driving_pct": 15, "speeding_distance_pct": 3}),
    ("开车看手机每百公里1次，每月开2000公里，高峰时段40%",
     {"phone_use_per_100km": 1, "monthly_mileage_km": 2000, "peak_hour_pct": 40}),
    ("driving: hard braking 1.5 per 100 km, tailgating 10%, seatbelt unfastened 0%",
     {"hard_braking_per_100km": 1.5, "tailgating_pct": 10, "seatbelt_unfastened_pct": 0}),
])
def test_driving_indicators(text: str, indicators: dict) -> None:
    _check(text, {"driving_indicators": indicators}, absent=("amounts",))


def test_indicator_keys_come_from_the_catalog() -> None:
    ubi = next(p for p in load_catalog()["products"] if p["id"] == "UBI-600")
    keys = {i["key"] for i in ubi["driving_score"]["indicators"]}
    from anxin.agent.numbers import load_lexicon
    assert set(load_lexicon()["driving_indicators"]) == keys


def test_quote_params_for_product() -> None:
    e = extract_entities("车价20万，28岁，驾驶评分85分，男", today=TODAY)
    params = e.quote_params("UBI-600")
    assert params == {"vehicle_value": 200000, "driver_age": 28, "driving_score": 85}
    e2 = extract_entities("我30岁男，想买50万保额的重疾险，20年缴", today=TODAY)
    assert e2.quote_params("CI-200") == {"age": 30, "gender": "M", "sum_insured": 500000, "payment_term": 20}
    e3 = extract_entities("I'm 60 and my car is worth 100k, born 1966-05-01", today=TODAY)
    assert e3.quote_params("ubi-600") == {"driver_age": 60, "vehicle_value": 100000, "birth_date": "1966-05-01"}
    e4 = extract_entities("重疾险50万，保20年", today=TODAY)
    assert e4.quote_params("CI-200")["payment_term"] == 20      # catalog alias term_years -> payment_term
    assert e4.quote_params("NOPE-1") == {}


# --------------------------------------------------------------------------- expecting a slot

@pytest.mark.parametrize("text, expecting, expected, absent", [
    ("50万吧", "sum_insured", {"sum_insured": 500000}, ("amounts",)),
    ("五十万", "sum_insured", {"sum_insured": 500000}, ()),
    ("1万", "deductible", {"deductible": 10000}, ()),
    ("30", "age", {"age": 30}, ()),
    ("三十五", "age", {"age": 35}, ()),
    ("3", "occupation_class", {"occupation_class": 3}, ()),
    ("三类", "occupation_class", {"occupation_class": 3}, ()),
    ("程序员", "occupation_class", {"occupation_class": 1}, ()),
    ("15年", "building_age_years", {"building_age_years": 15}, ()),
    ("15", "building_age_years", {"building_age_years": 15}, ()),
    ("5座", "seats", {"seats": 5}, ()),
    ("2", "segments", {"segments": 2}, ()),
    ("85%", "on_time_rate_pct", {"on_time_rate_pct": 85}, ()),
    ("大概3000", "budget", {"budget": 3000}, ()),
    ("budget 3k a year", None, {"budget": 3000}, ()),
    ("30万", "income", {"income": 300000}, ()),
    ("2", "dependents", {"dependents": 2}, ()),
    ("没有", "dependents", {"dependents": 0}, ()),
    ("是的", "smoker", {"smoker": True}, ()),
    ("不抽", "smoker", {"smoker": False}, ()),
    ("有", "social_insurance", {"social_insurance": True}, ()),
    ("没有", "social_insurance", {"social_insurance": False}, ()),
    ("B", "region_tier", {"region_tier": "B"}, ()),
    ("男", "gender", {"gender": "M"}, ()),
    ("female", "gender", {"gender": "F"}, ()),
    ("20年", "payment_term", {"payment_term": 20}, ()),
    ("30年", "term_years", {"term_years": 30}, ()),
    ("1万2", "amount", {"amount": 12000}, ()),
    ("8.5", "hba1c_pct", {"hba1c_pct": 8.5}, ()),
    ("175", "height_cm", {"height_cm": 175}, ()),
    ("昨天", "incident_date", {"incident_date": "2026-10-31"}, ()),
    ("3小时的", "plan", {"plan": "P3H"}, ()),
    ("two hours", "plan", {"plan": "P2H"}, ()),
    ("是的，50万", "sum_insured", {"sum_insured": 500000, "yes": True}, ()),
    ("家里有两个孩子要养", "dependents", {"dependents": 2}, ()),
])
def test_expecting(text: str, expecting: str, expected: dict, absent: tuple[str, ...]) -> None:
    _check(text, expected, absent, expecting=expecting)


def test_bare_amount_without_expecting_is_left_over() -> None:
    got = _check("50万吧", {"amounts": [500000]}, absent=("sum_insured",))
    assert got["amounts"] == [500000]


# --------------------------------------------------------------------------- needs analysis

@pytest.mark.parametrize("text, expected, absent", [
    ("年收入30万，预算每年5000，我有两个孩子", {"income": 300000, "budget": 5000, "dependents": 2}, ()),
    ("月薪2万，预算一个月500", {"income": 240000, "budget": 6000}, ()),
    ("I earn 400k a year and my budget is 8,000", {"income": 400000, "budget": 8000}, ()),
    ("my monthly salary is 15k", {"income": 180000}, ()),
    ("我老婆和两个孩子都靠我养", {"dependents": 3}, ()),
    ("两个孩子+老婆", {"dependents": 3}, ()),
    ("一家三口，我是顶梁柱", {"dependents": 2}, ()),
    ("单身，没孩子", {"dependents": 0}, ()),
    ("I have two kids and a wife", {"dependents": 3}, ()),
    ("我已经有医保了，也买了百万医疗，想看看重疾", {"existing_policies": ["医保", "MED-100"], "goals": ["重疾"]}, ()),
    ("I already have critical illness cover, worried about accidents",
     {"existing_policies": ["CI-200"], "goals": ["accidents"]}, ()),
    ("想保障家人，担心大病", {"goals": ["大病", "保障家人"]}, ()),
    ("预算3000以内", {"budget": 3000}, ()),
])
def test_needs(text: str, expected: dict, absent: tuple[str, ...]) -> None:
    _check(text, expected, absent)


def test_monthly_income_is_noted() -> None:
    got = _check("月收入1万", {"income": 120000})
    assert any("x 12" in n for n in got["notes"])


# --------------------------------------------------------------------------- claims

@pytest.mark.parametrize("text, expected, absent", [
    ("我上周三住院了，花了3万2，保单XH-MED100-2026-000102，想理赔",
     {"incident_date": "2026-10-21", "amount": 32000, "claim_type": "GEN_MED",
      "policy_number": "XH-MED100-2026-000102"}, ("amounts", "goals")),
    ("昨天航班延误了4个小时", {"incident_date": "2026-10-31", "claim_type": "DELAY"}, ()),
    ("2026年10月20日出了车祸，车损修理费8000，要报案", {"incident_date": "2026-10-20", "amount": 8000,
                                                 "claim_type": "OWN_DAMAGE"}, ()),
    ("前天家里水管爆了，泡坏了地板，想理赔", {"incident_date": "2026-10-30", "claim_type": "BUILDING"}, ()),
    ("I was admitted to hospital yesterday, the bill was 12,000 yuan, I want to file a claim",
     {"incident_date": "2026-10-31", "amount": 12000, "claim_type": "GEN_MED"}, ()),
    ("3天前摔骨折了，意外险理赔", {"incident_date": "2026-10-29", "claim_type": "ACC_MEDICAL"}, ()),
    ("last Monday my car was hit, repair cost 5k, policy XH-UBI600-2026-000114",
     {"incident_date": "2026-10-26", "amount": 5000, "claim_type": "OWN_DAMAGE"}, ()),
    ("10月5号撞了别人的车，要理赔", {"incident_date": "2026-10-05", "claim_type": "TPL"}, ()),
    ("XH-CI200-2016-000123 确诊了癌症，申请理赔", {"claim_type": "SEVERE_CI"}, ()),
    ("这个月1号住院，想报销", {"incident_date": "2026-11-01"}, ()),
    ("5号住院的，想理赔", {"incident_date": "2026-10-05"}, ()),
])
def test_claims(text: str, expected: dict, absent: tuple[str, ...]) -> None:
    got = _check(text, expected, absent)
    assert got.get("description")


def test_claim_type_follows_the_policy_product() -> None:
    _check("XH-DM400-2026-000116 住院了要理赔", {"claim_type": "COMP_MED"})
    _check("XH-ACC110-2026-000107 意外受伤住院，理赔", {"claim_type": "ACC_MEDICAL"})


def test_claim_codes_exist_in_catalog() -> None:
    from anxin.agent import entities
    codes = {c["code"] for p in load_catalog()["products"] for c in p.get("coverages", [])}
    for _, options in entities._CLAIM_TYPES:
        assert options and set(options) <= codes


# --------------------------------------------------------------------------- confirmation

@pytest.mark.parametrize("text, yes", [
    ("好的", True), ("确认", True), ("是的", True), ("对", True), ("可以", True), ("嗯嗯，好的", True),
    ("好的，帮我提交", True), ("yes", True), ("Yes please", True), ("confirm", True), ("go ahead", True),
    ("OK!", True), ("sure, thanks", True), ("没问题", True),
    ("不用了", False), ("取消", False), ("不是", False), ("no", False), ("cancel", False),
    ("No thanks", False), ("算了吧", False), ("不对", False),
])
def test_confirmation(text: str, yes: bool) -> None:
    _check(text, {"yes": yes})


@pytest.mark.parametrize("text", [
    "好的保险有哪些？", "是不是有等待期", "不用胰岛素", "可以告诉我等待期吗", "对于重疾险，等待期多久",
    "no idea what deductible means, can you explain it to me in detail",
])
def test_not_a_confirmation(text: str) -> None:
    _check(text, {}, absent=("yes",))


# --------------------------------------------------------------------------- negatives & mixed

@pytest.mark.parametrize("text, absent", [
    ("XH-CI200-2016-000123", ("amounts", "age", "building_age_years")),
    ("CLM-2026-0008 进度", ("amounts", "age")),
    ("MED-100-WAITING 条款说了什么", ("amounts",)),
    ("GEN-03 是什么", ("amounts",)),
    ("20年", ("age",)),
    ("保20年", ("age",)),
    ("第3条怎么理解", ("amounts", "age", "occupation_class")),
    ("一下子说不清，万一出事怎么办", ("amounts",)),
    ("这一类保险有哪些", ("occupation_class",)),
    ("司机年龄30岁", ("occupation_class",)),
    ("保到70岁", ("age",)),
    ("我想了解一下", ("amounts", "yes")),
    ("航班CA1234延误了3小时，想理赔", ("plan", "amounts")),
    ("我的房子90平，在顶楼", ("building_si", "amounts")),
    ("犹豫期15天内退保能退多少", ("amounts", "age")),
    ("我有甲状腺结节，TI-RADS 3级", ("occupation_class", "amounts")),
])
def test_negatives(text: str, absent: tuple[str, ...]) -> None:
    _check(text, {}, absent)


@pytest.mark.parametrize("text, expected, absent", [
    ("How much is the medical plan for a 40 year old man with a 5k deductible?",
     {"product_ids": ["MED-100"], "age": 40, "gender": "M", "deductible": 5000}, ("goals",)),
    ("I'm 38, female, want 300k critical illness cover to age 70, paying over 20 years",
     {"age": 38, "gender": "F", "sum_insured": 300000, "coverage_period": "to_70", "payment_term": 20}, ("amounts",)),
    ("Quote me car insurance: car value 180,000, driver 35, 3 million third party, 5 seats",
     {"vehicle_value": 180000, "driver_age": 35, "tpl_limit": 3000000, "seats": 5}, ()),
    ("My flat is on the top floor, brick, 12 years old, building cover 800k, contents 200k, region B, no gas",
     {"floor_type": "top", "construction": "brick_concrete", "building_age_years": 12, "building_si": 800000,
      "contents_si": 200000, "region_tier": "B", "has_gas_supply": False}, ("age", "sum_insured", "goals")),
    ("Flying to Tokyo in July, route on-time rate is 82%, P3H please",
     {"on_time_rate_pct": 82, "peak_season": True, "plan": "P3H"}, ()),
    ("bought shoes online, remote area, 30 completed orders and 3 returns in the last year",
     {"category": "apparel_shoes", "route": "remote", "completed_orders_12m": 30, "returned_orders_12m": 3}, ()),
    ("I'm a nurse, 29, want accident cover 500k with 20k medical",
     {"occupation_class": 2, "age": 29, "sum_insured": 500000, "medical_limit": 20000}, ()),
    ("My father wants long-term care 3000 a month", {"monthly_benefit": 3000}, ("goals", "budget")),
    ("I make 30k a month and can spend about 1,000 a month on insurance", {"income": 360000, "budget": 12000}, ()),
    ("My hospital bill was RMB 45,600 on 12 Oct 2026, policy XH-MED100-2026-000110",
     {"amount": 45600, "incident_date": "2026-10-12", "claim_type": "GEN_MED"}, ()),
    ("The flight on October 3 was cancelled, please claim", {"incident_date": "2026-10-03", "claim_type": "DELAY"}, ()),
    ("我的手机尾号2207", {}, ("id_last4",)),
    ("重疾险 50 万和 100 万保费差多少", {"sum_insured": 500000, "amounts": [1000000]}, ()),
])
def test_english_and_edge_phrasings(text: str, expected: dict, absent: tuple[str, ...]) -> None:
    _check(text, expected, absent)


@pytest.mark.parametrize("text, expected", [
    ("我想买 CI-200，sum insured 50万，30 岁 male", {"product_ids": ["CI-200"], "sum_insured": 500000,
                                                   "age": 30, "gender": "M"}),
    ("１８岁，保额５０万", {"age": 18, "sum_insured": 500000}),
    ("保额  50  万 ，免赔额 1 万", {"sum_insured": 500000, "deductible": 10000}),
    ("百万医疗 budget 3k，月收入2w", {"budget": 3000, "income": 240000}),
    ("term life 保额300万, 20 years, I'm 40", {"sum_insured": 3000000, "term_years": 20, "age": 40}),
])
def test_mixed_language_and_spacing(text: str, expected: dict) -> None:
    _check(text, expected)


def test_hypothetical_flag() -> None:
    got = _check("如果我戒烟了，保费能便宜多少", {"smoker": False, "hypothetical": True})
    assert got["hypothetical"] is True


def test_empty_and_types() -> None:
    assert extract_entities("").to_dict() == {}
    e = extract_entities("保额50万，免赔额1万", today=TODAY)
    assert isinstance(e, Entities)
    assert e.sum_insured == Decimal(500000)
    assert isinstance(e.to_dict()["sum_insured"], int)


def test_default_today_is_filing_date() -> None:
    got = extract_entities("昨天住院了，想理赔").to_dict()
    assert got["incident_date"] == "2026-10-31"

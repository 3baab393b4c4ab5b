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


# --------------------------------------------------------------------------- scripted-suite gaps
# Phrasings from evals/suites (quotes, simulation, recommend, filing) and variants of them.

@pytest.mark.parametrize("text, expected, absent", [
    # Health Behaviour Bank points
    ("I'm 52, 175 cm and 77 kg, non-smoker, and I have 800 Health Behaviour Bank points. How much is the AnXin "
     "medical plan?", {"age": 52, "health_points": 800, "product_ids": ["MED-100"]}, ("existing_policies", "amounts")),
    ("健康积分1000", {"health_points": 1000}, ()),
    ("我有1000健康积分", {"health_points": 1000}, ()),
    ("I have 1,200 HBB points and want the medical plan", {"health_points": 1200}, ()),
    ("I've got 500 health points", {"health_points": 500}, ()),
    # CGM run
    ("I had a 90-day in-target CGM streak last policy year", {"cgm_consecutive_days_in_target": 90}, ()),
    ("my CGM streak was 90 days", {"cgm_consecutive_days_in_target": 90}, ()),
    ("90 days in a row in target", {"cgm_consecutive_days_in_target": 90}, ()),
    ("连续达标90天", {"cgm_consecutive_days_in_target": 90}, ()),
    ("糖护险续保，CGM连续达标90天", {"cgm_consecutive_days_in_target": 90, "product_ids": ["DM-400"]}, ()),
    # LTC monthly benefit, home building sum insured
    ("长期护理险，45岁男，月保额5000，身体健康不抽烟，一年交多少",
     {"monthly_benefit": 5000, "age": 45, "gender": "M", "smoker": False}, ("sum_insured",)),
    ("护理险每月保额3000", {"monthly_benefit": 3000}, ("sum_insured",)),
    ("长护险，每个月给付2000", {"monthly_benefit": 2000}, ()),
    ("长期护理险，保额5000", {"monthly_benefit": 5000}, ("sum_insured",)),
    ("家财险怎么卖？房子是钢混结构，房龄5年，住中间楼层，房屋保200万，室内财产保5万，要居家责任。地区风险等级是A类。家里装了烟雾报警器",
     {"building_si": 2000000, "contents_si": 50000, "building_age_years": 5, "floor_type": "middle",
      "region_tier": "A", "liability": True, "sensors": {"smoke": True}}, ("sum_insured", "smoker")),
    ("家财险，房子保100万，财产保10万", {"building_si": 1000000, "contents_si": 100000}, ("sum_insured",)),
    ("home insurance, 300k for contents and 2 million for the building",
     {"building_si": 2000000, "contents_si": 300000}, ()),
    ("My home policy covers 100k of contents, building is 12 years old", {"contents_si": 100000}, ()),
    # negation scope
    ("不用胰岛素不抽烟", {"on_insulin": False, "smoker": False}, ()),
    ("不抽烟不用胰岛素", {"on_insulin": False, "smoker": False}, ()),
    ("不用胰岛素，也不抽烟", {"on_insulin": False, "smoker": False}, ()),
    ("不抽烟，打胰岛素", {"on_insulin": True, "smoker": False}, ()),
    ("没用胰岛素，抽烟", {"on_insulin": False, "smoker": True}, ()),
])
def test_suite_quote_slots(text: str, expected: dict, absent: tuple[str, ...]) -> None:
    _check(text, expected, absent)


@pytest.mark.parametrize("text, sensors", [
    ("I've installed water leak, smoke and gas sensors plus an auto shut-off valve",
     {"water_leak": True, "smoke": True, "gas": True, "auto_shutoff_valve": True}),
    ("I have water leak and smoke sensors", {"water_leak": True, "smoke": True}),
    ("家里装了漏水、烟雾和燃气报警器", {"water_leak": True, "smoke": True, "gas": True}),
    ("I don't have smoke or gas detectors, only a water leak sensor",
     {"smoke": False, "gas": False, "water_leak": True}),
    ("I don't have a smoke detector", {"smoke": False}),
    ("烟雾和燃气报警器都没装", {"smoke": False, "gas": False}),
    ("家里装了烟雾报警器", {"smoke": True}),
    ("I have a smoke sensor", {"smoke": True}),
])
def test_sensor_lists_are_sensors_not_smoking(text: str, sensors: dict) -> None:
    got = _check(text, {"sensors": sensors}, ("smoker",))
    assert got["sensors"] == sensors


def test_smoke_sensor_with_real_smoking() -> None:
    _check("I smoke, and I have a smoke alarm", {"smoker": True, "sensors": {"smoke": True}})
    _check("家里装了烟雾报警器，我不抽烟", {"smoker": False, "sensors": {"smoke": True}})


@pytest.mark.parametrize("text, expected", [
    ("I'm 62 and drive a 7-seater worth 400,000. I want 3 million third-party cover and 20k per seat for "
     "passengers. One at-fault claim in the last 3 years, no driving score yet.",
     {"product_ids": ["UBI-600"], "driver_age": 62, "vehicle_value": 400000, "tpl_limit": 3000000,
      "in_vehicle_per_seat": 20000, "seats": 7, "at_fault_claims_3y": 1}),
    ("Car insurance quote - I'm 23, the car's worth 250k, I've had 2 at-fault claims in the last three years "
     "and my driving score is 55.", {"driver_age": 23, "vehicle_value": 250000, "at_fault_claims_3y": 2,
                                     "driving_score": 55}),
    ("2 at-fault claims in 3 years, driving score 55, my car", {"at_fault_claims_3y": 2, "driving_score": 55}),
    ("my car, two at-fault claims", {"at_fault_claims_3y": 2}),
    ("7-seater worth 400k, 3 million third-party, 20k per seat",
     {"product_ids": ["UBI-600"], "vehicle_value": 400000, "tpl_limit": 3000000, "seats": 7}),
    ("我40岁，车值18万，三年内有过一次有责理赔，现在驾驶分78.4",
     {"product_ids": ["UBI-600"], "driver_age": 40, "vehicle_value": 180000, "at_fault_claims_3y": 1,
      "driving_score": 78.4}),
])
def test_suite_motor(text: str, expected: dict) -> None:
    got = _check(text, expected)
    assert "claim_type" not in got and "description" not in got     # a claims record is not a claim


def test_motor_driving_score_not_cover_to_70() -> None:
    _check("And what if my driving score dropped to 70?", {"driving_score": 70}, ("coverage_period",))
    _check("如果驾驶分降到70呢", {"driving_score": 70}, ("coverage_period",))
    _check("重疾险保到70岁", {"coverage_period": "to_70"})
    _check("cover to age 70", {"coverage_period": "to_70"})


def test_repair_quote_is_no_vehicle_value() -> None:
    _check("报案。我的车在小区停着被人刮花了，10月28号发现的，4S店修车报价3000。保单XH-UBI600-2026-000114，身份证后四位053X",
           {"amount": 3000, "incident_date": "2026-10-28", "id_last4": "053X"}, ("vehicle_value",))


@pytest.mark.parametrize("text, expected", [
    ("Flight delay cover please, the 3-hour plan, international route with a 75% on-time rate, peak season, "
     "2 segments (there and back).", {"product_ids": ["FLT-800"], "plan": "P3H", "route_type": "international",
                                      "on_time_rate_pct": 75, "peak_season": True, "segments": 2}),
    ("2-hour delay plan for a domestic flight in July, the route's on-time rate is 65%. Price?",
     {"product_ids": ["FLT-800"], "plan": "P2H", "on_time_rate_pct": 65, "peak_season": True}),
    ("2h plan for an August flight, on-time rate 72%", {"plan": "P2H", "on_time_rate_pct": 72, "peak_season": True}),
    ("flight delay, the plan with a 3-hour threshold", {"plan": "P3H"}),
    ("3-hour plan, domestic, 85% on-time, off-peak, one way",
     {"product_ids": ["FLT-800"], "plan": "P3H", "on_time_rate_pct": 85, "peak_season": False, "segments": 1}),
    ("the route is 80% on time, flight delay", {"on_time_rate_pct": 80}),
])
def test_suite_flight(text: str, expected: dict) -> None:
    _check(text, expected, ("dependents",))          # "peak season" holds no son


@pytest.mark.parametrize("text, expected", [
    ("Return shipping insurance for a pair of shoes going back to a seller in Xinjiang? I've completed 20 orders "
     "this year and returned 1.", {"category": "apparel_shoes", "route": "remote", "completed_orders_12m": 20,
                                   "returned_orders_12m": 1}),
    ("I've completed 20 orders and returned 1", {"completed_orders_12m": 20, "returned_orders_12m": 1}),
    ("退货运费险：一双鞋退回新疆的卖家，近一年完成20单退了1单",
     {"category": "apparel_shoes", "route": "remote", "completed_orders_12m": 20, "returned_orders_12m": 1}),
])
def test_suite_return_shipping(text: str, expected: dict) -> None:
    _check(text, expected)


@pytest.mark.parametrize("text, expected, absent", [
    ("I rent a top-floor flat in a 25-year-old building, region tier B, no piped gas. Contents only, 200k, and I "
     "don't need the liability cover. I have a water leak sensor with an auto shut-off valve. How much?",
     {"product_ids": ["HOME-700"], "contents_si": 200000, "building_age_years": 25, "floor_type": "top",
      "region_tier": "B", "has_gas_supply": False, "liability": False,
      "sensors": {"water_leak": True, "auto_shutoff_valve": True}}, ("building_si", "goals")),
    ("家财险，责任就不要了", {"liability": False}, ()),
    ("家财险不要居家责任", {"liability": False}, ()),
    ("家财险要居家责任", {"liability": True}, ()),
    ("home insurance with the liability cover", {"liability": True}, ()),
    ("I live on the ground floor of a 30-year-old brick building, tier C, building 800k, contents 150k, with liability",
     {"building_si": 800000, "contents_si": 150000, "construction": "brick_concrete", "building_age_years": 30,
      "floor_type": "ground_or_basement", "region_tier": "C", "liability": True}, ()),
    ("我家在B类地区", {"region_tier": "B"}, ()),
])
def test_suite_home(text: str, expected: dict, absent: tuple[str, ...]) -> None:
    _check(text, expected, absent)


@pytest.mark.parametrize("text, expected, absent", [
    ("I'm 38, make half a million a year, my wife and two kids depend on me, and my budget is 15k per year.",
     {"age": 38, "income": 500000, "dependents": 3, "budget": 15000}, ()),
    ("我今年32，年薪25万左右，老婆没上班，有个3岁的娃，就是老婆孩子俩人靠我养。一年保费预算1万左右，该怎么配保险？",
     {"age": 32, "income": 250000, "dependents": 2, "budget": 10000}, ()),
    ("28岁，单身没人要我养，月薪1万5，一年能拿出3000块买保险",
     {"age": 28, "income": 180000, "dependents": 0, "budget": 3000}, ("amounts",)),
    ("我45了，已经买了你们的百万医疗，年收入50万，上有老下有小，父母加两个孩子一共4个人靠我。预算一年两万，还缺什么保险？",
     {"age": 45, "income": 500000, "dependents": 4, "budget": 20000, "existing_policies": ["MED-100"]}, ()),
    ("上有老下有小", {}, ("dependents",)),
    ("我和老婆还有两个娃，全家靠我一个人", {"dependents": 3}, ()),
    ("家里4口人靠我", {"dependents": 4}, ()),
    ("I have 3 dependents", {"dependents": 3}, ()),
    ("two people depend on me", {"dependents": 2}, ()),
    ("my husband and 3 children rely on me", {"dependents": 4}, ()),
    ("annual income of one and a half million", {"income": 1500000}, ()),
    ("I can put aside 5000 a year for insurance", {"budget": 5000}, ()),
    ("每年5000块买保险", {"budget": 5000}, ()),
    ("我都四十五了", {"age": 45}, ()),
    ("我花了5000了", {}, ("age",)),
])
def test_suite_recommend(text: str, expected: dict, absent: tuple[str, ...]) -> None:
    _check(text, expected, absent)


@pytest.mark.parametrize("text, expected, absent", [
    ("I'm 26 and work in sales. I've got 500k accident cover with 20k medical, and 1,000 health points.",
     {"age": 26, "occupation_class": 2, "sum_insured": 500000, "medical_limit": 20000, "health_points": 1000}, ()),
    ("I'm in sales", {"occupation_class": 2}, ()),
    ("I work in an office", {"occupation_class": 1}, ()),
    ("给8岁的女儿买重疾险，保额80万，20年交，她身体很好",
     {"age": 8, "gender": "F", "sum_insured": 800000, "payment_term": 20}, ()),
    ("critical illness for my 5-year-old son", {"age": 5, "gender": "M"}, ()),
    ("我的糖护险明年续保，46岁，保额10万，糖化7.4，不用胰岛素不抽烟，核保加费10%。",
     {"renewal": True, "uw_loading_pct": 10, "hba1c_pct": 7.4, "on_insulin": False, "smoker": False}, ()),
    ("I have a 25% underwriting loading", {"uw_loading_pct": 25}, ()),
    ("I have stage 3 chronic kidney disease. Can I get your medical insurance?", {}, ("age",)),
    ("Can I get the million-yuan medical plan?", {"product_ids": ["MED-100"]}, ("medical_limit", "sum_insured")),
])
def test_suite_person_and_underwriting(text: str, expected: dict, absent: tuple[str, ...]) -> None:
    _check(text, expected, absent)


@pytest.mark.parametrize("text, expected, targets", [
    ("我40岁，车值18万，三年内有过一次有责理赔，现在驾驶分78.4。如果我把驾驶分提到90分，车险能便宜多少？",
     {"driving_score": 78.4, "vehicle_value": 180000}, {"driving_score": 90}),
    ("我的糖护险明年续保，46岁，保额10万，糖化7.4，不用胰岛素不抽烟，核保加费10%。今年CGM最长才连续达标41天，"
     "要是能连续达标到90天，续保能便宜多少？",
     {"cgm_consecutive_days_in_target": 41, "uw_loading_pct": 10, "renewal": True},
     {"cgm_consecutive_days_in_target": 90}),
    ("My home policy covers 100k of contents, building is 12 years old, middle floor, tier B region, no piped gas. "
     "I have water leak and smoke sensors and an auto shut-off valve. Would adding a gas sensor lower my premium?",
     {"contents_si": 100000, "has_gas_supply": False,
      "sensors": {"water_leak": True, "smoke": True, "auto_shutoff_valve": True}},
     {"sensors": {"gas": True}}),
    ("I'm 26 and work in sales. I've got 500k accident cover with 20k medical, and 1,000 health points. "
     "How much would using the points save me?", {"health_points": 1000}, {"health_points": 1000}),
    ("如果驾驶分从78提到90，能便宜多少", {"driving_score": 78}, {"driving_score": 90}),
    ("And what if my driving score dropped to 70?", {"driving_score": 70}, {"driving_score": 70}),
    ("免赔额换成2万的话能省多少钱？", {"deductible": 20000}, {"deductible": 20000}),
])
def test_what_if_targets(text: str, expected: dict, targets: dict) -> None:
    got = _check(text, {**expected, "hypothetical": True})
    assert got["target_values"] == targets


@pytest.mark.parametrize("text, expected, absent", [
    ("I'd like to make a claim. I was in hospital for diabetic ketoacidosis from 20 to 24 October and the bill was 8,600.",
     {"incident_date": "2026-10-20", "amount": 8600}, ()),
    ("My daughter was in hospital with bronchitis from 15 to 18 October, we paid 4,200. Policy XH-MED100-2026-000105, "
     "my ID ends 0427.", {"incident_date": "2026-10-15", "amount": 4200, "id_last4": "0427"}, ("dependents",)),
    ("住院从10月20日到24日，花了8600，要理赔", {"incident_date": "2026-10-20", "amount": 8600}, ()),
    ("hospitalised 20-24 Oct, claim please", {"incident_date": "2026-10-20"}, ()),
    ("Someone broke into my flat on 25 October and took my laptop, about 9,000 yuan. "
     "Policy XH-HOME700-2026-000111, passport ending 4821, Emily Carter.",
     {"id_last4": "4821", "amounts": [9000], "claim_type": "CONTENTS"}, ()),
    ("A pipe burst in my kitchen on 29 October and ruined some furniture, about 2,500. Policy XH-HOME700-2026-000111, "
     "passport ending 4821. Please file a claim.", {"claim_type": "CONTENTS", "amounts": [2500], "id_last4": "4821"}, ()),
    ("my policy term ending 2027-05-01", {}, ("id_last4",)),
])
def test_suite_claim_details(text: str, expected: dict, absent: tuple[str, ...]) -> None:
    _check(text, expected, absent)


@pytest.mark.parametrize("text", ["Actually, wait - it was 3,500, not 2,500.", "不是2500，是3500", "金额是3500不是2500"])
def test_corrected_amount(text: str) -> None:
    got = _check(text, {"amount": 3500})
    assert got.get("amounts", []) == [3500]

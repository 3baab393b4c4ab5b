"""Numbers as customers write them (agent/numbers.py)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from anxin.agent.numbers import (
    NumberMention,
    find_numbers,
    format_money,
    numbers_equal,
    parse_amount,
    parse_chinese_numeral,
)


@pytest.mark.parametrize("text, expected", [
    ("500000", "500000"),
    ("500,000", "500000"),
    ("50万", "500000"),
    ("50 万元", "500000"),
    ("五十万", "500000"),
    ("一百万", "1000000"),
    ("1.5万", "15000"),
    ("1.5 million", "1500000"),
    ("1.5m", "1500000"),
    ("2k", "2000"),
    ("300k", "300000"),
    ("300K", "300000"),
    ("三千五", "3500"),
    ("两千", "2000"),
    ("一千二百五十块", "1250"),
    ("¥1,234.50", "1234.50"),
    ("￥1,234.50", "1234.50"),
    ("RMB 3000", "3000"),
    ("RMB3000", "3000"),
    ("rmb3000元", "3000"),
    ("1亿", "100000000"),
    ("十二万五", "125000"),
    ("3千", "3000"),
    ("５０万", "500000"),           # full-width digits
    ("５０ 万", "500000"),
    ("50w", "500000"),
    ("一万二", "12000"),
    ("1万2", "12000"),
    ("两百五", "250"),
    ("一千零五", "1005"),
    ("5百万", "5000000"),
    ("一点五万", "15000"),
    ("fifty thousand", "50000"),
    ("a million", "1000000"),
    ("two hundred and fifty thousand", "250000"),
    ("3 thousand yuan", "3000"),
    ("2 grand", "2000"),
    ("5000块钱", "5000"),
    ("壹万", "10000"),
    ("贰拾万", "200000"),
    ("大概二十万左右吧", "200000"),
    ("保额要100万元", "1000000"),
])
def test_parse_amount(text: str, expected: str) -> None:
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize("text", [
    "", "你好", "30岁", "85%", "2026-03-01", "XH-CI200-2016-000123", "CLM-2026-0008", "MED-100-WAITING",
    "我一下子说不清楚，万一出事怎么办", "百万医疗险", "hello there",
])
def test_parse_amount_none(text: str) -> None:
    assert parse_amount(text) is None


def _units(text: str) -> list[tuple[str, str | None]]:
    return [(str(n.value), n.unit) for n in find_numbers(text)]


@pytest.mark.parametrize("text, expected", [
    ("我30岁男，保额50万，20年缴", [("30", "age"), ("500000", None), ("20", "year")]),
    ("准点率85%", [("85", "%")]),
    ("准点率 85 ％", [("85", "%")]),
    ("百分之八十五", [("85", "%")]),
    ("85 percent", [("85", "%")]),
    ("HbA1c 8.2%", [("8.2", "%")]),
    ("30 years old", [("30", "age")]),
    ("aged 45", [("45", "age")]),
    ("3个月", [("3", "month")]),
    ("90天", [("90", "day")]),
    ("5座", [("5", "seat")]),
    ("a 7-seater", [("7", "seat")]),
    ("身高175cm 体重70kg", [("175", "cm"), ("70", "kg")]),
    ("身高1米75体重140斤", [("175", "cm"), ("70", "kg")]),
    ("1.75m tall", [("175", "cm")]),
    ("一米七", [("170", "cm")]),
    ("154 lb", [("69.9", "kg")]),
    ("每月开2000公里", [("2000", "km")]),
    ("出险2次", [("2", "times")]),
    ("驾驶评分85分", [("85", "points")]),
    ("两个孩子", [("2", "count")]),
    ("2 segments", [("2", "count")]),
    ("三类职业", [("3", "class")]),
    ("住在5楼", [("5", "floor")]),
    ("延误4个小时", [("4", "hour")]),
    ("120分钟", [("120", "minute")]),
    ("90平米的房子", [("90", "sqm")]),
    ("一万积分", [("10000", "points")]),
    ("十万一年多少钱", [("100000", None), ("1", "year")]),
    ("50万一年", [("500000", None), ("1", "year")]),
    ("第3条", [("3", "ordinal")]),
    ("1. 保额\n2. 免赔额", [("1", "ordinal"), ("2", "ordinal")]),
    ("10:30起飞", [("1030", "time")]),
    ("上周三", [("3", "weekday")]),
    ("一周三次", [("1", "week"), ("3", "times")]),
    ("每百公里2次急刹车", [("2", "times")]),
])
def test_find_numbers_units(text: str, expected: list[tuple[str, str | None]]) -> None:
    got = [(v, u) for v, u in _units(text)]
    if "百公里" in text:          # 百公里 is a unit phrase; the caller masks it
        got = [g for g in got if g != ("100", "km")]
    assert got == expected


@pytest.mark.parametrize("text, iso", [
    ("2026-03-01", "2026-03-01"),
    ("2026/3/1", "2026-03-01"),
    ("2026.03.01", "2026-03-01"),
    ("2026年3月1日", "2026-03-01"),
    ("2026年3月1号住院", "2026-03-01"),
    ("二〇二六年三月一日", "2026-03-01"),
    ("1970年6月25日出生", "1970-06-25"),
    ("born 25 June 1970", "1970-06-25"),
    ("born on the 25th of June 1970", "1970-06-25"),
    ("June 25, 1970", "1970-06-25"),
    ("Jun 25 1970", "1970-06-25"),
    ("DOB 06/25/1970", "1970-06-25"),
    ("25/06/1970", "1970-06-25"),
    ("3月1日", "--03-01"),
    ("2026年3月", "2026-03"),
])
def test_dates_are_one_mention(text: str, iso: str) -> None:
    dates = [n for n in find_numbers(text) if n.unit == "date"]
    assert len(dates) == 1
    assert dates[0].date == iso
    others = [n for n in find_numbers(text) if n.unit != "date"]
    assert others == []


def test_date_value_is_yyyymmdd() -> None:
    (n,) = find_numbers("2026-03-01")
    assert n.value == Decimal(20260301)
    assert (n.start, n.end, n.raw) == (0, 10, "2026-03-01")


@pytest.mark.parametrize("text", [
    "XH-CI200-2016-000123",
    "xh-ci200-2016-000123",
    "保单号XH-MED100-2026-000102的理赔",
    "CLM-2026-0008",
    "claim clm-2025-0417 please",
    "MED-100-WAITING",
    "GEN-03",
    "UW-MED-03",
    "MED-100",
    "P2H 方案",
    "ICD-10 Q00-Q99",
    "手机138****2207",
    "身份证11010519491231002X",
    "客服热线400-820-8820",
    "call 021-6888-1234",
])
def test_identifiers_yield_no_numbers(text: str) -> None:
    assert find_numbers(text) == []


def test_identifier_next_to_amount() -> None:
    got = _units("XH-MED100-2026-000102 住院花了3万")
    assert got == [("30000", None)]


@pytest.mark.parametrize("text", ["我一下子说不清楚", "万一出事怎么办", "十分感谢", "五险一金都有", "统一一下", "百万医疗险", "第三者责任",
                                  "每一项都要看", "两者有什么区别", "去三甲医院", "不一定"])
def test_words_with_numerals_are_not_numbers(text: str) -> None:
    assert find_numbers(text) == []


def test_positions_and_raw_refer_to_the_original_text() -> None:
    text = "保额５０万，免赔额1万"
    ns = find_numbers(text)
    assert [text[n.start:n.end] for n in ns] == [n.raw for n in ns] == ["５０万", "1万"]
    assert all(isinstance(n, NumberMention) for n in ns)
    assert ns[0].scaled and ns[1].scaled


@pytest.mark.parametrize("chars, value", [
    ("十", 10), ("十五", 15), ("二十", 20), ("一百零八", 108), ("三千五", 3500), ("十二万五", 125000),
    ("一亿二千万", 120000000), ("两", 2), ("零", 0), ("二〇二六", 2026), ("一点五", Decimal("1.5")),
])
def test_parse_chinese_numeral(chars: str, value: int | Decimal) -> None:
    assert parse_chinese_numeral(chars) == Decimal(value)


@pytest.mark.parametrize("a, b, equal", [
    (Decimal("373.18"), 373.18, True),
    ("373.175", "373.18", True),
    (1413.12, 1413.13, True),
    (1413.12, 1413.14, False),
    ("50万", 500000, True),
    ("五十万", "500,000", True),
    (None, 1, False),
    ("abc", 1, False),
])
def test_numbers_equal(a: object, b: object, equal: bool) -> None:
    assert numbers_equal(a, b) is equal


def test_numbers_equal_tolerance() -> None:
    assert numbers_equal(100, 101, tolerance=Decimal("1"))
    assert not numbers_equal(100, 101.5, tolerance=Decimal("1"))


@pytest.mark.parametrize("value, text", [
    (12345.6, "12,345.60"),
    (Decimal("373.175"), "373.18"),
    (0, "0.00"),
    (1000000, "1,000,000.00"),
    ("8913.9375", "8,913.94"),
    (Decimal("0.005"), "0.01"),
])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_format_money(value: object, text: str, lang: str) -> None:
    assert format_money(value, lang) == text


# --------------------------------------------------------------------------- halves

@pytest.mark.parametrize("text, expected", [
    ("I make half a million a year", "500000"),
    ("half a million", "500000"),
    ("half million yuan", "500000"),
    ("about half a mil", None),                 # "mil" alone is no scale word here
    ("one and a half million", "1500000"),
    ("a million and a half", "1500000"),
    ("two and a half thousand", "2500"),
    ("2 and a half million", "2500000"),
    ("月薪1万5", "15000"),
])
def test_half_amounts(text: str, expected: str | None) -> None:
    got = parse_amount(text)
    assert (str(got) if got is not None else None) == expected


@pytest.mark.parametrize("text", ["half a year", "half the premium", "I'm halfway there"])
def test_half_without_a_scale_is_no_number(text: str) -> None:
    assert find_numbers(text) == []


@pytest.mark.parametrize("text, value, unit", [
    ("I have stage 3 chronic kidney disease", "3", None),     # "stage" is not "age"
    ("aged 30", "30", "age"),
])
def test_age_unit_needs_the_word_age(text: str, value: str, unit: str | None) -> None:
    n = find_numbers(text)[0]
    assert (str(n.value), n.unit) == (value, unit)


@pytest.mark.parametrize("text", ["4S店修车", "the million-yuan medical plan", "Million-Yuan Medical"])
def test_names_with_numerals_are_not_numbers(text: str) -> None:
    assert find_numbers(text) == []

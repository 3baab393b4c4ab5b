"""Quote inputs: genetic refusal, aliases, birth dates, BMI, types, defaults and age limits.

:func:`prepare` turns the caller's parameters into typed values (int, bool, str,
dict, and ``Decimal`` for ``number`` params) following ``rating.params`` and
``general.common_quote_inputs``; the type rules are in
:mod:`anxin.tools.pricing_coerce`. ``None`` means "not given". Every
int/number input must be >= 0.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from anxin.knowledge.filing import load_catalog, load_underwriting
from anxin.tools.errors import ToolError
from anxin.tools.genetic import is_prohibited
from anxin.tools.pricing_coerce import age_last_birthday, bad_value, coerce, coerce_int, parse_date
from anxin.tools.pricing_models import Notice
from anxin.tools.pricing_tables import dec, round1

_AGE_PARAMS = ("age", "driver_age")
_AGE_MAX = 130
_HEIGHT_CM = (Decimal(30), Decimal(300))
_WEIGHT_KG = (Decimal(1), Decimal(700))
_BMI = (Decimal(5), Decimal(150))


@dataclass
class Prepared:
    """Validated inputs of one quote call.

    ``values`` holds every ``rating.params`` name (``None`` for an absent
    optional); ``given`` the params the caller supplied (directly, through an
    alias, a birth date or height/weight); ``derived`` the inputs used beyond
    the params (birth_date, start_date, bmi from height/weight).
    """

    product: dict[str, Any]
    values: dict[str, Any]
    given: set[str]
    refused: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    derived: dict[str, Any] = field(default_factory=dict)
    age_param: str | None = None


# --------------------------------------------------------------------------- genetic data

def _genetic_policy() -> dict[str, Any]:
    return load_catalog()["general"]["genetic_data_policy"]


def is_genetic_key(key: str) -> bool:
    """Whether an input key is genetic data (listed key or prohibited substring, case-insensitive)."""
    policy = _genetic_policy()
    return is_prohibited(str(key), policy["prohibited_input_keys"], policy["prohibited_key_substrings"])


def genetic_notice() -> Notice:
    """The filing's notice for refused genetic inputs."""
    n = _genetic_policy()["notice"]
    return Notice(code="GENETIC_INPUT_REFUSED", zh=n["zh"], en=n["en"])


def split_genetic(params: Mapping[str, Any], dict_params: set[str]) -> tuple[dict[str, Any], list[str]]:
    """Drop genetic keys (also one level inside dict params); return (clean params, refused key names)."""
    clean: dict[str, Any] = {}
    refused: list[str] = []
    for key, value in params.items():
        if is_genetic_key(key):
            refused.append(str(key))
            continue
        if key in dict_params and isinstance(value, Mapping):
            inner = {}
            for sub, sub_value in value.items():
                if is_genetic_key(sub):
                    refused.append(f"{key}.{sub}")
                else:
                    inner[sub] = sub_value
            value = inner
        clean[key] = value
    return clean, refused


def as_of_date() -> dt.date:
    """``meta.as_of_date`` of the filing ("today")."""
    return dt.date.fromisoformat(str(load_catalog()["meta"]["as_of_date"]))


# --------------------------------------------------------------------------- aliases

def aliases(product_id: str) -> dict[str, str]:
    """``general.common_quote_inputs.aliases`` for a product (alias -> param name)."""
    return dict(load_catalog()["general"]["common_quote_inputs"]["aliases"].get(product_id, {}))


def apply_aliases(product: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Rename alias keys to their param name; both given and different -> INVALID_VALUE."""
    out = dict(params)
    specs = {p["name"]: p for p in product["rating"]["params"]}
    for alias, canon in aliases(product["id"]).items():
        if alias not in out:
            continue
        value = out.pop(alias)
        if out.get(canon) is not None and value is not None:
            a, b = coerce(product, specs[canon], value), coerce(product, specs[canon], out[canon])
            if a != b:
                raise ToolError("INVALID_VALUE", f"{alias}={value!r} (alias of {canon}) disagrees with {canon}={out[canon]!r}",
                                field=canon)
        elif value is not None:
            out[canon] = value
    return out


# --------------------------------------------------------------------------- prepare

def _note(code: str, zh: str, en: str) -> Notice:
    return Notice(code=code, zh=zh, en=en)


def prepare(product: dict[str, Any], params: Mapping[str, Any]) -> Prepared:
    """Validate and resolve the inputs of ``quote(product, params)`` (see module doc)."""
    rating = product["rating"]
    specs = {p["name"]: p for p in rating["params"]}
    common = load_catalog()["general"]["common_quote_inputs"]
    descriptors = set(common["ignored_descriptors"])
    dict_params = {n for n, s in specs.items() if s["type"] == "dict"}

    clean, refused = split_genetic(params, dict_params)
    clean = apply_aliases(product, clean)
    age_param = next((a for a in _AGE_PARAMS if a in specs), None)
    prep = Prepared(product=product, values={}, given=set(), refused=refused, age_param=age_param)

    # 1. every key must be a param, a date input of an age-rated product, or a known descriptor
    date_inputs = {"birth_date", "start_date"} if age_param else set()
    for key in clean:
        if key in specs or key in date_inputs:
            continue
        if key in descriptors:
            prep.ignored.append(key)
            continue
        raise ToolError("INVALID_PARAM", f"'{key}' is not a parameter of {product['id']}; "
                        f"parameters: {', '.join(specs)}", field=str(key))

    # 2. types
    for key, value in clean.items():
        if key in specs and value is not None:
            prep.values[key] = coerce(product, specs[key], value)
            prep.given.add(key)

    # 3. birth_date (+ start_date) -> age
    if age_param:
        _resolve_birth_date(prep, clean.get("birth_date"), clean.get("start_date"))

    # 4. height + weight -> bmi
    if "bmi" in specs:
        _resolve_bmi(prep)

    # 5. required / defaults / optional
    for name, spec in specs.items():
        if name in prep.values:
            continue
        if spec.get("required"):
            raise ToolError("MISSING_PARAM", f"'{name}' is required for {product['id']} ({spec.get('en', '')})",
                            field=name)
        if "default" in spec:
            prep.values[name] = coerce(product, spec, spec["default"])
        else:
            prep.values[name] = None

    # 6. ranges common to all products
    for name, spec in specs.items():
        value = prep.values[name]
        if spec["type"] in ("int", "number") and value is not None and value < 0:
            raise bad_value(name, value, "a value >= 0")
    _check_age(prep)
    _check_uw_loading(prep)
    _descriptor_notices(prep, clean)
    return prep


def _resolve_birth_date(prep: Prepared, birth: Any, start: Any) -> None:
    age_param = prep.age_param
    assert age_param is not None
    if birth is None:
        if start is not None:
            prep.ignored.append("start_date")
        return
    born = parse_date(birth, "birth_date")
    on = parse_date(start, "start_date") if start is not None else as_of_date()
    if on < born:
        raise ToolError("INVALID_VALUE", f"start_date {on} is before birth_date {born}", field="birth_date")
    age = age_last_birthday(born, on)
    given = prep.values.get(age_param)
    if given is not None and given != age:
        raise ToolError("INVALID_VALUE", f"{age_param}={given} disagrees with birth_date {born}: age last birthday on "
                        f"{on} is {age}", field=age_param)
    prep.values[age_param] = age
    prep.given.add(age_param)
    prep.derived.update(birth_date=born.isoformat(), start_date=on.isoformat(), age_days=(on - born).days)


def _resolve_bmi(prep: Prepared) -> None:
    v = prep.values
    h, w = v.get("height_cm"), v.get("weight_kg")
    if v.get("bmi") is not None and not _BMI[0] <= v["bmi"] <= _BMI[1]:
        raise bad_value("bmi", v["bmi"], f"a BMI between {_BMI[0]} and {_BMI[1]}")
    if h is None and w is None:
        return
    if h is None or w is None:
        missing = "weight_kg" if w is None else "height_cm"
        raise ToolError("MISSING_PARAM", f"'{missing}' is needed with {'height_cm' if w is None else 'weight_kg'} "
                        "to compute BMI", field=missing)
    if not _HEIGHT_CM[0] <= h <= _HEIGHT_CM[1]:
        raise bad_value("height_cm", h, "a height in centimetres (30-300)")
    if not _WEIGHT_KG[0] <= w <= _WEIGHT_KG[1]:
        raise bad_value("weight_kg", w, "a weight in kilograms (1-700)")
    exact = Fraction(w) / (Fraction(h) / 100) ** 2
    bmi = round1(exact)
    if v.get("bmi") is not None and round1(v["bmi"]) != bmi:
        raise ToolError("INVALID_VALUE", f"bmi={v['bmi']} disagrees with height_cm={h}, weight_kg={w} "
                        f"(BMI {bmi})", field="bmi")
    if v.get("bmi") is None:
        v["bmi"] = bmi
    prep.given.add("bmi")
    prep.derived["bmi_from_height_weight"] = bmi


def _check_age(prep: Prepared) -> None:
    """``rating.age_limits`` (new business / renewal via the ``renewal`` flag), else ``eligibility.driver_age``."""
    name = prep.age_param
    if name is None:
        return
    age = prep.values[name]
    if age > _AGE_MAX:
        raise bad_value(name, age, f"an age between 0 and {_AGE_MAX}")
    product = prep.product
    limits = product["rating"].get("age_limits")
    renewal = bool(prep.values.get("renewal"))
    if limits:
        kind = "renewal" if renewal and "renewal" in limits else "new_business"
        lo, hi = limits[kind]
    else:
        rng = product.get("eligibility", {}).get(name)
        if not rng:
            return
        kind, lo, hi = "eligibility", rng["min"], rng["max"]
    if not lo <= age <= hi:
        extra = ""
        if kind == "new_business" and limits and "renewal" in limits:
            extra = f"; renewals accepted to {limits['renewal'][1]} (renewal=true)"
        raise ToolError("INELIGIBLE_AGE", f"{name} {age} is outside {lo}-{hi} "
                        f"({kind.replace('_', ' ')}){extra}", field=name)
    min_days = (product.get("eligibility", {}).get("issue_age") or {}).get("min_days_old")
    if min_days and not renewal and age == 0:
        days = prep.derived.get("age_days")
        if days is not None and days < min_days:
            raise ToolError("INELIGIBLE_AGE", f"the insured must be at least {min_days} days old on the start date "
                            f"(is {days})", field="birth_date")
        if days is None:
            prep.notices.append(_note("MIN_DAYS_OLD", f"被保险人须于生效日出生满{min_days}天。",
                                      f"The insured must be at least {min_days} days old on the start date."))


def _check_uw_loading(prep: Prepared) -> None:
    """``uw_loading_pct`` may not exceed the underwriting line's ``max_total_loading_pct`` (above it = decline)."""
    value = prep.values.get("uw_loading_pct")
    if value is None:
        return
    line = load_underwriting().get("lines", {}).get(prep.product.get("underwriting_line"), {})
    cap = line.get("max_total_loading_pct")
    if cap is not None and value > dec(cap):
        raise ToolError("INVALID_VALUE", f"uw_loading_pct={value} exceeds the {prep.product['underwriting_line']} "
                        f"line's cap of {cap}% (a higher total loading is a decline)", field="uw_loading_pct")


def _descriptor_notices(prep: Prepared, clean: Mapping[str, Any]) -> None:
    """Notices for ignored descriptors and for a standard-rates assumption on underwritten products."""
    if prep.ignored:
        names = ", ".join(prep.ignored)
        prep.notices.append(_note("IGNORED_INPUTS", f"以下信息不影响本产品定价，已忽略：{names}。",
                                  f"These inputs do not affect this product's price and were ignored: {names}."))
    eligible = prep.product.get("eligibility", {}).get("occupation_classes")
    if "occupation_class" in prep.ignored and eligible and clean.get("occupation_class") is not None:
        try:
            occ = coerce_int(clean["occupation_class"], "occupation_class")
        except ToolError:
            occ = None
        if occ not in eligible:
            classes = ", ".join(str(c) for c in eligible)
            prep.notices.append(_note("INELIGIBLE_OCCUPATION",
                                      f"职业类别 {clean['occupation_class']} 不在本产品可承保范围（{classes} 类）。",
                                      f"Occupation class {clean['occupation_class']} is not insurable under this "
                                      f"product (classes {classes})."))
    if "health_points" in prep.ignored:
        hbb = load_catalog()["programmes"]["HBB"]["eligible_products"]
        prep.notices.append(_note("HBB_NOT_ELIGIBLE", f"健康行为银行积分仅可用于 {'、'.join(hbb)}。",
                                  f"Health Behaviour Bank points can only be redeemed on {', '.join(hbb)}."))
    if "uw_loading_pct" in prep.values and "uw_loading_pct" not in prep.given:
        prep.notices.append(_note("SUBJECT_TO_UNDERWRITING", "本报价按标准体（无核保加费）计算，最终保费以健康告知及核保结论为准。",
                                  "Quoted at standard rates (no underwriting loading); the final premium depends "
                                  "on the health declaration and underwriting."))

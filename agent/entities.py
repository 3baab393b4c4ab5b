"""Entity extraction for the dialogue engine: what a customer's message says, as tool arguments.

``extract_entities(text, lang, expecting=...)`` reads one message (Chinese, English or
both) and returns :class:`Entities`: the products mentioned, the person (age, gender,
smoker, birth date), verification details (policy number, claim id, ID last 4,
name, date of birth), quote parameters named exactly as the catalog's
``rating.params``, needs-analysis inputs (income, budget, dependents, existing
policies, goals), claim details (incident date, amount, coverage code,
description), money amounts no slot took, and a yes/no when the message is a
confirmation. A what-if message ("现在驾驶分78.4，如果提到90分") keeps the values as
they are now in the slots and puts where they would move to in ``target_values``.
A message that names no product but gives two or more details only one motor, home,
flight or shopping product rates on ("a 7-seater worth 400k, 3 million third-party")
names that product.

Extraction is conservative: a number fills a slot only when a cue word sits next
to it (保额 50万, 免赔额1万, 预算5000, "my car is worth 200k") or its unit says
what it is (30岁, 175cm, 5座); ``expecting`` names the slot the advisor just asked
for, so a bare "50万吧" answers it. Numbers inside identifiers are never read.
Every vocabulary (cue words, synonyms, relative dates) lives in
``agent/data/entity_lexicon.yaml``; the regexes are compiled once at import.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import lru_cache
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict, Field

from anxin.agent.numbers import (
    NumberMention,
    find_numbers,
    load_lexicon,
    normalise_text,
    parse_chinese_numeral,
)
from anxin.knowledge.filing import load_catalog, load_demo_data, product_aliases
from anxin.knowledge.names import squash

__all__ = ["Entities", "extract_entities", "SLOT_NAMES", "MONEY_SLOTS", "BOOL_SLOTS", "ENUM_SLOTS"]


# =========================================================================== the result


class Entities(BaseModel):
    """Everything :func:`extract_entities` found in one message; unset fields are None/empty.

    Money and real-valued slots are :class:`~decimal.Decimal`; :meth:`to_dict` gives
    JSON-ready values (integral numbers as ``int``) without the unset fields.
    """

    model_config = ConfigDict(extra="forbid")

    product_ids: list[str] = Field(default_factory=list)
    # person
    age: int | None = None
    birth_date: str | None = None
    start_date: str | None = None
    gender: str | None = None
    smoker: bool | None = None
    occupation_class: int | None = None
    # verification
    policy_number: str | None = None
    claim_id: str | None = None
    id_last4: str | None = None
    name: str | None = None
    dob: str | None = None
    # quote parameters (catalog rating.params names)
    sum_insured: Decimal | None = None
    deductible: Decimal | None = None
    payment_term: int | None = None
    term_years: int | None = None
    coverage_period: str | None = None
    monthly_benefit: Decimal | None = None
    renewal: bool | None = None
    social_insurance: bool | None = None
    bmi: Decimal | None = None
    height_cm: Decimal | None = None
    weight_kg: Decimal | None = None
    health_points: int | None = None
    uw_loading_pct: Decimal | None = None
    hba1c_pct: Decimal | None = None
    on_insulin: bool | None = None
    cgm_consecutive_days_in_target: int | None = None
    driver_age: int | None = None
    vehicle_value: Decimal | None = None
    tpl_limit: Decimal | None = None
    in_vehicle_per_seat: Decimal | None = None
    seats: int | None = None
    at_fault_claims_3y: int | None = None
    driving_score: Decimal | None = None
    driving_indicators: dict[str, Decimal] = Field(default_factory=dict)
    building_si: Decimal | None = None
    contents_si: Decimal | None = None
    liability: bool | None = None
    construction: str | None = None
    building_age_years: int | None = None
    floor_type: str | None = None
    region_tier: str | None = None
    has_gas_supply: bool | None = None
    sensors: dict[str, bool] = Field(default_factory=dict)
    plan: str | None = None
    route_type: str | None = None
    on_time_rate_pct: Decimal | None = None
    peak_season: bool | None = None
    segments: int | None = None
    category: str | None = None
    route: str | None = None
    completed_orders_12m: int | None = None
    returned_orders_12m: int | None = None
    medical_limit: Decimal | None = None
    # needs analysis
    income: Decimal | None = None
    budget: Decimal | None = None
    dependents: int | None = None
    existing_policies: list[str] = Field(default_factory=list)
    goals: list[str] = Field(default_factory=list)
    # claims
    incident_date: str | None = None
    amount: Decimal | None = None
    claim_type: str | None = None
    description: str | None = None
    # leftovers and dialogue signals
    amounts: list[Decimal] = Field(default_factory=list)
    yes: bool | None = None
    hypothetical: bool | None = None
    target_values: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The set fields only (None, empty lists and dicts dropped), JSON-ready:
        Decimals become ``int`` when integral, else ``float``."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if value is None or (isinstance(value, (list, dict)) and not value):
                continue
            out[key] = _plain(value)
        return out

    def quote_params(self, product_id: str) -> dict[str, Any]:
        """The extracted values that are rating parameters of ``product_id`` (plus
        ``birth_date``/``start_date``), JSON-ready, ready for the quote tool."""
        pid = (product_id or "").upper()
        names = product_param_names(pid)
        data = self.to_dict()
        out = {k: v for k, v in data.items() if k in names}
        aliases = (load_catalog().get("general", {}).get("common_quote_inputs", {}).get("aliases") or {}).get(pid, {})
        for src, dst in aliases.items():          # UBI-600: age -> driver_age; CI-200: term_years -> payment_term
            if dst in names and dst not in out and src in data:
                out[dst] = data[src]
        for extra in ("birth_date", "start_date"):
            if extra in data and names:
                out[extra] = data[extra]
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# =========================================================================== lexicon & catalog

_LEX = load_lexicon()
_F = re.IGNORECASE


def _rx(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern, _F) if pattern else None


@lru_cache(maxsize=1)
def _catalog_products() -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in load_catalog()["products"]}


@lru_cache(maxsize=16)
def product_param_names(product_id: str) -> frozenset[str]:
    """Names of a product's rating parameters (empty for an unknown product)."""
    p = _catalog_products().get((product_id or "").upper())
    if not p:
        return frozenset()
    return frozenset(x["name"] for x in p.get("rating", {}).get("params", []))


def _coverage_codes(product_id: str) -> list[str]:
    p = _catalog_products().get(product_id, {})
    return [c["code"] for c in p.get("coverages", [])]


_ALL_CODES = {c for pid in _catalog_products() for c in _coverage_codes(pid)}

_SLOTS: dict[str, dict[str, Any]] = {}
for _name, _spec in (_LEX.get("slots") or {}).items():
    _SLOTS[_name] = {
        "kind": _spec.get("kind", "money"),
        "units": [None if u is None else str(u) for u in _spec.get("units", ["yuan", None])],
        "range": _spec.get("range"),
        "values": _spec.get("values"),
        "monthly": bool(_spec.get("monthly")),
        "before": _rx(_spec.get("before")),
        "after": _rx(_spec.get("after")),
    }
for _s in _SLOTS.values():
    if _s["kind"] == "money":
        _s["units"] = ["yuan", None]

MONEY_SLOTS = tuple(k for k, v in _SLOTS.items() if v["kind"] == "money")
BOOL_SLOTS = tuple((_LEX.get("bools") or {}).keys()) + ("smoker",)
ENUM_SLOTS = tuple((_LEX.get("enums") or {}).keys()) + ("gender",)
SLOT_NAMES = tuple(Entities.model_fields)

_CLAUSE_BREAK = re.compile(_LEX.get("clause_breaks", r"[。；;！!？?\n]"))
_UNIT_PHRASES = _rx(_LEX.get("unit_phrases"))
_MONTHLY = _rx(_LEX["needs"]["monthly_markers"])
_HYPOTHETICAL = _rx(_LEX.get("hypothetical"))
_HYPO_REFS = {k: re.compile(v, _F) for k, v in (_LEX.get("hypothetical_refs") or {}).items()}

_IDS = _LEX["identifiers"]
_POLICY = _rx(_IDS["policy_number"])
_CLAIM = _rx(_IDS["claim_id"])
_ID4 = re.compile("(?:" + _IDS["id_last4_cues"] + ")" + _IDS["id_last4_value"], _F)
_ID4_NOT_AFTER = re.compile(_IDS["id_last4_not_after"], _F)
_ID4_BARE = re.compile(r"^\s*(?:是|为|:|：)?\s*([0-9]{3}[0-9x])\s*[。.!！]?\s*$", _F)

_NAMES = _LEX["names"]
_ZH_NAME_CUE = _rx(_NAMES["zh_cues"])
_ZH_NAME_STOP = sorted(_NAMES["zh_stop"], key=len, reverse=True)
_ZH_NOT_NAMES = set(_NAMES["zh_not_names"])
_EN_NAME_CUE = _rx(_NAMES["en_cues"])
_EN_NOT_NAMES = {w.lower() for w in _NAMES["en_not_names"]}
_SURNAMES = set(_NAMES["zh_surnames"])

_DATES = _LEX["dates"]
_DOB_CUE = _rx(_DATES["dob_cues"])
_START_CUE = _rx(_DATES["start_cues"])
_INCIDENT_CUE = _rx(_DATES["incident_cues"])
_REL_DAYS = sorted(((str(k), int(v)) for k, v in _DATES["relative_days"].items()), key=lambda kv: -len(kv[0]))
_REL_DAYS_RX = re.compile("|".join(re.escape(k) for k, _ in _REL_DAYS), _F)
_DAYS_AGO = _rx(_DATES["days_ago"])
_WEEKS_AGO = _rx(_DATES["weeks_ago"])
_WEEKDAY_ZH = _rx(_DATES["last_weekday_zh"])
_WEEKDAY_EN = _rx(_DATES["last_weekday_en"])
_WEEKDAYS_EN = {str(k): int(v) for k, v in _DATES["weekdays_en"].items()}
_MONTH_DAY_ZH = _rx(_DATES["month_day_zh"])
_CORRECTION = _rx(_LEX.get("correction"))
_DATE_RANGE_START = re.compile(
    r"(?<![\d.])(\d{1,2})(?:st|nd|rd|th)?\s*(?:to|-|–|~|until|till|through|thru|and|到|至)\s*$", _F)
_COMPACT_DATE = re.compile(r"(?<!\d)(19\d{2}|20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?!\d)")

_PERSON = _LEX["person"]
_GENDER_M = _rx(_PERSON["gender_m"])
_GENDER_F = _rx(_PERSON["gender_f"])
_GENDER_BLOCK = _rx(_PERSON["gender_block"])
_SMOKER_FALSE = _rx(_PERSON["smoker_false"])
_SMOKER_TRUE = _rx(_PERSON["smoker_true"])
_INSURED_F = _rx(_PERSON.get("insured_relative_f"))
_INSURED_M = _rx(_PERSON.get("insured_relative_m"))
_AGE_RELATIVES = _rx(_PERSON["age_relatives"])
_AGE_SELF = _rx(_PERSON["age_self"])

_NEEDS = _LEX["needs"]
_DEP_ZERO = _rx(_NEEDS["dependents_zero"])
_DEP_CUES = _rx(_NEEDS["dependent_cues"])
_FAMILY_COUNTED = _rx(_NEEDS["family_counted"])
_FAMILY_SINGLE = {str(k): int(v) for k, v in _NEEDS["family_single"].items()}
_FAMILY_SINGLE_RX = re.compile(
    "|".join(
        (re.escape(k) if re.search(r"[\u4e00-\u9fff]", k) else r"\b" + re.escape(k) + r"s?\b")
        for k in sorted(_FAMILY_SINGLE, key=len, reverse=True)
    ),
    _F,
)
_FAMILY_OF = _rx(_NEEDS["family_of"])
_DEP_TOTAL = _rx(_NEEDS.get("dependents_total"))
_CHILD_WORDS = {"孩子", "小孩", "儿子", "女儿", "宝宝", "娃", "kid", "child", "baby", "son", "daughter"}
_BUY_FOR = re.compile(r"(?:" + _NEEDS["buy_for"] + r")\s*(?:my|我的?|我)?\s*$", _F)
_EXISTING_CUE = _rx(_NEEDS["existing_cues"])
_EXISTING_KINDS = {str(k): str(v) for k, v in _NEEDS["existing_kinds"].items()}
_EXISTING_KINDS_RX = re.compile("|".join(re.escape(k) for k in sorted(_EXISTING_KINDS, key=len, reverse=True)), _F)
_GOAL_CUE = _rx(_NEEDS["goal_cues"])
_ADVICE_CUE = _rx(_NEEDS["advice_cues"])
_GOALS = [re.compile(g, _F) for g in _NEEDS["goals"]]

_CONFIRM = _LEX["confirm"]
_YES = _CONFIRM["yes"]
_NO = _CONFIRM["no"]
_FILLER = _CONFIRM["filler"]
_TAILS = _CONFIRM["action_tails"]
_SEP = r"[\s,，.。!！~～、…]*"
_YES_FULL = re.compile(rf"^{_SEP}(?:(?:{_YES}|{_FILLER}|{_TAILS}){_SEP})*(?:{_YES}){_SEP}(?:(?:{_YES}|{_FILLER}|{_TAILS}){_SEP})*$", _F)
_NO_FULL = re.compile(rf"^{_SEP}(?:(?:{_NO}|{_FILLER}){_SEP})*(?:{_NO}){_SEP}(?:(?:{_NO}|{_FILLER}|{_YES}){_SEP})*$", _F)
_YES_LEAD = re.compile(rf"^\s*(?:{_YES})(?:{_FILLER})*\s*[,，.。!！]", _F)
_NO_LEAD = re.compile(rf"^\s*(?:{_NO})(?:{_FILLER})*\s*[,，.。!！]", _F)
_EXPECT_YES = re.compile(rf"^{_SEP}(?:{_LEX['expect_yes']})(?:{_FILLER})*{_SEP}$", _F)
_EXPECT_NO = re.compile(rf"^{_SEP}(?:{_LEX['expect_no']})(?:{_FILLER})*{_SEP}$", _F)

_CLAIM_TYPES = [
    (re.compile(rule["re"], _F), [c for c in rule["codes"] if c in _ALL_CODES]) for rule in _LEX["claim_types"]
]
_CLAIM_CONTEXT = _rx(_LEX["claim_context"])
_CLAIM_HISTORY = _rx(_LEX.get("claim_history"))

_ENUMS = {slot: [(val, re.compile(rx, _F)) for val, rx in vals.items()] for slot, vals in _LEX["enums"].items()}
_BOOLS = {slot: (re.compile(v["false"], _F), re.compile(v["true"], _F)) for slot, v in _LEX["bools"].items()}
_ENUMS_NOT_AFTER = {slot: re.compile(rx, _F) for slot, rx in (_LEX.get("enums_not_after") or {}).items()}
_ENUMS_ASKED = {slot: [(val, re.compile(rx, _F)) for val, rx in vals.items()]
                for slot, vals in (_LEX.get("enums_when_asked") or {}).items()}
_FIXED = {slot: [(int(val), re.compile(rx, _F)) for val, rx in vals.items()] for slot, vals in _LEX["fixed"].items()}
_UNIT_SLOTS = {str(k): str(v) for k, v in _LEX["unit_slots"].items()}
_BUILT_YEAR = _rx(_LEX["built_year"])
_CONTEXTS = {k: re.compile(v, _F) for k, v in _LEX["contexts"].items()}
_CONTEXT_OF = {
    "plan": "flight", "route_type": "flight", "peak_season": "flight", "segments": "flight",
    "on_time_rate_pct": "flight", "category": "shopping", "route": "shopping",
    "completed_orders_12m": "shopping", "returned_orders_12m": "shopping",
    "floor_type": "home", "construction": "home", "region_tier": "home", "has_gas_supply": "home",
    "liability": "home", "building_si": "home", "contents_si": "home", "building_age_years": "home",
    "driving_indicators": "motor", "driving_score": "motor", "at_fault_claims_3y": "motor",
    "seats": "motor", "vehicle_value": "motor", "tpl_limit": "motor", "in_vehicle_per_seat": "motor",
}

_SENSORS = _LEX["sensors"]
_SENSOR_RX = {k: re.compile(v, _F) for k, v in _SENSORS.items() if k not in ("all", "negation")}
_SENSOR_ALL = _rx(_SENSORS["all"])
_SENSOR_LISTS = _LEX.get("sensor_lists") or {}
_SENSOR_WORDS = _SENSOR_LISTS.get("words") or {}
_SENSOR_WORD = re.compile("|".join(f"(?P<{k}>{v})" for k, v in _SENSOR_WORDS.items()), _F) if _SENSOR_WORDS else None
_SENSOR_ANY = "(?:" + "|".join(f"(?:{v})" for v in _SENSOR_WORDS.values()) + ")"
_SENSOR_LIST = re.compile(
    r"(?<![a-z])(?P<items>" + _SENSOR_ANY + r"(?:(?:" + _SENSOR_LISTS.get("joiners", ",") + r")" + _SENSOR_ANY
    + r")*)\s*(?:" + _SENSOR_LISTS.get("nouns", "sensors?") + r")", _F) if _SENSOR_WORDS else None
_SENSOR_NEG_BEFORE = re.compile(r"(?:" + _SENSORS["negation"] + r")\s*(?:装|安装|install(?:ed)?)?\s*(?:了|过)?\s*$", _F)
_SENSOR_NEG_AFTER = re.compile(r"^[^，,。；;]{0,6}?(?:都|也|还)?(?:没装|没有装|没安装|未安装|不装|没有|没)", _F)


def _indicator_catalog() -> dict[str, str]:
    ubi = _catalog_products().get("UBI-600", {})
    out = {}
    for ind in ubi.get("driving_score", {}).get("indicators", []):
        key = ind["key"]
        out[key] = "km" if key.endswith("_km") else ("pct" if key.endswith("_pct") else "per100")
    return out


_INDICATOR_KIND = _indicator_catalog()
_INDICATORS = {k: re.compile(v, _F) for k, v in _LEX["driving_indicators"].items() if k in _INDICATOR_KIND}

_OCC = _LEX["occupation"]
_OCC_CLASS = _rx(_OCC["class_re"])
_OCC_SELF = re.compile(r"(?:" + _OCC["self_cues"] + r")\s*$", _F)
_OCC_NEEDS_CUE = {w.lower() for w in _OCC["needs_cue"]}


def _occupation_words() -> dict[str, int]:
    words: dict[str, int] = {}
    for cls, ws in _OCC["words"].items():
        for w in ws:
            words.setdefault(str(w).lower(), int(cls))
    classes = load_catalog().get("general", {}).get("occupation_classes", {}) or {}
    for cls, text in classes.items():
        for lang in ("zh", "en"):
            inner = re.findall(r"[（(]([^）)]*)[）)]", str(text.get(lang, "")))
            for part in inner:
                for w in re.split(r"[、,，/]", part):
                    w = w.strip().lower()
                    if len(w) >= 2:
                        words.setdefault(w, int(cls))
    return words


_OCC_WORDS = _occupation_words()
_OCC_WORDS_RX = re.compile(
    "|".join(
        (re.escape(w) if re.search(r"[\u4e00-\u9fff]", w) else r"(?<![a-z])" + re.escape(w) + r"s?(?![a-z])")
        for w in sorted(_OCC_WORDS, key=len, reverse=True)
    ),
    _F,
)


def _product_phrases() -> list[tuple[str, str]]:
    """(squashed phrase, product id), longest first, from the catalog, aliases and lexicon."""
    stop = {squash(s) for s in _LEX["products"].get("stoplist", [])}
    phrases: dict[str, str] = {}

    def add(text: str, pid: str) -> None:
        s = squash(text)
        if len(s) >= 2 and s not in stop:
            phrases.setdefault(s, pid)

    for pid, p in _catalog_products().items():
        for field in ("name", "product_type"):
            for lang in ("zh", "en"):
                value = (p.get(field) or {}).get(lang)
                if value:
                    add(value, pid)
    for pid, words in product_aliases().items():
        for w in words:
            add(w, pid)
    for pid, words in (_LEX["products"].get("extra_phrases") or {}).items():
        for w in words:
            add(w, pid)
    return sorted(phrases.items(), key=lambda kv: -len(kv[0]))


_PRODUCT_PHRASES = _product_phrases()
_PRODUCT_ID_RX = re.compile(
    r"(?<![a-z0-9])(" + "|".join(
        re.escape(pid.split("-")[0].lower()) + r"[\s_-]?" + re.escape(pid.split("-")[1]) for pid in _catalog_products()
    ) + r")(?![0-9])",
    _F,
)
_PRODUCT_BY_KEY = {squash(pid).replace("-", ""): pid for pid in _catalog_products()}


@lru_cache(maxsize=1)
def _default_today() -> dt.date:
    meta = (load_demo_data() or {}).get("meta", {})
    raw = meta.get("as_of_date") or load_catalog().get("meta", {}).get("as_of_date")
    return dt.date.fromisoformat(str(raw)) if raw else dt.date.today()


# =========================================================================== extraction state


class _Ctx:
    """Working state of one extraction: the text, its mentions and what is already used."""

    def __init__(self, text: str, expecting: str | None, today: dt.date) -> None:
        self.text = text
        self.norm = normalise_text(text)
        self.expecting = expecting
        self.today = today
        self.mentions: list[NumberMention] = find_numbers(text)
        self.used: set[int] = set()           # indices of mentions a slot took (or that are not values)
        self.spans: list[tuple[int, int]] = []  # character spans read as something else
        self.out: dict[str, Any] = {}
        self.notes: list[str] = []
        self.product_spans: list[tuple[int, int, str]] = []

    def consume(self, a: int, b: int) -> None:
        self.spans.append((a, b))
        for i, m in enumerate(self.mentions):
            if m.start < b and a < m.end:
                self.used.add(i)

    def free(self, a: int, b: int) -> bool:
        return not any(a < e and s < b for s, e in self.spans)

    def set(self, slot: str, value: Any) -> bool:
        if value is None or slot in self.out:
            return False
        self.out[slot] = value
        return True

    def context(self, slot: str, products: list[str]) -> bool:
        """Whether a domain word, a product rated on ``slot`` or the question asked makes
        reading ``slot`` from a loose word safe."""
        if self.expecting == slot:
            return True
        if any(slot in product_param_names(p) for p in products):
            return True
        if products and not any(slot in product_param_names(p) for p in products) and slot not in ("segments",):
            return False
        ctx = _CONTEXT_OF.get(slot)
        return ctx is None or bool(_CONTEXTS[ctx].search(self.norm))


# =========================================================================== public entry point


def extract_entities(text: str, lang: str | None = None, *, expecting: str | None = None,
                     today: dt.date | str | None = None) -> Entities:
    """Entities of one customer message.

    ``lang`` (``zh``/``en``) is accepted for symmetry with the rest of the dialogue and
    does not change what is read (both languages are always read). ``expecting`` is the
    slot the advisor just asked for (e.g. ``"sum_insured"``, ``"age"``, ``"smoker"``,
    ``"id_last4"``, ``"name"``, ``"incident_date"``): a bare answer fills it.
    ``today`` anchors relative dates (昨天, last Monday) and defaults to the filing's
    ``meta.as_of_date``.
    """
    text = text or ""
    if isinstance(today, str):
        today = dt.date.fromisoformat(today)
    day = today or _default_today()
    if not text.strip():
        return Entities()
    out = _extract(text, expecting, day)
    if out.get("hypothetical"):
        _split_hypothetical(text, day, out)
    return Entities(**{k: v for k, v in out.items() if k in Entities.model_fields})


def _extract(text: str, expecting: str | None, today: dt.date,
             product_hint: list[str] | None = None) -> dict[str, Any]:
    """The slots of ``text`` as a plain dict (``product_hint``: products of the whole
    message, for reading a part of it)."""
    ctx = _Ctx(text, expecting, today)
    if not text.strip():
        return {}

    _identifiers(ctx)
    if _UNIT_PHRASES is not None:
        for m in _UNIT_PHRASES.finditer(ctx.norm):
            ctx.consume(m.start(), m.end())
    products = _products(ctx)
    ctx.out["product_ids"] = products
    if not products and product_hint:
        products = list(product_hint)
    _dates(ctx)
    _sensors(ctx, products)
    _enums_and_bools(ctx, products)
    _person(ctx)
    _occupation(ctx)
    _indicators(ctx, products)
    _numeric_slots(ctx, products)
    _remap_amount(ctx, products)
    if not products:
        inferred = _implied_product(ctx)
        if inferred:
            products = [inferred]
            ctx.out["product_ids"] = products
    _needs(ctx, products)
    _confirmation(ctx)
    _expected(ctx, products)
    _claim(ctx, products)
    _correction(ctx)
    _amounts(ctx)
    if _HYPOTHETICAL is not None and _HYPOTHETICAL.search(ctx.norm):
        ctx.out["hypothetical"] = True
    if ctx.notes:
        ctx.out["notes"] = ctx.notes
    return ctx.out


def _split_hypothetical(text: str, today: dt.date, out: dict[str, Any]) -> None:
    """A what-if message: the values the hypothetical part moves a slot to go to
    ``target_values`` ("驾驶分78.4。如果提到90分" -> driving_score 78.4, target 90;
    "from 78 to 90" likewise); where the message also states the current value, the
    slot keeps that one."""
    norm = normalise_text(text)
    cue = _HYPOTHETICAL.search(norm) if _HYPOTHETICAL is not None else None
    if cue is None:
        return
    start = cue.start()
    # the hypothetical clause starts at the cue's sentence/clause edge
    edge = max((m.end() for m in _CLAUSE_EDGE.finditer(norm, 0, start)), default=0)
    if not norm[edge:start].strip() or len(norm[edge:start]) <= 12:
        start = edge
    products = out.get("product_ids") or []
    pre = _extract(text[:start], None, today, products) if text[:start].strip() else {}
    hyp = _extract(text[start:], None, today, products)
    names = set().union(*(product_param_names(p) for p in products)) if products else set(SLOT_NAMES)
    skip = {"product_ids", "amounts", "notes", "hypothetical", "yes", "goals", "existing_policies"}
    targets: dict[str, Any] = {}
    for key, value in hyp.items():
        if key in skip or key not in names or value in (None, [], {}):
            continue
        moved = _moved_to(text[start:], key, value)
        if key in pre and pre[key] not in (None, [], {}):
            if pre[key] == moved:
                continue
            out[key] = pre[key]           # the value stated as it is now
        elif moved != value:
            out[key] = value              # "从78提到90": 78 now, 90 the target
        targets[key] = moved
    for key, rx in _HYPO_REFS.items():
        if key not in targets and pre.get(key) not in (None, [], {}) and rx.search(norm[start:]):
            targets[key] = pre[key]       # "1,000 points. How much would using the points save?"
    if targets:
        out["target_values"] = targets


_MOVE_TO = re.compile(r"^\s*(?:分|points?|%|天|days?|万|k)?\s*(?:的话)?\s*(?:提高?|降低?|升|涨|减|改|变|换|调)?\s*"
                      r"(?:到|至|成|为|to|down\s+to|up\s+to)\s*", _F)


def _moved_to(part: str, key: str, value: Any) -> Any:
    """In "from X to Y" (从X提到Y) the slot's value is Y."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return value
    mentions = find_numbers(part)
    norm = normalise_text(part)
    for i, m in enumerate(mentions[:-1]):
        if m.value == Decimal(str(value)):
            gap = norm[m.end:mentions[i + 1].start]
            if _MOVE_TO.match(gap) and len(gap) <= 12:
                nxt = mentions[i + 1].value
                return int(nxt) if isinstance(value, int) else nxt
    return value


# =========================================================================== identifiers


def _identifiers(ctx: _Ctx) -> None:
    for m in _POLICY.finditer(ctx.norm):
        prod, num, year, seq = m.groups()
        ctx.set("policy_number", f"XH-{prod.upper()}{num}-{year}-{seq}")
        ctx.consume(m.start(), m.end())
    for m in _CLAIM.finditer(ctx.norm):
        ctx.set("claim_id", f"CLM-{m.group(1)}-{m.group(2)}")
        ctx.consume(m.start(), m.end())
    for m in _ID4.finditer(ctx.norm):
        if _ID4_NOT_AFTER.search(ctx.norm[max(0, m.start() - 10):m.start()]):
            continue
        if ctx.free(m.start(1), m.end(1)):
            ctx.set("id_last4", m.group(1).upper())
            ctx.consume(m.start(1), m.end(1))
            break
    if ctx.expecting == "id_last4" and "id_last4" not in ctx.out:
        m = _ID4_BARE.match(ctx.norm)
        if m:
            ctx.set("id_last4", m.group(1).upper())
            ctx.consume(m.start(1), m.end(1))


# =========================================================================== products


def _products(ctx: _Ctx) -> list[str]:
    """Catalog ids mentioned (id, name, alias or description), in order of mention."""
    hits: list[tuple[int, int, str]] = []
    masked = ctx.norm
    for a, b in ctx.spans:                       # no product ids inside policy numbers
        masked = masked[:a] + " " * (b - a) + masked[b:]
    for m in _PRODUCT_ID_RX.finditer(masked):
        key = re.sub(r"[\s_-]", "", m.group(1)).lower()
        pid = _PRODUCT_BY_KEY.get(key)
        if pid:
            hits.append((m.start(), m.end() - m.start() + 100, pid))
            ctx.product_spans.append((m.start(), m.end(), pid))
    # names and phrases on the squashed text, mapped back to positions
    keep = [i for i, ch in enumerate(masked) if squash(ch)]
    sq = "".join(squash(masked[i]) if len(squash(masked[i])) == 1 else masked[i] for i in keep)
    taken: list[tuple[int, int]] = []
    for phrase, pid in _PRODUCT_PHRASES:
        start = 0
        while True:
            at = sq.find(phrase, start)
            if at < 0:
                break
            end = at + len(phrase)
            start = at + 1
            if any(at < e and s < end for s, e in taken):
                continue
            if phrase.isascii() and ((at > 0 and sq[at - 1].isalnum() and keep[at] - keep[at - 1] == 1)
                                     or (end < len(sq) and sq[end].isalnum() and keep[end] - keep[end - 1] == 1)):
                continue   # inside a longer word
            taken.append((at, end))
            hits.append((keep[at], len(phrase), pid))
            ctx.product_spans.append((keep[at], keep[end - 1] + 1, pid))
    hits.sort()
    seen: list[str] = []
    for _, _, pid in hits:
        if pid not in seen:
            seen.append(pid)
    return seen


def _line_params() -> dict[str, frozenset[str]]:
    """Products whose every rating parameter is specific to them (motor, home, flight,
    shopping): product id -> those parameters."""
    counts: dict[str, int] = {}
    for pid in _catalog_products():
        for name in product_param_names(pid):
            counts[name] = counts.get(name, 0) + 1
    out = {}
    for pid in _catalog_products():
        names = product_param_names(pid)
        own = frozenset(n for n in names if counts[n] == 1)
        if names and own == names:
            out[pid] = own
    return out


_LINE_PARAMS = _line_params()
_ALL_UNIQUE = {n for pid in _catalog_products() for n in product_param_names(pid)
               if sum(n in product_param_names(q) for q in _catalog_products()) == 1}


def _implied_product(ctx: _Ctx) -> str | None:
    """The product a message names only through its details: two or more parameters that
    only one motor/home/flight/shopping product rates on ("I drive a 7-seater worth 400k,
    3 million third-party cover"), and no detail of another product. Not for claims."""
    if _claimish(ctx) or ctx.out.get("policy_number") or ctx.out.get("claim_id"):
        return None
    found = {k for k, v in ctx.out.items() if k in _ALL_UNIQUE and v not in (None, {}, [])}
    hits = [pid for pid, names in _LINE_PARAMS.items() if len(found & names) >= 2]
    if len(hits) != 1:
        return None
    if found - _LINE_PARAMS[hits[0]]:
        return None
    return hits[0]


# =========================================================================== dates


def _dates(ctx: _Ctx) -> None:
    norm = ctx.norm
    for i, m in enumerate(ctx.mentions):
        if m.unit not in ("date", "time", "weekday"):
            continue
        ctx.used.add(i)
        if m.unit != "date" or not m.date:
            continue
        ctx.spans.append((m.start, m.end))
        iso = m.date
        if iso.startswith("--"):                 # month-day without a year
            iso = _complete_md(ctx.today, int(iso[2:4]), int(iso[5:7]))
        if iso is None or len(iso) != 10:
            continue
        before = norm[max(0, m.start - 20):m.start]
        after = norm[m.end:m.end + 6]
        rng = _DATE_RANGE_START.search(before)
        if rng and m.date and len(iso) == 10:
            # "from 20 to 24 October", "20-24 Oct": the range starts on the first day
            first = int(rng.group(1))
            try:
                start_day = dt.date.fromisoformat(iso).replace(day=first)
            except ValueError:
                start_day = None
            if start_day is not None and start_day.isoformat() < iso:
                iso = start_day.isoformat()
                for j, o in enumerate(ctx.mentions):
                    if o.start >= m.start - len(rng.group()) and o.end <= m.start:
                        ctx.used.add(j)
        if _DOB_CUE.search(before) or re.match(r"^\s*(?:出生|生|born)", after) or ctx.expecting in ("dob", "birth_date"):
            if "dob" not in ctx.out and not m.date.startswith("--"):
                ctx.set("dob", iso)
                ctx.set("birth_date", iso)
                continue
        if _START_CUE.search(before) or re.match(r"^\s*(?:起保|生效|开始)", after) or ctx.expecting == "start_date":
            if ctx.set("start_date", iso):
                continue
        if ctx.expecting == "incident_date" or _INCIDENT_CUE.search(norm) or (
                _CLAIM_CONTEXT is not None and _CLAIM_CONTEXT.search(norm)):
            ctx.set("incident_date", iso)
    if ctx.expecting in ("dob", "birth_date") and "dob" not in ctx.out:
        m2 = _COMPACT_DATE.search(norm)
        if m2:
            iso = f"{m2.group(1)}-{m2.group(2)}-{m2.group(3)}"
            ctx.set("dob", iso)
            ctx.set("birth_date", iso)
            ctx.consume(m2.start(), m2.end())
    elif "dob" not in ctx.out:
        m2 = _COMPACT_DATE.search(norm)
        if m2 and _DOB_CUE.search(norm[max(0, m2.start() - 10):m2.start()]):
            iso = f"{m2.group(1)}-{m2.group(2)}-{m2.group(3)}"
            ctx.set("dob", iso)
            ctx.set("birth_date", iso)
            ctx.consume(m2.start(), m2.end())
    if "incident_date" not in ctx.out and (ctx.expecting == "incident_date" or _INCIDENT_CUE.search(norm)
                                           or (_CLAIM_CONTEXT is not None and _CLAIM_CONTEXT.search(norm))):
        rel = _relative_date(ctx)
        if rel is not None:
            ctx.set("incident_date", rel.isoformat())


def _complete_md(today: dt.date, month: int, day: int) -> str | None:
    """A month-day without a year: this year, or last year when that would be in the future."""
    for year in (today.year, today.year - 1):
        try:
            d = dt.date(year, month, day)
        except ValueError:
            return None
        if d <= today:
            return d.isoformat()
    return None


def _small_int(raw: str | None) -> int | None:
    if not raw:
        return None
    words = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
             "eight": 8, "nine": 9, "ten": 10}
    if raw.lower() in words:
        return words[raw.lower()]
    v = parse_chinese_numeral(raw)
    return int(v) if v is not None else None


def _relative_date(ctx: _Ctx) -> dt.date | None:
    """The incident date a relative expression gives (昨天, 上周三, 3天前, last Monday, 5号)."""
    norm, today = ctx.norm, ctx.today
    found: list[tuple[int, dt.date, int, int]] = []
    for m in _REL_DAYS_RX.finditer(norm):
        offset = dict((k.lower(), v) for k, v in _REL_DAYS)[m.group().lower()]
        found.append((m.start(), today + dt.timedelta(days=offset), m.start(), m.end()))
    for m in _DAYS_AGO.finditer(norm):
        n = _small_int(m.group(1) or m.group(2))
        if n is not None:
            found.append((m.start(), today - dt.timedelta(days=n), m.start(), m.end()))
    for m in _WEEKS_AGO.finditer(norm):
        n = _small_int(m.group(1) or m.group(2))
        if n is not None:
            found.append((m.start(), today - dt.timedelta(weeks=n), m.start(), m.end()))
    weekdays_zh = {str(k): int(v) for k, v in (_LEX["numbers"]["weekdays"]).items()}
    for m in _WEEKDAY_ZH.finditer(norm):
        if m.start() > 0 and re.match(r"[\d一二两三四五六七八九十每]", norm[m.start() - 1]) and not m.group(1):
            continue     # 一周, 每周
        wd = weekdays_zh.get(m.group(2))
        if wd is None:
            continue
        found.append((m.start(), _weekday_date(today, wd, m.group(1) or ""), m.start(), m.end()))
    for m in _WEEKDAY_EN.finditer(norm):
        wd = _WEEKDAYS_EN[m.group(2)]
        which = (m.group(1) or "").lower()
        if which in ("last", "past"):       # English "last Monday": the most recent one before today
            d = today - dt.timedelta(days=(today.isoweekday() - wd) % 7 or 7)
        else:
            d = _weekday_date(today, wd, "这" if which == "this" else "")
        found.append((m.start(), d, m.start(), m.end()))
    for m in _MONTH_DAY_ZH.finditer(norm):
        if not ctx.free(m.start(2), m.end(2)) or (m.start() > 0 and norm[m.start() - 1] == "月" and not m.group(1)):
            continue
        day = _small_int(m.group(2))
        if day is None or not 1 <= day <= 31:
            continue
        which = m.group(1) or ""
        base = today.replace(day=1)
        if which in ("上个月", "上月"):
            base = (base - dt.timedelta(days=1)).replace(day=1)
        try:
            d = base.replace(day=day)
        except ValueError:
            continue
        if not which and d > today:
            prev = (base - dt.timedelta(days=1)).replace(day=1)
            try:
                d = prev.replace(day=day)
            except ValueError:
                continue
        found.append((m.start(), d, m.start(), m.end()))
    if not found:
        return None
    found.sort(key=lambda f: f[0])
    _, date, a, b = found[0]
    ctx.consume(a, b)
    return date


def _weekday_date(today: dt.date, weekday: int, which: str) -> dt.date:
    """The date of a weekday (1 = Monday): 上周X (last week), 上上周X, 这周/本周X, or plain X
    (the most recent one not after today)."""
    monday = today - dt.timedelta(days=today.isoweekday() - 1)
    if which == "上上":
        return monday - dt.timedelta(weeks=2) + dt.timedelta(days=weekday - 1)
    if which == "上":
        return monday - dt.timedelta(weeks=1) + dt.timedelta(days=weekday - 1)
    d = monday + dt.timedelta(days=weekday - 1)
    if which in ("这", "本"):
        return d
    return d if d <= today else d - dt.timedelta(weeks=1)


# =========================================================================== enums & bools


def _enums_and_bools(ctx: _Ctx, products: list[str]) -> None:
    norm = ctx.norm
    for slot, options in _ENUMS.items():
        if slot not in ("coverage_period",) and not ctx.context(slot, products):
            continue
        best: tuple[int, str, int, int] | None = None
        not_after = _ENUMS_NOT_AFTER.get(slot)
        for value, rx in options:
            for m in rx.finditer(norm):
                if not ctx.free(m.start(), m.end()):
                    continue
                if not_after is not None and not_after.search(norm[max(0, m.start() - 16):m.start()]):
                    continue
                if best is None or m.start() < best[0]:
                    best = (m.start(), value, m.start(), m.end())
                break
        if best is not None:
            ctx.set(slot, best[1])
            ctx.consume(best[2], best[3])
    for slot, (false_rx, true_rx) in _BOOLS.items():
        if not ctx.context(slot, products) and slot not in ("social_insurance", "renewal", "on_insulin"):
            continue
        mf = next((m for m in false_rx.finditer(norm) if ctx.free(m.start(), m.end())), None)
        if mf is not None:
            ctx.set(slot, False)
            ctx.consume(mf.start(), mf.end())
            continue
        mt = next((m for m in true_rx.finditer(norm) if ctx.free(m.start(), m.end())), None)
        if mt is not None:
            ctx.set(slot, True)
            ctx.consume(mt.start(), mt.end())
    for slot, options in _FIXED.items():
        if not ctx.context(slot, products):
            continue
        for value, rx in options:
            m = rx.search(norm)
            if m and ctx.free(m.start(), m.end()):
                ctx.set(slot, value)
                ctx.consume(m.start(), m.end())
                break
    if _BUILT_YEAR is not None and ctx.context("building_age_years", products):
        m = _BUILT_YEAR.search(norm)
        if m:
            year = int(next(g for g in m.groups() if g))
            if 1800 <= year <= ctx.today.year:
                ctx.set("building_age_years", ctx.today.year - year)
                ctx.consume(m.start(), m.end())


# =========================================================================== person


def _person(ctx: _Ctx) -> None:
    norm = ctx.norm
    blocked = [(m.start(), m.end()) for m in _GENDER_BLOCK.finditer(norm)]

    def gender_hits(rx: re.Pattern[str]) -> list[re.Match[str]]:
        return [m for m in rx.finditer(norm)
                if not any(a <= m.start() < b for a, b in blocked) and ctx.free(m.start(), m.end())]

    males, females = gender_hits(_GENDER_M), gender_hits(_GENDER_F)
    if males and not females:
        ctx.set("gender", "M")
    elif females and not males:
        ctx.set("gender", "F")
    elif males and females and ctx.expecting == "gender":
        ctx.set("gender", "M" if males[0].start() < females[0].start() else "F")
    if "gender" not in ctx.out and _INSURED_F is not None and _INSURED_M is not None:
        rel_f, rel_m = _INSURED_F.search(norm), _INSURED_M.search(norm)
        if rel_f and not rel_m:
            ctx.set("gender", "F")
        elif rel_m and not rel_f:
            ctx.set("gender", "M")
    neg = next((m for m in _SMOKER_FALSE.finditer(norm) if ctx.free(m.start(), m.end())), None)
    if neg is not None:
        ctx.set("smoker", False)
        ctx.consume(neg.start(), neg.end())
    else:
        pos = next((m for m in _SMOKER_TRUE.finditer(norm) if ctx.free(m.start(), m.end())), None)
        if pos is not None:
            ctx.set("smoker", True)
    _name(ctx)


def _name(ctx: _Ctx) -> None:
    text, norm = ctx.text, ctx.norm
    for m in _ZH_NAME_CUE.finditer(norm):
        run = re.match(r"[\u4e00-\u9fff·]{1,8}", text[m.end():])
        if not run:
            continue
        cand = run.group()
        for stop in _ZH_NAME_STOP:
            at = cand.find(stop, 1)
            if at > 0:
                cand = cand[:at]
        cand = cand[:4] if "·" not in cand else cand
        cue = m.group().strip()
        if len(cand) < 2 or cand in _ZH_NOT_NAMES or _OCC_WORDS_RX.match(cand):
            continue
        if cue.startswith("我是") and cand[0] not in _SURNAMES:
            continue
        ctx.set("name", cand)
        return
    for m in _EN_NAME_CUE.finditer(norm):
        cue = m.group().strip()
        strict = not re.match(r"(?:my\s+name|name|full\s+name)", cue)
        seq = re.match(r"\s*([A-Za-z][A-Za-z'\-]*(?:\s+[A-Za-z][A-Za-z'\-]*){0,3})", text[m.end():])
        if not seq:
            continue
        words = seq.group(1).split()
        name: list[str] = []
        for w in words:
            if w.lower() in _EN_NOT_NAMES or w.lower() in ("and", "my", "id", "dob", "born", "last", "policy", "is",
                                                            "the", "from", "with", "here", "but", "so", "i"):
                break
            if strict and not w[0].isupper():
                break
            name.append(w)
            if len(name) == 3:
                break
        if (strict and len(name) >= 2) or (not strict and name):
            ctx.set("name", " ".join(w[0].upper() + w[1:] for w in name))
            return
    if ctx.expecting == "name":
        bare = re.sub(r"^\s*(?:我叫|是|叫|姓名|名字)?\s*|[\s。.!！,，]*$", "", text)
        if re.fullmatch(r"[\u4e00-\u9fff·]{2,5}", bare) and bare not in _ZH_NOT_NAMES:
            ctx.set("name", bare)
        elif re.fullmatch(r"[A-Za-z][A-Za-z'\-]*(?:\s+[A-Za-z][A-Za-z'\-]*){1,2}", bare):
            ctx.set("name", " ".join(w[0].upper() + w[1:] for w in bare.split()))


# =========================================================================== occupation


def _occupation(ctx: _Ctx) -> None:
    norm = ctx.norm
    for m in _OCC_CLASS.finditer(norm):
        raw = next((g for g in m.groups() if g), None)
        v = _small_int(raw)
        if v is not None and 1 <= v <= 6:
            ctx.set("occupation_class", v)
            ctx.consume(m.start(), m.end())
            return
    if ctx.expecting == "occupation_class":
        m = re.match(r"^\s*(?:第|class\s*)?([1-6一二三四五六])\s*(?:类|级)?\s*[。.!！]?\s*$", norm)
        if m:
            ctx.set("occupation_class", _small_int(m.group(1)))
            ctx.consume(m.start(1), m.end(1))
            return
    for m in _OCC_WORDS_RX.finditer(norm):
        if not ctx.free(m.start(), m.end()):
            continue
        word = m.group().lower()
        key = word if word in _OCC_WORDS else word[:-1]
        if key not in _OCC_WORDS:
            continue
        has_cue = bool(_OCC_SELF.search(norm[max(0, m.start() - 14):m.start()]))
        if key in _OCC_NEEDS_CUE and not has_cue and ctx.expecting != "occupation_class":
            continue
        ctx.set("occupation_class", _OCC_WORDS[key])
        return


# =========================================================================== UBI indicators & home sensors


def _near_number(ctx: _Ctx, a: int, b: int, units: Iterable[str | None], window: int = 14) -> int | None:
    """Index of the free mention nearest a cue at [a, b): after it (within ``window``), else
    just before it (within 8 characters), with one of ``units``."""
    units = list(units)
    best: tuple[int, int] | None = None
    for i, m in enumerate(ctx.mentions):
        if i in ctx.used or m.unit not in units:
            continue
        if m.start >= b and m.start - b <= window and not _CLAUSE_BREAK.search(ctx.norm[b:m.start]):
            d = m.start - b
        elif m.end <= a and a - m.end <= 8 and not _CLAUSE_BREAK.search(ctx.norm[m.end:a]):
            d = a - m.end + 1
        else:
            continue
        if best is None or d < best[0]:
            best = (d, i)
    return best[1] if best else None


def _indicators(ctx: _Ctx, products: list[str]) -> None:
    if not ctx.context("driving_indicators", products):
        return
    units = {"per100": ("times", "count", None), "pct": ("%", None), "km": ("km", None)}
    found: dict[str, Decimal] = {}
    for key, rx in _INDICATORS.items():
        for m in rx.finditer(ctx.norm):
            if not ctx.free(m.start(), m.end()):
                continue
            i = _near_number(ctx, m.start(), m.end(), units[_INDICATOR_KIND[key]])
            if i is None:
                continue
            found[key] = ctx.mentions[i].value
            ctx.used.add(i)
            ctx.consume(m.start(), m.end())
            break
    if found:
        ctx.out["driving_indicators"] = found


def _sensors(ctx: _Ctx, products: list[str]) -> None:
    norm = ctx.norm
    found: dict[str, bool] = {}
    if _SENSOR_ALL is not None and _SENSOR_ALL.search(norm):
        neg = re.search(r"都没|都不|none|no\s+sensors", norm)
        found = {k: not neg for k in _SENSOR_RX}
    # (sensor, start, end, where a negation before it is looked for, where the phrase ends)
    hits: list[tuple[str, int, int, int, int]] = [
        (k, m.start(), m.end(), m.start(), m.end()) for k, rx in _SENSOR_RX.items() for m in rx.finditer(norm)]
    if _SENSOR_LIST is not None and _SENSOR_WORD is not None:
        # "water leak, smoke and gas sensors", 漏水、烟雾和燃气报警器: one noun for the list
        for lm in _SENSOR_LIST.finditer(norm):
            a, b = lm.span("items")
            hits = [(h[0], h[1], h[2], a, max(h[4], lm.end())) if a <= h[1] < lm.end() else h for h in hits]
            for wm in _SENSOR_WORD.finditer(norm, a, b):
                key = wm.lastgroup
                if key and not any(h[1] < wm.end() and wm.start() < h[2] for h in hits):
                    hits.append((key, wm.start(), wm.end(), a, lm.end()))
    clauses = [(m.start(), m.end()) for m in re.finditer(r"[^，,。；;!！?？\n]+", norm)]
    for a, b in clauses:
        seg_hits = [h for h in hits if a <= h[1] < b]
        if not seg_hits:
            continue
        last_end = max(h[4] for h in seg_hits)
        tail = norm[last_end:b] if last_end <= b else norm[last_end:]
        tail = tail[:next((m.start() for m in re.finditer(r"[，,。；;!！?？\n]", tail)), len(tail))]
        neg_after = bool(_SENSOR_NEG_AFTER.match(tail))
        for key, start, end, anchor, _ in seg_hits:
            neg_before = bool(_SENSOR_NEG_BEFORE.search(norm[max(0, anchor - 16):anchor]))
            found[key] = not (neg_before or neg_after)
            ctx.consume(start, end)
    if found:
        ctx.out["sensors"] = found


# =========================================================================== numeric slots


_PERIOD_UNITS = ("year", "month", "week", "day")
_NUM_PREFIX = re.compile(r"[¥￥$]?\s*[\d.,零〇一二两三四五六七八九十百千万亿壹贰叁肆伍陆柒捌玖拾佰仟萬億]+(?:\s*(?:k|m|w|million|thousand)(?![a-z]))?")
_CLAUSE_EDGE = re.compile(r"[，,;；。!！?？\n]")


def _compatible(slot: str, m: NumberMention) -> bool:
    spec = _SLOTS[slot]
    if m.unit not in spec["units"]:
        return False
    v = m.value
    if spec["kind"] == "int" and v != v.to_integral_value():
        return False
    rng = spec.get("range")
    if rng and not (Decimal(str(rng[0])) <= v <= Decimal(str(rng[1]))):
        return False
    if spec["kind"] == "money" and v <= 0:
        return False
    values = spec.get("values")
    if values and int(v) not in values:
        return False
    return True


def _cue_matches(ctx: _Ctx) -> list[tuple[str, int, int]]:
    cues: list[tuple[str, int, int]] = []
    for slot, spec in _SLOTS.items():
        rx = spec["before"]
        if rx is None:
            continue
        for m in rx.finditer(ctx.norm):
            end = m.start() + len(m.group().rstrip())
            if end > m.start():
                cues.append((slot, m.start(), end))
    # a cue inside a longer cue of another slot is not a cue (免赔额度 is not 额度)
    keep = []
    for c in cues:
        if not any(o is not c and o[0] != c[0] and o[1] <= c[1] and c[2] <= o[2] and (o[2] - o[1]) > (c[2] - c[1])
                   for o in cues):
            keep.append(c)
    return keep


def _assign(ctx: _Ctx, slot: str, i: int, products: list[str]) -> bool:
    m = ctx.mentions[i]
    if slot in ctx.out:
        return False
    value: Any = m.value
    spec = _SLOTS[slot]
    if slot == "height_cm" and value < 3:
        value = value * 100
    if slot in ("age", "driver_age") and m.unit != "age" and not spec["range"][0] <= value <= spec["range"][1]:
        return False
    if spec["monthly"]:
        if _MONTHLY.search(_clause_of(ctx.norm, m.start, m.end)):
            value = value * 12
            ctx.notes.append(f"{slot}: monthly {_fmt(m.value)} x 12 = {_fmt(value)}")
    if spec["kind"] == "int":
        value = int(value)
    elif slot == "weight_kg" or slot == "height_cm" or spec["kind"] == "number":
        value = Decimal(value)
    ctx.out[slot] = value
    ctx.used.add(i)
    return True


def _clause_of(norm: str, a: int, b: int) -> str:
    """The clause (between commas and sentence marks) holding [a, b)."""
    left = max((m.end() for m in _CLAUSE_EDGE.finditer(norm, 0, a)), default=0)
    right = next((m.start() for m in _CLAUSE_EDGE.finditer(norm, b)), len(norm))
    return norm[left:right]


def _fmt(d: Decimal) -> str:
    return str(int(d)) if d == d.to_integral_value() else str(d)


def _numeric_slots(ctx: _Ctx, products: list[str]) -> None:
    norm = ctx.norm
    cues = _cue_matches(ctx)
    free = [i for i, m in enumerate(ctx.mentions) if i not in ctx.used and ctx.free(m.start, m.end)]
    age_mentions: list[int] = []
    for i in free:
        m = ctx.mentions[i]
        if m.unit in ("ordinal", "date", "time", "weekday"):
            continue
        cands: list[tuple[float, str]] = []
        for slot, a, b in cues:
            if b > m.start:
                continue
            gap = norm[b:m.start]
            if len(gap) > 12 or _CLAUSE_BREAK.search(gap):
                continue
            if any(j != i and b <= o.start < m.start for j, o in enumerate(ctx.mentions)
                   if o.unit != "date" and not (o.unit in _PERIOD_UNITS and o.value == 1)):
                continue
            if not ctx.free(a, b) and slot not in ("age",):
                continue
            cands.append((len(gap.strip()), slot))
        for a, b, pid in ctx.product_spans:      # 重疾50万, term life 1 million, 300k critical illness
            if "sum_insured" not in product_param_names(pid) or m.unit not in ("yuan", None):
                continue
            gap = norm[b:m.start] if b <= m.start else norm[m.end:a] if m.end <= a else None
            if gap is not None and len(gap) <= 4 and not _CLAUSE_BREAK.search(gap) and re.fullmatch(r"[\s的]*|[\s的]*[a-z]{0,3}\s*", gap):
                cands.append((len(gap.strip()) + 0.25, "sum_insured"))
        rest = norm[m.end:m.end + 30]
        num = _NUM_PREFIX.match(norm, m.start)
        rest2 = norm[num.end():m.end + 30] if num and num.end() < m.end else rest
        for slot, spec in _SLOTS.items():
            rx = spec["after"]
            if rx is not None and (rx.match(rest) or rx.match(rest2)):
                cands.append((0.5, slot))
        cands = [c for c in cands if _compatible(c[1], m) and _slot_allowed(ctx, c[1], products)]
        cands.sort(key=lambda c: c[0])
        slot = next((s for _, s in cands if s not in ctx.out), None)
        if slot in ("age", "driver_age"):
            age_mentions.append(i)
            ctx.used.add(i)
            continue
        if slot is not None:
            _assign(ctx, slot, i, products)
            continue
        unit_slot = _UNIT_SLOTS.get(m.unit or "")
        if unit_slot == "age":
            age_mentions.append(i)
            ctx.used.add(i)
            continue
        if unit_slot and _compatible_loose(unit_slot, m) and unit_slot not in ctx.out:
            _assign(ctx, unit_slot, i, products)
            continue
        if m.unit == "year" and m.value in (10, 20, 30):
            if "TL-300" in products and "CI-200" not in products:
                _assign(ctx, "term_years", i, products)
            elif "CI-200" in products and "TL-300" not in products:
                _assign(ctx, "payment_term", i, products)
    _ages(ctx, age_mentions, products)


def _remap_amount(ctx: _Ctx, products: list[str]) -> None:
    """保额 for a product rated on a monthly benefit (长期护理险 保额5000) is that benefit."""
    if "sum_insured" not in ctx.out or "monthly_benefit" in ctx.out or not products:
        return
    if any("sum_insured" in product_param_names(p) for p in products):
        return
    if any("monthly_benefit" in product_param_names(p) for p in products):
        ctx.out["monthly_benefit"] = ctx.out.pop("sum_insured")


def _compatible_loose(slot: str, m: NumberMention) -> bool:
    v = m.value
    if slot == "height_cm":
        return Decimal(50) <= v <= Decimal(250)
    if slot == "weight_kg":
        return Decimal(2) <= v <= Decimal(300)
    if slot == "seats":
        return Decimal(1) <= v <= Decimal(60) and v == v.to_integral_value()
    return True


def _slot_allowed(ctx: _Ctx, slot: str, products: list[str]) -> bool:
    """A quote slot tied to one line of business needs that context (or no conflicting product)."""
    if slot in _CONTEXT_OF and slot not in ("seats",):
        return ctx.context(slot, products)
    return True


def _ages(ctx: _Ctx, idx: list[int], products: list[str]) -> None:
    if not idx:
        return
    norm = ctx.norm
    if ctx.context("building_age_years", products) and ("HOME-700" in products or _HOME_WORDS.search(norm)):
        for i in list(idx):
            m = ctx.mentions[i]
            if "old" in m.raw.lower() and not _AGE_SELF.search(norm[max(0, m.start - 6):m.start]) \
                    and "building_age_years" not in ctx.out:
                ctx.out["building_age_years"] = int(m.value)
                idx.remove(i)
        if not idx:
            return
    chosen: int | None = None
    driver: int | None = None
    for i in idx:
        m = ctx.mentions[i]
        before = norm[max(0, m.start - 10):m.start]
        if _SLOTS["driver_age"]["before"].search(before):
            driver = driver if driver is not None else i
            continue
        if chosen is None:
            chosen = i
        elif _AGE_SELF.search(before[-6:]) and not _AGE_SELF.search(
                norm[max(0, ctx.mentions[chosen].start - 6):ctx.mentions[chosen].start]):
            chosen = i
    if chosen is not None and len(idx) > 1:
        m = ctx.mentions[chosen]
        before = norm[max(0, m.start - 6):m.start]
        if _AGE_RELATIVES.search(before) and not _AGE_SELF.search(before):
            others = [i for i in idx if i != chosen and i != driver]
            chosen = others[0] if others else chosen
    if chosen is not None:
        ctx.set("age", int(ctx.mentions[chosen].value))
    if driver is not None:
        ctx.set("driver_age", int(ctx.mentions[driver].value))
    elif chosen is not None and ("UBI-600" in products or ctx.expecting == "driver_age" or (
            not products and any(k in ctx.out for k in _MOTOR_SLOTS))):
        ctx.set("driver_age", int(ctx.mentions[chosen].value))


_HOME_WORDS = re.compile(r"\b(?:house|flat|apartment|building|home)\b", _F)
_MOTOR_SLOTS = ("vehicle_value", "tpl_limit", "in_vehicle_per_seat", "at_fault_claims_3y", "driving_score",
                "driving_indicators")


# =========================================================================== needs


def _needs(ctx: _Ctx, products: list[str]) -> None:
    norm = ctx.norm
    # dependents
    total_m = next((m for m in _DEP_TOTAL.finditer(norm) if ctx.free(m.start(), m.end())), None) \
        if _DEP_TOTAL is not None else None
    total_n = _small_int(next((g for g in total_m.groups() if g), None)) if total_m else None
    if total_n is not None and 0 < total_n <= 50:
        ctx.set("dependents", total_n)
        ctx.consume(total_m.start(), total_m.end())
    elif _DEP_ZERO.search(norm):
        ctx.set("dependents", 0)
    elif _claimish(ctx) or (("policy_number" in ctx.out or "claim_id" in ctx.out) and "incident_date" in ctx.out):
        pass                              # "my daughter was in hospital": a claim, not a needs analysis
    else:
        total = 0
        counted_spans: list[tuple[int, int]] = []
        explicit = False
        for m in _FAMILY_OF.finditer(norm):
            n = _small_int(next(g for g in m.groups() if g))
            if n:
                ctx.set("dependents", max(0, n - 1))
                ctx.consume(m.start(), m.end())
                break
        if "dependents" not in ctx.out:
            for m in _FAMILY_COUNTED.finditer(norm):
                if _BUY_FOR.search(norm[max(0, m.start() - 6):m.start()]):
                    continue
                n = _small_int(m.group(1).lower() if m.group(1).isascii() else m.group(1))
                if n is None and m.group(1).lower() in ("a", "an"):
                    n = 1
                if n:
                    total += n
                    explicit = True
                    counted_spans.append((m.start(), m.end()))
                    ctx.consume(m.start(), m.end())
            cue = bool(_DEP_CUES.search(norm)) or explicit or ctx.expecting == "dependents"
            seen_single: set[str] = set()
            if cue:
                for m in _FAMILY_SINGLE_RX.finditer(norm):
                    if any(a <= m.start() < b for a, b in counted_spans):
                        continue
                    if _BUY_FOR.search(norm[max(0, m.start() - 6):m.start()]):
                        continue
                    word = m.group().lower()
                    key = word if word in _FAMILY_SINGLE else word.rstrip("s")
                    if key in ("kid", "child", "baby", "son", "daughter") and word.endswith("s"):
                        continue          # "kids" without a count
                    if key in seen_single or (key in _CHILD_WORDS and counted_spans):
                        continue          # 老婆…老婆孩子: the same person named twice
                    seen_single.add(key)
                    total += _FAMILY_SINGLE.get(key, 0)
                    explicit = True
            if explicit and total:
                ctx.set("dependents", min(total, 50))
    # existing policies
    existing: list[str] = []
    held_spans: list[tuple[int, int]] = []
    for m in _EXISTING_CUE.finditer(norm):
        end = m.end()
        brk = re.search(r"[。；;!！?？\n，,]|\.(?=\s|$)|\s*(?:但是?|不过|还想|想|but|and\s+(?:i|want)|want)", norm[end:])
        seg_end = end + (brk.start() if brk else len(norm) - end)
        held_spans.append((end, seg_end))
        items: list[tuple[int, str]] = []
        seg = ctx.text[end:seg_end]
        sub = _Ctx(seg, None, ctx.today)
        for pid in _products(sub):
            at = min(a for a, _, p in sub.product_spans if p == pid)
            items.append((at, pid))
        for k in _EXISTING_KINDS_RX.finditer(sub.norm):
            items.append((k.start(), _EXISTING_KINDS.get(k.group().lower(), k.group())))
        for pm in _POLICY.finditer(sub.norm):
            items.append((pm.start(), f"XH-{pm.group(1).upper()}{pm.group(2)}-{pm.group(3)}-{pm.group(4)}"))
        for _, item in sorted(items):
            if item not in existing:
                existing.append(item)
    if existing:
        ctx.out["existing_policies"] = existing
    # goals
    advice = not products or bool(existing) or bool(_ADVICE_CUE.search(norm))
    if (_GOAL_CUE.search(norm) and advice and not _claimish(ctx)) or ctx.expecting == "goals":
        goals: list[str] = []
        for rx in _GOALS:
            m = next((g for g in rx.finditer(norm)
                      if not any(a <= g.start() < b for a, b in held_spans)), None)
            if m and m.group().strip():
                phrase = ctx.text[m.start():m.end()].strip()
                if phrase and phrase not in goals:
                    goals.append(phrase)
        if not goals and ctx.expecting == "goals" and len(ctx.text.strip()) <= 40:
            goals = [ctx.text.strip()]
        if goals:
            ctx.out["goals"] = goals


# =========================================================================== yes / no


def _confirmation(ctx: _Ctx) -> None:
    norm = ctx.norm.strip()
    if not norm or len(norm) > 40:
        return
    if _NO_FULL.match(norm):
        ctx.out["yes"] = False
    elif _YES_FULL.match(norm):
        ctx.out["yes"] = True
    elif _NO_LEAD.match(norm) and len(norm) <= 24:
        ctx.out["yes"] = False
    elif _YES_LEAD.match(norm) and len(norm) <= 24:
        ctx.out["yes"] = True


# =========================================================================== expecting


def _expected(ctx: _Ctx, products: list[str]) -> None:
    slot = ctx.expecting
    if not slot or slot in ctx.out and ctx.out.get(slot) not in (None, [], {}):
        return
    norm = ctx.norm
    if slot in _BOOLS or slot == "smoker":
        if ctx.out.get("yes") is not None:
            ctx.set(slot, ctx.out["yes"])
        elif _EXPECT_NO.match(norm):
            ctx.set(slot, False)
        elif _EXPECT_YES.match(norm):
            ctx.set(slot, True)
        return
    if slot in _ENUMS_ASKED:
        for value, rx in _ENUMS_ASKED[slot]:
            if rx.search(norm):
                ctx.set(slot, value)
                return
    if slot == "region_tier":
        m = re.match(r"^\s*([abc])\s*(?:类|级|区)?\s*[。.!！]?\s*$", norm)
        if m:
            ctx.set(slot, m.group(1).upper())
        return
    if slot == "dependents":
        if _EXPECT_NO.match(norm):
            ctx.set(slot, 0)
            return
        for i, m in enumerate(ctx.mentions):
            if i not in ctx.used and m.unit in (None, "count") and m.value == m.value.to_integral_value() \
                    and 0 <= m.value <= 50:
                ctx.set(slot, int(m.value))
                ctx.used.add(i)
                return
        return
    if slot in ("incident_date", "dob", "birth_date", "start_date", "name", "id_last4"):
        return   # handled where they are read
    if slot in ("description",):
        if len(ctx.text.strip()) > 0:
            ctx.set("description", ctx.text.strip()[:4000])
        return
    if slot in _SLOTS:
        for i, m in enumerate(ctx.mentions):
            if i in ctx.used or not ctx.free(m.start, m.end) or m.unit in ("ordinal", "date", "time", "weekday"):
                continue
            if _compatible(slot, m) or (slot in _UNIT_SLOTS.values() and m.unit is None
                                        and _compatible_loose(slot, m)):
                if _assign(ctx, slot, i, products):
                    return


# =========================================================================== claims


def _claimish(ctx: _Ctx) -> bool:
    text = _CLAIM_HISTORY.sub(" ", ctx.norm) if _CLAIM_HISTORY is not None else ctx.norm
    return bool(_CLAIM_CONTEXT.search(text)) or ctx.expecting in (
        "claim_type", "description", "amount", "incident_date") or "claim_id" in ctx.out


def _claim(ctx: _Ctx, products: list[str]) -> None:
    norm = ctx.norm
    claimish = _claimish(ctx)
    incident = bool(_INCIDENT_CUE.search(norm))
    if not incident and ctx.expecting != "claim_type":
        return
    if not (claimish or "policy_number" in ctx.out or "incident_date" in ctx.out):
        return
    product = None
    pn = ctx.out.get("policy_number")
    if pn:
        key = pn.split("-")[1].lower()
        product = _PRODUCT_BY_KEY.get(key)
    if product is None and len(products) == 1:
        product = products[0]
    codes = set(_coverage_codes(product)) if product else None
    for rx, options in _CLAIM_TYPES:
        if not rx.search(norm):
            continue
        pick = next((c for c in options if codes is None or c in codes), None)
        if pick:
            ctx.set("claim_type", pick)
            break
    if ctx.expecting == "amount" and "amount" not in ctx.out:
        for i, m in enumerate(ctx.mentions):
            if i not in ctx.used and m.unit in ("yuan", None) and m.value > 0:
                _assign(ctx, "amount", i, products)
                break
    if incident and (claimish or "claim_type" in ctx.out):
        ctx.set("description", ctx.text.strip()[:4000])


# =========================================================================== corrections


def _correction(ctx: _Ctx) -> None:
    """"it was 3,500, not 2,500" / "是3500不是2500": the first amount replaces the second;
    it is the claim amount unless a slot took it, and the rejected one is no amount."""
    if _CORRECTION is None:
        return
    for m in _CORRECTION.finditer(ctx.norm):
        new_at = m.start("new") if m.group("new") else m.start("new2")
        old_at = m.start("old") if m.group("old") else m.start("old2")
        new_i = next((i for i, n in enumerate(ctx.mentions) if n.start == new_at), None)
        old_i = next((i for i, n in enumerate(ctx.mentions) if n.start == old_at), None)
        if new_i is None or old_i is None:
            continue
        new, old = ctx.mentions[new_i], ctx.mentions[old_i]
        if new.unit not in ("yuan", None) or old.unit not in ("yuan", None):
            continue
        ctx.used.add(old_i)
        if new_i not in ctx.used and "amount" not in ctx.out:
            ctx.out["amount"] = new.value        # left among the amounts too (a bare 50万 for a quote)
        return


# =========================================================================== amounts


def _amounts(ctx: _Ctx) -> None:
    out: list[Decimal] = []
    for i, m in enumerate(ctx.mentions):
        if i in ctx.used or not ctx.free(m.start, m.end):
            continue
        if m.unit == "yuan" or (m.unit is None and (m.scaled or m.value >= 100)):
            out.append(m.value)
    if out:
        ctx.out["amounts"] = out

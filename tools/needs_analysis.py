"""Needs analysis and product recommendations: the engine behind the ``recommend`` tool.

``recommend(age, gender, income, dependents, existing_policies, budget, goals, **extra)``
looks at a person's situation, finds the protection needs they have not covered
yet (``coverage_gaps``), ranks them, and for each need proposes the catalog product
that covers it with a real quote from :func:`anxin.tools.pricing.quote`.

How it decides (all deterministic, all stated in the result):

* **Needs.** Ten needs, one product each (medical → MED-100, accident → ACC-110,
  critical illness → CI-200, life → TL-300, long-term care → LTC-500, motor →
  UBI-600, home → HOME-700, travel → FLT-800, online shopping → RSI-900,
  diabetes → DM-400). Medical, accident and critical illness apply to everyone;
  life applies with dependents; long-term care from age 40; the others only when
  a goal asks for them (or their pricing facts are supplied as extra inputs).
  Age, income, dependents and goals change each need's ``score`` (0–100), and
  the score orders the needs. They never change a price.
* **Held products.** ``existing_policies`` entries (product ids, policy numbers,
  product names or types in zh/en: "MED-100", "百万医疗", "critical illness") are
  matched to catalog products. A held product is not recommended again; its need
  counts as covered and it is listed in ``already_held``.
* **Quotes.** Each recommendation is priced by ``quote()`` with only the inputs the
  product's pricing uses: age (``driver_age`` for UBI-600), gender where the
  product rates on it, a sum insured chosen from the product's own grid by a
  stated rule, and the catalog defaults for everything else. Health facts
  (smoker, BMI, HbA1c...) are passed only when the caller gave them. The exact
  inputs are returned in ``quote_params``, so ``quote(product_id, quote_params)``
  reproduces the premium. A quote that rests on an assumed non-health input
  (occupation class, no driving data, default property details) is marked
  ``indicative``. Products that need an input nobody gave (a vehicle value, a
  building age, an income to size life cover) are not quoted but listed in
  ``not_quoted`` with the missing inputs.
* **Sizing rules** (rules of thumb, stated in the reasons): term life = 10 × annual
  income, rounded down to a multiple of 100,000 within 100,000–3,000,000;
  critical illness = 3 × annual income, rounded down to the CI-200 grid
  (300,000 without an income; at most 500,000 under 18); accident = 5 × annual
  income, rounded down to the ACC-110 grid (300,000 without an income);
  long-term care = 3,000 a month (the middle option).
* **Eligibility.** Age windows (``rating.age_limits.new_business`` or the
  eligibility ranges), occupation classes and the quote's own eligibility
  errors put a product in ``ineligible`` with the error code.
* **Budget.** ``budget`` is an annual amount in CNY. Recommendations are taken
  in priority order while the annual premiums fit; one that does not fit is
  moved to ``dropped_for_budget`` and ``budget_fit`` says so.
* **Genetic data.** Extra keys that are genetic (``general.genetic_data_policy``)
  and goals that mention genetic tests are refused: left out, listed in
  ``refused_inputs``, with the filing's notice; the rest of the result is the
  same as without them. Any other unknown extra key is ``INVALID_PARAM``.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from anxin.knowledge.filing import product as catalog_product
from anxin.knowledge.filing import product_aliases, product_section_ids
from anxin.knowledge.filing import products as catalog_products
from anxin.tools.errors import ToolError
from anxin.tools.pricing import quote
from anxin.tools.pricing_coerce import age_last_birthday, bad_value, coerce_int, coerce_number, parse_date
from anxin.tools.pricing_inputs import as_of_date, genetic_notice, is_genetic_key
from anxin.tools.pricing_models import Notice

__all__ = [
    "recommend", "RecommendationResult", "Recommendation", "CoverageGap", "NotQuoted", "Ineligible",
    "HeldProduct", "BudgetFit", "Reason", "Sizing", "Bilingual", "BreakdownLine", "NEEDS", "ACCEPTED_EXTRAS",
]

# =========================================================================== result models


class Bilingual(BaseModel):
    """A short text in both languages."""

    zh: str
    en: str


class Reason(BaseModel):
    """One reason for a recommendation (or a gap, an ineligibility...), with the clause ids it rests on."""

    zh: str
    en: str
    clause_ids: list[str] = Field(default_factory=list)


class Sizing(BaseModel):
    """How an amount of cover was chosen: the rule, its target and the grid value used."""

    param: str
    value: int
    target: float | None = None
    rule_zh: str
    rule_en: str


class BreakdownLine(BaseModel):
    """One step of the quote's breakdown, as the arithmetic written out."""

    step: str
    basis: str
    subtotal: float


class CoverageGap(BaseModel):
    """A protection need the person has not covered, ranked.

    ``status`` says what became of it: ``recommended`` (a quoted product is in
    ``recommendations``), ``dropped_for_budget``, ``not_quoted`` (inputs missing),
    ``ineligible`` (no catalog product can be bought for it).
    """

    need: str
    rank: int
    priority: Literal["high", "medium", "low"]
    score: int
    zh: str
    en: str
    why_zh: str
    why_en: str
    product_id: str
    status: Literal["recommended", "dropped_for_budget", "not_quoted", "ineligible"]
    from_goals: list[str] = Field(default_factory=list)
    sizing: list[Sizing] = Field(default_factory=list)
    clause_ids: list[str] = Field(default_factory=list)


class Recommendation(BaseModel):
    """A recommended product with its quote.

    ``quote_params`` are exactly the inputs given to ``quote()``; ``premium``,
    ``breakdown_summary`` and ``quote_notices`` come from that quote.
    ``indicative`` is true when the price rests on an assumed non-health input
    (see ``indicative_reasons``); ``subject_to_underwriting`` when the product is
    health-underwritten (standard rates assumed until the health declaration).
    """

    rank: int
    product_id: str
    product_name: dict[str, str]
    need: str
    priority: Literal["high", "medium", "low"]
    score: int
    reasons: list[Reason]
    clause_ids: list[str]
    sizing: list[Sizing] = Field(default_factory=list)
    quote_params: dict[str, Any]
    premium: float
    currency: str = "CNY"
    premium_frequency: Literal["annual", "single"]
    payment_years: int | None = None
    breakdown_summary: list[BreakdownLine]
    quote_notices: list[Notice] = Field(default_factory=list)
    indicative: bool = False
    indicative_reasons: list[Bilingual] = Field(default_factory=list)
    subject_to_underwriting: bool = False


class NotQuoted(BaseModel):
    """A product that would meet a need but cannot be quoted from the inputs given."""

    product_id: str
    product_name: dict[str, str]
    need: str
    priority: Literal["high", "medium", "low"]
    score: int
    missing_inputs: list[str]
    zh: str
    en: str
    reasons: list[Reason] = Field(default_factory=list)
    clause_ids: list[str] = Field(default_factory=list)


class Ineligible(BaseModel):
    """A product the person cannot buy, with the eligibility error code."""

    product_id: str
    product_name: dict[str, str]
    need: str
    code: str
    zh: str
    en: str
    clause_ids: list[str] = Field(default_factory=list)


class HeldProduct(BaseModel):
    """A catalog product the person already holds (from ``existing_policies``)."""

    product_id: str
    product_name: dict[str, str]
    matched_from: str
    need: str
    zh: str
    en: str
    clause_ids: list[str] = Field(default_factory=list)


class BudgetFit(BaseModel):
    """Annual premiums of the recommendations against the budget."""

    budget: float | None = None
    currency: str = "CNY"
    total_premium: float
    total_before_budget: float
    within_budget: bool | None = None
    dropped: list[str] = Field(default_factory=list)
    not_counted: list[str] = Field(default_factory=list)
    zh: str
    en: str


class RecommendationResult(BaseModel):
    """The answer of :func:`recommend`."""

    profile: dict[str, Any]
    coverage_gaps: list[CoverageGap]
    recommendations: list[Recommendation]
    dropped_for_budget: list[Recommendation] = Field(default_factory=list)
    not_quoted: list[NotQuoted] = Field(default_factory=list)
    ineligible: list[Ineligible] = Field(default_factory=list)
    already_held: list[HeldProduct] = Field(default_factory=list)
    budget_fit: BudgetFit
    assumptions: list[Bilingual]
    notices: list[Notice] = Field(default_factory=list)
    refused_inputs: list[str] = Field(default_factory=list)
    currency: str = "CNY"


# =========================================================================== needs


@dataclass(frozen=True)
class NeedSpec:
    """One protection need, the product that covers it and the words that name it."""

    id: str
    product_id: str
    zh: str
    en: str
    coverages: tuple[str, ...]          # coverage codes cited for this need
    keywords_en: tuple[str, ...]
    keywords_zh: tuple[str, ...]
    base: bool = False                  # applies to everyone (score from profile)


NEEDS: tuple[NeedSpec, ...] = (
    NeedSpec("medical", "MED-100", "住院及大额医疗费用保障", "hospital and major medical expenses",
             ("GEN_MED", "CI_MED"),
             ("medical", "health", "hospital", "hospitalisation", "hospitalization", "inpatient", "surgery",
              "medical bills", "medical expenses", "doctor", "treatment"),
             ("医疗", "住院", "看病", "手术", "医药费", "健康险", "百万医疗"), base=True),
    NeedSpec("life", "TL-300", "家庭收入保障（身故/全残）", "family income protection (death / total disability)",
             ("DEATH_TPD",),
             ("life", "family", "family protection", "dependants", "dependents", "children", "child", "kids", "kid",
              "mortgage", "income protection", "spouse", "wife", "husband", "death", "term life", "breadwinner"),
             ("寿险", "身故", "家庭", "家人", "孩子", "子女", "小孩", "儿女", "房贷", "养家", "顶梁柱")),
    NeedSpec("critical_illness", "CI-200", "重大疾病收入补偿", "critical-illness lump sum (income replacement)",
             ("SEVERE_CI", "MODERATE_CI", "MILD_CI"),
             ("critical illness", "serious illness", "cancer", "heart attack", "stroke", "ci"),
             ("重疾", "重大疾病", "大病", "癌症", "恶性肿瘤", "中风", "心梗")),
    NeedSpec("accident", "ACC-110", "意外身故/伤残及意外医疗", "accidental death / disability and accident medical",
             ("ACC_DEATH_DISABILITY", "ACC_MEDICAL"),
             ("accident", "accidents", "accidental", "injury", "injuries", "disability", "sports", "commute",
              "commuting"),
             ("意外", "伤残", "受伤", "骨折"), base=True),
    NeedSpec("long_term_care", "LTC-500", "养老长期护理", "long-term care in old age",
             ("MONTHLY_CARE", "PREMIUM_WAIVER"),
             ("retirement", "retirement care", "long-term care", "long term care", "nursing", "elderly care",
              "elder care", "eldercare", "old age", "aged care", "ltc", "care home"),
             ("养老", "护理", "退休", "失能", "老年", "长护")),
    NeedSpec("motor", "UBI-600", "私家车车损及三者责任", "private car own damage and third-party liability",
             ("OWN_DAMAGE", "TPL", "IN_VEHICLE"),
             ("car", "cars", "vehicle", "vehicles", "motor", "auto", "driving", "drive", "driver", "ubi"),
             ("车", "驾驶", "开车")),
    NeedSpec("home", "HOME-700", "家庭财产（房屋/室内财产/居家责任）", "home property (building, contents, liability)",
             ("BUILDING", "CONTENTS", "LIABILITY"),
             ("home", "house", "property", "apartment", "contents", "fire", "burglary", "theft", "flood"),
             ("家财", "房屋", "房子", "住房", "财产", "火灾", "盗窃", "盗抢", "水渍")),
    NeedSpec("travel", "FLT-800", "航班延误定额补偿", "flight-delay payout",
             ("DELAY",),
             ("travel", "travelling", "traveling", "trip", "trips", "flight", "flights", "flight delay", "flying",
              "holiday", "vacation", "business trip"),
             ("旅行", "旅游", "出行", "航班", "延误", "出差", "飞机")),
    NeedSpec("online_shopping", "RSI-900", "网购退货运费", "online-shopping return shipping",
             ("RETURN_SHIPPING",),
             ("online shopping", "shopping", "returns", "return shipping", "e-commerce", "ecommerce"),
             ("网购", "退货", "运费", "购物")),
    NeedSpec("diabetes", "DM-400", "糖尿病并发症管理", "diabetes complication management",
             ("COMP_LUMP", "COMP_MED", "CGM_SERVICE"),
             ("diabetes", "diabetic", "blood sugar", "glucose"),
             ("糖尿病", "血糖", "控糖")),
)
_NEED_BY_ID = {n.id: n for n in NEEDS}
_NEED_BY_PRODUCT = {n.product_id: n for n in NEEDS}
_NEED_ORDER = {n.id: i for i, n in enumerate(NEEDS)}

# Extra inputs (beyond the seven public arguments) that some product's pricing uses.
# Each goes only to the products whose rating.params name it.
_PERSON_EXTRAS = ("birth_date", "smoker", "bmi", "height_cm", "weight_kg", "occupation_class", "health_points",
                  "social_insurance")
_PRODUCT_EXTRAS = {
    "UBI-600": ("vehicle_value", "driving_score", "driving_indicators", "at_fault_claims_3y", "seats"),
    "HOME-700": ("building_age_years", "building_si", "contents_si", "construction", "floor_type", "region_tier",
                 "has_gas_supply", "sensors"),
    "FLT-800": ("on_time_rate_pct", "route_type", "peak_season", "segments"),
    "RSI-900": ("category", "completed_orders_12m", "returned_orders_12m"),
    "DM-400": ("hba1c_pct", "on_insulin"),
}
ACCEPTED_EXTRAS: tuple[str, ...] = _PERSON_EXTRAS + tuple(k for ks in _PRODUCT_EXTRAS.values() for k in ks)
_PUBLIC_ARGS = ("age", "gender", "income", "dependents", "existing_policies", "budget", "goals")

_INELIGIBLE_CODES = {"INELIGIBLE_AGE", "INELIGIBLE_OCCUPATION", "INELIGIBLE", "NOT_OFFERED"}
_GENETIC_WORDS = ("genetic", "gene test", "gene_", "dna", "genom", "brca", "polygenic", "基因", "遗传检测", "apoe")
_GRAPH_MIN_SCORE = 0.9
_GENERIC_POLICY_WORDS = {"保险", "保单", "险", "insurance", "policy", "cover", "plan"}

# Sizing rules (rules of thumb)
_LIFE_INCOME_MULTIPLE = 10
_CI_INCOME_MULTIPLE = 3
_ACC_INCOME_MULTIPLE = 5
_CI_DEFAULT_SI = 300000
_ACC_DEFAULT_SI = 300000
_LTC_MONTHLY_BENEFIT = 3000
_ACC_DEFAULT_OCCUPATION = 1


# =========================================================================== helpers


def _fmt(x: Any) -> str:
    """A money amount as 1,234,567 or 1,234.56."""
    d = Decimal(str(x))
    if d == d.to_integral_value():
        return f"{int(d):,}"
    return f"{d:,.2f}"


def _names(prod: Mapping[str, Any]) -> dict[str, str]:
    return {"zh": prod["name"]["zh"], "en": prod["name"]["en"]}


def _priority(score: int) -> Literal["high", "medium", "low"]:
    return "high" if score >= 80 else "medium" if score >= 60 else "low"


def _unique(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for i in items:
        if i not in out:
            out.append(i)
    return out


def _cov_ids(need: NeedSpec) -> list[str]:
    ids = set(product_section_ids(need.product_id))
    return [c for c in (f"{need.product_id}-COV-{code}" for code in need.coverages) if c in ids]


def _section(pid: str, key: str) -> list[str]:
    cid = f"{pid}-{key}"
    return [cid] if cid in product_section_ids(pid) else []


def _quoted_en(items: Sequence[str]) -> str:
    return ", ".join(f'"{i}"' for i in items)


def _squash(text: str) -> str:
    from anxin.knowledge.names import squash
    return squash(text)


# =========================================================================== input validation


@dataclass
class Profile:
    age: int | None = None
    gender: str | None = None
    income: Decimal | None = None
    dependents: int | None = None
    budget: Decimal | None = None
    goals: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    birth_date: str | None = None

    def dump(self) -> dict[str, Any]:
        return {
            "age": self.age, "gender": self.gender,
            "income": None if self.income is None else float(self.income),
            "dependents": self.dependents,
            "budget": None if self.budget is None else float(self.budget),
            "goals": list(self.goals), "existing_policies": list(self.existing),
            **({"birth_date": self.birth_date} if self.birth_date else {}),
            **{k: v for k, v in sorted(self.extras.items()) if k != "birth_date"},
        }


_GENDERS = {"m": "M", "male": "M", "man": "M", "男": "M", "男性": "M", "先生": "M",
            "f": "F", "female": "F", "woman": "F", "女": "F", "女性": "F", "女士": "F"}


def _gender(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in _GENDERS:
        return _GENDERS[value.strip().lower()]
    raise bad_value("gender", value, "M or F (male/female, 男/女)")


def _text_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        items: list[Any] = re.split(r"[,，、;；\n]+", value)
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise bad_value(name, value, "a list of texts")
    out: list[str] = []
    for item in items:
        if isinstance(item, Mapping):  # e.g. {"product_id": "MED-100"}
            item = item.get("product_id") or item.get("name") or item.get("policy_number")
        if item is None:
            continue
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            raise bad_value(name, item, "a list of texts")
        text = str(item).strip()
        if text and text not in out:
            out.append(text)
    return out


def _mentions_genetic(text: str) -> bool:
    low = text.lower()
    return any(w in low for w in _GENETIC_WORDS)


def _profile(age: Any, gender: Any, income: Any, dependents: Any, existing: Any, budget: Any, goals: Any,
             extra: Mapping[str, Any]) -> Profile:
    p = Profile()
    # extras first: genetic keys refused, unknown keys rejected
    for key in extra:
        if is_genetic_key(str(key)):
            p.refused.append(str(key))
        elif key not in ACCEPTED_EXTRAS:
            raise ToolError("INVALID_PARAM", f"'{key}' is not an input of recommend; inputs: "
                            f"{', '.join(_PUBLIC_ARGS)} (and the pricing facts {', '.join(ACCEPTED_EXTRAS)})",
                            field=str(key))
    for key in ACCEPTED_EXTRAS:
        value = extra.get(key)
        if value is not None:
            if isinstance(value, Mapping):
                inner = {}
                for sub, sub_value in value.items():
                    if is_genetic_key(str(sub)):
                        p.refused.append(f"{key}.{sub}")
                    else:
                        inner[sub] = sub_value
                value = inner
            p.extras[key] = value

    if age is not None:
        p.age = coerce_int(age, "age")
        if not 0 <= p.age <= 130:
            raise bad_value("age", age, "an age between 0 and 130")
    if "birth_date" in p.extras:
        born = parse_date(p.extras["birth_date"], "birth_date")
        today = as_of_date()
        if born > today:
            raise ToolError("INVALID_VALUE", f"birth_date {born} is after {today}", field="birth_date")
        derived = age_last_birthday(born, today)
        if p.age is not None and p.age != derived:
            raise ToolError("INVALID_VALUE", f"age={p.age} disagrees with birth_date {born}: age last birthday on "
                            f"{today} is {derived}", field="age")
        p.age, p.birth_date = derived, born.isoformat()
    p.gender = _gender(gender)
    if income is not None:
        p.income = coerce_number(income, "income")
        if p.income < 0:
            raise bad_value("income", income, "an annual income >= 0")
    if dependents is not None:
        p.dependents = coerce_int(dependents, "dependents")
        if p.dependents < 0:
            raise bad_value("dependents", dependents, "a number of dependants >= 0")
    if budget is not None:
        p.budget = coerce_number(budget, "budget")
        if p.budget < 0:
            raise bad_value("budget", budget, "an annual budget >= 0")
    for i, g in enumerate(_text_list(goals, "goals")):
        if _mentions_genetic(g):
            p.refused.append(f"goals[{i}]")
        else:
            p.goals.append(g)
    p.existing = _text_list(existing, "existing_policies")
    return p


# =========================================================================== goals and held products


def _keyword_hit(text: str, need: NeedSpec) -> bool:
    low = " ".join(re.sub(r"[^\w\u4e00-\u9fff]+", " ", text.lower()).split())
    for kw in need.keywords_en:
        if re.search(r"(?<![a-z0-9])" + re.escape(kw) + r"(?:s|es)?(?![a-z0-9])", low):
            return True
    return any(kw in text for kw in need.keywords_zh)


def _goal_needs(goals: Sequence[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Need id -> the goals naming it; and the goals nothing matched."""
    found: dict[str, list[str]] = {}
    unmatched: list[str] = []
    for goal in goals:
        hits = [n.id for n in NEEDS if _keyword_hit(goal, n)]
        if not hits:
            hits = _graph_needs(goal)
        if not hits:
            unmatched.append(goal)
        for h in hits:
            found.setdefault(h, []).append(goal)
    return found, unmatched


def _graph_needs(text: str) -> list[str]:
    """Fallback: the knowledge graph's best products for a goal it recognises (top score >= 0.9)."""
    try:
        from anxin.knowledge.graph import default_graph, products_covering
        hits = products_covering(default_graph(), text)
    except Exception:  # pragma: no cover - graph unavailable: the goal stays unrecognised
        return []
    if not hits or hits[0]["score"] < _GRAPH_MIN_SCORE:
        return []
    top = hits[0]["score"]
    return [_NEED_BY_PRODUCT[h["product_id"]].id for h in hits
            if h["score"] == top and h["product_id"] in _NEED_BY_PRODUCT]


def _part_of(entry: str, s: str, name: str, n: str) -> bool:
    """Whether a short entry ("medical", "重疾") is part of a longer product name: a substring
    for Chinese (2+ characters), whole consecutive words for other text ("home" is part of
    "home insurance", not of "HomeGuard")."""
    if s not in n:
        return False
    if re.search(r"[\u4e00-\u9fff]", s):
        return len(s) >= 2
    words = re.findall(r"[a-z0-9]+", name.lower())
    want = re.findall(r"[a-z0-9]+", entry.lower())
    if not want or len("".join(want)) < 3:
        return False
    return any(words[i:i + len(want)] == want for i in range(len(words) - len(want) + 1))


def _held_product(entry: str) -> str | None:
    """The catalog product an existing-policy entry names, or None."""
    s = _squash(entry)
    if not s or s in _GENERIC_POLICY_WORDS:
        return None
    aliases = product_aliases()
    best: tuple[float, int, str] | None = None
    for order, (pid, prod) in enumerate(catalog_products().items()):
        names = [prod["name"]["zh"], prod["name"]["en"], prod.get("product_type", {}).get("zh", ""),
                 prod.get("product_type", {}).get("en", ""), *aliases.get(pid, [])]
        score = 0.0
        if _squash(pid) in s:
            score = 3.0
        for name in names:
            n = _squash(name)
            if not n or n in _GENERIC_POLICY_WORDS:
                continue
            if n in s:
                score = max(score, 2.0 + len(n) / 1000)
            elif _part_of(entry, s, name, n):
                score = max(score, 1.0 + len(s) / 1000)
        if score and (best is None or (score, -order) > (best[0], -best[1])):
            best = (score, order, pid)
    if best:
        return best[2]
    hits = _graph_needs(entry)
    return _NEED_BY_ID[hits[0]].product_id if len(hits) == 1 else None


# =========================================================================== scoring


def _score(need: NeedSpec, p: Profile, goal_hits: Mapping[str, list[str]]) -> tuple[int, list[Bilingual]] | None:
    """(score 0-100, why) for a need that applies to this person, or None."""
    age, deps = p.age, p.dependents or 0
    earns = p.income is not None and p.income > 0
    in_goals = need.id in goal_hits
    why: list[Bilingual] = []
    score: int
    if need.id == "medical":
        score = 85
        why.append(Bilingual(
            zh="住院、手术和癌症治疗是最常见的大额意外支出；社保有报销上限和目录外费用，百万医疗险以较低保费补足这一缺口，通常应最先配置。",
            en="Hospital, surgery and cancer-treatment bills are the most common large unplanned expense; social "
               "insurance has caps and excluded items. Million-yuan medical cover fills that gap for a small premium "
               "and usually comes first."))
    elif need.id == "accident":
        score = 60
        if age is not None and age < 40:
            score += 15
        if earns:
            score += 5
        if age is not None and age >= 60:
            score -= 10
        why.append(Bilingual(
            zh="意外身故或伤残会让收入突然中断，意外医疗可报销门诊和住院费用；意外险保费低、无需健康告知以外的体检。"
               + ("40岁以下人群意外是主要风险来源。" if age is not None and age < 40 else ""),
            en="An accidental death or disability stops income at once, and accident medical pays the treatment; "
               "accident cover is cheap." + (" Under 40, accidents are the main risk." if age is not None and age < 40
                                              else "")))
    elif need.id == "critical_illness":
        score = 55
        if age is not None and 25 <= age <= 55:
            score += 10
        if deps:
            score += 10
        if earns:
            score += 5
        why.append(Bilingual(
            zh="确诊重大疾病后通常需要数年治疗和康复，期间收入中断；重疾险一次性给付保额，用于弥补收入损失和康复开支（医疗险只报销医疗费用）。",
            en="After a critical-illness diagnosis, treatment and recovery often take years without income; a CI "
               "lump sum replaces that income and pays recovery costs (medical cover only reimburses bills)."))
    elif need.id == "life":
        if not deps and not in_goals:
            return None
        score = 50
        if deps:
            score += 30 + 2 * min(deps, 3)
            why.append(Bilingual(
                zh=f"您有{deps}位受抚养人依靠您的收入；若您身故或全残，定期寿险给付保额，让家人维持生活、偿还债务。",
                en=f"{deps} dependant{'s' if deps != 1 else ''} rel{'y' if deps != 1 else 'ies'} on your income; if "
                   "you die or become totally and permanently disabled, term life pays the sum insured so the family "
                   "can keep going and repay debts."))
        else:
            why.append(Bilingual(zh="您提出了家庭保障的需求；定期寿险在身故或全残时给付保额。",
                                 en="You asked for family protection; term life pays the sum insured on death or total "
                                    "and permanent disability."))
        if earns:
            score += 10
    elif need.id == "long_term_care":
        if not (age is not None and age >= 40) and not in_goals:
            return None
        score = 30
        if age is not None and age >= 50:
            score += 15
        elif age is not None and age >= 40:
            score += 5
        why.append(Bilingual(
            zh="年老后若无法独立完成日常生活活动，长期护理费用每月数千元且可能持续多年；越早投保年缴保费越低。",
            en="If in old age you cannot manage daily activities on your own, care costs thousands a month for years; "
               "the earlier cover starts, the lower the level premium."))
    else:
        if not in_goals and not any(k in p.extras for k in _PRODUCT_EXTRAS.get(need.product_id, ())):
            return None
        score = 40
        why.append(Bilingual(zh=f"您提到了与“{need.zh}”相关的需求。", en=f"You mentioned a need for {need.en}."))
    if in_goals:
        score += 25
        quoted = "”、“".join(goal_hits[need.id])
        why.append(Bilingual(zh=f"您的目标中提到：“{quoted}”。",
                             en="Your goals mention: " + _quoted_en(goal_hits[need.id]) + "."))
    return max(0, min(100, score)), why


# =========================================================================== product plans


@dataclass
class Plan:
    """What it takes to quote one product for this person."""

    params: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    sizing: list[Sizing] = field(default_factory=list)
    indicative: list[Bilingual] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)


def _grid_floor(target: Decimal, grid: Sequence[int]) -> int:
    """The largest grid value <= target, or the smallest one when target is below the grid."""
    fits = [g for g in sorted(grid) if g > 0 and g <= target]
    return fits[-1] if fits else min(g for g in grid if g > 0)


def _param_values(pid: str, name: str) -> list[Any]:
    prod = catalog_product(pid)
    assert prod is not None
    spec = next(s for s in prod["rating"]["params"] if s["name"] == name)
    return list(spec.get("values", []))


def _rated(pid: str) -> set[str]:
    prod = catalog_product(pid)
    assert prod is not None
    return {s["name"] for s in prod["rating"]["params"]}


def _pass_extras(pid: str, p: Profile, plan: Plan, keys: Iterable[str]) -> None:
    rated = _rated(pid)
    for key in keys:
        if key in rated and key in p.extras:
            plan.params[key] = p.extras[key]


def _income_sizing(pid: str, param: str, p: Profile, multiple: int, grid: Sequence[int], default: int,
                   grid_en: str, grid_zh: str, cap: int | None = None, cap_reason: Bilingual | None = None) -> Sizing:
    if p.income is not None and p.income > 0:
        target = p.income * multiple
        value = _grid_floor(target, grid)
        rule_en = (f"rule of thumb: {multiple} x annual income = {multiple} x {_fmt(p.income)} = {_fmt(target)}, "
                   f"rounded down to the {pid} grid ({grid_en}) -> {_fmt(value)}")
        rule_zh = (f"经验法则：保额 = 年收入的{multiple}倍 = {multiple} × {_fmt(p.income)} = {_fmt(target)}，"
                   f"向下取整到 {pid} 可选保额（{grid_zh}）→ {_fmt(value)}")
        tgt: float | None = float(target)
    else:
        value, tgt = default, None
        rule_en = (f"no income given: the standard {_fmt(default)} option of the {pid} grid ({grid_en}); with an "
                   f"income the rule of thumb is {multiple} x annual income")
        rule_zh = (f"未提供收入：按 {pid} 可选保额（{grid_zh}）中的常用档 {_fmt(default)}；提供收入后按年收入的{multiple}倍确定")
    if cap is not None and value > cap and cap_reason is not None:
        value = cap
        rule_en += f"; capped at {_fmt(cap)} ({cap_reason.en})"
        rule_zh += f"；上限 {_fmt(cap)}（{cap_reason.zh}）"
    return Sizing(param=param, value=value, target=tgt, rule_zh=rule_zh, rule_en=rule_en)


def _term_choice(pid: str, param: str, age: int, default: int) -> tuple[int, Bilingual | None]:
    """The default payment/cover term, or the longest shorter one with age + term <= 70."""
    options = sorted(_param_values(pid, param), reverse=True)
    if age + default <= 70:
        return default, None
    for t in options:
        if t < default and age + t <= 70:
            return t, Bilingual(zh=f"按规则“投保年龄 + 年期 ≤ 70”，年期取 {t} 年（默认 {default} 年不满足）。",
                                en=f"{param} = {t} years so that age + term <= 70 (the default {default} years "
                                   "would exceed it).")
    return default, None


def _plan(need: NeedSpec, p: Profile) -> Plan:
    pid = need.product_id
    plan = Plan()
    cov = _cov_ids(need)
    age = p.age
    if pid == "MED-100":
        if age is None:
            plan.missing.append("age")
        else:
            plan.params["age"] = age
        _pass_extras(pid, p, plan, ("smoker", "bmi", "height_cm", "weight_kg", "social_insurance", "health_points"))
        plan.reasons.append(Reason(
            zh="保障：一般医疗保险金300万元（住院、特殊门诊、住院前后门急诊，年免赔额1万元）；重大疾病医疗保险金600万元（不设免赔额）。",
            en="Cover: general medical up to 3,000,000 (inpatient, special outpatient, outpatient around a stay; "
               "10,000 annual deductible) and critical-illness medical up to 6,000,000 (no deductible).",
            clause_ids=cov + _section(pid, "DEDUCTIBLE")))
        plan.reasons.append(Reason(
            zh="自首次投保起保证续保20年，续保不因健康变化或理赔被拒；疾病等待期30天，意外无等待期。",
            en="Guaranteed renewable for 20 years from first issue, regardless of health changes or claims; 30-day "
               "waiting period for illness, none for accidents.",
            clause_ids=_section(pid, "RENEWAL") + _section(pid, "WAITING")))
    elif pid == "ACC-110":
        if age is None:
            plan.missing.append("age")
        else:
            plan.params["age"] = age
        if "occupation_class" in p.extras:
            plan.params["occupation_class"] = p.extras["occupation_class"]
        else:
            plan.params["occupation_class"] = _ACC_DEFAULT_OCCUPATION
            plan.indicative.append(Bilingual(
                zh="未提供职业类别：按1类（室内办公）报价，1–3类费率相同；4类（体力/驾驶）保费更高，5–6类不可承保。",
                en="No occupation class given: quoted as class 1 (indoor office); classes 1-3 share the same rate, "
                   "class 4 (manual/driving) costs more and classes 5-6 are not insurable."))
        grid = _param_values(pid, "sum_insured")
        sz = _income_sizing(pid, "sum_insured", p, _ACC_INCOME_MULTIPLE, grid, _ACC_DEFAULT_SI,
                            "100,000 / 300,000 / 500,000 / 1,000,000", "10万/30万/50万/100万")
        plan.sizing.append(sz)
        plan.params["sum_insured"] = sz.value
        _pass_extras(pid, p, plan, ("health_points",))
        plan.reasons.append(Reason(
            zh=f"保障：意外身故/伤残保额 {_fmt(sz.value)}（伤残按1–10级给付100%–10%），意外医疗限额10,000元（年免赔100元）。",
            en=f"Cover: accidental death/disability {_fmt(sz.value)} (disability grades 1-10 pay 100%-10%) and "
               "accident medical up to 10,000 (100 annual deductible).",
            clause_ids=cov))
    elif pid == "CI-200":
        if age is None:
            plan.missing.append("age")
        if p.gender is None:
            plan.missing.append("gender")
        grid = _param_values(pid, "sum_insured")
        minor = age is not None and age < 18
        sz = _income_sizing(pid, "sum_insured", p, _CI_INCOME_MULTIPLE, grid, _CI_DEFAULT_SI,
                            "100,000-1,000,000", "10万–100万",
                            cap=500000 if minor else None,
                            cap_reason=Bilingual(zh="未成年人最高50万", en="maximum for an insured under 18"))
        plan.sizing.append(sz)
        if age is not None:
            plan.params["age"] = age
        if p.gender is not None:
            plan.params["gender"] = p.gender
        plan.params["sum_insured"] = sz.value
        if age is not None:
            term, note = _term_choice(pid, "payment_term", age, 20)
            if note:
                plan.params["payment_term"] = term
                plan.reasons.append(Reason(zh=note.zh, en=note.en, clause_ids=_section(pid, "ELIGIBILITY")))
        _pass_extras(pid, p, plan, ("smoker", "bmi", "height_cm", "weight_kg"))
        plan.reasons.append(Reason(
            zh=f"保障：重度疾病一次性给付保额 {_fmt(sz.value)}；中症给付50%（最多2次）、轻症给付30%（最多3次），轻/中症后豁免剩余保费；终身保障。",
            en=f"Cover: a lump sum of {_fmt(sz.value)} on a severe critical illness; 50% for a moderate illness "
               "(up to 2) and 30% for a mild one (up to 3), with remaining premiums waived after a mild/moderate "
               "claim; whole-life cover.",
            clause_ids=cov + _section(pid, "COV-PREMIUM_WAIVER")))
        plan.reasons.append(Reason(zh="疾病等待期90天。", en="90-day waiting period for illness.",
                                   clause_ids=_section(pid, "WAITING")))
    elif pid == "TL-300":
        if age is None:
            plan.missing.append("age")
        if p.gender is None:
            plan.missing.append("gender")
        if p.income is None or p.income <= 0:
            plan.missing.append("income")
        else:
            target = p.income * _LIFE_INCOME_MULTIPLE
            value = int(min(Decimal(3000000), max(Decimal(100000), (target // 100000) * 100000)))
            rule_en = (f"rule of thumb: {_LIFE_INCOME_MULTIPLE} x annual income = {_LIFE_INCOME_MULTIPLE} x "
                       f"{_fmt(p.income)} = {_fmt(target)}, rounded down to a multiple of 100,000 within the TL-300 "
                       f"range 100,000-3,000,000 -> {_fmt(value)}")
            rule_zh = (f"经验法则：保额 = 年收入的{_LIFE_INCOME_MULTIPLE}倍 = {_LIFE_INCOME_MULTIPLE} × {_fmt(p.income)} = "
                       f"{_fmt(target)}，向下取整到10万的整数倍并限于 TL-300 的10万–300万 → {_fmt(value)}")
            if value > 2000000:
                rule_en += " (above 2,000,000 the insurer asks for income proof; cover may not exceed 20 x income)"
                rule_zh += "（超过200万需提供收入证明，且不超过年收入20倍）"
            sz = Sizing(param="sum_insured", value=value, target=float(target), rule_zh=rule_zh, rule_en=rule_en)
            plan.sizing.append(sz)
        if age is not None:
            plan.params["age"] = age
        if p.gender is not None:
            plan.params["gender"] = p.gender
        if plan.sizing:
            plan.params["sum_insured"] = plan.sizing[0].value
        if age is not None:
            term, note = _term_choice(pid, "term_years", age, 20)
            if note:
                plan.params["term_years"] = term
                plan.reasons.append(Reason(zh=note.zh, en=note.en, clause_ids=_section(pid, "ELIGIBILITY")))
        _pass_extras(pid, p, plan, ("smoker",))
        plan.reasons.append(Reason(
            zh="保障：身故或全残给付基本保额；保险期间内保费固定，到期无满期金（纯保障，保费低）。",
            en="Cover: the sum insured is paid on death or total and permanent disability; level premium, no "
               "maturity benefit (pure protection, low cost).",
            clause_ids=cov + _section(pid, "BENEFIT-PERIOD")))
    elif pid == "LTC-500":
        if age is None:
            plan.missing.append("age")
        else:
            plan.params["age"] = age
        if p.gender is None:
            plan.missing.append("gender")
        else:
            plan.params["gender"] = p.gender
        plan.params["monthly_benefit"] = _LTC_MONTHLY_BENEFIT
        plan.sizing.append(Sizing(
            param="monthly_benefit", value=_LTC_MONTHLY_BENEFIT, target=None,
            rule_zh="月度护理金取可选档（2,000/3,000/5,000）的中间档 3,000 元",
            rule_en="monthly benefit: the middle option 3,000 of the LTC-500 grid (2,000 / 3,000 / 5,000)"))
        _pass_extras(pid, p, plan, ("smoker",))
        plan.reasons.append(Reason(
            zh="保障：65周岁后失能满90天，按月给付护理金（轻度30%/中度60%/重度100%），最长120个月；65岁前中度以上失能豁免保费。",
            en="Cover: from age 65, after 90 days of disability, a monthly care benefit (mild 30% / moderate 60% / "
               "severe 100%) for up to 120 months; premiums waived on moderate or severe disability before 65.",
            clause_ids=cov))
    elif pid == "UBI-600":
        if age is None:
            plan.missing.append("age")
        else:
            plan.params["driver_age"] = age
        if "vehicle_value" not in p.extras:
            plan.missing.append("vehicle_value")
        _pass_extras(pid, p, plan, _PRODUCT_EXTRAS[pid])
        if "driving_score" not in p.extras and "driving_indicators" not in p.extras:
            plan.indicative.append(Bilingual(
                zh="尚无驾驶数据：未评分，UBI系数按1.00计算；安装车载终端后按安全驾驶指数在0.70–1.30之间调整。",
                en="No driving data yet: unscored, UBI factor 1.00; with telematics the driving score moves it "
                   "between 0.70 and 1.30."))
        if "at_fault_claims_3y" not in p.extras:
            plan.indicative.append(Bilingual(
                zh="未提供近3年有责理赔次数：按默认0次（系数0.85）计算。",
                en="At-fault claims in the last 3 years not given: the default 0 (factor 0.85) is used."))
        plan.reasons.append(Reason(
            zh="保障：车损（按车辆实际价值）、第三者责任（默认200万）、车上人员责任；交强险需另行投保。",
            en="Cover: own damage (vehicle actual value), third-party liability (2,000,000 by default) and "
               "in-vehicle persons; compulsory third-party insurance is bought separately.",
            clause_ids=cov))
    elif pid == "HOME-700":
        if "building_age_years" not in p.extras:
            plan.missing.append("building_age_years")
        if not any(p.extras.get(k) for k in ("building_si", "contents_si")):
            plan.missing.append("building_si or contents_si")
        _pass_extras(pid, p, plan, _PRODUCT_EXTRAS[pid])
        defaulted = [k for k in ("construction", "floor_type", "region_tier") if k not in p.extras]
        if defaulted:
            plan.indicative.append(Bilingual(
                zh=f"未提供房屋信息（{', '.join(defaulted)}）：按产品默认值报价（钢混结构、中间楼层、A类地区）。",
                en=f"Property details not given ({', '.join(defaulted)}): quoted with the product defaults "
                   "(reinforced concrete, middle floor, region tier A)."))
        plan.reasons.append(Reason(
            zh="保障：房屋主体与室内财产（火灾、暴雨、台风、管道破裂等，室内财产另含入室盗抢），居家责任20万元；安装传感器最多优惠30%。",
            en="Cover: building and contents (fire, storm, typhoon, burst pipes...; contents also burglary) and "
               "200,000 household liability; IoT sensors cut the premium by up to 30%.",
            clause_ids=cov))
    elif pid == "FLT-800":
        if "on_time_rate_pct" not in p.extras:
            plan.missing.append("on_time_rate_pct")
        _pass_extras(pid, p, plan, _PRODUCT_EXTRAS[pid])
        if "route_type" not in p.extras:
            plan.indicative.append(Bilingual(zh="未提供航线类型：按国内航线报价。",
                                             en="Route type not given: quoted as a domestic route."))
        plan.reasons.append(Reason(
            zh="保障：航班延误达2小时（P2H）或3小时（P3H）起自动定额赔付，无需报案；按航段购买。",
            en="Cover: a fixed payout from a 2-hour (P2H) or 3-hour (P3H) delay, paid automatically with no claim; "
               "bought per flight segment.",
            clause_ids=cov))
    elif pid == "RSI-900":
        if "category" not in p.extras:
            plan.missing.append("category")
        _pass_extras(pid, p, plan, _PRODUCT_EXTRAS[pid])
        plan.reasons.append(Reason(
            zh="保障：退货运费定额补偿（同省8元/跨省12元/偏远地区25元），商家签收后自动赔付；按订单购买。",
            en="Cover: fixed return-shipping compensation (8 same province / 12 cross-province / 25 remote), paid "
               "automatically; bought per order.",
            clause_ids=cov))
    elif pid == "DM-400":
        if age is None:
            plan.missing.append("age")
        else:
            plan.params["age"] = age
        if "hba1c_pct" not in p.extras:
            plan.missing.append("hba1c_pct")
        _pass_extras(pid, p, plan, ("hba1c_pct", "on_insulin", "smoker", "health_points"))
        plan.reasons.append(Reason(
            zh="仅面向已确诊2型糖尿病、投保时 HbA1c < 10% 的人群（须在健康告知中申报 type2_diabetes）；保障糖尿病并发症一次性给付与并发症住院医疗，含 CGM 血糖管理服务。",
            en="Only for diagnosed type 2 diabetes with HbA1c < 10% at application (declared as type2_diabetes in "
               "underwriting); pays lump sums for complications and complication hospital costs, with CGM glucose "
               "management.",
            clause_ids=_section(pid, "ELIGIBILITY") + cov))
    return plan


# =========================================================================== eligibility


def _age_window(prod: Mapping[str, Any]) -> tuple[int, int, str] | None:
    limits = prod["rating"].get("age_limits")
    if limits and "new_business" in limits:
        lo, hi = limits["new_business"]
        return int(lo), int(hi), "new_business"
    elig = prod.get("eligibility", {})
    for key in ("driver_age", "issue_age"):
        if key in elig:
            return int(elig[key]["min"]), int(elig[key]["max"]), key
    return None


def _eligibility_block(need: NeedSpec, p: Profile) -> Ineligible | None:
    """Age / occupation eligibility known before quoting."""
    prod = catalog_product(need.product_id)
    assert prod is not None
    pid = prod["id"]
    clause = _section(pid, "ELIGIBILITY")
    window = _age_window(prod)
    if p.age is not None and window and not window[0] <= p.age <= window[1]:
        lo, hi, _ = window
        zh = f"年龄{p.age}周岁不在 {pid} 的新投保年龄范围（{lo}–{hi}周岁）内。"
        en = f"Age {p.age} is outside {pid}'s new-business issue ages {lo}-{hi}."
        renew = (prod["rating"].get("age_limits") or {}).get("renewal")
        if renew:
            zh += f"已持有本产品者可续保至{renew[1]}周岁。"
            en += f" Existing policyholders can renew to age {renew[1]}."
            clause = clause + _section(pid, "RENEWAL")
        return Ineligible(product_id=pid, product_name=_names(prod), need=need.id, code="INELIGIBLE_AGE",
                          zh=zh, en=en, clause_ids=clause)
    classes = prod.get("eligibility", {}).get("occupation_classes")
    if classes and "occupation_class" in p.extras:
        try:
            occ = coerce_int(p.extras["occupation_class"], "occupation_class")
        except ToolError:
            occ = None
        if occ is not None and occ not in classes:
            listing = ", ".join(str(c) for c in classes)
            return Ineligible(product_id=pid, product_name=_names(prod), need=need.id, code="INELIGIBLE_OCCUPATION",
                              zh=f"职业类别{occ}不在 {pid} 可承保范围（{listing}类）。",
                              en=f"Occupation class {occ} is not insurable under {pid} (classes {listing}).",
                              clause_ids=clause)
    return None


# =========================================================================== the engine


@dataclass
class _Candidate:
    need: NeedSpec
    score: int
    why: list[Bilingual]
    goals: list[str]
    plan: Plan
    outcome: str = ""
    rec: Recommendation | None = None


def _summary(q: Any) -> list[BreakdownLine]:
    return [BreakdownLine(step=b.step, basis=b.basis, subtotal=b.subtotal) for b in q.breakdown]


def _recommendation(c: _Candidate, q: Any) -> Recommendation:
    need, plan = c.need, c.plan
    prod = catalog_product(need.product_id)
    assert prod is not None
    pid = prod["id"]
    cov = _cov_ids(need)
    reasons = [Reason(zh=w.zh, en=w.en, clause_ids=cov[:1]) for w in c.why]
    reasons += plan.reasons
    for sz in plan.sizing:
        reasons.append(Reason(zh=f"保额确定：{sz.rule_zh}。", en=f"Amount of cover: {sz.rule_en}.",
                              clause_ids=cov[:1] + _section(pid, "RATING")))
    window = _age_window(prod)
    if window and c.plan.params.get("age", c.plan.params.get("driver_age")) is not None:
        lo, hi, _ = window
        reasons.append(Reason(zh=f"投保资格：{lo}–{hi}周岁可投保，您{c.plan.params.get('age', c.plan.params.get('driver_age'))}周岁，符合条件。",
                              en=f"Eligibility: issue ages {lo}-{hi}; at {c.plan.params.get('age', c.plan.params.get('driver_age'))} "
                                 "you qualify.",
                              clause_ids=_section(pid, "ELIGIBILITY")))
    freq_zh = "年缴" if q.premium_frequency == "annual" else "每次"
    freq_en = "a year" if q.premium_frequency == "annual" else "per purchase"
    years = f"，共缴{q.payment_years}年" if q.payment_years else ""
    years_en = f", payable for {q.payment_years} years" if q.payment_years else ""
    shown = ", ".join(f"{k}={v}" for k, v in plan.params.items())
    reasons.append(Reason(
        zh=f"报价：{freq_zh} {_fmt(q.premium)} 元{years}（按费率规则逐步计算，输入：{shown}）。",
        en=f"Quote: {_fmt(q.premium)} CNY {freq_en}{years_en} (computed step by step from the rating rules with "
           f"{shown}).",
        clause_ids=_section(pid, "RATING")))
    clause_ids = _unique(cid for r in reasons for cid in r.clause_ids)
    return Recommendation(
        rank=0, product_id=pid, product_name=_names(prod), need=need.id, priority=_priority(c.score), score=c.score,
        reasons=reasons, clause_ids=clause_ids, sizing=list(plan.sizing), quote_params=dict(plan.params),
        premium=q.premium, premium_frequency=q.premium_frequency, payment_years=q.payment_years,
        breakdown_summary=_summary(q), quote_notices=list(q.notices), indicative=bool(plan.indicative),
        indicative_reasons=list(plan.indicative), subject_to_underwriting=prod.get("underwriting_line") != "none")


def _not_quoted(c: _Candidate) -> NotQuoted:
    need, plan = c.need, c.plan
    prod = catalog_product(need.product_id)
    assert prod is not None
    pid = prod["id"]
    missing = ", ".join(plan.missing)
    cov = _cov_ids(need)
    zh = f"{pid} 适合“{need.zh}”这一需求，但缺少报价所需信息：{missing}。"
    en = f"{pid} fits the need for {need.en}, but it cannot be quoted without: {missing}."
    if "income" in plan.missing and pid == "TL-300":
        zh += f"寿险保额按年收入的{_LIFE_INCOME_MULTIPLE}倍确定，请提供年收入。"
        en += f" Life cover is sized at {_LIFE_INCOME_MULTIPLE} x annual income, so an income is needed."
    reasons = [Reason(zh=w.zh, en=w.en, clause_ids=cov[:1]) for w in c.why] + plan.reasons
    reasons.append(Reason(zh=zh, en=en, clause_ids=_section(pid, "RATING")))
    return NotQuoted(product_id=pid, product_name=_names(prod), need=need.id, priority=_priority(c.score),
                     score=c.score, missing_inputs=list(plan.missing), zh=zh, en=en, reasons=reasons,
                     clause_ids=_unique(cid for r in reasons for cid in r.clause_ids))


def _held_entry(pid: str, matched: str) -> HeldProduct:
    prod = catalog_product(pid)
    assert prod is not None
    need = _NEED_BY_PRODUCT[pid]
    return HeldProduct(
        product_id=pid, product_name=_names(prod), matched_from=matched, need=need.id,
        zh=f"您已持有{prod['name']['zh']}（{pid}），不再重复推荐；“{need.zh}”视为已有保障，请留意保额与续保。",
        en=f"You already hold {prod['name']['en']} ({pid}), so it is not recommended again; the need for {need.en} "
           "counts as covered — check its amount of cover and renewal.",
        clause_ids=_cov_ids(need)[:1] + _section(pid, "RENEWAL"))


def _assumptions(p: Profile, unmatched_goals: list[str], unmatched_policies: list[str]) -> list[Bilingual]:
    out = [
        Bilingual(zh=f"年龄按周岁、以 {as_of_date().isoformat()} 为投保日计算；所有保费为人民币。",
                  en=f"Age is age last birthday with the policy starting on {as_of_date().isoformat()}; all "
                     "amounts in CNY."),
        Bilingual(zh="保费仅由各产品费率规则所用的信息决定（年龄、性别、所选保额及产品默认值）；收入、受抚养人数和目标只影响需求排序和保额档位的选择，不影响费率。",
                  en="Prices use only what each product's rating uses (age, gender, the chosen amount of cover and the "
                     "product defaults); income, dependants and goals only rank the needs and pick the amount of "
                     "cover, never the rate."),
        Bilingual(zh="健康险按标准体报价：未提供的吸烟、BMI 等健康信息不作推测（按产品默认值），最终保费以健康告知和核保结论为准。",
                  en="Health products are quoted at standard rates: missing health facts such as smoking or BMI are "
                     "not guessed (product defaults apply); the final premium depends on the health declaration and "
                     "underwriting."),
        Bilingual(zh="保额为经验法则下的建议：寿险 = 年收入×10，重疾 = 年收入×3，意外 = 年收入×5，均向下取整到产品可选保额；可按实际负债与开支调整。",
                  en="Amounts of cover follow rules of thumb: term life = 10 x income, critical illness = 3 x income, "
                     "accident = 5 x income, each rounded down to the product's grid; adjust for actual debts and "
                     "expenses."),
    ]
    if p.budget is not None:
        out.append(Bilingual(zh="预算按每年可支出的保费总额理解（按次购买的航延险、运费险不计入）。",
                             en="The budget is read as the total premium you can spend per year (per-trip / per-order "
                                "products are not counted)."))
    if p.income is None:
        out.append(Bilingual(zh="未提供年收入：重疾和意外保额取常用档，寿险无法确定保额。",
                             en="No income given: critical-illness and accident cover use the standard option; life "
                                "cover cannot be sized."))
    if p.dependents is None:
        out.append(Bilingual(zh="未提供受抚养人数：按无受抚养人处理。",
                             en="Number of dependants not given: treated as none."))
    if p.age is None:
        out.append(Bilingual(zh="未提供年龄：无法报价或判断投保资格。",
                             en="No age given: products cannot be quoted or checked for eligibility."))
    if unmatched_goals:
        listing = "”、“".join(unmatched_goals)
        out.append(Bilingual(zh=f"以下目标未能对应到任何产品，未纳入分析：“{listing}”。",
                             en="These goals did not match any product and were not used: "
                                + _quoted_en(unmatched_goals) + "."))
    if unmatched_policies:
        listing = "”、“".join(unmatched_policies)
        out.append(Bilingual(zh=f"以下已有保单未能识别为本公司产品，其保障未计入：“{listing}”。",
                             en="These existing policies were not recognised as catalog products and their cover "
                                "was not counted: " + _quoted_en(unmatched_policies) + "."))
    return out


def recommend(age: int | None = None, gender: str | None = None, income: float | int | None = None,
              dependents: int | None = None, existing_policies: list[str] | None = None,
              budget: float | int | None = None, goals: list[str] | None = None,
              **extra: Any) -> RecommendationResult:
    """Analyse needs and recommend products with quotes (see the module doc for the rules).

    Raises :class:`ToolError` ``INVALID_PARAM`` for an unknown extra key and
    ``INVALID_VALUE`` for a malformed argument. Genetic keys are refused (listed
    in ``refused_inputs``) and have no effect.
    """
    p = _profile(age, gender, income, dependents, existing_policies, budget, goals, extra)
    goal_hits, unmatched_goals = _goal_needs(p.goals)

    held: list[HeldProduct] = []
    held_ids: set[str] = set()
    unmatched_policies: list[str] = []
    for entry in p.existing:
        pid = _held_product(entry)
        if pid is None:
            unmatched_policies.append(entry)
        elif pid not in held_ids:
            held_ids.add(pid)
            held.append(_held_entry(pid, entry))
    held.sort(key=lambda h: _NEED_ORDER[h.need])

    candidates: list[_Candidate] = []
    for need in NEEDS:
        if need.product_id in held_ids:
            continue
        scored = _score(need, p, goal_hits)
        if scored is None:
            continue
        score, why = scored
        candidates.append(_Candidate(need=need, score=score, why=why, goals=goal_hits.get(need.id, []),
                                     plan=_plan(need, p)))
    candidates.sort(key=lambda c: (-c.score, _NEED_ORDER[c.need.id]))

    ineligible: list[Ineligible] = []
    not_quoted: list[NotQuoted] = []
    quoted: list[_Candidate] = []
    for c in candidates:
        block = _eligibility_block(c.need, p)
        if block is not None:
            c.outcome = "ineligible"
            ineligible.append(block)
            continue
        if c.plan.missing:
            c.outcome = "not_quoted"
            not_quoted.append(_not_quoted(c))
            continue
        try:
            q = quote(c.need.product_id, dict(c.plan.params))
        except ToolError as err:
            if err.code not in _INELIGIBLE_CODES:
                raise
            prod = catalog_product(c.need.product_id)
            assert prod is not None
            c.outcome = "ineligible"
            ineligible.append(Ineligible(
                product_id=prod["id"], product_name=_names(prod), need=c.need.id, code=err.code,
                zh=f"{prod['id']} 不可投保：{err.message_zh}", en=f"{prod['id']} cannot be bought: {err.message_en}",
                clause_ids=_section(prod["id"], "ELIGIBILITY")))
            continue
        c.rec = _recommendation(c, q)
        quoted.append(c)

    # budget: take recommendations in priority order while the annual premiums fit
    kept: list[Recommendation] = []
    dropped: list[Recommendation] = []
    not_counted: list[str] = []
    total_all = sum((Decimal(f"{c.rec.premium:.2f}") for c in quoted
                     if c.rec and c.rec.premium_frequency == "annual"), Decimal(0))
    remaining = p.budget
    total = Decimal(0)
    for c in quoted:
        rec = c.rec
        assert rec is not None
        prem = Decimal(f"{rec.premium:.2f}")
        if rec.premium_frequency != "annual":
            not_counted.append(rec.product_id)
            c.outcome = "recommended"
            kept.append(rec)
            continue
        if remaining is not None and prem > remaining:
            c.outcome = "dropped_for_budget"
            rec.reasons.append(Reason(
                zh=f"超出预算：年保费 {_fmt(prem)} 元大于剩余预算 {_fmt(remaining)} 元，已从推荐中移除（优先保留更高优先级的保障）。",
                en=f"Over budget: the annual premium {_fmt(prem)} exceeds the {_fmt(remaining)} left in the budget, "
                   "so it was dropped (higher-priority cover is kept first).",
                clause_ids=[]))
            dropped.append(rec)
            continue
        if remaining is not None:
            remaining -= prem
        total += prem
        c.outcome = "recommended"
        kept.append(rec)
    for i, rec in enumerate(kept, 1):
        rec.rank = i
    for i, rec in enumerate(dropped, 1):
        rec.rank = i

    if p.budget is None:
        guide_zh = guide_en = ""
        if p.income is not None and p.income > 0:
            ten = p.income / 10
            guide_zh = f"常见建议是保费不超过年收入的10%（{_fmt(ten)} 元）。"
            guide_en = f" A common guideline is to keep premiums within 10% of income ({_fmt(ten)})."
        fit = BudgetFit(budget=None, total_premium=float(total), total_before_budget=float(total_all),
                        within_budget=None, not_counted=not_counted,
                        zh=f"未提供预算；推荐产品年保费合计 {_fmt(total)} 元。{guide_zh}",
                        en=f"No budget given; the recommended annual premiums total {_fmt(total)}.{guide_en}")
    else:
        within = total_all <= p.budget
        if within:
            zh = f"推荐产品年保费合计 {_fmt(total)} 元，在预算 {_fmt(p.budget)} 元以内。"
            en = f"The recommended annual premiums total {_fmt(total)}, within the budget of {_fmt(p.budget)}."
        else:
            names = ", ".join(r.product_id for r in dropped)
            zh = (f"全部推荐年保费合计 {_fmt(total_all)} 元，超出预算 {_fmt(p.budget)} 元；按优先级保留后合计 "
                  f"{_fmt(total)} 元，已移除：{names}。")
            en = (f"All recommendations together cost {_fmt(total_all)} a year, over the budget of "
                  f"{_fmt(p.budget)}; keeping the highest priorities brings it to {_fmt(total)}. Dropped: {names}.")
        fit = BudgetFit(budget=float(p.budget), total_premium=float(total), total_before_budget=float(total_all),
                        within_budget=within, dropped=[r.product_id for r in dropped], not_counted=not_counted,
                        zh=zh, en=en)

    gaps: list[CoverageGap] = []
    for rank, c in enumerate(candidates, 1):
        gaps.append(CoverageGap(
            need=c.need.id, rank=rank, priority=_priority(c.score), score=c.score, zh=c.need.zh, en=c.need.en,
            why_zh="".join(w.zh for w in c.why), why_en=" ".join(w.en for w in c.why),
            product_id=c.need.product_id, status=c.outcome,  # type: ignore[arg-type]
            from_goals=list(c.goals), sizing=list(c.plan.sizing), clause_ids=_cov_ids(c.need)))

    notices = [genetic_notice()] if p.refused else []
    return RecommendationResult(
        profile=p.dump(), coverage_gaps=gaps, recommendations=kept, dropped_for_budget=dropped,
        not_quoted=not_quoted, ineligible=ineligible, already_held=held, budget_fit=fit,
        assumptions=_assumptions(p, unmatched_goals, unmatched_policies), notices=notices,
        refused_inputs=list(p.refused))

"""What customers say about their health -> pre-underwriting declarations.

:func:`extract_declarations` reads one customer turn (Chinese, English or both mixed)
and returns a :class:`HealthExtraction`: one declaration per condition the customer
says they have, in exactly the shape the ``pre_underwrite`` tool takes
(``{"condition": "thyroid_nodule", "tirads": "3"}``), the inputs still missing for
each (so the dialogue can ask one or two at a time, see :func:`question_for`), and
what must *not* become a declaration: denied conditions, relatives' conditions,
hypothetical ones ("does it cover cancer?"), genetic test results (flagged, never
used) and health problems that are not on the declaration list.

Where things come from:

* condition ids, their names (zh/en), inputs, types, allowed values and ranges:
  the filing's ``underwriting.yaml`` (``ANXIN_FILING_DIR`` respected), so an insurer
  with its own file gets its own conditions recognised by their ``name``;
* synonyms, attribute wording, negation / "nothing to declare" phrases, question
  templates: ``agent/data/health_lexicon.yaml`` (regular expressions matched on
  NFKC-normalised, lower-cased text; ``{num}`` and ``{cat}`` are placeholders);
* unit conversions (斤, 1米75, lb, 度 -> dioptres, packs, drinks -> grams of
  alcohol, months -> years ...), blood-pressure grading and enum mapping: this module.

How attributes find their condition: every attribute phrase is attached to the
nearest mention of a condition that has that input, preferring the same clause,
never jumping over another condition's mention while a closer owner exists, and
solving "轻度哮喘中度脂肪肝"-style ties so that each condition gets one value.
A bare answer ("3类", "150/95", "没有") completes the ``pending`` declarations of
the previous turn.
"""
from __future__ import annotations

import bisect
import datetime as _dt
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

from anxin.agent.numbers import parse_chinese_numeral
from anxin.knowledge.filing import filing_dir, load_underwriting
from anxin.knowledge.names import condition_names, squash
from anxin.knowledge.text import detect_language
from anxin.tools.underwriting import round1

LEXICON_PATH = Path(__file__).with_name("data") / "health_lexicon.yaml"

Lang = Literal["zh", "en"]

#: Applicant-level fields that make up the ``bmi`` condition.
BMI_FIELDS = ("height_cm", "weight_kg", "bmi")
#: Plausible ranges for applicant measurements read from free text.
_HEIGHT_RANGE = (100.0, 250.0)
_WEIGHT_RANGE = (20.0, 300.0)

# --------------------------------------------------------------------------- numbers & units

_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_EN_NUMBERS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
               "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
               "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
               "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
               "a couple of": 2, "a couple": 2, "couple of": 2, "a few": 3, "several": 3}
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6}

_NUM = (r"(?P<num>(?<![\d.])\d+(?:\.\d+)?(?:\s*(?:-|~|～|到|至|or)\s*\d+(?:\.\d+)?)?(?![\d])"
        r"|[零〇一二两三四五六七八九十百千]+(?:点[零〇一二三四五六七八九]+)?(?:个半)?|半"
        r"|(?<![a-z])(?:" + "|".join(sorted((re.escape(w) for w in _EN_NUMBERS), key=len, reverse=True))
        + r"|half(?:\s+an?)?|an?)(?![a-z]))")
_CAT = r"(?P<val>(?<![\d.])[1-6](?:\s*[abc])?(?![0-9])|[一二三四五六](?:\s*[abc])?)"

#: Multiplicative unit conversions named by the lexicon (``unit:``).
_FACTORS: dict[str, float] = {
    "x": 1.0, "years": 1.0, "months": 1 / 12, "weeks_to_years": 1 / 52, "days_to_years": 1 / 365,
    "weeks": 1.0, "months_to_weeks": 4.345,
    "cm": 1.0, "mm": 1.0, "cm_to_mm": 10.0, "mm_to_cm": 0.1, "m_to_cm": 100.0, "inch_to_cm": 2.54,
    "kg": 1.0, "jin": 0.5, "lb": 0.45359237, "stone": 6.35029318,
    "degree": 0.01, "dioptre": 1.0,
    "pack": 20.0, "cigarettes": 1.0,
    "grams": 1.0, "standard_drink": 14.0, "uk_unit": 8.0,
    "times": 1.0,
}
_ETHANOL_G_PER_ML = 0.789
#: Drinks named by the lexicon: (volume in ml, alcohol by volume).
_DRINKS: dict[str, tuple[float, float]] = {
    "baijiu_liang": (50, 0.52), "baijiu_jin": (500, 0.52), "baijiu_ml": (1, 0.52), "spirits_shot": (30, 0.40),
    "beer_bottle": (500, 0.04), "beer_can": (330, 0.04), "beer_glass": (250, 0.04), "beer_ml": (1, 0.04),
    "beer": (355, 0.05), "pint": (568, 0.045),
    "wine_glass": (150, 0.12), "wine_bottle": (750, 0.12), "wine_ml": (1, 0.12),
    "huangjiu_bowl": (250, 0.15), "huangjiu_jin": (500, 0.15),
}
#: Blood-pressure grades (systolic, diastolic lower bounds), highest first.
_BP_GRADES = ((3, 180, 110), (2, 160, 100), (1, 140, 90))
_BP_CONTROLLED = (140, 90)


def _parse_num(raw: str | None) -> float | None:
    """A number written in digits, Chinese numerals or English words; a range gives its upper end."""
    if raw is None:
        return None
    s = re.sub(r"\s+", " ", raw.strip())
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(?:-|~|～|到|至|or)\s*(\d+(?:\.\d+)?)", s)
    if m:
        return max(float(m[1]), float(m[2]))
    if re.fullmatch(r"\d+(?:\.\d+)?", s):
        return float(s)
    if s in _EN_NUMBERS:
        return float(_EN_NUMBERS[s])
    if s.startswith("half"):
        return 0.5
    if s in ("a", "an"):
        return 1.0
    half = 0.0
    if s.endswith("个半"):
        s, half = s[:-2], 0.5
    if s == "半":
        return 0.5
    if len(s) == 2 and all(c in _ZH_DIGITS for c in s) and _ZH_DIGITS[s[1]] == _ZH_DIGITS[s[0]] + 1:
        return _ZH_DIGITS[s[1]] + half          # 两三 -> up to 3
    try:
        v = parse_chinese_numeral(s)
    except Exception:                            # pragma: no cover - defensive
        v = None
    return float(v) + half if v is not None else None


def _category(raw: str) -> str | None:
    """``4 A`` / ``四a`` / ``iii`` -> ``4a`` / ``4a`` / ``3``."""
    s = re.sub(r"\s+", "", raw.strip().lower())
    if not s:
        return None
    if s in _ROMAN:
        return str(_ROMAN[s])
    if s[0] in _ZH_DIGITS:
        s = str(_ZH_DIGITS[s[0]]) + s[1:]
    return s


def _drink_grams(kind: str, amount: float) -> float:
    ml, abv = _DRINKS[kind]
    return amount * ml * abv * _ETHANOL_G_PER_ML


def _convert(value: float, unit: str | None) -> float | None:
    if not unit:
        return value
    if unit in _FACTORS:
        return value * _FACTORS[unit]
    if unit in _DRINKS:
        return round(_drink_grams(unit, value), 1)
    if unit == "since_year":
        years = _dt.date.today().year - value
        return years if 0 <= years <= 120 else None
    if unit == "myopia_auto":           # 800 (度) -> 8.0; 8 / 8.5 stay dioptres
        return value / 100 if value > 30 else value
    if unit == "weight_auto":           # zh weight without unit: >= 100 is 斤
        return value / 2 if value >= 100 else value
    if unit == "height_auto":           # height without unit: 1.75 is metres
        return value * 100 if value < 3 else value
    raise KeyError(f"unknown unit {unit!r} in {LEXICON_PATH.name}")


def _bp_grade(sys: int, dia: int) -> int | None:
    for grade, s, d in _BP_GRADES:
        if sys >= s or dia >= d:
            return grade
    return None


# --------------------------------------------------------------------------- text helpers

def normalise(text: str) -> str:
    """NFKC (full-width -> half-width), lower case, curly quotes straightened."""
    t = unicodedata.normalize("NFKC", text or "").lower()
    return t.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _any_overlap(span: tuple[int, int], spans: Iterable[tuple[int, int]]) -> bool:
    return any(_overlaps(span, s) for s in spans)


def _compile(pattern: str, lang: str) -> re.Pattern[str]:
    body = pattern.replace("{num}", _NUM).replace("{cat}", _CAT)
    if lang == "en":
        body = r"(?<![a-z])(?:" + body + r")(?![a-z])"
    try:
        return re.compile(body)
    except re.error as exc:  # pragma: no cover - a broken lexicon entry
        raise ValueError(f"{LEXICON_PATH.name}: bad pattern {pattern!r}: {exc}") from exc


def _literal(name: str) -> str:
    """A condition name from underwriting.yaml as a whitespace-tolerant pattern."""
    parts = [re.escape(p) for p in name.strip().lower().split()]
    return r"\s*".join(parts) + (r"s?" if re.search(r"[a-z]$", name.strip().lower()) else "")


def _compile_all(node: Any, lang: str | None = None) -> list[re.Pattern[str]]:
    """Patterns from ``{zh: [...], en: [...]}`` or a plain list (treated as both)."""
    if node is None:
        return []
    if isinstance(node, Mapping):
        return [_compile(p, lg) for lg in ("zh", "en") for p in _flat(node.get(lg))]
    return [_compile(p, lang or "zh") for p in _flat(node)]


def _flat(node: Any) -> list[Any]:
    if node is None:
        return []
    if isinstance(node, (list, tuple)):
        out: list[Any] = []
        for item in node:
            out += _flat(item) if isinstance(item, (list, tuple)) else [item]
        return out
    return [node]


# --------------------------------------------------------------------------- lexicon

@dataclass(frozen=True)
class _Pattern:
    rx: re.Pattern[str]
    kind: str                         # value | capture | number | bp | height_mcm | feet_inches
    value: Any = None
    unit: str | None = None
    bands: tuple[tuple[dict[str, float], Any], ...] = ()
    priority: int = 0
    weak: bool = False


@dataclass
class _Input:
    """One input's wording; its patterns are compiled on first use (most turns touch few conditions)."""

    name: str
    spec: dict[str, Any]
    raw: list[Any]
    ask: dict[str, str]
    combine: str | None = None
    per_day: bool = False
    shared: bool = False              # a fact about the person: one phrase may serve several conditions
    _compiled: list[_Pattern] | None = None

    @property
    def patterns(self) -> list[_Pattern]:
        if self._compiled is None:
            entries, values = self.raw
            self._compiled = _patterns(entries) + _values_patterns(values)
        return self._compiled


@dataclass
class _Condition:
    cid: str
    name: dict[str, str]
    synonyms: list[re.Pattern[str]]
    exclude: list[re.Pattern[str]]
    negative: list[re.Pattern[str]]
    inputs: dict[str, _Input]


@dataclass
class _Lexicon:
    conditions: dict[str, _Condition]
    applicant: dict[str, _Input]
    neg_prefix: re.Pattern[str]
    neg_postfix: re.Pattern[str]
    pieces: re.Pattern[str]
    clauses: re.Pattern[str]
    none_exact: list[re.Pattern[str]]
    none: list[re.Pattern[str]]
    not_health: list[re.Pattern[str]]
    courtesy: list[re.Pattern[str]]
    others: list[re.Pattern[str]]
    yes: list[re.Pattern[str]]
    no: list[re.Pattern[str]]
    answer_strip: re.Pattern[str]
    answer_particles: re.Pattern[str]
    bare_values: list[_Pattern]
    family: list[re.Pattern[str]]
    self_: list[re.Pattern[str]]
    hypothetical: list[re.Pattern[str]]
    genetic: list[re.Pattern[str]]
    genetic_not: list[re.Pattern[str]]
    unknown_terms: list[re.Pattern[str]]
    unknown_generic: list[re.Pattern[str]]
    unknown_stop: set[str]
    periods: list[tuple[re.Pattern[str], float]]
    generic_ask: dict[str, dict[str, str]]


def _patterns(entries: Any) -> list[_Pattern]:
    out: list[_Pattern] = []
    for e in _flat(entries):
        if not isinstance(e, Mapping):
            raise ValueError(f"{LEXICON_PATH.name}: pattern entry must be a mapping, got {e!r}")
        bands = tuple((dict(b.get("when", {})), b["value"]) for b in e.get("bands", []) or [])
        for lg in ("zh", "en"):
            for p in _flat(e.get(lg)):
                rx = _compile(p, lg)
                if "kind" in e:
                    kind = e["kind"]
                elif "value" in e:
                    kind = "value"
                elif "num" in rx.groupindex:
                    kind = "number"
                elif "val" in rx.groupindex:
                    kind = "capture"
                else:
                    raise ValueError(f"{LEXICON_PATH.name}: pattern {p!r} has no value, {{num}} or {{cat}}")
                out.append(_Pattern(rx=rx, kind=kind, value=e.get("value"), unit=e.get("unit"), bands=bands,
                                    priority=int(e.get("priority", 0)), weak=bool(e.get("weak", False))))
    return out


def _values_patterns(values: Mapping[Any, Any] | None) -> list[_Pattern]:
    """``values: {<value>: {zh: [...], en: [...], priority: n}}`` -> value patterns."""
    out: list[_Pattern] = []
    for value, node in (values or {}).items():
        node = node if isinstance(node, Mapping) else {"zh": node}
        out += _patterns([{**node, "value": value}])
    return out


def _alternation(words: Iterable[str]) -> str:
    items = sorted({w for w in words if w}, key=len, reverse=True)
    return "|".join(items) if items else r"(?!x)x"


@lru_cache(maxsize=8)
def _load(lexicon_path: str, filing: str) -> _Lexicon:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw = yaml.load(Path(lexicon_path).read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - safe loader
    uw = load_underwriting()
    lex_conds = raw.get("conditions") or {}
    conditions: dict[str, _Condition] = {}
    for cid, spec in uw["conditions"].items():
        entry = lex_conds.get(cid) or {}
        names = [_literal(n) for n in condition_names(cid, spec)]
        synonyms = [_compile(n, "en" if re.fullmatch(r"[ -~]+", n) else "zh") for n in names]
        synonyms += _compile_all(entry.get("synonyms"))
        inputs: dict[str, _Input] = {}
        lex_inputs = entry.get("inputs") or {}
        for name, ispec in (spec.get("inputs") or {}).items():
            li = lex_inputs.get(name) or {}
            inputs[name] = _Input(name=name, spec=dict(ispec), raw=[li.get("patterns"), li.get("values")],
                                  ask=dict(li.get("ask") or {}),
                                  combine=li.get("combine"), per_day=bool(li.get("per_day", False)),
                                  shared=bool(li.get("shared", False)))
        conditions[cid] = _Condition(cid=cid, name=dict(spec.get("name") or {}), synonyms=synonyms,
                                     exclude=_compile_all(entry.get("exclude")),
                                     negative=_compile_all(entry.get("negative")), inputs=inputs)
    applicant: dict[str, _Input] = {}
    for name, li in (raw.get("applicant") or {}).items():
        applicant[name] = _Input(name=name, spec={"type": "number"}, raw=[li.get("patterns"), None],
                                 ask=dict(li.get("ask") or {}))
    neg = raw["negation"]
    cues = [c for lg in ("zh", "en") for c in _flat(neg["cues"].get(lg))]
    filler = [f for lg in ("zh", "en") for f in _flat(neg["filler"].get(lg))]
    joiners = [j for lg in ("zh", "en") for j in _flat(neg["joiners"].get(lg))]
    neg_prefix = re.compile(r"(?:(?<![a-z])(?:" + _alternation(cues) + r"))(?:\s|§|" + _alternation(filler + joiners)
                            + r")*$")
    post = [c for lg in ("zh", "en") for c in _flat(neg["postfix"].get(lg))]
    neg_postfix = re.compile(r"^(?:\s|[:\-=]|" + _alternation(_flat(neg.get("postfix_lead"))) + r")*(?:"
                             + _alternation(post) + r")(?:\s|[.!。~]|" + _alternation(_flat(neg.get("particles")))
                             + r")*$")
    seg = raw["segmentation"]
    pieces = re.compile(seg["pieces"])
    clause_words = [w for lg in ("zh", "en") for w in _flat(seg["conjunctions"].get(lg))]
    clauses = re.compile(seg["pieces"] + r"|、|" + "|".join(clause_words))
    ans = raw["answers"]
    unknown = raw.get("unknown") or {}
    gen = raw.get("genetic") or {}
    periods = [(rx, float(p["divide"])) for p in (raw.get("periods") or {}).values()
               for rx in _compile_all(p)]
    return _Lexicon(
        conditions=conditions, applicant=applicant, neg_prefix=neg_prefix, neg_postfix=neg_postfix,
        pieces=pieces, clauses=clauses,
        none_exact=_compile_all((raw.get("none") or {}).get("exact")),
        none=_compile_all((raw.get("none") or {}).get("phrases")),
        not_health=_compile_all((raw.get("none") or {}).get("not_health")),
        courtesy=_compile_all((raw.get("none") or {}).get("courtesy")),
        others=_compile_all(raw.get("no_others")),
        yes=_compile_all(ans.get("yes_words")), no=_compile_all(ans.get("no_words")),
        answer_strip=re.compile(ans.get("strip", r"[,.!?。~]+")),
        answer_particles=re.compile(ans.get("particles", r"(?!x)x")),
        bare_values=_values_patterns(ans.get("bare_values")),
        family=_compile_all((raw.get("family") or {}).get("cues")),
        self_=_compile_all((raw.get("family") or {}).get("self")),
        hypothetical=_compile_all(raw.get("hypothetical")),
        genetic=_compile_all(gen.get("cues")), genetic_not=_compile_all(gen.get("not")),
        unknown_terms=_compile_all(unknown.get("terms")), unknown_generic=_compile_all(unknown.get("patterns")),
        unknown_stop={normalise(s) for s in _flat(unknown.get("stop"))},
        periods=periods, generic_ask=dict(raw.get("generic_questions") or {}),
    )


def lexicon() -> _Lexicon:
    """The compiled lexicon for the current filing (loaded once per filing folder)."""
    return _load(str(LEXICON_PATH), str(filing_dir()))


def reload_lexicon() -> None:
    """Forget the compiled lexicon (after editing the YAML or switching filings in a test)."""
    _load.cache_clear()


# --------------------------------------------------------------------------- public helpers

def condition_name(condition: str, lang: str = "zh") -> str:
    """A condition's display name in ``lang`` from underwriting.yaml (its id if unknown)."""
    spec = load_underwriting()["conditions"].get(condition) or {}
    return (spec.get("name") or {}).get("en" if lang == "en" else "zh") or condition


def required_inputs(condition: str) -> list[str]:
    """Inputs a declaration of ``condition`` must carry for the tool (those without a ``default``,
    in underwriting.yaml order). For ``bmi``: ``["bmi"]`` (or height_cm + weight_kg)."""
    spec = load_underwriting()["conditions"].get(condition)
    if spec is None:
        raise KeyError(condition)
    return [n for n, s in (spec.get("inputs") or {}).items() if "default" not in (s or {})]


def missing_for(declaration: Mapping[str, Any]) -> list[str]:
    """Required inputs a declaration still lacks. For ``bmi``: ``["bmi"]`` when nothing is known,
    ``["weight_kg"]`` / ``["height_cm"]`` when only the other one is."""
    cid = declaration.get("condition")
    if cid == "bmi":
        h, w, b = (declaration.get(k) is not None for k in ("height_cm", "weight_kg", "bmi"))
        if (h and w) or b:
            return []
        if h:
            return ["weight_kg"]
        if w:
            return ["height_cm"]
        return ["bmi"]
    return [n for n in required_inputs(str(cid)) if declaration.get(n) is None]


def question_for(condition: str, input_name: str, lang: str = "zh") -> str:
    """A short natural question asking for one input of a condition (zh or en).

    Templates come from the lexicon (``conditions.<id>.inputs.<input>.ask``, or
    ``applicant.<field>.ask`` for height_cm / weight_kg); otherwise one is generated
    from underwriting.yaml (the condition's name, the input's label and its allowed values).
    """
    lg = "en" if lang == "en" else "zh"
    lex = lexicon()
    name = condition_name(condition, lg)
    cond = lex.conditions.get(condition)
    inp = cond.inputs.get(input_name) if cond else None
    template = (inp.ask.get(lg) if inp else None) or (
        lex.applicant[input_name].ask.get(lg) if input_name in lex.applicant else None)
    if not template:
        spec = (load_underwriting()["conditions"].get(condition, {}).get("inputs") or {}).get(input_name) or {}
        label = spec.get(lg) or input_name.replace("_", " ")
        kind = spec.get("type")
        generic = lex.generic_ask.get(kind if kind in ("enum", "bool") else "number") or {}
        template = generic.get(lg) or ("{name}: {label}?" if lg == "en" else "关于{name}：{label}？")
        options = ("、" if lg == "zh" else ", ").join(str(v) for v in spec.get("values", []))
        return template.format(name=name, label=label, options=options)
    return template.format(name=name)


# --------------------------------------------------------------------------- result

class HealthExtraction(BaseModel):
    """What one customer turn says about the applicant's health.

    ``declarations`` holds one entry per declared condition, complete or not, in the
    ``pre_underwrite`` format (pending ones from earlier turns first, merged);
    ``missing_inputs`` names, per condition, the inputs still to ask for (absent when
    complete). Pass :attr:`complete` to the tool, and all of ``declarations`` back as
    ``pending`` on the next turn.
    """

    lang: Lang = "zh"
    declarations: list[dict[str, Any]] = Field(default_factory=list)
    missing_inputs: dict[str, list[str]] = Field(default_factory=dict)
    none_declared: bool = False          # the customer has nothing to declare
    no_others: bool = False              # "nothing else" / "其他没有": the list is complete
    negated: list[str] = Field(default_factory=list)          # conditions explicitly denied
    family_history: list[str] = Field(default_factory=list)   # conditions of relatives (not declared)
    hypothetical: list[str] = Field(default_factory=list)     # asked about / at risk of, not had
    refused_genetic: bool = False        # genetic test data mentioned: refused, never declared
    unknown_conditions: list[str] = Field(default_factory=list)
    bmi: float | None = None
    height_cm: float | None = None
    weight_kg: float | None = None
    mentions: dict[str, str] = Field(default_factory=dict)    # condition -> words the customer used

    @property
    def complete(self) -> list[dict[str, Any]]:
        """Declarations with every required input (ready for ``pre_underwrite``)."""
        return [d for d in self.declarations if not self.missing_inputs.get(d["condition"])]

    @property
    def incomplete(self) -> list[dict[str, Any]]:
        """Declarations that still lack inputs (ask, then pass back as ``pending``)."""
        return [d for d in self.declarations if self.missing_inputs.get(d["condition"])]

    @property
    def is_complete(self) -> bool:
        """True when nothing is missing."""
        return not any(self.missing_inputs.values())

    def conditions(self) -> list[str]:
        """Declared condition ids, in order."""
        return [d["condition"] for d in self.declarations]

    def applicant(self) -> dict[str, float]:
        """``height_cm`` / ``weight_kg`` / ``bmi`` known so far (applicant fields of the tool)."""
        return {k: getattr(self, k) for k in BMI_FIELDS if getattr(self, k) is not None}

    def tool_args(self, product_id: str) -> dict[str, Any]:
        """Arguments for ``pre_underwrite``: the complete declarations of this extraction."""
        return {"product_id": product_id, "declarations": self.complete}

    def questions(self, lang: str | None = None, limit: int = 2) -> list[tuple[str, str, str]]:
        """The next ``limit`` things to ask: ``(condition, input, question)`` in declaration order."""
        out: list[tuple[str, str, str]] = []
        for d in self.declarations:
            for name in self.missing_inputs.get(d["condition"], []):
                if len(out) >= limit:
                    return out
                out.append((d["condition"], name, question_for(d["condition"], name, lang or self.lang)))
        return out


# --------------------------------------------------------------------------- scanning

@dataclass
class _Mention:
    cid: str
    start: int
    end: int
    status: str = "positive"          # positive | negated | family | hypothetical
    explicit: bool = False            # a ``negative`` phrase of the lexicon ("non-smoker", "戒烟了")

    @property
    def span(self) -> tuple[int, int]:
        return self.start, self.end


@dataclass
class _Hit:
    cid: str
    name: str
    value: Any
    start: int
    end: int
    priority: int = 0
    weak: bool = False
    cost: float = 0.0
    tier: int = 0
    combine_max: bool = False
    shared: bool = False

    @property
    def span(self) -> tuple[int, int]:
        return self.start, self.end


class _Text:
    """The normalised text with its pieces (comma-level) and clauses (conjunction-level)."""

    def __init__(self, text: str, lex: _Lexicon) -> None:
        self.t = text
        self.piece_starts = [0] + [m.end() for m in lex.pieces.finditer(text)]
        self.clause_starts = [0] + [m.end() for m in lex.clauses.finditer(text)]

    def piece(self, pos: int) -> int:
        return bisect.bisect_right(self.piece_starts, pos) - 1

    def clause(self, pos: int) -> int:
        return bisect.bisect_right(self.clause_starts, pos) - 1

    def piece_bounds(self, pos: int) -> tuple[int, int]:
        i = self.piece(pos)
        end = self.piece_starts[i + 1] if i + 1 < len(self.piece_starts) else len(self.t)
        return self.piece_starts[i], end

    def pieces(self) -> list[tuple[int, int]]:
        starts = self.piece_starts
        return [(s, starts[i + 1] if i + 1 < len(starts) else len(self.t)) for i, s in enumerate(starts)]


def _spans(patterns: Iterable[re.Pattern[str]], text: str) -> list[tuple[int, int]]:
    return [m.span() for rx in patterns for m in rx.finditer(text) if m.end() > m.start()]


def _negated_before(lex: _Lexicon, tx: _Text, start: int, masks: list[tuple[int, int]]) -> bool:
    """Whether a negation cue governs the phrase starting at ``start`` (same piece; other masked
    phrases, fillers and joiners may stand between)."""
    p0, _ = tx.piece_bounds(start)
    chars = list(tx.t[p0:start])
    for a, b in masks:
        for i in range(max(a, p0), min(b, start)):
            chars[i - p0] = "§"
    before = re.sub("§+", "§", "".join(chars))
    return bool(lex.neg_prefix.search(before[-60:]))


def _negated_after(lex: _Lexicon, tx: _Text, end: int) -> bool:
    _, p1 = tx.piece_bounds(max(end - 1, 0))
    return bool(lex.neg_postfix.search(tx.t[end:p1]))


def _find_mentions(lex: _Lexicon, tx: _Text, blocked: list[tuple[int, int]]) -> list[_Mention]:
    t = tx.t
    cands: list[tuple[int, int, str, bool]] = []
    for cid, cond in lex.conditions.items():
        excluded = _spans(cond.exclude, t)
        for rx in cond.synonyms:
            for m in rx.finditer(t):
                if m.end() > m.start() and not _any_overlap(m.span(), excluded) and not _any_overlap(m.span(), blocked):
                    cands.append((m.start(), m.end(), cid, False))
        for rx in cond.negative:
            for m in rx.finditer(t):
                if m.end() > m.start():
                    cands.append((m.start(), m.end(), cid, True))
    cands.sort(key=lambda c: (-(c[1] - c[0]), c[3] is False, c[0]))
    chosen: list[tuple[int, int, str, bool]] = []
    for c in cands:
        if not any(_overlaps((c[0], c[1]), (d[0], d[1])) for d in chosen):
            chosen.append(c)
    chosen.sort()
    mentions = [_Mention(cid, s, e, "negated" if neg else "positive", explicit=neg) for s, e, cid, neg in chosen]
    spans = [m.span for m in mentions]
    for m in mentions:
        if m.status != "positive":
            continue
        others = [s for s in spans if s != m.span]
        if _negated_before(lex, tx, m.start, others) or _negated_after(lex, tx, m.end):
            m.status = "negated"
            continue
        p0, p1 = tx.piece_bounds(m.start)
        piece = t[p0:p1]
        if any(rx.search(piece) for rx in lex.hypothetical):
            m.status = "hypothetical"
        elif any(rx.search(t[p0:m.start]) for rx in lex.family) and not any(rx.search(piece) for rx in lex.self_):
            m.status = "family"
    return mentions


# --------------------------------------------------------------------------- values

def _coerce(spec: Mapping[str, Any], value: Any) -> Any:
    """``value`` in the type underwriting.yaml wants, or None when it is not allowed."""
    kind = spec.get("type")
    if value is None:
        return None
    if kind == "bool":
        return value if isinstance(value, bool) else None
    if kind == "enum":
        if isinstance(value, bool):
            return None
        key = _category(str(value)) if isinstance(value, str) else str(value)
        for allowed in spec.get("values", []):
            a = str(allowed).lower()
            if a == str(value).strip().lower() or a == key:
                return allowed
            try:
                if Decimal(a) == Decimal(str(value)):
                    return allowed
            except Exception:
                pass
        return None
    if isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    lo, hi = spec.get("min"), spec.get("max")
    if kind == "int":
        x = float(Decimal(str(x)).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
    else:
        x = round(x, 2)
    if (lo is not None and x < float(lo)) or (hi is not None and x > float(hi)):
        return None
    return int(x) if (kind == "int" or x == int(x)) else x


def _band(value: float, bands: tuple[tuple[dict[str, float], Any], ...]) -> Any:
    ops = {"lt": float.__lt__, "lte": float.__le__, "gt": float.__gt__, "gte": float.__ge__}
    for when, out in bands:
        if all(ops[op](float(value), float(b)) for op, b in when.items()):
            return out
    return None


def _period_divisor(lex: _Lexicon, tx: _Text, start: int) -> float:
    p0, p1 = tx.piece_bounds(start)
    piece = tx.t[p0:p1]
    for rx, div in lex.periods:
        if rx.search(piece):
            return div
    return 1.0


def _pattern_values(p: _Pattern, m: re.Match[str], inp: _Input, lex: _Lexicon, tx: _Text) -> Any:
    """The raw value one pattern match says (before type coercion)."""
    if p.kind == "value":
        return p.value
    if p.kind == "capture":
        return _category(m.group("val"))
    if p.kind == "bp":
        sys_, dia = int(m.group("sys")), int(m.group("dia"))
        if not (70 <= sys_ <= 280 and 40 <= dia <= 180 and sys_ > dia):
            return None
        if inp.name == "grade" or p.unit == "grade":
            return _bp_grade(sys_, dia)
        return sys_ < _BP_CONTROLLED[0] and dia < _BP_CONTROLLED[1]
    if p.kind == "height_mcm":
        metres = _parse_num(m.group("m"))
        rest = m.group("cm") or ""
        digits = "".join(str(_ZH_DIGITS[c]) if c in _ZH_DIGITS else c for c in rest)
        if metres is None or (digits and not digits.isdigit()):
            return None
        cm = int(digits) * (10 if len(digits) == 1 else 1) if digits else 0
        return metres * 100 + cm
    if p.kind == "feet_inches":
        ft = float(m.group("ft"))
        inch = float(m.group("inch")) if m.groupdict().get("inch") else 0.0
        return (ft * 12 + inch) * 2.54
    n = _parse_num(m.group("num"))
    if n is None:
        return None
    if "half" in m.re.groupindex and m.group("half"):
        n += 0.5
    v = _convert(n, p.unit)
    if v is None:
        return None
    if inp.per_day:
        v = v / _period_divisor(lex, tx, m.start())
    if p.bands:
        return _band(v, p.bands)
    return v


def _scan_input(cid: str, inp: _Input, lex: _Lexicon, tx: _Text, masks: list[tuple[int, int]],
                blocked: list[tuple[int, int]]) -> list[_Hit]:
    """Every value phrase of one input in the text (negation applied, invalid values dropped,
    phrases inside a longer phrase of the same input dropped)."""
    hits: list[_Hit] = []
    is_bool = inp.spec.get("type") == "bool"
    for p in inp.patterns:
        for m in p.rx.finditer(tx.t):
            if m.end() == m.start() or _any_overlap(m.span(), blocked):
                continue
            value = _pattern_values(p, m, inp, lex, tx)
            if value is None:
                continue
            if p.kind in ("value", "number", "capture") and _negated_before(lex, tx, m.start(), masks):
                if not (is_bool and isinstance(value, bool)):
                    continue
                value = not value
            value = _coerce(inp.spec, value) if cid else value
            if value is None:
                continue
            hits.append(_Hit(cid, inp.name, value, m.start(), m.end(), p.priority, p.weak))
    return [h for h in hits
            if not any(o is not h and o.start <= h.start and h.end <= o.end and (o.end - o.start) > (h.end - h.start)
                       for o in hits)]


def _cost(hit: _Hit, mentions: list[_Mention], own: list[_Mention], tx: _Text) -> tuple[int, float] | None:
    """``(tier, cost)`` of attaching ``hit`` to the nearest of ``own`` mentions (None: not reachable)."""
    best: tuple[int, float] | None = None
    first_start = mentions[0].start if mentions else len(tx.t)
    for m in own:
        if _overlaps(hit.span, m.span):
            cand = (0, 0.0)
        else:
            after = hit.start >= m.end
            lo, hi = (m.end, hit.start) if after else (hit.end, m.start)
            blocked = any(o.cid != m.cid and lo <= o.start and o.end <= hi for o in mentions)
            same = tx.clause(hit.start) == tx.clause(m.start)
            gap = hi - lo
            if blocked:
                cand = (3, 100.0 + gap * 0.01)
            elif after:
                cand = (0, gap * 0.01) if same else (0, 10.0 * (tx.clause(hit.start) - tx.clause(m.start)) + gap * 0.001)
            elif same:
                cand = (0, 0.005 + gap * 0.01)
            elif hit.end <= first_start:
                cand = (2, 20.0 + 10.0 * (tx.clause(m.start) - tx.clause(hit.start)))
            else:
                cand = (3, 100.0 + gap * 0.01)
        if best is None or cand < best:
            best = cand
    return best


def _assign(hits: list[_Hit]) -> dict[tuple[str, str], list[_Hit]]:
    """Choose at most one value per (condition, input): tier by tier, slots with a single
    candidate first, then the cheapest; a text span serves one condition only. A
    ``combine: max`` input keeps all its candidates of the chosen tier (the caller takes the max)."""
    used: list[_Hit] = []
    chosen: dict[tuple[str, str], list[_Hit]] = {}
    for tier in sorted({h.tier for h in hits}):
        pool = [h for h in hits if h.tier == tier]
        while True:
            avail: dict[tuple[str, str], list[_Hit]] = {}
            for h in pool:
                slot = (h.cid, h.name)
                if slot in chosen:
                    continue
                if any(_overlaps(h.span, u.span) and u.cid != h.cid and not (u.shared and h.shared and u.name == h.name)
                       for u in used):
                    continue
                avail.setdefault(slot, []).append(h)
            if not avail:
                break

            def best_cost(slot: tuple[str, str]) -> float:
                return min(h.cost for h in avail[slot])

            forced = [s for s, hs in avail.items() if len({h.span for h in hs}) == 1] if tier == 0 else []
            slot = min(forced or list(avail), key=lambda s: (best_cost(s), s))
            cands = avail[slot]
            pick = min(cands, key=lambda h: (h.weak, -h.priority, h.cost, h.start))
            group = cands if pick.combine_max else [pick]
            chosen[slot] = group
            used += group
    return chosen


# --------------------------------------------------------------------------- main entry

def _strip_answer(lex: _Lexicon, s: str) -> str:
    """A short answer without punctuation, trailing particles and extra spaces."""
    s = lex.answer_strip.sub(" ", s)
    s = re.sub(r"\s+", " ", s).strip()
    return lex.answer_particles.sub("", s).strip()


def extract_declarations(text: str, lang: str | None = None, *, pending: list[dict[str, Any]] | None = None,
                         asked: tuple[str, str] | Iterable[tuple[str, str]] | None = None,
                         for_relative: bool = False) -> HealthExtraction:
    """Turn one customer utterance about their health into underwriting declarations.

    ``pending``: declarations from earlier turns (complete or not, as returned before);
    values in this turn complete or correct them, and a bare answer ("3类", "TI-RADS 4",
    "150/95", "控制得挺好", "没有") fills their missing inputs. ``asked``: the
    ``(condition, input)`` pair(s) the previous question asked for, to place a bare
    yes/no, value word or number; by default the first two missing inputs (the ones
    :meth:`HealthExtraction.questions` asks). ``for_relative``: the insured
    person is the relative being described ("我妈妈有高血压" is then declared).
    """
    lex = lexicon()
    asked_slots: list[tuple[str, str]] | None = None
    if asked:
        asked_slots = [asked] if isinstance(asked, tuple) and len(asked) == 2 and isinstance(asked[0], str) \
            else [tuple(a) for a in asked]  # type: ignore[misc]
    t = normalise(text)
    if lang is None:
        lang = detect_language(text) if re.search(r"[a-zA-Z\u4e00-\u9fff]", text or "") else "zh"
    lg: Lang = "en" if lang == "en" else "zh"
    tx = _Text(t, lex)
    pending = [dict(d) for d in (pending or []) if isinstance(d, Mapping) and d.get("condition") in lex.conditions]
    result = HealthExtraction(lang=lg)

    # genetic data: flagged, its words never become anything else
    not_gen = _spans(lex.genetic_not, t)
    gen_spans = [s for s in _spans(lex.genetic, t) if not _any_overlap(s, not_gen)]
    result.refused_genetic = bool(gen_spans)

    # applicant measurements (height / weight / BMI)
    app_hits: dict[str, _Hit] = {}
    app_spans: list[tuple[int, int]] = []
    for name, inp in lex.applicant.items():
        for h in sorted(_scan_input("", inp, lex, tx, [], gen_spans), key=lambda h: (-(h.end - h.start), h.start)):
            v = float(h.value)
            lo, hi = {"height_cm": _HEIGHT_RANGE, "weight_kg": _WEIGHT_RANGE}.get(name, (10.0, 70.0))
            if lo <= v <= hi and not _any_overlap(h.span, app_spans):
                app_hits.setdefault(name, h)
                app_spans.append(h.span)

    mentions = _find_mentions(lex, tx, gen_spans + app_spans)
    if for_relative:
        for m in mentions:
            if m.status == "family":
                m.status = "positive"
    by_cid: dict[str, list[_Mention]] = {}
    for m in mentions:
        by_cid.setdefault(m.cid, []).append(m)

    declared: list[str] = []
    for cid, ms in by_cid.items():
        positives = [m for m in ms if m.status == "positive"]
        negs = [m for m in ms if m.status == "negated"]
        if positives and not (negs and negs[-1].start > positives[-1].start
                              and _retracts(t, negs[-1], positives, cid)):
            declared.append(cid)
            result.mentions[cid] = t[positives[0].start:positives[0].end]
        elif negs:
            result.negated.append(cid)
        elif any(m.status == "family" for m in ms):
            result.family_history.append(cid)
        else:
            result.hypothetical.append(cid)
    pending_ids = [d["condition"] for d in pending if d["condition"] not in result.negated]
    owners = list(dict.fromkeys(declared + pending_ids))

    # values of every owner's inputs
    mention_spans = [m.span for m in mentions]
    hits: list[_Hit] = []
    raw_value_spans: list[tuple[int, int]] = []
    for cid in owners:
        if cid == "bmi":
            continue
        cond = lex.conditions[cid]
        own = [m for m in by_cid.get(cid, []) if m.status == "positive"]
        foreign = [m.span for m in mentions if m.cid != cid]
        for inp in cond.inputs.values():
            for h in _scan_input(cid, inp, lex, tx, mention_spans, gen_spans + app_spans + foreign):
                raw_value_spans.append(h.span)
                if own:
                    tc = _cost(h, mentions, own, tx)
                    if tc is None:
                        continue
                    h.tier, h.cost = tc
                    if cid in pending_ids and h.tier >= 2:
                        h.tier, h.cost = 1, 15.0
                else:                       # pending only: a bare answer
                    h.tier, h.cost = 1, 15.0
                h.combine_max = inp.combine == "max"
                h.shared = inp.shared
                hits.append(h)
    chosen = _assign(hits)
    values: dict[str, dict[str, Any]] = {cid: {} for cid in owners}
    strong: dict[str, set[str]] = {cid: set() for cid in owners}
    for (cid, name), group in chosen.items():
        if group[0].combine_max:
            values[cid][name] = max(h.value for h in group)
            strong[cid].add(name)
        else:
            values[cid][name] = group[0].value
            if not group[0].weak:
                strong[cid].add(name)

    # merge with pending declarations
    merged: dict[str, dict[str, Any]] = {}
    for d in pending:
        cid = d["condition"]
        if cid in result.negated:
            continue
        old = {k: v for k, v in d.items() if k != "condition" and v is not None}
        new = values.get(cid, {})
        for k, v in new.items():
            if k not in old or k in strong.get(cid, set()):
                old[k] = v
        merged[cid] = old
    for cid in owners:
        if cid not in merged:
            merged[cid] = dict(values.get(cid, {}))

    # bare answers for pending inputs: yes / no, or a lone number / category
    used_answer = False
    if pending_ids:
        used_answer = _bare_answers(lex, tx, merged, pending_ids, asked_slots, mention_spans, lg)

    # BMI from the applicant's measurements
    bmi_vals = dict(merged.get("bmi", {}))
    for name, h in app_hits.items():
        bmi_vals[name] = _tidy(h.value, 1)
    if bmi_vals or "bmi" in owners:
        if "bmi" not in merged:
            owners.append("bmi")
        h, w = bmi_vals.get("height_cm"), bmi_vals.get("weight_kg")
        if h is not None and w is not None:
            result.bmi = float(round1(Decimal(str(w)) / (Decimal(str(h)) / 100) ** 2))
            bmi_vals.pop("bmi", None)
        elif bmi_vals.get("bmi") is not None:
            result.bmi = float(round1(Decimal(str(bmi_vals["bmi"]))))
        result.height_cm, result.weight_kg = h, w
        merged["bmi"] = bmi_vals

    # declarations in order: pending first, then as mentioned
    order = [d["condition"] for d in pending if d["condition"] in merged]
    order += [c for c in owners if c not in order]
    uw_conditions = load_underwriting()["conditions"]
    for cid in order:
        vals = merged.get(cid, {})
        spec_inputs = uw_conditions[cid].get("inputs") or {}
        decl: dict[str, Any] = {"condition": cid}
        if cid == "bmi":
            # the tool takes height_cm + weight_kg, or bmi alone (one of height/weight plus bmi is an error)
            hw = {k: vals[k] for k in ("height_cm", "weight_kg") if vals.get(k) is not None}
            if len(hw) < 2 and vals.get("bmi") is not None:
                hw = {"bmi": vals["bmi"]}
            decl.update(hw)
        else:
            for name, ispec in spec_inputs.items():
                if vals.get(name) is not None:
                    decl[name] = vals[name]
                elif "default" in (ispec or {}):
                    decl[name] = ispec["default"]
        result.declarations.append(decl)
        missing = missing_for(decl)
        if missing:
            result.missing_inputs[cid] = missing

    # nothing to declare / nothing else
    stripped = _strip_answer(lex, t)
    for rx in lex.courtesy:                     # "没有，谢谢" / "no, thanks": the answer is "没有" / "no"
        stripped = _strip_answer(lex, rx.sub(" ", stripped))
    masked = _mask(t, mention_spans + _spans(lex.not_health, t))   # "没别的问题了，拜拜" is not a declaration
    said_none = (any(rx.fullmatch(stripped) for rx in lex.none_exact) and not _spans(lex.not_health, t)) \
        or any(rx.search(masked) for rx in lex.none)
    said_others = any(rx.search(masked) for rx in lex.others)
    health_decls = [d for d in result.declarations if d["condition"] != "bmi"]

    # health problems that are not on the declaration list
    known = mention_spans + raw_value_spans + gen_spans + app_spans
    result.unknown_conditions = _unknown(lex, tx, known)
    if not used_answer:
        result.no_others = said_others or (said_none and not health_decls and not result.unknown_conditions)
        result.none_declared = (said_none or said_others) and not health_decls and not result.unknown_conditions
    return result


def _retracts(t: str, neg: _Mention, positives: list[_Mention], cid: str) -> bool:
    """Whether a denial after the positive mentions takes the condition back ("我有高血压……其实没有
    高血压", "I smoke - well, I'm a non-smoker now"): an explicit negative phrase does, and so does
    a denial of the same words or of the condition's own name. Denying a different aspect does not
    ("a stent for coronary heart disease, no heart attack since")."""
    if neg.explicit:
        return True
    said = squash(t[neg.start:neg.end])
    for p in positives:
        other = squash(t[p.start:p.end])
        if said and other and (said in other or other in said):
            return True
    spec = load_underwriting()["conditions"].get(cid) or {}
    names = [squash(n) for n in condition_names(cid, spec)]
    return any(n and n in said for n in names)


def _tidy(value: Any, digits: int) -> int | float:
    x = round(float(value), digits)
    return int(x) if x == int(x) else x


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for a, b in spans:
        for i in range(a, b):
            chars[i] = "§"
    return "".join(chars)


def _answer_slots(merged: dict[str, dict[str, Any]], pending_ids: list[str],
                  asked: Iterable[tuple[str, str]] | None) -> list[tuple[str, str]]:
    """The inputs a bare answer may fill: the ``asked`` ones, else the first two still missing."""
    slots: list[tuple[str, str]] = []
    if asked:
        slots = [tuple(a) for a in asked if a and a[0] in merged]  # type: ignore[misc]
    if not slots:
        for cid in pending_ids:
            slots += [(cid, n) for n in missing_for({"condition": cid, **merged.get(cid, {})})]
        slots = slots[:2]
    out: list[tuple[str, str]] = []
    for cid, name in slots:
        if cid == "bmi" and name == "bmi":
            out += [("bmi", "height_cm"), ("bmi", "weight_kg"), ("bmi", "bmi")]
        else:
            out.append((cid, name))
    return [s for s in out if merged.get(s[0], {}).get(s[1]) is None]


def _bmi_bare(name: str, n: float, lang: str) -> float | None:
    if name == "height_cm":
        v = n * 100 if n < 3 else n
        return v if _HEIGHT_RANGE[0] <= v <= _HEIGHT_RANGE[1] else None
    if name == "weight_kg":
        v = _convert(n, "weight_auto") if lang == "zh" else n
        return v if v is not None and _WEIGHT_RANGE[0] <= v <= _WEIGHT_RANGE[1] else None
    return n if 10 <= n <= 70 else None


def _bare_answers(lex: _Lexicon, tx: _Text, merged: dict[str, dict[str, Any]], pending_ids: list[str],
                  asked: Iterable[tuple[str, str]] | None, mention_spans: list[tuple[int, int]], lang: str) -> bool:
    """Fill pending inputs from comma-pieces that are only "yes"/"no", a bare value word
    ("正常", "mild") or a bare number / category. Returns True when such an answer was used."""
    slots = _answer_slots(merged, pending_ids, asked)
    if not slots:
        return False
    used = False
    conds = lex.conditions

    def spec_of(cid: str, name: str) -> dict[str, Any]:
        return {"type": "number"} if cid == "bmi" else conds[cid].inputs[name].spec

    def fill(pred: Any) -> bool:
        for cid, name in slots:
            if merged[cid].get(name) is None:
                value = pred(cid, name, spec_of(cid, name))
                if value is not None:
                    merged[cid][name] = value
                    return True
        return False

    for a, b in tx.pieces():
        if _any_overlap((a, b), mention_spans):
            continue
        piece = _strip_answer(lex, tx.t[a:b])
        if not piece:
            continue
        yes = any(rx.fullmatch(piece) for rx in lex.yes)
        no = any(rx.fullmatch(piece) for rx in lex.no)
        if yes or no:
            used |= fill(lambda c, n, sp: bool(yes) if sp.get("type") == "bool" else None)
            continue
        words = [p.value for p in lex.bare_values if p.rx.fullmatch(piece)]
        if words:
            used |= fill(lambda c, n, sp: next((v for v in (_coerce(sp, w) for w in words) if v is not None), None)
                         if sp.get("type") == "enum" else None)
            continue
        num = re.fullmatch(_NUM + r"|" + _CAT.replace("val", "cat"), piece)
        if not num:
            continue
        raw = num.group("num") or num.group("cat")
        n = _parse_num(raw)

        def numeric(c: str, name: str, sp: dict[str, Any]) -> Any:
            if c == "bmi":
                v = _bmi_bare(name, n, lang) if n is not None else None
                return _tidy(v, 1) if v is not None else None
            if sp.get("type") == "bool":
                return None
            return _coerce(sp, _category(raw) if sp.get("type") == "enum" else n)
        used |= fill(numeric)
    return used


def _unknown(lex: _Lexicon, tx: _Text, known: list[tuple[int, int]]) -> list[str]:
    t = tx.t
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = list(known)
    for rx in lex.unknown_terms:
        for m in rx.finditer(t):
            if m.end() > m.start() and not _any_overlap(m.span(), taken):
                found.append((m.start(), m.group(0).strip()))
                taken.append(m.span())
    for rx in lex.unknown_generic:
        for m in rx.finditer(t):
            g = 1 if rx.groups else 0
            span = m.span(g)
            word = m.group(g).strip() if m.group(g) else ""
            if not word or word in lex.unknown_stop or _any_overlap(span, taken):
                continue
            found.append((span[0], word))
            taken.append(span)
    out: list[str] = []
    for start, word in sorted(found):
        if _negated_before(lex, tx, start, []):
            continue
        p0, p1 = tx.piece_bounds(start)
        if any(rx.search(t[p0:start]) for rx in lex.family) or any(rx.search(t[p0:p1]) for rx in lex.hypothetical):
            continue
        if word not in out:
            out.append(word)
    return out


__all__ = [
    "BMI_FIELDS", "HealthExtraction", "LEXICON_PATH", "condition_name", "extract_declarations", "lexicon",
    "missing_for", "normalise", "question_for", "reload_lexicon", "required_inputs",
]

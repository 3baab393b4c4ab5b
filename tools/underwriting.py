"""Pre-underwriting engine: health declarations -> decision for one product or line.

Everything comes from ``underwriting.yaml`` (see ``shared/spec/README.md``):

1. Genetic inputs are refused (``genetic_data``, rule ``UW-GEN-00``): a declaration
   whose condition is genetic is dropped whole, a genetic input key is dropped from
   its declaration, an applicant-level genetic key is dropped. They are listed (by
   name, never by value) in ``refused_inputs`` and the notice is returned; the rest
   of the result is the same as without them.
2. Each declaration is validated (``matching.errors``) and matched: the FIRST rule
   whose ``when`` matches wins (list = membership, ``{gte,gt,lte,lt}`` = range,
   scalar = equality, ``{}`` = always). Then ``line_requirements`` apply.
3. Combination: any decline -> decline; loading sum > line cap -> decline
   (``UW-COMB-CAP``); any postpone -> postpone (max months); else
   loading / exclusion / loading_and_exclusion / standard.

Value rules: ``enum`` values match loosely (``3`` == ``"3"``, ``"1"`` == ``1``, text
case-insensitive); ``number``/``int`` take numbers or numeric strings (``int`` must
be whole) within the input's ``min``/``max``; ``bool`` takes JSON true/false only.
BMI (given, or from ``height_cm`` + ``weight_kg``) is rounded half-up to 1 decimal
before matching.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, Field

from anxin.knowledge.filing import load_underwriting, product as catalog_product
from anxin.tools.errors import ToolError
from anxin.tools.genetic import is_prohibited

Decision = Literal["standard", "loading", "exclusion", "loading_and_exclusion",
                   "postpone", "decline", "not_applicable"]

_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_RANGE_OPS = {"gte": Decimal.__ge__, "gt": Decimal.__gt__, "lte": Decimal.__le__, "lt": Decimal.__lt__}
_HEIGHT_CM = (Decimal(30), Decimal(300))
_WEIGHT_KG = (Decimal(1), Decimal(700))
_APPLICANT_BMI_KEYS = ("bmi", "height_cm", "weight_kg")


# --------------------------------------------------------------------------- result models

class Text(BaseModel):
    """Bilingual text."""

    zh: str
    en: str


class ExclusionClause(BaseModel):
    """An exclusion clause of ``exclusion_clauses`` with its wording."""

    clause_id: str
    zh: str
    en: str


class RuleHit(BaseModel):
    """A rule that fired: a condition rule (one per declaration), or a line-level rule
    (``UW-ELIG-DM``, ``UW-COMB-CAP``, ``UW-GEN-00``) with ``condition`` None.
    ``outcome`` uses the filing grammar (``loading:25``, ``exclude:EX-HTN``, ...);
    ``refused`` for ``UW-GEN-00``."""

    rule_id: str
    condition: str | None = None
    outcome: str
    reason: Text


class UnderwritingResult(BaseModel):
    """Pre-underwriting decision for one product (or line).

    ``total_loading_pct`` is the sum of the loadings of all outcomes for the line
    (informative also when declined/postponed); ``loading_factor`` is
    ``1 + total/100`` only for ``loading`` / ``loading_and_exclusion``, else 1.
    ``exclusions`` (clause ids) and ``exclusion_details`` are filled only when the
    decision carries exclusions. ``postpone_months`` is set only for ``postpone``.
    ``quote_params`` is what to pass on to ``quote()``: ``{"uw_loading_pct": total}``
    when accepted, ``{}`` for ``not_applicable``, None when declined/postponed.
    """

    product_id: str | None = None
    line: str | None = None
    decision: Decision
    decision_text: Text
    total_loading_pct: int | float = 0
    loading_factor: float = 1.0
    exclusions: list[str] = Field(default_factory=list)
    exclusion_details: list[ExclusionClause] = Field(default_factory=list)
    postpone_months: int | None = None
    rule_hits: list[RuleHit] = Field(default_factory=list)
    refused_inputs: list[str] = Field(default_factory=list)
    notices: list[Text] = Field(default_factory=list)
    quote_params: dict[str, int | float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data."""
        return self.model_dump(mode="json")


# --------------------------------------------------------------------------- filing helpers

def _uw() -> dict[str, Any]:
    return load_underwriting()


def is_genetic(name: Any) -> bool:
    """Whether a condition id or input key is genetic data (``genetic_data``, case-insensitive)."""
    g = _uw()["genetic_data"]
    return is_prohibited(name, g["prohibited_conditions"], g["prohibited_key_substrings"])


def resolve_target(target: str) -> tuple[str | None, str | None]:
    """``(product_id, line)`` for a product id (case-insensitive) or a line name.

    ``line`` is None for products without health underwriting. Unknown -> UNKNOWN_PRODUCT.
    """
    uw = _uw()
    if not isinstance(target, str) or not target.strip():
        raise ToolError("UNKNOWN_PRODUCT", f"{target!r}", field="product_id")
    key = target.strip()
    pid = key.upper()
    if pid in uw["not_underwritten"]["products"]:
        return pid, None
    for line, spec in uw["lines"].items():
        if pid in spec["products"]:
            return pid, line
    p = catalog_product(pid)
    if p is not None:
        line = p.get("underwriting_line")
        return p["id"], (line if line in uw["lines"] else None)
    norm = re.sub(r"[\s-]+", "_", key.casefold())
    if norm in uw["lines"]:
        return None, norm
    raise ToolError("UNKNOWN_PRODUCT", key, field="product_id")


def parse_outcome(outcome: str) -> tuple[str, Decimal | int | str | None]:
    """Split a filing outcome into ``(kind, arg)``: standard/decline (None), loading (Decimal),
    exclude (clause id), postpone (months)."""
    kind, _, arg = outcome.partition(":")
    if kind in ("standard", "decline") and not arg:
        return kind, None
    if kind == "loading" and _NUMERIC.fullmatch(arg):
        return kind, Decimal(arg)
    if kind == "exclude" and arg in _uw()["exclusion_clauses"]:
        return kind, arg
    if kind == "postpone" and arg.isdigit():
        return kind, int(arg)
    raise ToolError("INTERNAL_ERROR", f"bad outcome {outcome!r} in underwriting.yaml")


# --------------------------------------------------------------------------- values

def _canon(value: Any) -> tuple[str, Any]:
    """A comparable form: numbers (and numeric strings) as Decimal, text casefolded."""
    if isinstance(value, bool):
        return "b", value
    if isinstance(value, (int, Decimal)):
        return "n", Decimal(value)
    if isinstance(value, float):
        return "n", Decimal(repr(value))
    text = str(value).strip()
    if _NUMERIC.fullmatch(text):
        return "n", Decimal(text)
    return "s", text.casefold()


def _number(value: Any, field: str, expected: str = "a number") -> Decimal:
    kind, v = _canon(value) if isinstance(value, (int, float, Decimal, str)) else ("x", None)
    if kind != "n" or not v.is_finite():
        raise ToolError("INVALID_VALUE", f"{field}={value!r}: expected {expected}", field=field)
    return v


def _coerce(spec: Mapping[str, Any], value: Any, field: str) -> Any:
    """Validate one input value by its spec; return the canonical value used for matching."""
    kind = spec["type"]
    if kind == "bool":
        if not isinstance(value, bool):
            raise ToolError("INVALID_VALUE", f"{field}={value!r}: expected true or false", field=field)
        return value
    if kind == "enum":
        allowed = list(spec["values"])
        if not isinstance(value, bool) and isinstance(value, (int, float, Decimal, str)):
            for a in allowed:
                if _canon(a) == _canon(value):
                    return a
        raise ToolError("INVALID_VALUE", f"{field}={value!r}: expected one of "
                        + ", ".join(str(a) for a in allowed), field=field)
    d = _number(value, field, "a whole number" if kind == "int" else "a number")
    if kind == "int" and d != d.to_integral_value():
        raise ToolError("INVALID_VALUE", f"{field}={value!r}: expected a whole number", field=field)
    lo, hi = spec.get("min"), spec.get("max")
    if (lo is not None and d < _canon(lo)[1]) or (hi is not None and d > _canon(hi)[1]):
        raise ToolError("INVALID_VALUE", f"{field}={value!r}: expected {lo}..{hi}", field=field)
    return d


def round1(value: Fraction | Decimal | int) -> Decimal:
    """Round half-up to 1 decimal, exactly (BMI before banding)."""
    x = Fraction(value)
    tenths = math.floor(abs(x) * 10 + Fraction(1, 2))
    return Decimal(tenths if x >= 0 else -tenths).scaleb(-1)


def _bmi_values(spec: Mapping[str, Any], given: Mapping[str, Any], where: str) -> dict[str, Decimal]:
    """The ``bmi`` condition's value: given ``bmi`` or ``height_cm`` + ``weight_kg``, rounded to 0.1."""
    bmi_spec = spec["bmi"]
    h, w, bmi = given.get("height_cm"), given.get("weight_kg"), given.get("bmi")
    if h is None and w is None:
        if bmi is None:
            raise ToolError("MISSING_INPUT", f"{_f(where, 'bmi')} (or height_cm + weight_kg)",
                            field=_f(where, "bmi"))
        return {"bmi": round1(_coerce(bmi_spec, bmi, _f(where, "bmi")))}
    if h is None or w is None:
        missing = "height_cm" if h is None else "weight_kg"
        raise ToolError("MISSING_INPUT", f"{_f(where, missing)} is needed to compute BMI", field=_f(where, missing))
    hd = _coerce({"type": "number", "min": _HEIGHT_CM[0], "max": _HEIGHT_CM[1]}, h, _f(where, "height_cm"))
    wd = _coerce({"type": "number", "min": _WEIGHT_KG[0], "max": _WEIGHT_KG[1]}, w, _f(where, "weight_kg"))
    computed = round1(Fraction(wd) / (Fraction(hd) / 100) ** 2)
    _coerce(bmi_spec, computed, _f(where, "bmi"))
    if bmi is not None and round1(_coerce(bmi_spec, bmi, _f(where, "bmi"))) != computed:
        raise ToolError("INVALID_VALUE", f"{_f(where, 'bmi')}={bmi!r} disagrees with height_cm={h}, "
                        f"weight_kg={w} (BMI {computed})", field=_f(where, "bmi"))
    return {"bmi": computed}


def _f(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


# --------------------------------------------------------------------------- declarations

def _strip_genetic(declarations: Any, applicant: Any) -> tuple[list[tuple[int, Any]], dict[str, Any], list[str]]:
    """Drop genetic declarations/keys (step 1). Returns ``(indexed declarations, applicant, refused)``.

    Declarations keep their original index so error fields point into the caller's list.
    """
    if declarations is None:
        declarations = []
    if not isinstance(declarations, (list, tuple)):
        raise ToolError("INVALID_VALUE", "declarations must be a list of {condition: <id>, ...}",
                        field="declarations")
    if applicant is None:
        applicant = {}
    if not isinstance(applicant, Mapping):
        raise ToolError("INVALID_VALUE", "applicant must be an object", field="applicant")
    refused: list[str] = []
    kept: list[tuple[int, Any]] = []
    for i, decl in enumerate(declarations):
        if isinstance(decl, Mapping):
            cond = decl.get("condition")
            if is_genetic(cond):
                refused.append(str(cond))
                continue
            clean = {k: v for k, v in decl.items() if k == "condition" or not is_genetic(k)}
            refused += [f"{cond}.{k}" for k in decl if k not in clean]
            decl = clean
        kept.append((i, decl))
    app: dict[str, Any] = {}
    for k, v in applicant.items():
        if is_genetic(k):
            refused.append(str(k))
        else:
            app[str(k)] = v
    return kept, app, list(dict.fromkeys(refused))


def _check_applicant(applicant: Mapping[str, Any]) -> None:
    accepted = _uw()["applicant_fields"]["accepted"]
    for k in applicant:
        if k not in accepted:
            raise ToolError("UNKNOWN_INPUT", f"{k} (accepted next to the declarations: {', '.join(accepted)})",
                            field=k)


def _validate(decl: Any, where: str, seen: set[str]) -> tuple[str, dict[str, Any]]:
    """One declaration -> ``(condition id, canonical input values)``; raises the matching errors."""
    if not isinstance(decl, Mapping):
        raise ToolError("INVALID_VALUE", f"{where} must be an object {{condition: <id>, ...}}", field=where)
    cond = decl.get("condition")
    if cond is None:
        raise ToolError("MISSING_INPUT", f"{_f(where, 'condition')}", field=_f(where, "condition"))
    conditions = _uw()["conditions"]
    cid = cond.strip().casefold() if isinstance(cond, str) else None
    if cid not in conditions:
        raise ToolError("UNKNOWN_CONDITION", f"{cond!r}", field=_f(where, "condition"))
    if cid in seen:
        raise ToolError("DUPLICATE_CONDITION", cid, field=_f(where, "condition"))
    seen.add(cid)
    spec = conditions[cid].get("inputs") or {}
    allowed = set(spec) | ({"height_cm", "weight_kg"} if cid == "bmi" else set())
    given: dict[str, Any] = {}
    for k, v in decl.items():
        if k == "condition":
            continue
        key = str(k).strip().casefold()
        if key not in allowed:
            raise ToolError("UNKNOWN_INPUT", f"{k!r} is not an input of {cid} (inputs: {', '.join(spec) or 'none'})",
                            field=_f(where, str(k)))
        if key in given:
            raise ToolError("INVALID_VALUE", f"{key} given twice", field=_f(where, key))
        given[key] = v
    given = {k: v for k, v in given.items() if v is not None}
    if cid == "bmi":
        return cid, _bmi_values(spec, given, where)
    values: dict[str, Any] = {}
    for name, ispec in spec.items():
        if name not in given:
            raise ToolError("MISSING_INPUT", f"{_f(where, name)} ({cid} needs {', '.join(spec)})",
                            field=_f(where, name))
        values[name] = _coerce(ispec, given[name], _f(where, name))
    return cid, values


def matches(when: Mapping[str, Any] | None, values: Mapping[str, Any]) -> bool:
    """Whether a rule's ``when`` matches (list = membership, range map, scalar = equality, {} = always)."""
    for key, cond in (when or {}).items():
        if key not in values:
            return False
        kind, v = _canon(values[key])
        if isinstance(cond, list):
            ok = any(_canon(c) == (kind, v) for c in cond)
        elif isinstance(cond, Mapping):
            if set(cond) - set(_RANGE_OPS):
                raise ToolError("INTERNAL_ERROR", f"bad range {cond!r} in underwriting.yaml")
            ok = kind == "n" and all(_RANGE_OPS[op](v, _canon(b)[1]) for op, b in cond.items())
        else:
            ok = _canon(cond) == (kind, v)
        if not ok:
            return False
    return True


def evaluate(condition: str, values: Mapping[str, Any], line: str) -> RuleHit:
    """The first matching rule of ``condition`` and its outcome for ``line``."""
    for rule in _uw()["conditions"][condition]["rules"]:
        if matches(rule.get("when"), values):
            outcome = rule["outcomes"].get(line)
            if outcome is None:
                raise ToolError("INTERNAL_ERROR", f"{rule['rule_id']} has no outcome for {line}")
            parse_outcome(outcome)
            return RuleHit(rule_id=rule["rule_id"], condition=condition, outcome=outcome,
                           reason=Text(**rule["reason"]))
    raise ToolError("INVALID_VALUE", f"no rule of {condition} matches {dict(values)}", field=condition)


# --------------------------------------------------------------------------- engine

def _num(d: Decimal) -> int | float:
    return int(d) if d == d.to_integral_value() else float(d)


def _result(decision: str, **kw: Any) -> UnderwritingResult:
    text = _uw()["combination"]["decisions"][decision]
    return UnderwritingResult(decision=decision, decision_text=Text(zh=text["zh"], en=text["en"]), **kw)


def underwrite(target: str, declarations: list[dict[str, Any]] | None,
               applicant: dict[str, Any] | None = None) -> UnderwritingResult:
    """Pre-underwrite ``declarations`` for a product id (case-insensitive) or line name.

    ``applicant`` may carry ``age``, ``gender``, ``birth_date`` (ignored) and ``bmi`` or
    ``height_cm`` + ``weight_kg`` (used as a ``bmi`` declaration when none is declared).
    Raises :class:`ToolError` with the ``matching.errors`` codes.
    """
    uw = _uw()
    pid, line = resolve_target(target)
    kept, app, refused = _strip_genetic(declarations, applicant)
    _check_applicant(app)
    notices: list[Text] = []
    hits: list[RuleHit] = []
    if refused:
        gd = uw["genetic_data"]
        notices.append(Text(**gd["notice"]))
        hits.append(RuleHit(rule_id=gd["rule_id"], outcome="refused", reason=Text(**gd["notice"])))
    if line is None:
        nu = uw["not_underwritten"]
        return _result("not_applicable", product_id=pid, rule_hits=hits, refused_inputs=refused,
                       notices=[Text(zh=nu["zh"], en=nu["en"]), *notices], quote_params={})

    seen: set[str] = set()
    parsed = [_validate(decl, f"declarations[{i}]", seen) for i, decl in kept]
    bmi_given = {k: app[k] for k in _APPLICANT_BMI_KEYS if app.get(k) is not None}
    if bmi_given and "bmi" not in seen:
        parsed.append(_validate({"condition": "bmi", **bmi_given}, "", seen))
    cond_hits = [evaluate(cid, values, line) for cid, values in parsed]
    hits += cond_hits
    for req in uw.get("line_requirements", []):
        if req["line"] == line and req["requires_condition"] not in seen:
            hits.append(RuleHit(rule_id=req["rule_id"], outcome=req["outcome_if_missing"],
                                reason=Text(**req["reason"])))

    outcomes = [parse_outcome(h.outcome) for h in hits if h.rule_id != uw["genetic_data"]["rule_id"]]
    loadings = [arg for kind, arg in outcomes if kind == "loading"]
    total = sum(loadings, Decimal(0))
    excl = list(dict.fromkeys(arg for kind, arg in outcomes if kind == "exclude"))
    months = [arg for kind, arg in outcomes if kind == "postpone"]
    cap = _canon(uw["lines"][line]["max_total_loading_pct"])[1]
    common = {"product_id": pid, "line": line, "total_loading_pct": _num(total),
              "refused_inputs": refused, "notices": notices}
    if any(kind == "decline" for kind, _ in outcomes):
        return _result("decline", rule_hits=hits, **common)
    if total > cap:
        cr = uw["combination"]["cap_rule"]
        reason = Text(zh=f"{cr['reason']['zh']}（合计加费 {_num(total)}% > 上限 {_num(cap)}%）",
                      en=f"{cr['reason']['en']} (total loading {_num(total)}% > cap {_num(cap)}%)")
        return _result("decline", rule_hits=[*hits, RuleHit(rule_id=cr["rule_id"], outcome="decline",
                                                              reason=reason)], **common)
    if months:
        return _result("postpone", postpone_months=max(months), rule_hits=hits, **common)
    decision = ("loading_and_exclusion" if loadings and excl else "loading" if loadings
                else "exclusion" if excl else "standard")
    clauses = uw["exclusion_clauses"]
    return _result(
        decision, rule_hits=hits, exclusions=excl,
        exclusion_details=[ExclusionClause(clause_id=c, zh=clauses[c]["zh"], en=clauses[c]["en"]) for c in excl],
        loading_factor=float(1 + total / 100) if loadings else 1.0,
        quote_params={"uw_loading_pct": _num(total)}, **common)


def pre_underwrite(product_id: str, declarations: list[dict[str, Any]] | None = None,
                   **applicant: Any) -> UnderwritingResult:
    """The ``pre_underwrite`` tool: ``product_id``, ``declarations`` and applicant fields
    (``age``, ``gender``, ``bmi``, ...) as keyword arguments; None values are dropped."""
    return underwrite(product_id, declarations, {k: v for k, v in applicant.items() if v is not None})

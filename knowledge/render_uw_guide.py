"""Render the underwriting guide (核保指引) from the filing's ``underwriting.yaml``.

The guide ``wordings/<lang>/UW-GUIDE.md`` holds one section per underwriting
rule (``UW-...``) and one per exclusion clause (``EX-...``), in the order of
:func:`anxin.knowledge.filing.underwriting_clause_ids`. Every number in it is
copied from the filing, so the guide cannot say anything the rules do not.

Run ``python -m anxin.knowledge.render_uw_guide`` after changing
``underwriting.yaml``; ``tests/test_uw_guide.py`` fails while the committed
files differ from a fresh render.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from anxin.knowledge import filing

WORDINGS_DIR = Path(__file__).resolve().parent / "wordings"
LANGS = ("zh", "en")

# ---------------------------------------------------------------------------
# Words for declaration inputs. underwriting.yaml gives each input a label but
# no words for enum codes or yes/no answers; these tables supply them. Anything
# missing here falls back to the YAML label and the raw value, so a new rule
# still renders (less elegantly) without touching this file.
# ---------------------------------------------------------------------------

#: (condition, input) -> (zh prefix, zh item format, en prefix, en item format) for enum values.
ENUM_FORMATS: dict[tuple[str, str], tuple[str, str, str, str]] = {
    ("thyroid_nodule", "tirads"): ("TI-RADS ", "{v}级", "TI-RADS ", "{v}"),
    ("breast_nodule", "birads"): ("BI-RADS ", "{v}级", "BI-RADS ", "{v}"),
    ("hypertension", "grade"): ("", "{v}级", "grade ", "{v}"),
    ("chronic_kidney_disease", "stage"): ("CKD ", "{v}期", "CKD stage ", "{v}"),
}

#: (condition, input, value) -> (zh, en) words for an enum code.
ENUM_WORDS: dict[tuple[str, str, str], tuple[str, str]] = {
    ("type2_diabetes", "complications", "none"): ("无并发症", "no complications"),
    ("type2_diabetes", "complications", "early_nephropathy"): ("早期糖尿病肾病", "early diabetic nephropathy"),
    ("type2_diabetes", "complications", "early_retinopathy"): ("非增殖期糖尿病视网膜病变", "non-proliferative diabetic retinopathy"),
    ("type2_diabetes", "complications", "peripheral_neuropathy"): ("糖尿病周围神经病变", "diabetic peripheral neuropathy"),
    ("type2_diabetes", "complications", "advanced"): ("已出现严重并发症", "advanced complications"),
    ("hepatitis_b_carrier", "liver_function", "normal"): ("肝功能正常", "normal liver function"),
    ("hepatitis_b_carrier", "liver_function", "abnormal"): ("肝功能异常", "abnormal liver function"),
    ("fatty_liver", "liver_function", "normal"): ("肝功能正常", "normal liver function"),
    ("fatty_liver", "liver_function", "abnormal"): ("肝功能异常", "abnormal liver function"),
    ("fatty_liver", "severity", "mild"): ("轻度", "mild"),
    ("fatty_liver", "severity", "moderate"): ("中度", "moderate"),
    ("fatty_liver", "severity", "severe"): ("重度", "severe"),
    ("asthma", "severity", "mild"): ("轻度", "mild"),
    ("asthma", "severity", "moderate"): ("中度", "moderate"),
    ("asthma", "severity", "severe"): ("重度", "severe"),
    ("depression_anxiety", "status", "remission_2y_plus"): ("停药缓解满2年", "in remission off treatment for 2+ years"),
    ("depression_anxiety", "status", "current_mild"): ("目前治疗中（轻度）", "currently treated, mild"),
    ("depression_anxiety", "status", "severe_or_suicide_attempt"): ("重度或有自杀未遂史", "severe, or a history of suicide attempt"),
    ("coronary_heart_disease", "status", "stable_no_intervention"): ("稳定型，未行介入治疗", "stable, no intervention"),
    ("coronary_heart_disease", "status", "post_pci_or_cabg"): ("支架或搭桥术后", "after stent or bypass surgery"),
    ("coronary_heart_disease", "status", "event_last_12m"): ("近12个月内心梗或不稳定心绞痛", "MI or unstable angina within 12 months"),
    ("kidney_stones", "status", "resolved"): ("已排出或治愈（最近影像无结石且已超1年）", "resolved (no stone on latest imaging, > 1 year ago)"),
    ("kidney_stones", "status", "present"): ("目前仍有结石", "stone currently present"),
    ("gallstones", "status", "removed"): ("胆囊已切除", "gallbladder removed"),
    ("gallstones", "status", "present_asymptomatic"): ("有胆结石，无症状", "present, asymptomatic"),
    ("gallstones", "status", "present_symptomatic"): ("有胆结石，有症状", "present, symptomatic"),
    ("rheumatoid_arthritis", "activity", "remission"): ("缓解期", "in remission"),
    ("rheumatoid_arthritis", "activity", "active"): ("活动期", "active"),
    ("hpv_high_risk_positive", "cytology", "normal"): ("宫颈细胞学（TCT）正常", "normal cervical cytology"),
    ("hpv_high_risk_positive", "cytology", "abnormal"): ("宫颈细胞学（TCT）异常", "abnormal cervical cytology"),
    ("chronic_gastritis", "type", "non_atrophic"): ("慢性非萎缩性胃炎", "chronic non-atrophic gastritis"),
    ("chronic_gastritis", "type", "atrophic"): ("慢性萎缩性胃炎", "chronic atrophic gastritis"),
    ("chronic_gastritis", "type", "atrophic_with_metaplasia_or_dysplasia"): (
        "萎缩性胃炎伴肠化或异型增生",
        "atrophic gastritis with intestinal metaplasia or dysplasia",
    ),
    ("colorectal_polyp", "type", "hyperplastic"): ("增生性息肉", "hyperplastic polyp"),
    ("colorectal_polyp", "type", "adenoma_removed"): ("腺瘤性息肉已切除", "adenomatous polyp, removed"),
    ("colorectal_polyp", "type", "adenoma_not_removed"): ("腺瘤性息肉未切除", "adenomatous polyp, not removed"),
}

#: (condition, input) -> ((zh if true, en if true), (zh if false, en if false)).
BOOL_WORDS: dict[tuple[str, str], tuple[tuple[str, str], tuple[str, str]]] = {
    ("hypertension", "controlled"): (("控制良好", "well controlled"), ("控制不佳", "poorly controlled")),
    ("hyperlipidaemia", "controlled"): (("血脂达标", "lipids at target"), ("血脂未达标", "lipids not at target")),
    ("gout", "kidney_involvement"): (("伴肾脏受累", "with kidney involvement"), ("无肾脏受累", "no kidney involvement")),
    ("asthma", "hospitalised_last_2y"): (
        ("近2年曾因哮喘住院", "hospitalised for asthma in the last 2 years"),
        ("近2年未因哮喘住院", "no asthma admission in the last 2 years"),
    ),
    ("uterine_fibroid", "surgery_planned"): (("建议或计划手术", "surgery recommended or planned"), ("无手术计划", "no surgery planned")),
    ("spinal_disc_disease", "surgery_recommended"): (("建议手术", "surgery recommended"), ("未建议手术", "no surgery recommended")),
    ("pregnancy", "complications"): (("伴妊娠并发症", "with pregnancy complications"), ("无妊娠并发症", "no pregnancy complications")),
}

#: (condition, input) -> (zh label, zh unit, en label, en unit) for numeric inputs.
NUMBER_WORDS: dict[tuple[str, str], tuple[str, str, str, str]] = {
    ("type2_diabetes", "hba1c_pct"): ("HbA1c", "%", "HbA1c", "%"),
    ("prediabetes", "hba1c_pct"): ("HbA1c", "%", "HbA1c", "%"),
    ("gout", "attacks_per_year"): ("近一年发作", "次", "attacks in the last year", ""),
    ("stroke_history", "years_since_event"): ("距末次发病", "年", "years since the last event", ""),
    ("cancer_history", "years_since_treatment_end"): ("距治疗结束（无复发）", "年", "years since end of treatment (no recurrence)", ""),
    ("pregnancy", "weeks"): ("孕周", "周", "gestational week", ""),
    ("smoking", "cigarettes_per_day"): ("每日吸烟", "支", "cigarettes per day", ""),
    ("bmi", "bmi"): ("BMI", "", "BMI", ""),
    ("alcohol", "grams_per_day"): ("日均纯酒精", "克", "pure alcohol", " g per day"),
    ("lung_nodule", "size_mm"): ("最大结节直径", " mm", "largest nodule", " mm"),
    ("uterine_fibroid", "size_cm"): ("最大肌瘤直径", " cm", "largest fibroid", " cm"),
    ("epilepsy", "seizure_free_years"): ("无发作", "年", "seizure-free for", " years"),
    ("high_myopia", "diopters"): ("近视屈光度", " D", "myopia", " D"),
}

RANGE_SYMBOLS = {"gte": "≥", "gt": ">", "lte": "≤", "lt": "<"}
CN_ORDINALS = "一二三四五六七八九十"
EN_ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth", "Ninth", "Tenth")

TEXT = {
    "zh": {
        "title": "{insurer}核保指引",
        "catch_all": "前述规则以外的其他情形",
        "any": "已申报（无其他申报输入）",
        "or": "或",
        "and": "且",
        "sep": "，",
        "colon": "：",
        "yes": "是",
        "no": "否",
        "standard": "标准体",
        "loading": "加费{n}%",
        "exclude": "除外 {cid}（{text}）",
        "postpone": "延期{n}个月",
        "decline": "拒保",
    },
    "en": {
        "title": "{insurer} — Underwriting Guide",
        "catch_all": "all other cases",
        "any": "declared (no further inputs)",
        "or": " or ",
        "and": " and ",
        "sep": ", ",
        "colon": ": ",
        "yes": "yes",
        "no": "no",
        "standard": "standard",
        "loading": "loading {n}%",
        "exclude": "exclusion {cid} ({text})",
        "postpone": "postponed {n} months",
        "decline": "declined",
    },
}


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def _cap(text: str) -> str:
    """Upper-case the first letter (English headings and list items)."""
    return text[:1].upper() + text[1:] if text else text


def _decap(text: str) -> str:
    """Lower-case a leading capital of an ordinary word (``Frequent`` but not ``BMI``)."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _strip_end(text: str) -> str:
    """Text without a trailing full stop, for use inside a sentence."""
    return text.rstrip().rstrip("。.")


def _sentence(text: str, lang: str) -> str:
    """Text ending in exactly one full stop of the language."""
    text = _strip_end(text)
    return text + ("。" if lang == "zh" else ".")


def _num(value: Any) -> str:
    """A YAML number as the filing writes it (``6.0`` stays ``6.0``)."""
    return str(value)


def _join(items: list[str], lang: str) -> str:
    """Items joined as a list: 甲、乙或丙 / a, b or c."""
    if len(items) <= 1:
        return "".join(items)
    if lang == "zh":
        return "、".join(items[:-1]) + "或" + items[-1]
    return ", ".join(items[:-1]) + " or " + items[-1]


def _list(items: list[str], lang: str) -> str:
    """Items enumerated without a conjunction: 甲、乙、丙 / a, b, c."""
    return ("、" if lang == "zh" else ", ").join(items)


def _line_name(uw: dict[str, Any], line: str, lang: str) -> str:
    """A line's display name with its products: 医疗险（MED-100） / Medical (MED-100)."""
    node = uw["lines"].get(line, {})
    name = node.get(lang, line)
    products = _list(list(node.get("products", [])), lang)
    if lang == "zh":
        return f"{name}（{products}）"
    return f"{_cap(name)} ({products})"


def _line_order(uw: dict[str, Any]) -> list[str]:
    """Lines in ``line_order``, then any line the order leaves out."""
    order = list(uw.get("line_order") or [])
    return order + [line for line in uw["lines"] if line not in order]


def _exclusion_text(uw: dict[str, Any], clause_id: str, lang: str) -> str:
    """The wording of an exclusion clause, or '' when it is not defined."""
    return (uw.get("exclusion_clauses", {}).get(clause_id) or {}).get(lang, "")


def outcome_words(uw: dict[str, Any], outcome: str, lang: str) -> str:
    """An outcome string (``loading:25``, ``exclude:EX-THYROID`` ...) in words."""
    t = TEXT[lang]
    kind, _, arg = str(outcome).partition(":")
    if kind == "standard":
        return t["standard"]
    if kind == "decline":
        return t["decline"]
    if kind == "loading":
        return t["loading"].format(n=arg)
    if kind == "postpone":
        return t["postpone"].format(n=arg)
    if kind == "exclude":
        return t["exclude"].format(cid=arg, text=_exclusion_text(uw, arg, lang))
    return str(outcome)


# ---------------------------------------------------------------------------
# Declaration inputs in words
# ---------------------------------------------------------------------------

def _input_label(cond: dict[str, Any], key: str, lang: str) -> str:
    """The YAML label of a condition input, or its key."""
    return ((cond.get("inputs") or {}).get(key) or {}).get(lang, key)


def _enum_phrase(cond_id: str, cond: dict[str, Any], key: str, values: list[Any], lang: str) -> str:
    """Words for ``key`` taking one of ``values`` (an enum list in ``when``)."""
    fmt = ENUM_FORMATS.get((cond_id, key))
    if fmt:
        prefix, item = (fmt[0], fmt[1]) if lang == "zh" else (fmt[2], fmt[3])
        return prefix + _join([item.format(v=v) for v in values], lang)
    words = []
    known = True
    for v in values:
        pair = ENUM_WORDS.get((cond_id, key, str(v)))
        if pair is None:
            known = False
            words.append(str(v))
        else:
            words.append(pair[0] if lang == "zh" else pair[1])
    if known:
        return _join(words, lang)
    return f"{_input_label(cond, key, lang)}{TEXT[lang]['colon']}{_join(words, lang)}"


def _bool_phrase(cond_id: str, cond: dict[str, Any], key: str, value: bool, lang: str) -> str:
    """Words for a yes/no input."""
    pair = BOOL_WORDS.get((cond_id, key))
    if pair:
        chosen = pair[0] if value else pair[1]
        return chosen[0] if lang == "zh" else chosen[1]
    answer = TEXT[lang]["yes"] if value else TEXT[lang]["no"]
    return f"{_input_label(cond, key, lang)}{TEXT[lang]['colon']}{answer}"


def _range_phrase(cond_id: str, cond: dict[str, Any], key: str, bounds: dict[str, Any], lang: str) -> str:
    """Words for a numeric range such as ``{gte: 6, lt: 8}``."""
    words = NUMBER_WORDS.get((cond_id, key))
    if words:
        label, unit = (words[0], words[1]) if lang == "zh" else (words[2], words[3])
    else:
        label, unit = _input_label(cond, key, lang), ""
    parts = [f"{RANGE_SYMBOLS[op]} {_num(bounds[op])}{unit}" for op in ("gt", "gte", "lt", "lte") if op in bounds]
    joiner = "且 " if lang == "zh" else " and "
    return f"{label} {joiner.join(parts)}"


def _scalar_phrase(cond_id: str, cond: dict[str, Any], key: str, value: Any, lang: str) -> str:
    """Words for an equality test on one input."""
    if isinstance(value, bool):
        return _bool_phrase(cond_id, cond, key, value, lang)
    return _enum_phrase(cond_id, cond, key, [value], lang)


def when_words(cond_id: str, cond: dict[str, Any], when: dict[str, Any], lang: str) -> str:
    """A rule's ``when`` as a short phrase: ``TI-RADS 3级`` / ``grade 1, well controlled``."""
    t = TEXT[lang]
    if not when:
        return t["catch_all"] if cond.get("inputs") else t["any"]
    phrases = []
    for key, test in when.items():
        if isinstance(test, list):
            phrases.append(_enum_phrase(cond_id, cond, key, test, lang))
        elif isinstance(test, dict):
            phrases.append(_range_phrase(cond_id, cond, key, test, lang))
        else:
            phrases.append(_scalar_phrase(cond_id, cond, key, test, lang))
    return t["sep"].join(phrases)


def _inputs_words(cond: dict[str, Any], lang: str) -> str:
    """The condition's declaration inputs: ``tirads（TI-RADS 分级）``."""
    inputs = cond.get("inputs") or {}
    if not inputs:
        return "无（申报该告知项即可）" if lang == "zh" else "none (declaring the condition is enough)"
    if lang == "zh":
        return "、".join(f"{k}（{v.get('zh', k)}）" for k, v in inputs.items())
    return "; ".join(f"{k} ({v.get('en', k)})" for k, v in inputs.items())


# ---------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------

def _outcome_lines(uw: dict[str, Any], outcomes: dict[str, str], lang: str) -> list[str]:
    """One bullet per underwriting line: line name, products and outcome."""
    sep = "：" if lang == "zh" else ": "
    return [f"- {_line_name(uw, line, lang)}{sep}{outcome_words(uw, outcomes[line], lang)}"
            for line in _line_order(uw) if line in outcomes]


def render_rule(uw: dict[str, Any], cond_id: str, index: int, lang: str) -> str:
    """The section of the ``index``-th rule of condition ``cond_id``."""
    cond = uw["conditions"][cond_id]
    rules = cond["rules"]
    rule = rules[index]
    name = cond.get("name", {}).get(lang, cond_id)
    when = rule.get("when") or {}
    desc = when_words(cond_id, cond, when, lang)
    if not when and cond.get("inputs"):
        # a catch-all rule: its reason says which cases are left
        gist = _strip_end(rule.get("reason", {}).get(lang, ""))
        if gist:
            desc += f"（{gist}）" if lang == "zh" else f" ({_decap(gist)})"
    earlier = [r["rule_id"] for r in rules[:index]]
    raw = json.dumps(when, ensure_ascii=False)
    reason = _sentence(rule.get("reason", {}).get(lang, ""), lang)
    if lang == "zh":
        out = [f"## {rule['rule_id']} {name}：{desc}"]
        out.append(f"告知项：{name}（condition: {cond_id}）；申报输入：{_inputs_words(cond, lang)}。")
        match = f"适用情形：{desc}。规则条件：`{raw}`。"
        if earlier:
            both = "均" if len(earlier) > 1 else ""
            match += f"同一告知项的规则自上而下匹配、取第一条全部满足的规则，故本规则仅在 {_list(earlier, lang)} {both}不匹配时适用。"
        else:
            match += "本规则是该告知项的第一条规则，条件满足即适用。"
        out += ["", match, "", "各险种核保结论："]
        out += _outcome_lines(uw, rule.get("outcomes", {}), lang)
        out += ["", f"核保理由：{reason}"]
    else:
        out = [f"## {rule['rule_id']} {_cap(name)}: {desc}"]
        out.append(f"Condition: {name} (condition: {cond_id}); declaration inputs: {_inputs_words(cond, lang)}.")
        match = f"Applies when: {desc}. Rule condition: `{raw}`."
        if earlier:
            others = f"none of {_list(earlier, lang)} matches" if len(earlier) > 1 else f"{earlier[0]} does not match"
            match += (" Rules of a condition are tried top-down and the first full match wins, so this rule applies"
                      f" only when {others}.")
        else:
            match += " This is the first rule of the condition; it applies whenever its condition holds."
        out += ["", match, "", "Decision by underwriting line:"]
        out += _outcome_lines(uw, rule.get("outcomes", {}), lang)
        out += ["", f"Reason: {reason}"]
    return "\n".join(out)


def render_requirement(uw: dict[str, Any], req: dict[str, Any], lang: str) -> str:
    """A ``line_requirements`` entry (e.g. UW-ELIG-DM)."""
    line = req.get("line", "")
    line_node = uw["lines"].get(line, {})
    cond_id = req.get("requires_condition", "")
    cond_name = uw.get("conditions", {}).get(cond_id, {}).get("name", {}).get(lang, cond_id)
    outcome = outcome_words(uw, req.get("outcome_if_missing", "decline"), lang)
    reason = _sentence(req.get("reason", {}).get(lang, ""), lang)
    if lang == "zh":
        return "\n".join([
            f"## {req['rule_id']} {line_node.get('zh', line)}投保资格：须申报{cond_name}",
            f"适用险种：{_line_name(uw, line, lang)}。",
            "",
            f"投保本险种须在健康告知中申报“{cond_name}”（condition: {cond_id}）；未申报的，核保结论为{outcome}。"
            "本要求在逐条告知匹配规则之后检查，与其他告知的结论一并合并。",
            "",
            f"核保理由：{reason}",
        ])
    return "\n".join([
        f"## {req['rule_id']} {_cap(line_node.get('en', line))} eligibility: {cond_name} must be declared",
        f"Underwriting line: {_line_name(uw, line, lang)}.",
        "",
        f"An application for this line must declare \"{cond_name}\" (condition: {cond_id}); without it the outcome"
        f" for this line is: {outcome}. The requirement is checked after each declaration has been matched to its rule and is combined"
        " with the other outcomes.",
        "",
        f"Reason: {reason}",
    ])


def _step(uw: dict[str, Any], order: int) -> dict[str, Any]:
    """The combination step with the given order, or an empty dict."""
    for step in uw.get("combination", {}).get("steps", []):
        if step.get("order") == order:
            return step
    return {}


def render_cap(uw: dict[str, Any], cap: dict[str, Any], lang: str) -> str:
    """The combined-loading cap rule (UW-COMB-CAP) with every line's cap."""
    reason = _sentence(cap.get("reason", {}).get(lang, ""), lang)
    cap_step = next((s for s in uw.get("combination", {}).get("steps", []) if cap["rule_id"] in s.get(lang, "")), {})
    lines = []
    for line in _line_order(uw):
        pct = uw["lines"][line].get("max_total_loading_pct")
        if lang == "zh":
            lines.append(f"- {_line_name(uw, line, lang)}：合计加费上限 {pct}%")
        else:
            lines.append(f"- {_line_name(uw, line, lang)}: maximum total loading {pct}%")
    if lang == "zh":
        out = [f"## {cap['rule_id']} 合计加费上限", reason, ""]
        if cap_step:
            out += [f"合并规则：{_sentence(cap_step['zh'], lang)}", ""]
        out += ["各险种可承保的合计加费上限（max_total_loading_pct）："] + lines
        out += ["", "合计加费未超过上限的，按合计加费承保，报价时以 (1 + 合计加费百分比/100) 作为核保加费系数。"]
    else:
        out = [f"## {cap['rule_id']} Combined loading cap", reason, ""]
        if cap_step:
            out += [f"Combination rule: {_sentence(cap_step['en'], lang)}", ""]
        out += ["Maximum total loading accepted per underwriting line (max_total_loading_pct):"] + lines
        out += ["", "A total within the cap is accepted with that loading; the quote applies it as the factor"
                " (1 + total loading percentage / 100)."]
    return "\n".join(out)


def render_genetic(uw: dict[str, Any], gen: dict[str, Any], lang: str) -> str:
    """The genetic-data rule (UW-GEN-00)."""
    conds = _list([f"`{c}`" for c in gen.get("prohibited_conditions", [])], lang)
    subs = _list([f"`{s}`" for s in gen.get("prohibited_key_substrings", [])], lang)
    behaviour = _sentence(gen.get("behaviour", {}).get(lang, ""), lang)
    notice = gen.get("notice", {}).get(lang, "")
    not_genetic = _sentence(gen.get("not_genetic", {}).get(lang, ""), lang)
    if lang == "zh":
        return "\n".join([
            f"## {gen['rule_id']} 基因数据拒收",
            "我们不以任何基因检测结果作为核保依据。",
            "",
            f"拒收的告知项：{conds}；输入键中含有以下字样的（不区分大小写）同样拒收：{subs}。",
            "",
            f"处理方式：{behaviour}",
            "",
            f"提示语：“{notice}”",
            "",
            f"说明：{not_genetic}",
        ])
    return "\n".join([
        f"## {gen['rule_id']} Genetic data refused",
        "We never use genetic test results in underwriting.",
        "",
        f"Refused conditions: {conds}; an input key containing any of {subs} (case-insensitive) is refused as well.",
        "",
        f"Handling: {behaviour}",
        "",
        f"Notice: \"{notice}\"",
        "",
        f"Note: {not_genetic}",
    ])


def _texts(node: Any, lang: str) -> list[str]:
    """Every text of ``lang`` inside a YAML node, in document order."""
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == lang and isinstance(value, str):
                out.append(value)
            else:
                out += _texts(value, lang)
    elif isinstance(node, list):
        for value in node:
            out += _texts(value, lang)
    return out


def render_other(node: dict[str, Any], lang: str) -> str:
    """A rule id found elsewhere in the file: its own texts, as written."""
    title = "核保规则" if lang == "zh" else "Underwriting rule"
    body = [_sentence(t, lang) for t in _texts(node, lang)] or [node["rule_id"]]
    return "\n".join([f"## {node['rule_id']} {title}", *body])


def rules_imposing(uw: dict[str, Any], clause_id: str) -> list[tuple[str, str, str]]:
    """(rule id, condition id, line) for every rule outcome ``exclude:<clause_id>``."""
    hits = []
    for cond_id, cond in uw.get("conditions", {}).items():
        for rule in cond.get("rules", []):
            for line in _line_order(uw):
                if rule.get("outcomes", {}).get(line) == f"exclude:{clause_id}":
                    hits.append((rule["rule_id"], cond_id, line))
    return hits


def render_exclusion(uw: dict[str, Any], clause_id: str, lang: str) -> str:
    """An exclusion clause (EX-...) and the rules that impose it."""
    text = _exclusion_text(uw, clause_id, lang)
    by_rule: dict[str, tuple[str, list[str]]] = {}
    for rule_id, cond_id, line in rules_imposing(uw, clause_id):
        by_rule.setdefault(rule_id, (cond_id, []))[1].append(line)
    items = []
    for rule_id, (cond_id, lines) in by_rule.items():
        cond = uw["conditions"][cond_id]
        rule = next(r for r in cond["rules"] if r["rule_id"] == rule_id)
        name = cond.get("name", {}).get(lang, cond_id)
        desc = when_words(cond_id, cond, rule.get("when") or {}, lang)
        where = _list([_line_name(uw, line, lang) for line in lines], lang)
        items.append(f"- {rule_id}（{name}：{desc}）：{where}" if lang == "zh"
                     else f"- {rule_id} ({_cap(name)}: {desc}): {where}")
    if lang == "zh":
        out = [f"## {clause_id} 除外责任：{text}",
               f"除外范围：{text}。",
               "",
               "经核保附加本除外条款的，对被保险人因上述除外范围内的疾病或情形发生的保险事故（包括由此产生的费用），"
               "我们不承担保险责任；本合同其他保险责任不受影响。附加的除外条款在核保结论中列明。",
               ""]
        out += (["附加本条款的核保规则及险种："] + items) if items else ["目前没有核保规则附加本条款。"]
    else:
        out = [f"## {clause_id} Exclusion: {text}",
               f"Excluded: {text}.",
               "",
               "Where underwriting attaches this exclusion, we do not pay for any insured event (or any cost arising from"
               " it) caused by the disease or condition excluded above; the rest of your cover is not affected. The"
               " exclusions attached are listed in the underwriting decision.",
               ""]
        out += (["Imposed by these rules, for these lines:"] + items) if items else ["No underwriting rule imposes this clause at present."]
    return "\n".join(out)


def render_intro(uw: dict[str, Any], catalog: dict[str, Any], lang: str) -> str:
    """The text under the title: decision types, matching and combination steps."""
    comb = uw.get("combination", {})
    decisions = comb.get("decisions", {})
    steps = sorted(comb.get("steps", []), key=lambda s: s.get("order", 0))
    nu = uw.get("not_underwritten", {})
    products = {p["id"]: p for p in catalog.get("products", [])}
    out: list[str] = []
    if lang == "zh":
        out.append("本指引列明我们的预核保（健康告知）规则：每条核保规则（UW-…）一节，每条核保除外条款（EX-…）一节。"
                   "各节中的结论与数值均取自核保规则备案。")
        out += ["", "### 核保险种"]
        for line in _line_order(uw):
            names = _list([f"{pid} {products.get(pid, {}).get('name', {}).get('zh', '')}".strip()
                           for pid in uw["lines"][line].get("products", [])], lang)
            out.append(f"- {uw['lines'][line].get('zh', line)}（{line}）：{names}；合计加费上限 "
                       f"{uw['lines'][line].get('max_total_loading_pct')}%")
        out.append(f"- 无需健康核保的产品（{_list(list(nu.get('products', [])), lang)}）：{_sentence(nu.get('zh', ''), lang)}")
        out += ["", "### 单条告知的结论类型",
                "每条规则对每个核保险种给出以下结论之一：",
                "- 标准体：按标准费率承保；",
                "- 加费X%：保费乘以 (1 + X/100)；",
                "- 除外 EX-…：对该除外条款所列疾病不承担保险责任；",
                "- 延期N个月：暂不承保，N个月后可重新申请；",
                "- 拒保：不予承保。",
                "", "### 规则匹配", _sentence(uw.get("matching", {}).get("zh", ""), lang)]
        bmi_input = uw.get("matching", {}).get("bmi_input", {}).get("zh")
        if bmi_input:
            out.append(_sentence(bmi_input, lang))
        out.append(_sentence(uw.get("applicant_fields", {}).get("zh", ""), lang))
        out += ["", "### 多条告知的合并步骤", "同一险种有多条告知时，按以下顺序得出最终结论："]
        for i, step in enumerate(steps):
            out.append(f"- 第{CN_ORDINALS[i]}步：{step.get('zh', '')}")
        out += ["", "### 最终结论"]
        out += [f"- {v.get('zh', k)}（{k}）" for k, v in decisions.items()]
        link = comb.get("output", {}).get("quote_link", {}).get("zh")
        if link:
            out += ["", _sentence(link, lang)]
    else:
        out.append("This guide sets out our pre-underwriting (health declaration) rules: one section per underwriting"
                   " rule (UW-...) and one per underwriting exclusion clause (EX-...). Every decision and number in it"
                   " is taken from the filed underwriting rules.")
        out += ["", "### Underwriting lines"]
        for line in _line_order(uw):
            names = _list([f"{pid} {products.get(pid, {}).get('name', {}).get('en', '')}".strip()
                           for pid in uw["lines"][line].get("products", [])], lang)
            out.append(f"- {_cap(uw['lines'][line].get('en', line))} ({line}): {names}; maximum total loading "
                       f"{uw['lines'][line].get('max_total_loading_pct')}%")
        out.append(f"- Products without health underwriting ({_list(list(nu.get('products', [])), lang)}): "
                   f"{_sentence(nu.get('en', ''), lang)}")
        out += ["", "### Outcome of one declaration",
                "Each rule gives one of these outcomes for each underwriting line:",
                "- standard: accepted at standard rates;",
                "- loading X%: the premium is multiplied by (1 + X/100);",
                "- exclusion EX-...: the diseases named in that clause are not covered;",
                "- postponed N months: not accepted now; you may apply again after N months;",
                "- declined: not accepted.",
                "", "### Matching", _sentence(uw.get("matching", {}).get("en", ""), lang)]
        bmi_input = uw.get("matching", {}).get("bmi_input", {}).get("en")
        if bmi_input:
            out.append(_sentence(bmi_input, lang))
        out.append(_sentence(uw.get("applicant_fields", {}).get("en", ""), lang))
        out += ["", "### Combining several declarations", "When a line has several declarations, the final decision is"
                " reached in this order:"]
        for i, step in enumerate(steps):
            label = EN_ORDINALS[i] if i < len(EN_ORDINALS) else "Then"
            out.append(f"- {label}: {step.get('en', '')}")
        out += ["", "### Final decisions"]
        out += [f"- {_cap(v.get('en', k))} ({k})" for k, v in decisions.items()]
        link = comb.get("output", {}).get("quote_link", {}).get("en")
        if link:
            out += ["", _sentence(link, lang)]
    return "\n".join(out)


def clause_ids(uw: dict[str, Any]) -> list[str]:
    """Section ids in order: rule ids as they first occur in the file, then exclusion clauses."""
    return filing.underwriting_clause_ids(uw)


def _index(uw: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """rule id -> (kind, locator) for every rule id in the file."""
    index: dict[str, tuple[str, Any]] = {}
    for cond_id, cond in uw.get("conditions", {}).items():
        for i, rule in enumerate(cond.get("rules", [])):
            index.setdefault(rule["rule_id"], ("rule", (cond_id, i)))
    for req in uw.get("line_requirements", []):
        index.setdefault(req["rule_id"], ("requirement", req))
    cap = uw.get("combination", {}).get("cap_rule")
    if cap and cap.get("rule_id"):
        index.setdefault(cap["rule_id"], ("cap", cap))
    gen = uw.get("genetic_data")
    if gen and gen.get("rule_id"):
        index.setdefault(gen["rule_id"], ("genetic", gen))

    for rid, node in filing.rule_nodes(uw):
        index.setdefault(rid, ("other", node))
    return index


def render_section(uw: dict[str, Any], clause_id: str, lang: str, index: dict[str, tuple[str, Any]]) -> str:
    """One ``##`` section of the guide."""
    if clause_id in uw.get("exclusion_clauses", {}) and clause_id not in index:
        return render_exclusion(uw, clause_id, lang)
    kind, where = index[clause_id]
    if kind == "rule":
        return render_rule(uw, where[0], where[1], lang)
    if kind == "requirement":
        return render_requirement(uw, where, lang)
    if kind == "cap":
        return render_cap(uw, where, lang)
    if kind == "genetic":
        return render_genetic(uw, where, lang)
    return render_other(where, lang)


def render(lang: str, uw: dict[str, Any] | None = None, catalog: dict[str, Any] | None = None) -> str:
    """The whole UW-GUIDE wording in ``lang`` (``zh`` or ``en``), front matter included."""
    uw = uw if uw is not None else filing.load_underwriting()
    catalog = catalog if catalog is not None else filing.load_catalog()
    insurer = catalog.get("meta", {}).get("insurer", {}).get(lang, "")
    title = TEXT[lang]["title"].format(insurer=insurer)
    index = _index(uw)
    parts = [
        "---",
        "doc_id: UW-GUIDE",
        f"language: {lang}",
        f"title: {title}",
        "---",
        f"# {title}",
        "",
        render_intro(uw, catalog, lang),
    ]
    for clause_id in clause_ids(uw):
        parts += ["", render_section(uw, clause_id, lang, index)]
    return "\n".join(parts) + "\n"


def output_path(lang: str) -> Path:
    """Where the guide of ``lang`` lives."""
    return WORDINGS_DIR / lang / "UW-GUIDE.md"


def main() -> None:
    """Rewrite ``wordings/zh/UW-GUIDE.md`` and ``wordings/en/UW-GUIDE.md``."""
    for lang in LANGS:
        path = output_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(lang), encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

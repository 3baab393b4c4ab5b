"""Deterministic rendering of tool results into reply text (zh / en).

Every number printed here is copied from a tool result (money via
:func:`anxin.agent.numbers.format_money`), so the grounding verifier always passes
on the deterministic part of a reply; the LLM, when there is one, only writes the
framing sentence before it.
"""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from anxin.knowledge.filing import load_catalog


def money(value: Any, lang: str) -> str:
    """A money amount as the advisor prints it: ``12,345.60`` (+ 元 / CNY)."""
    from anxin.agent.numbers import format_money

    text = format_money(Decimal(str(value)), lang)
    return f"{text} 元" if lang == "zh" else f"CNY {text}"


def plain(value: Any) -> str:
    """A number as it appears in the tool result (no trailing ``.0``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def loc(obj: Any, lang: str) -> str:
    """The ``zh``/``en`` text of a bilingual dict (or the value itself)."""
    if isinstance(obj, dict):
        return str(obj.get(lang) or obj.get("en") or obj.get("zh") or "")
    return "" if obj is None else str(obj)


@lru_cache(maxsize=1)
def _products() -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in load_catalog().get("products", [])}


def product_name(pid: str | None, lang: str) -> str:
    """Localised product name with its id, e.g. ``星衡守护重大疾病保险（CI-200）``."""
    if not pid:
        return ""
    p = _products().get(pid)
    name = loc(p.get("name"), lang) if p else pid
    return f"{name}（{pid}）" if lang == "zh" else f"{name} ({pid})"


def param_label(pid: str, param: str, lang: str) -> str:
    """The catalog's label of a rating parameter, else the step's name from the reply
    templates (falls back to the key)."""
    p = _products().get(pid) or {}
    for prm in (p.get("rating") or {}).get("params") or []:
        if prm.get("name") == param:
            return str(prm.get(lang) or param)
    return _step_labels().get(param, {}).get(lang) or param


@lru_cache(maxsize=1)
def _step_labels() -> dict[str, dict[str, str]]:
    from anxin.agent.dialogue import _replies

    return _replies().get("step_labels", {})


def _sep(lang: str) -> str:
    return "：" if lang == "zh" else ": "


# --------------------------------------------------------------------------- quote

def quote(result: dict[str, Any], lang: str) -> str:
    """Premium, every factor and step, and the notices."""
    pid = result.get("product_id", "")
    lines = []
    freq = result.get("premium_frequency")
    years = result.get("payment_years")
    if lang == "zh":
        per = {"annual": "年缴保费", "single": "保费（单次）"}.get(freq, "保费")
        head = f"{product_name(pid, lang)}报价：{per} {money(result['premium'], lang)}"
        if years:
            head += f"，缴费 {plain(years)} 年"
        lines.append(head + "。")
        lines.append("计算明细：")
    else:
        per = {"annual": "annual premium", "single": "single premium"}.get(freq, "premium")
        head = f"Quote for {product_name(pid, lang)}: {per} {money(result['premium'], lang)}"
        if years:
            head += f", payable for {plain(years)} years"
        lines.append(head + ".")
        lines.append("How it is calculated:")
    for step in result.get("breakdown") or []:
        if step.get("step") == "final":
            continue
        label = param_label(pid, str(step.get("step")), lang)
        band = step.get("band")
        basis = step.get("basis") or ""
        band_txt = f"（{band}）" if lang == "zh" and band not in (None, "") else (f" ({band})" if band not in (None, "") else "")
        lines.append(f"- {label}{band_txt}{_sep(lang)}{basis}")
    for n in result.get("notices") or []:
        lines.append(f"* {loc(n, lang)}")
    if result.get("refused_inputs"):
        lines.append("* " + _genetic_notice(lang))
    return "\n".join(lines)


def _genetic_notice(lang: str) -> str:
    notice = (load_catalog().get("general", {}).get("genetic_data_policy", {}) or {}).get("notice", {})
    return loc(notice, lang)


# --------------------------------------------------------------------------- underwriting

def underwriting(result: dict[str, Any], lang: str) -> str:
    """Decision, reasons per rule, exclusions, loading, postponement."""
    pid = result.get("product_id", "")
    decision = loc(result.get("decision_text"), lang) or result.get("decision", "")
    lines = [f"{product_name(pid, lang)}预核保结论：{decision}（{result.get('decision')}）。" if lang == "zh"
             else f"Pre-underwriting result for {product_name(pid, lang)}: {decision} ({result.get('decision')})."]
    for hit in result.get("rule_hits") or []:
        lines.append(f"- {hit.get('rule_id')}{_sep(lang)}{loc(hit.get('reason'), lang)}")
    loading = result.get("total_loading_pct")
    if loading:
        lines.append(f"加费：+{plain(loading)}%" if lang == "zh" else f"Loading: +{plain(loading)}%")
    for ex in result.get("exclusion_details") or []:
        lines.append(f"除外责任 {ex.get('clause_id')}：{loc(ex, lang)}" if lang == "zh"
                     else f"Exclusion {ex.get('clause_id')}: {loc(ex, lang)}")
    if result.get("postpone_months"):
        m = plain(result["postpone_months"])
        lines.append(f"延期 {m} 个月后可再申请。" if lang == "zh" else f"Postponed: you may apply again after {m} months.")
    for n in result.get("notices") or []:
        lines.append(f"* {loc(n, lang)}")
    if result.get("refused_inputs"):
        lines.append("* " + _genetic_notice(lang))
    lines.append("以上为预核保结果，最终以正式投保核保为准。" if lang == "zh"
                 else "This is a pre-underwriting result; the final decision is made at application.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- simulation

def simulation(result: dict[str, Any], lang: str) -> str:
    """Before, after, delta and the steps that changed."""
    pid = result.get("product_id", "")
    before = result["before"]["premium"]
    after = result["after"]["premium"]
    delta = result.get("delta")
    pct = result.get("delta_pct")
    sign = "+" if Decimal(str(delta)) > 0 else ""
    if lang == "zh":
        lines = [f"{product_name(pid, lang)}保费测算：当前 {money(before, lang)} → 调整后 {money(after, lang)}，"
                 f"变化 {sign}{money(delta, lang)}（{sign}{plain(pct)}%）。"]
    else:
        lines = [f"Premium simulation for {product_name(pid, lang)}: now {money(before, lang)} -> after the change "
                 f"{money(after, lang)}, a change of {sign}{money(delta, lang)} ({sign}{plain(pct)}%)."]
    if Decimal(str(delta)) == 0:
        lines.append("这项调整不会改变保费（该条件不适用于您的情况）。" if lang == "zh"
                     else "No change: this does not affect your premium in your situation (the premium stays the same).")
    changed = [st for st in result.get("changed_steps") or []
               if st.get("step") != "final" and st.get("before_value") != st.get("after_value")]
    if changed:
        lines.append("变化的因子：" if lang == "zh" else "Factors that changed:")
        for st in changed:
            label = param_label(pid, str(st.get("step")), lang)
            lines.append(f"- {label}{_sep(lang)}{plain(st.get('before_value'))} → {plain(st.get('after_value'))}")
    for eff in result.get("effective") or []:
        lines.append(f"* {loc(eff, lang)}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- recommendation

def recommendation(result: dict[str, Any], lang: str) -> str:
    """Ranked recommendations with premiums and reasons; what could not be quoted."""
    lines = []
    recs = result.get("recommendations") or []
    if recs:
        lines.append("根据您的情况，建议优先考虑：" if lang == "zh" else "Based on what you told me, I'd prioritise:")
        for r in recs:
            prem = r.get("premium")
            reason = loc((r.get("reasons") or [{}])[0], lang)
            price = (f"，年保费 {money(prem, lang)}" if lang == "zh" else f", {money(prem, lang)} a year") if prem is not None else ""
            lines.append(f"{plain(r.get('rank'))}. {product_name(r.get('product_id'), lang)}{price}{_sep(lang)}{reason}")
    for nq in result.get("not_quoted") or []:
        lines.append(f"- {loc(nq, lang)}")
    for d in result.get("dropped_for_budget") or []:
        lines.append(f"- {loc(d, lang)}")
    fit = result.get("budget_fit")
    if isinstance(fit, dict) and loc(fit, lang):
        lines.append(loc(fit, lang))
    if not lines:
        lines.append("目前没有找到适合您的产品。" if lang == "zh" else "I couldn't find a suitable product for you.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- claims

def claim_status(result: dict[str, Any], lang: str) -> str:
    """Policy line, then each claim: status, timeline, missing documents, decision."""
    lines = []
    pol = result.get("policy") or {}
    if pol:
        status = loc(pol.get("status"), lang)
        lines.append(f"保单 {pol.get('policy_number')}（{loc(pol.get('product_name'), lang)}）状态：{status}。" if lang == "zh"
                     else f"Policy {pol.get('policy_number')} ({loc(pol.get('product_name'), lang)}) is {status}.")
    claims = result.get("claims") or ([result["claim"]] if result.get("claim") else [])
    if result.get("claim_id"):
        claims = [c for c in claims if c.get("claim_id") == result["claim_id"]] or claims
    if not claims:
        lines.append("该保单目前没有理赔记录。" if lang == "zh" else "There are no claims on this policy.")
    for c in claims:
        status = loc(c.get("status"), lang)
        if lang == "zh":
            lines.append(f"理赔 {c.get('claim_id')}（{loc(c.get('type'), lang)}）当前状态：{status}。")
        else:
            lines.append(f"Claim {c.get('claim_id')} ({loc(c.get('type'), lang)}) is currently: {status}.")
        for ev in c.get("timeline") or []:
            label = ev.get("status_zh") if lang == "zh" else ev.get("status_en")
            note = loc(ev.get("note"), lang)
            lines.append(f"- {ev.get('date')} {label}" + (f"{_sep(lang)}{note}" if note else ""))
        missing = c.get("missing_documents") or []
        if missing:
            docs = "；".join(_doc_name(d, lang) for d in missing) if lang == "zh" else "; ".join(_doc_name(d, lang) for d in missing)
            lines.append(f"还需补充材料：{docs}" if lang == "zh" else f"Documents still needed: {docs}")
        if c.get("rejection_reason"):
            lines.append(("拒赔原因：" if lang == "zh" else "Reason for the rejection: ") + loc(c["rejection_reason"], lang))
        if c.get("approved_amount") not in (None, 0) and c.get("status", {}).get("code") in ("approved", "paid"):
            lines.append(f"核定赔付金额：{money(c['approved_amount'], lang)}" if lang == "zh"
                         else f"Approved amount: {money(c['approved_amount'], lang)}")
        if c.get("paid_amount") not in (None, 0):
            when = c.get("paid_date") or ""
            lines.append(f"已支付：{money(c['paid_amount'], lang)}（{when}）" if lang == "zh"
                         else f"Paid: {money(c['paid_amount'], lang)} ({when})")
        nxt = (c.get("details") or {}).get("next_payment") if isinstance(c.get("details"), dict) else None
        if isinstance(nxt, dict) and nxt.get("expected_date"):
            lines.append(f"下一期给付：{money(nxt.get('amount', 0), lang)}，预计 {nxt['expected_date']} 到账（{nxt.get('period', '')}）" if lang == "zh"
                         else f"Next payment: {money(nxt.get('amount', 0), lang)}, expected on {nxt['expected_date']} (period {nxt.get('period', '')})")
        est = c.get("estimate_if_approved")
        if isinstance(est, dict) and (loc(est, lang) or est.get("amount") is not None):
            text = loc(est, lang)
            if not text and est.get("amount") is not None:
                text = money(est["amount"], lang)
            lines.append(("如审核通过，预计赔付：" if lang == "zh" else "If approved, the estimated payout is: ") + text)
    return "\n".join(lines)


def _doc_name(doc: Any, lang: str) -> str:
    if isinstance(doc, dict):
        name = loc(doc.get("name") or doc, lang)
        return f"{name}（{doc['id']}）" if lang == "zh" and doc.get("id") else (f"{name} ({doc['id']})" if doc.get("id") else name)
    return str(doc)


def file_claim(result: dict[str, Any], lang: str) -> str:
    """The new claim id, its status, documents needed and next steps."""
    claim = result.get("claim") or {}
    status = loc(claim.get("status"), lang) or str(result.get("decision", ""))
    cov = result.get("coverage") or {}
    lines = [f"理赔报案已提交：理赔编号 {result.get('claim_id')}（{loc(cov, lang)}），当前状态：{status}。" if lang == "zh"
             else f"Your claim has been filed: claim id {result.get('claim_id')} ({loc(cov, lang)}), status: {status}."]
    docs = [d for d in result.get("documents_needed") or claim.get("missing_documents") or []
            if not (isinstance(d, dict) and d.get("auto_retrieved"))]
    if docs:
        lines.append("请准备以下材料：" if lang == "zh" else "Please provide these documents:")
        lines += [f"- {_doc_name(d, lang)}" for d in docs]
    for step in result.get("next_steps") or []:
        lines.append(f"* {loc(step, lang)}")
    return "\n".join(lines)


def clause_sources(citations: list[Any], lang: str) -> str:
    """``依据条款：[MED-100-WAITING] 等待期；…`` for the cited clauses."""
    from anxin.agent.answers import clean_heading

    parts = [f"[{c.clause_id}] {clean_heading(c.heading, c.clause_id)}".strip() for c in citations]
    return ("依据条款：" if lang == "zh" else "Sources: ") + ("；".join(parts) if lang == "zh" else "; ".join(parts))

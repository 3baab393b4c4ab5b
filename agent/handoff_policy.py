"""When the advisor hands a conversation to a human, and what it hands over.

Triggers (issue 4): an explicit request, anger in two consecutive turns or one very
intense, a complaint or a dispute of a claim decision, two turns in a row not
understood, vulnerability (bereavement, self-harm), legal threats, and a verification
lockout. Deterministic: the LLM never decides this.
"""
from __future__ import annotations

import re
from typing import Any

from anxin.agent.state import CREDENTIAL_SLOTS, DialogueState
from anxin.agent.types import Emotion

_DISPUTE = re.compile(
    r"(?:拒赔|不赔|拒绝赔|驳回|理赔结果|理赔决定).{0,15}(?:不服|不接受|申诉|复议|不认可|凭什么|不合理|有异议|错)"
    r"|(?:申诉|复议).{0,8}(?:拒赔|理赔)"
    r"|\b(?:dispute|appeal|contest|challenge|disagree with)\b.{0,30}\b(?:claim|decision|rejection|denial|declin)"
    r"|\b(?:claim|decision|rejection)\b.{0,30}\b(?:wrong|unfair|unjust|not fair)\b", re.I)
_BEREAVEMENT = re.compile(
    r"去世|过世|离世|病逝|身故了|走了.{0,4}(?:丈夫|妻子|老公|老婆|父亲|母亲|爸|妈|孩子)|(?:丈夫|妻子|老公|老婆|父亲|母亲|爸爸|妈妈|孩子).{0,6}(?:走了|没了)"
    r"|\bpassed away\b|\b(?:has|had) died\b|\bdied\b|\bdeath of my\b|\blost my (?:husband|wife|father|mother|son|daughter|child|dad|mum|mom)\b"
    r"|\b(?:husband|wife|father|mother|son|daughter|dad|mum|mom)\b.{0,20}\b(?:passed|died)\b", re.I)

#: Reason labels (ticket ``reason``) by trigger.
REASONS = {
    "handoff_request": "customer_request",
    "complaint": "complaint",
    "claim_dispute": "claim_dispute",
    "anger": "negative_emotion",
    "not_understood": "not_understood",
    "vulnerability": "vulnerability",
    "self_harm": "vulnerability",
    "legal_threat": "legal_threat",
    "verification_locked": "verification_locked",
}


def trigger(text: str, intent: str, emotion: Emotion, state: DialogueState,
            guard_category: str | None = None) -> str | None:
    """The hand-off trigger this turn fires (a key of :data:`REASONS`), or None."""
    if guard_category in ("self_harm", "legal_threat"):
        return guard_category
    if intent == "handoff_request":
        return "handoff_request"
    if intent == "complaint":
        return "claim_dispute" if _DISPUTE.search(text) else "complaint"
    if _DISPUTE.search(text):
        return "claim_dispute"
    if _BEREAVEMENT.search(text):
        return "vulnerability"
    if emotion.label == "anger":
        previous = state.emotions[-2]["label"] if len(state.emotions) >= 2 else None
        if emotion.signals.get("very_intense") or previous == "anger":
            return "anger"
    if state.not_understood >= 2:
        return "not_understood"
    return None


def next_best_action(reason: str, state: DialogueState, lang: str) -> str:
    """A suggested next step for the human advisor."""
    zh = {
        "customer_request": "尽快接入，确认客户需求并继续办理。",
        "complaint": "先致歉并记录投诉要点，按投诉流程登记并告知处理时限。",
        "claim_dispute": "调阅理赔案件与拒赔依据条款，向客户解释并告知申诉/复核渠道。",
        "negative_emotion": "安抚情绪，优先处理客户最紧急的诉求。",
        "not_understood": "人工确认客户真实需求。",
        "vulnerability": "以关怀为先；如涉及身故理赔，协助办理身故理赔并说明所需材料；如有自伤风险，提供心理援助热线。",
        "legal_threat": "升级至主管，记录诉求，按监管投诉处理流程回复。",
        "verification_locked": "人工核验身份后再提供保单或理赔信息。",
    }
    en = {
        "customer_request": "Join promptly, confirm what the customer needs and continue.",
        "complaint": "Apologise, record the complaint and log it in the complaints process with the response deadline.",
        "claim_dispute": "Review the claim file and the clauses behind the decision; explain and give the appeal/review route.",
        "negative_emotion": "De-escalate and deal with the customer's most urgent request first.",
        "not_understood": "Clarify what the customer needs.",
        "vulnerability": "Lead with care; for a death claim, help file it and list the documents; if there is any self-harm risk, give the crisis hotline.",
        "legal_threat": "Escalate to a supervisor, record the demands and respond through the regulated complaints process.",
        "verification_locked": "Verify the customer's identity manually before sharing policy or claim details.",
    }
    table = zh if lang == "zh" else en
    return table.get(reason, table["customer_request"])


def summary(state: DialogueState, reason: str, lang: str, last_text: str) -> tuple[str, dict[str, Any]]:
    """A structured hand-off summary (text for the ticket, payload for the console).

    Credentials (ID digits, names, birth dates given for verification) are left out.
    """
    slots = {k: v for k, v in state.slots.items() if k not in CREDENTIAL_SLOTS}
    trajectory = [e.get("label") for e in state.emotions[-8:]]
    payload: dict[str, Any] = {
        "reason": reason,
        "intent": state.intents[-1] if state.intents else None,
        "intents": state.intents[-8:],
        "task": state.task,
        "product_id": state.product_id,
        "slots": slots,
        "declarations": state.declarations,
        "verified": state.verified,
        "verified_customer_id": state.verified_customer_id,
        "emotion_trajectory": trajectory,
        "emotions": state.emotions[-8:],
        "cited_clauses": state.cited[-12:],
        "tool_results": state.tool_log[-8:],
        "next_best_action": next_best_action(reason, state, lang),
        "language": lang,
        "last_message": last_text[:500],
    }
    facts = [
        f"reason: {reason}",
        f"customer: {state.verified_customer_id or 'not verified'}",
        f"intent: {payload['intent']}; task: {state.task}; product: {state.product_id}",
        f"emotion: {' > '.join(str(t) for t in trajectory) or 'neutral'}",
        f"key facts: {', '.join(f'{k}={v}' for k, v in list(slots.items())[:12]) or '-'}",
        f"tools: {'; '.join(t.get('summary', '') for t in state.tool_log[-4:]) or '-'}",
        f"cited: {', '.join(state.cited[-6:]) or '-'}",
        f"last message: {last_text[:200]}",
        f"next action: {payload['next_best_action']}",
    ]
    return "\n".join(facts), payload

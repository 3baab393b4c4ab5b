"""One turn of the dialogue: understanding, policy, tool calls and the rendered reply.

:class:`Turn` is created by :class:`anxin.agent.advisor.Advisor` for every customer
message. Handlers (``_on_<intent>``) fill ``parts`` (deterministic reply text),
``tool_calls`` and ``citations``; the advisor then adds the LLM's framing sentence
(when there is an LLM), verifies every number and persists the turn.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from anxin.agent import handoff_policy, render
from anxin.agent.intents import classify
from anxin.agent.state import CREDENTIAL_SLOTS, DialogueState
from anxin.agent.types import Citation, Emotion, HandoffState, ToolCall
from anxin.knowledge.filing import load_catalog
from anxin.tools import registry

if TYPE_CHECKING:
    from anxin.agent.advisor import Advisor

log = logging.getLogger("anxin.agent")

_REPLIES = Path(__file__).with_name("data") / "replies.yaml"

#: Characters of the rendered answer shown to the LLM when it writes the opening sentence.
LEAD_FACTS_CHARS = 360


@lru_cache(maxsize=1)
def _replies() -> dict[str, Any]:
    return yaml.safe_load(_REPLIES.read_text(encoding="utf-8"))


def t(key: str, lang: str, **kw: Any) -> str:
    """A reply template in ``lang`` with its placeholders filled."""
    entry = _replies()[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**kw) if kw else text


@lru_cache(maxsize=1)
def _catalog_products() -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in load_catalog().get("products", [])}


@lru_cache(maxsize=1)
def _common_inputs() -> dict[str, Any]:
    return load_catalog().get("general", {}).get("common_quote_inputs", {}) or {}


def product_params(pid: str) -> dict[str, dict[str, Any]]:
    """A product's rating parameters by name."""
    p = _catalog_products().get(pid) or {}
    return {prm["name"]: prm for prm in (p.get("rating") or {}).get("params") or []}


def required_params(pid: str) -> list[str]:
    """Rating parameters a quote cannot do without (``required: true``)."""
    return [n for n, prm in product_params(pid).items() if prm.get("required")]


def _underwritten(pid: str) -> bool:
    """Whether the product has health underwriting (catalog ``underwriting_line``; "none" = no)."""
    line = (_catalog_products().get(pid) or {}).get("underwriting_line")
    return bool(line) and str(line).lower() != "none"


#: Quote errors that mean the customer cannot buy the product (not a system failure).
_INELIGIBLE = frozenset({"INELIGIBLE_AGE", "INELIGIBLE_OCCUPATION", "INELIGIBLE", "NOT_OFFERED"})

#: Rating parameters that are amounts of money (a bare "50万" can only mean one of them).
_MONEY_PARAMS = frozenset({"sum_insured", "monthly_benefit", "vehicle_value", "building_si", "contents_si"})

_POLICY_PRODUCT = re.compile(r"^XH-([A-Z]+)(\d+)-", re.I)


def product_of_policy(policy_number: str | None) -> str | None:
    """``XH-MED100-2026-000102`` -> ``MED-100`` (when that product exists)."""
    m = _POLICY_PRODUCT.match(policy_number or "")
    if not m:
        return None
    pid = f"{m.group(1).upper()}-{m.group(2)}"
    return pid if pid in _catalog_products() else None


def _llm_nlu(llm: Any) -> bool:
    """Whether the LLM also classifies and extracts. On the embedded 2-core model a
    245-token classification prompt alone costs seconds, so the local back-end only
    writes the opening sentence unless ``ANXIN_LLM_LOCAL_NLU=1``; a server back-end
    (``openai``) does all three."""
    return llm.name != "local" or os.environ.get("ANXIN_LLM_LOCAL_NLU", "0") == "1"


def detect_language(text: str, previous: str | None, hint: str | None) -> str:
    """zh or en: CJK characters → zh unless the message is mostly Latin words; a message
    of only digits/ids keeps the conversation's language."""
    if hint in ("zh", "en") and not text:
        return hint
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    latin_words = len(re.findall(r"[A-Za-z]{2,}", re.sub(r"\b(?:XH|CLM|TI-RADS|BMI|ID|HbA1c|[A-Z]{2,4}-\d{3})\b", "", text)))
    if cjk == 0 and latin_words == 0:
        return previous or hint or "zh"
    if cjk and latin_words >= 3 and latin_words > cjk / 2:
        return "en"          # "Hi, what's the 等待期 for 百万医疗?"
    if cjk and cjk >= latin_words:
        return "zh"
    if cjk:
        return "zh"
    return "en"


class Turn:
    """State and output of one customer turn."""

    def __init__(self, advisor: "Advisor", session_id: str, state: DialogueState, text: str, *,
                 language_hint: str | None = None, prosody: dict[str, Any] | None = None,
                 handoff_row_state: str = "none", channel: str | None = None) -> None:
        self.advisor = advisor
        self.session_id = session_id
        self.state = state
        self.text = text
        self.prosody = prosody
        self.channel = channel
        self.handoff_row_state = handoff_row_state
        self.lang = detect_language(text, state.language, language_hint)
        self.intent = "out_of_scope"
        self.entities: dict[str, Any] = {}
        self.tool_calls: list[ToolCall] = []
        self.citations: list[Citation] = []
        self.emotion: Emotion | None = None
        self.parts: list[str] = []
        self.lead = ""                  # template framing (acknowledgement)
        self.template_lead = ""
        self.llm_lead_wanted = False
        self.grounded = True
        self.backend_used = "none"
        self.suggestions: list[str] = []
        self.next_best_action: str | None = None
        self.ctx = advisor.context(session_id, self.lang)
        self._handoff: dict[str, Any] = dict(state.handoff or {})
        self.health: Any = None
        self.extra_sources: list[Any] = []   # filing data shown in a question (allowed values)

    # ================================================================== pipeline
    def run(self) -> None:
        """Understand the turn and produce the reply parts."""
        st = self.state
        st.language = self.lang
        if not self.text:
            self.intent = "out_of_scope"
            self.parts.append("请输入您的问题。" if self.lang == "zh" else "Please type your question.")
            return
        if self._handoff_active():
            self._while_handed_off()
            return

        guard = self._screen()
        self.emotion = self._emotion()
        st.emotions.append({"label": self.emotion.label, "score": round(self.emotion.score, 3)})
        st.emotions = st.emotions[-50:]
        self._understand()
        st.intents.append(self.intent)
        st.intents = st.intents[-50:]

        if guard is not None and guard.category not in ("self_harm", "legal_threat"):
            self.intent = self._guard_intent(guard.category)
            st.intents[-1] = self.intent
            self.parts.append(guard.reply_zh if self.lang == "zh" else guard.reply_en)
            st.not_understood = 0
            return

        reason = handoff_policy.trigger(self.text, self.intent, self.emotion, st,
                                        guard.category if guard is not None else None)
        self._tone()
        if reason is not None:
            if guard is not None and guard.category in ("self_harm", "legal_threat"):
                self.parts.append(guard.reply_zh if self.lang == "zh" else guard.reply_en)
                if guard.category == "legal_threat":
                    self.intent = "complaint"
                    st.intents[-1] = self.intent
            if self.intent not in ("complaint", "handoff_request") and reason in ("complaint", "claim_dispute"):
                self.intent = "complaint"
            self._open_handoff(handoff_policy.REASONS[reason])
            return

        handler = getattr(self, f"_on_{self.intent}", None)
        if handler is None:
            self._on_out_of_scope()
            return
        handler()

    def fail_safe(self) -> None:
        """Reply after an unexpected error: apologise, offer a human, keep the session."""
        self.parts = [("抱歉，系统处理您的请求时出现问题。" if self.lang == "zh"
                       else "Sorry, something went wrong while handling your request.") + " " + t("offer_human", self.lang)]
        self.lead = ""

    def safe_fallback(self) -> str:
        """A reply with no numbers at all (used when grounding cannot be established)."""
        return t("dont_know", self.lang)

    def lead_messages(self) -> list[dict[str, str]] | None:
        """Prompt for the LLM's framing sentence(s) of this reply (None: nothing to frame)."""
        from anxin.agent.prompts import phrase_messages

        from anxin.agent.guardrails import sanitize_retrieved

        # a short DATA block keeps the local model's first token within ~2 s (it reads
        # ~200 prompt tokens/s here); the full answer is rendered under its sentence anyway
        facts = sanitize_retrieved("\n".join(p for p in self.parts if p))[:LEAD_FACTS_CHARS]
        if not facts:
            return None
        label = self.emotion.label if self.emotion else "neutral"
        tone = "empathetic" if label in ("anger", "anxiety", "sadness") else "calm"
        return phrase_messages(self.lang, self.intent, facts, self.text, tone)

    # ================================================================== understanding
    def _screen(self) -> Any:
        try:
            from anxin.agent.guardrails import screen
        except ImportError:
            return None
        try:
            verdict = screen(self.text, self.lang)
        except Exception:  # noqa: BLE001
            log.exception("guardrails failed")
            return None
        return verdict if getattr(verdict, "category", None) else None

    def _guard_intent(self, category: str) -> str:
        if category in ("other_customer_data", "verification_bypass"):
            return "claim_status" if re.search(r"理赔|claim", self.text, re.I) else "out_of_scope"
        return "out_of_scope"

    def _emotion(self) -> Emotion:
        try:
            from anxin.agent.emotion import detect_emotion
        except ImportError:
            return Emotion()
        try:
            return detect_emotion(self.text, self.lang, prosody=self.prosody)
        except Exception:  # noqa: BLE001
            log.exception("emotion detection failed")
            return Emotion()

    def _understand(self) -> None:
        st = self.state
        expecting = st.expecting[0] if st.expecting else None
        ents: dict[str, Any] = {}
        try:
            from anxin.agent.entities import extract_entities

            ents = extract_entities(self.text, self.lang, expecting=expecting).to_dict()
        except ImportError:
            pass
        except Exception:  # noqa: BLE001
            log.exception("entity extraction failed")
        health = None
        try:
            from anxin.agent.health import extract_declarations

            pending = [d for d in st.declarations if d.get("_missing")] or None
            claims_talk = st.task in ("claim_filing", "claim_status") or re.search(
                r"理赔|报案|赔付|报销|\bclaim", self.text, re.I)
            if not claims_talk:
                # product names ("糖尿病险", "GlucoCare diabetes insurance") are not declarations
                health = extract_declarations(_without_product_names(self.text), self.lang, pending=pending)
        except ImportError:
            pass
        except Exception:  # noqa: BLE001
            log.exception("health extraction failed")
        self.health = health
        self.entities = {k: v for k, v in ents.items() if v not in (None, [], {}, "")}
        self._llm_fill(st)
        has_decl = bool(health and (health.declarations or health.refused_genetic
                                    or (health.none_declared and st.task == "underwriting")))
        llm_classify = self._llm_classifier()
        result = classify(self.text, self.entities, active_task=st.task, expecting=expecting,
                          has_declarations=has_decl, llm_classify=llm_classify,
                          previous_intent=st.intents[-1] if st.intents else None)
        self.intent = result.intent
        if st.task in ("claim_filing", "claim_status") and self.intent in ("claim_filing", "claim_status", "underwriting") \
                and self.intent != st.task and max(result.scores.values(), default=0) < 3:
            self.intent = st.task        # details for the claim in progress, not a new request
        # "那保额100万呢？" after a quote: the same product re-quoted with the new value.
        if result.intent in ("policy_question", "out_of_scope") and result.source != "llm" and st.last_quote \
                and max(result.scores.values(), default=0) < 3:
            pid = (self.entities.get("product_ids") or [st.last_quote["product_id"]])[0]
            if any(k in product_params(pid) for k in self.entities):
                self.intent = "quote"
        # "重疾险 30岁男 50万": a product and the person's details, no question words.
        if self.intent == "policy_question" and result.scores.get("policy_question", 0) < 3 \
                and self.entities.get("product_ids"):
            pid = self.entities["product_ids"][0]
            details = [k for k in self.entities if k in product_params(pid) or k == "amounts"]
            if len(details) >= (2 if result.scores.get("policy_question", 0) < 2 else 3):
                self.intent = "quote"
                st.task = "quote"
        if self.entities.get("yes") is not None and st.pending_confirmation:
            self.intent = st.pending_confirmation.get("intent", "claim_filing")
        # remember slots
        for k, v in self.entities.items():
            if k in ("yes", "amounts", "product_ids"):
                continue
            st.slots[k] = v
        if "id_last4" not in self.entities:
            m = _ID4.search(self.text)
            if m is None and (st.expecting[:1] == ["id_last4"] or "id_last4" in st.expecting):
                m = _BARE_ID4.search(self.text)
            if m:
                self.entities["id_last4"] = m.group(1).upper()
                st.slots["id_last4"] = self.entities["id_last4"]
        if "name" not in self.entities and (st.task in ("claim_status", "claim_filing") or self.entities.get("policy_number")
                                             or self.entities.get("claim_id")) and not st.verified:
            name = fallback_name(self.text)
            if name:
                self.entities["name"] = name
                st.slots["name"] = name
        if self.entities.get("product_ids"):
            st.product_id = self.entities["product_ids"][0]
        elif self.entities.get("policy_number") and product_of_policy(self.entities["policy_number"]):
            st.product_id = product_of_policy(self.entities["policy_number"])
        if health is not None:
            self._merge_health(health)
        if result.source != "state" and self.intent not in ("greeting", "policy_question", "out_of_scope"):
            if st.task != self.intent:
                st.expecting = []
            st.task = self.intent if self.intent in (
                "quote", "underwriting", "premium_simulation", "recommendation",
                "claim_status", "claim_filing", "policy_service") else st.task
        if self.intent in ("out_of_scope",) and not self.entities:
            st.not_understood += 1
        else:
            st.not_understood = 0

    def _llm_classifier(self) -> Any:
        """The LLM as a tie-breaker for ambiguous intents (None on the ``none`` back-end)."""
        llm = self.advisor.llm
        if llm.name == "none" or not llm.available or not _llm_nlu(llm):
            return None
        from anxin.agent.prompts import INTENT_CLASSIFY_INSTRUCTIONS
        from anxin.agent.types import INTENTS

        return lambda text: llm.classify(text, list(INTENTS), instructions=INTENT_CLASSIFY_INSTRUCTIONS)

    def _llm_fill(self, st: DialogueState) -> None:
        """Ask the LLM (when there is one) for the slots we asked about that the parsers
        did not find in the answer. Its values are proposals: the tools validate them."""
        llm = self.advisor.llm
        if llm.name == "none" or not llm.available or not st.expecting or not st.product_id or not _llm_nlu(llm):
            return
        params = product_params(st.product_id)
        wanted = [n for n in st.expecting if n in params and n not in self.entities]
        if not wanted:
            return
        types = {"int": "integer", "number": "number", "bool": "boolean", "enum": None, "dict": "object"}
        props: dict[str, Any] = {}
        for n in wanted:
            prm = params[n]
            if prm.get("type") == "enum":
                props[n] = {"enum": list(prm.get("values") or [])}
            else:
                props[n] = {"type": types.get(str(prm.get("type")), "string")}
        from anxin.agent.prompts import SLOT_EXTRACT_INSTRUCTIONS

        found = llm.extract_json(self.text, {"type": "object", "properties": props},
                                 instructions=SLOT_EXTRACT_INSTRUCTIONS) or {}
        for k, v in found.items():
            if k in props and v is not None:
                self.entities[k] = v

    def _merge_health(self, health: Any) -> None:
        st = self.state
        if health.none_declared and not health.declarations:
            st.none_declared = True
        by_cond = {d["condition"]: d for d in st.declarations}
        for d in health.declarations:
            by_cond[d["condition"]] = {**by_cond.get(d["condition"], {}), **d}
        missing = getattr(health, "missing_inputs", {}) or {}
        for cond, decl in by_cond.items():
            if cond in missing and missing[cond]:
                decl["_missing"] = list(missing[cond])
            elif cond in {d["condition"] for d in health.declarations}:
                decl.pop("_missing", None)
        st.declarations = list(by_cond.values())
        for k in ("bmi", "height_cm", "weight_kg"):
            v = getattr(health, k, None)
            if v is not None:
                st.slots[k] = v

    def _tone(self) -> None:
        label = self.emotion.label if self.emotion else "neutral"
        key = {"anger": "ack_anger", "anxiety": "ack_anxiety", "sadness": "ack_sadness",
               "confusion": "ack_confusion"}.get(label)
        if key:
            self.lead = self.template_lead = t(key, self.lang)
            self.llm_lead_wanted = True

    # ================================================================== tools
    def call(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run a tool, record the call (with its result) and return the result."""
        started = time.perf_counter()
        try:
            result = registry.call(name, args, self.ctx)
        except Exception as exc:  # noqa: BLE001 - a crashing tool is an error result, not a crash
            log.exception("tool %s crashed", name)
            result = {"error": {"code": "INTERNAL_ERROR", "message": str(exc)}}
        ok = "error" not in result
        self.tool_calls.append(ToolCall(name=name, args=dict(args), result=result, ok=ok,
                                        latency_ms=round((time.perf_counter() - started) * 1000, 2)))
        self.state.tool_log.append({"tool": name, "ok": ok, "summary": _tool_summary(name, args, result)})
        self.state.tool_log = self.state.tool_log[-20:]
        return result

    def cite(self, clause_id: str, *, text: str = "", heading: str = "", product_id: str | None = None,
             doc: str = "", score: float | None = None) -> None:
        """Add a citation (looked up in the knowledge base when no text is given)."""
        if any(c.clause_id == clause_id for c in self.citations):
            return
        if not text:
            hit = self._clause(clause_id)
            if hit is not None:
                text, heading, doc = hit.text, hit.heading, hit.doc
                product_id = product_id or hit.product_id or None
        if product_id is None:
            m = re.match(r"^([A-Z]+-\d+)-", clause_id)
            product_id = m.group(1) if m and m.group(1) in _catalog_products() else None
        self.citations.append(Citation(clause_id=clause_id, product_id=product_id, heading=heading, text=text,
                                       doc=doc, score=score))
        if clause_id not in self.state.cited:
            self.state.cited.append(clause_id)
            self.state.cited = self.state.cited[-40:]

    def _clause(self, clause_id: str) -> Any:
        try:
            return self.ctx.get_searcher().clause(clause_id, self.lang)
        except Exception:  # noqa: BLE001 - citing without text is better than failing the turn
            log.debug("clause lookup failed for %s", clause_id, exc_info=True)
            return None

    def sources(self) -> list[Any]:
        """What numbers in the reply may come from: tool args and results, cited clauses."""
        out: list[Any] = []
        for c in self.tool_calls:
            out += [c.args, c.result]
        out += [c.text for c in self.citations] + [c.heading for c in self.citations]
        return out + self.extra_sources

    def tool_error(self, name: str, result: dict[str, Any]) -> None:
        """Explain a tool error to the customer (its bilingual message)."""
        err = result.get("error", {})
        msg = err.get(f"message_{self.lang}") or err.get("message") or err.get("code", "")
        label = {"quote": ("报价", "quote"), "pre_underwrite": ("预核保", "pre-underwriting"),
                 "simulate_premium": ("保费测算", "premium simulation"), "recommend": ("产品推荐", "recommendation"),
                 "claim_status": ("理赔查询", "claim lookup"), "file_claim": ("理赔报案", "claim filing"),
                 "search_policy": ("条款检索", "policy search"), "handoff": ("转人工", "hand-off")}.get(name, (name, name))
        self.parts.append(t("tool_failed", self.lang, tool=label[0] if self.lang == "zh" else label[1], message=msg))

    # ================================================================== hand-off
    def _handoff_active(self) -> bool:
        h = self._handoff
        if not h.get("active"):
            return False
        # Staff returned the session to the bot (ticket closed): resume advising.
        if self.handoff_row_state in ("closed", "none", "returned"):
            self.state.handoff = {**h, "active": False, "status": "returned"}
            self._handoff = dict(self.state.handoff)
            return False
        return True

    def _while_handed_off(self) -> None:
        self.intent = "handoff_request"
        self.emotion = self._emotion()
        self.state.emotions.append({"label": self.emotion.label, "score": round(self.emotion.score, 3)})
        self.state.intents.append(self.intent)
        position = None
        try:
            from anxin.db.handoff import queue

            with self.ctx.db() as db:
                for item in queue(db):
                    if item.get("session_id") == self.session_id:
                        position = item.get("queue_position")
        except Exception:  # noqa: BLE001
            log.debug("queue lookup failed", exc_info=True)
        self._handoff["queue_position"] = position
        if self.handoff_row_state == "taken":
            self._handoff["status"] = "taken"
            self.parts.append(t("handoff_taken", self.lang))
        else:
            # the position is a tool-grade fact: record it as the hand-off tool's view
            self.tool_calls.append(ToolCall(name="handoff_status", args={}, result={
                "ticket_id": self._handoff.get("ticket_id"), "queue_position": position}))
            self.parts.append(t("handoff_waiting", self.lang, ticket_id=self._handoff.get("ticket_id", ""),
                                position=position if position is not None else "-"))
        self.state.handoff = self._handoff

    def _open_handoff(self, reason: str) -> None:
        summary, payload = handoff_policy.summary(self.state, reason, self.lang, self.text)
        self.next_best_action = payload["next_best_action"]
        self.ctx.extra["handoff_payload"] = payload
        result = self.call("handoff", {"reason": reason, "summary": summary})
        if "error" in result:
            self.parts.append(t("handoff_failed", self.lang))
            return
        self._handoff = {"active": True, "status": "pending", "reason": reason,
                         "ticket_id": result.get("ticket_id"), "queue_position": result.get("queue_position")}
        self.state.handoff = self._handoff
        self.state.clear_task()
        self.parts.append(t("handoff_opened", self.lang, ticket_id=result.get("ticket_id"),
                            position=result.get("queue_position")))

    def handoff_state(self) -> HandoffState:
        """The hand-off state after this turn."""
        h = self._handoff
        return HandoffState(active=bool(h.get("active")), status=h.get("status", "none") if h else "none",
                            reason=h.get("reason"), ticket_id=h.get("ticket_id"),
                            queue_position=h.get("queue_position"))

    # ================================================================== asking
    def ask(self, task_key: str, questions: list[str], expecting: list[str], product: str | None = None) -> None:
        """Ask for (at most two) missing inputs and remember what we asked for."""
        qs = questions[:2]
        self.extra_sources += qs          # the questions' own options (TI-RADS 1-5, 140/90)
        if product:
            self.extra_sources.append(render.product_name(product, self.lang))
        joiner = "；" if self.lang == "zh" else "; "
        task = t(task_key, self.lang, product=render.product_name(product, self.lang) if product else "")
        self.parts.append(t("ask_slots", self.lang, task=task, questions=joiner.join(qs)))
        self.state.expecting = expecting[:2]

    def _param_question(self, pid: str, name: str) -> str:
        prm = product_params(pid).get(name, {})
        label = str(prm.get(self.lang) or prm.get("en") or name)
        values = prm.get("values")
        if values:
            self.extra_sources.append(values)
        if values and prm.get("type") == "enum":
            opts = "/".join(_fmt_value(v) for v in values)
            label = f"{label}（{opts}）" if self.lang == "zh" else f"{label} ({opts})"
        return label

    def _ask_product(self, task_key: str) -> None:
        names = [render.product_name(pid, self.lang) for pid in list(_catalog_products())[:4]]
        self.extra_sources += names
        self.parts.append(t("ask_product", self.lang, examples=("、" if self.lang == "zh" else ", ").join(names)))
        self.state.expecting = ["product_id"]

    # ================================================================== handlers
    def _on_greeting(self) -> None:
        if re.search(r"谢|thank|thx|bye|再见|拜拜", self.text, re.I):
            self.parts.append(t("thanks", self.lang))
        else:
            self.parts.append(t("greeting", self.lang))

    def _on_out_of_scope(self) -> None:
        if self.state.not_understood >= 1 and _looks_insurance(self.text):
            self.parts.append(t("not_understood", self.lang))
        else:
            self.parts.append(t("out_of_scope", self.lang))

    def _on_handoff_request(self) -> None:
        self._open_handoff("customer_request")

    def _on_complaint(self) -> None:
        self._open_handoff("complaint")

    # ------------------------------------------------------------------ policy questions
    def _on_policy_question(self) -> None:
        pid = (self.entities.get("product_ids") or [None])[0]
        if pid is None and self.state.product_id and not _mentions_other_topic(self.text):
            pid = self.state.product_id
        from anxin.agent.answers import answer_from_clauses

        args: dict[str, Any] = {"query": self.text[:2000], "k": 5}
        if pid:
            args["product_id"] = pid
        result = self.call("search_policy", args)
        if "error" in result:
            self.tool_error("search_policy", result)
            return
        for hit in result.get("results") or []:
            if hit.get("language") and hit["language"] != self.lang and hit.get("clause_id"):
                same = self._clause(hit["clause_id"])
                if same is not None and same.language == self.lang:
                    hit.update(text=same.text, heading=same.heading, language=same.language)
        try:
            from anxin.agent.answers import corpus_idf

            idf = corpus_idf(self.ctx.get_searcher())
        except Exception:  # noqa: BLE001 - unweighted overlap still works
            idf = None
        answer = answer_from_clauses(self.text, result.get("results") or [], self.lang, idf,
                                     ignore=_product_words(pid) if pid else None)
        if answer is None:
            self.parts.append(t("dont_know", self.lang))
            self.suggestions.append("handoff")
            return
        for hit in answer.citations:
            self.cite(hit["clause_id"], text=hit.get("text", ""), heading=hit.get("heading", ""),
                      product_id=hit.get("product_id") or None, doc=hit.get("doc", ""), score=hit.get("score"))
        self.parts.append(answer.text)
        self.parts.append(render.clause_sources(self.citations, self.lang))
        self.llm_answer_context = answer
        self.llm_lead_wanted = True

    def _on_policy_service(self) -> None:
        # Cooling-off, cancellation, renewal, grace, changes: answer from the clauses;
        # executing a cancellation or change needs a person (no self-service tool).
        self._on_policy_question()
        if re.search(r"退保|取消|撤销|解除|cancel|变更|改|change|update", self.text, re.I):
            self.parts.append("如需办理退保或变更，我可以为您转接人工顾问办理。" if self.lang == "zh"
                              else "To actually cancel or change the policy, I can connect you with a human advisor.")
            self.suggestions.append("handoff")

    # ------------------------------------------------------------------ quotes
    def _quote_product(self) -> str | None:
        ids = self.entities.get("product_ids") or []
        return ids[0] if ids else self.state.product_id

    def quote_args(self, pid: str) -> dict[str, Any]:
        """Quote arguments for ``pid`` from the conversation's slots (names as in the catalog)."""
        params = product_params(pid)
        aliases = (_common_inputs().get("aliases") or {}).get(pid, {})
        descriptors = set(_common_inputs().get("ignored_descriptors") or [])
        slots = dict(self.state.slots)
        for alias, canonical in aliases.items():
            if alias in slots and canonical not in slots:
                slots[canonical] = slots[alias]
        args: dict[str, Any] = {"product_id": pid}
        for k, v in slots.items():
            if k in params:
                args[k] = v
        for k in ("birth_date",):
            if k in slots and "age" not in args and "driver_age" not in args:
                args[k] = slots[k]
        # person descriptors the product does not rate on are not sent (less noise)
        return {k: v for k, v in args.items() if k == "product_id" or k in params or k in descriptors}

    def _missing_for_quote(self, pid: str, args: dict[str, Any]) -> list[str]:
        missing = []
        for name in required_params(pid):
            if name in args:
                continue
            if name in ("age", "driver_age") and "birth_date" in args:
                continue
            missing.append(name)
        return missing

    def _fill_bare_amount(self, pid: str) -> None:
        """A lone amount with no cue ("重疾险 30岁男 50万") fills the product's one missing
        amount parameter (sum insured, monthly benefit, vehicle value ...)."""
        amounts = self.entities.get("amounts") or []
        if len(amounts) != 1:
            return
        money = [n for n in required_params(pid) if n in _MONEY_PARAMS and n not in self.state.slots]
        if len(money) == 1:
            value = amounts[0]
            self.state.slots[money[0]] = int(value) if float(value).is_integer() else float(value)

    def _on_quote(self) -> None:
        pid = self._quote_product()
        if pid is None:
            self.state.task = "quote"
            self._ask_product("task_quote")
            return
        self.state.product_id = pid
        self._fill_bare_amount(pid)
        args = self.quote_args(pid)
        missing = self._missing_for_quote(pid, args)
        if missing:
            self.ask("task_quote", [self._param_question(pid, m) for m in missing], missing, pid)
            return
        # health declarations that are complete change the price (smoking is a rating factor)
        decls = [d for d in self.state.declarations if not d.get("_missing") and d.get("condition") != "smoking"]
        if _underwritten(pid) and decls:
            uw = self._pre_underwrite(pid, decls)
            if uw is None:
                return
            if uw.get("decision") in ("decline", "postpone"):
                self.parts.append(render.underwriting(uw, self.lang))
                self._cite_underwriting(uw)
                return
            args["uw_loading_pct"] = (uw.get("quote_params") or {}).get("uw_loading_pct", 0)
        result = self.call("quote", args)
        if "error" in result:
            self._quote_error(pid, result)
            return
        self.state.last_quote = {"product_id": pid, "args": {k: v for k, v in args.items() if k != "product_id"},
                                 "premium": result.get("premium")}
        self.state.expecting = []
        self.parts.append(render.quote(result, self.lang))
        self.cite(f"{pid}-RATING")
        self.state.task = None

    def _quote_error(self, pid: str, result: dict[str, Any]) -> None:
        err = result.get("error", {})
        field = err.get("field")
        if err.get("code") in _INELIGIBLE:
            msg = err.get(f"message_{self.lang}") or err.get("message") or ""
            self.extra_sources.append(render.product_name(pid, self.lang))
            self.parts.append(t("ineligible", self.lang, product=render.product_name(pid, self.lang), message=msg))
            self.cite(f"{pid}-ELIGIBILITY")
            # the customer may change what made it ineligible (a lower amount, another plan)
            self.state.task = "quote"
            self.state.expecting = [field] if field in product_params(pid) else []
            return
        if err.get("code") in ("MISSING_PARAM",) and field:
            self.ask("task_quote", [self._param_question(pid, field)], [field], pid)
            return
        if err.get("code") in ("INVALID_VALUE",) and field in product_params(pid):
            self.state.slots.pop(field, None)
            self.tool_error("quote", result)
            self.state.expecting = [field]
            return
        self.tool_error("quote", result)

    # ------------------------------------------------------------------ underwriting
    def _ineligible(self, pid: str) -> bool:
        """Check eligibility (age, occupation, amount limits) with a quote before asking
        health questions; True when the customer cannot buy the product."""
        args = self.quote_args(pid)
        if self._missing_for_quote(pid, args):
            return False
        result = self.call("quote", args)
        err = result.get("error", {})
        if err.get("code") in _INELIGIBLE:
            self._quote_error(pid, result)
            return True
        self.tool_calls = [c for c in self.tool_calls if c.name != "quote"]   # only a check
        return False

    def _clean_declarations(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in d.items() if not k.startswith("_")} for d in self.state.declarations]

    def _pre_underwrite(self, pid: str, declarations: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
        decls = self._clean_declarations() if declarations is None else [
            {k: v for k, v in d.items() if not k.startswith("_")} for d in declarations]
        args: dict[str, Any] = {"product_id": pid, "declarations": decls}
        for k in ("age", "gender", "bmi", "height_cm", "weight_kg"):
            if k in self.state.slots:
                args[k] = self.state.slots[k]
        if "bmi" in args:
            args.pop("height_cm", None)
            args.pop("weight_kg", None)
        result = self.call("pre_underwrite", args)
        if "error" in result:
            self.tool_error("pre_underwrite", result)
            return None
        return result

    def _cite_underwriting(self, result: dict[str, Any]) -> None:
        for hit in result.get("rule_hits") or []:
            if hit.get("rule_id"):
                self.cite(hit["rule_id"])
        for ex in result.get("exclusions") or []:
            self.cite(ex)

    def _on_underwriting(self) -> None:
        health = self.health
        if health is not None and getattr(health, "refused_genetic", False):
            self.parts.append(t("genetic_refused", self.lang))
            self.cite("GEN-GENETIC")
        if health is not None and getattr(health, "unknown_conditions", None):
            self.parts.append(t("unknown_condition", self.lang, conditions="、".join(health.unknown_conditions)))
        pid = self._quote_product()
        if pid is None:
            self.state.task = "underwriting"
            self._ask_product("task_underwriting")
            return
        self.state.product_id = pid
        if not _underwritten(pid) and (self.state.declarations or re.search(
                r"健康告知|核保|体检|病|health|underwrit|medical condition|declar", self.text, re.I)):
            # the tool says so: no health underwriting for this product
            result = self._pre_underwrite(pid, [])
            if result is not None:
                self.parts.append(render.underwriting(result, self.lang))
            self.state.task = "quote"
            self.state.declarations = []
            return
        if not _underwritten(pid):
            # no health underwriting for this product: its price depends on other facts
            self.intent = "quote"
            self.state.intents[-1] = "quote"
            self.state.task = "quote"
            self._on_quote()
            return
        if self._ineligible(pid):
            return
        pending = [d for d in self.state.declarations if d.get("_missing")]
        complete = [d for d in self.state.declarations if not d.get("_missing")]
        if pending and complete:
            # what is already complete may decide it (decline/postpone) without more questions
            result = self._pre_underwrite(pid, complete)
            if result is not None and result.get("decision") in ("decline", "postpone"):
                self.parts.append(render.underwriting(result, self.lang))
                self._cite_underwriting(result)
                self.state.task = None
                self.state.expecting = []
                return
            self.tool_calls = [c for c in self.tool_calls if c.name != "pre_underwrite"]
        if pending:
            from anxin.agent.health import question_for

            d = pending[0]
            qs = [question_for(d["condition"], m, self.lang) for m in d["_missing"][:2]]
            self.ask("task_underwriting", qs, [f"{d['condition']}.{m}" for m in d["_missing"][:2]], pid)
            return
        if not self.state.declarations and not self.state.none_declared and not (health and health.refused_genetic):
            self.ask("task_underwriting", ["您有哪些需要告知的健康状况？（如没有请回复“没有”）" if self.lang == "zh"
                                           else "Which health conditions do you need to declare? (say \"none\" if none)"],
                     ["declarations"], pid)
            return
        result = self._pre_underwrite(pid)
        if result is None:
            return
        self.parts.append(render.underwriting(result, self.lang))
        self._cite_underwriting(result)
        self.state.expecting = []
        self.state.task = None

    # ------------------------------------------------------------------ simulation
    def _on_premium_simulation(self) -> None:
        pid = self._quote_product()
        last = self.state.last_quote
        if pid is None and last:
            pid = last["product_id"]
        if pid is None:
            self.state.task = "premium_simulation"
            self._ask_product("task_simulation")
            return
        self.state.product_id = pid
        params = product_params(pid)
        same_base = bool(last and last.get("product_id") == pid)
        before, after = _split_hypothetical(self.text, self.lang)
        if after is not None:
            # "现在驾驶分78.4，如果提到90分" / "Would adding a gas sensor lower my premium?"
            changes = {k: v for k, v in after.items() if k in params and k != "age"}
            if not changes:
                changes = {k: v for k, v in self.entities.items() if k in _PROGRAMME_PARAMS and k in params}
            base = dict(last["args"]) if same_base else {
                k: v for k, v in self.quote_args(pid).items() if k != "product_id"}
            for k in changes:
                if k in before:
                    base[k] = before[k]
                elif not same_base:
                    base.pop(k, None)
        else:
            changes = {k: v for k, v in self.entities.items() if k in params and k not in ("age",)}
            if "age" in self.entities and "age" in params and same_base \
                    and last["args"].get("age") not in (None, self.entities["age"]):
                changes["age"] = self.entities["age"]
            base = dict(last["args"]) if same_base else {
                k: v for k, v in self.quote_args(pid).items() if k != "product_id"}
            # what changed is what this turn said; the base keeps the previous values
            for k in changes:
                if same_base and k in last["args"]:
                    continue
                if k not in base or base.get(k) == changes[k]:
                    base.pop(k, None)
        # a dict change (sensors) adds to what is already installed
        for k, v in list(changes.items()):
            if isinstance(v, dict) and isinstance(base.get(k), dict) and v == {**base[k], **v} and base[k] == {**base[k], **v}:
                changes.pop(k)
        for k in [k for k, v in changes.items() if v == 0 and k in _PROGRAMME_PARAMS and k not in base]:
            changes.pop(k)
        if "health_points" in changes and base.get("health_points") == changes["health_points"]:
            base["health_points"] = 0
        if not changes:
            self.ask("task_simulation", ["您想调整哪一项？例如：戒烟、提高免赔额、驾驶评分、安装传感器" if self.lang == "zh"
                                         else "What would change? For example: quitting smoking, a higher deductible, a driving score, sensors"],
                     ["changes"], pid)
            return
        missing = self._missing_for_quote(pid, {**base, **changes})
        if missing:
            self.ask("task_simulation", [self._param_question(pid, m) for m in missing], missing, pid)
            return
        # a boolean flip needs the "before" value: quitting smoking means base smoker=true
        for k, v in changes.items():
            if isinstance(v, bool) and k not in base:
                base[k] = not v
        result = self.call("simulate_premium", {"product_id": pid, "base": base, "changes": changes})
        if "error" in result:
            self.tool_error("simulate_premium", result)
            return
        self.parts.append(render.simulation(result, self.lang))
        self.cite(f"{pid}-RATING")
        self.state.last_quote = {"product_id": pid, "args": {**base, **changes},
                                 "premium": result.get("after_premium")}
        self.state.expecting = []
        self.state.task = None

    # ------------------------------------------------------------------ recommendation
    def _on_recommendation(self) -> None:
        slots = self.state.slots
        args: dict[str, Any] = {}
        for k in ("age", "gender", "income", "dependents", "budget", "goals", "existing_policies"):
            if k in slots:
                args[k] = slots[k]
        if "age" not in args and "birth_date" in slots:
            pass
        missing = [k for k in ("age", "income") if k not in args]
        asked_before = "recommendation_asked" in slots
        if missing and not asked_before:
            slots["recommendation_asked"] = True
            qs = {"age": ("您的年龄（周岁）", "your age"), "income": ("您的年收入", "your annual income"),
                  "dependents": ("需要您供养的家人人数", "how many people depend on you"),
                  "budget": ("每年的保费预算", "your yearly premium budget")}
            ask = missing + [k for k in ("dependents", "budget") if k not in args]
            self.ask("task_recommendation", [qs[k][0 if self.lang == "zh" else 1] for k in ask[:2]], ask[:2])
            return
        result = self.call("recommend", args)
        if "error" in result:
            self.tool_error("recommend", result)
            return
        self.parts.append(render.recommendation(result, self.lang))
        for rec in (result.get("recommendations") or [])[:3]:
            for cid in (rec.get("clause_ids") or [])[:1]:
                self.cite(cid)
            for reason in rec.get("reasons") or []:
                for cid in (reason.get("clause_ids") or [])[:1]:
                    self.cite(cid)
        self.state.task = None
        self.state.expecting = []

    # ------------------------------------------------------------------ claims
    def _credentials(self) -> tuple[dict[str, Any], list[str]]:
        s = self.state.slots
        creds = {k: s[k] for k in ("id_last4", "name", "dob") if k in s}
        missing = []
        if not (s.get("policy_number") or s.get("claim_id")):
            missing.append("policy_number")
        if not self.state.verified:
            if "id_last4" not in creds:
                missing.append("id_last4")
            if "name" not in creds and "dob" not in creds:
                missing.append("name_or_dob")
        return creds, missing

    def _cred_questions(self, missing: list[str]) -> list[str]:
        zh = {"policy_number": "保单号（或理赔编号）", "id_last4": "身份证件号码后四位", "name_or_dob": "投保人或被保险人的姓名或出生日期"}
        en = {"policy_number": "your policy number (or claim id)", "id_last4": "the last 4 characters of your ID document",
              "name_or_dob": "the full name or date of birth of the policyholder or insured"}
        table = zh if self.lang == "zh" else en
        return [table[m] for m in missing]

    def _after_verification_failure(self, result: dict[str, Any]) -> bool:
        code = result.get("error", {}).get("code")
        if code in ("VERIFICATION_FAILED", "NOT_VERIFIED", "VERIFICATION_REQUIRED"):
            # the customer usually corrects one detail: forget the ID digits, keep the rest
            self.state.slots.pop("id_last4", None)
            self.parts.append(t("verification_failed", self.lang))
            self.state.expecting = ["id_last4", "name_or_dob"]
            return True
        if code in ("VERIFICATION_LOCKED", "LOCKED", "TOO_MANY_ATTEMPTS"):
            for k in CREDENTIAL_SLOTS:
                self.state.slots.pop(k, None)
            self.parts.append(t("verification_locked", self.lang))
            self._open_handoff("verification_locked")
            return True
        return False

    def _mark_verified(self, result: dict[str, Any]) -> None:
        self.state.verified = True
        self.state.verified_customer_id = result.get("customer_id") or self.state.verified_customer_id

    def _on_claim_status(self) -> None:
        creds, missing = self._credentials()
        if missing:
            if set(missing) & {"id_last4", "name_or_dob"}:
                self.parts.append(t("verification_needed", self.lang, questions="；".join(self._cred_questions(missing))
                                    if self.lang == "zh" else "; ".join(self._cred_questions(missing))))
            else:
                self.ask("task_claim_status", self._cred_questions(missing), missing)
            self.state.expecting = missing[:2]
            self.state.task = "claim_status"
            return
        s = self.state.slots
        args: dict[str, Any] = {}
        if s.get("claim_id") and (self.entities.get("claim_id") or not self.entities.get("policy_number")):
            args["claim_id"] = s["claim_id"]
        else:
            args["policy_number"] = s["policy_number"]
        args.update(creds)
        result = self.call("claim_status", args)
        if "error" in result:
            if not self._after_verification_failure(result):
                code = result["error"].get("code")
                if code in ("NOT_FOUND", "UNKNOWN_CLAIM", "UNKNOWN_POLICY"):
                    self.parts.append(t("not_found_after_verify", self.lang))
                else:
                    self.tool_error("claim_status", result)
            return
        self._mark_verified(result)
        self.parts.append(render.claim_status(result, self.lang))
        for c in result.get("claims") or []:
            if args.get("claim_id") and c.get("claim_id") != args["claim_id"]:
                continue
            for cid in (c.get("clause_refs") or [])[:3]:
                self.cite(cid)
            for cov in (c.get("coverages") or [])[:2]:
                if isinstance(cov, dict) and cov.get("clause_id"):
                    self.cite(cov["clause_id"])
        self.state.expecting = []
        self.state.task = None

    def _on_claim_filing(self) -> None:
        st = self.state
        pending = st.pending_confirmation
        changed = {k for k in ("amount", "incident_date", "claim_type", "policy_number", "description") if k in self.entities}
        if pending and changed and not self.entities.get("yes"):
            # "不对，金额是850": rebuild the claim with the correction and confirm again
            st.pending_confirmation = pending = None
        if not changed and self.entities.get("amounts") and pending and self.entities.get("yes") is None:
            st.slots["amount"] = self.entities["amounts"][0]
            st.pending_confirmation = pending = None
        if pending and self.entities.get("yes") is not None:
            if self.entities["yes"]:
                args = dict(pending["args"])
                result = self.call("file_claim", args)
                st.pending_confirmation = None
                if "error" in result:
                    if not self._after_verification_failure(result):
                        self.tool_error("file_claim", result)
                    return
                self._mark_verified(result)
                if result.get("filed") is False:
                    self.parts.append(_declined_claim(result, self.lang))
                    for cid in result.get("clause_refs") or []:
                        self.cite(cid)
                else:
                    self.parts.append(render.file_claim(result, self.lang))
                    cov = (result.get("coverage") or {}).get("clause_id")
                    if cov:
                        self.cite(cov)
                st.task = None
                st.expecting = []
            else:
                st.pending_confirmation = None
                st.task = None
                st.expecting = []
                self.parts.append(t("claim_cancelled", self.lang))
            return
        creds, missing = self._credentials()
        s = st.slots
        pid = product_of_policy(s.get("policy_number")) or st.product_id
        need: list[str] = []
        if "policy_number" not in s:
            need.append("policy_number")
        need += [m for m in missing if m != "policy_number"]
        amounts = [a for a in self.entities.get("amounts") or [] if str(a) != str(s.get("id_last4", ""))]
        if not s.get("amount") and amounts:
            s["amount"] = amounts[0]
        if pid:
            codes = {c.get("code") for c in (_catalog_products().get(pid) or {}).get("coverages") or []}
            guess = _guess_coverage(pid, self.text + " " + _first_claim_text(st, self.text))
            if guess and (self.entities.get("claim_type") is None or self.entities.get("claim_type") not in codes
                          or s.get("claim_type") not in codes):
                s["claim_type"] = guess
            elif s.get("claim_type") and s["claim_type"] not in codes:
                s.pop("claim_type")
        if not s.get("claim_type"):
            need.append("claim_type")
        if not s.get("incident_date"):
            need.append("incident_date")
        if need:
            zh = {"policy_number": "保单号", "id_last4": "身份证件号码后四位", "name_or_dob": "投保人或被保险人的姓名或出生日期",
                  "claim_type": "出险类型（如住院医疗、重疾、意外）", "incident_date": "出险日期"}
            en = {"policy_number": "the policy number", "id_last4": "the last 4 characters of your ID document",
                  "name_or_dob": "the full name or date of birth of the policyholder or insured",
                  "claim_type": "what the claim is for (e.g. hospital stay, critical illness, accident)",
                  "incident_date": "the date of the incident"}
            table = zh if self.lang == "zh" else en
            if pid and "claim_type" in need:
                covs = [c for c in (_catalog_products().get(pid) or {}).get("coverages") or []
                        if c.get("code") not in _NOT_CLAIMABLE]
                opts = "/".join(render.loc(c.get("name") or {"zh": c.get("zh"), "en": c.get("en")}, self.lang) or c["code"] for c in covs)
                table = {**table, "claim_type": (f"理赔项目（{opts}）" if self.lang == "zh" else f"what the claim is for ({opts})")}
            if "id_last4" in need or "name_or_dob" in need:
                self.parts.append(t("verification_needed", self.lang, questions=("；" if self.lang == "zh" else "; ").join(
                    table[n] for n in need[:3])))
                st.expecting = need[:3]
            else:
                self.ask("task_claim_filing", [table[n] for n in need], need)
            st.task = "claim_filing"
            return
        args: dict[str, Any] = {"policy_number": s["policy_number"], "claim_type": s["claim_type"],
                                "incident_date": s["incident_date"]}
        if s.get("amount"):
            args["amount"] = s["amount"]
        desc = s.get("description") or _first_claim_text(st, self.text)
        if desc:
            args["description"] = desc[:4000]
        args.update(creds)
        key = hashlib.sha256(repr(sorted((k, str(v)) for k, v in args.items() if k not in CREDENTIAL_SLOTS)).encode()).hexdigest()[:16]
        args["idempotency_key"] = f"{self.session_id}:{key}"
        st.pending_confirmation = {"intent": "claim_filing", "args": args}
        st.task = "claim_filing"
        st.expecting = ["yes"]
        details = _claim_details(args, self.lang)
        self.parts.append(t("confirm_claim", self.lang, details=details))
        # the confirmation repeats the customer's own facts: make them citable sources
        self.tool_calls.append(ToolCall(name="confirm_claim", args=_public(args), result={"pending": True}))


# ---------------------------------------------------------------------- helpers

@lru_cache(maxsize=1)
def _surnames() -> tuple[str, tuple[str, ...]]:
    raw = yaml.safe_load((Path(__file__).with_name("data") / "names.yaml").read_text(encoding="utf-8"))
    return raw["surnames"], tuple(raw["compound_surnames"])


_ID4 = re.compile(r"(?:ending(?: in| with)?|ends? (?:in|with)|尾号(?:是|为)?|后(?:四|4)位(?:是|为)?|last (?:4|four)(?: digits| characters| numbers)?(?: of (?:my|his|her|the) (?:id|passport|id card|identity card))?(?: (?:is|are))?)\s*[:：]?\s*([0-9]{3}[0-9Xx])(?![0-9])", re.I)
_BARE_ID4 = re.compile(r"(?<![0-9A-Za-z-])([0-9]{3}[0-9Xx])(?![0-9A-Za-z-])")
_NOT_NAME_CHARS = set("理赔保单查询进度险号码谢好的吗呢请帮我你他她们要想下一个是有没在和就了么啥什")
_NAME_INTRO = re.compile(r"(?:我是|我叫|本人|姓名|名字)(?:是|叫)?(?:他|她|孩子|小孩)?(?:的)?(?:妈妈|爸爸|母亲|父亲|监护人|家长)?[:：\s]*([\u4e00-\u9fff]{2,4})")
_EN_NAME = re.compile(r"(?:^|[,;，；.]\s*|\bname(?: is)?\s+|\bi'?m\s+|\bthis is\s+)([A-Z][a-z]+(?:\s+[A-Z][a-z]+){1,2})\s*[.,;!]?\s*$|"
                      r"(?:^|[,;，；]\s*)([A-Z][a-z]+\s+[A-Z][a-z]+)(?=\s*[,;，；.]|\s*$)")


def fallback_name(text: str) -> str | None:
    """A full name given bare for verification ("…，周婷", "…, Zhang Wei."), or None."""
    single, compound = _surnames()
    m = _NAME_INTRO.search(text)
    candidates = [m.group(1)] if m else []
    candidates += [seg.strip() for seg in reversed(re.split(r"[，,。；;、\s]+", text)) if seg.strip()]
    for cand in candidates:
        cand = re.sub(r"(?:的|吧|呢|啊)$", "", cand)
        if 2 <= len(cand) <= 4 and re.fullmatch(r"[\u4e00-\u9fff]+", cand) and (
                cand[0] in single or cand[:2] in compound) and not set(cand[1:]) & _NOT_NAME_CHARS:
            return cand
    m = re.search(r"\b(?:mother|father|guardian|mum|mom|dad|parent),?\s+([A-Z][a-z]+\s+[A-Z][a-z]+)", text)
    if m:
        return m.group(1)
    for m in _EN_NAME.finditer(text.strip()):
        name = m.group(1) or m.group(2)
        if name and not re.search(r"\b(?:Policy|Claim|Check|Please|Hi|Hello|Thanks|ID|Yes|No|My)\b", name):
            return name
    return None


@lru_cache(maxsize=32)
def _product_words(pid: str) -> set[str]:
    """Words of a product's names and aliases (uninformative once the search is limited to it)."""
    from anxin.agent.answers import content_tokens
    from anxin.knowledge.filing import product_aliases

    p = _catalog_products().get(pid) or {}
    names = [render.loc(p.get("name"), "zh"), render.loc(p.get("name"), "en"), pid,
             *(product_aliases().get(pid) or [])]
    words: set[str] = set()
    for n in names:
        words |= content_tokens(str(n))
    return words - {"保险", "insur"}


@lru_cache(maxsize=1)
def _product_name_pattern() -> re.Pattern[str]:
    from anxin.knowledge.filing import product_aliases

    names: set[str] = set()
    for pid, p in _catalog_products().items():
        names |= {render.loc(p.get("name"), "zh"), render.loc(p.get("name"), "en"), pid}
        names |= {str(a) for a in (product_aliases().get(pid) or [])}
    names = {n for n in names if len(n) >= 2}
    return re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)), re.I)


def _without_product_names(text: str) -> str:
    """The text with product names blanked (so 糖尿病险 is not read as diabetes)."""
    return _product_name_pattern().sub(" 产品 ", text)


#: Behaviour/IoT programme inputs a customer asks "what would it save" about.
_PROGRAMME_PARAMS = frozenset({"health_points", "sensors", "driving_score", "driving_indicators",
                               "cgm_consecutive_days_in_target"})
_HYPOTHETICAL = re.compile(
    r"如果|假如|要是|假设|若是|倘若|\bwhat if\b|\bif\b|\bwould (?:adding|installing|using|switching|raising|lowering|"
    r"increasing|getting|fitting|quitting)\b|\bhow much would\b", re.I)


def _split_hypothetical(text: str, lang: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(entities said before the "if", entities of the hypothetical part) — or
    ({}, None) when the turn has no hypothetical part."""
    m = _HYPOTHETICAL.search(text)
    if m is None:
        return {}, None
    from anxin.agent.entities import extract_entities

    before = extract_entities(text[: m.start()], lang).to_dict() if m.start() > 0 else {}
    after = extract_entities(text[m.start():], lang).to_dict()
    return before, after


def _public(args: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k not in CREDENTIAL_SLOTS}


def _claim_details(args: dict[str, Any], lang: str) -> str:
    pid = product_of_policy(args.get("policy_number"))
    cov = args.get("claim_type")
    cov_name = cov
    for c in (_catalog_products().get(pid or "") or {}).get("coverages") or []:
        if c.get("code") == cov:
            cov_name = render.loc(c.get("name") or {"zh": c.get("zh"), "en": c.get("en")}, lang) or cov
    if lang == "zh":
        parts = [f"保单号 {args['policy_number']}", f"理赔项目 {cov_name}（{cov}）", f"出险日期 {args['incident_date']}"]
        if args.get("amount"):
            parts.append(f"申请金额 {render.money(args['amount'], lang)}")
        return "，".join(parts)
    parts = [f"policy {args['policy_number']}", f"claim for {cov_name} ({cov})", f"incident date {args['incident_date']}"]
    if args.get("amount"):
        parts.append(f"amount {render.money(args['amount'], lang)}")
    return ", ".join(parts)


def _declined_claim(result: dict[str, Any], lang: str) -> str:
    reason = result.get("reason") or result.get("decline_reason") or {}
    text = render.loc(reason, lang) if isinstance(reason, dict) else str(reason)
    return (f"这次理赔报案未能受理：{text}" if lang == "zh" else f"This claim could not be accepted: {text}").strip()


#: Coverage codes that are limits or services, not something a customer claims under.
_NOT_CLAIMABLE = frozenset({"ANNUAL_LIMIT", "PREMIUM_WAIVER", "CGM_SERVICE"})

_COVERAGE_CUES: dict[str, str] = {
    r"住院|医疗|看病|手术|门诊|hospital|medical|surgery|inpatient": "MED",
    r"重疾|癌|肿瘤|确诊|critical|cancer|tumou?r": "CI",
    r"意外|骨折|摔|受伤|accident|injur|fracture": "ACC",
    r"延误|delay": "DELAY",
    r"退货|return": "RETURN",
    r"车|撞|刮|collision|car|crash": "CAR",
    r"家具|电器|电脑|手机|相机|首饰|财物|被盗|被偷|furniture|laptop|camera|belongings|jewell?ery|stolen|burglar|theft": "CONTENTS",
    r"墙|天花板|地板|屋顶|房屋|ceiling|wall|floor|roof": "BUILDING",
    r"漏水|火灾|水管|fire|leak|pipe": "HOME",
}


def _guess_coverage(pid: str, text: str) -> str | None:
    """A coverage code of ``pid`` implied by what the customer said (or the only one)."""
    covs = [c for c in (_catalog_products().get(pid) or {}).get("coverages") or [] if c.get("code")]
    claimable = [c for c in covs if c["code"] not in _NOT_CLAIMABLE]
    if len(claimable) == 1:
        return claimable[0]["code"]
    want = {
        "MED": ("GEN_MED", "COMP_MED", "ACC_MEDICAL"), "CI": ("SEVERE_CI",), "ACC": ("ACC_DEATH_DISABILITY", "ACC_MEDICAL"),
        "DELAY": ("DELAY",), "RETURN": ("RETURN_SHIPPING",), "CAR": ("OWN_DAMAGE",), "HOME": ("CONTENTS", "BUILDING"),
        "CONTENTS": ("CONTENTS",), "BUILDING": ("BUILDING",),
    }
    codes = [c["code"] for c in claimable]
    for pattern, kind in _COVERAGE_CUES.items():
        if re.search(pattern, text, re.I):
            for code in want[kind]:
                if code in codes:
                    return code
    return None


def _first_claim_text(state: DialogueState, text: str) -> str:
    for msg in state.recent:
        if msg["role"] == "user" and re.search(r"理赔|报案|claim", msg["text"], re.I):
            return msg["text"]
    return text


def _fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int) and v >= 10000:
        return f"{v:,}"
    return str(v)


def _looks_insurance(text: str) -> bool:
    from anxin.agent.intents import is_insurance_related

    return is_insurance_related(text)


def _mentions_other_topic(text: str) -> bool:
    return bool(re.search(r"通用|一般条款|所有产品|general terms", text, re.I))


def _tool_summary(name: str, args: dict[str, Any], result: dict[str, Any]) -> str:
    if "error" in result:
        return f"{name}: error {result['error'].get('code')}"
    if name == "quote":
        return f"quote {args.get('product_id')}: premium {result.get('premium')}"
    if name == "pre_underwrite":
        return f"pre_underwrite {args.get('product_id')}: {result.get('decision')} +{result.get('total_loading_pct')}%"
    if name == "simulate_premium":
        return f"simulate {args.get('product_id')}: {result.get('before_premium')} -> {result.get('after_premium')}"
    if name == "claim_status":
        claims = result.get("claims") or []
        return "claim_status: " + ", ".join(f"{c.get('claim_id')} {c.get('status', {}).get('code')}" for c in claims[:4])
    if name == "file_claim":
        return f"file_claim: {result.get('claim_id')} {result.get('decision')}"
    if name == "search_policy":
        return "search_policy: " + ", ".join(r.get("clause_id", "") for r in (result.get("results") or [])[:3])
    if name == "recommend":
        return "recommend: " + ", ".join(r.get("product_id", "") for r in (result.get("recommendations") or [])[:3])
    return name

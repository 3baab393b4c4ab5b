"""End-to-end behaviour of the advisor on the deterministic ``none`` back-end:
slot filling across turns, tool calls, citations, grounding, verification before
claim data, confirmation before filing, hand-off triggers and sessions that resume."""
from __future__ import annotations

import re

import pytest

from anxin.agent.verifier import verify
from tests.agent_fixtures import advisor, advisor_db, converse, policies_index  # noqa: F401


def _tool(result, name):
    return [c for c in result.tool_calls if c.name == name]


# --------------------------------------------------------------------------- quotes

def test_quote_in_one_turn_shows_breakdown_and_cites_rating(advisor) -> None:
    (r,) = converse(advisor, ["我想给自己买重疾险，30岁男，保额50万，多少钱？"])
    assert r.intent == "quote" and r.language == "zh"
    (call,) = _tool(r, "quote")
    assert call.args == {"product_id": "CI-200", "age": 30, "gender": "M", "sum_insured": 500000}
    assert "8,448.00" in r.reply and "计算明细" in r.reply
    assert "CI-200-RATING" in r.clause_ids
    assert r.grounded and verify(r.reply, [call.args, call.result] + [c.text for c in r.citations]).ok


def test_quote_asks_for_missing_inputs_then_quotes(advisor) -> None:
    r1, r2 = converse(advisor, ["How much would term life insurance cost me?", "I'm a 35 year old woman, 1 million cover"])
    assert r1.intent == "quote" and not r1.tool_calls
    assert re.search(r"age|gender|sum insured", r1.reply, re.I)
    (call,) = _tool(r2, "quote")
    assert call.args["product_id"] == "TL-300" and call.args["sum_insured"] == 1000000
    assert call.args["age"] == 35 and call.args["gender"] == "F"
    assert "1,205.78" in r2.reply and r2.language == "en"


def test_simulation_after_quote_uses_the_quoted_base(advisor) -> None:
    _, r2 = converse(advisor, ["百万医疗险报价，35岁，吸烟", "如果我戒烟了，保费能便宜多少？"])
    assert r2.intent == "premium_simulation"
    (call,) = _tool(r2, "simulate_premium")
    assert call.args["product_id"] == "MED-100"
    assert call.args["changes"] == {"smoker": False} and call.args["base"]["smoker"] is True
    assert "349.80" in r2.reply and "318.00" in r2.reply


# --------------------------------------------------------------------------- policy questions

@pytest.mark.parametrize("question, clause", [
    ("百万医疗险的等待期是多久？", "MED-100-WAITING"),
    ("How long is the cooling-off period?", "GEN-COOLING-OFF"),
])
def test_policy_question_is_answered_from_the_clause_and_cited(advisor, question, clause) -> None:
    (r,) = converse(advisor, [question])
    assert r.intent in ("policy_question", "policy_service")
    assert _tool(r, "search_policy")
    assert clause in r.clause_ids
    assert clause in r.reply and r.grounded


def test_unanswerable_question_says_it_does_not_know_and_offers_a_human(advisor) -> None:
    (r,) = converse(advisor, ["Do you sell pet insurance?"])
    assert not r.citations
    assert "human" in r.reply.lower()


# --------------------------------------------------------------------------- claims

def test_claim_status_needs_verification_first(advisor) -> None:
    r1, r2 = converse(advisor, ["我想查一下理赔进度",
                                "保单号 XH-CI200-2016-000123，身份证后四位 9315，生日 1970-06-25"])
    assert r1.intent == "claim_status" and not _tool(r1, "claim_status")
    assert "身份证" in r1.reply or "证件" in r1.reply
    (call,) = _tool(r2, "claim_status")
    assert call.args["policy_number"] == "XH-CI200-2016-000123" and call.ok
    assert "审核中" in r2.reply and "CLM-2026-0008" in r2.reply


def test_failed_verification_reveals_nothing(advisor) -> None:
    (r,) = converse(advisor, ["查理赔进度，保单号 XH-CI200-2016-000123，身份证后四位 1111，姓名张三"])
    (call,) = _tool(r, "claim_status")
    assert not call.ok
    assert "CLM-2026-0008" not in r.reply and "吴强" not in r.reply
    assert "核验" in r.reply


def test_filing_a_claim_is_confirmed_before_the_write(advisor) -> None:
    sid = advisor.new_session()
    r1 = advisor.respond(sid, text="我要理赔，保单号 XH-MED100-2026-000102，身份证后四位 3918，生日 1996-03-15，"
                                   "2026-10-20 住院花了5000元")
    assert r1.intent == "claim_filing" and not _tool(r1, "file_claim")
    assert "确认" in r1.reply
    r2 = advisor.respond(sid, text="确认")
    (call,) = _tool(r2, "file_claim")
    assert call.ok and call.args["claim_type"] == "GEN_MED" and call.args["incident_date"] == "2026-10-20"
    assert call.result["claim_id"] in r2.reply


# --------------------------------------------------------------------------- hand-off

def test_explicit_request_hands_off_and_bot_stops_advising(advisor) -> None:
    sid = advisor.new_session()
    r1 = advisor.respond(sid, text="转人工")
    assert r1.intent == "handoff_request" and r1.handoff.active
    (call,) = _tool(r1, "handoff")
    assert call.result["ticket_id"] in r1.reply
    r2 = advisor.respond(sid, text="百万医疗险多少钱？")
    assert r2.handoff.active and not _tool(r2, "quote") and not _tool(r2, "search_policy")


def test_staff_return_the_session_to_the_bot(advisor) -> None:
    from anxin.db.engine import session_scope
    from anxin.db.handoff import close_ticket, take_ticket

    sid = advisor.new_session()
    r1 = advisor.respond(sid, text="I want to talk to a human")
    ticket = r1.handoff.ticket_id
    with session_scope() as db:
        take_ticket(db, ticket, "agent-1")
    assert advisor.respond(sid, text="hello?").handoff.active
    with session_scope() as db:
        close_ticket(db, ticket, actor="agent-1")
    r3 = advisor.respond(sid, text="How long is the cooling-off period?")
    assert not r3.handoff.active and _tool(r3, "search_policy")


def test_anger_twice_hands_off(advisor) -> None:
    results = converse(advisor, ["你们的理赔太慢了，真是气死我了！", "到现在还没消息，太过分了，你们就是骗子！"])
    assert results[-1].handoff.active
    assert results[-1].emotion.label == "anger"


@pytest.mark.parametrize("text", ["我要投诉你们的服务", "I want to dispute the rejection of my claim, it's unfair",
                                  "My husband passed away last week", "我要去金融监管总局投诉你们，还要起诉"])
def test_complaints_disputes_bereavement_and_legal_threats_hand_off(advisor, text) -> None:
    (r,) = converse(advisor, [text])
    assert r.handoff.active, r.reply
    (call,) = _tool(r, "handoff")
    payload = call.result.get("payload", {})
    assert payload.get("next_best_action") and "emotion_trajectory" in payload


def test_two_turns_not_understood_hand_off(advisor) -> None:
    results = converse(advisor, ["asdf qwer zxcv", "qwerty uiop"])
    assert results[-1].handoff.active


# --------------------------------------------------------------------------- sessions and robustness

def test_session_resumes_after_restart(advisor, advisor_db) -> None:
    from anxin.agent.advisor import Advisor

    sid = advisor.new_session()
    advisor.respond(sid, text="我想买重疾险，30岁男")
    fresh = Advisor(backend="none")          # a new process would build a new one
    r = fresh.respond(sid, text="保额50万")
    (call,) = _tool(r, "quote")
    assert call.args == {"product_id": "CI-200", "age": 30, "gender": "M", "sum_insured": 500000}


def test_messages_are_persisted(advisor) -> None:
    from anxin.db.engine import session_scope
    from anxin.db.sessions import messages

    sid = advisor.new_session()
    converse(advisor, ["你好", "百万医疗险的等待期是多久？"], sid)
    with session_scope() as db:
        rows = messages(db, sid)
    assert [m.role for m in rows] == ["user", "assistant", "user", "assistant"]


def test_empty_and_huge_input_are_handled(advisor) -> None:
    sid = advisor.new_session()
    assert advisor.respond(sid, text="").reply
    r = advisor.respond(sid, text="保险" * 10000)
    assert r.reply


def test_a_crashing_tool_does_not_end_the_session(advisor, monkeypatch) -> None:
    from anxin.tools import quote as quote_tool

    def boom(*_a, **_k):
        raise RuntimeError("engine down")

    monkeypatch.setattr(quote_tool, "invoke", boom)
    sid = advisor.new_session()
    r1 = advisor.respond(sid, text="重疾险报价，30岁男，保额50万")
    assert "人工" in r1.reply or "human" in r1.reply.lower()
    monkeypatch.undo()
    r2 = advisor.respond(sid, text="百万医疗险的等待期是多久？")
    assert r2.citations


def test_replies_stream_in_pieces(advisor) -> None:
    pieces: list[str] = []
    sid = advisor.new_session()
    r = advisor.respond(sid, text="百万医疗险的等待期是多久？", on_token=pieces.append)
    assert len(pieces) > 1 and "".join(pieces).strip() == r.reply


def test_english_and_chinese_replies_follow_the_customer(advisor) -> None:
    r1, r2 = converse(advisor, ["Hello", "你好"])
    assert r1.language == "en" and r2.language == "zh"

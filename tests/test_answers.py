"""Extractive policy answers (anxin.agent.answers) on hand-made search results: which
sentences are quoted, lists and tables, exclusions, the second clause, refusals. Fast:
no index, no model (the query lexicon and the wording files are read)."""
from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from anxin.agent.answers import answer_from_clauses as _answer
from anxin.agent.answers import best_sentences, content_tokens, lexicon_terms
from anxin.knowledge.text import tokenize

WORDINGS = Path(__file__).resolve().parents[1] / "knowledge" / "wordings"


@lru_cache(maxsize=1)
def wording_idf() -> Callable[[str], float]:
    """Word weights as corpus_idf gives them, over the shipped wordings' sections (no index)."""
    sections = []
    for path in sorted(WORDINGS.glob("*/*.md")):
        sections += [s for s in re.split(r"^## ", path.read_text(encoding="utf-8"), flags=re.M)[1:] if s.strip()]
    df: dict[str, int] = {}
    for sec in sections:
        for tok in set(tokenize(sec)):
            df[tok] = df.get(tok, 0) + 1
    n = max(1, len(sections))
    table = {tok: math.log(1 + n / c) for tok, c in df.items()}
    unseen = math.log(1 + n)
    return lambda tok: table.get(tok, unseen)


def answer_from_clauses(question: str, results: list[dict[str, Any]], lang: str, **kw: Any):
    """The answer as the dialogue asks for it: with the corpus word weights."""
    return _answer(question, results, lang, wording_idf(), **kw)


def hit(clause_id: str, heading: str, text: str, similarity: float = 0.9, product_id: str | None = None) -> dict[str, Any]:
    pid = product_id if product_id is not None else ("-".join(clause_id.split("-")[:2]) if not clause_id.startswith("GEN-") else "")
    return {"clause_id": clause_id, "heading": f"{clause_id} {heading}", "text": text, "similarity": similarity,
            "product_id": pid, "doc": pid or "GEN", "score": 0.1}


COOLING_OFF_ZH = hit("XX-100-COOLING-OFF", "犹豫期", (
    "本合同设有15天的犹豫期（冷静期），自您签收保险单的次日起算，签收当日不计入。\n\n"
    "**犹豫期怎么退？** 在犹豫期截止日（含）前，您可以提出解除本合同的申请，并提供有效身份证件。"
    "我们将**全额退还您已交的保险费，不扣除任何费用**。\n\n"
    "犹豫期过后解除合同的，只能领取保单现金价值，详见“解除合同”条款。"))

CLAIM_DOCS_ZH = hit("XX-100-CLAIM-DOCS", "理赔申请材料", (
    "申请本合同保险金时，请提供下列材料：\n\n"
    "- 理赔申请书（DOC-CLAIM-FORM）；\n"
    "- 被保险人身份证件（DOC-ID）；\n"
    "- 病历及出院小结（DOC-MED-RECORD）；\n"
    "- 医疗费用发票（含电子发票）（DOC-INVOICE）；\n"
    "- 诊断证明书（DOC-DIAGNOSIS），以重度认知障碍申请的，须为专科医生出具的确诊证明。\n\n"
    "材料不完整的，我们将一次性通知您补充。"))

CLAIM_DOCS_EN = hit("XX-700-CLAIM-DOCS", "Claim Documents", (
    "For a claim under this Policy, please provide:\n\n"
    "- **DOC-CLAIM-FORM** claim form;\n"
    "- **DOC-ID** the insured's identity document;\n"
    "- **DOC-LOSS-LIST** list of damaged items with value evidence (such as receipts, invoices or bank records);\n"
    "- **DOC-LOSS-PHOTOS** photos of the damage; and\n"
    "- **DOC-SENSOR-LOG** IoT sensor alert log, which we retrieve automatically.\n\n"
    "We only ask for documents that are needed to assess the claim."))

COSMETIC_EXC = hit("XX-100-EXC-06", "Exclusion: Cosmetic and Plastic Treatment", (
    "We do not pay for:\n\n"
    "- cosmetic treatment or surgery to change or improve appearance;\n"
    "- plastic or reconstructive surgery, unless it is needed to restore function after an Accident; and\n"
    "- dental implants.\n\n"
    "Treatment that is medically necessary because of a covered Illness or Accident remains covered."),
    similarity=0.84)

GENERAL_MEDICAL = hit("XX-100-COV-GEN_MED", "General Medical Benefit", (
    "We pay the reasonable and necessary medical expenses of inpatient treatment in a hospital, "
    "after the deductible, at the reimbursement ratio."), similarity=0.84)


def test_nothing_relevant_is_refused() -> None:
    weather = hit("XX-100-RATING", "Premium", "The premium depends on age and sum insured.", similarity=0.5)
    assert answer_from_clauses("What will the weather be like in Paris tomorrow?", [weather], "en") is None
    assert answer_from_clauses("明天天气怎么样", [hit("XX-100-RATING", "费率", "保险费按年龄计算。", 0.5)], "zh") is None
    assert answer_from_clauses("anything", [], "en") is None
    assert answer_from_clauses("anything", [{"clause_id": "", "text": "x", "similarity": 0.99}], "en") is None


def test_each_sub_question_gets_its_sentence() -> None:
    a = answer_from_clauses("犹豫期是几天？犹豫期里退保扣钱吗", [COOLING_OFF_ZH], "zh")
    assert a is not None and [c["clause_id"] for c in a.citations] == ["XX-100-COOLING-OFF"]
    assert "15天" in a.text                       # how many days
    assert "全额退还" in a.text                    # is anything deducted
    assert "犹豫期怎么退？" not in a.text          # the FAQ question itself is not quoted
    assert a.text.startswith("根据条款【犹豫期】（XX-100-COOLING-OFF）：")


def test_a_refund_question_also_gets_the_period() -> None:
    a = answer_from_clauses("我上周刚买的，现在不想要了，能全额退吗？", [COOLING_OFF_ZH], "zh")
    assert a is not None and "全额退还" in a.text and "15天" in a.text


def test_which_documents_quotes_the_whole_list_compactly() -> None:
    a = answer_from_clauses("理赔要准备哪些材料？", [CLAIM_DOCS_ZH], "zh")
    assert a is not None
    for item in ("理赔申请书", "被保险人身份证件", "病历及出院小结", "医疗费用发票", "诊断证明书"):
        assert item in a.text
    assert "DOC-" not in a.text and "重度认知障碍" not in a.text      # codes and riders left out
    assert "理赔申请书、被保险人身份证件" in a.text

    en = answer_from_clauses("Which documents do I need to send for a claim?", [CLAIM_DOCS_EN], "en")
    assert en is not None
    for item in ("claim form", "identity document", "list of damaged items", "photos of the damage", "sensor alert log"):
        assert item in en.text
    assert "(such as receipts, invoices or bank records)" in en.text  # a comma in brackets does not cut the item
    assert "DOC-" not in en.text


def test_the_number_asked_for_is_quoted() -> None:
    moderate = hit("XX-200-COV-MODERATE_CI", "Moderate Critical Illness Benefit", (
        "If the Insured Person is first diagnosed with one of the 25 moderate critical illnesses, "
        "we pay **50% of the sum insured**.\n\n"
        "- The moderate benefit can be paid **at most 2 times** during the life of the Policy.\n"
        "- Each payment must be for a **different** moderate condition.\n"
        "- After a moderate benefit has been paid, the Policy still covers severe critical illness."))
    a = answer_from_clauses("How much does it pay for a moderate illness, and how many times?", [moderate], "en")
    assert a is not None and "50%" in a.text and "at most 2 times" in a.text


def test_a_table_row_is_quoted_with_its_column_names() -> None:
    care = hit("XX-500-COV-MONTHLY_CARE", "Monthly Care Benefit", (
        "If the Insured Person is assessed as disabled, we pay each month:\n\n"
        "| Disability level | ADLs that cannot be performed | Percentage |\n|---|---|---|\n"
        "| Mild | 2 | 30% |\n| Moderate | 3-4 | 60% |\n| Severe | 5-6 | 100% |\n\n"
        "Payments are made monthly in arrears."))
    a = answer_from_clauses("How much is paid each month for a moderate disability?", [care], "en")
    assert a is not None
    assert "Disability level: Moderate" in a.text and "Percentage: 60%" in a.text
    assert "Severe" not in a.text


def test_a_sentence_that_goes_on_from_the_chosen_one_comes_with_it() -> None:
    waiting = hit("XX-300-WAITING", "Waiting Period", (
        "**Waiting period for Illness: 90 days.**\n\n"
        "**What happens if death from Illness happens during the waiting period.** If the Insured Person dies "
        "because of an Illness that occurs during the waiting period, we do not pay the sum insured. Instead, "
        "**we refund the premiums paid and the contract terminates**."))
    a = answer_from_clauses("What happens if someone dies of an illness in the first couple of months?", [waiting], "en")
    assert a is not None
    assert "we refund the premiums paid" in a.text and "90 days" in a.text


def test_a_covered_question_answered_by_an_exclusion_says_it_is_not_covered() -> None:
    drink = hit("XX-600-EXC-01", "Exclusion — Drink-Driving", (
        "We do not pay any benefit for loss that arises while the insured vehicle is driven by a person who "
        "has consumed alcohol above the legal limit or is drunk."))
    a = answer_from_clauses("am i covered if i crash after a couple of beers?", [drink], "en")
    assert a is not None and a.text.startswith("This is not covered (exclusion).")
    assert "XX-600-EXC-01" in a.text

    zh = hit("XX-600-EXC-02", "除外责任：营运用途", "被保险机动车用于营运用途，包括从事网约车、出租等收费载客的，我们不负责赔偿。")
    a = answer_from_clauses("我下班偶尔跑跑滴滴，出了事故赔不赔？", [zh], "zh")
    assert a is not None and a.text.startswith("这种情况不在保障范围内（责任免除）。")


def test_no_not_covered_lead_for_other_questions_or_clauses() -> None:
    drink = hit("XX-600-EXC-01", "Exclusion — Drink-Driving", "We do not pay for loss while the driver is drunk.")
    a = answer_from_clauses("What does the drink-driving exclusion say?", [drink], "en")
    assert a is not None and "not covered" not in a.text
    own = hit("XX-600-COV-OWN_DAMAGE", "Own Damage", "We pay for sudden and accidental damage to the insured vehicle.")
    a = answer_from_clauses("Does it cover accidental damage to my car?", [own], "en")
    assert a is not None and "not covered" not in a.text


def test_an_exception_the_question_is_about_is_quoted_instead() -> None:
    waiting_exc = hit("XX-100-EXC-02", "责任免除：等待期内发生的疾病", (
        "被保险人在等待期内首次发生的疾病，其医疗费用不属于保险责任。\n\n"
        "本责任免除不适用于下列情形：\n"
        "- 因意外伤害导致的医疗费用（意外伤害无等待期）；\n"
        "- 续保后首次发生的疾病（续保无等待期）。"))
    a = answer_from_clauses("等待期内意外受伤住院能赔吗？", [waiting_exc], "zh")
    assert a is not None
    assert "不在保障范围内" not in a.text
    assert "本责任免除不适用于下列情形：因意外伤害导致的医疗费用" in a.text

    a = answer_from_clauses("等待期内查出胃病住院能赔吗？", [waiting_exc], "zh")
    assert a is not None and "责任免除" in a.text.splitlines()[0] and "一般不在保障范围内" in a.text


def test_customer_words_reach_the_exclusion_through_the_lexicon() -> None:
    phrase_words, terms = lexicon_terms("does the medical insurance cover a nose job?")
    assert "nose" in phrase_words and {"cosmet", "plastic"} <= terms
    # the search put a general clause first; the exclusion the lexicon points at answers
    a = answer_from_clauses("does the medical insurance cover a nose job?", [GENERAL_MEDICAL, COSMETIC_EXC], "en",
                            ignore=content_tokens("Anxin Million Medical Insurance"))
    assert a is not None and a.citations[0]["clause_id"] == "XX-100-EXC-06"
    assert a.text.startswith("This is generally not covered (exclusion)")
    assert "cosmetic treatment or surgery" in a.text and a.text.count("We do not pay for:") == 1


def test_an_exclusion_the_lexicon_points_at_outranks_a_cover_clause() -> None:
    in_vehicle = hit("XX-600-COV-IN_VEHICLE", "车上人员责任保险",
                     "保险期间内，驾驶人在使用被保险机动车过程中发生意外事故，致使车上人员遭受人身伤亡的，我们负责赔偿。")
    commercial = hit("XX-600-EXC-02", "除外责任：未申报的营运用途（含网约车）",
                     "被保险机动车未经申报用于营运用途，包括从事网约车、出租、顺风车收费载客的，在此期间发生的损失我们不负责赔偿。",
                     similarity=0.89)
    a = answer_from_clauses("我下班偶尔跑跑滴滴拉人，出了事故赔不赔？", [in_vehicle, commercial], "zh")
    assert a is not None and a.citations[0]["clause_id"] == "XX-600-EXC-02"
    assert "营运" in a.text and a.text.startswith("这种情况不在保障范围内")


def test_a_second_clause_of_the_same_product_answers_another_part() -> None:
    procedure = hit("XX-800-CLAIM-PROCEDURE", "理赔流程", "本产品采用自动理赔：您不需要报案，也不需要提交任何材料，保险金自动支付到绑定账户。")
    delay = hit("XX-800-COV-DELAY", "航班延误定额给付", (
        "所保航班延误达到起赔时长的，我们给付固定金额的保险金。\n\n"
        "例如：P2H方案延误180分钟，超过起赔时长整1小时，给付200 + 100 = 300元。"))
    other = hit("YY-900-COV-DELAY", "别的产品", "延误180分钟，给付999元。")
    a = answer_from_clauses("航班晚了3个小时能赔多少？需要我自己去申请吗", [procedure, other, delay], "zh")
    assert a is not None
    assert [c["clause_id"] for c in a.citations] == ["XX-800-CLAIM-PROCEDURE", "XX-800-COV-DELAY"]
    assert "不需要报案" in a.text and "300元" in a.text and "999" not in a.text


def test_exclusion_list_questions_list_the_exclusions() -> None:
    hits = [hit(f"XX-300-EXC-0{n}", f"责任免除：情形{n}", f"因下列情形导致被保险人身故的，我们不承担给付保险金的责任：情形{n}。")
            for n in (1, 2, 3)]
    a = answer_from_clauses("定期寿险有哪些情况是不赔的？", hits, "zh")
    assert a is not None and a.text.startswith("主要的责任免除情形包括：")
    assert [c["clause_id"] for c in a.citations] == ["XX-300-EXC-01", "XX-300-EXC-02", "XX-300-EXC-03"]


def test_ignored_words_do_not_count() -> None:
    # the product's own name says nothing about which clause answers
    grace = hit("XX-300-GRACE", "Grace Period", (
        "**Grace period.** If a premium is not paid on its due date, you have a grace period of **60 days**. "
        "Cover continues during the grace period."), similarity=0.8)
    a = answer_from_clauses("HomeGuard grace period?", [grace], "en", ignore=content_tokens("HomeGuard"))
    assert a is not None and "Grace period. If a premium is not paid" in a.text and "60 days" in a.text


def test_best_sentences_keeps_its_use() -> None:
    out = best_sentences("等待期多久？", "**疾病等待期30天；意外伤害无等待期（0天）。**\n\n等待期内确诊的疾病不赔。")
    assert out and "30天" in out[0]

"""Hybrid retrieval on a small bilingual corpus written for the test (real e5 + BM25)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anxin.cli import app
from anxin.knowledge.ingest import ingest
from anxin.knowledge.names import NameIndex
from anxin.knowledge.retrieval import get_searcher
from anxin.knowledge.text import detect_language, tokenize

ZH = """---
doc_id: ALPHA-1
product_id: ALPHA-1
language: zh
title: 阿尔法住院医疗保险条款
---
# 阿尔法住院医疗保险条款

## ALPHA-1-WAITING 等待期
自本合同生效之日起30日为等待期，等待期内发生的疾病我们不承担保险责任，意外伤害不设等待期。

## ALPHA-1-COOLING-OFF 犹豫期
您签收保单次日起15日内为犹豫期，犹豫期内解除合同我们全额退还保险费。

## ALPHA-1-CLAIM-DOCS 理赔材料
申请理赔需提供理赔申请书、身份证件、病历、医疗费用发票和费用明细清单。
"""

EN = """---
doc_id: ALPHA-1
product_id: ALPHA-1
language: en
title: Alpha Hospital Medical Policy
---
# Alpha Hospital Medical Policy

## ALPHA-1-WAITING Waiting period
Illness first occurring within 30 days of the start date is not covered; accidents have no waiting period.

## ALPHA-1-COOLING-OFF Cooling-off period
You may cancel within 15 days after receiving the policy and we refund the full premium.

## ALPHA-1-CLAIM-DOCS Claim documents
Send the claim form, your ID, medical records, invoices and the itemised bill.
"""

BETA = """---
doc_id: BETA-2
product_id: BETA-2
language: zh
title: 贝塔航班延误保险条款
---
# 贝塔航班延误保险条款

## BETA-2-COV-DELAY 航班延误保险金
航班延误3小时及以上的，我们按约定金额给付延误保险金，无需提交材料。

## BETA-2-WAITING 等待期
本产品不设等待期。
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("corpus")
    for name, text in (("alpha_zh.md", ZH), ("alpha_en.md", EN), ("beta.md", BETA)):
        (root / name).write_text(text, encoding="utf-8")
    collection = "test-retrieval"
    report = ingest([root], collection)
    assert not report.errors and report.chunks == 8
    return collection


def test_tokenizer_handles_chinese_and_english() -> None:
    assert "等待" in tokenize("等待期多久？")
    assert tokenize("Claims were covered") == ["claim", "cover"]
    assert detect_language("犹豫期怎么退保") == "zh" and detect_language("how do I cancel") == "en"


@pytest.mark.parametrize("query,clause", [
    ("我刚买的住院险，生病了多久以后才能赔？", "ALPHA-1-WAITING"),
    ("买了不想要了能全额退钱吗", "ALPHA-1-COOLING-OFF"),
    ("理赔要准备哪些材料", "ALPHA-1-CLAIM-DOCS"),
    ("How long before an illness is covered?", "ALPHA-1-WAITING"),
    ("can I get my money back if I change my mind", "ALPHA-1-COOLING-OFF"),
    ("what paperwork do I send for a claim", "ALPHA-1-CLAIM-DOCS"),
    ("飞机晚点三个小时赔多少", "BETA-2-COV-DELAY"),
])
def test_customer_questions_find_their_clause(corpus: str, query: str, clause: str) -> None:
    hits = get_searcher(corpus).search(query, k=3)
    assert hits and hits[0].clause_id == clause, [h.clause_id for h in hits]


def test_one_result_per_clause_in_the_query_language(corpus: str) -> None:
    hits = get_searcher(corpus).search("等待期", k=5)
    keys = [(h.doc, h.clause_id) for h in hits]
    assert len(keys) == len(set(keys))
    first_alpha = next(h for h in hits if h.clause_id == "ALPHA-1-WAITING")
    assert first_alpha.language == "zh"
    en = get_searcher(corpus).search("waiting period", k=5)
    assert next(h for h in en if h.clause_id == "ALPHA-1-WAITING").language == "en"


def test_product_filter_and_name_boost(corpus: str) -> None:
    only_beta = get_searcher(corpus).search("等待期", k=5, product="BETA-2")
    assert only_beta and {h.product_id for h in only_beta} == {"BETA-2"}
    named = get_searcher(corpus).search("贝塔航班延误保险 有没有等待期", k=3)
    assert named[0].clause_id == "BETA-2-WAITING"
    assert get_searcher(corpus).search("等待期", product="NOPE") == []


def test_name_index_matches_titles_and_partial_names() -> None:
    names = NameIndex.build({"D1": {"泰康e保有约住院医疗保险产品条款"}, "D2": {"安联寰球臻享境外医疗保险条款"}})
    assert names.match("《泰康e保有约住院医疗保险》的等待期") .get("D1") == 1.0
    assert "D2" in names.match("安联寰球臻享 怎么理赔")
    assert names.match("医疗保险怎么理赔") == {}


def test_search_command_prints_ranked_passages_and_jsonl(corpus: str, tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["search", "--collection", corpus, "--k", "2", "犹豫期多少天"])
    assert out.exit_code == 0, out.output
    assert "ALPHA-1-COOLING-OFF" in out.output
    qfile = tmp_path / "q.jsonl"
    qfile.write_text('{"id": "a", "query": "waiting period"}\n{"id": 7, "query": "航班延误"}\n', encoding="utf-8")
    out = runner.invoke(app, ["search", "--collection", corpus, "--k", "3", "--queries", str(qfile)])
    assert out.exit_code == 0, out.output
    lines = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    assert [l["id"] for l in lines] == ["a", 7]
    first = lines[0]["results"][0]
    assert set(first) == {"rank", "doc", "clause_id", "heading", "text", "score"}
    assert first["rank"] == 1 and first["clause_id"] == "ALPHA-1-WAITING"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\nnot json\n', encoding="utf-8")
    out = runner.invoke(app, ["search", "--collection", corpus, "--queries", str(bad)])
    assert out.exit_code == 1 and "bad.jsonl:1" in out.output and "bad.jsonl:2" in out.output


def test_health_conditions_are_recognised_by_any_of_their_names() -> None:
    from anxin.knowledge.filing import load_underwriting
    from anxin.knowledge.names import CONDITION, condition_names

    hbv = load_underwriting()["conditions"]["hepatitis_b_carrier"]
    names = condition_names("hepatitis_b_carrier", hbv)
    assert "乙肝表面抗原阳性" in names and "hepatitis B carrier" in names
    index = NameIndex.build({}, conditions=load_underwriting()["conditions"])
    assert CONDITION in index.match("乙肝表面抗原阳性，能买医疗险吗")
    assert CONDITION in index.match("I have high-risk HPV positive results")
    assert CONDITION not in index.match("how long is the waiting period")

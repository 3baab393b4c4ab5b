"""The retrieval benchmark's own question set (evals/questions/retrieval.jsonl) is well formed."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from anxin.knowledge import filing

QUESTIONS = Path(__file__).resolve().parents[1] / "evals" / "questions" / "retrieval.jsonl"
MIN_QUESTIONS = 170
MIN_LANGUAGE_SHARE = 0.45
MIN_PER_PRODUCT = 12
FIELDS = {"id", "lang", "query", "product_id", "expected"}


@pytest.fixture(scope="module")
def items() -> list[dict]:
    lines = [l for l in QUESTIONS.read_text(encoding="utf-8").splitlines() if l.strip()]
    parsed = []
    for n, line in enumerate(lines, 1):
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:  # pragma: no cover - message only
            pytest.fail(f"line {n} is not valid JSON: {exc}")
        assert isinstance(item, dict), f"line {n} is not a JSON object"
        parsed.append(item)
    return parsed


@pytest.fixture(scope="module")
def known_clause_ids() -> set[str]:
    ids = set(filing.general_clause_ids()) | set(filing.underwriting_clause_ids())
    for pid in filing.products():
        ids |= set(filing.product_section_ids(pid))
    return ids


def test_every_line_has_the_expected_shape(items: list[dict]) -> None:
    for item in items:
        assert set(item) == FIELDS, item
        assert isinstance(item["id"], str) and item["id"], item
        assert item["lang"] in ("zh", "en"), item
        assert isinstance(item["query"], str) and item["query"].strip(), item
        assert item["product_id"] is None or isinstance(item["product_id"], str), item
        exp = item["expected"]
        assert isinstance(exp, list) and exp and all(isinstance(e, str) for e in exp), item
        assert len(exp) == len(set(exp)), item


def test_ids_and_queries_are_unique(items: list[dict]) -> None:
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)), [k for k, v in Counter(ids).items() if v > 1]
    queries = [i["query"].strip() for i in items]
    assert len(queries) == len(set(queries)), [k for k, v in Counter(queries).items() if v > 1]


def test_enough_questions_in_both_languages(items: list[dict]) -> None:
    assert len(items) >= MIN_QUESTIONS
    langs = Counter(i["lang"] for i in items)
    for lang in ("zh", "en"):
        assert langs[lang] / len(items) >= MIN_LANGUAGE_SHARE, langs


def test_query_language_matches_its_tag(items: list[dict]) -> None:
    for item in items:
        has_cjk = any("\u4e00" <= ch <= "\u9fff" for ch in item["query"])
        assert has_cjk == (item["lang"] == "zh"), item


def test_every_expected_clause_exists(items: list[dict], known_clause_ids: set[str]) -> None:
    unknown = [(i["id"], e) for i in items for e in i["expected"] if e not in known_clause_ids]
    assert not unknown, unknown


def test_product_ids_exist(items: list[dict]) -> None:
    catalog = set(filing.products())
    bad = [(i["id"], i["product_id"]) for i in items if i["product_id"] is not None and i["product_id"] not in catalog]
    assert not bad, bad


def test_product_specific_expectations_belong_to_that_product(items: list[dict]) -> None:
    """A question tagged with a product expects that product's sections, general terms or UW rules."""
    catalog = set(filing.products())
    for item in items:
        for e in item["expected"]:
            owner = next((p for p in catalog if e.startswith(p + "-")), None)
            if owner is not None:
                assert owner == item["product_id"], item


def test_every_product_has_enough_questions(items: list[dict]) -> None:
    per_product = Counter(i["product_id"] for i in items if i["product_id"])
    short = {p: per_product[p] for p in filing.products() if per_product[p] < MIN_PER_PRODUCT}
    assert not short, short


def test_general_terms_and_underwriting_are_covered(items: list[dict]) -> None:
    gen = [i for i in items if any(e.startswith(("GEN-", "PRG-")) for e in i["expected"])]
    uw = [i for i in items if any(e.startswith(("UW-", "EX-")) for e in i["expected"])]
    assert len(gen) >= 15, len(gen)
    assert len(uw) >= 10, len(uw)

"""The shipped policy wordings: every clause present in both languages, every number from the filing."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable

import pytest

from anxin.knowledge import filing

WORDINGS = Path(filing.__file__).resolve().parent / "wordings"
LANGS = ("zh", "en")
CLAUSE_ID = re.compile(r"\b[A-Z][A-Z0-9]*(?:-[A-Z0-9_]+)+\b")
NUMBER = re.compile(r"(?<![A-Za-z0-9_.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*(万|亿|%|％)?")


def numbers_in(text: str) -> list[tuple[Decimal, str]]:
    """Numbers in text as (value, unit), clause/document ids removed first."""
    text = CLAUSE_ID.sub(" ", text)
    out = []
    for m in NUMBER.finditer(text):
        value = Decimal(m.group(1).replace(",", "") + (m.group(2) or ""))
        out.append((value, m.group(3) or ""))
    return out


def _leaves(node: Any) -> Iterable[Any]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from _leaves(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _leaves(v)
    else:
        yield node


def allowed_numbers(*nodes: Any) -> set[Decimal]:
    """Every number in the given filing data, in every form a wording may write it."""
    found: set[Decimal] = set()
    for node in nodes:
        for leaf in _leaves(node):
            if isinstance(leaf, bool) or leaf is None:
                continue
            if isinstance(leaf, (int, float)):
                try:
                    found.add(Decimal(str(leaf)))
                except InvalidOperation:
                    pass
            elif isinstance(leaf, str):
                for value, unit in numbers_in(leaf):
                    found.add(_scale(value, unit))
                    found.add(value)
    return {v.normalize() for v in found}


def _scale(value: Decimal, unit: str) -> Decimal:
    return value * {"万": 10000, "亿": 100000000}.get(unit, 1)


def number_ok(value: Decimal, unit: str, allowed: set[Decimal]) -> bool:
    candidates = {value, _scale(value, unit)}
    if unit in ("%", "％"):
        candidates.add(value / 100)
    return any(c.normalize() in allowed for c in candidates)


def sections(path: Path) -> dict[str, str]:
    """Clause id -> section text (heading included) of a wording file."""
    text = path.read_text(encoding="utf-8")
    parts = re.split(r"(?m)^## ", text)
    out = {}
    for part in parts[1:]:
        clause_id = part.split(None, 1)[0]
        assert clause_id not in out, f"{path.name}: clause {clause_id} appears twice"
        out[clause_id] = part
    return out


def _scope(doc_id: str) -> tuple[Any, ...]:
    cat = filing.load_catalog()
    common = (cat["meta"], cat["general"], cat["claim_documents"])
    if doc_id == "GEN":
        return common + (cat["programmes"],)
    if doc_id == "UW-GUIDE":
        return common + (filing.load_underwriting(),)
    product = filing.products()[doc_id]
    extra = [cat["programmes"]] if any(doc_id in p.get("eligible_products", []) for p in cat["programmes"].values()) else []
    uw = filing.load_underwriting()
    line = uw["lines"].get(product.get("underwriting_line"), {})
    return common + (product, line, *extra)


DOCS = list(filing.products()) + ["GEN", "UW-GUIDE"]


def _expected_ids(doc_id: str) -> list[str]:
    if doc_id == "GEN":
        return filing.general_clause_ids()
    if doc_id == "UW-GUIDE":
        return filing.underwriting_clause_ids()
    return filing.product_section_ids(doc_id)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("doc_id", DOCS)
def test_wording_has_every_clause_in_order(doc_id: str, lang: str) -> None:
    path = WORDINGS / lang / f"{doc_id}.md"
    assert path.exists(), f"missing wording {path}"
    found = list(sections(path))
    expected = _expected_ids(doc_id)
    assert found == expected, f"{path}: sections differ from the filing's clause ids"
    for clause_id, body in sections(path).items():
        assert len(body.split("\n", 1)[-1].strip()) > 40, f"{path}: clause {clause_id} is nearly empty"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("doc_id", DOCS)
def test_every_number_comes_from_the_filing(doc_id: str, lang: str) -> None:
    path = WORDINGS / lang / f"{doc_id}.md"
    allowed = allowed_numbers(*_scope(doc_id))
    bad = []
    for clause_id, body in sections(path).items():
        for value, unit in numbers_in(body):
            if not number_ok(value, unit, allowed):
                bad.append(f"{clause_id}: {value}{unit}")
    assert not bad, f"{path}: numbers not in the filing: {bad}"


def test_number_check_catches_an_invented_number() -> None:
    allowed = allowed_numbers(*_scope("MED-100"))
    assert number_ok(Decimal("300"), "万", allowed)       # 3,000,000 general medical
    assert number_ok(Decimal("60"), "%", allowed)         # 0.60 reimbursement ratio
    assert not number_ok(Decimal("123457"), "", allowed)

"""Ingestion of Markdown, text, PDF and DOCX: sections, metadata, incremental updates, bad files."""
from __future__ import annotations

from pathlib import Path

import pytest

from anxin.knowledge.ingest import discover, ingest, split_long
from anxin.knowledge.parsing import DocumentError, parse_document
from anxin.knowledge.vector_store import get_collection

MD = """---
doc_id: ACME-1
product_id: ACME-1
language: en
title: Acme Home Policy
---
# Acme Home Policy

## ACME-1-WAITING Waiting period
Illness first occurring within the first 30 days is not covered.

### Details
The start date counts as day 1.

## ACME-1-COOLING-OFF Cooling-off
You may cancel within 15 days of receipt for a full refund.
"""

TXT_ZH = """某某保险公司 住院医疗保险条款
第一条 保险合同构成
本合同由保险条款、投保单组成。
第二条 等待期
自本合同生效之日起30日为等待期。
5.3 保险费自动垫交
您可以选择保险费自动垫交功能。
"""


def _write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def _make_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.add_heading("Acme Travel Policy", 0)
    d.add_heading("Section 1 Flight delay", level=1)
    d.add_paragraph("We pay 300 for a delay of 3 hours or more.")
    d.add_heading("Section 2 Exclusions", level=1)
    d.add_paragraph("Strikes announced before purchase are excluded.")
    d.save(str(path))
    return path


def _make_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "Acme Motor Policy\nArticle 1 Cover\nWe cover accidental damage to the vehicle.")
    pdf.add_page()
    pdf.multi_cell(0, 6, "Article 2 Deductible\nThe deductible is 1,000 per claim.")
    pdf.output(str(path))
    return path


def test_markdown_sections_keep_clause_ids_and_subsections(tmp_path: Path) -> None:
    doc = parse_document(_write(tmp_path, "acme.md", MD))
    assert (doc.doc_id, doc.product_id, doc.language, doc.title) == ("ACME-1", "ACME-1", "en", "Acme Home Policy")
    assert [s.clause_id for s in doc.sections] == ["ACME-1-WAITING", "ACME-1-COOLING-OFF"]
    assert "day 1" in doc.sections[0].text  # the ### sub-heading stays inside its clause


def test_plain_text_splits_at_chinese_clause_headings(tmp_path: Path) -> None:
    doc = parse_document(_write(tmp_path, "住院条款.txt", TXT_ZH))
    assert doc.language == "zh"
    assert [s.clause_id for s in doc.sections if s.clause_id] == ["第一条", "第二条", "5.3"]


def test_docx_and_pdf_are_parsed_with_headings_and_pages(tmp_path: Path) -> None:
    d = parse_document(_make_docx(tmp_path / "travel.docx"))
    assert [s.heading for s in d.sections] == ["Section 1 Flight delay", "Section 2 Exclusions"]
    assert d.title == "Acme Travel Policy"
    p = parse_document(_make_pdf(tmp_path / "motor.pdf"))
    by_id = {s.clause_id: s for s in p.sections}
    assert by_id["Article 1"].page == 1 and by_id["Article 2"].page == 2
    assert "1,000" in by_id["Article 2"].text


def test_unreadable_files_raise_an_error_naming_them(tmp_path: Path) -> None:
    bad_pdf = tmp_path / "broken.pdf"
    bad_pdf.write_bytes(b"%PDF-1.4 this is not really a pdf")
    with pytest.raises(DocumentError, match="broken.pdf"):
        parse_document(bad_pdf)
    with pytest.raises(DocumentError, match="unsupported"):
        parse_document(_write(tmp_path, "x.csv", "a,b"))
    with pytest.raises(DocumentError, match="empty.md"):
        parse_document(_write(tmp_path, "empty.md", "   \n"))


def test_long_sections_are_cut_with_overlap() -> None:
    text = "。".join(f"第{i}句保险责任说明文字" * 3 for i in range(200))
    pieces = split_long(text, max_chars=300, overlap=50)
    assert len(pieces) > 5 and all(len(p) <= 300 for p in pieces)
    assert pieces[1][:20] in pieces[0]  # overlap carries context across the cut


def test_ingest_is_incremental_and_a_bad_file_leaves_the_rest(tmp_path: Path, collection_name: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    md = _write(docs, "acme.md", MD)
    _write(docs, "zh.txt", TXT_ZH)
    _make_docx(docs / "travel.docx")
    _make_pdf(docs / "motor.pdf")
    (docs / "broken.pdf").write_bytes(b"not a pdf")
    _write(docs, "README.md", "# notes for maintainers")

    first = ingest([docs], collection_name)
    assert sorted(Path(p).name for p in first.added) == ["acme.md", "motor.pdf", "travel.docx", "zh.txt"]
    assert len(first.errors) == 1 and "broken.pdf" in first.errors[0][1]
    col = get_collection(collection_name)
    count = col.count()
    assert count == first.chunks > 0

    again = ingest([docs], collection_name)
    assert len(again.skipped) == 4 and not again.added and not again.updated
    assert col.count() == count

    md.write_text(MD.replace("30 days", "45 days").replace("## ACME-1-COOLING-OFF Cooling-off\n", "## ACME-1-COOLING-OFF Cooling-off\nNew text.\n"), encoding="utf-8")
    third = ingest([md], collection_name)
    assert [Path(p).name for p in third.updated] == ["acme.md"]
    got = col.get(where={"doc": "ACME-1"}, include=["documents", "metadatas"])
    assert any("45 days" in t for t in got["documents"]) and not any("30 days" in t for t in got["documents"])
    assert col.count() == count  # replaced, not duplicated
    meta = got["metadatas"][0]
    for key in ("doc", "product_id", "clause_id", "heading", "language", "page", "source_sha256"):
        assert key in meta


def test_discover_skips_hidden_and_readme(tmp_path: Path) -> None:
    (tmp_path / ".hidden").mkdir()
    _write(tmp_path / ".hidden", "a.md", MD)
    _write(tmp_path, "README.md", "x")
    keep = _write(tmp_path, "a.md", MD)
    assert discover([tmp_path]) == [keep]

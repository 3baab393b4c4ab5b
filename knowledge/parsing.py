"""Read policy documents (Markdown, text, PDF, DOCX) into titled clause sections.

A section starts at a heading that carries a clause id (``MED-100-WAITING ...``),
at a Markdown heading of level 1-2, at a Word heading style, or in plain text at a
line that looks like a clause heading (``第五条 ...``, ``5.3 ...``, ``第二部分 ...``).
Documents without any such structure come back as one section, which the chunker
cuts into sized, overlapping pieces.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from anxin.knowledge.text import detect_language

SUPPORTED_SUFFIXES = {".md", ".markdown", ".txt", ".text", ".pdf", ".docx"}

CLAUSE_ID_HEAD = re.compile(r"^([A-Z][A-Z0-9]*(?:-[A-Z0-9_]+)+)(?:\s+|$)")
MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
TEXT_HEADING = re.compile(
    r"^\s*(?:"
    r"第[一二三四五六七八九十百零〇两\d]+[条章部分节款]"        # 第五条 / 第二部分
    r"|[A-Z][A-Z0-9]*(?:-[A-Z0-9_]+)+(?=\s)"                   # MED-100-WAITING
    r"|\d{1,2}(?:\.\d{1,2}){1,3}(?=\s*[\u4e00-\u9fffA-Za-z])"  # 5.3 / 2.1.4 followed by a title
    r"|(?:Article|Section|Clause)\s+\d+(?:\.\d+)*"
    r")\s*(.{0,60})$"
)


class DocumentError(ValueError):
    """A document that cannot be read; the message names the file."""


@dataclass
class Section:
    """One clause or section of a document."""

    heading: str
    text: str
    clause_id: str = ""
    page: int | None = None


@dataclass
class ParsedDocument:
    """A whole document: identity, language and its sections in order."""

    path: Path
    doc_id: str
    title: str
    language: str
    product_id: str = ""
    sections: list[Section] = field(default_factory=list)
    meta: dict = field(default_factory=dict)


def clause_id_of(heading: str) -> str:
    """The clause id a heading starts with (``MED-100-WAITING``, ``第五条``, ``5.3``), or ''."""
    heading = heading.strip()
    m = CLAUSE_ID_HEAD.match(heading)
    if m:
        return m.group(1)
    m = re.match(r"^(第[一二三四五六七八九十百零〇两\d]+[条章部分节款])", heading)
    if m:
        return m.group(1)
    m = re.match(r"^((?:Article|Section|Clause)\s+\d+(?:\.\d+)*|\d{1,2}(?:\.\d{1,2}){1,3})\b", heading)
    return m.group(1) if m else ""


def _front_matter(text: str) -> tuple[dict, str]:
    if text.startswith("---"):
        end = text.find("\n---", 3)
        if end != -1:
            try:
                meta = yaml.safe_load(text[3:end]) or {}
            except yaml.YAMLError as exc:
                raise DocumentError(f"bad front matter: {exc}") from exc
            if isinstance(meta, dict):
                return meta, text[end + 4 :].lstrip("\n")
    return {}, text


def _split_markdown(body: str) -> tuple[str, list[Section]]:
    title, sections = "", []
    heading, lines = "", []
    in_code = False

    def flush() -> None:
        text = "\n".join(lines).strip()
        if heading or text:
            sections.append(Section(heading=heading, text=text, clause_id=clause_id_of(heading)))

    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        m = None if in_code else MD_HEADING.match(line)
        if m:
            level, head = len(m.group(1)), m.group(2).strip()
            if level == 1 and not title and not sections and not lines:
                title = head
                continue
            if level <= 2 or clause_id_of(head):
                flush()
                heading, lines = head, []
                continue
        lines.append(line)
    flush()
    return title, [s for s in sections if s.text or s.heading]


def split_text(text: str, page_of_line: list[int] | None = None) -> list[Section]:
    """Cut plain text at clause-heading lines; one untitled section when none are found."""
    sections: list[Section] = []
    heading, lines, page = "", [], None
    for i, line in enumerate(text.splitlines()):
        line_page = page_of_line[i] if page_of_line else None
        if TEXT_HEADING.match(line) and len(line.strip()) <= 80:
            body = "\n".join(lines).strip()
            if heading or body:
                sections.append(Section(heading, body, clause_id_of(heading), page))
            heading, lines, page = line.strip(), [], line_page
            continue
        if page is None:
            page = line_page
        lines.append(line)
    body = "\n".join(lines).strip()
    if heading or body:
        sections.append(Section(heading, body, clause_id_of(heading), page))
    return sections


def _read_pdf(path: Path) -> tuple[str, list[Section]]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    lines, pages = [], []
    for number, page in enumerate(reader.pages, start=1):
        for line in (page.extract_text() or "").splitlines():
            lines.append(line)
            pages.append(number)
    if not any(l.strip() for l in lines):
        raise DocumentError("the PDF has no extractable text (scanned images need OCR first)")
    title = (reader.metadata.title if reader.metadata and reader.metadata.title else "") or ""
    return title, split_text("\n".join(lines), pages)


def _read_docx(path: Path) -> tuple[str, list[Section]]:
    import docx

    document = docx.Document(str(path))
    title = document.core_properties.title or ""
    sections: list[Section] = []
    heading, lines, styled = "", [], False
    for para in document.paragraphs:
        text = para.text.strip()
        style = (para.style.name or "").lower() if para.style is not None else ""
        if style == "title" and not title:
            title = text
            continue
        if text and (style.startswith("heading") or TEXT_HEADING.match(text) and len(text) <= 80):
            styled = True
            if heading or lines:
                sections.append(Section(heading, "\n".join(lines).strip(), clause_id_of(heading)))
            heading, lines = text, []
            continue
        if text:
            lines.append(text)
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    if heading or lines:
        sections.append(Section(heading, "\n".join(lines).strip(), clause_id_of(heading)))
    if not styled and not sections:
        raise DocumentError("the document is empty")
    return title, sections


def parse_document(path: str | Path) -> ParsedDocument:
    """Parse one file into a :class:`ParsedDocument`; raises :class:`DocumentError` naming the file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"{path}: unsupported file type '{suffix}' (use .md, .txt, .pdf or .docx)")
    try:
        meta: dict = {}
        if suffix in (".md", ".markdown", ".txt", ".text"):
            try:
                raw = path.read_text(encoding="utf-8-sig")
            except UnicodeDecodeError:
                raw = path.read_text(encoding="gb18030")
            meta, body = _front_matter(raw)
            if suffix in (".md", ".markdown"):
                title, sections = _split_markdown(body)
            else:
                title, sections = "", split_text(body)
        elif suffix == ".pdf":
            title, sections = _read_pdf(path)
        else:
            title, sections = _read_docx(path)
    except DocumentError as exc:
        raise DocumentError(f"{path}: {exc}") from exc
    except (OSError, ValueError, KeyError) as exc:
        raise DocumentError(f"{path}: cannot read file: {exc}") from exc
    except Exception as exc:  # parser libraries raise their own types on corrupt files
        raise DocumentError(f"{path}: corrupt or unreadable {suffix[1:].upper()} file ({type(exc).__name__}: {exc})") from exc
    sections = [s for s in sections if s.text.strip() or s.heading.strip()]
    if not sections:
        raise DocumentError(f"{path}: no text found")
    title = str(meta.get("title") or title or path.stem)
    sample = " ".join(s.heading + " " + s.text for s in sections)[:4000]
    return ParsedDocument(
        path=path,
        doc_id=str(meta.get("doc_id") or path.stem),
        title=title,
        language=str(meta.get("language") or detect_language(sample)),
        product_id=str(meta.get("product_id") or ""),
        sections=sections,
        meta=meta,
    )

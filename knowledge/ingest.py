"""Ingest policy documents into a collection: parse, chunk, embed, store.

Incremental: every chunk records the SHA-256 of its source file, so an unchanged
file is skipped and a changed one has its chunks replaced. A file that cannot be
read is reported by name and leaves the index as it was; the rest of the batch goes on.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from anxin.knowledge.embeddings import get_embedder
from anxin.knowledge.parsing import SUPPORTED_SUFFIXES, DocumentError, ParsedDocument, parse_document
from anxin.knowledge.text import tokenize
from anxin.knowledge.vector_store import get_collection

MAX_CHARS = 800
OVERLAP_CHARS = 120
ADD_BATCH = 256


@dataclass
class Chunk:
    """One stored passage with its citation metadata."""

    id: str
    text: str
    index_text: str  # what is embedded and keyword-indexed: title + heading + text
    metadata: dict


@dataclass
class IngestReport:
    """What one ingest run did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds else 0.0


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Files to ingest: given files as they are; folders searched recursively for
    supported types (hidden files and README files skipped)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if (f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES
                        and not any(part.startswith(".") for part in f.relative_to(p).parts)
                        and not f.name.upper().startswith("README")):
                    found.append(f)
        else:
            found.append(p)
    return found


def split_long(text: str, max_chars: int = MAX_CHARS, overlap: int = OVERLAP_CHARS) -> list[str]:
    """Cut text into pieces of at most ``max_chars`` with ``overlap``, preferring paragraph
    and sentence boundaries."""
    text = text.strip()
    if len(text) <= max_chars:
        return [text]
    pieces, start = [], 0
    while start < len(text):
        end = min(len(text), start + max_chars)
        if end < len(text):
            window = text[start:end]
            cut = max(window.rfind("\n\n"), window.rfind("。"), window.rfind(". "), window.rfind("\n"), window.rfind("；"))
            if cut > max_chars // 2:
                end = start + cut + 1
        pieces.append(text[start:end].strip())
        if end >= len(text):
            break
        start = max(end - overlap, start + 1)
    return [p for p in pieces if p]


def source_key(doc: ParsedDocument) -> str:
    """Identity of a source in the index: the declared doc id and language, else the file path."""
    if doc.meta.get("doc_id"):
        return f"{doc.doc_id}@{doc.language}"
    return str(doc.path.resolve())


def chunk_document(doc: ParsedDocument, sha256: str) -> list[Chunk]:
    """Sections → chunks with metadata (document, product, clause id, heading, language, page)."""
    key = source_key(doc)
    prefix = hashlib.sha1(key.encode()).hexdigest()[:12]
    chunks: list[Chunk] = []
    for s_index, section in enumerate(doc.sections):
        pieces = split_long(section.text or section.heading)
        for c_index, piece in enumerate(pieces):
            meta = {
                "doc": doc.doc_id,
                "title": doc.title,
                "product_id": doc.product_id,
                "clause_id": section.clause_id,
                "heading": section.heading,
                "language": doc.language,
                "page": section.page if section.page is not None else -1,
                "source_key": key,
                "source_path": str(doc.path),
                "source_sha256": sha256,
                "section_index": s_index,
                "chunk_index": c_index,
                "n_chunks": len(pieces),
            }
            index_text = "\n".join(x for x in (doc.title, section.heading, piece) if x)
            # keyword tokens stored with the chunk: searchers load them instead of re-segmenting
            meta["bm25_tokens"] = " ".join(tokenize(index_text))
            chunk_id = f"{prefix}-{sha256[:8]}-{s_index:04d}-{c_index:02d}"
            chunks.append(Chunk(chunk_id, piece, index_text, meta))
    return chunks


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _indexed_sources(col, page: int = 5000) -> dict[str, tuple[list[str], set[str]]]:
    """source_key → (chunk ids, source hashes) for everything in the collection, read once
    (a metadata-filtered ``get`` per file is a full scan in Chroma)."""
    out: dict[str, tuple[list[str], set[str]]] = {}
    total = col.count()
    for offset in range(0, total, page):
        got = col.get(include=["metadatas"], limit=page, offset=offset)
        for cid, meta in zip(got["ids"], got["metadatas"]):
            ids, shas = out.setdefault(meta.get("source_key", ""), ([], set()))
            ids.append(cid)
            shas.add(meta.get("source_sha256", ""))
    return out


def ingest(
    paths: Iterable[str | Path],
    collection: str,
    progress: Callable[[str, int, int], None] | None = None,
) -> IngestReport:
    """Ingest files and folders into ``collection``; see the module docstring."""
    started = time.perf_counter()
    report = IngestReport()
    files = discover(paths)
    col = get_collection(collection)
    embedder = get_embedder()
    indexed = _indexed_sources(col)
    for n, path in enumerate(files, start=1):
        if progress:
            progress(str(path), n, len(files))
        try:
            if not path.exists():
                raise DocumentError(f"{path}: no such file")
            sha = file_sha256(path)
            doc = parse_document(path)
            key = source_key(doc)
            old_ids, old_shas = indexed.get(key, ([], set()))
            if old_ids and old_shas == {sha}:
                report.skipped.append(str(path))
                continue
            chunks = chunk_document(doc, sha)
            vectors = embedder.embed_passages([c.index_text for c in chunks])
        except DocumentError as exc:
            report.errors.append((str(path), str(exc)))
            continue
        except Exception as exc:  # a bug or a library failure on one file must not stop the batch
            report.errors.append((str(path), f"{path}: {type(exc).__name__}: {exc}"))
            continue
        # Only now touch the index: new chunks in (their ids carry the new hash), then the
        # old ones out, so a failure half-way leaves the previous version searchable.
        try:
            for i in range(0, len(chunks), ADD_BATCH):
                batch = chunks[i : i + ADD_BATCH]
                col.upsert(
                    ids=[c.id for c in batch],
                    documents=[c.text for c in batch],
                    metadatas=[c.metadata for c in batch],
                    embeddings=[vectors[i + j] for j in range(len(batch))],
                )
        except Exception as exc:
            col.delete(ids=[c.id for c in chunks])
            report.errors.append((str(path), f"{path}: could not store chunks: {exc}"))
            continue
        new_ids = {c.id for c in chunks}
        stale = [i for i in old_ids if i not in new_ids]
        if stale:
            col.delete(ids=stale)
        indexed[key] = (list(new_ids), {sha})
        (report.updated if old_ids else report.added).append(str(path))
        report.chunks += len(chunks)
    report.seconds = time.perf_counter() - started
    if report.added or report.updated:
        from anxin.knowledge.retrieval import invalidate

        invalidate(collection)
    return report

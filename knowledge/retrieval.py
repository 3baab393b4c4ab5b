"""Hybrid retrieval over policy clauses: dense (e5) + BM25 (jieba / stemmed English),
fused with reciprocal rank fusion, boosted by contract names named in the query.

Chroma is the system of record. A searcher loads a snapshot of a collection (texts,
metadata, vectors) and keeps it in memory: exact cosine over a few tens of thousands
of 384-d vectors takes about a millisecond, faster than an ANN round trip, and lets
every candidate get both scores. Collections too big for that use Chroma's own
nearest-neighbour query for the dense side.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import bm25s
import numpy as np

from anxin.knowledge.embeddings import get_embedder
from anxin.knowledge.filing import load_catalog, load_underwriting, product_aliases
from anxin.knowledge.names import CONDITION, NameIndex
from anxin.knowledge.query_expansion import expand, section_hints
from anxin.knowledge.section_types import CLAUSE_TYPES, clause_type, get_model as get_type_model
from anxin.knowledge.text import detect_language, tokenize
from anxin.knowledge.vector_store import get_collection

IN_MEMORY_MAX_CHUNKS = 200_000
# Overview clauses restate everything briefly; a specific clause answers better.
OVERVIEW_SUFFIXES = ("-AGREEMENT", "-DEFINITIONS")


@dataclass
class RetrievalConfig:
    """Fusion weights (tuned on the InsQABench dev split and our own question set)."""

    rrf_k: float = 20.0
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    heading_weight: float = 0.5
    section_hint_boost: float = 0.02  # question type → clause type (data/section_cues.yaml)
    overview_penalty: float = 0.005
    general_boost: float = 0.01      # general terms when the question names no product
    type_margin: float = 0.01  # a clause type from typical questions counts as a hint above this margin
    candidates: int = 50
    name_boost: float = 0.05      # added per unit of name-match strength
    expand_query: bool = True      # customer phrasing → policy vocabulary (data/query_lexicon.yaml)
    expand_dense: bool = False     # also embed the expanded query


@dataclass
class SearchResult:
    """One ranked passage with what is needed to cite it."""

    rank: int
    doc: str
    clause_id: str
    heading: str
    text: str
    score: float
    product_id: str = ""
    language: str = ""
    title: str = ""
    page: int | None = None
    source: str = ""
    similarity: float | None = None   # dense cosine of query and passage (None: not scored)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Snapshot:
    ids: list[str]
    texts: list[str]
    metas: list[dict]
    vectors: np.ndarray | None
    bm25: bm25s.BM25 | None
    heading_bm25: bm25s.BM25 | None
    names: NameIndex
    underwriting_docs: set[str]
    general_docs: set[str]
    doc_rows: dict[str, np.ndarray]
    product_rows: dict[str, np.ndarray]
    section_text: dict[tuple[str, int], str]
    count: int
    loaded_at: float = field(default_factory=time.time)


def _chunk_tokens(text: str, meta: dict) -> list[str]:
    """BM25 tokens of a chunk: stored at ingestion, recomputed for older indexes."""
    stored = meta.get("bm25_tokens")
    if stored is not None:
        return stored.split()
    return tokenize("\n".join(x for x in (meta.get("title", ""), meta.get("heading", ""), text) if x))


def _merge_pieces(pieces: list[str]) -> str:
    """Re-join overlapping chunk pieces of one section."""
    text = pieces[0]
    for piece in pieces[1:]:
        overlap = 0
        for k in range(min(len(text), len(piece), 400), 10, -1):
            if text.endswith(piece[:k]):
                overlap = k
                break
        text += ("" if overlap else "\n") + piece[overlap:]
    return text


class HybridSearcher:
    """Searches one collection; cheap to call repeatedly (snapshot cached per process)."""

    def __init__(self, collection: str, config: RetrievalConfig | None = None) -> None:
        self.collection_name = collection
        self.config = config or RetrievalConfig()
        self._lock = threading.Lock()
        self._snap: _Snapshot | None = None
        self._col = None  # the Chroma collection handle, opened once per searcher

    def _collection(self):
        if self._col is None:
            self._col = get_collection(self.collection_name)
        return self._col

    # -- loading -------------------------------------------------------------
    def _load(self) -> _Snapshot:
        col = self._collection()
        count = col.count()
        include = ["documents", "metadatas"] + (["embeddings"] if count <= IN_MEMORY_MAX_CHUNKS else [])
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict] = []
        vectors: list[np.ndarray] = []
        page = 5000
        for offset in range(0, count, page):
            got = col.get(include=include, limit=page, offset=offset)
            ids += got["ids"]
            texts += got["documents"]
            metas += got["metadatas"]
            if "embeddings" in include:
                vectors.append(np.asarray(got["embeddings"], dtype=np.float32))
        bm25 = heading_bm25 = None
        if ids:
            bm25 = bm25s.BM25(k1=1.2, b=0.75)
            bm25.index([_chunk_tokens(t, m) for t, m in zip(texts, metas)], show_progress=False)
            # Section headings alone: "what is this clause about", the strongest hint of
            # which section of a long wording answers a question.
            heading_bm25 = bm25s.BM25(k1=1.2, b=0.3)
            heading_bm25.index([tokenize(m.get("heading", "")) or ["∅"] for m in metas], show_progress=False)
        docs: dict[str, list[int]] = {}
        products: dict[str, list[int]] = {}
        titles: dict[str, set[str]] = {}
        sections: dict[tuple[str, int], list[tuple[int, str]]] = {}
        for i, m in enumerate(metas):
            docs.setdefault(m["doc"], []).append(i)
            if m.get("product_id"):
                products.setdefault(m["product_id"], []).append(i)
            titles.setdefault(m["doc"], set()).add(m.get("title") or m["doc"])
            sections.setdefault((m["source_key"], int(m["section_index"])), []).append((int(m["chunk_index"]), texts[i]))
        section_text = {k: _merge_pieces([t for _, t in sorted(v)]) for k, v in sections.items()}
        return _Snapshot(
            ids=ids, texts=texts, metas=metas,
            vectors=np.vstack(vectors) if vectors else None,
            bm25=bm25,
            heading_bm25=heading_bm25,
            names=NameIndex.build(titles, load_catalog().get("products", []), product_aliases(),
                                  load_underwriting().get("conditions", {})),
            underwriting_docs={m["doc"] for m in metas if str(m.get("clause_id", "")).startswith("UW-")},
            general_docs={m["doc"] for m in metas if str(m.get("clause_id", "")).startswith("GEN-")},
            doc_rows={k: np.asarray(v) for k, v in docs.items()},
            product_rows={k: np.asarray(v) for k, v in products.items()},
            section_text=section_text,
            count=count,
        )

    def snapshot(self, refresh: bool = False) -> _Snapshot:
        """The loaded snapshot; reloaded when asked or when the collection size changed."""
        with self._lock:
            if self._snap is None or refresh or self._collection().count() != self._snap.count:
                self._snap = self._load()
            return self._snap

    def invalidate(self) -> None:
        """Forget the snapshot and the collection handle (after an ingest, or when the
        collection was dropped and made anew, in this process)."""
        with self._lock:
            self._snap = None
            self._col = None

    # -- searching -----------------------------------------------------------
    def _dense_scores(self, snap: _Snapshot, qv: np.ndarray, rows: np.ndarray | None) -> dict[int, float]:
        if snap.vectors is not None:
            if rows is None:
                sims = snap.vectors @ qv
                top = np.argsort(-sims)[: self.config.candidates]
                return {int(i): float(sims[i]) for i in top}
            sims = snap.vectors[rows] @ qv
            order = np.argsort(-sims)[: self.config.candidates]
            return {int(rows[i]): float(sims[i]) for i in order}
        # Very large collection: Chroma's ANN index.
        col = self._collection()
        where = None
        if rows is not None:
            allowed = sorted({snap.metas[int(i)]["doc"] for i in rows})
            where = {"doc": {"$in": allowed}}
        got = col.query(query_embeddings=[qv], n_results=self.config.candidates, where=where, include=["distances"])
        index = {cid: i for i, cid in enumerate(snap.ids)}
        return {index[c]: 1.0 - d for c, d in zip(got["ids"][0], got["distances"][0]) if c in index}

    def search(self, query: str, k: int = 5, product: str | None = None) -> list[SearchResult]:
        """Top-``k`` passages for ``query`` (one per clause), optionally within one product."""
        snap = self.snapshot()
        if not snap.ids or not query.strip():
            return []
        cfg = self.config
        rows: np.ndarray | None = None
        if product:
            key = product.strip().upper()
            rows = np.union1d(snap.product_rows.get(key, np.asarray([], dtype=int)),
                              snap.doc_rows.get(product.strip(), np.asarray([], dtype=int))).astype(int)
            if rows.size == 0:
                return []
        named, unnamed = snap.names.find(query)
        # A declared health condition points at the underwriting rules as strongly as a
        # product name points at its wording.
        condition = named.pop(CONDITION, 0.0)
        for doc in snap.underwriting_docs if condition else ():
            named[doc] = max(named.get(doc, 0.0), condition)
        # No product or contract named: the general terms answer general questions.
        general = not named
        named_rows = [snap.doc_rows[d] for d in named if d in snap.doc_rows]
        # product ids named in the query also point at their documents
        named_rows += [snap.product_rows[d] for d in named if d in snap.product_rows]

        expanded = expand(query, unnamed) if cfg.expand_query else query
        qv = get_embedder().embed_query(expanded if cfg.expand_dense else query)
        dense = self._dense_scores(snap, qv, rows)
        tokens = tokenize(expanded)
        bm = np.zeros(len(snap.ids), dtype=np.float32)
        hd = np.zeros(len(snap.ids), dtype=np.float32)
        if tokens and snap.bm25 is not None:
            bm = snap.bm25.get_scores(tokens)
            if cfg.heading_weight and snap.heading_bm25 is not None:
                hd = snap.heading_bm25.get_scores(tokens)
        pool = np.arange(len(snap.ids)) if rows is None else rows
        bm_top = pool[np.argsort(-bm[pool])[: cfg.candidates]]
        candidates = set(dense) | {int(i) for i in bm_top if bm[i] > 0}
        for r in named_rows:
            if rows is not None:
                r = np.intersect1d(r, rows)
            if r.size <= 2000:
                candidates |= {int(i) for i in r}
                if snap.vectors is not None:
                    for i, s in zip(r, snap.vectors[r] @ qv):
                        dense.setdefault(int(i), float(s))
        if not candidates:
            return []
        # Fuse at clause level: a clause stored in two languages or cut into several
        # chunks competes once, with the best score of its chunks on each signal.
        qlang = detect_language(query)
        hints = section_hints(unnamed) if cfg.section_hint_boost else set()
        if cfg.section_hint_boost and cfg.type_margin > 0:
            type_model = get_type_model(get_embedder())
            if type_model is not None:
                hints |= type_model.confident_types(qv, cfg.type_margin)
        groups: dict[tuple, list[int]] = {}
        for i in candidates:
            m = snap.metas[i]
            key = (m["doc"], m["clause_id"]) if m.get("clause_id") else (m["source_key"], m["section_index"])
            groups.setdefault(key, []).append(i)

        def best(scores, members: list[int]) -> float | None:
            vals = [float(scores[i]) for i in members if (i in scores if isinstance(scores, dict) else scores[i] > 0)]
            return max(vals) if vals else None

        keys = list(groups)
        signals = []
        for weight, scores in ((cfg.dense_weight, dense), (cfg.bm25_weight, bm), (cfg.heading_weight, hd)):
            if not weight:
                continue
            vals = {key: best(scores, groups[key]) for key in keys}
            ranked = sorted((key for key in keys if vals[key] is not None), key=lambda key: -vals[key])
            signals.append((weight, {key: n for n, key in enumerate(ranked, 1)}))
        fused: dict[tuple, float] = {}
        for key in keys:
            members = groups[key]
            meta = snap.metas[members[0]]
            score = sum(w / (cfg.rrf_k + ranks[key]) for w, ranks in signals if key in ranks)
            strength = max(named.get(meta["doc"], 0.0), named.get(meta.get("product_id") or "", 0.0))
            score += cfg.name_boost * strength
            if general and meta["doc"] in snap.general_docs:
                score += cfg.general_boost
            cid = meta.get("clause_id") or ""
            if hints and clause_type(cid, CLAUSE_TYPES) in hints:
                score += cfg.section_hint_boost
            elif cid.endswith(OVERVIEW_SUFFIXES):
                score -= cfg.overview_penalty
            fused[key] = score
        results: list[SearchResult] = []
        for key in sorted(fused, key=lambda key: -fused[key])[:k]:
            members = groups[key]
            # show the clause in the customer's language when we have it
            i = max(members, key=lambda j: (snap.metas[j].get("language") == qlang, dense.get(j, -1.0)))
            m = snap.metas[i]
            page = int(m.get("page", -1))
            results.append(SearchResult(
                rank=len(results) + 1,
                doc=m["doc"],
                clause_id=m.get("clause_id", ""),
                heading=m.get("heading", ""),
                text=snap.section_text.get((m["source_key"], int(m["section_index"])), snap.texts[i]),
                score=round(fused[key], 6),
                product_id=m.get("product_id", ""),
                language=m.get("language", ""),
                title=m.get("title", ""),
                page=page if page >= 0 else None,
                source=m.get("source_path", ""),
                similarity=round(dense[i], 4) if i in dense else None,
            ))
        return results

    def clause(self, clause_id: str, language: str | None = None) -> SearchResult | None:
        """The full text of one clause by id (in ``language`` when the collection has it),
        or None when no chunk carries that clause id."""
        snap = self.snapshot()
        want = clause_id.strip().upper()
        rows = [i for i, m in enumerate(snap.metas) if str(m.get("clause_id", "")).upper() == want]
        if not rows:
            return None
        i = max(rows, key=lambda j: (snap.metas[j].get("language") == language, -int(snap.metas[j].get("chunk_index", 0))))
        m = snap.metas[i]
        page = int(m.get("page", -1))
        return SearchResult(
            rank=1, doc=m["doc"], clause_id=m.get("clause_id", ""), heading=m.get("heading", ""),
            text=snap.section_text.get((m["source_key"], int(m["section_index"])), snap.texts[i]),
            score=1.0, product_id=m.get("product_id", ""), language=m.get("language", ""),
            title=m.get("title", ""), page=page if page >= 0 else None, source=m.get("source_path", ""),
        )


_searchers: dict[str, HybridSearcher] = {}
_registry_lock = threading.Lock()


def get_searcher(collection: str) -> HybridSearcher:
    """The process-wide searcher of a collection."""
    with _registry_lock:
        if collection not in _searchers:
            _searchers[collection] = HybridSearcher(collection)
        return _searchers[collection]


def invalidate(collection: str) -> None:
    """Drop the cached snapshot of a collection (called after ingesting into it)."""
    with _registry_lock:
        s = _searchers.get(collection)
    if s:
        s.invalidate()

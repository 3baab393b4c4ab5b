"""Run-time settings, read from the environment (nothing here talks to the network)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_COLLECTION = "policies"


@dataclass(frozen=True)
class Settings:
    """Where Anxin keeps its state and which back-ends it uses."""

    home: Path
    chroma_url: str | None
    embeddings: str
    db_url: str | None

    @property
    def chroma_dir(self) -> Path:
        return self.home / "chroma"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"


def settings() -> Settings:
    """Current settings: ``ANXIN_HOME`` (default ``~/.local/share/anxin``),
    ``ANXIN_CHROMA_URL`` (a Chroma server instead of the embedded store),
    ``ANXIN_EMBEDDINGS`` (``e5`` default, or ``st:<model name or path>``),
    ``ANXIN_DB_URL`` (SQLAlchemy URL; SQLite under the home by default)."""
    home = Path(os.environ.get("ANXIN_HOME") or Path.home() / ".local" / "share" / "anxin").expanduser()
    return Settings(
        home=home,
        chroma_url=os.environ.get("ANXIN_CHROMA_URL") or None,
        embeddings=os.environ.get("ANXIN_EMBEDDINGS", "e5"),
        db_url=os.environ.get("ANXIN_DB_URL") or None,
    )


def offline_environment() -> None:
    """Switch every model hub client off: all weights come from installed packages."""
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(key, "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

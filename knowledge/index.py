"""The default index: the shipped policy wordings, rebuilt only when stale."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from anxin.config import DEFAULT_COLLECTION
from anxin.knowledge.ingest import IngestReport, ingest

WORDINGS_DIR = Path(__file__).resolve().parent / "wordings"


def build_default_index(
    collection: str = DEFAULT_COLLECTION,
    progress: Callable[[str, int, int], None] | None = None,
) -> IngestReport:
    """Ingest the shipped wordings (zh and en) into ``collection``; unchanged files are skipped,
    so calling this on every start costs a hash per file."""
    return ingest([WORDINGS_DIR], collection, progress=progress)

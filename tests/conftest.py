"""Test isolation: every test session gets its own ANXIN_HOME; nothing touches the network."""
from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="anxin-test-home-"))
os.environ["ANXIN_HOME"] = str(_HOME)
# Tests use the embedded Chroma unless CI points them at a server on purpose.
if os.environ.get("ANXIN_TEST_CHROMA_URL"):
    os.environ["ANXIN_CHROMA_URL"] = os.environ["ANXIN_TEST_CHROMA_URL"]
else:
    os.environ.pop("ANXIN_CHROMA_URL", None)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"

SHARED_SPEC = Path(__file__).resolve().parents[1].parent / "shared" / "spec"


@pytest.fixture
def collection_name() -> str:
    """A fresh collection name per test."""
    return f"test-{uuid.uuid4().hex[:10]}"

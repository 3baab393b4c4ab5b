"""ANXIN_CHROMA_URL: ingestion and search against a real Chroma server on loopback."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from anxin.knowledge import vector_store

CHROMA = Path(sys.executable).with_name("chroma")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path, monkeypatch):
    if os.environ.get("ANXIN_TEST_CHROMA_URL"):
        url = os.environ["ANXIN_TEST_CHROMA_URL"]
        proc = None
    else:
        if not CHROMA.exists() and not shutil.which("chroma"):
            pytest.skip("chroma server binary not installed")
        port = _free_port()
        proc = subprocess.Popen([str(CHROMA if CHROMA.exists() else "chroma"), "run", "--path", str(tmp_path / "srv"),
                                 "--host", "127.0.0.1", "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            proc.kill()
            pytest.fail("chroma server did not start")
    monkeypatch.setenv("ANXIN_CHROMA_URL", url)
    yield url
    if proc:
        proc.terminate()
        proc.wait(timeout=10)


def test_ingest_and_search_through_a_chroma_server(chroma_server, tmp_path, collection_name) -> None:
    from anxin.knowledge.ingest import ingest
    from anxin.knowledge.retrieval import HybridSearcher

    doc = tmp_path / "policy.md"
    doc.write_text("# Gamma Travel Policy\n\n## GAMMA-WAITING Waiting period\nNo waiting period applies to accidents.\n\n"
                   "## GAMMA-COOLING-OFF Cooling-off\nCancel within 15 days for a full refund.\n", encoding="utf-8")
    report = ingest([doc], collection_name)
    assert not report.errors and report.chunks == 2
    client = vector_store.get_client()
    assert type(client).__name__ != "PersistentClient" and client.get_collection(collection_name).count() == 2
    hits = HybridSearcher(collection_name).search("can I cancel and get a refund", k=2)
    assert hits[0].clause_id == "GAMMA-COOLING-OFF"
    assert ingest([doc], collection_name).skipped  # incremental against the server too

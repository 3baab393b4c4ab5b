"""The HTTP server: health, clause search API and the placeholder page."""
from __future__ import annotations

from fastapi.testclient import TestClient

from anxin.knowledge.ingest import ingest
from anxin.ui.server import create_app

DOC = """---
doc_id: DELTA-1
product_id: DELTA-1
language: zh
title: 德尔塔意外险条款
---
# 德尔塔意外险条款

## DELTA-1-WAITING 等待期
本产品对意外伤害不设等待期。

## DELTA-1-CLAIM-DOCS 理赔材料
申请理赔须提供理赔申请书、身份证件、意外事故证明。
"""


def test_health_search_and_page(tmp_path, collection_name) -> None:
    (tmp_path / "d.md").write_text(DOC, encoding="utf-8")
    assert not ingest([tmp_path], collection_name).errors
    client = TestClient(create_app(collection_name))
    assert client.get("/healthz").json()["status"] == "ok"
    body = client.get("/api/search", params={"q": "理赔要什么材料", "k": 1}).json()
    assert body["results"][0]["clause_id"] == "DELTA-1-CLAIM-DOCS"
    assert client.get("/api/search", params={"q": ""}).status_code == 422
    page = client.get("/", params={"q": "<script>等待期</script>"})
    assert page.status_code == 200 and "DELTA-1-WAITING" in page.text
    assert "<script>等待期" not in page.text  # the query is escaped, never injected

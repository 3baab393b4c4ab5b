"""HTTP server: health check, clause search API and a placeholder advisor page.

The full customer widget and staff console mount here later (Gradio inside FastAPI).
"""
from __future__ import annotations

import html

from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse

from anxin import __version__
from anxin.config import DEFAULT_COLLECTION

PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<title>安心 Anxin — 星衡保险智能顾问</title>
<style>body{{font-family:system-ui,sans-serif;max-width:760px;margin:2em auto;padding:0 1em}}
.hit{{border:1px solid #ddd;border-radius:8px;padding:.6em 1em;margin:.6em 0}}
.cid{{font-family:monospace;background:#eef;padding:0 .3em;border-radius:4px}}</style></head>
<body><h1>安心 Anxin</h1><p>星衡保险（虚构）条款检索 · Xingheng Insurance (fictional) clause search.
The conversational advisor will appear here; for now ask about any policy clause.</p>
<form method="get" action="/"><input name="q" value="{q}" size="60" placeholder="例如：百万医疗险等待期多久？ / How long is the waiting period?">
<button>搜索 Search</button></form>{hits}</body></html>"""


def create_app(collection: str = DEFAULT_COLLECTION) -> FastAPI:
    """The ASGI app serving ``collection``."""
    from anxin.knowledge.retrieval import get_searcher

    app = FastAPI(title="Anxin", version=__version__)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "version": __version__}

    @app.get("/api/search")
    def api_search(q: str = Query(..., min_length=1, max_length=2000), k: int = Query(5, ge=1, le=50),
                   product: str | None = None) -> dict:
        hits = get_searcher(collection).search(q, k=k, product=product)
        return {"query": q, "results": [h.to_dict() for h in hits]}

    @app.get("/", response_class=HTMLResponse)
    def index(q: str = "") -> str:
        blocks = []
        if q.strip():
            for h in get_searcher(collection).search(q[:2000], k=5):
                blocks.append(
                    f'<div class="hit"><span class="cid">{html.escape(h.clause_id or h.doc)}</span> '
                    f"<b>{html.escape(h.heading)}</b><p>{html.escape(h.text[:600])}</p></div>")
            if not blocks:
                blocks.append("<p>没有找到相关条款 / no matching clause.</p>")
        return PAGE.format(q=html.escape(q), hits="".join(blocks))

    return app

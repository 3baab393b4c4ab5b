"""The HTTP server: health check, clause search, the advisor API, and the Gradio apps.

One ASGI app (``anxin serve``, default http://127.0.0.1:7860):

* ``/healthz``, ``/api/search`` and ``/search`` (the plain clause-search page);
* the advisor API under ``/api/sessions`` and ``/api/staff`` (:mod:`anxin.ui.api`),
  OpenAPI docs at ``/docs``;
* the staff console at ``/staff`` and the customer widget at ``/`` (Gradio, mounted
  with :func:`gradio.mount_gradio_app`; ``ui=False`` leaves them out).
"""
from __future__ import annotations

import html
import logging
import os
from typing import Any

from urllib.parse import parse_qs

from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from anxin import __version__
from anxin.config import DEFAULT_COLLECTION
from anxin.ui.api import audio_max_bytes, mount_api
from anxin.ui.auth import ensure_staff_token
from anxin.ui.services import AnxinService

log = logging.getLogger("anxin.ui.server")

PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<title>安心 Anxin — 条款检索 Clause search</title>
<style>body{{font-family:system-ui,sans-serif;max-width:760px;margin:2em auto;padding:0 1em}}
.hit{{border:1px solid #ddd;border-radius:8px;padding:.6em 1em;margin:.6em 0}}
.cid{{font-family:monospace;background:#eef;padding:0 .3em;border-radius:4px}}</style></head>
<body><h1>安心 Anxin</h1><p>星衡保险（虚构）条款检索 · Xingheng Insurance (fictional) clause search.
<a href="/">与智能顾问对话 Chat with the advisor</a></p>
<form method="get" action="/search"><input name="q" value="{q}" size="60" placeholder="例如：百万医疗险等待期多久？ / How long is the waiting period?">
<button>搜索 Search</button></form>{hits}</body></html>"""


def create_app(
    collection: str = DEFAULT_COLLECTION,
    *,
    ui: bool = True,
    service: AnxinService | None = None,
    advisor: Any | None = None,
) -> FastAPI:
    """The ASGI app answering from ``collection``.

    ``service`` (or ``advisor``, wrapped in a service) serves the API and the Gradio
    apps; by default an :class:`~anxin.ui.services.AnxinService` on ``ANXIN_LLM`` and
    the configured database, whose advisor is created on the first conversation.
    ``ui=False`` serves the API only (no Gradio import: tests, headless deployments).
    """
    from anxin.knowledge.retrieval import get_searcher

    svc = service or AnxinService(advisor, collection=collection)
    ensure_staff_token()
    app = FastAPI(title="Anxin 安心", version=__version__, docs_url="/docs", redoc_url=None,
                  description="Bilingual AI insurance advisor: customer sessions, streaming replies, voice, "
                              "and the staff hand-off console API.")
    app.state.anxin = svc

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict:
        return {"status": "ok", "version": __version__}

    @app.get("/api/search", tags=["meta"])
    def api_search(q: str = Query(..., min_length=1, max_length=2000), k: int = Query(5, ge=1, le=50),
                   product: str | None = None) -> dict:
        hits = get_searcher(collection).search(q, k=k, product=product)
        return {"query": q, "results": [h.to_dict() for h in hits]}

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(q: str = "") -> str:
        blocks = []
        if q.strip():
            for h in get_searcher(collection).search(q[:2000], k=5):
                blocks.append(
                    f'<div class="hit"><span class="cid">{html.escape(h.clause_id or h.doc)}</span> '
                    f"<b>{html.escape(h.heading)}</b><p>{html.escape(h.text[:600])}</p></div>")
            if not blocks:
                blocks.append("<p>没有找到相关条款 / no matching clause.</p>")
        return PAGE.format(q=html.escape(q), hits="".join(blocks))

    @app.get("/staff", include_in_schema=False)
    def staff_console() -> RedirectResponse:
        return RedirectResponse("/staff/", status_code=307)

    app.add_middleware(LegacySearchRedirect)
    mount_api(app, svc)
    if ui:
        mount_ui(app, svc)
    else:
        @app.get("/", include_in_schema=False)
        def index() -> RedirectResponse:
            return RedirectResponse("/docs")
    return app


class LegacySearchRedirect:
    """``/?q=...`` → ``/search?q=...``: the placeholder page answered clause searches at
    ``/`` before the widget took that path; old links keep working."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") == "/":
            query = (scope.get("query_string") or b"").decode("latin-1")
            if "q" in parse_qs(query, keep_blank_values=True):
                await RedirectResponse(f"/search?{query}", status_code=307)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def mount_ui(app: FastAPI, service: AnxinService) -> None:
    """Mount the staff console at ``/staff`` and the customer widget at ``/`` (in that
    order: ``/`` catches every path the API does not answer)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # never phone home
    import gradio as gr

    from anxin.ui import console, widget

    max_file = audio_max_bytes()
    gr.mount_gradio_app(app, console.build(service), path="/staff", max_file_size=max_file,
                        footer_links=[], theme=console.theme(), css=console.CSS, ssr_mode=False)
    gr.mount_gradio_app(app, widget.build(service), path="/", max_file_size=max_file,
                        footer_links=[], theme=widget.theme(), css=widget.CSS, ssr_mode=False)

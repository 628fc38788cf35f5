"""Embedding on other sites: ``/blogs/{slug}/embed`` (a compact frame) and ``/embed.js``.

A host page adds ``<div data-liveblog="slug"></div>`` and ``<script src=".../embed.js" async>``;
the script inserts the frame and sizes it to its content from the frame's height messages.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from liveblog.config import Settings
from liveblog.pages import cache
from liveblog.pages.assets import STATIC_DIR
from liveblog.pages.reader import not_found, render
from liveblog.pages.security import COMMON_HEADERS
from liveblog.pages.timeline import load_view
from liveblog.pages.urls import base_of

EMBED_SIZE = 10


async def embed_page(request: Request) -> Response:
    page = await cache.blog_page(request, "embed", lambda: _embed_page(request))
    return page or not_found(request, "blog")


async def _embed_page(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    slug = request.path_params["slug"]
    view = await load_view(request.app.state.engine, slug, limit=EMBED_SIZE)
    if view is None:
        return not_found(request, "blog")
    base = base_of(request)
    context = {"view": view, "blog": view.blog, "canonical": base.blog(slug)}
    response = render(request, "embed.html", context, frame_ancestors=settings.frame_ancestors)
    return base.vary(response)


async def embed_script(request: Request) -> Response:
    headers = {
        **COMMON_HEADERS,
        # Loaded by <script src> from any site: it must be readable cross-origin.
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Cache-Control": "public, max-age=300",
    }
    return FileResponse(STATIC_DIR / "embed.js", media_type="text/javascript", headers=headers)

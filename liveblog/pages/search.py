"""The reader's search: ``/blogs/{slug}?q=words`` renders the published entries that hold
every word, server-side, so the search box works without JavaScript.

A results page does not follow the live stream: new entries, matching or not, never slip into
it. It says how many updates match, lists them newest first (a page at a time, by the same
cursor as the timeline) and leads back to the live updates and to each result in its place.

Pages are shared per blog, stream position, query and page, like the reader page (a link to a
search passed around costs one search per change of the blog), in a cache of their own: words
readers make up never push the live pages out of theirs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from liveblog.editorial import search as searching
from liveblog.engine.base import Engine
from liveblog.models import Entry, decode_cursor, encode_cursor
from liveblog.pages import cache
from liveblog.pages.reader import not_found, render
from liveblog.pages.timeline import PAGE_SIZE, cursor_including
from liveblog.pages.urls import base_of

_MAX_CURSOR = 256
_CACHE_SLOTS = 256
_CACHE_BYTES = 8 * 1024 * 1024


def _cache(request: Request) -> cache.PageCache:
    state = request.app.state
    if getattr(state, "search_cache", None) is None:
        state.search_cache = cache.PageCache(max_slots=_CACHE_SLOTS, max_bytes=_CACHE_BYTES)
    found: cache.PageCache = state.search_cache
    return found


async def search_page(request: Request) -> Response:
    """``?q=``: a page of results; an empty query is the live page."""
    slug = request.path_params["slug"]
    text = request.query_params["q"]
    if not text.strip():
        return RedirectResponse(f"/blogs/{slug}", status_code=303)
    raw_before = request.query_params.get("before") or ""
    before = decode_cursor(raw_before) if raw_before and len(raw_before) <= _MAX_CURSOR else None
    engine: Engine = request.app.state.engine
    position = await engine.position(slug)
    if position is None:
        return not_found(request, "blog")
    if raw_before and before is None:
        return not_found(request, "older", await engine.get_blog(slug))
    slot = ("search", slug, base_of(request).url, text, before)
    return await _cache(request).get(slot, str(position), lambda: _render(request, text, before))


def in_context(entry: Entry) -> str:
    """Where an entry is in the blog: the live page for a pinned one (on top there), else the
    page of older updates that starts with it."""
    anchor = f"#entry-{entry.id}"
    if entry.pinned:
        return f"/blogs/{entry.blog}{anchor}"
    return f"/blogs/{entry.blog}?before={quote(cursor_including(entry), safe='')}{anchor}"


async def _render(request: Request, text: str, before: str | None) -> Response:
    engine: Engine = request.app.state.engine
    blog = await engine.get_blog(request.path_params["slug"])
    if blog is None:
        return not_found(request, "blog")
    context: dict[str, Any] = {"blog": blog, "query": text, "in_context": in_context}
    try:
        query = searching.parse_query(text, blog.language)
    except searching.InvalidQuery:
        context |= {"error": True, "entries": [], "total": 0, "next": None, "older": False}
        return render(request, "search.html", context, status_code=422)
    page = await searching.search(engine, blog, query, PAGE_SIZE, before)
    next_cursor = None if page.next_key is None else encode_cursor(page.next_key)
    context |= {
        "error": False,
        "entries": page.entries,
        "total": page.total,
        "next": next_cursor,
        "older": before is not None,
    }
    return base_of(request).vary(render(request, "search.html", context))

"""The reader's pages: the blogs index and a blog's live timeline, server-rendered.

Everything is in the HTML, so the page reads the same without JavaScript; the script
(``web/static/reader.js``) then keeps it live from the ``last_event_id`` rendered into it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from liveblog import i18n
from liveblog.config import Settings
from liveblog.editorial import embeds
from liveblog.engine.base import BlogNotFound, Engine
from liveblog.models import Blog, Entry, decode_cursor
from liveblog.pages import cache, jsonld, oembed
from liveblog.pages.security import page_headers
from liveblog.pages.templating import templates
from liveblog.pages.timeline import (
    ReaderView,
    cursor_including,
    key_events_only,
    load_view,
)
from liveblog.pages.urls import Base, base_of

_MAX_CURSOR = 256
_INDEX_SIZE = 200  # blogs listed on /, each costing one timeline read


def _state(request: Request) -> tuple[Settings, Engine]:
    return request.app.state.settings, request.app.state.engine


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    frame_ancestors: str = "'self'",
    language: str | None = None,
    domain: str = "messages",
) -> Response:
    """A page in ``language`` (default: its blog's, else the default setting), with the words
    of the catalogue ``domain`` (the newsroom's pages use their own)."""
    settings: Settings = request.app.state.settings
    blog: Blog | None = context.get("blog")
    language = language or (blog.language if blog else settings.default_language)
    frames = embeds.frame_sources(embeds.mastodon_hosts(settings.mastodon_hosts))
    zone = blog.time_zone if blog else settings.default_time_zone
    with i18n.rendering(language, zone, domain):
        response = templates.TemplateResponse(
            request,
            name,
            {"settings": settings, "lang": language, "dir": i18n.direction(language), **context},
            status_code=status_code,
            headers=page_headers(frame_ancestors=frame_ancestors, frame_src=frames),
        )
    # The page carries the stream position it reflects; a stale copy would only replay more.
    response.headers["Cache-Control"] = "no-cache"
    return response


def not_found(request: Request, what: str = "page", blog: Blog | None = None) -> Response:
    """The not-found page: ``what`` is "blog", "older" (a page of older updates) or "page";
    in the blog's language when the blog exists."""
    context: dict[str, Any] = {"what": what} | ({"blog": blog} if blog else {})
    return render(request, "not_found.html", context, status_code=404)


@dataclasses.dataclass(frozen=True, slots=True)
class BlogCard:
    blog: Blog
    latest: Entry | None
    active_at: datetime  # the last change a reader would notice


# The newest entry of each blog, by the blog's stream position (every change moves it): an index
# render reads the timelines of the blogs that changed since the last render, not of all of them.
_latest: dict[str, tuple[str, Entry | None]] = {}
_LATEST_SIZE = 4 * _INDEX_SIZE
# Timeline reads in flight for one index render: the engine's connections stay free for writes.
_INDEX_READS = 8


async def _latest_entry(engine: Engine, blog: Blog, reads: asyncio.Semaphore) -> Entry | None:
    known = _latest.get(blog.slug)
    if known is not None and known[0] == blog.last_event_id:
        return known[1]
    async with reads:
        page = await engine.timeline(blog.slug, 1, None)
    latest = page.entries[0] if page.entries else None
    if len(_latest) >= _LATEST_SIZE:
        _latest.clear()  # slugs of deleted blogs and other apps: start over, rarely
    _latest[blog.slug] = (blog.last_event_id, latest)
    return latest


async def _card(engine: Engine, blog: Blog, reads: asyncio.Semaphore) -> BlogCard:
    try:
        latest = await _latest_entry(engine, blog, reads)
    except BlogNotFound:  # deleted between the listing and now
        return BlogCard(blog, None, blog.updated_at)
    times = [blog.updated_at]
    if latest is not None:
        times.append(latest.updated_at or latest.published_at)
    return BlogCard(blog, latest, max(times))


async def index(request: Request) -> Response:
    """Every blog: one computation per ``page_cache_seconds``, however many readers ask."""
    settings, _ = _state(request)
    ttl = settings.page_cache_seconds
    coding = cache.coding_of(request)
    return await cache.of(request).get(
        "index", None, lambda: _index(request), ttl=ttl, coding=coding
    )


async def _index(request: Request) -> Response:
    _, engine = _state(request)
    blogs = await engine.list_blogs()
    reads = asyncio.Semaphore(_INDEX_READS)
    cards = await asyncio.gather(*(_card(engine, blog, reads) for blog in blogs[:_INDEX_SIZE]))
    # Live first, then the most recently active.
    cards.sort(key=lambda c: (c.blog.status != "live", -c.active_at.timestamp(), c.blog.title))
    return render(request, "index.html", {"cards": cards})


def key_event_links(view: ReaderView) -> list[tuple[str, Any]]:
    """(href, entry) per key event: an anchor on this page, or the older page that holds it."""
    on_page = {e.id for e in view.entries} | {e.id for e in view.pinned}
    links = []
    for entry in view.key_events:
        anchor = f"#entry-{entry.id}"
        if entry.id in on_page:
            links.append((anchor, entry))
        else:
            links.append((f"?before={quote(cursor_including(entry), safe='')}{anchor}", entry))
    return links


async def blog_page(request: Request) -> Response:
    if "q" in request.query_params:  # the search box (liveblog/pages/search.py)
        from liveblog.pages.search import search_page

        return await search_page(request)
    if request.query_params.get("view") == "key":
        # Every key event, however old: one page, shared per stream position like the first.
        page = await cache.blog_page(request, "reader-key", lambda: _blog_page(request, None, True))
        return page or not_found(request, "blog")
    raw_before = request.query_params.get("before")
    if not raw_before:
        # The first render, the one crowds open: shared per stream position.
        page = await cache.blog_page(request, "reader", lambda: _blog_page(request, None))
        return page or not_found(request, "blog")
    before = decode_cursor(raw_before) if len(raw_before) <= _MAX_CURSOR else None
    if before is None:
        blog = await request.app.state.engine.get_blog(request.path_params["slug"])
        return not_found(request, "older" if blog else "blog", blog)
    return await _blog_page(request, before)


async def _blog_page(request: Request, before: str | None, key_only: bool = False) -> Response:
    settings, engine = _state(request)
    slug = request.path_params["slug"]
    view = await load_view(engine, slug, before=before)
    if view is None:
        return not_found(request, "blog")
    if key_only:
        view = key_events_only(view)
    base = base_of(request)
    canonical = base.blog(slug)
    context = {
        "view": view,
        "blog": view.blog,
        "canonical": canonical,
        # Open Graph wants an absolute URL: none rather than one from an untrusted Host.
        "og_url": canonical if base.absolute else None,
        "key_links": key_event_links(view),
        "jsonld": jsonld.script_json(
            jsonld.live_blog_posting(view.blog, view.latest, base, settings)
        ),
        "og_image": og_image(view, base, settings),
        "modified_at": jsonld.modified_at(view.blog, view.latest),
        "oembed": oembed.discovery(base, canonical) if not (view.archive or key_only) else None,
    }
    return base.vary(render(request, "reader.html", context))


def first_photo(entries: list[Entry], base: Base) -> str | None:
    """The first photo of these entries as an absolute URL (Open Graph wants one): an uploaded
    photo's ``/media/`` path only when the origin is known."""
    for entry in entries:
        for media in entry.media:
            url = base.resolve(media.url) if media.type != "embed" else ""
            if url.startswith(("https://", "http://")):
                return url
    return None


def og_image(view: ReaderView, base: Base, settings: Settings) -> str | None:
    """The blog's image: its newest photo, else the publisher's logo."""
    return first_photo([*view.pinned, *view.latest], base) or settings.publisher_logo

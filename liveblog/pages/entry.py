"""One entry's own page, ``/blogs/{slug}/entries/{id}``: the URL an update is shared by.

Server-rendered and complete without JavaScript: the entry with its corrections, its own
``<title>``, canonical URL, Open Graph and Twitter card (what a social network's crawler reads),
JSON-LD, and the way into the live blog. ``.../embed`` is the same entry as a compact frame
for other sites (oEmbed hands it out). Both are cached like the blog page, by the blog's stream
position: a viral update is rendered once per change of its blog, and each request costs one
position read. Only a published entry has a page; any other id is the same 404 as one that
never existed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from liveblog.config import Settings
from liveblog.engine.base import Engine
from liveblog.models import ENTRY_ID_PATTERN, Entry
from liveblog.pages import cache, jsonld, oembed
from liveblog.pages.reader import first_photo, not_found, og_image, render
from liveblog.pages.text import plain_text
from liveblog.pages.timeline import load_view
from liveblog.pages.urls import base_of

DESCRIPTION_LENGTH = 300  # what social cards show, and more than any of them does


async def entry_page(request: Request) -> Response:
    return await _cached(request, embedded=False)


async def entry_embed(request: Request) -> Response:
    return await _cached(request, embedded=True)


async def _cached(request: Request, *, embedded: bool) -> Response:
    entry_id = request.path_params["entry_id"]
    if ENTRY_ID_PATTERN.match(entry_id) is None:
        return not_found(request, "This update")
    name = f"entry-embed:{entry_id}" if embedded else f"entry:{entry_id}"
    page = await cache.blog_page(request, name, lambda: _render(request, entry_id, embedded))
    return page or not_found(request, "This live blog")


async def _render(request: Request, entry_id: str, embedded: bool) -> Response:
    settings: Settings = request.app.state.settings
    engine: Engine = request.app.state.engine
    slug = request.path_params["slug"]
    entry: Entry | None = await engine.get_entry(slug, entry_id)
    if entry is None or not entry.published:
        return not_found(request, "This update")
    view = await load_view(engine, slug)  # the blog as its page shows it (and its card image)
    if view is None:
        return not_found(request, "This live blog")
    base = base_of(request)
    canonical = base.entry(slug, entry.id)
    context = {
        "entry": entry,
        "blog": view.blog,
        "embedded": embedded,
        "canonical": canonical,
        "blog_url": base.blog(slug),
        "og_url": canonical if base.absolute else None,
        "og_image": first_photo([entry], base) or og_image(view, base, settings),
        "description": summary(entry) or view.blog.description or view.blog.title,
        "oembed": oembed.discovery(base, canonical),
        "jsonld": jsonld.script_json(jsonld.blog_posting(entry, view.blog, base, settings)),
    }
    frames = settings.frame_ancestors if embedded else "'self'"
    return base.vary(render(request, "entry.html", context, frame_ancestors=frames))


def summary(entry: Entry, length: int = DESCRIPTION_LENGTH) -> str:
    """The entry's text for a card: whole words, at most ``length`` characters; else the
    first caption (a photo with no text)."""
    text = plain_text(entry.body) or next((m.caption for m in entry.media if m.caption), "")
    if len(text) <= length:
        return text
    return text[: length - 1].rsplit(" ", 1)[0] + "…"

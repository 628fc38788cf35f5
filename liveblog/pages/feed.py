"""``GET /blogs/{slug}/feed.atom``: the latest entries as an Atom 1.0 feed (RFC 4287)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from html import escape
from xml.etree import ElementTree as ET

from starlette.requests import Request
from starlette.responses import Response

from liveblog import i18n
from liveblog.config import Settings
from liveblog.engine.base import BlogNotFound
from liveblog.models import Blog, Entry
from liveblog.pages import cache
from liveblog.pages.security import COMMON_HEADERS
from liveblog.pages.templating import iso
from liveblog.pages.text import entry_title
from liveblog.pages.urls import Base, base_of

FEED_SIZE = 50
_ATOM = "http://www.w3.org/2005/Atom"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"  # written as xml:lang
# XML 1.0 forbids most control characters even as references; they cannot be in a feed.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = _text(text)
    return element


def _ids(blog: Blog, base: Base) -> tuple[str, Callable[[Entry], str]]:
    """The feed's id, and its entries' ids.

    Atom ids must be absolute IRIs (RFC 4287 4.2.6). With a trusted origin they are the page's
    URL (and its anchors); without one, ``urn:uuid`` ids made from the blog's slug and creation
    time and the entry's id: stable, and naming no host at all."""
    if base.absolute:
        page = base.blog(blog.slug)
        return page, lambda entry: f"{page}#entry-{entry.id}"
    feed = uuid.uuid5(uuid.NAMESPACE_URL, f"liveblog:{blog.slug}:{iso(blog.created_at)}")
    return f"urn:uuid:{feed}", lambda entry: f"urn:uuid:{uuid.uuid5(feed, entry.id)}"


def build_feed(blog: Blog, entries: list[Entry], base: Base, settings: Settings) -> bytes:
    with i18n.rendering(blog.language, blog.time_zone):  # the words it adds, in the blog's
        return _build_feed(blog, entries, base, settings)


def _build_feed(blog: Blog, entries: list[Entry], base: Base, settings: Settings) -> bytes:
    # Links are relative without a trusted origin: Atom resolves them against the feed's URL.
    page = base.blog(blog.slug)
    feed_id, entry_id = _ids(blog, base)
    feed = ET.Element("feed", {"xmlns": _ATOM, _XML_LANG: blog.language})
    _sub(feed, "id", feed_id)
    _sub(feed, "title", blog.title)
    if blog.description:
        _sub(feed, "subtitle", blog.description)
    updated = max([blog.updated_at, *(e.updated_at or e.published_at for e in entries)])
    _sub(feed, "updated", iso(updated))
    _sub(feed, "link", rel="alternate", type="text/html", href=page)
    _sub(feed, "link", rel="self", type="application/atom+xml", href=f"{page}/feed.atom")
    # The feed's author stands in for entries that name none (RFC 4287 4.1.2).
    author = _sub(feed, "author")
    _sub(author, "name", settings.publisher_name)
    _sub(feed, "generator", "liveblog")
    if settings.publisher_logo:
        _sub(feed, "logo", settings.publisher_logo)
    for entry in entries:
        item = _sub(feed, "entry")
        link = f"{page}#entry-{entry.id}"
        _sub(item, "id", entry_id(entry))
        _sub(item, "title", entry_title(entry))
        _sub(item, "published", iso(entry.published_at))
        _sub(item, "updated", iso(entry.updated_at or entry.published_at))
        _sub(item, "link", rel="alternate", type="text/html", href=link)
        for name in [a.name for a in entry.authors] or ([entry.author] if entry.author else []):
            _sub(_sub(item, "author"), "name", name)  # one per person of the byline
        for label in entry.labels:
            _sub(item, "category", term=label)
        body = entry.body
        for media in entry.media:
            # Escaped by ElementTree along with the rest of the body: this is HTML-as-text.
            if media.type == "embed":
                body += _embed_link(media.url)
            else:
                body += _figure(base.resolve(media.url), media.alt, media.caption, media.credit)
        _sub(item, "content", body, type="html")
    xml: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)  # bytes for an encoding
    return xml


def _figure(url: str, alt: str | None, caption: str | None, credit: str | None) -> str:
    credit = i18n.gettext("Photo: %(credit)s", credit=credit) if credit else None
    text = " ".join(part for part in (caption, credit) if part)
    figcaption = f"<figcaption>{escape(text)}</figcaption>" if text else ""
    return f'<figure><img src="{escape(url)}" alt="{escape(alt or "")}">{figcaption}</figure>'


def _embed_link(url: str) -> str:
    # Feed readers load nothing from the provider either: a link, as the page shows without JS.
    return f'<p><a href="{escape(url)}">{escape(url)}</a></p>'


def _not_found() -> Response:
    return Response("Not found", status_code=404, media_type="text/plain")


async def feed(request: Request) -> Response:
    return await cache.blog_page(request, "feed", lambda: _feed(request)) or _not_found()


async def _feed(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    slug = request.path_params["slug"]
    engine = request.app.state.engine
    blog = await engine.get_blog(slug)
    if blog is None:
        return _not_found()
    try:
        page = await engine.timeline(slug, FEED_SIZE, None)
    except BlogNotFound:
        return _not_found()
    base = base_of(request)
    body = build_feed(blog, page.entries, base, settings)
    headers = {**COMMON_HEADERS, "Cache-Control": "public, max-age=30"}
    response = Response(body, media_type="application/atom+xml; charset=utf-8", headers=headers)
    return base.vary(response)

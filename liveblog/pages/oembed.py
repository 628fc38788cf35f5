"""oEmbed (oembed.com): pasting a blog's or an entry's URL into WordPress, Ghost or any other
oEmbed consumer embeds it. Blog and entry pages name ``GET /oembed?url=...`` in a
``<link rel="alternate" type="application/json+oembed">``; the answer is a ``rich`` item whose
``html`` is an ``<iframe>`` of the blog's embed frame (``/blogs/{slug}/embed``) or of the
entry's (``/blogs/{slug}/entries/{id}/embed``).

Only this server's own pages are answered, by their absolute URL, and only when the public
origin is known (``LIVEBLOG_PUBLIC_URL`` or an allowlisted Host, see ``urls``): the answer is
an absolute frame URL that other sites keep, and it never comes from a Host nobody vouched for.
Without a known origin there are no discovery links and every URL is 404, saying why.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec
from markupsafe import escape
from starlette.requests import Request
from starlette.responses import Response

from liveblog.config import Settings
from liveblog.engine.base import Engine
from liveblog.models import is_slug, parse_decimal
from liveblog.pages.security import COMMON_HEADERS
from liveblog.pages.text import entry_title
from liveblog.pages.urls import Base, base_of
from liveblog.problems import Problem

_PATH = re.compile(r"^/blogs/(?P<slug>[^/]+)(?:/entries/(?P<entry>[0-9a-z]{16}))?/?\Z")
_FRAGMENT = re.compile(r"^entry-(?P<entry>[0-9a-z]{16})\Z")  # /blogs/x#entry-<id>: that entry
_MAX_URL = 2048
_NO_ORIGIN = (
    "This server does not know its public URL (LIVEBLOG_PUBLIC_URL or LIVEBLOG_ALLOWED_HOSTS),"
    " so it cannot name its pages to other sites."
)
# The frame's size when the consumer sets no bound: a column of text; an entry is shorter.
WIDTH = 640
BLOG_HEIGHT = 800
ENTRY_HEIGHT = 520


def discovery(base: Base, page_url: str) -> str | None:
    """The href of a page's oEmbed discovery link; None when the origin is not known."""
    if not base.absolute:
        return None
    return f"{base.url}/oembed?url={quote(page_url, safe='')}&format=json"


def _bound(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    value = parse_decimal(raw, 5)
    if value is None or value < 1:
        raise Problem(400, f"{name} must be a whole number of pixels, 1 or more.")
    return value


async def oembed(request: Request) -> Response:
    fmt = request.query_params.get("format", "json")
    if fmt != "json":
        raise Problem(501, f"Only format=json is offered, not {fmt[:20]!r}.")
    url = request.query_params.get("url", "")
    if not url or len(url) > _MAX_URL:
        raise Problem(400, f"url must be the URL of a live blog or an update, at most {_MAX_URL}"
                      " characters.")  # fmt: skip
    max_width, max_height = _bound(request, "maxwidth"), _bound(request, "maxheight")
    base = base_of(request)
    if not base.absolute:
        raise Problem(404, _NO_ORIGIN)
    origin = base.url
    parts = urlsplit(url)
    found = _PATH.match(parts.path) if f"{parts.scheme}://{parts.netloc}" == origin else None
    if found is None or not is_slug(found["slug"]):
        raise Problem(404, "That URL is not a live blog or an update on this server.")
    slug, entry_id = found["slug"], found["entry"]
    if entry_id is None and (fragment := _FRAGMENT.match(parts.fragment)):
        entry_id = fragment["entry"]
    item = await _item(request.app.state.engine, slug, entry_id)
    if item is None:
        raise Problem(404, "That URL is not a live blog or an update on this server.")
    title, frame = item
    settings: Settings = request.app.state.settings
    width = min(WIDTH, max_width or WIDTH)
    height = min(ENTRY_HEIGHT if entry_id else BLOG_HEIGHT, max_height or BLOG_HEIGHT)
    src = f"{origin}{frame}"
    html = (
        f'<iframe src="{escape(src)}" width="{width}" height="{height}" title="{escape(title)}"'
        ' frameborder="0" loading="lazy" allow="clipboard-write; web-share"'
        ' style="border:0;max-width:100%"></iframe>'
    )
    answer: dict[str, Any] = {
        "version": "1.0",
        "type": "rich",
        "html": html,
        "width": width,
        "height": height,
        "title": title,
        "provider_name": settings.publisher_name,
        "provider_url": f"{origin}/",
        "cache_age": 3600,
    }
    headers = {
        **COMMON_HEADERS,
        # Consumers in a browser (an editor's preview) read it from their own origin.
        "Access-Control-Allow-Origin": "*",
        "Cache-Control": "public, max-age=300",
    }
    body = msgspec.json.encode(answer)
    return base.vary(Response(body, media_type="application/json", headers=headers))


async def _item(engine: Engine, slug: str, entry_id: str | None) -> tuple[str, str] | None:
    """(title, path of the frame) for a blog or one of its published entries; None if neither."""
    blog = await engine.get_blog(slug)
    if blog is None:
        return None
    if entry_id is None:
        return blog.title, f"/blogs/{slug}/embed"
    entry = await engine.get_entry(slug, entry_id)
    if entry is None or not entry.published:
        return None
    return f"{entry_title(entry)} · {blog.title}", f"/blogs/{slug}/entries/{entry_id}/embed"

"""schema.org data for search engines: ``LiveBlogPosting`` on the reader page, ``BlogPosting``
(one update, part of its live blog) on an entry's own page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from liveblog.config import Settings
from liveblog.models import Blog, Entry
from liveblog.pages.templating import iso
from liveblog.pages.text import entry_title, plain_text
from liveblog.pages.urls import Base


def modified_at(blog: Blog, latest: list[Entry]) -> datetime:
    """When the blog last changed as readers see it: its own last update or its newest entry's.
    JSON-LD's ``dateModified`` and the page's ``article:modified_time`` both say this."""
    return max([blog.updated_at, *(e.updated_at or e.published_at for e in latest)])


def _update(entry: Entry, base: Base) -> dict[str, Any]:
    url = base.entry(entry.blog, entry.id)  # the update's own page
    item: dict[str, Any] = {
        "@type": "BlogPosting",
        "@id": url,
        "url": url,
        "headline": entry_title(entry, 110),  # Google truncates headlines at 110 characters
        "datePublished": iso(entry.published_at),
        "dateModified": iso(entry.updated_at or entry.published_at),
        "articleBody": plain_text(entry.body),
    }
    if entry.authors:
        people = [
            {"@type": "Person", "name": a.name} | ({"image": a.avatar_url} if a.avatar_url else {})
            for a in entry.authors
        ]
        item["author"] = people[0] if len(people) == 1 else people
    elif entry.author:
        item["author"] = {"@type": "Person", "name": entry.author}
    if entry.media:
        # Photos only (an embed is no image), absolute when the origin is known.
        images = [base.resolve(m.url) for m in entry.media if m.type != "embed"]
        if images:
            item["image"] = images
    return item


def _publisher(settings: Settings) -> dict[str, Any]:
    publisher: dict[str, Any] = {"@type": "Organization", "name": settings.publisher_name}
    if settings.publisher_logo:
        publisher["logo"] = {"@type": "ImageObject", "url": settings.publisher_logo}
    return publisher


def live_blog_posting(
    blog: Blog, latest: list[Entry], base: Base, settings: Settings
) -> dict[str, Any]:
    canonical = base.blog(blog.slug)
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "@id": canonical,
        "url": canonical,
        "mainEntityOfPage": canonical,
        "headline": blog.title,
        "description": blog.description,
        "datePublished": iso(blog.created_at),
        "dateModified": iso(modified_at(blog, latest)),
        "coverageStartTime": iso(blog.created_at),
        "publisher": _publisher(settings),
        "liveBlogUpdate": [_update(entry, base) for entry in latest],
    }
    if blog.status == "ended":
        # The end of coverage is when the blog was marked ended: its last blog update.
        data["coverageEndTime"] = iso(blog.updated_at)
    return data


def blog_posting(entry: Entry, blog: Blog, base: Base, settings: Settings) -> dict[str, Any]:
    """One update on its own page: the same ``BlogPosting`` the live blog lists, as the page's
    main entity, part of its ``LiveBlogPosting``."""
    canonical = base.blog(blog.slug)
    return {
        "@context": "https://schema.org",
        **_update(entry, base),
        "mainEntityOfPage": base.entry(blog.slug, entry.id),
        "publisher": _publisher(settings),
        "isPartOf": {
            "@type": "LiveBlogPosting",
            "@id": canonical,
            "url": canonical,
            "headline": blog.title,
        },
    }


def script_json(data: Any) -> str:
    """JSON safe inside ``<script type="application/ld+json">``: no ``</script>`` or comment."""
    text = msgspec.json.encode(data).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

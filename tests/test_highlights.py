"""Pinned entries and key events come from the whole blog, not from its newest entries.

Two defects this file keeps fixed: a pinned entry older than the newest 1,000 disappeared from
the page on reload (live readers had seen it pinned), and the key events box listed key events
of the newest 1,000 entries only, at most 30 of them.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from tests.support.clients import Editor

BASE = datetime(2024, 6, 1, tzinfo=UTC)


async def _post_many(
    editor: Editor, slug: str, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    posted: list[dict[str, Any]] = []
    for start in range(0, len(items), 50):  # bounded concurrency
        batch = items[start : start + 50]
        posted += await asyncio.gather(*(editor.post(slug, **fields) for fields in batch))
    return posted


def _at(minutes: int) -> str:
    return (BASE + timedelta(minutes=minutes)).isoformat()


def _pinned_ids(html: str) -> list[str]:
    pinned = html.split('id="pinned"', 1)[1].split('id="timeline"', 1)[0]
    return re.findall(r'<article [^>]*data-id="([^"]+)"', pinned)


def _key_event_ids(html: str) -> list[str]:
    box = html.split('id="key-events-list"', 1)[1].split("</ol>", 1)[0]
    return re.findall(r'data-id="([^"]+)"', box)


async def test_a_pinned_entry_older_than_the_newest_thousand_stays_pinned(editor: Editor) -> None:
    await editor.blog("long")
    oldest = await editor.post("long", headline="Where to find shelter", pinned=True,
                               published_at=_at(0))  # fmt: skip
    await _post_many(editor, "long", [{"published_at": _at(1 + i)} for i in range(1_050)])

    html = (await editor.http.get("/blogs/long")).text  # a reader's reload
    assert _pinned_ids(html) == [oldest["id"]]
    assert "Where to find shelter" in html

    await editor.edit("long", oldest["id"], pinned=False)
    assert _pinned_ids((await editor.http.get("/blogs/long")).text) == []


async def test_every_key_event_is_listed_however_many_and_however_old(editor: Editor) -> None:
    await editor.blog("many")
    items = [
        {"published_at": _at(i), "headline": f"Key {i}", "labels": ["key"]} if i % 27 == 0
        else {"published_at": _at(i)}
        for i in range(1_080)
    ]  # fmt: skip
    posted = await _post_many(editor, "many", items)
    keys = [e["id"] for e in sorted(posted, key=lambda e: e["published_at"], reverse=True)
            if "key" in e["labels"]]  # fmt: skip
    assert len(keys) == 40

    html = (await editor.http.get("/blogs/many")).text
    assert _key_event_ids(html) == keys  # all 40, newest first, the oldest from 1,080 back

    await editor.delete("many", keys[-1])
    await editor.edit("many", keys[0], labels=[])
    assert _key_event_ids((await editor.http.get("/blogs/many")).text) == keys[1:-1]


async def test_a_blog_from_before_the_index_is_indexed_on_first_read(
    engine_name: str, editor: Editor, redis_url: str
) -> None:
    if engine_name != "redis":
        return  # the memory engine keeps nothing across restarts: there is no older blog
    await editor.blog("older")
    pinned = await editor.post("older", headline="Pinned", pinned=True, published_at=_at(0))
    key = await editor.post("older", headline="Key", labels=["key"], published_at=_at(1))
    await _post_many(editor, "older", [{"published_at": _at(2 + i)} for i in range(250)])
    client = aioredis.Redis.from_url(redis_url)
    try:  # as a blog written by a version without the index looks
        await client.delete("lb:{older}:pinned", "lb:{older}:key-events", "lb:{older}:highlights")
    finally:
        await client.aclose()

    html = (await editor.http.get("/blogs/older")).text
    assert _pinned_ids(html) == [pinned["id"]]
    assert _key_event_ids(html) == [key["id"]]


def _timeline_ids(html: str) -> list[str]:
    timeline = html.split('id="timeline"', 1)[1].split('id="timeline-empty"', 1)[0]
    return re.findall(r'<article [^>]*data-id="([^"]+)"', timeline)


async def test_the_key_events_view_is_every_key_event_of_the_blog(editor: Editor) -> None:
    await editor.blog("keys")
    items = [
        {"published_at": _at(i), "headline": f"Key {i}", "labels": ["key"],
         "pinned": i == 54} if i % 27 == 0
        else {"published_at": _at(i), "headline": f"Other {i}"}
        for i in range(1_080)
    ]  # fmt: skip
    posted = await _post_many(editor, "keys", items)
    keys = [e["id"] for e in sorted(posted, key=lambda e: e["published_at"], reverse=True)
            if "key" in e["labels"]]  # fmt: skip

    page = (await editor.http.get("/blogs/keys")).text
    # A link (no script needed) from the page to the view, and back.
    assert 'href="/blogs/keys?view=key">Key events only</a>' in page
    response = await editor.http.get("/blogs/keys?view=key")
    assert response.status_code == 200
    html = response.text
    assert _timeline_ids(html) == keys  # all 40, the pinned one in its place, newest first
    assert _pinned_ids(html) == []
    assert "Other " not in html.split("<main", 1)[1]  # (JSON-LD still lists the newest)
    assert 'aria-current="page">Key events only</a>' in html
    assert 'data-view="key"' in html and 'id="load-older"' in html
    assert re.search(r'id="load-older"[^>]*hidden', html)  # nothing older to load
    assert '<meta name="robots" content="noindex, follow">' in html  # the blog's page is canonical

    # The view follows changes: a key event unlabelled leaves it.
    await editor.edit("keys", keys[0], labels=[])
    assert _timeline_ids((await editor.http.get("/blogs/keys?view=key")).text) == keys[1:]


async def test_the_key_events_view_of_a_blog_without_any(editor: Editor) -> None:
    await editor.blog("quiet")
    await editor.post("quiet", headline="Nothing key")
    html = (await editor.http.get("/blogs/quiet?view=key")).text
    assert _timeline_ids(html) == []
    assert re.search(r'<p class="timeline-empty" id="timeline-empty">No key events yet.</p>', html)
    assert (await editor.http.get("/blogs/nowhere?view=key")).status_code == 404

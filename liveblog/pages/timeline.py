"""What a reader page shows: one atomic timeline read, plus the pinned entries and key events.

Pinned entries and key events can be anywhere in the timeline, however old: the engine keeps an
index of them (``Engine.highlights``), read once per stream position and cached, since every
change moves the position and a cached answer is never stale.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Generic, TypeVar

from liveblog.engine.base import BlogNotFound, Engine, Highlights, Page
from liveblog.models import Blog, Entry, encode_cursor

PAGE_SIZE = 20
_SCAN_PAGE = 100
_CACHE_SIZE = 256

K = TypeVar("K")
V = TypeVar("V")


def cursor_including(entry: Entry) -> str:
    """A cursor whose first older page starts with ``entry`` itself."""
    # "~" sorts after every character of an order key, so entry.order_key + "~" is just above it.
    return encode_cursor(entry.order_key + "~")


@dataclasses.dataclass(frozen=True, slots=True)
class ReaderView:
    blog: Blog
    entries: list[Entry]  # newest first, pinned ones left out (they are shown on top)
    pinned: list[Entry]
    key_events: list[Entry]
    next_cursor: str | None
    last_event_id: str
    latest: list[Entry]  # the newest entries pinned or not, for JSON-LD
    archive: bool  # an older page reached through ?before=
    key_only: bool = False  # ?view=key: the timeline is every key event of the blog


def key_events_only(view: ReaderView) -> ReaderView:
    """The "Key events only" view: every key event of the blog as the timeline, newest first
    (pinned ones too, in their place: here nothing is on top)."""
    return dataclasses.replace(
        view, entries=view.key_events, pinned=[], next_cursor=None, key_only=True
    )


class _LRU(Generic[K, V]):
    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._size = size
        self._items: collections.OrderedDict[K, V] = collections.OrderedDict()

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


_highlights: _LRU[tuple[str, str], Highlights] = _LRU()
# The newest page of a blog, per stream position: a crowd opening a page after a breaking
# entry costs one small position read each, not a timeline read.
_views: _LRU[tuple[str, str, int], ReaderView] = _LRU()


async def highlights(engine: Engine, slug: str, first: Page) -> Highlights:
    """Every pinned entry and key event, newest first, as of ``first`` (the newest page)."""
    key = (slug, str(first.position))
    cached = _highlights.get(key)
    if cached is not None:
        return cached
    found = await engine.highlights(slug)
    _highlights.put(key, found)
    return found


async def load_view(
    engine: Engine, slug: str, *, before: str | None = None, limit: int = PAGE_SIZE
) -> ReaderView | None:
    """Everything the reader page renders; None when the blog does not exist."""
    if before is None:
        position = await engine.position(slug)
        if position is None:
            return None
        cached = _views.get((slug, str(position), limit))
        if cached is not None:
            return cached
    try:
        newest = await engine.timeline(slug, _SCAN_PAGE, None)
        page = newest if before is None else await engine.timeline(slug, _SCAN_PAGE, before)
    except BlogNotFound:
        return None
    # Read after the timeline: the blog shown is at least as new as the position the page
    # resumes from, so no blog.updated can fall between them.
    blog = await engine.get_blog(slug)
    if blog is None:
        return None
    found = await highlights(engine, slug, newest)
    shown = [entry for entry in page.entries if not entry.pinned]
    next_cursor: str | None
    if len(shown) > limit:
        # At least one more entry follows the last one shown.
        shown = shown[:limit]
        next_cursor = encode_cursor(shown[-1].order_key)
    else:
        next_cursor = None if page.next_key is None else encode_cursor(page.next_key)
    view = ReaderView(
        blog=blog,
        entries=shown,
        pinned=found.pinned if before is None else [],
        key_events=found.key_events,
        next_cursor=next_cursor,
        last_event_id=str(newest.position),
        latest=newest.entries[:limit],
        archive=before is not None,
    )
    if before is None:
        _views.put((slug, view.last_event_id, limit), view)
    return view

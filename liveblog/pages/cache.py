"""Pages that crowds read, rendered once and shared by every request of this process.

Breaking news sends thousands of readers to the same few URLs at once. Rendered per request,
each costs engine reads and a template render, CPU taken from live delivery. Here a page is
rendered once per *slot* (which page, for which URL base) and *version* (what it shows):

- a blog's pages use its stream position as the version: every change moves it, so a page of
  the current position is never stale. The position read itself is shared: requests for one
  blog that come while a read is in flight take its answer (``shared``), so a crowd costs a
  read per round trip to the engine, not one per reader;
- a page is whole in itself (it carries the position its entries are at, and its stream
  resumes from there), so when that read fails (the engine is down, or too busy to give a
  connection in time) the blog's last page is served if it was current within
  ``STALE_SECONDS``: the reader's stream then catches up from the page's position;
- the index, which depends on every blog, uses a short TTL instead (``page_cache_seconds``);
- requests that miss together share one computation (single flight), so a crowd arriving
  right after a breaking entry renders it once;
- one version per slot, and bounded slots and bytes (least recently used go first): a Host
  allowlist with a wildcard lets clients pick URL bases, so slots are theirs to multiply.

Only 200 answers are kept; others are shared with the requests that waited for them, not kept.
A kept page is compressed once per content coding too, the first time a reader accepts it
(``Cached.response``): a crowd costs one render and one compression per coding, not one each.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import math
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response

from liveblog.engine.base import EngineUnavailable
from liveblog.pages.urls import base_of
from liveblog.serving.compression import (
    MINIMUM_BYTES,
    PER_RESPONSE,
    compressible,
    encode,
    mark_coded,
    request_coding,
)

T = TypeVar("T")

MAX_SLOTS = 1024
MAX_BYTES = 32 * 1024 * 1024  # an index of 200 blogs is ~100 KB, a reader page ~50 KB
IDENTITY = "identity"
# How long after it was last known current a blog's page may stand in when the engine cannot
# say its position: its stream replays what came since, within the engine's history window.
STALE_SECONDS = 30.0


@dataclasses.dataclass(frozen=True, slots=True)
class Cached:
    status: int
    raw_headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    coded: dict[str, bytes] = dataclasses.field(default_factory=dict)  # body by content coding

    @classmethod
    def of(cls, response: Response) -> Cached:
        return cls(response.status_code, tuple(response.raw_headers), bytes(response.body))

    def response(self, coding: str | None = None) -> Response:
        """A fresh response per request (nothing later can change the shared copy), its body
        in ``coding`` when the page is worth compressing: made once, then kept with the page.
        ``coding`` is None when compression is off, ``IDENTITY`` when the client takes none."""
        headers = MutableHeaders(raw=list(self.raw_headers))
        body = self.body
        if coding is not None and self.status == 200 and compressible(headers.get("content-type")):
            if coding != IDENTITY and len(body) >= MINIMUM_BYTES:
                body = self.coded.get(coding) or self.coded.setdefault(
                    coding, encode(self.body, coding, PER_RESPONSE)
                )
            mark_coded(headers, coding if body is not self.body else None, len(body))
        response = Response(body, self.status)
        response.raw_headers = headers.raw
        return response


@dataclasses.dataclass(slots=True)
class _Slot:
    version: Hashable
    expires: float
    page: Cached
    current_at: float  # when its version was last known to be the current one


class PageCache:
    def __init__(
        self,
        *,
        max_slots: int = MAX_SLOTS,
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_slots = max_slots
        self.max_bytes = max_bytes
        self.clock = clock
        self.bytes = 0  # bodies kept
        self._slots: collections.OrderedDict[Hashable, _Slot] = collections.OrderedDict()
        self._flights: dict[tuple[Hashable, Hashable], asyncio.Future[Cached]] = {}
        self._reads: dict[Hashable, asyncio.Future[Any]] = {}

    def __len__(self) -> int:
        return len(self._slots)

    async def get(
        self,
        slot: Hashable,
        version: Hashable,
        compute: Callable[[], Awaitable[Response]],
        *,
        ttl: float = math.inf,
        coding: str | None = None,
    ) -> Response:
        """The page in ``slot`` at ``version``, computed only when no fresh copy is kept, its
        body in content ``coding`` (see ``coding_of``)."""
        found = self._slots.get(slot)
        now = self.clock()
        if found is not None and found.version == version and now < found.expires:
            self._slots.move_to_end(slot)
            found.current_at = now
            return found.page.response(coding)
        key = (slot, version)
        flight = self._flights.get(key)
        if flight is None:
            # A task of its own: a waiting request that goes away does not cancel it for others.
            flight = asyncio.ensure_future(self._fill(slot, version, compute, ttl))
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        page = await asyncio.shield(flight)
        return page.response(coding)

    async def _fill(
        self,
        slot: Hashable,
        version: Hashable,
        compute: Callable[[], Awaitable[Response]],
        ttl: float,
    ) -> Cached:
        page = Cached.of(await compute())
        if page.status == 200 and ttl > 0 and len(page.body) <= self.max_bytes:
            old = self._slots.pop(slot, None)
            self.bytes += len(page.body) - (len(old.page.body) if old is not None else 0)
            now = self.clock()
            self._slots[slot] = _Slot(version, now + ttl, page, now)
            while len(self._slots) > self.max_slots or self.bytes > self.max_bytes:
                _, evicted = self._slots.popitem(last=False)
                self.bytes -= len(evicted.page.body)
        return page

    def _landed(self, key: tuple[Hashable, Hashable], done: asyncio.Future[Cached]) -> None:
        self._flights.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved here too: every waiter may have gone away

    def stale(self, slot: Hashable, coding: str | None = None) -> Response | None:
        """The slot's page if it was current within ``STALE_SECONDS``, whatever its version."""
        found = self._slots.get(slot)
        if found is None or self.clock() - found.current_at > STALE_SECONDS:
            return None
        return found.page.response(coding)

    async def shared(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """``read()``'s answer; requests that ask while one is in flight share it. Only for
        reads whose answer may be as old as the moment the read began (a stream position:
        whatever a page shows, its stream catches up from there)."""
        flight = self._reads.get(key)
        if flight is None:
            # A task of its own: a request that goes away does not cancel it for the others.
            flight = asyncio.ensure_future(read())
            self._reads[key] = flight
            flight.add_done_callback(lambda done: self._read_landed(key, done))
        answer: T = await asyncio.shield(flight)
        return answer

    def _read_landed(self, key: Hashable, done: asyncio.Future[Any]) -> None:
        if self._reads.get(key) is done:
            del self._reads[key]
        if not done.cancelled():
            done.exception()


def of(request: Request) -> PageCache:
    cache: PageCache = request.app.state.page_cache
    return cache


def coding_of(request: Request) -> str | None:
    """The content coding this request's page is sent in: ``IDENTITY`` when the client accepts
    none, None when compression is off (no ``Vary`` either)."""
    if not request.app.state.settings.compression:
        return None
    return request_coding(request.scope) or IDENTITY


async def blog_page(
    request: Request, name: str, compute: Callable[[], Awaitable[Response]]
) -> Response | None:
    """Page ``name`` of the blog in the path, by its stream position; None: no such blog."""
    slug = request.path_params["slug"]
    engine = request.app.state.engine
    pages, slot, coding = of(request), (name, slug, base_of(request).url), coding_of(request)
    try:
        position = await pages.shared(("position", slug), lambda: engine.position(slug))
    except EngineUnavailable:
        stale = pages.stale(slot, coding)
        if stale is None:
            raise
        return stale
    if position is None:
        return None
    return await pages.get(slot, str(position), compute, coding=coding)

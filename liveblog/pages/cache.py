"""Pages that crowds read, rendered once and shared by every request of this process.

Breaking news sends thousands of readers to the same few URLs at once. Rendered per request,
each costs engine reads and a template render, CPU taken from live delivery. Here a page is
rendered once per *slot* (which page, for which URL base) and *version* (what it shows):

- a blog's pages use its stream position as the version: every change moves it, so a page of
  the current position is never stale, and a request costs one position read;
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

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response

from liveblog.pages.urls import base_of
from liveblog.serving.compression import (
    MINIMUM_BYTES,
    PER_RESPONSE,
    compressible,
    encode,
    mark_coded,
    request_coding,
)

MAX_SLOTS = 1024
MAX_BYTES = 32 * 1024 * 1024  # an index of 200 blogs is ~100 KB, a reader page ~50 KB
IDENTITY = "identity"


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
        if found is not None and found.version == version and self.clock() < found.expires:
            self._slots.move_to_end(slot)
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
            self._slots[slot] = _Slot(version, self.clock() + ttl, page)
            while len(self._slots) > self.max_slots or self.bytes > self.max_bytes:
                _, evicted = self._slots.popitem(last=False)
                self.bytes -= len(evicted.page.body)
        return page

    def _landed(self, key: tuple[Hashable, Hashable], done: asyncio.Future[Cached]) -> None:
        self._flights.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved here too: every waiter may have gone away


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
    position = await request.app.state.engine.position(slug)
    if position is None:
        return None
    slot = (name, slug, base_of(request).url)
    return await of(request).get(slot, str(position), compute, coding=coding_of(request))

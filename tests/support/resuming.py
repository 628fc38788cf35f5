"""Clients that outlive a server: readers that come back from their last event id whenever their
stream ends, and a publisher that retries with the same Idempotency-Key, as a newsroom tool
would. Used where processes restart under them (rolling restarts behind a proxy)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from tests.support.clients import Event, SSEReader, WSReader
from tests.support.servers import ADMIN_TOKEN

# A proxy with no process to send to answers 502 (or 504); a process with its engine down, 503.
RETRYABLE = {502, 503, 504}


@dataclass
class ResumingReader:
    """An SSE (``sse``) or WebSocket (``ws``) reader of one blog that reconnects, after a short
    random pause, from the last event it received (at first from ``since``, the position a page
    reflects), until ``stop``."""

    base_url: str
    slug: str
    transport: str
    since: str | None = None
    connections: int = 0  # streams that opened (200 or an accepted WebSocket)
    _done: list[Event] = field(default_factory=list)
    _current: SSEReader | WSReader | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def events(self) -> list[Event]:
        current = self._current.events if self._current is not None else []
        return [*self._done, *current]

    @property
    def last_event_id(self) -> str | None:
        events = self.events
        return events[-1].id if events else self.since

    async def start(self) -> ResumingReader:
        await self._open()  # the first stream is up when this returns
        self._task = asyncio.create_task(self._run())
        return self

    async def _open(self) -> None:
        last = self.last_event_id
        reader: SSEReader | WSReader
        while True:
            try:
                if self.transport == "sse":
                    reader = SSEReader(self.base_url, f"/blogs/{self.slug}/events", last)
                    await reader.connect()
                    if reader.status != 200:
                        await reader.close()
                        raise ConnectionError(f"status {reader.status}")
                else:
                    query = f"?last_event_id={last}" if last else ""
                    reader = await WSReader(
                        self.base_url, f"/blogs/{self.slug}/ws{query}"
                    ).connect()
            except (OSError, IndexError, websockets.InvalidHandshake):  # IndexError: no status
                await asyncio.sleep(0.1)
                continue
            self._current = reader
            self.connections += 1
            return

    async def _run(self) -> None:
        while True:
            assert self._current is not None
            while not self._current.ended:
                await asyncio.sleep(0.01)
            await self._current.close()
            self._done.extend(self._current.events)
            self._current = None
            await asyncio.sleep(random.uniform(0, 0.3))
            await self._open()

    async def wait_for(self, count: int, timeout: float = 30) -> list[Event]:
        try:
            async with asyncio.timeout(timeout):
                while len(self.events) < count:
                    await asyncio.sleep(0.02)
        except TimeoutError:
            offsets = [e.offset for e in self.events]
            raise AssertionError(
                f"{self.transport} reader has {len(offsets)} of {count} events after "
                f"{self.connections} connections: offsets {offsets}"
            ) from None
        return self.events

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._current is not None:
            await self._current.close()


class RetryingPublisher:
    """Posts entries; a 502/503/504 or a dropped connection is retried with the same
    Idempotency-Key until the server answers 201 (or replays the first 201)."""

    def __init__(self, base_url: str, slug: str) -> None:
        self.slug = slug
        self.http = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
        )
        self.published: list[dict[str, Any]] = []
        self.retries = 0
        self._count = itertools.count(1)

    async def post(self) -> dict[str, Any]:
        number = next(self._count)
        key = uuid.uuid4().hex
        body = {"headline": f"Update {number}", "body": f"<p>Update number {number}.</p>"}
        while True:
            try:
                response = await self.http.post(
                    f"/api/blogs/{self.slug}/entries", json=body, headers={"Idempotency-Key": key}
                )
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code not in RETRYABLE:
                break
            self.retries += 1
            await asyncio.sleep(0.2)
        assert response.status_code == 201, response.text
        entry: dict[str, Any] = response.json()
        self.published.append(entry)
        return entry

    async def close(self) -> None:
        await self.http.aclose()


def created_ids(events: list[Event]) -> list[str]:
    """The entry ids of a reader's events, which must all be ``entry.created``."""
    assert [e.type for e in events] == ["entry.created"] * len(events), [e.type for e in events]
    offsets = [e.offset for e in events]
    assert offsets == sorted(set(offsets)), f"not once each, in order: {offsets}"
    return [e.data["data"]["id"] for e in events]

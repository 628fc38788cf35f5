"""Publishing and reading through a Redis failover (a Cluster's, Sentinel's): what the editors
had acknowledged, and what each reader got."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable

import httpx

from tests.support.clients import Event
from tests.support.servers import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class Publisher:
    """One editor per blog, publishing steadily; a 503 (or a dropped connection) is retried
    with the same Idempotency-Key, on the other server, until it is acknowledged."""

    def __init__(self, servers: list[str], blogs: list[str]) -> None:
        self.clients = [
            httpx.AsyncClient(base_url=url, headers=AUTH, timeout=10) for url in servers
        ]
        self.acked: dict[str, list[str]] = {slug: [] for slug in blogs}  # headlines
        self.unavailable = Counter[str]()  # 503s per blog
        self.replays = 0
        self.running = True

    async def run(self, slug: str) -> None:
        n = 0
        while self.running and n < 300:  # bounded: a few seconds of publishing
            headline = f"{slug} #{n}"
            await self._publish(slug, headline, attempt=n)
            self.acked[slug].append(headline)
            n += 1
            await asyncio.sleep(0.05)

    async def _publish(self, slug: str, headline: str, attempt: int) -> None:
        body = {"headline": headline, "body": f"<p>{headline}</p>"}
        headers = {"Idempotency-Key": headline.replace(" ", "-")}
        for tries in range(400):  # bounded: 20 s of retries at most
            client = self.clients[(attempt + tries) % 2]
            with contextlib.suppress(httpx.TransportError):
                response = await client.post(
                    f"/api/blogs/{slug}/entries", json=body, headers=headers
                )
                if response.status_code == 201:
                    self.replays += response.headers.get("Idempotent-Replayed") == "true"
                    return
                assert response.status_code == 503, response.text
                self.unavailable[slug] += 1
            await asyncio.sleep(0.05)
        raise AssertionError(f"{headline} was never acknowledged")

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


async def readiness(url: str, seen: list[int], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        while not stop.is_set():
            with contextlib.suppress(httpx.TransportError):
                status = (await client.get("/readyz")).status_code
                if not seen or seen[-1] != status:
                    seen.append(status)
            await asyncio.sleep(0.05)


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)
    assert condition(), what


def check_reader(events: list[Event], acked: list[str]) -> None:
    """Every acknowledged entry once, in offset order; a gap only ever right after a reset."""
    created = [e.data["data"]["headline"] for e in events if e.type == "entry.created"]
    assert len(created) == len(set(created)), "an entry was delivered twice"
    previous: Event | None = None
    for event in events:
        if previous is not None and event.type != "reset" and previous.type != "reset":
            assert event.epoch == previous.epoch and event.offset == previous.offset + 1, (
                f"silent gap: {previous.id} then {event.id}"
            )
        previous = event
    if not any(e.type == "reset" for e in events):
        assert created == acked


def delivered(events: list[Event], headline: str) -> bool:
    return any(e.type == "entry.created" and e.data["data"]["headline"] == headline for e in events)

"""Faults on the network between the app and Redis (tests/support/faultproxy.py): latency, a
black hole, resets, a half-open connection. In each, a publish answers 503 within the Redis
timeout and writes nothing or everything (the store is checked directly); its idempotent retry
settles it, once; readers resume or get ``reset``, never a silent gap or a double; nothing
hangs, the app's own stop included."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis

from tests.conftest import make_settings
from tests.support.clients import Editor, Event
from tests.support.faultproxy import FaultProxy
from tests.support.redis_server import RedisServer
from tests.support.resuming import ResumingReader
from tests.support.servers import serve_in_process

TIMEOUT = 1.0  # LIVEBLOG_REDIS_TIMEOUT_SECONDS here: a Redis call gives up after this
SLUG = "faults"


@pytest.fixture
def proxy(redis_url: str, redis_server: RedisServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(redis_server.port).start()
    yield proxy
    proxy.stop()


@pytest.fixture
async def app(proxy: FaultProxy) -> AsyncIterator[str]:
    settings = make_settings(proxy.url, redis_timeout_seconds=TIMEOUT)
    server = serve_in_process(settings)
    url = await server.__aenter__()
    try:
        yield url
    finally:
        proxy.heal()
        # Nothing hangs: the app stops, promptly, whatever the fault left behind.
        async with asyncio.timeout(10):
            await server.__aexit__(None, None, None)


class Scene:
    """A blog with an SSE and a WebSocket reader that come back whenever their stream ends,
    and an editor; ``publish`` posts with an Idempotency-Key."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.editor = Editor(url)
        self.readers: list[ResumingReader] = []

    async def __aenter__(self) -> Scene:
        await self.editor.create_blog(SLUG)
        for transport in ("sse", "ws"):
            self.readers.append(await ResumingReader(self.url, SLUG, transport).start())
        await self.editor.post(SLUG, headline="before")
        return self

    async def __aexit__(self, *exc: object) -> None:
        for reader in self.readers:
            await reader.stop()
        await self.editor.close()

    async def publish(self, headline: str, key: str) -> httpx.Response:
        return await self.editor.http.post(
            f"/api/blogs/{SLUG}/entries",
            json={"headline": headline, "body": f"<p>{headline}</p>"},
            headers={"Idempotency-Key": key},
        )

    async def settle(self, headline: str, key: str, timeout: float = 30) -> httpx.Response:
        """The retry a newsroom tool makes: the same request and key until it is answered."""
        async with asyncio.timeout(timeout):
            while (response := await self.publish(headline, key)).status_code == 503:
                await asyncio.sleep(0.2)
        assert response.status_code == 201, response.text
        return response

    async def finish(self) -> None:
        """One more entry once the network is well; every reader must end with every entry
        once, in order, unless it was told ``reset``; the timeline holds each entry once."""
        await self.editor.post(SLUG, headline="after")
        timeline = (await self.editor.http.get(f"/api/blogs/{SLUG}/entries")).json()
        headlines = [e["headline"] for e in timeline["entries"]][::-1]
        assert headlines == ["before", "during", "after"]
        for reader in self.readers:
            async with asyncio.timeout(30):
                while not any(_headline(e) == "after" for e in reader.events):
                    await asyncio.sleep(0.05)
            check_reader(reader.events, headlines)


def _headline(event: Event) -> str | None:
    return event.data["data"].get("headline") if event.type == "entry.created" else None


def check_reader(events: list[Event], headlines: list[str]) -> None:
    """Each entry once, in offset order; a gap only ever right after a reset."""
    created = [_headline(e) for e in events if e.type == "entry.created"]
    assert len(created) == len(set(created)), f"an entry was delivered twice: {created}"
    previous: Event | None = None
    for event in events:
        if previous is not None and event.type != "reset" and previous.type != "reset":
            assert event.offset == previous.offset + 1, f"gap: {previous.id} then {event.id}"
        previous = event
    if not any(e.type == "reset" for e in events):
        assert created == headlines


def stored(port: int) -> tuple[int, int, int]:
    """(entries, position offset, history length) as Redis holds them: one write moves all
    three together, or none of them."""
    client = redis.Redis(port=port)
    try:
        entries = client.hlen(f"lb:{{{SLUG}}}:entries")
        offset = int(client.hget(f"lb:{{{SLUG}}}:pos", "offset") or 0)
        history = client.xlen(f"lb:{{{SLUG}}}:history")
    finally:
        client.close()
    return entries, offset, history


async def answered_503(scene: Scene, deadline: float) -> httpx.Response:
    """A publish during the fault: 503 problem+json, within ``deadline`` seconds."""
    started = time.monotonic()
    async with asyncio.timeout(deadline):
        response = await scene.publish("during", "during-1")
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert time.monotonic() - started < deadline
    return response


async def wait_ready(url: str, ready: bool, timeout: float = 30) -> None:
    async with httpx.AsyncClient(base_url=url) as client, asyncio.timeout(timeout):
        while ((await client.get("/readyz")).status_code == 200) != ready:
            await asyncio.sleep(0.1)


def nothing_or_everything(port: int) -> None:
    entries, offset, history = stored(port)
    assert (entries, offset, history) in {(1, 1, 1), (2, 2, 2)}, (entries, offset, history)


async def test_latency_beyond_the_timeout(
    app: str, proxy: FaultProxy, redis_server: RedisServer
) -> None:
    async with Scene(app) as scene:
        proxy.latency(3 * TIMEOUT)
        await answered_503(scene, deadline=2 * TIMEOUT + 1)
        proxy.heal()
        await asyncio.sleep(3 * TIMEOUT)  # the late command, if it got there, has run by now
        nothing_or_everything(redis_server.port)
        await scene.settle("during", "during-1")
        await scene.finish()


async def test_a_black_hole(app: str, proxy: FaultProxy, redis_server: RedisServer) -> None:
    async with Scene(app) as scene:
        proxy.blackhole()
        await answered_503(scene, deadline=2 * TIMEOUT + 1)
        await wait_ready(app, ready=False)
        proxy.heal()  # what was held passes now: the publish may run after its 503
        await wait_ready(app, ready=True)
        nothing_or_everything(redis_server.port)
        response = await scene.settle("during", "during-1")
        assert stored(redis_server.port)[1] == 2  # once, however it got there
        assert response.headers.get("Idempotent-Replayed") in (None, "true")
        await scene.finish()


async def test_connections_reset(app: str, proxy: FaultProxy, redis_server: RedisServer) -> None:
    async with Scene(app) as scene:
        proxy.reset()
        await answered_503(scene, deadline=TIMEOUT + 1)
        await wait_ready(app, ready=False)
        assert stored(redis_server.port) == (1, 1, 1)  # refused before anything ran
        proxy.heal()
        await wait_ready(app, ready=True)
        await scene.settle("during", "during-1")
        await scene.finish()


async def test_a_half_open_connection(
    app: str, proxy: FaultProxy, redis_server: RedisServer
) -> None:
    """Redis's side of every open connection is gone, silently. Calls on them time out (503),
    the subscription notices its silence, and new connections carry on without any heal."""
    async with Scene(app) as scene:
        proxy.half_open()
        # Usually 503: the call goes out on a pooled connection that is dead. It may find a new
        # one (another call took the dead ones first), and then it is simply stored.
        async with asyncio.timeout(2 * TIMEOUT + 1):
            first = await scene.publish("during", "during-1")
        assert first.status_code in (201, 503), first.text
        nothing_or_everything(redis_server.port)
        await scene.settle("during", "during-1")
        await scene.finish()
        metrics = (await scene.editor.http.get("/metrics")).text
        reconnects = re.search(r"^liveblog_redis_reconnects_total (\S+)$", metrics, re.M)
        assert reconnects and float(reconnects[1]) >= 1  # the silent subscription was replaced

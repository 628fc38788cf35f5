"""A flash crowd on one blog shares its engine reads (issue 23): readers who load the page
together share one position read, and readers who open their streams from the same position
share what the process already has, else one history read. Counted on the suite's own Redis
(``INFO commandstats``), over real sockets, with Redis a few milliseconds away (a fault proxy's
latency), as a busy store is; every reader still gets every event once, in order. When the
store cannot answer, a page the process showed lately is served rather than a 503.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis

from liveblog.delivery.channel import RECENT_FRAMES
from tests.conftest import make_settings
from tests.support.clients import Editor, SSEReader
from tests.support.faultproxy import FaultProxy
from tests.support.redis_server import RedisServer
from tests.support.servers import serve_in_process

CROWD = 100
LATENCY = 0.1  # each way, between the app and Redis: a busy store
TIMEOUT = 1.0  # LIVEBLOG_REDIS_TIMEOUT_SECONDS here


@pytest.fixture
def proxy(redis_url: str, redis_server: RedisServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(redis_server.port).start()
    yield proxy
    proxy.stop()


@pytest.fixture
async def server(proxy: FaultProxy) -> AsyncIterator[str]:
    settings = make_settings(proxy.url, redis_timeout_seconds=TIMEOUT)
    async with serve_in_process(settings) as url:
        yield url
        proxy.heal()  # the app stops promptly


def calls(redis_url: str, command: str) -> int:
    """How many times Redis ran ``command`` since it started (inside scripts too)."""
    client = redis.Redis.from_url(redis_url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    found = stats.get(f"cmdstat_{command}", {})
    return int(found.get("calls", 0))


def page_position(html: str) -> str:
    found = re.search(r'data-last-event-id="([^"]+)"', html)
    assert found is not None
    return found.group(1)


async def crowd_get(server: str, path: str, count: int) -> list[bytes]:
    """``count`` requests for ``path``, sent together: every connection is open first, then
    every request is written in one go, as a crowd's arrive at a busy server."""
    host, _, port = server.removeprefix("http://").partition(":")
    opening = (asyncio.open_connection(host, int(port)) for _ in range(count))
    streams = await asyncio.gather(*opening)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    for _, writer in streams:
        writer.write(request)
    answers = await asyncio.gather(*(reader.read() for reader, _ in streams))
    for _, writer in streams:
        writer.close()
    return answers


async def test_a_crowd_loading_a_page_shares_one_position_read(
    server: str, editor: Editor, redis_url: str, proxy: FaultProxy
) -> None:
    await editor.create_blog("dam")
    await editor.post("dam", headline="Cracks seen")
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        assert (await client.get("/blogs/dam")).status_code == 200  # rendered and kept
    proxy.latency(LATENCY)
    before = calls(redis_url, "exists")  # a position read: EXISTS and HMGET in MULTI
    answers = await crowd_get(server, "/blogs/dam", CROWD)
    reads = calls(redis_url, "exists") - before
    heads, bodies = zip(*(answer.split(b"\r\n\r\n", 1) for answer in answers), strict=True)
    assert {head.split(b"\r\n", 1)[0] for head in heads} == {b"HTTP/1.1 200 OK"}
    assert len(set(bodies)) == 1
    assert b"Cracks seen" in bodies[0]
    # One read in flight answers every request that comes while it is.
    assert reads <= 2, reads


async def _crowd_resumes(
    server: str, editor: Editor, redis_url: str, proxy: FaultProxy, missed: int
) -> tuple[list[SSEReader], int]:
    """A reader is live on the blog; ``missed`` entries are posted; then a crowd opens its
    streams from the page it loaded before them. Returns the crowd and the history reads."""
    await editor.create_blog("storm")
    await editor.post("storm", headline="Before")
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        position = page_position((await client.get("/blogs/storm")).text)
    first = await SSEReader(server, "/blogs/storm/events", last_event_id=position).connect()
    for n in range(missed):
        await editor.post("storm", headline=f"Missed {n}")
    await first.wait_for(missed)

    proxy.latency(LATENCY)
    before = calls(redis_url, "xrange")
    crowd = [SSEReader(server, "/blogs/storm/events", last_event_id=position) for _ in range(CROWD)]
    await asyncio.gather(*(reader.connect() for reader in crowd))
    await asyncio.gather(*(reader.wait_for(missed) for reader in crowd))
    reads = calls(redis_url, "xrange") - before

    proxy.heal()
    await editor.post("storm", headline="Live")
    for reader in [first, *crowd]:
        events = await reader.wait_for(missed + 1)
        assert [e.data["data"]["headline"] for e in events] == [
            *(f"Missed {n}" for n in range(missed)),
            "Live",
        ]
    await asyncio.sleep(0.2)  # nothing more trickles in: exactly once
    assert all(len(reader.events) == missed + 1 for reader in crowd)
    await asyncio.gather(*(reader.close() for reader in [first, *crowd]))
    return crowd, reads


async def test_a_crowd_resuming_from_a_recent_position_reads_no_history(
    server: str, editor: Editor, redis_url: str, proxy: FaultProxy
) -> None:
    """What the readers missed is what the process just delivered: sent from memory."""
    _, reads = await _crowd_resumes(server, editor, redis_url, proxy, missed=3)
    assert reads == 0


async def test_a_crowd_resuming_from_an_older_position_shares_its_history_reads(
    server: str, editor: Editor, redis_url: str, proxy: FaultProxy
) -> None:
    _, reads = await _crowd_resumes(server, editor, redis_url, proxy, missed=RECENT_FRAMES + 4)
    assert 1 <= reads <= 3, reads


async def test_a_page_shown_lately_is_served_when_the_store_cannot_answer(
    server: str, editor: Editor, proxy: FaultProxy
) -> None:
    """The page is whole in itself: its stream catches up from the position it carries."""
    await editor.create_blog("flood")
    await editor.create_blog("quiet")
    await editor.post("flood", headline="Water rising")
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        shown = await client.get("/blogs/flood")
        assert shown.status_code == 200
        proxy.blackhole()  # the store answers nothing: no position within the timeout
        again = await client.get("/blogs/flood")
        assert again.status_code == 200
        assert again.text == shown.text
        assert page_position(again.text) == page_position(shown.text)
        # A page this process has not shown cannot be made up: the store's 503.
        assert (await client.get("/blogs/quiet")).status_code == 503

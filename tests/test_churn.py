"""Readers come and go while a publisher posts as fast as it can: nothing stops, nothing is lost.

Run against ``liveblog serve`` as shipped (uvloop, httptools, the fast-path protocols), on Redis
and on the memory engine. Thousands of SSE and WebSocket readers open a stream and reset it (RST,
no FIN) while events flow, so some vanish in the same loop turn as a live event; the readers that
stay must get every entry once, in order, and the process must go on delivering.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.clients import Editor, SSEReader, WSReader
from tests.support.metrics import scrape
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.slow

ENTRIES = 400  # posted back to back by two publishers
CHURNERS = 2000  # streams opened and reset while they post
WAVE = 50  # streams opened at once, then reset together
STAYERS = 10  # of each transport


@pytest.fixture(params=["memory", "redis"])
def served(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    env = {"LIVEBLOG_REDIS_URL": ""}
    if request.param == "redis":
        env["LIVEBLOG_REDIS_URL"] = request.getfixturevalue("redis_url")
    process = ServerProcess(env)
    process.start()
    yield process
    process.stop()


def _request(kind: str, netloc: str) -> bytes:
    if kind == "sse":
        return f"GET /blogs/churn/events HTTP/1.1\r\nHost: {netloc}\r\n\r\n".encode()
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /blogs/churn/ws HTTP/1.1\r\nHost: {netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


async def _open_and_reset(base_url: str, kind: str, release: asyncio.Event) -> bool:
    """Open one stream, wait for its response to start, then reset it (RST, no FIN) when the
    wave is released. True if the stream was live before it was reset."""
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    live = False
    try:
        writer.write(_request(kind, parts.netloc))
        with contextlib.suppress(TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            async with asyncio.timeout(10):
                head = await reader.readuntil(b"\r\n\r\n")
                live = head.startswith((b"HTTP/1.1 200", b"HTTP/1.1 101"))
        await release.wait()
    finally:
        sock = writer.get_extra_info("socket")
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    return live


async def _churn(base_url: str, stop: asyncio.Event) -> int:
    """Waves of readers that open and reset, until ``stop`` or CHURNERS; returns how many went
    live before they were reset."""
    live = 0
    for wave in range(CHURNERS // WAVE):
        if stop.is_set():
            break
        release = asyncio.Event()
        kinds = ["sse" if (wave + i) % 2 else "ws" for i in range(WAVE)]
        tasks = [asyncio.create_task(_open_and_reset(base_url, k, release)) for k in kinds]
        await asyncio.sleep(0.02)  # let them go live while events flow
        release.set()
        live += sum(await asyncio.gather(*tasks))
    return live


async def _publish(editor: Editor, count: int) -> None:
    for i in range(count):
        await editor.post("churn", headline=f"u{i}")


async def _watch_ready(client: httpx.AsyncClient, stop: asyncio.Event) -> list[int]:
    statuses = []
    while not stop.is_set():
        statuses.append((await client.get("/readyz")).status_code)
        await asyncio.sleep(0.1)
    return statuses


async def test_readers_that_stay_get_everything_while_others_reset(
    served: ServerProcess,
) -> None:
    url = served.url
    editor = Editor(url)
    await editor.create_blog("churn")
    stayers: list[SSEReader | WSReader] = [
        *(SSEReader(url, "/blogs/churn/events") for _ in range(STAYERS)),
        *(WSReader(url, "/blogs/churn/ws") for _ in range(STAYERS)),
    ]
    await asyncio.gather(*(reader.connect() for reader in stayers))
    # The production stack: every stream on the fast path.
    assert (await scrape(editor.http))["liveblog_direct_connections"] == 2 * STAYERS

    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        stop = asyncio.Event()
        watcher = asyncio.create_task(_watch_ready(client, stop))
        churner = asyncio.create_task(_churn(url, stop))
        await asyncio.gather(*(_publish(editor, ENTRIES // 2) for _ in range(2)))
        stop.set()
        went_live = await churner
        statuses = await watcher

        assert went_live > 200, "the churn must overlap the publishing"
        assert set(statuses) == {200}, "/readyz must stay 200 through the churn"
        for reader in stayers:
            events = await reader.wait_for(ENTRIES, timeout=60)
            assert [e.offset for e in events] == list(range(1, ENTRIES + 1))
            assert not reader.ended

        # Delivery goes on: a reader that arrives now gets the next entry.
        late = await SSEReader(url, "/blogs/churn/events").connect()
        await editor.post("churn", headline="after the churn")
        assert [e.data["data"]["headline"] for e in await late.wait_for(1)] == ["after the churn"]
        for reader in stayers:
            await reader.wait_for(ENTRIES + 1)

        # Every reset reader was detached: only the stayers and the late one are left.
        expected = {"sse": STAYERS + 1, "ws": STAYERS}
        async with asyncio.timeout(20):
            while True:
                samples = await scrape(client)
                counts = {t: samples[f"liveblog_connections{{transport={t}}}"] for t in expected}
                if counts == expected:
                    break
                await asyncio.sleep(0.1)
        assert (await client.get("/readyz")).status_code == 200

    for reader in [*stayers, late]:
        await reader.close()
    await editor.close()

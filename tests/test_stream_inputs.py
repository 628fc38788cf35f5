"""Hostile input to the stream endpoints leaves nothing behind: no engine subscription for a blog
that does not exist, no reader registered after a request that failed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import redis.asyncio as aioredis
import websockets
from starlette.applications import Starlette

from liveblog.app import create_app
from liveblog.config import Settings
from tests.conftest import make_settings
from tests.support.clients import Editor, SSEReader, WSReader
from tests.support.metrics import scrape
from tests.support.servers import serve_app

LONG_SLUG = "a" * 60_000


def ws_url(base_url: str, path: str) -> str:
    return "ws" + base_url.removeprefix("http") + path


async def blog_channels(admin: aioredis.Redis) -> list[bytes]:
    """The Redis pub/sub channels of blogs (the hub's own control channel aside)."""
    return [c for c in await admin.pubsub_channels("lb:{*") if not c.startswith(b"lb:hub:")]


async def connections(client: httpx.AsyncClient) -> dict[str, float]:
    samples = await scrape(client)
    return {
        "sse": samples["liveblog_connections{transport=sse}"],
        "ws": samples["liveblog_connections{transport=ws}"],
        "channels": samples["liveblog_channels"],
    }


@pytest.fixture
def app(redis_url: str) -> Starlette:
    return create_app(make_settings(redis_url))


@pytest.fixture
async def url(app: Starlette) -> AsyncIterator[str]:
    async with serve_app(app) as base_url:
        yield base_url


async def test_streams_of_unknown_blogs_leave_no_subscription(url: str, redis_url: str) -> None:
    admin = aioredis.Redis.from_url(redis_url)
    editor = Editor(url)
    await editor.create_blog("real")
    live = await SSEReader(url, "/blogs/real/events").connect()  # one channel that must stay
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for batch in range(4):
            slugs = [f"nope-{batch}-{i}" for i in range(50)]
            answers = await asyncio.gather(*(client.get(f"/blogs/{s}/events") for s in slugs))
            assert {r.status_code for r in answers} == {404}
            assert answers[0].headers["content-type"] == "application/problem+json"
        for path in (f"/blogs/{LONG_SLUG}/events", "/blogs/Not-A-Slug/events"):
            answer = await client.get(path)
            assert answer.status_code == 404, path[:40]

        for slug in ["nope-ws", "UPPER", LONG_SLUG[:5000]]:
            async with websockets.connect(ws_url(url, f"/blogs/{slug}/ws")) as socket:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await socket.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404

        async with websockets.connect(ws_url(url, "/ws")) as socket:
            for i in range(20):
                await socket.send(json.dumps({"op": "subscribe", "blog": f"nope-dash-{i}"}))
                reply = json.loads(await socket.recv())
                assert reply["type"] == "error" and reply["blog"] == f"nope-dash-{i}"
            await socket.send(json.dumps({"op": "subscribe", "blog": LONG_SLUG}))
            assert json.loads(await socket.recv())["type"] == "error"

        assert await blog_channels(admin) == [b"lb:{real}:events"]
        assert (await connections(client))["channels"] == 1
    await live.close()
    await admin.aclose()
    await editor.close()


async def test_odd_digits_in_resume_ids_get_reset_and_no_phantom_readers(
    url: str,
) -> None:
    """``"²".isdigit()`` is true and ``int("²")`` fails: such ids used to answer 500 and leave a
    reader registered for ever."""
    editor = Editor(url)
    await editor.create_blog("digits")
    await editor.post("digits")
    odd_ids = ["x-²", "x-" + "9" * 5000, "²-1", "x-١٢", "-1", "x--1"]
    readers: list[SSEReader | WSReader] = []
    for odd in odd_ids:
        # A header must be Latin-1: odd digits in it travel as UTF-8 bytes, as a client's would.
        header = odd.encode().decode("latin-1")
        readers.append(SSEReader(url, "/blogs/digits/events", last_event_id=header))
        readers.append(SSEReader(url, f"/blogs/digits/events?last_event_id={quote(odd)}"))
        readers.append(WSReader(url, f"/blogs/digits/ws?last_event_id={quote(odd)}"))
    for reader in readers:
        await reader.connect()
        assert [e.type for e in await reader.wait_for(1)] == ["reset"]
    async with httpx.AsyncClient(base_url=url) as client:
        assert await connections(client) == {"sse": 12, "ws": 6, "channels": 1}
        for reader in readers:
            await reader.close()
        await _eventually_no_readers(client)
    await editor.close()


async def test_a_stream_request_that_fails_leaves_no_phantom_reader(
    app: Starlette, url: str
) -> None:
    """Whatever fails while a stream starts, its connection leaves the hub (a ``finally``)."""
    hub = app.state.hub
    editor = Editor(url)
    await editor.create_blog("phantom")
    real_attach = hub.attach

    async def failing_attach(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("injected: a bug while attaching")

    hub.attach = failing_attach
    async with httpx.AsyncClient(base_url=url) as client:
        for _ in range(20):
            assert (await client.get("/blogs/phantom/events")).status_code == 500
        for _ in range(5):
            with pytest.raises(websockets.InvalidStatus) as refused:
                await websockets.connect(ws_url(url, "/blogs/phantom/ws"))
            assert refused.value.response.status_code == 500
        await _eventually_no_readers(client)
        hub.attach = real_attach
        reader = await SSEReader(url, "/blogs/phantom/events").connect()
        await editor.post("phantom", headline="still delivering")
        assert [e.data["data"]["headline"] for e in await reader.wait_for(1)] == [
            "still delivering"
        ]
        await reader.close()
    await editor.close()


async def test_the_memory_engine_keeps_no_channel_for_unknown_blogs(
    settings_factory: Callable[..., Settings],
) -> None:
    app = create_app(settings_factory())
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        for i in range(30):
            assert (await client.get(f"/blogs/ghost-{i}/events")).status_code == 404
        assert app.state.hub.channels == {}
        assert (await connections(client))["channels"] == 0


async def _eventually_no_readers(client: httpx.AsyncClient) -> None:
    async with asyncio.timeout(10):
        while True:
            counts = await connections(client)
            if counts["sse"] == counts["ws"] == 0:
                return
            await asyncio.sleep(0.05)

"""No background task dies silently: each loop that fails is logged with its traceback, counted
in ``liveblog_task_errors_total{task=...}``, backs off and goes on; ``/readyz`` is 503 while a
loop that delivery depends on is not running.

Failures are injected into the real app (a method of the real engine or hub raises once), on
uvloop with the fast-path protocols, as ``liveblog serve`` runs.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis.asyncio as aioredis
from starlette.applications import Starlette

from liveblog.app import create_app
from liveblog.config import Settings
from liveblog.delivery.channel import Channel
from tests.conftest import make_settings
from tests.support.clients import Editor, SSEReader, WSReader
from tests.support.metrics import scrape
from tests.support.servers import serve_app


class Injected(RuntimeError):
    """The failure a test injects: nothing in liveblog raises it."""


def fail_once(func: Callable[..., Any]) -> tuple[Callable[..., Any], asyncio.Event]:
    """``func``, except that its first call after ``armed`` is set raises :class:`Injected`."""
    armed = asyncio.Event()

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if armed.is_set():
            armed.clear()
            raise Injected(f"injected into {func.__name__}")
        return func(*args, **kwargs)

    return wrapper, armed


@pytest.fixture
def app(settings_factory: Callable[..., Settings]) -> Starlette:
    return create_app(settings_factory(heartbeat_seconds=0.2))


@pytest.fixture
async def url(app: Starlette) -> AsyncIterator[str]:
    async with serve_app(app) as base_url:
        yield base_url


@pytest.fixture
def task_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.ERROR, logger="liveblog.tasks"):
        yield caplog


def logged_with_traceback(caplog: pytest.LogCaptureFixture, task: str) -> bool:
    return any(
        f"{task!r} failed" in r.getMessage()
        and r.exc_info is not None
        and isinstance(r.exc_info[1], Injected)
        for r in caplog.records
    )


async def task_errors(client: httpx.AsyncClient) -> dict[str, float]:
    samples = await scrape(client)
    prefix = "liveblog_task_errors_total{task="
    return {k[len(prefix) : -1]: v for k, v in samples.items() if k.startswith(prefix)}


async def eventually(check: Callable[[], Any], timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


async def test_housekeeping_fails_and_goes_on(
    app: Starlette, url: str, task_log: pytest.LogCaptureFixture
) -> None:
    hub = app.state.hub
    hub.supervisor.first_delay = 1.0  # long enough to see /readyz while it is down
    hub.housekeeping, armed = fail_once(hub.housekeeping)
    editor = Editor(url)
    await editor.create_blog("hk")
    reader = await SSEReader(url, "/blogs/hk/events").connect()
    async with httpx.AsyncClient(base_url=url) as client:
        armed.set()
        await eventually(lambda: _status_is(client, 503))
        body = (await client.get("/readyz")).json()
        assert body["checks"]["loops"] == "down: housekeeping"
        await eventually(lambda: _status_is(client, 200))

        assert logged_with_traceback(task_log, "housekeeping")
        assert (await task_errors(client))["housekeeping"] == 1
        # Heartbeats go on after the failure.
        seen = reader.comments
        await eventually(lambda: _true(reader.comments >= seen + 2))
    await reader.close()
    await editor.close()


async def test_an_unresponsive_websocket_does_not_stop_housekeeping(
    app: Starlette, url: str
) -> None:
    """The first WebSocket closed for a missing pong used to kill the loop ("Set changed size
    during iteration"): heartbeats and idle-channel cleanup then stopped for everyone."""
    editor = Editor(url)
    await editor.create_blog("pong")
    reader = await SSEReader(url, "/blogs/pong/events").connect()
    silent = await _silent_websocket(url, "/blogs/pong/ws")
    async with httpx.AsyncClient(base_url=url) as client:
        await eventually(
            lambda: _sample_is(client, "liveblog_unresponsive_sockets_closed_total", 1)
        )
        seen = reader.comments
        await eventually(lambda: _true(reader.comments >= seen + 3))
        assert (await task_errors(client))["housekeeping"] == 0
        assert (await client.get("/readyz")).status_code == 200
    silent.close()
    await reader.close()
    await editor.close()


async def test_subscription_and_fill_fail_and_go_on(
    redis_url: str, task_log: pytest.LogCaptureFixture
) -> None:
    """The event subscription fails on reconnect, then the catch-up read fails: each is logged,
    counted and retried, and the reader still gets every event once, in order."""
    app = create_app(make_settings(redis_url))
    engine = app.state.engine
    async with serve_app(app) as url:
        editor = Editor(url)
        await editor.create_blog("sub")
        reader = await SSEReader(url, "/blogs/sub/events").connect()
        ws = await WSReader(url, "/blogs/sub/ws").connect()
        await editor.post("sub", headline="before")
        await reader.wait_for(1)

        real_subscription = engine.subscription

        def subscription(handler: Any) -> Any:
            # The first subscription made after the blip fails on its first subscribe.
            made = real_subscription(handler)
            made.subscribe, arm_subscribe = fail_once(made.subscribe)
            arm_subscribe.set()
            engine.subscription = real_subscription
            return made

        engine.subscription = subscription
        engine.history, arm_history = fail_once(engine.history)
        arm_history.set()
        admin = aioredis.Redis.from_url(redis_url)
        await admin.client_kill_filter(_type="pubsub")  # a network blip
        for i in range(5):
            await editor.post("sub", headline=f"during {i}")

        for stream in (reader, ws):
            events = await stream.wait_for(6, timeout=30)
            assert [e.offset for e in events] == list(range(1, 7))
        async with httpx.AsyncClient(base_url=url) as client:
            await eventually(lambda: _status_is(client, 200))
            errors = await task_errors(client)
            assert errors["subscription"] == 1
            assert errors["fill"] == 1
        assert logged_with_traceback(task_log, "subscription")
        assert logged_with_traceback(task_log, "fill")
        await editor.post("sub", headline="after")
        assert [e.offset for e in await reader.wait_for(7)] == list(range(1, 8))
        await admin.aclose()
        await reader.close()
        await ws.close()
        await editor.close()


async def test_stats_reporter_fails_and_goes_on(
    app: Starlette, task_log: pytest.LogCaptureFixture
) -> None:
    reporter, engine = app.state.stats, app.state.engine
    reporter.interval = 0.05
    calls = 0
    real_report = engine.report_stats

    async def counting_report(*args: Any) -> None:
        nonlocal calls
        calls += 1
        await real_report(*args)

    engine.report_stats, armed = fail_once(counting_report)
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        armed.set()
        await eventually(lambda: _true(not armed.is_set()))
        after_failure = calls
        await eventually(lambda: _true(calls >= after_failure + 3))  # it reports again
        assert (await task_errors(client))["stats-reporter"] == 1
    assert logged_with_traceback(task_log, "stats-reporter")


async def test_an_error_in_fan_out_makes_readers_resume_with_nothing_lost(
    app: Starlette, url: str, task_log: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error mid fan-out: which readers got the event is unknown, so each is told
    to resume from its own last id, and gets the event exactly once."""
    editor = Editor(url)
    await editor.create_blog("fan")
    reader = await SSEReader(url, "/blogs/fan/events").connect()
    await editor.post("fan", headline="one")
    await reader.wait_for(1)
    failing, armed = fail_once(Channel.accept)
    monkeypatch.setattr(Channel, "accept", failing)
    armed.set()
    await editor.post("fan", headline="two")
    await reader.wait_ended()
    assert reader.clean_end  # told to come back, not cut off
    resumed = await SSEReader(
        url, "/blogs/fan/events", last_event_id=reader.last_event_id
    ).connect()
    await editor.post("fan", headline="three")
    events = [*reader.events, *await resumed.wait_for(2)]
    assert [e.data["data"]["headline"] for e in events] == ["one", "two", "three"]
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await task_errors(client))["deliver"] == 1
        assert (await client.get("/readyz")).status_code == 200
    assert logged_with_traceback(task_log, "deliver")
    await resumed.close()
    await editor.close()


async def test_a_failing_delivery_observer_does_not_stop_delivery(
    app: Starlette, url: str, task_log: pytest.LogCaptureFixture
) -> None:
    hub = app.state.hub
    editor = Editor(url)
    await editor.create_blog("obs")
    reader = await SSEReader(url, "/blogs/obs/events").connect()
    (observer,) = hub.deliver_observers  # the metrics'
    failing, armed = fail_once(observer)
    hub.deliver_observers[:] = [failing]
    armed.set()
    for i in range(3):
        await editor.post("obs", headline=f"e{i}")
    assert [e.offset for e in await reader.wait_for(3)] == [1, 2, 3]
    assert not reader.ended
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await task_errors(client))["deliver"] == 1
    assert logged_with_traceback(task_log, "deliver")
    await reader.close()
    await editor.close()


async def _status_is(client: httpx.AsyncClient, status: int) -> bool:
    return (await client.get("/readyz")).status_code == status


async def _sample_is(client: httpx.AsyncClient, name: str, value: float) -> bool:
    return (await scrape(client)).get(name) == value


async def _true(value: bool) -> bool:
    return value


async def _silent_websocket(base_url: str, path: str) -> asyncio.StreamWriter:
    """A WebSocket client that completes the handshake and never answers a ping."""
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    writer.write(request.encode())
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    return writer

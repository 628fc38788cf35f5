"""Guarantees 2 and 5 against a real Redis that dies: nothing half-written, readers see nothing
lost; several server processes share one Redis; a restart loses no reader."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from tests.conftest import make_settings
from tests.support.clients import Editor, SSEReader, WSReader
from tests.support.redis_server import RedisServer
from tests.support.servers import ServerProcess, serve_in_process


@pytest.fixture
async def redis_app(redis_url: str, fast_path: bool) -> AsyncIterator[str]:
    async with serve_in_process(make_settings(redis_url), fast_path=fast_path) as url:
        yield url


async def wait_ready(client: httpx.AsyncClient, ready: bool) -> None:
    async with asyncio.timeout(30):
        while ((await client.get("/readyz")).status_code == 200) != ready:
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "plain"])
async def test_redis_killed_mid_stream(redis_app: str, redis_server: RedisServer) -> None:
    editor = Editor(redis_app)
    await editor.create_blog("outage")
    sse = [await SSEReader(redis_app, "/blogs/outage/events").connect() for _ in range(5)]
    ws = [await WSReader(redis_app, "/blogs/outage/ws").connect() for _ in range(5)]
    for i in range(10):
        await editor.post("outage", headline=f"before {i}")

    redis_server.kill()
    await wait_ready(editor.http, ready=False)
    body = (await editor.http.get("/readyz")).json()
    assert body["status"] == "unavailable"
    for i in range(3):
        response = await editor.http.post(
            "/api/blogs/outage/entries", json={"headline": f"during {i}", "body": "x"}
        )
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"]
    assert (await editor.http.get("/api/blogs/outage/entries")).status_code == 503

    redis_server.start()  # same port, same AOF: nothing acknowledged was lost
    await wait_ready(editor.http, ready=True)
    for i in range(10):
        await editor.post("outage", headline=f"after {i}")

    expected = [f"before {i}" for i in range(10)] + [f"after {i}" for i in range(10)]
    for reader in [*sse, *ws]:
        events = await reader.wait_for(20, timeout=30)
        assert [e.offset for e in events] == list(range(1, 21))
        assert [e.data["data"]["headline"] for e in events] == expected
        assert not reader.ended  # they stayed connected through the outage
    timeline = (await editor.http.get("/api/blogs/outage/entries", params={"limit": 100})).json()
    assert [e["headline"] for e in timeline["entries"]] == expected[::-1]  # nothing half-written
    await asyncio.sleep(0.2)
    assert all(len(r.events) == 20 for r in [*sse, *ws])
    for reader in [*sse, *ws]:
        await reader.close()
    await editor.close()


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "plain"])
async def test_a_lost_subscription_is_refilled_from_history(redis_app: str, redis_url: str) -> None:
    """A network blip on the pub/sub connection: events published meanwhile come from history."""
    editor = Editor(redis_app)
    await editor.create_blog("blip")
    reader = await SSEReader(redis_app, "/blogs/blip/events").connect()
    admin = aioredis.Redis.from_url(redis_url)
    for round_ in range(3):
        await admin.client_kill_filter(_type="pubsub")
        for i in range(5):
            await editor.post("blip", headline=f"r{round_} e{i}")
    events = await reader.wait_for(15, timeout=30)
    assert [e.offset for e in events] == list(range(1, 16))
    await asyncio.sleep(0.3)
    assert len(reader.events) == 15
    await admin.aclose()
    await reader.close()
    await editor.close()


async def test_a_lost_live_message_is_a_gap_filled_from_history(
    redis_app: str, redis_url: str
) -> None:
    """An event stored and added to history but never published: the next live event shows the
    gap, and the hub fills it before delivering anything later."""
    editor = Editor(redis_app)
    blog = await editor.create_blog("gap")
    reader = await SSEReader(redis_app, "/blogs/gap/events").connect()
    await editor.post("gap", headline="one")
    # Write event 2 straight into the history stream, as if its PUBLISH had been lost.
    epoch = blog["last_event_id"].rpartition("-")[0]
    admin = aioredis.Redis.from_url(redis_url)
    await admin.hincrby("lb:{gap}:pos", "offset", 1)
    lost = f'{{"id":"{epoch}-2","type":"entry.deleted","blog":"gap","data":{{"id":"ghost"}}}}'
    await admin.xadd("lb:{gap}:history", {"e": lost}, id="2-0")
    await editor.post("gap", headline="three")
    events = await reader.wait_for(3)
    assert [e.offset for e in events] == [1, 2, 3]
    assert events[1].raw == lost
    await admin.aclose()
    await reader.close()
    await editor.close()


async def test_two_processes_share_one_redis(
    server_process: Callable[..., ServerProcess],
) -> None:
    first, second = server_process(), server_process()
    editor = Editor(first.url)
    await editor.create_blog("shared")
    readers = [
        await SSEReader(second.url, "/blogs/shared/events").connect(),
        await WSReader(second.url, "/blogs/shared/ws").connect(),
        await SSEReader(first.url, "/blogs/shared/events").connect(),
    ]
    other = Editor(second.url)
    for i in range(10):
        await (editor if i % 2 else other).post("shared", headline=f"e{i}")
    for reader in readers:
        events = await reader.wait_for(10)
        assert [e.data["data"]["headline"] for e in events] == [f"e{i}" for i in range(10)]
        await reader.close()
    await editor.close()
    await other.close()


async def test_workers_share_one_redis_and_the_readers(
    server_process: Callable[..., ServerProcess],
) -> None:
    """``serve --workers 2``: every reader gets every entry whichever worker holds it, and the
    readers are spread over both workers (each listens on a socket of its own), not piled onto
    whichever was idle first."""
    app = server_process(workers=2)
    editor = Editor(app.url)
    await editor.create_blog("workers")
    readers = [await SSEReader(app.url, "/blogs/workers/events").connect() for _ in range(100)]
    for i in range(5):
        await editor.post("workers", headline=f"w{i}")
    for reader in readers:
        assert [e.offset for e in await reader.wait_for(5)] == [1, 2, 3, 4, 5]
    assert app.process is not None
    listeners = len(sockets_on(app.port, LISTEN))
    held = connections_per_worker(app.process.pid, app.port)
    for reader in readers:
        await reader.close()
    await editor.close()
    assert listeners == 2  # one per worker: the kernel spreads new connections over them
    assert len(held) == 2
    assert sum(held) >= 100 and min(held) >= 25, held  # about half each, by chance


ESTABLISHED, LISTEN = "01", "0A"


def sockets_on(port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets in ``state`` whose local port is ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                    found.add(fields[9])
    return found


def connections_per_worker(parent: int, port: int) -> list[int]:
    """Established TCP connections on ``port`` that each worker process of ``parent`` holds."""
    established = sockets_on(port, ESTABLISHED)
    counts = []
    for worker in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        if b"spawn_main" not in Path(f"/proc/{worker}/cmdline").read_bytes():
            continue  # multiprocessing's resource tracker
        inodes = set()
        for fd in Path(f"/proc/{worker}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        counts.append(len(inodes & established))
    return counts


async def test_restart_tells_readers_to_resume(
    server_process: Callable[..., ServerProcess],
) -> None:
    app = server_process()
    editor = Editor(app.url)
    await editor.create_blog("restart")
    sse = await SSEReader(app.url, "/blogs/restart/events").connect()
    ws = await WSReader(app.url, "/blogs/restart/ws").connect()
    await editor.post("restart", headline="before")
    await sse.wait_for(1)
    await ws.wait_for(1)

    assert app.process is not None
    process = app.process
    app.stop()  # SIGTERM: readers are closed first, so shutdown does not wait on them
    assert process.returncode == -15  # it stopped on the signal, not on the SIGKILL fallback
    await sse.wait_ended()
    await ws.wait_ended()
    assert sse.clean_end  # the stream was ended by the server, not cut by a task timeout
    await sse.close()
    await ws.close()
    assert ws.close_code == 1012  # "service restart": come back and resume

    app.start()
    await editor.post("restart", headline="after")
    resumed = SSEReader(app.url, "/blogs/restart/events", last_event_id=sse.last_event_id)
    await resumed.connect()
    (event,) = await resumed.wait_for(1)
    assert event.data["data"]["headline"] == "after" and event.offset == 2
    await resumed.close()
    await editor.close()


async def test_a_stopping_process_sends_returning_readers_on(
    server_process: Callable[..., ServerProcess],
) -> None:
    """Readers told to leave come straight back (bench/storm.py). While the process stops (a
    request in flight still gets its answer), none of them may get a stream from it that stays
    open: it would hold the shutdown for its whole grace and then die with the process, a second
    storm for the others. They are refused (the listening socket is closed at the signal), or
    their stream ends as soon as it starts, while the request in flight is still being served."""
    app = server_process()
    editor = Editor(app.url)
    await editor.create_blog("drain")
    await editor.post("drain", headline="before")
    reader = await SSEReader(app.url, "/blogs/drain/events?last_event_id=0-0").connect()
    await reader.wait_for(1)
    body = json.dumps({"headline": "held across the stop", "body": "<p>Still here.</p>"})
    body = body.ljust(1000).encode()  # JSON allows the trailing blanks
    held_reader, held = await asyncio.open_connection("127.0.0.1", app.port)
    held.write(
        b"POST /api/blogs/drain/entries HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer " + app.admin_token.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n" + body[:1]
    )
    await held.drain()
    await editor.post("drain", headline="the held request's head is read by now")
    assert app.process is not None
    process = app.process
    process.send_signal(signal.SIGTERM)
    outcomes: list[str] = []
    for attempt in range(4):
        try:
            if attempt % 2:
                ws = await WSReader(app.url, "/blogs/drain/ws").connect()
                await ws.wait_ended()
                outcomes.append("sent on" if ws.close_code == 1012 else f"ws {ws.close_code}")
                await ws.close()
            else:
                late = await SSEReader(app.url, "/blogs/drain/events").connect()
                await late.wait_ended()
                outcomes.append("sent on" if late.clean_end else "cut")
                await late.close()
        except OSError:
            outcomes.append("refused")
            break
    await reader.wait_ended()
    assert reader.clean_end
    assert outcomes and set(outcomes) <= {"refused", "sent on"}, outcomes
    # The request in flight was not cut by the readers' comings and goings: it is answered.
    held.write(body[1:])
    await held.drain()
    async with asyncio.timeout(20):
        status_line = await held_reader.readline()
    assert status_line.startswith(b"HTTP/1.1 201"), status_line
    held.close()
    await reader.close()
    await editor.close()


async def test_connected_readers_get_reset_when_history_is_lost(
    redis_app: str, redis_url: str
) -> None:
    editor = Editor(redis_app)
    blog = await editor.create_blog("amnesia")
    old_epoch = blog["last_event_id"].rpartition("-")[0]
    reader = await SSEReader(redis_app, "/blogs/amnesia/events").connect()
    await editor.post("amnesia", headline="before")
    await reader.wait_for(1)
    admin = aioredis.Redis.from_url(redis_url)
    await admin.delete("lb:{amnesia}:pos", "lb:{amnesia}:history")  # an incomplete restore
    await admin.aclose()
    await editor.post("amnesia", headline="after")
    before, reset = await reader.wait_for(2)
    assert reset.type == "reset"
    assert reset.epoch != old_epoch
    page = (await editor.http.get("/api/blogs/amnesia/entries")).json()
    assert page["last_event_id"] == reset.id  # reloading the timeline lands on the reset's id
    await editor.post("amnesia", headline="later")
    events = await reader.wait_for(3)
    assert events[2].epoch == reset.epoch and events[2].offset == reset.offset + 1
    # An old-epoch id resumes into a reset, never into the new epoch's events.
    late = await SSEReader(redis_app, "/blogs/amnesia/events", last_event_id=before.id).connect()
    (late_reset,) = await late.wait_for(1)
    assert late_reset.type == "reset" and late_reset.epoch == reset.epoch
    for r in (reader, late):
        await r.close()
    await editor.close()


async def test_a_crowd_of_readers_connecting_at_once_all_get_in(redis_app: str) -> None:
    """Hundreds of resumes in the same instant each read history: the engine's connections are
    a bounded pool that makes them wait their turn, never a 503."""
    editor = Editor(redis_app)
    blog = await editor.create_blog("crowd")
    epoch = blog["last_event_id"].rpartition("-")[0]
    for i in range(3):
        await editor.post("crowd", headline=f"e{i}")
    readers = [
        SSEReader(redis_app, "/blogs/crowd/events", last_event_id=f"{epoch}-{i % 3}")
        for i in range(400)
    ]
    await asyncio.gather(*(r.connect() for r in readers))
    assert {r.status for r in readers} == {200}
    for i, reader in enumerate(readers):
        assert [e.offset for e in await reader.wait_for(3 - i % 3)] == list(range(i % 3 + 1, 4))
    await asyncio.gather(*(r.close() for r in readers))
    await editor.close()


async def test_events_lost_by_the_store_start_a_new_epoch(redis_app: str, redis_url: str) -> None:
    """Redis restarted from an AOF that missed the last writes (appendfsync everysec): readers
    saw offsets 4 and 5 that the store no longer has and would hand out again. The hub notices
    on reconnect and starts a new epoch: readers reload instead of trusting those ids."""
    editor = Editor(redis_app)
    blog = await editor.create_blog("fsync")
    old_epoch = blog["last_event_id"].rpartition("-")[0]
    reader = await SSEReader(redis_app, "/blogs/fsync/events").connect()
    for i in range(5):
        await editor.post("fsync", headline=f"e{i}")
    await reader.wait_for(5)
    admin = aioredis.Redis.from_url(redis_url)
    await admin.hset("lb:{fsync}:pos", "offset", 3)  # as if the last two writes were lost
    await admin.xdel("lb:{fsync}:history", "4-0", "5-0")
    await admin.client_kill_filter(_type="pubsub")  # the restart drops the subscription too
    await admin.aclose()

    events = await reader.wait_for(6)
    reset = events[5]
    assert reset.type == "reset" and reset.epoch != old_epoch and reset.offset == 3
    await editor.post("fsync", headline="after")
    after = (await reader.wait_for(7))[6]
    assert (after.epoch, after.offset) == (reset.epoch, 4)
    stale = await SSEReader(
        redis_app, "/blogs/fsync/events", last_event_id=f"{old_epoch}-5"
    ).connect()
    (stale_reset,) = await stale.wait_for(1)
    assert stale_reset.type == "reset" and stale_reset.epoch == reset.epoch
    for r in (reader, stale):
        await r.close()
    await editor.close()

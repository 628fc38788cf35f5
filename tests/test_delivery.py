"""Guarantee 1 (nothing lost, nothing doubled, in order) and 3 (a slow reader never delays the
others), on both engines, over real sockets; the ordering and resume guarantees on Redis Cluster
too (ALL_ENGINES)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from liveblog.config import Settings
from tests.conftest import ALL_ENGINES
from tests.support.clients import (
    BIG_BODY,
    Editor,
    Event,
    SSEReader,
    WSReader,
    stalled_reader,
)
from tests.support.servers import serve_in_process


def offsets(events: list[Event]) -> list[int]:
    return [e.offset for e in events]


async def publish_mix(editor: Editor, slug: str, count: int) -> None:
    """Creates, edits and deletes, ``count`` events in all."""
    live: list[str] = []
    for i in range(count):
        if i % 5 == 3 and live:
            entry_id = live[-1]
            url = f"/api/blogs/{slug}/entries/{entry_id}"
            response = await editor.http.patch(url, json={"headline": f"edit {i}"})
            assert response.status_code == 200, response.text
        elif i % 5 == 4 and live:
            response = await editor.http.delete(f"/api/blogs/{slug}/entries/{live.pop(0)}")
            assert response.status_code == 204, response.text
        else:
            entry = await editor.post(slug, headline=f"entry {i}", body=f"<p>{'text ' * 40}</p>")
            live.append(entry["id"])


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "plain"])
@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_every_reader_gets_every_event_once_in_order(server: str, editor: Editor) -> None:
    blog = await editor.create_blog("marathon")
    epoch = blog["last_event_id"].rpartition("-")[0]
    sse = [SSEReader(server, "/blogs/marathon/events") for _ in range(200)]
    ws = [WSReader(server, "/blogs/marathon/ws") for _ in range(50)]
    readers: list[SSEReader | WSReader] = [*sse, *ws]
    for batch in range(0, len(readers), 50):
        await asyncio.gather(*(r.connect() for r in readers[batch : batch + 50]))

    await publish_mix(editor, "marathon", 500)

    reference = await sse[0].wait_for(500, timeout=60)
    assert offsets(reference) == list(range(1, 501))
    assert {e.epoch for e in reference} == {epoch}
    types = {e.type for e in reference}
    assert types == {"entry.created", "entry.updated", "entry.deleted"}
    for reader in readers:
        events = await reader.wait_for(500, timeout=60)
        assert [e.raw for e in events] == [e.raw for e in reference]
    await asyncio.sleep(0.2)  # nothing more may trickle in: exactly once
    assert all(len(r.events) == 500 for r in readers)
    await asyncio.gather(*(r.close() for r in readers))


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "plain"])
@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_sse_resumes_by_header_and_by_query(server: str, editor: Editor) -> None:
    await editor.create_blog("resume")
    for use_header in (True, False):
        reader = await SSEReader(server, "/blogs/resume/events").connect()
        for i in range(3):
            await editor.post("resume", headline=f"seen {i}")
        seen = await reader.wait_for(3)
        await reader.close()
        for i in range(4):
            await editor.post("resume", headline=f"missed {i}")

        again = SSEReader(
            server, "/blogs/resume/events", last_event_id=seen[-1].id, use_header=use_header
        )
        await again.connect()
        missed = await again.wait_for(4)
        assert [e.data["data"]["headline"] for e in missed] == [f"missed {i}" for i in range(4)]
        assert offsets(missed) == list(range(seen[-1].offset + 1, seen[-1].offset + 5))
        await editor.post("resume", headline="live")
        events = await again.wait_for(5)
        assert events[-1].data["data"]["headline"] == "live"
        assert offsets(events) == list(range(seen[-1].offset + 1, seen[-1].offset + 6))
        await again.close()


async def test_last_event_id_header_wins_over_query(server: str, editor: Editor) -> None:
    blog = await editor.create_blog("both")
    epoch = blog["last_event_id"].rpartition("-")[0]
    for i in range(5):
        await editor.post("both", headline=f"e{i}")
    reader = SSEReader(server, f"/blogs/both/events?last_event_id={epoch}-1")
    reader.last_event_id = f"{epoch}-3"  # sent as the header
    await reader.connect()
    events = await reader.wait_for(2)
    assert offsets(events) == [4, 5]
    await reader.close()


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "plain"])
async def test_websocket_resumes_from_last_event_id(server: str, editor: Editor) -> None:
    await editor.create_blog("wsresume")
    reader = await WSReader(server, "/blogs/wsresume/ws").connect()
    await editor.post("wsresume", headline="one")
    (first,) = await reader.wait_for(1)
    await reader.close()
    await editor.post("wsresume", headline="two")
    await editor.post("wsresume", headline="three")
    again = await WSReader(server, f"/blogs/wsresume/ws?last_event_id={first.id}").connect()
    events = await again.wait_for(2)
    assert [e.data["data"]["headline"] for e in events] == ["two", "three"]
    await again.close()


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_reset_when_the_id_is_out_of_the_window_or_epoch(
    settings_factory: Callable[..., Settings],
) -> None:
    async with serve_in_process(settings_factory(history_size=5)) as url:
        editor = Editor(url)
        blog = await editor.create_blog("window")
        epoch = blog["last_event_id"].rpartition("-")[0]
        for i in range(10):
            await editor.post("window", headline=f"e{i}")

        for stale in (f"{epoch}-2", "00000000-9", "not-an-id", f"{epoch}-99"):
            position = (await editor.http.get("/api/blogs/window")).json()["last_event_id"]
            reader = await SSEReader(url, "/blogs/window/events", last_event_id=stale).connect()
            (reset,) = await reader.wait_for(1)
            assert reset.type == "reset", stale
            assert reset.id == position  # the current position: a reset uses up no offset
            assert reset.data["data"]["reason"]
            await editor.post("window", headline="after reset")
            events = await reader.wait_for(2)
            assert events[1].type == "entry.created"
            assert events[1].offset == reset.offset + 1
            await reader.close()

        # Inside the window (the last 5 events): no reset, just the missed events.
        reader = await SSEReader(url, "/blogs/window/events", last_event_id=f"{epoch}-11").connect()
        events = await reader.wait_for(3)
        assert [e.type for e in events] == ["entry.created"] * 3
        assert offsets(events) == [12, 13, 14]
        await reader.close()
        await editor.close()


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_page_position_then_subscription_loses_nothing(server: str, editor: Editor) -> None:
    await editor.create_blog("position")
    posted: list[str] = []

    async def keep_posting() -> None:
        for i in range(60):
            posted.append((await editor.post("position", headline=f"p{i}"))["id"])

    poster = asyncio.create_task(keep_posting())
    while len(posted) < 20:
        await asyncio.sleep(0.005)
    page = (await editor.http.get("/api/blogs/position/entries", params={"limit": 100})).json()
    reader = SSEReader(server, "/blogs/position/events", last_event_id=page["last_event_id"])
    await reader.connect()
    await poster
    on_page = {e["id"] for e in page["entries"]}
    position = int(page["last_event_id"].rpartition("-")[2])
    assert len(on_page) == position  # the page reflects exactly the events up to its position
    events = await reader.wait_for(60 - position)
    await asyncio.sleep(0.1)
    assert offsets(reader.events) == list(range(position + 1, 61))
    streamed = [e.data["data"]["id"] for e in reader.events]
    assert on_page.isdisjoint(streamed)
    assert sorted(on_page | set(streamed)) == sorted(posted)
    assert len(events) == 60 - position
    await reader.close()


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "plain"])
async def test_a_stalled_reader_is_dropped_while_others_go_on(
    settings_factory: Callable[..., Settings], fast_path: bool
) -> None:
    settings = settings_factory(reader_buffer_bytes=64 * 1024, drop_grace_seconds=120)
    async with serve_in_process(settings, fast_path=fast_path) as url:
        editor = Editor(url)
        await editor.create_blog("slow")
        fast = [await SSEReader(url, "/blogs/slow/events").connect() for _ in range(3)]
        reader, writer = await stalled_reader(url, "/blogs/slow/events")
        await asyncio.sleep(0.2)
        for i in range(160):  # 8 MB in all
            await editor.post("slow", headline=f"big {i}", body=BIG_BODY)
        for r in fast:
            assert offsets(await r.wait_for(160, timeout=30)) == list(range(1, 161))

        # Now the stalled reader reads what it was sent: a prefix, then the stream's end.
        received = b""
        async with asyncio.timeout(30):
            while not received.endswith(b"0\r\n\r\n"):
                chunk = await reader.read(65536)
                assert chunk, "connection closed without the final chunk"
                received += chunk
        ids = [line[4:] for line in received.decode().split("\n") if line.startswith("id: ")]
        assert 0 < len(ids) < 160
        last = ids[-1]
        assert last.endswith(f"-{len(ids)}")  # a clean prefix, in order
        writer.close()

        # It resumes from its last event id and gets exactly the rest.
        resumed = await SSEReader(url, "/blogs/slow/events", last_event_id=last).connect()
        rest = await resumed.wait_for(160 - len(ids), timeout=30)
        assert offsets(rest) == list(range(len(ids) + 1, 161))
        for r in [*fast, resumed]:
            await r.close()
        await editor.close()


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "plain"])
@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_multi_blog_socket(server: str, editor: Editor) -> None:
    await editor.create_blog("north")
    await editor.create_blog("south")
    dashboard = await WSReader(server, "/ws").connect()
    await dashboard.send({"op": "subscribe", "blog": "north"})
    await dashboard.send({"op": "subscribe", "blog": "south"})
    await dashboard.send({"op": "subscribe", "blog": "missing"})
    await dashboard.send({"op": "dance"})
    await asyncio.sleep(0.2)
    await editor.post("north", headline="n1")
    await editor.post("south", headline="s1")
    events = await dashboard.wait_for(2)
    assert sorted((e.data["blog"], e.data["data"]["headline"]) for e in events) == [
        ("north", "n1"),
        ("south", "s1"),
    ]
    assert len(dashboard.others) == 2
    assert {o["type"] for o in dashboard.others} == {"error"}

    await dashboard.send({"op": "unsubscribe", "blog": "north"})
    await asyncio.sleep(0.2)
    await editor.post("north", headline="n2")
    await editor.post("south", headline="s2")
    events = await dashboard.wait_for(3)
    assert events[2].data["data"]["headline"] == "s2"
    await asyncio.sleep(0.2)
    assert len(dashboard.events) == 3

    # Resume a blog on the shared socket.
    north_last = events[0].id
    await dashboard.send({"op": "subscribe", "blog": "north", "last_event_id": north_last})
    events = await dashboard.wait_for(4)
    assert events[3].data["data"]["headline"] == "n2"
    await dashboard.close()


async def test_heartbeats_and_retry_hint(settings_factory: Callable[..., Settings]) -> None:
    async with serve_in_process(settings_factory(heartbeat_seconds=0.1)) as url:
        editor = Editor(url)
        await editor.create_blog("quiet")
        reader = await SSEReader(url, "/blogs/quiet/events").connect()
        assert reader.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert reader.headers["cache-control"].startswith("no-cache")
        async with asyncio.timeout(5):
            while reader.comments < 2:
                await asyncio.sleep(0.05)
        await reader.close()
        await editor.close()


async def test_the_reconnect_hint_is_spread_over_readers(
    settings_factory: Callable[..., Settings],
) -> None:
    """EventSource waits exactly its ``retry:`` after a stream ends: one value for everyone
    would bring a restarted process's readers back to the others at the same instant. Each
    reader gets its own, from half the setting to one and a half times it."""
    async with serve_in_process(settings_factory(sse_retry_ms=2000)) as url:
        editor = Editor(url)
        await editor.create_blog("spread")
        hints = []
        async with httpx.AsyncClient(base_url=url) as client:
            for gzip in (False, True) * 12:
                headers = {"Accept-Encoding": "gzip" if gzip else "identity"}
                async with client.stream("GET", "/blogs/spread/events", headers=headers) as r:
                    first = await anext(r.aiter_bytes())  # httpx undoes the gzip
                    assert first.startswith(b"retry: ") and first.endswith(b"\n\n"), first
                    hints.append(int(first[len(b"retry: ") : -2]))
        assert all(1000 <= hint <= 3000 for hint in hints), hints
        assert len(set(hints)) >= 4, hints  # 24 readers: the same hint for all is no spread
        await editor.close()


async def test_unknown_blog_stream_is_404(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        response = await client.get("/blogs/nowhere/events")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    reader = await WSReader(server, "/blogs/nowhere/ws").connect()
    await reader.wait_ended()
    assert reader.close_code == 4404

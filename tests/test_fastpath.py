"""The fast path (liveblog.delivery.fastpath): events written straight into sockets are
byte-exact and well framed, for many readers at once; a stalled reader is dropped and resumes."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import uvloop

from liveblog import serving
from liveblog.app import create_app
from liveblog.config import Settings
from liveblog.delivery import private_surfaces
from liveblog.delivery.fastpath import (
    DirectHttpToolsProtocol,
    DirectWebSocketProtocol,
    _Flag,
    _Inbox,
)
from tests.support.clients import BIG_BODY, Editor, SSEReader, WSReader
from tests.support.metrics import scrape
from tests.support.servers import ADMIN_TOKEN, serve_app, serve_in_process


async def test_a_thousand_readers_get_byte_exact_events(server: str, editor: Editor) -> None:
    await editor.create_blog("many")
    sse = [SSEReader(server, "/blogs/many/events") for _ in range(500)]
    ws = [WSReader(server, "/blogs/many/ws") for _ in range(500)]
    readers: list[SSEReader | WSReader] = [*sse, *ws]
    for batch in range(0, len(readers), 100):
        await asyncio.gather(*(r.connect() for r in readers[batch : batch + 100]))
    for i in range(60):
        await editor.post("many", headline=f"e{i}", body=f"<p>{'ü€ ' * i}</p>")

    # The reference: the same events read back from the engine's history, as a resuming
    # reader gets them (encoded by another path: the engine's stored bytes).
    epoch = sse[0].last_event_id or ""
    reference = await SSEReader(
        server, "/blogs/many/events", last_event_id=epoch.rpartition("-")[0] + "-0"
    ).connect()
    expected = [e.raw for e in await reference.wait_for(60)]
    assert len(set(expected)) == 60
    for reader in readers:
        events = await reader.wait_for(60, timeout=60)
        assert [e.raw for e in events] == expected  # byte-exact, once each, in order
        assert [e.offset for e in events] == list(range(1, 61))
    await asyncio.sleep(0.2)
    assert all(len(r.events) == 60 for r in readers)
    for reader in [*readers, reference]:
        assert not reader.ended
        await reader.close()


async def _stalled_websocket(
    base_url: str, path: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket client that completes the handshake and then reads nothing."""
    parts = urlsplit(base_url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    return reader, writer


async def _read_ws_frames(reader: asyncio.StreamReader) -> tuple[list[bytes], int | None]:
    """Parse unmasked server frames until a close frame: (text payloads, close code)."""
    texts: list[bytes] = []
    async with asyncio.timeout(60):
        while True:
            first, second = await reader.readexactly(2)
            assert second & 0x80 == 0, "server frames are never masked"
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await reader.readexactly(8))
            payload = await reader.readexactly(length)
            opcode = first & 0x0F
            assert first & 0x80, "every event is one final frame"
            if opcode == 0x8:
                return texts, struct.unpack("!H", payload[:2])[0]
            if opcode == 0x1:
                texts.append(payload)


async def test_a_stalled_websocket_reader_is_dropped_with_1013_and_resumes(
    settings_factory: Callable[..., Settings],
) -> None:
    # A long grace: the test reads the stalled sockets only after publishing everything.
    settings = settings_factory(reader_buffer_bytes=64 * 1024, drop_grace_seconds=120)
    async with serve_in_process(settings) as url:
        editor = Editor(url)
        await editor.create_blog("stall")
        live = await WSReader(url, "/blogs/stall/ws").connect()
        ws_reader, ws_writer = await _stalled_websocket(url, "/blogs/stall/ws")
        await asyncio.sleep(0.2)
        for i in range(160):
            await editor.post("stall", headline=f"big {i}", body=BIG_BODY)
        assert [e.offset for e in await live.wait_for(160, timeout=60)] == list(range(1, 161))

        # The stalled WebSocket reader: a clean prefix of whole frames, then close 1013.
        texts, code = await _read_ws_frames(ws_reader)
        assert code == 1013
        assert 0 < len(texts) < 160
        assert [t.decode() for t in texts] == [e.raw for e in live.events[: len(texts)]]
        ws_writer.close()

        # It resumes from the last event it got, and gets exactly the rest. (The stalled SSE
        # reader, on both paths: tests/test_delivery.py.)
        last_ws = live.events[len(texts) - 1].id
        ws_again = await WSReader(url, f"/blogs/stall/ws?last_event_id={last_ws}").connect()
        rest_ws = await ws_again.wait_for(160 - len(texts), timeout=60)
        assert [e.offset for e in rest_ws] == list(range(len(texts) + 1, 161))
        for r in (live, ws_again):
            await r.close()
        await editor.close()


async def _ws_opcodes_until_close(reader: asyncio.StreamReader) -> tuple[list[int], int]:
    """Read server frames, answering nothing: (their opcodes, the close code)."""
    opcodes: list[int] = []
    async with asyncio.timeout(30):
        while True:
            first, length = await reader.readexactly(2)
            payload = await reader.readexactly(length)  # small frames only here
            opcodes.append(first & 0x0F)
            if first & 0x0F == 0x8:
                return opcodes, struct.unpack("!H", payload[:2])[0]


async def test_websockets_are_pinged_and_one_that_never_answers_is_let_go(
    settings_factory: Callable[..., Settings],
) -> None:
    async with serve_in_process(settings_factory(heartbeat_seconds=0.2)) as url:
        editor = Editor(url)
        await editor.create_blog("pings")
        answering = await WSReader(url, "/blogs/pings/ws").connect()  # its client answers pings
        silent_reader, silent_writer = await _stalled_websocket(url, "/blogs/pings/ws")
        opcodes, code = await _ws_opcodes_until_close(silent_reader)
        assert opcodes[0] == 0x9 and opcodes[-1] == 0x8  # pinged, then closed: 1011
        assert code == 1011
        silent_writer.close()

        await asyncio.sleep(1)  # five more heartbeats: the answering reader stays
        await editor.post("pings", headline="still here")
        (event,) = await answering.wait_for(1)
        assert event.data["data"]["headline"] == "still here"
        assert not answering.ended
        metrics = await scrape(editor.http)
        assert metrics["liveblog_unresponsive_sockets_closed_total"] == 1
        assert metrics["liveblog_connections{transport=ws}"] == 1
        await answering.close()
        await editor.close()


async def test_the_socket_inbox_keeps_order_and_loses_nothing_to_a_cancelled_wait() -> None:
    """The light stand-in for uvicorn's per-socket asyncio.Queue (what a client sends)."""
    inbox = _Inbox()
    inbox.put_nowait("first")
    inbox.put_nowait("second")
    assert await inbox.get() == "first"
    assert not inbox.empty()
    assert await inbox.get() == "second"
    assert inbox.empty()
    waiting = inbox.get()
    await asyncio.sleep(0)
    inbox.put_nowait("while waiting")
    assert await waiting == "while waiting"
    abandoned = inbox.get()
    abandoned.cancel()
    inbox.put_nowait("after a cancelled wait")
    assert await inbox.get() == "after a cancelled wait"


async def test_the_writable_flag_holds_writers_while_the_socket_is_full() -> None:
    """The light stand-in for uvicorn's per-socket "writable" asyncio.Event."""
    flag = _Flag()
    assert flag.is_set() and await flag.wait()
    flag.clear()  # pause_writing
    writers = [asyncio.create_task(flag.wait()) for _ in range(2)]
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in writers)
    flag.set()  # resume_writing
    assert await asyncio.gather(*writers) == [True, True]


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "plain"])
async def test_streams_run_on_uvloop_and_the_fast_path(
    settings_factory: Callable[..., Settings], fast_path: bool
) -> None:
    """The suite tests what ``liveblog serve`` runs: uvloop, and the fast path for every stream
    (the plain ASGI path only where a test asks for it)."""
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
    async with serve_in_process(settings_factory(), fast_path=fast_path) as url:
        editor = Editor(url)
        await editor.create_blog("path")
        readers: list[SSEReader | WSReader] = [
            *(SSEReader(url, "/blogs/path/events") for _ in range(3)),
            *(WSReader(url, "/blogs/path/ws") for _ in range(2)),
        ]
        for reader in readers:
            await reader.connect()
        await editor.post("path")
        for reader in readers:
            await reader.wait_for(1)
        samples = await scrape(editor.http)
        assert samples["liveblog_direct_connections"] == (5 if fast_path else 0)
        for reader in readers:
            await reader.close()
        await editor.close()


def test_the_installed_uvicorn_offers_what_the_fast_path_relies_on() -> None:
    """(A uvicorn without it: tests/test_private_surfaces.py.)"""
    assert private_surfaces.check(private_surfaces.FAST_PATH) is None
    http, ws = serving.protocols(Settings())
    assert (http.func, ws.func) == (DirectHttpToolsProtocol, DirectWebSocketProtocol)
    assert ws.keywords == {"deflate": True}
    assert serving.protocols(Settings(compression=False))[1].keywords == {"deflate": False}


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "plain"])
async def test_a_burst_reaches_each_reader_in_one_write(fast_path: bool) -> None:
    """Events that arrive in one loop turn (a burst read from pub/sub at once) are joined once
    per encoding and written to each live reader together: one write, not one per event."""
    app = create_app(Settings(demo=False, admin_token=ADMIN_TOKEN))
    async with serve_app(app, fast_path=fast_path) as url:
        editor = Editor(url)
        blog = await editor.create_blog("burst")
        epoch = blog["last_event_id"].rpartition("-")[0]
        readers: list[SSEReader | WSReader] = [
            *(SSEReader(url, "/blogs/burst/events") for _ in range(2)),
            *(WSReader(url, "/blogs/burst/ws") for _ in range(2)),
        ]
        for reader in readers:
            await reader.connect()
        before = await scrape(editor.http)
        hub = app.state.hub
        for offset in range(1, 21):  # twenty events handed over in one turn, as pub/sub would
            raw = json.dumps(
                {"id": f"{epoch}-{offset}", "type": "entry.deleted", "blog": "burst",
                 "data": {"id": f"e{offset}"}},
                separators=(",", ":"),
            )  # fmt: skip
            hub._on_message("burst", b"%f %s" % (time.time(), raw.encode()))
        for reader in readers:
            events = await reader.wait_for(20)
            assert [e.offset for e in events] == list(range(1, 21))
            assert [e.data["data"]["id"] for e in events] == [f"e{i}" for i in range(1, 21)]
        after = await scrape(editor.http)
        delivered = after["liveblog_deliveries_total"] - before["liveblog_deliveries_total"]
        writes = after["liveblog_reader_writes_total"] - before["liveblog_reader_writes_total"]
        assert (delivered, writes) == (80, 4)
        for reader in readers:
            await reader.close()
        await editor.close()


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "plain"])
async def test_a_busy_blog_reaches_readers_in_fewer_writes_nothing_lost(fast_path: bool) -> None:
    """Entries posted faster than one per coalescing window reach every reader once, in
    order, in fewer writes than entries; the first goes out at once."""
    settings = Settings(demo=False, admin_token=ADMIN_TOKEN, coalesce_ms=300)
    app = create_app(settings)
    async with serve_app(app, fast_path=fast_path) as url:
        editor = Editor(url)
        await editor.create_blog("busy")
        readers: list[SSEReader | WSReader] = [
            SSEReader(url, "/blogs/busy/events"), WSReader(url, "/blogs/busy/ws"),
        ]  # fmt: skip
        for reader in readers:
            await reader.connect()
        before = await scrape(editor.http)
        for i in range(8):
            await editor.post("busy", headline=f"busy {i}")
        for reader in readers:
            events = await reader.wait_for(8)
            assert [e.data["data"]["headline"] for e in events] == [f"busy {i}" for i in range(8)]
        after = await scrape(editor.http)
        delivered = after["liveblog_deliveries_total"] - before["liveblog_deliveries_total"]
        writes = after["liveblog_reader_writes_total"] - before["liveblog_reader_writes_total"]
        assert delivered == 16
        assert 2 <= writes < 16
        for reader in readers:
            await reader.close()
        await editor.close()

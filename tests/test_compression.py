"""Live events compressed once for every reader (docs/api.md "Compression").

SSE readers that accept gzip and WebSocket readers that offer permessage-deflate get every event
once, in order, the same as plain readers, through decoders the server does not share (zlib's
gzip decoder, the ``websockets`` library's extension); resume, coalescing, the slow-reader bound,
heartbeats and ``reset`` hold on both paths; and the server deflates each event once per
encoding however many readers take it (``frames.COMPRESSIONS``).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import os
import time
import zlib
from collections.abc import Callable

import pytest

from liveblog.app import create_app
from liveblog.config import Settings
from liveblog.delivery import frames
from tests.support.clients import Editor, Event, SSEReader, WSReader, stalled_reader
from tests.support.metrics import scrape
from tests.support.raw_ws import TEXT, RawSocket
from tests.support.raw_ws import frame as raw_frame
from tests.support.servers import ADMIN_TOKEN, serve_app, serve_in_process

BOTH_PATHS = pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "plain"])
NEGOTIATED = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
# Reporting of our own (no sentence from a real page), varied so that entries differ.
PARAGRAPHS = (
    "Firefighters say the blaze on the ridge above the valley is now two-thirds contained, "
    "though gusts forecast for the evening could push it back towards the reservoir.",
    "The council's emergency committee will meet again at six; a spokesperson said the "
    "evacuation order for the northern villages stays in place overnight.",
    "Our reporter at the relief centre describes queues for water and phone chargers, and "
    "volunteers handing out blankets to families who left with nothing.",
    "Rail services between the two towns resume tomorrow morning, the operator says, with "
    "a reduced timetable until the line has been inspected.",
)


def body(i: int) -> str:
    paragraphs = [PARAGRAPHS[(i + k) % len(PARAGRAPHS)] for k in range(3)]
    return "".join(f"<p>{p} (update {i})</p>" for p in paragraphs)


def offsets(events: list[Event]) -> list[int]:
    return [e.offset for e in events]


def deltas(before: collections.Counter[str]) -> dict[str, int]:
    return {kind: frames.COMPRESSIONS[kind] - before[kind] for kind in ("sse", "ws")}


async def connect_all(readers: list[SSEReader | WSReader]) -> None:
    await asyncio.gather(*(reader.connect() for reader in readers))
    await asyncio.sleep(0.1)


@BOTH_PATHS
@pytest.mark.parametrize("engine_name", ["redis"])
async def test_compressed_and_plain_readers_get_the_same_events(
    server: str, editor: Editor, fast_path: bool
) -> None:
    await editor.create_blog("mix")
    gzip = [SSEReader(server, "/blogs/mix/events", gzip=True) for _ in range(3)]
    plain = [SSEReader(server, "/blogs/mix/events") for _ in range(2)]
    deflate = [WSReader(server, "/blogs/mix/ws", deflate=True) for _ in range(3)]
    plain_ws = [WSReader(server, "/blogs/mix/ws") for _ in range(2)]
    readers: list[SSEReader | WSReader] = [*gzip, *plain, *deflate, *plain_ws]
    await connect_all(readers)
    for reader in gzip:
        assert reader.headers["content-encoding"] == "gzip"
        assert reader.headers["vary"] == "Accept-Encoding"
    for reader in plain:
        assert "content-encoding" not in reader.headers
    for ws in deflate:
        # Only the fast path writes shared compressed frames; through ASGI the server would
        # compress per socket, so the plain path declines the offer.
        assert ws.extensions == (NEGOTIATED if fast_path else None)
    assert all(ws.extensions is None for ws in plain_ws)

    # One at a time, then bursts posted together (coalesced into shared batches).
    for i in range(6):
        await editor.post("mix", headline=f"one {i}", body=body(i))
    for start in (6, 16):
        await asyncio.gather(
            *(
                editor.post("mix", headline=f"burst {i}", body=body(i))
                for i in range(start, start + 10)
            )
        )
    expected = [e.raw for e in await plain[0].wait_for(26)]
    assert offsets(plain[0].events) == list(range(1, 27))
    for reader in readers:
        assert [e.raw for e in await reader.wait_for(26)] == expected  # once each, in order
    await asyncio.sleep(0.2)
    assert all(len(reader.events) == 26 for reader in readers)
    # What the wire carried: the same events in fewer bytes.
    assert gzip[0].wire_bytes < 0.75 * plain[0].wire_bytes
    for reader in readers:
        assert not reader.ended
        await reader.close()


@BOTH_PATHS
async def test_each_event_is_compressed_once_however_many_readers(
    settings_factory: Callable[..., Settings], fast_path: bool
) -> None:
    async with serve_in_process(settings_factory(), fast_path=fast_path) as url:
        editor = Editor(url)
        await editor.create_blog("crowd")
        readers: list[SSEReader | WSReader] = [
            *(SSEReader(url, "/blogs/crowd/events", gzip=True) for _ in range(40)),
            *(WSReader(url, "/blogs/crowd/ws", deflate=True) for _ in range(40)),
        ]
        await connect_all(readers)
        before = collections.Counter(frames.COMPRESSIONS)
        scraped = await scrape(editor.http)
        for i in range(5):
            await editor.post("crowd", headline=f"e{i}", body=body(i))
            for reader in readers:  # each event alone: one flush per event
                await reader.wait_for(i + 1)
        # 80 readers, 5 events: one deflate run per event and encoding, not one per reader.
        assert deltas(before) == {"sse": 5, "ws": 5 if fast_path else 0}
        # What an operator sees of it.
        after = await scrape(editor.http)
        assert after["liveblog_compressed_connections"] == (80 if fast_path else 40)
        runs = {
            kind: after[f"liveblog_event_compressions_total{{transport={kind}}}"]
            - scraped[f"liveblog_event_compressions_total{{transport={kind}}}"]
            for kind in ("sse", "ws")
        }
        assert runs == {"sse": 5, "ws": 5 if fast_path else 0}
        for reader in readers:
            assert offsets(reader.events) == [1, 2, 3, 4, 5]
            await reader.close()
        await editor.close()


@BOTH_PATHS
async def test_a_burst_is_compressed_once_per_batch(fast_path: bool) -> None:
    """Events of one loop turn are written to each reader together, and the SSE batch is
    deflated as one text: one deflate run for the batch, however many readers."""
    app = create_app(Settings(demo=False, admin_token=ADMIN_TOKEN))
    async with serve_app(app, fast_path=fast_path) as url:
        editor = Editor(url)
        blog = await editor.create_blog("burst")
        epoch = blog["last_event_id"].rpartition("-")[0]
        readers: list[SSEReader | WSReader] = [
            *(SSEReader(url, "/blogs/burst/events", gzip=True) for _ in range(3)),
            *(WSReader(url, "/blogs/burst/ws", deflate=True) for _ in range(3)),
        ]
        await connect_all(readers)
        before = collections.Counter(frames.COMPRESSIONS)
        for offset in range(1, 21):  # handed over in one turn, as pub/sub would
            raw = json.dumps(
                {"id": f"{epoch}-{offset}", "type": "entry.deleted", "blog": "burst",
                 "data": {"id": f"e{offset}", "note": PARAGRAPHS[offset % 4]}},
                separators=(",", ":"),
            )  # fmt: skip
            app.state.hub._on_message("burst", b"%f %s" % (time.time(), raw.encode()))
        for reader in readers:
            events = await reader.wait_for(20)
            assert offsets(events) == list(range(1, 21))
            assert [e.data["data"]["id"] for e in events] == [f"e{i}" for i in range(1, 21)]
        # WebSocket messages stay one per event (each deflated once, shared by every socket).
        assert deltas(before) == {"sse": 1, "ws": 20 if fast_path else 0}
        for reader in readers:
            await reader.close()
        await editor.close()


@BOTH_PATHS
@pytest.mark.parametrize("engine_name", ["redis"])
async def test_readers_resuming_together_share_the_compressed_history(
    server: str, editor: Editor, fast_path: bool
) -> None:
    """A crowd coming back with the same Last-Event-ID (a restart elsewhere) is sent the
    events it missed from the frames this process already delivered: compressed once."""
    await editor.create_blog("back")
    watcher = await SSEReader(server, "/blogs/back/events").connect()  # plain: no gzip made
    for i in range(6):
        await editor.post("back", headline=f"e{i}", body=body(i))
    await watcher.wait_for(6)
    since = watcher.events[1].id
    crowd: list[SSEReader | WSReader] = [
        *(SSEReader(server, "/blogs/back/events", gzip=True, last_event_id=since)
          for _ in range(15)),
        *(WSReader(server, f"/blogs/back/ws?last_event_id={since}", deflate=True)
          for _ in range(15)),
    ]  # fmt: skip
    before = collections.Counter(frames.COMPRESSIONS)
    await connect_all(crowd)
    for reader in crowd:
        assert offsets(await reader.wait_for(4)) == [3, 4, 5, 6]
        assert [e.raw for e in reader.events] == [e.raw for e in watcher.events[2:]]
    assert deltas(before) == {"sse": 4, "ws": 4 if fast_path else 0}
    await editor.post("back", headline="live again")  # and then they are live
    for reader in crowd:
        assert offsets(await reader.wait_for(5)) == [3, 4, 5, 6, 7]
    for reader in [*crowd, watcher]:
        await reader.close()


def dechunk(body: bytes) -> tuple[bytes, bool]:
    """The payload of a chunked body, and whether its last chunk came."""
    out, rest = b"", body
    while b"\r\n" in rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return out, True
        out, rest = out + rest[:size], rest[size + 2 :]
    return out, False


@BOTH_PATHS
async def test_a_stalled_compressed_reader_is_dropped_while_others_go_on(
    settings_factory: Callable[..., Settings], fast_path: bool
) -> None:
    settings = settings_factory(reader_buffer_bytes=64 * 1024, drop_grace_seconds=120)
    async with serve_in_process(settings, fast_path=fast_path) as url:
        editor = Editor(url)
        await editor.create_blog("slow")
        others = [await SSEReader(url, "/blogs/slow/events", gzip=True).connect() for _ in range(2)]
        reader, writer = await stalled_reader(
            url, "/blogs/slow/events", "Accept-Encoding: gzip\r\n"
        )
        await asyncio.sleep(0.2)
        # Text that deflate cannot shrink much (~37 KB each once compressed, 6 MB in all), so
        # the compressed stream outgrows the socket buffers as a plain one would.
        for i in range(160):
            noise = base64.b64encode(os.urandom(36_000)).decode()
            await editor.post("slow", headline=f"big {i}", body=f"<p>{noise}</p>")
        for r in others:
            assert offsets(await r.wait_for(160, timeout=60)) == list(range(1, 161))

        received = b""
        async with asyncio.timeout(60):
            while not received.endswith(b"0\r\n\r\n"):
                chunk = await reader.read(65536)
                assert chunk, "connection closed without the final chunk"
                received += chunk
        head, _, raw_body = received.partition(b"\r\n\r\n")
        assert b"content-encoding: gzip" in head.lower()
        payload, ended = dechunk(raw_body)
        assert ended
        text = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(payload).decode()
        ids = [line[4:] for line in text.split("\n") if line.startswith("id: ")]
        assert 0 < len(ids) < 160
        assert ids[-1].endswith(f"-{len(ids)}")  # a clean prefix, in order
        writer.close()

        resumed = SSEReader(url, "/blogs/slow/events", gzip=True, last_event_id=ids[-1])
        rest = await (await resumed.connect()).wait_for(160 - len(ids), timeout=60)
        assert offsets(rest) == list(range(len(ids) + 1, 161))
        for r in [*others, resumed]:
            await r.close()
        await editor.close()


@BOTH_PATHS
async def test_heartbeats_and_resets_are_compressed_too(
    settings_factory: Callable[..., Settings], fast_path: bool
) -> None:
    settings = settings_factory(heartbeat_seconds=0.1)
    async with serve_in_process(settings, fast_path=fast_path) as url:
        editor = Editor(url)
        await editor.create_blog("quiet")
        # An id from an epoch the blog never had: the reader is told to reload.
        sse = SSEReader(url, "/blogs/quiet/events", gzip=True, last_event_id="gone-5")
        ws = WSReader(url, "/blogs/quiet/ws?last_event_id=gone-5", deflate=True)
        await connect_all([sse, ws])
        for reader in (sse, ws):
            (reset,) = await reader.wait_for(1)
            assert (reset.type, reset.data["data"]["reason"]) == ("reset", "history epoch changed")
        async with asyncio.timeout(10):  # heartbeats inflate from the same stream
            while sse.comments < 3:
                await asyncio.sleep(0.05)
        await editor.post("quiet", headline="after the reset")
        assert (await sse.wait_for(2))[1].data["data"]["headline"] == "after the reset"
        assert (await ws.wait_for(2))[1].data["data"]["headline"] == "after the reset"
        assert not ws.ended  # pings answered: the compressed socket stays up
        for reader in (sse, ws):
            await reader.close()
        await editor.close()


@BOTH_PATHS
async def test_a_compressed_stream_ends_cleanly_with_its_gzip_member_open(
    fast_path: bool,
) -> None:
    """At the server's end (here a shutdown) the response ends with its last chunk. The gzip
    member is left open (no trailer: its CRC-32 would differ per reader); every event before
    the end has been inflated, nothing is left over, and the client resumes by id."""
    app = create_app(Settings(demo=False, admin_token=ADMIN_TOKEN))
    async with serve_app(app, fast_path=fast_path) as url:
        editor = Editor(url)
        await editor.create_blog("end")
        reader = await SSEReader(url, "/blogs/end/events", gzip=True).connect()
        await asyncio.sleep(0.1)
        await editor.post("end", headline="last words", body=body(1))
        await reader.wait_for(1)
        app.state.hub.shutdown_readers()
        await reader.wait_ended()
        assert reader.clean_end
        assert reader.decoder is not None and not reader.decoder.eof
        assert reader.decoder.unconsumed_tail == b"" and reader.decoder.unused_data == b""
        assert [e.data["data"]["headline"] for e in reader.events] == ["last words"]
        await reader.close()
        await editor.close()


async def test_compression_off_sends_plain_bytes(settings_factory: Callable[..., Settings]) -> None:
    async with serve_in_process(settings_factory(compression=False)) as url:
        editor = Editor(url)
        await editor.create_blog("plain")
        sse = SSEReader(url, "/blogs/plain/events", gzip=True)
        ws = WSReader(url, "/blogs/plain/ws", deflate=True)
        await connect_all([sse, ws])
        assert "content-encoding" not in sse.headers and "vary" not in sse.headers
        assert ws.extensions is None
        before = collections.Counter(frames.COMPRESSIONS)
        await editor.post("plain", headline="as it is")
        for reader in (sse, ws):
            assert (await reader.wait_for(1))[0].data["data"]["headline"] == "as it is"
            await reader.close()
        assert deltas(before) == {"sse": 0, "ws": 0}
        await editor.close()


async def _frames(socket: RawSocket, count: int) -> list[bytes]:
    """``count`` whole server frames, as they came (header and payload)."""
    out = []
    async with asyncio.timeout(10):
        while len(out) < count:
            head = await socket.reader.readexactly(2)
            length = head[1] & 0x7F
            extended = b""
            if length == 126:
                extended = await socket.reader.readexactly(2)
                length = int.from_bytes(extended, "big")
            elif length == 127:
                extended = await socket.reader.readexactly(8)
                length = int.from_bytes(extended, "big")
            out.append(head + extended + await socket.reader.readexactly(length))
    return out


def _payload(frame: bytes) -> bytes:
    length = frame[1] & 0x7F
    return frame[2 + {126: 2, 127: 8}.get(length, 0) :]


async def test_deflated_frames_are_the_same_bytes_on_every_socket(
    server: str, editor: Editor
) -> None:
    await editor.create_blog("same")
    offer = "permessage-deflate; client_max_window_bits"
    sockets = [
        await RawSocket.connect(server, "/blogs/same/ws", Sec_WebSocket_Extensions=offer)
        for _ in range(3)
    ]
    narrow = await RawSocket.connect(
        server,
        "/blogs/same/ws",
        Sec_WebSocket_Extensions="permessage-deflate; server_max_window_bits=10",
    )
    assert {s.status for s in [*sockets, narrow]} == {101}
    await asyncio.sleep(0.1)
    posted = [await editor.post("same", headline=f"s{i}", body=body(i)) for i in range(3)]
    got = [await _frames(socket, 3) for socket in sockets]
    assert got[0] == got[1] == got[2]  # one frame per event, shared
    for frame, entry in zip(got[0], posted, strict=True):
        assert frame[0] == 0xC1  # FIN, RSV1 (compressed), text
        message = zlib.decompressobj(-zlib.MAX_WBITS).decompress(
            _payload(frame) + b"\x00\x00\xff\xff"
        )
        assert json.loads(message)["data"] == entry
    # An offer that narrows the server's window is declined: plain frames, not frames of its own.
    for frame, entry in zip(await _frames(narrow, 3), posted, strict=True):
        assert frame[0] == 0x81
        assert json.loads(_payload(frame))["data"] == entry
    for socket in [*sockets, narrow]:
        socket.writer.close()


async def test_a_dashboard_sends_compressed_ops_whole_or_in_fragments(
    server: str, editor: Editor
) -> None:
    """What clients send on a deflated socket is inflated message by message (the socket keeps
    no decompressor in between): ops deflated by the websockets library, and an op deflated by
    hand and split over two frames."""
    await editor.create_blog("north")
    await editor.create_blog("south")
    dashboard = await WSReader(server, "/ws", deflate=True).connect()
    assert dashboard.extensions == NEGOTIATED
    await dashboard.send({"op": "subscribe", "blog": "north"})  # the library deflates it

    raw = await RawSocket.connect(
        server, "/ws", Sec_WebSocket_Extensions="permessage-deflate; client_max_window_bits"
    )
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    op = json.dumps({"op": "subscribe", "blog": "south"}).encode()
    deflated = (compressor.compress(op) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    half = len(deflated) // 2
    raw.send(raw_frame(TEXT, deflated[:half], fin=False, rsv=0b100))  # RSV1: compressed
    raw.send(raw_frame(0x0, deflated[half:], fin=True))  # a continuation
    await asyncio.sleep(0.2)
    north = await editor.post("north", headline="n1")
    south = await editor.post("south", headline="s1")
    assert (await dashboard.wait_for(1))[0].data["data"] == north
    (frame,) = await _frames(raw, 1)
    message = zlib.decompressobj(-zlib.MAX_WBITS).decompress(_payload(frame) + b"\x00\x00\xff\xff")
    assert json.loads(message)["data"] == south
    await dashboard.close()
    raw.writer.close()

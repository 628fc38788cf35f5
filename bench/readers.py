"""SSE and WebSocket readers as raw asyncio Protocols, and the reader worker process.

A worker process opens its share of the readers, says when they are all connected, then answers
one-line JSON commands on stdin (``status``, ``collect``, ``quit``) with one-line JSON on stdout.
Per delivery a reader does one ``bytes.find`` for the marker, two ``int()`` and one append:
no JSON decoding, no per-event objects.

Every reader counts the bytes of its stream's body as they came off the socket (``wire``:
framing, heartbeats and all). With ``compress`` a reader asks for compression as a browser does
(``Accept-Encoding: gzip`` on SSE, a ``permessage-deflate`` offer on WebSocket) and inflates
what the server compressed before scanning it: the generator then pays what a phone pays.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import resource
import socket
import sys
import tempfile
import time
import zlib
from array import array
from time import time_ns
from typing import Any, cast

from payload import MARK
from wire import (
    HEAD_END,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Dechunker,
    ResponseHead,
    request,
    ws_accept,
    ws_client_frame,
    ws_key,
    ws_upgrade_request,
)

_MARK_LEN = len(MARK)
_GROW = 4096


class Tally:
    """Counters shared by every reader of one worker process."""

    __slots__ = ("closed", "coded", "dups", "errors", "lat", "uniq", "wire")

    def __init__(self) -> None:
        self.uniq = 0
        self.dups = 0
        self.closed = 0
        self.wire = 0  # body bytes received, as they came (compressed or not)
        self.coded = 0  # readers whose server compressed their stream
        self.errors: dict[str, int] = {}
        self.lat = array("q")  # publish-to-receive latency of each unique delivery, in us

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


class Reader(asyncio.Protocol):
    """Common part: send the request, read the response head, scan the body for markers."""

    __slots__ = (
        "compress", "head", "headbuf", "inflate", "live_at_head", "mpend", "plain", "ready",
        "seen", "tally", "transport",
    )  # fmt: skip

    def __init__(self, tally: Tally, ready: asyncio.Future[None], compress: bool = False) -> None:
        self.tally = tally
        self.ready = ready
        self.compress = compress  # ask for a compressed stream
        self.inflate: Any = None  # the stream's decoder, when the server compressed it
        self.transport: asyncio.Transport | None = None
        self.head: ResponseHead | None = None
        self.headbuf = b""
        self.mpend = b""  # a marker split across reads
        self.seen = bytearray(_GROW)
        self.plain = False  # body is the event stream as is: scan it directly
        self.live_at_head = True  # live once the response head is in (else the reader says)

    def request_bytes(self) -> bytes:
        raise NotImplementedError

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        transport.write(self.request_bytes())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before response: {exc}"))
        elif not self.ready.cancelled() and self.ready.exception() is None:
            # a reader that was live, not a refused or timed-out attempt
            self.tally.closed += 1

    def data_received(self, data: bytes) -> None:
        if self.plain:
            self.tally.wire += len(data)
            self.scan(data, 0, len(data), time_ns())
            return
        if self.head is not None:
            self.tally.wire += len(data)
            self.body(data, time_ns())
            return
        buf = self.headbuf + data
        end = buf.find(HEAD_END)
        if end < 0:
            self.headbuf = buf
            return
        self.headbuf = b""
        self.head = ResponseHead(buf[:end])
        problem = self.check_head(self.head)
        if problem:
            detail = buf[end + 4 : end + 200].decode("utf-8", "replace")
            self.ready.set_exception(ConnectionError(f"{problem} {detail}".strip()))
            assert self.transport is not None
            self.transport.close()
            return
        if self.live_at_head:
            self.ready.set_result(None)
        if self.compressed():
            self.tally.coded += 1
        rest = buf[end + 4 :]
        if rest:
            self.tally.wire += len(rest)
            self.body(rest, time_ns())

    def check_head(self, head: ResponseHead) -> str | None:
        raise NotImplementedError

    def compressed(self) -> bool:
        """The server compresses this stream (known once the head is in)."""
        return self.inflate is not None

    def body(self, data: bytes, now: int) -> None:
        raise NotImplementedError

    def scan_coded(self, buf: bytes, start: int, end: int, now: int) -> None:
        """``scan`` what the stream's decoder makes of ``buf[start:end]``."""
        data = self.inflate.decompress(buf[start:end])
        self.scan(data, 0, len(data), now)

    def scan(self, buf: bytes, start: int, end: int, now: int) -> None:
        """Find every ``#LB<seq>:<t_ns>#`` marker in ``buf[start:end]``.

        The hot path of the generator: locals only, no objects beyond two small ints.
        """
        if self.mpend:
            buf = self.mpend + buf[start:end]
            start, end = 0, len(buf)
            self.mpend = b""
        # memchr for '#' is several times faster than a 3-byte find
        i = buf.find(b"#", start, end)
        if i >= 0:
            seen = self.seen
            tally = self.tally
            while True:
                if i + 2 >= end:
                    break  # '#' or '#L' at the very end: kept below
                if buf[i + 1] != 0x4C or buf[i + 2] != 0x42:  # not "#LB"
                    i = buf.find(b"#", i + 1, end)
                    if i < 0:
                        break
                    continue
                i += _MARK_LEN
                j = buf.find(b"#", i, end)
                if j < 0:
                    self.mpend = buf[i - _MARK_LEN : end]
                    return
                c = buf.find(b":", i, j)
                seq = int(buf[i:c])
                if seq >= len(seen):
                    seen.extend(bytes(seq - len(seen) + _GROW))
                if seen[seq]:
                    tally.dups += 1
                else:
                    seen[seq] = 1
                    tally.uniq += 1
                    tally.lat.append((now - int(buf[c + 1 : j])) // 1000)
                i = buf.find(b"#", j + 1, end)
                if i < 0:
                    break
        # a marker may begin in the last bytes: '#' or '#L'
        last = buf[end - 1] if end > start else 0
        if last == 0x23:
            self.mpend = b"#"
        elif last == 0x4C and end - start > 1 and buf[end - 2] == 0x23:
            self.mpend = b"#L"


class SSEReader(Reader):
    __slots__ = ("dechunk", "host", "path", "port")

    def __init__(
        self,
        tally: Tally,
        ready: asyncio.Future[None],
        host: str,
        port: int,
        path: str,
        compress: bool = False,
    ) -> None:
        super().__init__(tally, ready, compress)
        self.host, self.port, self.path = host, port, path
        self.dechunk: Dechunker | None = None

    def request_bytes(self) -> bytes:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.compress:
            headers["Accept-Encoding"] = "gzip"
        return request("GET", self.host, self.port, self.path, headers)

    def check_head(self, head: ResponseHead) -> str | None:
        if head.status != 200:
            return f"status {head.status}"
        if "text/event-stream" not in head.headers.get("content-type", ""):
            return f"content-type {head.headers.get('content-type')!r}"
        coding = head.headers.get("content-encoding", "identity")
        if coding == "gzip":
            self.inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        elif coding != "identity":
            return f"content-encoding {coding!r}"
        if head.chunked:
            self.dechunk = Dechunker()
        elif self.inflate is None:
            self.plain = True
        return None

    def body(self, data: bytes, now: int) -> None:
        if self.inflate is not None:
            self.body_coded(data, now)
            return
        dechunk = self.dechunk
        if dechunk is None:
            self.scan(data, 0, len(data), now)
            return
        if not (dechunk.remaining or dechunk.skip or dechunk.line):
            # fast path: exactly one whole chunk, as servers write one per event
            eol = data.find(b"\r\n")
            if eol > 0:
                try:
                    size = int(data[:eol], 16)
                except ValueError:
                    size = 0
                if size and eol + size + 4 == len(data):
                    self.scan(data, eol + 2, eol + 2 + size, now)
                    return
        buf, spans = dechunk.feed(data)
        for start, end in spans:
            self.scan(buf, start, end, now)
        if self.dechunk.done and self.transport is not None:
            self.transport.close()

    def body_coded(self, data: bytes, now: int) -> None:
        dechunk = self.dechunk
        if dechunk is None:
            self.scan_coded(data, 0, len(data), now)
            return
        buf, spans = dechunk.feed(data)
        for start, end in spans:
            self.scan_coded(buf, start, end, now)
        if dechunk.done and self.transport is not None:
            self.transport.close()


class WSReader(Reader):
    __slots__ = ("deflate", "frag", "frag_coded", "host", "key", "path", "pending", "port")

    def __init__(
        self,
        tally: Tally,
        ready: asyncio.Future[None],
        host: str,
        port: int,
        path: str,
        compress: bool = False,
    ) -> None:
        super().__init__(tally, ready, compress)
        self.host, self.port, self.path = host, port, path
        self.key = ws_key()
        self.pending = b""
        self.frag = b""
        self.frag_coded = False
        self.deflate = False  # permessage-deflate negotiated

    def request_bytes(self) -> bytes:
        return ws_upgrade_request(self.host, self.port, self.path, self.key, self.compress)

    def check_head(self, head: ResponseHead) -> str | None:
        if head.status != 101:
            return f"status {head.status}"
        if head.headers.get("sec-websocket-accept") != ws_accept(self.key):
            return "bad Sec-WebSocket-Accept"
        extensions = head.headers.get("sec-websocket-extensions", "")
        if "permessage-deflate" in extensions:
            self.deflate = True
            # Without server_no_context_takeover the server's messages refer to earlier ones:
            # one decoder for the whole socket. With it, a fresh one per message (inflate_ws).
            if "server_no_context_takeover" not in extensions:
                self.inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        return None

    def compressed(self) -> bool:
        # Negotiated is not compressed: a server may accept the offer and still send plain
        # frames (RSV1 clear), as Nchan does unless told to deflate its messages.
        return self.deflate

    def inflate_ws(self, payload: bytes, now: int) -> None:
        """Scan a compressed message (RFC 7692: its deflate data less the sync flush's tail)."""
        decoder = self.inflate or zlib.decompressobj(-zlib.MAX_WBITS)
        data = decoder.decompress(payload + b"\x00\x00\xff\xff")
        self.scan(data, 0, len(data), now)

    def body(self, data: bytes, now: int) -> None:
        if not self.pending and not self.frag and data[0] == 0x81:
            # fast path: exactly one whole unmasked text frame
            size = data[1]
            if size == 126:
                hdr, size = 4, (data[2] << 8) | data[3]
            elif size < 126:
                hdr = 2
            else:
                hdr, size = 10, 0
            if size and hdr + size == len(data):
                self.scan(data, hdr, hdr + size, now)
                return
        buf = self.pending + data if self.pending else data
        pos = 0
        n = len(buf)
        while n - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            size = b1 & 0x7F
            hdr = 2
            if size == 126:
                if n - pos < 4:
                    break
                size = (buf[pos + 2] << 8) | buf[pos + 3]
                hdr = 4
            elif size == 127:
                if n - pos < 10:
                    break
                size = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                hdr = 10
            if b1 & 0x80:
                self.tally.error("masked server frame")
                self.close()
                return
            end = pos + hdr + size
            if end > n:
                break
            op = b0 & 0x0F
            fin = b0 & 0x80
            if op in (OP_TEXT, OP_BINARY, OP_CONT):
                coded = bool(b0 & 0x40) if op != OP_CONT else self.frag_coded  # RSV1
                if fin and not self.frag:
                    if coded and self.deflate:
                        self.inflate_ws(buf[pos + hdr : end], now)
                    else:
                        self.scan(buf, pos + hdr, end, now)
                else:
                    self.frag += buf[pos + hdr : end]
                    self.frag_coded = coded
                    if fin:
                        if coded and self.deflate:
                            self.inflate_ws(self.frag, now)
                        else:
                            self.scan(self.frag, 0, len(self.frag), now)
                        self.frag = b""
            elif op == OP_PING:
                self.send(ws_client_frame(OP_PONG, buf[pos + hdr : end]))
            elif op == OP_CLOSE:
                self.send(ws_client_frame(OP_CLOSE, buf[pos + hdr : pos + hdr + 2]))
                self.close()
                return
            pos = end
        self.pending = buf[pos:] if pos < n else b""

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def goodbye(self) -> None:
        self.send(ws_client_frame(OP_CLOSE, b"\x03\xe8"))


class SIOReader(WSReader):
    """A Socket.IO 4 client over Engine.IO 4's WebSocket transport, the least of it: the open
    packet (``0{...}``) is answered with a connect to the main namespace naming the blog in its
    auth payload (``40{"blog":...}``, the blog given as ``blog``), the server's
    ping (``2``) with a pong (``3``); the reader is live when the connect is acknowledged
    (``40{"sid":...}``: the server has joined it to its blog's room by then), and every event
    (``42["event",{...}]``) is scanned for its marker like any other frame."""

    __slots__ = ("connect",)

    def __init__(
        self,
        tally: Tally,
        ready: asyncio.Future[None],
        host: str,
        port: int,
        path: str,
        compress: bool = False,
        blog: str = "",
    ) -> None:
        super().__init__(tally, ready, host, port, path, compress)
        self.live_at_head = False
        self.connect = b'40{"blog":"%s"}' % blog.encode()

    def scan(self, buf: bytes, start: int, end: int, now: int) -> None:
        first = buf[start] if end > start else 0
        if first == 0x34:  # "4": a Socket.IO packet; "42" events are scanned below
            if end - start >= 2 and buf[start + 1] == 0x30 and not self.ready.done():
                self.ready.set_result(None)  # "40": connected to the namespace
                return
        elif first == 0x32 and end - start == 1:  # "2": ping
            self.send(ws_client_frame(OP_TEXT, b"3"))
            return
        elif first == 0x30:  # "0": Engine.IO open
            self.send(ws_client_frame(OP_TEXT, self.connect))
            return
        super().scan(buf, start, end, now)


READERS: dict[str, type[Reader]] = {"sse": SSEReader, "ws": WSReader, "sio": SIOReader}


# --- worker process --------------------------------------------------------------------------


def raise_nofile(want: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        try:  # root may raise the hard limit (up to fs.nr_open)
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            want = hard
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return max(soft, want)


IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)  # Linux >= 4.2


async def connect_from(source: str, host: str, port: int) -> socket.socket:
    """A TCP socket connected from ``source``: a source address of its own gives a worker its
    own ~28,000 client ports. The port is picked at connect, not at bind
    (IP_BIND_ADDRESS_NO_PORT): bind-then-connect otherwise searches the port space for each
    socket and slows down as the count grows."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((source, 0))
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def connect_all(
    cfg: dict[str, Any], tally: Tally
) -> tuple[list[Reader], dict[str, int], dict[str, int]]:
    """Open ``count`` readers, ``concurrency`` handshakes at a time.

    A refused attempt is retried after a pause, as a browser's EventSource would: the result
    keeps both the readers that never got in (``failures``) and the refusals (``retried``).
    """
    loop = asyncio.get_running_loop()
    host, port, path = cfg["host"], cfg["port"], cfg["path"]
    source = cfg.get("source")
    cls = READERS[cfg["transport"]]
    extra = {"blog": cfg["blog"]} if cls is SIOReader else {}
    compress = bool(cfg.get("compress"))
    sem = asyncio.Semaphore(cfg.get("concurrency", 200))
    timeout = cfg.get("connect_timeout", 30.0)
    attempts = cfg.get("attempts", 10)
    readers: list[Reader] = []
    failures: dict[str, int] = {}
    retried: dict[str, int] = {}

    async def attempt() -> Reader:
        ready: asyncio.Future[None] = loop.create_future()
        proto = cls(tally, ready, host, port, path, compress, **extra)
        try:
            if source:
                sock = await asyncio.wait_for(connect_from(source, host, port), timeout)
                await loop.create_connection(lambda: proto, sock=sock)
            else:
                connect = loop.create_connection(lambda: proto, host, port)
                await asyncio.wait_for(connect, timeout)
            await asyncio.wait_for(ready, timeout)
        except BaseException:
            if proto.transport is not None:
                proto.transport.close()
            raise
        return proto

    async def one() -> None:
        for n in range(attempts):
            try:
                async with sem:
                    readers.append(await attempt())
                return
            except (OSError, TimeoutError, ConnectionError) as exc:
                kind = f"{type(exc).__name__}: {exc}"[:240]
                table = failures if n == attempts - 1 else retried
                table[kind] = table.get(kind, 0) + 1
                await asyncio.sleep(min(2.0, 0.1 * 2**n) * (0.5 + random.random()))

    await asyncio.gather(*(one() for _ in range(cfg["count"])))
    return readers, failures, retried


def reply(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


async def worker(cfg: dict[str, Any]) -> None:
    raise_nofile(cfg["count"] + 1024)
    tally = Tally()
    started = time.monotonic()
    readers, failures, retried = await connect_all(cfg, tally)
    reply(
        {
            "event": "connected",
            "ok": len(readers),
            "failed": sum(failures.values()),
            "failures": failures,
            "retried": retried,
            "seconds": round(time.monotonic() - started, 2),
        }
    )
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    while line := await stdin.readline():
        cmd = json.loads(line)["cmd"]
        state = {
            "uniq": tally.uniq, "dups": tally.dups, "closed": tally.closed, "wire": tally.wire,
            "coded": tally.coded,
        }  # fmt: skip
        if cmd == "status":
            reply(state)
        elif cmd == "collect":
            fd, name = tempfile.mkstemp(prefix="lat-", suffix=".bin", dir=cfg.get("tmpdir"))
            with os.fdopen(fd, "wb") as fh:
                tally.lat.tofile(fh)
            reply({**state, "file": name, "n": len(tally.lat), "errors": tally.errors})
            tally.lat = array("q")
        elif cmd == "quit":
            break
    for reader in readers:
        if isinstance(reader, WSReader):
            reader.goodbye()
        if reader.transport is not None:
            reader.transport.close()
    await asyncio.sleep(0.2)
    with contextlib.suppress(BrokenPipeError):
        reply({"event": "bye"})


def main() -> None:
    cfg = json.loads(sys.argv[1])
    try:
        import uvloop
    except ImportError:  # still works, only slower
        asyncio.run(worker(cfg))
    else:
        uvloop.run(worker(cfg))


if __name__ == "__main__":
    main()

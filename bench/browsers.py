"""Browsers, as a crowd brings them: a page with its files, then a live stream kept for good.

A worker process (one per source address 127.0.0.<n>, several per run) holds its share of the
crowd. Each browser, at its own arrival time:

1. loads the page as a browser does (``page``): the HTML, then its stylesheet, icon, script and
   modules over a few keep-alive connections (``conns``), asking for ``gzip, deflate, br``; a
   returning browser (``returning`` of them) has the versioned files in its cache (they are
   ``immutable``) and revalidates the others with ``If-None-Match``;
2. opens its event stream (SSE) from the position its page showed (``?last_event_id=`` read
   from the page's ``data-last-event-id``), as the reader script does;
3. keeps it: a stream that ends (a server restarting) is opened again after a random wait
   within ``resume_spread_ms`` ("full jitter", the reader script's behaviour), with
   ``Last-Event-ID``; an attempt that fails waits longer and longer (0.5 s doubling to 30 s,
   "equal jitter"). With ``client: native`` it waits instead exactly what the server's last
   ``retry:`` said (3 s without one), as a browser's own EventSource does.

Each browser records when it arrived, when its page was complete, when its stream went live,
and every stream it lost and got back; each event it receives is counted by the sequence number
in its marker (loss and duplicates), its publish-to-receive latency kept apart for events
published while this browser was live and for those it caught up on after (re)connecting.

The worker answers one-line JSON commands on stdin (``status``, ``collect``, ``quit``), like
``readers.py``. Everything connects to 127.0.0.1 only, and every browser gives up after a
bounded number of attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
import zlib
from array import array
from dataclasses import dataclass
from time import time_ns
from typing import Any, cast

from payload import MARK
from readers import IP_BIND_ADDRESS_NO_PORT, raise_nofile
from wire import HEAD_END, Dechunker, ResponseHead, request

_MARK_LEN = len(MARK)
_DATA_ID = b'data-last-event-id="'
ACCEPT_HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ACCEPT_ENCODING = "gzip, deflate, br"
USER_AGENT = "Mozilla/5.0 (Linux; Android 14) bench-crowd"
FIRST_DELAY_S, MAX_DELAY_S = 0.5, 30.0  # web/static/reader/stream.js
NATIVE_RETRY_MS = 3000  # Chromium's EventSource, when the server gives no retry:
MAX_ATTEMPTS = 12  # a browser that cannot get in after this many tries is counted as failed


@dataclass
class Asset:
    path: str
    cached: bool  # immutable and versioned: a returning browser does not ask
    etag: str | None  # a returning browser revalidates with this


class Browser:
    """One reader across its connections."""

    __slots__ = (
        "arrive_ns", "dups", "failed", "gaps", "last_id", "live_ns", "max_seq", "out_of_order",
        "page_bytes", "page_done_ns", "page_requests", "page_sent_ns", "page_status", "retry_ms",
        "returning", "seen", "stream", "streams", "uniq",
    )  # fmt: skip

    def __init__(self, arrive_ns: int, returning: bool) -> None:
        self.arrive_ns = arrive_ns  # when it was due to arrive
        self.returning = returning
        self.page_sent_ns = 0  # when it actually sent its first request
        self.page_done_ns = 0
        self.page_bytes = 0
        self.page_requests = 0
        self.page_status: dict[int, int] = {}
        self.live_ns = 0  # first stream live
        self.last_id = ""
        self.retry_ms = NATIVE_RETRY_MS  # the server's last retry: hint
        self.seen = bytearray(256)
        self.uniq = 0
        self.dups = 0
        self.max_seq = -1
        self.out_of_order = 0
        self.failed = ""
        self.streams = 0
        # (lost_ns, back_ns) for every live stream that ended and the one that replaced it
        self.gaps: list[tuple[int, int]] = []
        self.stream: Stream | None = None

    def event(self, ev: bytes, now: int, crowd: Crowd) -> None:
        """One whole SSE event, as EventSource dispatches it."""
        if ev.startswith(b"id: "):
            eol = ev.find(b"\n")
            self.last_id = (ev[4:eol] if eol > 0 else ev[4:]).decode()
        elif ev.startswith(b"retry: "):
            self.retry_ms = int(ev[7:].split(b"\n", 1)[0])
            return
        m = ev.find(MARK)
        if m < 0:
            return
        j = ev.find(b"#", m + _MARK_LEN)
        c = ev.find(b":", m + _MARK_LEN, j)
        seq = int(ev[m + _MARK_LEN : c])
        seen = self.seen
        if seq >= len(seen):
            seen.extend(bytes(seq - len(seen) + 256))
        if seen[seq]:
            self.dups += 1
            return
        seen[seq] = 1
        self.uniq += 1
        if seq < self.max_seq:
            self.out_of_order += 1
        self.max_seq = max(self.max_seq, seq)
        published = int(ev[c + 1 : j])
        lat = (now - published) // 1000
        stream = self.stream
        if stream is not None and stream.live_ns and published >= stream.live_ns:
            crowd.live_lat.append(lat)  # published while this browser was live
        else:
            crowd.catchup_lat.append(lat)  # caught up on after (re)connecting


class Stream(asyncio.Protocol):
    """An EventSource: one GET, a chunked (or plain, or gzip) body of events."""

    def __init__(self, browser: Browser, crowd: Crowd, path: str, resume: bool) -> None:
        self.browser = browser
        self.crowd = crowd
        self.path = path
        self.resume = resume
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.headbuf = b""
        self.head: ResponseHead | None = None
        self.dechunk: Dechunker | None = None
        self.inflate: Any = None
        self.acc = b""
        self.live_ns = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        headers["Accept-Encoding"] = ACCEPT_ENCODING.replace(", br", "")  # as Chromium does
        if self.resume and self.browser.last_id:
            headers["Last-Event-ID"] = self.browser.last_id
        self.transport.write(request("GET", self.crowd.host, self.crowd.port, self.path, headers))

    def data_received(self, data: bytes) -> None:
        now = time_ns()
        self.crowd.wire += len(data)
        if self.head is None:
            buf = self.headbuf + data
            end = buf.find(HEAD_END)
            if end < 0:
                self.headbuf = buf
                return
            self.head = ResponseHead(buf[:end])
            data = buf[end + 4 :]
            if self.head.status != 200:
                if not self.ready.done():
                    self.ready.set_exception(ConnectionError(f"status {self.head.status}"))
                assert self.transport is not None
                self.transport.close()
                return
            if self.head.headers.get("content-encoding") == "gzip":
                self.inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            if self.head.chunked:
                self.dechunk = Dechunker()
            self.live_ns = now
            self.ready.set_result(None)
        if not data:
            return
        if self.dechunk is not None:
            buf, spans = self.dechunk.feed(data)
            body = b"".join(buf[s:e] for s, e in spans)
        else:
            body = data
        if self.inflate is not None:
            body = self.inflate.decompress(body)
        acc = self.acc + body
        browser, crowd = self.browser, self.crowd
        while (i := acc.find(b"\n\n")) >= 0:
            browser.event(acc[:i], now, crowd)
            acc = acc[i + 2 :]
        self.acc = acc
        if self.dechunk is not None and self.dechunk.done and self.transport is not None:
            # The response ended (a proxy keeps the connection for the next request): for
            # EventSource that is the end of the stream.
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before the response: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)


class Crowd:
    """One worker's share of the browsers."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.host: str = cfg["host"]
        self.port: int = cfg["port"]
        self.source: str | None = cfg.get("source")
        self.assets = [Asset(**a) for a in cfg.get("assets", [])]
        self.browsers: list[Browser] = []
        self.live_lat = array("q")
        self.catchup_lat = array("q")
        self.wire = 0
        self.page_wire = 0
        self.running = True
        self.errors: dict[str, int] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def error(self, kind: str) -> None:
        kind = kind[:160]
        self.errors[kind] = self.errors.get(kind, 0) + 1

    async def connect(self, factory: Any) -> tuple[asyncio.Transport, Any]:
        loop = asyncio.get_running_loop()
        if self.source is None:
            return await loop.create_connection(factory, self.host, self.port)
        import socket

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((self.source, 0))
            sock.setblocking(False)
            await loop.sock_connect(sock, (self.host, self.port))
        except BaseException:
            sock.close()
            raise
        return await loop.create_connection(factory, sock=sock)

    # --- the page ---------------------------------------------------------------------------

    async def page(self, browser: Browser) -> str | None:
        """Load the page and its files; returns the position the page showed."""
        cfg = self.cfg
        conns = [await PageConn.open(self)]
        browser.page_sent_ns = time_ns()
        status, body, coding = await conns[0].get(cfg["page"], {"Accept": ACCEPT_HTML})
        browser.page_status[status] = browser.page_status.get(status, 0) + 1
        browser.page_requests += 1
        position = None
        if status == 200 and cfg.get("resume_from_page"):
            position = page_position(body, coding)
        wanted = [a for a in self.assets if not (browser.returning and a.cached)]
        extra = min(cfg.get("conns", 3), len(wanted)) - 1
        if extra > 0:
            conns += await asyncio.gather(*(PageConn.open(self) for _ in range(extra)))
        queues: list[list[Asset]] = [wanted[i :: len(conns)] for i in range(len(conns))]

        async def fetch(conn: PageConn, assets: list[Asset]) -> None:
            for asset in assets:
                headers = {"Accept": "*/*"}
                if browser.returning and asset.etag:
                    headers["If-None-Match"] = asset.etag
                code, _, _ = await conn.get(asset.path, headers)
                browser.page_status[code] = browser.page_status.get(code, 0) + 1
                browser.page_requests += 1

        try:
            await asyncio.gather(*(fetch(c, q) for c, q in zip(conns, queues, strict=True)))
        finally:
            for conn in conns:
                browser.page_bytes += conn.wire
                conn.close()
        browser.page_done_ns = time_ns()
        self.page_wire += browser.page_bytes
        return position

    # --- one browser ------------------------------------------------------------------------

    async def browse(self, browser: Browser) -> None:
        cfg = self.cfg
        await asyncio.sleep(max(0.0, (browser.arrive_ns - time_ns()) / 1e9))
        path = cfg["stream"]
        for attempt in range(MAX_ATTEMPTS):
            try:
                if cfg.get("page") and not browser.page_done_ns:
                    position = await asyncio.wait_for(self.page(browser), cfg["timeout"])
                    if position:
                        sep = "&" if "?" in path else "?"
                        path = f"{path}{sep}last_event_id={position}"
                if not browser.page_sent_ns:
                    browser.page_sent_ns = time_ns()
                break
            except (OSError, TimeoutError, ConnectionError, asyncio.IncompleteReadError) as exc:
                self.error(f"page: {type(exc).__name__}: {exc}")
                await asyncio.sleep(backoff(attempt))
        else:
            browser.failed = "page"
            return
        await self.keep_stream(browser, path)

    async def keep_stream(self, browser: Browser, path: str) -> None:
        """The reader script's loop: open, stay live until the stream ends, come back."""
        attempt = 0
        lost_ns = 0
        while self.running:
            stream = Stream(browser, self, path, resume=browser.streams > 0)
            try:
                await asyncio.wait_for(self.connect(lambda s=stream: s), self.cfg["timeout"])
                await asyncio.wait_for(stream.ready, self.cfg["timeout"])
            except (OSError, TimeoutError, ConnectionError) as exc:
                if stream.transport is not None:
                    stream.transport.close()
                self.error(f"stream: {type(exc).__name__}: {exc}")
                attempt += 1
                if attempt >= MAX_ATTEMPTS:
                    browser.failed = "stream"
                    return
                await asyncio.sleep(backoff(attempt - 1))
                continue
            attempt = 0
            browser.streams += 1
            browser.stream = stream
            if not browser.live_ns:
                browser.live_ns = stream.live_ns
            if lost_ns:
                browser.gaps.append((lost_ns, stream.live_ns))
            await stream.closed
            if not self.running:
                return
            lost_ns = time_ns()
            browser.stream = None
            if self.cfg.get("client") == "native":
                await asyncio.sleep(browser.retry_ms / 1000)  # EventSource: exactly the hint
            else:  # the reader script: a random wait within the spread
                await asyncio.sleep(random.random() * self.cfg["resume_spread_ms"] / 1000)

    def start(self) -> None:
        cfg = self.cfg
        start_ns = int(cfg["start_at"] * 1e9)
        spread_ns = int(cfg["arrive_seconds"] * 1e9)
        rng = random.Random(cfg.get("seed"))
        for _ in range(cfg["count"]):
            arrive = start_ns + rng.randrange(max(1, spread_ns))
            self.browsers.append(Browser(arrive, rng.random() < cfg.get("returning", 0.0)))
        self.tasks = [asyncio.create_task(self.browse(b)) for b in self.browsers]

    # --- reports ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        bs = self.browsers
        return {
            "browsers": len(bs),
            "pages_done": sum(b.page_done_ns > 0 for b in bs),
            "live": sum(b.stream is not None for b in bs),
            "ever_live": sum(b.live_ns > 0 for b in bs),
            "failed": sum(bool(b.failed) for b in bs),
            "uniq": sum(b.uniq for b in bs),
            "dups": sum(b.dups for b in bs),
        }

    def collect(self, tmpdir: str) -> dict[str, Any]:
        """Every browser's times and counts, and the latency arrays, in a file."""
        doc = {
            "status": self.status(),
            "errors": self.errors,
            "wire": self.wire,
            "page_wire": self.page_wire,
            "browsers": [
                {
                    "arrive": b.arrive_ns,
                    "sent": b.page_sent_ns,
                    "page_done": b.page_done_ns,
                    "page_bytes": b.page_bytes,
                    "requests": b.page_requests,
                    "status": b.page_status,
                    "returning": b.returning,
                    "live": b.live_ns,
                    "failed": b.failed,
                    "uniq": b.uniq,
                    "dups": b.dups,
                    "out_of_order": b.out_of_order,
                    "seqs": seqs_of(b.seen),
                    "gaps": b.gaps,
                    "now_live": b.stream is not None,
                }
                for b in self.browsers
            ],
            "live_lat": self.live_lat.tolist(),
            "catchup_lat": self.catchup_lat.tolist(),
        }
        fd, name = tempfile.mkstemp(prefix="crowd-", suffix=".json", dir=tmpdir)
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh)
        return {"file": name}


def seqs_of(seen: bytearray) -> str:
    """The sequence numbers a browser received, as a hex bitmap (small and exact)."""
    bits = 0
    for i, v in enumerate(seen):
        if v:
            bits |= 1 << i
    return format(bits, "x")


def backoff(attempt: int) -> float:
    """The reader script's wait after a failed attempt: doubling, "equal jitter"."""
    ceiling = min(MAX_DELAY_S, FIRST_DELAY_S * 2**attempt)
    return ceiling / 2 + random.random() * ceiling / 2


def page_position(body: bytes, coding: str) -> str | None:
    """The page's ``data-last-event-id``, where the reader script resumes from."""
    try:
        if coding == "br":
            import brotli

            body = brotli.decompress(body)
        elif coding in ("gzip", "deflate"):
            body = zlib.decompress(body, 47 if coding == "gzip" else 15)
    except (zlib.error, Exception):  # brotli.error is a plain Exception
        return None
    at = body.find(_DATA_ID)
    if at < 0:
        return None
    at += len(_DATA_ID)
    return body[at : body.find(b'"', at)].decode() or None


class PageConn(asyncio.Protocol):
    """A browser's keep-alive HTTP/1.1 connection: one request at a time."""

    def __init__(self, crowd: Crowd) -> None:
        self.crowd = crowd
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.head: ResponseHead | None = None
        self.dechunk: Dechunker | None = None
        self.body: list[bytes] = []
        self.need = 0
        self.waiter: asyncio.Future[tuple[int, bytes, str]] | None = None
        self.wire = 0

    @classmethod
    async def open(cls, crowd: Crowd) -> PageConn:
        conn = cls(crowd)
        await asyncio.wait_for(crowd.connect(lambda: conn), crowd.cfg["timeout"])
        return conn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"closed mid-response: {exc}"))

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes, str]:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.buf, self.head, self.dechunk, self.body = b"", None, None, []
        headers = {**headers, "Accept-Encoding": ACCEPT_ENCODING, "User-Agent": USER_AGENT}
        self.transport.write(request("GET", self.crowd.host, self.crowd.port, path, headers))
        return await self.waiter

    def data_received(self, data: bytes) -> None:
        self.wire += len(data)
        if self.head is None:
            self.buf += data
            end = self.buf.find(HEAD_END)
            if end < 0:
                return
            self.head = ResponseHead(self.buf[:end])
            data, self.buf = self.buf[end + 4 :], b""
            if self.head.chunked:
                self.dechunk = Dechunker()
            else:
                self.need = self.head.content_length or 0
                if self.head.status in (204, 304):
                    self.need = 0
        if self.dechunk is not None:
            buf, spans = self.dechunk.feed(data)
            self.body.extend(buf[s:e] for s, e in spans)
            done = self.dechunk.done
        else:
            self.body.append(data)
            self.need -= len(data)
            done = self.need <= 0
        if done and self.waiter is not None and not self.waiter.done():
            coding = self.head.headers.get("content-encoding", "")
            self.waiter.set_result((self.head.status, b"".join(self.body), coding))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def reply(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


async def worker(cfg: dict[str, Any]) -> None:
    raise_nofile(4 * cfg["count"] + 1024)
    crowd = Crowd(cfg)
    crowd.start()
    reply({"event": "started", "browsers": len(crowd.browsers)})
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    while line := await stdin.readline():
        cmd = json.loads(line)["cmd"]
        if cmd == "status":
            reply(crowd.status())
        elif cmd == "collect":
            reply(crowd.collect(cfg["tmpdir"]))
        elif cmd == "quit":
            break
    crowd.running = False
    for browser in crowd.browsers:
        if browser.stream is not None and browser.stream.transport is not None:
            browser.stream.transport.close()
    for task in crowd.tasks:
        task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.gather(*crowd.tasks, return_exceptions=True)
    with contextlib.suppress(BrokenPipeError):
        reply({"event": "bye", "t": time.time()})


def main() -> None:
    cfg = json.loads(sys.argv[1])
    import uvloop

    uvloop.run(worker(cfg))


if __name__ == "__main__":
    main()

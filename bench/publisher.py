"""Paced HTTP publisher: a few keep-alive connections, raw asyncio, POST latency per request."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import cast

from payload import Builder
from wire import HEAD_END, Dechunker, ResponseHead, request


class HttpConn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request in flight at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.head: ResponseHead | None = None
        self.dechunk: Dechunker | None = None
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.lost = False
        self.answered = False  # any byte of the current response arrived

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"publisher connection lost: {exc}"))

    async def call(self, data: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        if self.lost:
            raise ConnectionError("publisher connection lost")
        self.waiter = asyncio.get_running_loop().create_future()
        self.buf, self.head, self.dechunk = b"", None, None
        self.answered = False
        self.transport.write(data)
        return await self.waiter

    def data_received(self, data: bytes) -> None:
        self.answered = True
        self.buf += data
        if self.head is None:
            end = self.buf.find(HEAD_END)
            if end < 0:
                return
            self.head = ResponseHead(self.buf[:end])
            self.buf = self.buf[end + 4 :]
            if self.head.chunked:
                self.dechunk = Dechunker()
        body: bytes | None = None
        if self.dechunk is not None:
            if self.buf.endswith(b"0\r\n\r\n"):
                raw, spans = self.dechunk.feed(self.buf)
                body = b"".join(raw[s:e] for s, e in spans)
        else:
            length = self.head.content_length or 0
            if len(self.buf) >= length:
                body = self.buf[:length]
        if body is not None and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.head.status, body))


@dataclass
class PublishResult:
    sent: int = 0
    failed: int = 0  # no answer at all
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    post_ms: list[float] = field(default_factory=list)
    started: float = 0.0  # monotonic
    last_sent: float = 0.0  # when the last POST was handed a connection
    finished: float = 0.0
    first_body: bytes = b""
    # Sequence numbers the server did not acknowledge (no answer, or not 2xx): nothing is owed
    # to readers for them.
    unacknowledged: list[int] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def seconds(self) -> float:
        return self.finished - self.started

    def pace(self) -> float | None:
        """POSTs sent per second, start to last send: below the asked rate when every
        connection was busy with slow POSTs (the wait for the last answer does not count)."""
        span = self.last_sent - self.started
        return (self.sent - 1) / span if self.sent > 1 and span > 0 else None


class Publisher:
    """Publishes entries at a fixed rate; each body embeds its sequence number and send time.

    Connections are reused last-in first-out, so a slow rate keeps using one warm connection;
    one the server closed while idle (keep-alive timeout) is replaced before use, and a POST
    that met such a close before any answer byte is sent again once on a fresh connection.
    """

    def __init__(
        self,
        host: str,
        port: int,
        path: str,
        headers: dict[str, str],
        build: Builder,
        conns: int = 16,
    ) -> None:
        self.host, self.port, self.path = host, port, path
        self.headers = {"Content-Type": "application/json", **headers}
        self.build = build
        self.nconns = conns
        self.idle: asyncio.LifoQueue[HttpConn | None] = asyncio.LifoQueue()

    async def open(self) -> None:
        for _ in range(self.nconns):
            self.idle.put_nowait(await self.connect())

    async def close(self) -> None:
        while not self.idle.empty():
            conn = self.idle.get_nowait()
            if conn is not None and conn.transport is not None:
                conn.transport.close()

    async def connect(self) -> HttpConn:
        _, conn = await asyncio.get_running_loop().create_connection(HttpConn, self.host, self.port)
        return conn

    async def _post(self, conn: HttpConn | None, seq: int, result: PublishResult) -> None:
        try:
            for attempt in (1, 2):
                if conn is None or conn.lost:
                    conn = await self.connect()
                t0 = time.monotonic()
                data = request(
                    "POST",
                    self.host,
                    self.port,
                    self.path,
                    self.headers,
                    self.build(seq, time.time_ns()),
                )
                try:
                    status, body = await asyncio.wait_for(conn.call(data), 30.0)
                except (ConnectionError, TimeoutError, OSError) as exc:
                    if conn.transport is not None:
                        conn.transport.close()
                    unanswered = isinstance(exc, ConnectionError) and not conn.answered
                    conn = None
                    if attempt == 1 and unanswered:
                        result.errors["resent after an idle close"] += 1
                        continue
                    result.errors[type(exc).__name__] += 1
                    result.failed += 1
                    result.unacknowledged.append(seq)
                    return
                result.post_ms.append((time.monotonic() - t0) * 1000.0)
                result.statuses[status] += 1
                if not 200 <= status < 300:
                    result.unacknowledged.append(seq)
                    if not result.first_body:
                        result.first_body = body[:300]
                return
        except OSError as exc:  # could not connect
            result.errors[f"connect: {type(exc).__name__}"] += 1
            result.failed += 1
            result.unacknowledged.append(seq)
            conn = None
        finally:
            result.sent += 1
            self.idle.put_nowait(conn)

    async def run(self, first_seq: int, count: int, rate: float) -> PublishResult:
        """Publish ``count`` entries at ``rate``/s, sequence numbers from ``first_seq``."""
        result = PublishResult()
        tasks: list[asyncio.Task[None]] = []
        result.started = t0 = time.monotonic()
        for i in range(count):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            conn = await self.idle.get()
            result.last_sent = time.monotonic()
            tasks.append(asyncio.create_task(self._post(conn, first_seq + i, result)))
        await asyncio.gather(*tasks)
        result.finished = time.monotonic()
        return result

"""Churn: readers come and go while a publisher posts as fast as it can; nothing may stop.

``liveblog serve`` as shipped (uvloop, the fast path) on the memory or the Redis engine. Readers
that stay (SSE and WebSocket) must get every entry once, in order, while thousands of others
open a stream and reset it (RST, no FIN), many of them in the same loop turn as a live event.
``/readyz`` is polled throughout; at the end a new reader must get the next entry.

    .venv/bin/python bench/churn.py --engine redis --seconds 60 --stayers 80

Everything runs on 127.0.0.1; every loop ends by itself (``--seconds``, ``--max-churn``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import os
import socket
import struct
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from targets import HOST, Endpoint, LiveblogTarget


@dataclass
class Report:
    engine: str
    seconds: float
    stayers: int
    entries_posted: int = 0
    post_errors: int = 0
    streams_opened: int = 0
    streams_live_before_reset: int = 0
    readyz_polls: int = 0
    readyz_failures: int = 0
    stayer_resumes: int = 0  # stayers dropped as too slow that resumed from their last id
    lost: int = 0  # entries a stayer did not get
    doubled: int = 0  # entries a stayer got twice
    out_of_order: int = 0
    late_reader_got_next: bool = False
    late_reader_seconds: float | None = None
    server_task_errors: dict[str, float] = field(default_factory=dict)


async def _http(ep: Endpoint, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(ep.host, ep.port)
    headers = "".join(f"{k}: {v}\r\n" for k, v in ep.pub_headers.items())
    writer.write(
        f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n{headers}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    raw = await reader.read()
    writer.close()
    head, _, rest = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


def _stream_request(ep: Endpoint, kind: str, last_event_id: str | None = None) -> bytes:
    if kind == "sse":
        extra = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id else ""
        return f"GET {ep.sse_path} HTTP/1.1\r\nHost: {HOST}\r\n{extra}\r\n".encode()
    key = base64.b64encode(os.urandom(16)).decode()
    query = f"?last_event_id={last_event_id}" if last_event_id else ""
    return (
        f"GET {ep.ws_path}{query} HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


class Stayer:
    """A reader that stays: records the offset of every entry it gets. Should the server end its
    stream (a reader too slow for its buffer is dropped), it resumes from its last event id, as
    a browser does; ``resumes`` counts those."""

    def __init__(self, ep: Endpoint, kind: str) -> None:
        self.ep, self.kind = ep, kind
        self.offsets: list[int] = []
        self.last_id: str | None = None
        self.resumes = 0
        self.closing = False
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        reader = await self._connect()
        self.task = asyncio.create_task(self._read(reader))
        if self.kind == "ws":
            self.pongs = asyncio.create_task(self._keepalive())

    async def _keepalive(self) -> None:
        """A browser answers the server's pings; an unsolicited pong (masked, empty) says the
        same, without parsing the frames here."""
        while not self.closing:
            await asyncio.sleep(5)
            with contextlib.suppress(Exception):
                self.writer.write(b"\x8a\x80" + os.urandom(4))

    async def _connect(self) -> asyncio.StreamReader:
        reader, writer = await asyncio.open_connection(self.ep.host, self.ep.port)
        writer.write(_stream_request(self.ep, self.kind, self.last_id))
        await reader.readuntil(b"\r\n\r\n")
        self.writer = writer
        return reader

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while not self.closing:
            buffer = b""
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                while data := await reader.read(65536):
                    buffer += data
                    buffer = self._parse(buffer)
            if self.closing:
                return
            self.writer.close()
            self.resumes += 1
            reader = await self._connect()

    def _parse(self, buffer: bytes) -> bytes:
        # Event ids appear as "id":"<epoch>-<offset>" in both transports' payloads.
        while (start := buffer.find(b'{"id":"')) >= 0:
            end = buffer.find(b'"', start + 7)
            if end < 0:
                return buffer[start:]
            if len(buffer) < end + 40:
                return buffer[start:]  # its type has not arrived yet
            event_id = buffer[start + 7 : end]
            type_at = buffer.find(b'"type":"entry.created"', end, end + 40)
            if type_at >= 0:
                self.offsets.append(int(event_id.rpartition(b"-")[2]))
                self.last_id = event_id.decode()
            buffer = buffer[end:]
        return buffer[-64:]

    def close(self) -> None:
        self.closing = True
        self.writer.close()
        if self.kind == "ws":
            self.pongs.cancel()
        if self.task:
            self.task.cancel()


async def _open_and_reset(ep: Endpoint, kind: str, report: Report) -> None:
    try:
        reader, writer = await asyncio.open_connection(ep.host, ep.port)
    except OSError:
        return
    report.streams_opened += 1
    try:
        writer.write(_stream_request(ep, kind))
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
                if head.startswith((b"HTTP/1.1 200", b"HTTP/1.1 101")):
                    report.streams_live_before_reset += 1
                    await asyncio.sleep(0.005 * (report.streams_opened % 7))
    finally:
        sock = writer.get_extra_info("socket")
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()


async def _churn(
    ep: Endpoint, stop: asyncio.Event, report: Report, concurrency: int, cap: int
) -> None:
    async def worker(n: int) -> None:
        while not stop.is_set() and report.streams_opened < cap:
            await _open_and_reset(ep, "sse" if n % 2 else "ws", report)

    await asyncio.gather(*(worker(n) for n in range(concurrency)))


async def _publish(ep: Endpoint, stop: asyncio.Event, report: Report) -> None:
    body = json.dumps({"body": "<p>Churn test entry.</p>", "headline": "churn"}).encode()
    while not stop.is_set():
        try:
            status, _ = await _http(ep, "POST", ep.pub_path, body)
        except OSError:
            status = 0
        if status == 201:
            report.entries_posted += 1
        else:
            report.post_errors += 1


async def _watch_ready(ep: Endpoint, stop: asyncio.Event, report: Report) -> None:
    while not stop.is_set():
        report.readyz_polls += 1
        try:
            status, _ = await _http(ep, "GET", "/readyz")
        except OSError:
            status = 0
        if status != 200:
            report.readyz_failures += 1
        await asyncio.sleep(0.1)


async def run(engine: str, seconds: float, stayers: int, concurrency: int, cap: int) -> Report:
    report = Report(engine=engine, seconds=seconds, stayers=stayers)
    target = LiveblogTarget(engine, cpus="0")
    ep = target.start()
    try:
        readers = [Stayer(ep, "sse" if i % 2 else "ws") for i in range(stayers)]
        for reader in readers:
            await reader.start()
        stop = asyncio.Event()
        tasks = [
            *(asyncio.create_task(_publish(ep, stop, report)) for _ in range(2)),
            asyncio.create_task(_churn(ep, stop, report, concurrency, cap)),
            asyncio.create_task(_watch_ready(ep, stop, report)),
        ]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)
        await asyncio.sleep(2)  # the last entries reach the stayers

        expected = list(range(1, report.entries_posted + 1))
        for reader in readers:
            report.stayer_resumes += reader.resumes
            got = reader.offsets
            report.lost += len(set(expected) - set(got))
            report.doubled += len(got) - len(set(got))
            report.out_of_order += sum(1 for a, b in itertools.pairwise(got) if b <= a)

        late = Stayer(ep, "sse")
        await late.start()
        start = time.monotonic()
        body = json.dumps({"body": "<p>After the churn.</p>"}).encode()
        await _http(ep, "POST", ep.pub_path, body)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                while not late.offsets:
                    await asyncio.sleep(0.005)
                report.late_reader_got_next = True
                report.late_reader_seconds = round(time.monotonic() - start, 3)
        _, metrics = await _http(ep, "GET", "/metrics")
        for line in metrics.decode().splitlines():
            if line.startswith("liveblog_task_errors_total{"):
                name = line.split('task="')[1].split('"')[0]
                report.server_task_errors[name] = float(line.rsplit(" ", 1)[1])
        for reader in [*readers, late]:
            reader.close()
    finally:
        target.stop()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["memory", "redis"], default="redis")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--stayers", type=int, default=80)
    parser.add_argument("--concurrency", type=int, default=100, help="churners at once")
    parser.add_argument("--max-churn", type=int, default=200_000, help="streams opened at most")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import uvloop

    report = uvloop.run(
        run(args.engine, args.seconds, args.stayers, args.concurrency, args.max_churn)
    )
    text = json.dumps(asdict(report), indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    sys.exit(0 if report.lost == report.doubled == report.readyz_failures == 0 else 1)


if __name__ == "__main__":
    main()

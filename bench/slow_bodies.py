"""Slow request bodies on ``liveblog serve`` (with a Redis of its own): the hostile and the honest.

``trickle``: N connections (default 50, half of them without a token) each send an upload's
head and then its body a byte every 3 s. Reports when the server closed each one (seconds after
its head), what it answered, and ``/healthz`` latency meanwhile. Issue 17 found 50 of them held
35 s and more; the server should cut each by its body window (10 s) plus what the minimum rate
allows for the bytes sent.

``honest``: one real 20 MiB photo at 1 Mbit/s (125,000 bytes a second: ~168 s), as a reporter
on a poor link sends it. It must succeed.

    .venv/bin/python bench/slow_bodies.py trickle
    .venv/bin/python bench/slow_bodies.py honest
    .venv/bin/python bench/slow_bodies.py honest --mbit 2 --mib 10

Everything runs on 127.0.0.1 and ends by itself (``--observe`` bounds the trickle).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from targets import HOST, Endpoint, LiveblogTarget

MIB = 1024 * 1024


@dataclass
class TrickleReport:
    connections: int
    every_seconds: float
    observed_seconds: float
    closed: int = 0
    still_open: int = 0
    closed_after_min: float | None = None
    closed_after_median: float | None = None
    closed_after_max: float | None = None
    answers: dict[str, int] = field(default_factory=dict)
    healthz_worst_ms: float = 0.0


@dataclass
class HonestReport:
    mib: float
    bytes_per_second: int
    status: int = 0
    seconds: float = 0.0
    detail: str = ""


def _head(endpoint: Endpoint, length: int, token: bool) -> bytes:
    auth = "".join(f"{k}: {v}\r\n" for k, v in endpoint.pub_headers.items()) if token else ""
    return (
        f"POST /api/blogs/{endpoint.blog}/media HTTP/1.1\r\nHost: {HOST}\r\n{auth}"
        f"Content-Type: image/jpeg\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


async def _status_and_close(reader: asyncio.StreamReader) -> tuple[str, float]:
    """The first answer's status (or "none"), and when the server closed the connection."""
    status = "none"
    line = b""
    try:
        line = await reader.readline()
        if line.startswith(b"HTTP/1.1 "):
            status = line.split()[1].decode()
        while await reader.read(65536):
            pass
    except ConnectionError:
        pass
    return status, time.monotonic()


async def trickle(endpoint: Endpoint, args: argparse.Namespace) -> TrickleReport:
    report = TrickleReport(args.connections, args.every, args.observe)
    loop_started = time.monotonic()
    opened: list[tuple[float, asyncio.Task[tuple[str, float]], asyncio.StreamWriter]] = []
    feeders: list[asyncio.Task[None]] = []

    async def feed(writer: asyncio.StreamWriter) -> None:
        while time.monotonic() - loop_started < args.observe:
            await asyncio.sleep(args.every)
            try:
                writer.write(b"\x00")
                await writer.drain()
            except (ConnectionError, RuntimeError):
                return

    for i in range(args.connections):
        reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
        writer.write(_head(endpoint, 100_000, token=i % 2 == 0) + b"\xff")
        opened.append((time.monotonic(), asyncio.create_task(_status_and_close(reader)), writer))
        feeders.append(asyncio.create_task(feed(writer)))

    worst = 0.0
    deadline = loop_started + args.observe
    while time.monotonic() < deadline and not all(task.done() for _, task, _ in opened):
        started = time.monotonic()
        r, w = await asyncio.open_connection(endpoint.host, endpoint.port)
        w.write(f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
        await r.read()
        w.close()
        worst = max(worst, time.monotonic() - started)
        await asyncio.sleep(0.2)
    report.healthz_worst_ms = worst * 1000

    after: list[float] = []
    for head_sent, task, writer in opened:
        if task.done():
            status, closed_at = task.result()
            after.append(closed_at - head_sent)
            report.answers[status] = report.answers.get(status, 0) + 1
        else:
            report.still_open += 1
            task.cancel()
        writer.close()
    for feeder in feeders:
        feeder.cancel()
    report.closed = len(after)
    if after:
        report.closed_after_min = round(min(after), 1)
        report.closed_after_median = round(statistics.median(after), 1)
        report.closed_after_max = round(max(after), 1)
    return report


def photo_of(size: int) -> bytes:
    """A real JPEG just under ``size`` bytes (noise compresses badly: a few tries find it)."""
    from PIL import Image  # the project's own dependency

    side = 3000
    while True:
        out = io.BytesIO()
        Image.effect_noise((side * 4 // 3, side), 80).convert("RGB").save(out, "JPEG", quality=96)
        if size - 512 * 1024 <= out.tell() <= size:
            return out.getvalue()
        side = int(side * (size / out.tell()) ** 0.5 * 0.995)


async def honest(endpoint: Endpoint, args: argparse.Namespace) -> HonestReport:
    data = photo_of(int(args.mib * MIB))
    rate = int(args.mbit * 125_000)
    report = HonestReport(round(len(data) / MIB, 2), rate)
    reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
    started = time.monotonic()
    writer.write(_head(endpoint, len(data), token=True))
    piece = 8192
    for offset in range(0, len(data), piece):
        writer.write(data[offset : offset + piece])
        await writer.drain()
        # Paced against the clock, not per sleep: the average is the link's rate.
        ahead = (offset + piece) / rate - (time.monotonic() - started)
        if ahead > 0:
            await asyncio.sleep(ahead)
    line = await reader.readline()
    report.status = int(line.split()[1])
    report.seconds = round(time.monotonic() - started, 1)
    report.detail = (await reader.read(300)).decode(errors="replace").split("\r\n\r\n")[-1][:160]
    writer.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["trickle", "honest"])
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between bytes")
    parser.add_argument("--observe", type=float, default=60.0, help="the trickle's bound")
    parser.add_argument("--mib", type=float, default=20.0, help="the honest upload's size")
    parser.add_argument("--mbit", type=float, default=1.0, help="the honest link's rate")
    parser.add_argument("--cpus", default="0,1")
    parser.add_argument("--json")
    args = parser.parse_args()
    if not 1 <= args.connections <= 500 or not 1 <= args.observe <= 600 or args.mib > 20:
        parser.error("bounded: 1-500 connections, 1-600 s of observing, at most 20 MiB")
    media = tempfile.mkdtemp(prefix="bench-bodies-")
    extra = {"LIVEBLOG_MEDIA_DIR": media, "LIVEBLOG_MEDIA_SLOTS_DIR": media + "/.slots"}
    with LiveblogTarget("redis", cpus=args.cpus, extra_env=extra) as target:
        endpoint = target.start()
        report: TrickleReport | HonestReport
        if args.mode == "trickle":
            report = asyncio.run(trickle(endpoint, args))
            print(
                f"{report.connections} connections, a byte every {report.every_seconds:g} s, "
                f"observed {report.observed_seconds:g} s: {report.closed} closed by the server "
                f"(after {report.closed_after_min} / {report.closed_after_median} / "
                f"{report.closed_after_max} s min / median / max), {report.still_open} still "
                f"open; first answers {report.answers}; /healthz worst "
                f"{report.healthz_worst_ms:.1f} ms"
            )
        else:
            report = asyncio.run(honest(endpoint, args))
            print(
                f"{report.mib} MiB at {report.bytes_per_second * 8 / 1e6:g} Mbit/s: "
                f"{report.status} after {report.seconds} s  {report.detail}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(report), indent=2))


if __name__ == "__main__":
    main()

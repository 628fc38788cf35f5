"""Decompression bombs at once: what three small PNGs that decode to gigabytes cost the server.

Issue 17: three 7,000 x 7,000 PNGs (190 KB each, RGBA) uploaded at the same time took 2.3 GB of
peak memory and stalled readers. This starts ``liveblog serve`` with a Redis of its own, warms
it with one ordinary photo, then fires ``--count`` bombs at once and reports, from /proc, the
server's resident memory before, its peak (VmHWM, exact) and after, and the latency of
``GET /healthz`` polled every 50 ms throughout, with each upload's status and time.

    .venv/bin/python bench/upload_bombs.py                     # three 7,000 x 7,000 bombs
    .venv/bin/python bench/upload_bombs.py --side 5600         # the largest accepted by default
    .venv/bin/python bench/upload_bombs.py --json /tmp/bombs.json

Everything runs on 127.0.0.1; the bench's Redis is its own (never the machine's on 6379).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import statistics
import struct
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procstat import rss_bytes, tree
from targets import HOST, LiveblogTarget

MIB = 1024 * 1024


@dataclass
class Report:
    count: int
    side: int
    bomb_bytes: int
    workers: int
    uploads: list[dict[str, object]] = field(default_factory=list)
    rss_before_mib: float = 0.0
    peak_mib: float = 0.0  # VmHWM of the server processes, summed
    peak_rise_mib: float = 0.0
    peak_moved: bool = False  # the bombs raised the peak past start-up's and the warm-up's
    rss_after_mib: float = 0.0
    healthz_polls: int = 0
    healthz_failures: int = 0
    healthz_p50_ms: float = 0.0
    healthz_p99_ms: float = 0.0
    healthz_worst_ms: float = 0.0
    loadavg_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    loadavg_after: tuple[float, float, float] = (0.0, 0.0, 0.0)


def png_bomb(side: int) -> bytes:
    """side x side black RGBA pixels, built a row at a time (this process never holds them)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + side * 4)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def small_photo() -> bytes:
    from PIL import Image  # the project's own dependency

    out = io.BytesIO()
    Image.new("RGB", (1200, 800), (180, 60, 40)).save(out, "JPEG")
    return out.getvalue()


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, float, str]:
    started = time.monotonic()
    conn = http.client.HTTPConnection(HOST, port, timeout=600)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode(errors="replace")
        return response.status, time.monotonic() - started, text[:200]
    finally:
        conn.close()


def peak_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) * 1024
    return total


def poll_healthz(
    port: int, stop: threading.Event, latencies: list[float], failures: list[int]
) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    while not stop.is_set():
        started = time.monotonic()
        try:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append(response.status)
        except (OSError, http.client.HTTPException):
            failures.append(0)
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=10)
        latencies.append(time.monotonic() - started)
        stop.wait(0.05)
    conn.close()


def run(args: argparse.Namespace) -> Report:
    bomb = png_bomb(args.side)
    report = Report(count=args.count, side=args.side, bomb_bytes=len(bomb), workers=args.workers)
    media = tempfile.mkdtemp(prefix="bench-bombs-")
    extra = {"LIVEBLOG_MEDIA_DIR": media, "LIVEBLOG_MEDIA_SLOTS_DIR": media + "/.slots"}
    extra.update(dict(item.split("=", 1) for item in args.env))
    target = LiveblogTarget("redis", workers=args.workers, cpus=args.cpus, extra_env=extra)
    with target:
        endpoint = target.start()
        pids = tree(target.pid)
        path = f"/api/blogs/{endpoint.blog}/media"
        auth = endpoint.pub_headers
        warm = post(endpoint.port, path, small_photo(), {**auth, "Content-Type": "image/jpeg"})
        if warm[0] != 201:
            raise RuntimeError(f"a small photo answered {warm[0]}: {warm[2]}")
        time.sleep(1)
        pids = tree(target.pid)
        report.loadavg_before = os.getloadavg()
        report.rss_before_mib = rss_bytes(pids) / MIB
        hwm_before = peak_bytes(pids)

        stop = threading.Event()
        latencies: list[float] = []
        failures: list[int] = []
        poller = threading.Thread(
            target=poll_healthz, args=(endpoint.port, stop, latencies, failures)
        )
        poller.start()
        time.sleep(0.5)  # the poller's first answers: the quiet server's latency
        results: list[tuple[int, float, str]] = [(0, 0.0, "")] * args.count
        headers = {**auth, "Content-Type": "image/png"}

        def upload(i: int) -> None:
            results[i] = post(endpoint.port, path, bomb, headers)

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(args.count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        time.sleep(1)  # the server settles; the poller keeps polling
        stop.set()
        poller.join()

        peak = peak_bytes(pids)
        report.peak_mib = peak / MIB
        # Over the resident memory just before: an upper bound when the bombs did not raise
        # the peak past start-up's and the warm-up's (hwm_before).
        report.peak_rise_mib = max(0.0, peak / MIB - report.rss_before_mib)
        report.peak_moved = peak > hwm_before
        report.rss_after_mib = rss_bytes(pids) / MIB
        report.loadavg_after = os.getloadavg()
        report.uploads = [
            {"status": status, "seconds": round(seconds, 2), "detail": text}
            for status, seconds, text in results
        ]
        ordered = sorted(latencies)
        report.healthz_polls = len(latencies)
        report.healthz_failures = len(failures)
        report.healthz_p50_ms = statistics.median(ordered) * 1000
        report.healthz_p99_ms = ordered[int(len(ordered) * 0.99) - 1] * 1000
        report.healthz_worst_ms = ordered[-1] * 1000
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3, help="bombs uploaded at once")
    parser.add_argument("--side", type=int, default=7000, help="each bomb is side x side RGBA")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cpus", default="0,1", help="taskset list for the server and Redis")
    parser.add_argument("--env", action="append", default=[], help="NAME=value for the server")
    parser.add_argument("--json", help="write the report here too")
    args = parser.parse_args()
    if not 1 <= args.count <= 10 or not 100 <= args.side <= 10_000:
        parser.error("--count 1-10 and --side 100-10000 keep this bench bounded")
    report = run(args)
    print(
        f"{report.count} x {report.side}x{report.side} RGBA PNG ({report.bomb_bytes / 1024:.0f} KB "
        f"each), {report.workers} worker(s)"
    )
    for i, upload in enumerate(report.uploads):
        print(f"  upload {i + 1}: {upload['status']} in {upload['seconds']} s  {upload['detail']}")
    print(
        f"RSS before {report.rss_before_mib:.0f} MiB, peak {report.peak_mib:.0f} MiB "
        f"(+{report.peak_rise_mib:.0f} MiB{'' if report.peak_moved else ', set before the bombs'}),"
        f" after {report.rss_after_mib:.0f} MiB"
    )
    print(
        f"/healthz: {report.healthz_polls} polls, {report.healthz_failures} failed, "
        f"p50 {report.healthz_p50_ms:.1f} ms, p99 {report.healthz_p99_ms:.1f} ms, "
        f"worst {report.healthz_worst_ms:.1f} ms"
    )
    print(
        "load average before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} {:.2f} "
        "(a shared machine: other work counts in these)".format(
            *report.loadavg_before, *report.loadavg_after
        )
    )
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(report), indent=2))


if __name__ == "__main__":
    main()

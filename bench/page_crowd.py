"""Publish-to-reader latency, idle and under a crowd on the index page ``/``.

Issue 9: ``GET /`` read every blog's timeline per request, and 16 clients on it took the
publish-to-reader p50 from 7 ms to 220 ms. This starts ``liveblog serve`` (``targets.py``: pinned
to core 0, 127.0.0.1 only, a fresh blog), adds ``--blogs`` blogs with one entry each for the
index to list, connects ``--readers`` SSE readers to the bench blog and publishes ``--events``
entries at ``--rate``/s twice: idle, then while a crowd process (core 1) sends ``GET /`` at
``--crowd-rate`` requests/s over ``--connections`` keep-alive connections. Every loop is bounded
by a count and a deadline.

    .venv/bin/python bench/page_crowd.py                  # 200 blogs, 1,000 requests/s on /
    .venv/bin/python bench/page_crowd.py --engine redis --realtime   # on a shared machine
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import time
from collections import Counter
from typing import Any

import procstat
from loadgen import boost_priority
from payload import liveblog_entry_builder
from publisher import Publisher
from readers import Tally, connect_all
from targets import HOST, LiveblogTarget, http

SERVER_CORE, GENERATOR_CORE = 0, 1


def pin(core: int) -> None:
    if hasattr(os, "sched_setaffinity") and core < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {core})


# --- the crowd: its own process, so it never slows the readers being measured ----------------


async def _crowd(port: int, path: str, rate: float, seconds: float, conns: int) -> dict[str, Any]:
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    interval = conns / rate  # each connection's share of the pace
    start = time.monotonic()
    deadline = start + seconds
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    answer_ms: list[float] = []
    body_bytes = 0

    async def one(k: int) -> None:
        nonlocal body_bytes
        due = start + interval * k / conns
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while (now := time.monotonic()) < deadline:
            if due > now:
                await asyncio.sleep(due - now)
            due = max(due + interval, time.monotonic() - interval)  # late: no catch-up burst
            try:
                if connection is None:
                    connection = await asyncio.open_connection(HOST, port)
                reader, writer = connection
                sent = time.monotonic()
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                lines = head.decode("latin-1").split("\r\n")
                length = next(
                    int(line.split(":", 1)[1])
                    for line in lines
                    if line.lower().startswith("content-length:")
                )
                body = await asyncio.wait_for(reader.readexactly(length), 10)
                body_bytes += len(body)  # not `+= len(await ...)`: that reads the sum before
                answer_ms.append((time.monotonic() - sent) * 1000)
                statuses[int(lines[0].split()[1])] += 1
            except (OSError, asyncio.IncompleteReadError, TimeoutError, StopIteration) as exc:
                errors[type(exc).__name__] += 1
                if connection is not None:
                    connection[1].close()
                connection = None
        if connection is not None:
            connection[1].close()

    await asyncio.gather(*(one(k) for k in range(conns)))
    elapsed = time.monotonic() - start
    answer_ms.sort()
    return {
        "requests_per_second": round(sum(statuses.values()) / elapsed, 1),
        "statuses": dict(statuses),
        "errors": dict(errors),
        "answer_p50_ms": round(answer_ms[len(answer_ms) // 2], 2) if answer_ms else None,
        "answer_p99_ms": round(answer_ms[int(len(answer_ms) * 0.99)], 2) if answer_ms else None,
        "page_bytes": body_bytes // max(1, sum(statuses.values())),
    }


def _crowd_process(queue: Any, *args: Any) -> None:
    pin(GENERATOR_CORE)
    queue.put(asyncio.run(_crowd(*args)))


# --- one phase: publish, wait for every reader to have every entry ------------------------------


async def phase(
    publisher: Publisher, tally: Tally, readers: int, first: int, args: argparse.Namespace
) -> list[float]:
    before = len(tally.lat)
    result = await publisher.run(first, args.events, args.rate)
    if result.failed or set(result.statuses) != {201}:
        raise RuntimeError(f"publishing failed: {result.statuses} {result.errors}")
    expected = before + readers * args.events
    deadline = time.monotonic() + 30
    while len(tally.lat) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if len(tally.lat) < expected:
        raise RuntimeError(f"{expected - len(tally.lat)} deliveries missing after 30 s")
    return [us / 1000 for us in tally.lat[before:expected]]


def summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99)], 2),
        "samples": len(ordered),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    extra_env = {}
    if args.page_cache_seconds is not None:
        extra_env["LIVEBLOG_PAGE_CACHE_SECONDS"] = str(args.page_cache_seconds)
    target = LiveblogTarget(engine=args.engine, cpus=str(SERVER_CORE), extra_env=extra_env)
    endpoint = target.start()
    try:
        base = f"http://{HOST}:{endpoint.port}"
        for n in range(args.blogs):
            slug = f"other-{n}"
            blog = {"slug": slug, "title": f"Blog {n}"}
            entry = {"headline": f"Update {n}", "body": "<p>An update.</p>"}
            for path, body in (("/api/blogs", blog), (f"/api/blogs/{slug}/entries", entry)):
                status, answer = http("POST", base + path, body, endpoint.pub_headers)
                if status != 201:
                    raise RuntimeError(f"POST {path} answered {status}: {answer[:300]!r}")
        pin(GENERATOR_CORE)
        tally = Tally()
        config = {"host": HOST, "port": endpoint.port, "path": endpoint.sse_path,
                  "transport": "sse", "count": args.readers}  # fmt: skip
        readers, failures, _ = await connect_all(config, tally)
        if failures:
            raise RuntimeError(f"readers could not connect: {failures}")
        publisher = Publisher(
            HOST, endpoint.port, endpoint.pub_path, endpoint.pub_headers,
            liveblog_entry_builder(), conns=4,
        )  # fmt: skip
        await publisher.open()
        cpu = procstat.CpuMeter(procstat.tree(target.pid))

        cpu.start()
        idle = summary(await phase(publisher, tally, len(readers), 0, args))
        idle["server_cpu_percent"] = round(cpu.percent(), 1)

        seconds = args.warmup + args.events / args.rate + 2
        queue: Any = multiprocessing.Queue()
        crowd = multiprocessing.Process(
            target=_crowd_process,
            args=(queue, endpoint.port, "/", args.crowd_rate, seconds, args.connections),
        )
        crowd.start()
        await asyncio.sleep(args.warmup)
        cpu.start()
        loaded = summary(
            await phase(
                publisher,
                tally,
                len(readers),
                args.events,
                args,
            )
        )
        loaded["server_cpu_percent"] = round(cpu.percent(), 1)
        crowd_result = await asyncio.to_thread(queue.get, True, seconds + 30)
        crowd.join(10)
        await publisher.close()
        for reader in readers:
            if reader.transport is not None:
                reader.transport.close()
        return {
            "engine": args.engine,
            "page_cache_seconds": args.page_cache_seconds,
            "blogs_on_index": args.blogs + 1,
            "readers": len(readers),
            "events_per_phase": args.events,
            "rate": args.rate,
            "idle": idle,
            "crowd": {**loaded, "on_index": crowd_result},
            "p50_ratio": round(loaded["p50_ms"] / idle["p50_ms"], 2),
        }
    finally:
        target.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["memory", "redis"], default="memory")
    parser.add_argument("--blogs", type=int, default=200, help="extra blogs the index lists")
    parser.add_argument("--readers", type=int, default=100, help="SSE readers of the bench blog")
    parser.add_argument("--events", type=int, default=100, help="entries published per phase")
    parser.add_argument("--rate", type=float, default=5.0, help="entries per second")
    parser.add_argument("--crowd-rate", type=float, default=1000.0, help="GET / per second")
    parser.add_argument("--connections", type=int, default=50, help="the crowd's connections")
    parser.add_argument("--warmup", type=float, default=2.0, help="crowd seconds before measuring")
    parser.add_argument(
        "--page-cache-seconds", type=float, help="LIVEBLOG_PAGE_CACHE_SECONDS (0: / uncached)"
    )
    parser.add_argument("--nice", type=int, default=-10, help="niceness of the bench (root)")
    parser.add_argument(
        "--realtime", action="store_true", help="SCHED_FIFO for the bench (root, shared machines)"
    )
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()
    if not (0 < args.crowd_rate <= 5000 and 0 < args.connections <= 500 and args.events <= 10_000):
        parser.error("bounded: --crowd-rate up to 5000, --connections up to 500")
    priority = boost_priority(args.nice, args.realtime)  # inherited by server and crowd
    result = {**asyncio.run(run(args)), "priority": priority}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()

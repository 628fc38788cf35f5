"""Publish cost on Redis Cluster: WAIT for a replica on and off, and 3 masters against 1 Redis.

Starts its own redis-server and 3+3 cluster (the suite's helpers, free ports), then drives
``engine.apply`` (the publish path of POST /api/blogs/{slug}/entries, entries of ~970 bytes)
directly, so the figures are the engine's, not HTTP's:

- sequential: one publish at a time, latency p50/p99 (what one editor waits);
- concurrent: ``--concurrency`` publishers over ``--blogs`` blogs for ``--seconds``,
  publishes/s;
- with ``--procs N`` (N > 1): the concurrent part in N processes at once, each with its own
  engine and blogs, as N server processes would publish; publishes/s of them all.

    .venv/bin/python bench/cluster_publish.py [--seconds 5] [--concurrency 64] [--procs 2]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from liveblog.config import Settings
from liveblog.editorial import editing
from liveblog.engine import make_engine
from liveblog.engine.base import Engine
from liveblog.models import BlogCreate, EntryCreate
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_server import RedisServer

BODY = "<p>" + "A reader-facing paragraph of live coverage. " * 15 + "</p>"  # ~660 bytes


async def setup(engine: Engine, blogs: int, prefix: str = "bench") -> list[str]:
    slugs = [f"{prefix}-{n}" for n in range(blogs)]
    for slug in slugs:
        await editing.create_blog(engine, BlogCreate(slug=slug, title=slug))
    return slugs


async def sequential(engine: Engine, slug: str, count: int) -> tuple[float, float]:
    data = EntryCreate(headline="Sequential", body=BODY)
    times = []
    for _ in range(count):
        start = time.perf_counter()
        await editing.create_entry(engine, slug, data)
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times) * 1e3, times[int(len(times) * 0.99)] * 1e3


async def concurrent(engine: Engine, slugs: list[str], workers: int, seconds: float) -> float:
    data = EntryCreate(headline="Concurrent", body=BODY)
    done = 0
    deadline = time.monotonic() + seconds

    async def worker(n: int) -> None:
        nonlocal done
        slug = slugs[n % len(slugs)]
        while time.monotonic() < deadline:
            await editing.create_entry(engine, slug, data)
            done += 1

    start = time.monotonic()
    await asyncio.gather(*(worker(n) for n in range(workers)))
    return done / (time.monotonic() - start)


async def measure(name: str, settings: Settings, args: argparse.Namespace, wait: bool) -> None:
    engine = make_engine(settings)
    if not wait:
        engine.wait_for_replica = False  # type: ignore[attr-defined]
    try:
        slugs = await setup(engine, args.blogs)
        p50, p99 = await sequential(engine, slugs[0], args.sequential)
        if args.procs == 1:
            rate = await concurrent(engine, slugs, args.concurrency, args.seconds)
    finally:
        await engine.close()
    if args.procs > 1:
        rate = in_processes(settings, args, wait)
    print(f"| {name} | {p50:.2f} | {p99:.2f} | {rate:,.0f} |", flush=True)


def in_processes(settings: Settings, args: argparse.Namespace, wait: bool) -> float:
    """Publishes/s of ``args.procs`` processes publishing at once, each to blogs of its own."""
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 3.0  # every process set up and waiting by then
    jobs = [(settings, args, wait, f"p{n}", start_at) for n in range(args.procs)]
    with context.Pool(args.procs) as pool:
        return sum(pool.starmap(_publisher_process, jobs))


def _publisher_process(
    settings: Settings, args: argparse.Namespace, wait: bool, prefix: str, start_at: float
) -> float:
    async def run() -> float:
        engine = make_engine(settings)
        if not wait:
            engine.wait_for_replica = False  # type: ignore[attr-defined]
        try:
            slugs = await setup(engine, args.blogs // args.procs or 1, prefix)
            await asyncio.sleep(max(0.0, start_at - time.time()))
            return await concurrent(engine, slugs, args.concurrency, args.seconds)
        finally:
            await engine.close()

    return asyncio.run(run())


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        single = RedisServer(Path(tmp) / "single")
        (Path(tmp) / "single").mkdir()
        cluster = RedisCluster(Path(tmp))
        single.start()
        cluster.start()
        try:
            print("| engine | sequential p50 ms | p99 ms | concurrent publishes/s |")
            print("|---|---|---|---|")
            base = {"admin_token": None, "demo": False, "history_size": 1000}
            await measure("1 Redis", Settings(redis_url=single.url, **base), args, wait=False)
            cluster_settings = Settings(redis_url=cluster.url, redis_cluster=True, **base)
            cluster.flush()
            await measure("cluster, no WAIT", cluster_settings, args, wait=False)
            cluster.flush()
            await measure("cluster, WAIT 1", cluster_settings, args, wait=True)
        finally:
            single.stop()
            cluster.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--blogs", type=int, default=48)
    parser.add_argument("--sequential", type=int, default=1000)
    parser.add_argument("--procs", type=int, default=1, help="publishing processes at once")
    asyncio.run(main(parser.parse_args()))

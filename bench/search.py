"""Issue 21's search figures, on ``liveblog serve`` (Redis of its own, or the memory engine):

1. fill a blog with ``--entries`` (10,000) realistic entries through the API: headlines, two to
   four paragraphs, a third with a captioned photo, a few drafts, over a vocabulary whose word
   frequencies follow Zipf's law as a newsroom's do; POST latency p50/p99 while filling;
2. ``--queries`` (300) searches of 1-3 words, one at a time, as a reader's search box sends
   them (``GET /api/blogs/{slug}/entries?q=``): half made of words of one entry (they find
   something), half drawn from the whole vocabulary; a third end in a partial word (the last
   word as a beginning); p50/p90/p99/max and results found;
3. with Redis: the memory the index takes (``MEMORY USAGE`` of its keys) and how long the first
   search of a blog takes when none of it is indexed yet (the index taken away, as a blog
   written before search existed would be).

The server and its Redis run pinned to core 0, this generator to core 1. Everything on
127.0.0.1, every loop bounded. ``--source DIR`` runs the server from another checkout (for the
POST figures of a version without search: ``--fill-only --source /work/main --python
/work/main/.venv/bin/python``).

    .venv/bin/python bench/search.py [--engine redis|memory] [--entries 10000] [--queries 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import targets  # noqa: E402
from targets import LiveblogTarget  # noqa: E402

SERVER_CORE, GENERATOR_CORE = "0", 1
FILL_CONCURRENCY = 8
SYLLABLES = [
    "ka", "to", "ri", "ne", "sa", "mo", "li", "ve", "da", "pu", "re", "shi", "go", "fa", "nu",
    "ter", "lan", "bor", "mis", "kel", "dra", "ston", "vin", "pel", "cor", "tra", "gen", "wal",
]  # fmt: skip


def pin_generator() -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > GENERATOR_CORE:
        os.sched_setaffinity(0, {GENERATOR_CORE})


class Vocabulary:
    """Made-up words with Zipf-distributed frequencies: a few very common ("the"-like), a long
    tail of rare ones (names, places), as in any newsroom's text."""

    def __init__(self, size: int, rng: random.Random) -> None:
        words: dict[str, None] = {}
        while len(words) < size:
            length = 1 + min(int(rng.expovariate(0.7)), 4)
            words.setdefault("".join(rng.choice(SYLLABLES) for _ in range(length)))
        self.words = list(words)
        self.weights = [1 / (rank + 1) ** 1.07 for rank in range(size)]
        self.rng = rng

    def sample(self, count: int) -> list[str]:
        return self.rng.choices(self.words, weights=self.weights, k=count)

    def sentence(self, low: int, high: int) -> str:
        text = " ".join(self.sample(self.rng.randint(low, high)))
        return text[0].upper() + text[1:] + "."


def make_entry(vocab: Vocabulary, rng: random.Random, at: datetime) -> dict[str, Any]:
    paragraphs = [
        " ".join(vocab.sentence(8, 22) for _ in range(rng.randint(1, 3)))
        for _ in range(rng.randint(2, 4))
    ]
    entry: dict[str, Any] = {
        "headline": vocab.sentence(5, 10).rstrip("."),
        "body": "".join(f"<p>{p}</p>" for p in paragraphs),
        "published_at": at.isoformat(),
    }
    if rng.random() < 0.33:
        url = f"https://photos.example/{rng.randrange(10**9)}.jpg"
        entry["media"] = [
            {"url": url, "caption": vocab.sentence(6, 12), "alt": vocab.sentence(5, 10)}
        ]
    if rng.random() < 0.03:
        entry["status"] = "draft"
    return entry


def make_queries(
    vocab: Vocabulary, entries: list[dict[str, Any]], count: int, rng: random.Random
) -> list[str]:
    queries = []
    for i in range(count):
        size = rng.choice([1, 1, 2, 2, 3])
        if i % 2 == 0:  # words of one entry: it finds something
            text = entries[rng.randrange(len(entries))]["body"]
            words = text.replace("<p>", " ").replace("</p>", " ").replace(".", " ").split()
            chosen = [w.lower() for w in rng.sample(words, min(size, len(words)))]
        else:
            chosen = vocab.sample(size)
        query = " ".join(chosen)
        if rng.random() < 0.33 and len(chosen[-1]) > 4:
            query = query[: len(query) - rng.randint(1, len(chosen[-1]) - 3)]  # a partial word
        else:
            query += " "
        queries.append(query)
    return queries


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "p50": statistics.median(ordered),
        "p90": at(0.90),
        "p99": at(0.99),
        "max": ordered[-1],
    }


async def fill(client: httpx.AsyncClient, path: str, entries: list[dict[str, Any]]) -> list[float]:
    latencies: list[float] = []
    queue = iter(entries)

    async def worker() -> None:
        for entry in queue:
            start = time.perf_counter()
            response = await client.post(path, json=entry)
            latencies.append((time.perf_counter() - start) * 1000)
            if response.status_code != 201:
                raise RuntimeError(f"POST answered {response.status_code}: {response.text[:300]}")

    await asyncio.gather(*(worker() for _ in range(FILL_CONCURRENCY)))
    return latencies


async def run_queries(
    client: httpx.AsyncClient, path: str, queries: list[str]
) -> tuple[list[float], list[int]]:
    latencies, totals = [], []
    for query in queries:
        start = time.perf_counter()
        response = await client.get(path, params={"q": query})
        latencies.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"search {query!r} answered {response.status_code}")
        totals.append(response.json()["total"])
    return latencies, totals


async def index_figures(redis_url: str, slug: str) -> dict[str, Any]:
    client = aioredis.from_url(redis_url)
    try:
        names = [
            name async for name in client.scan_iter(match=f"lb:{{{slug}}}:search*", count=5000)
        ]
        used = 0
        for start in range(0, len(names), 1000):
            async with client.pipeline(transaction=False) as pipe:
                for name in names[start : start + 1000]:
                    pipe.memory_usage(name, samples=0)
                used += sum(v or 0 for v in await pipe.execute())
        entries = await client.memory_usage(f"lb:{{{slug}}}:entries", samples=0) or 0
        total = (await client.info("memory"))["used_memory"]
        return {"index_keys": len(names), "index_bytes": used, "entries_hash_bytes": entries,
                "redis_used_memory": total}  # fmt: skip
    finally:
        await client.aclose()


async def drop_index(redis_url: str, slug: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        names = [
            name async for name in client.scan_iter(match=f"lb:{{{slug}}}:search*", count=5000)
        ]
        for start in range(0, len(names), 1000):
            await client.delete(*names[start : start + 1000])
    finally:
        await client.aclose()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    pin_generator()
    rng = random.Random(args.seed)
    vocab = Vocabulary(args.vocabulary, rng)
    start_at = datetime.now(UTC) - timedelta(days=7)
    entries = [make_entry(vocab, rng, start_at + timedelta(seconds=50 * i))
               for i in range(args.entries)]  # fmt: skip
    # The server is started from this checkout's directory: PYTHONSAFEPATH keeps that
    # directory off its path, so the other checkout's package is the one imported.
    extra_env = {"PYTHONPATH": args.source, "PYTHONSAFEPATH": "1"} if args.source else {}
    if args.python:
        targets.PYTHON = args.python  # the other checkout's environment
    target = LiveblogTarget(args.engine, 1, SERVER_CORE, extra_env=extra_env)
    endpoint = target.start()
    result: dict[str, Any] = {
        "engine": args.engine, "entries": args.entries, "vocabulary": args.vocabulary,
        "source": args.source or str(BENCH.parent), "cpus": os.cpu_count(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }  # fmt: skip
    try:
        base = f"http://{endpoint.host}:{endpoint.port}"
        limits = httpx.Limits(max_connections=FILL_CONCURRENCY)
        async with httpx.AsyncClient(
            base_url=base, headers=endpoint.pub_headers, limits=limits, timeout=60
        ) as client:
            started = time.perf_counter()
            posts = await fill(client, endpoint.pub_path, entries)
            result["fill_seconds"] = round(time.perf_counter() - started, 1)
            result["post_ms"] = {k: round(v, 2) for k, v in percentiles(posts).items()}
            if args.fill_only:
                return result
            queries = make_queries(vocab, entries, args.queries, rng)
            # The first search indexes whatever is not yet: every entry is, so it is a read.
            await client.get(endpoint.pub_path, params={"q": "warmup"})
            latencies, totals = await run_queries(client, endpoint.pub_path, queries)
            result["queries"] = len(queries)
            result["search_ms"] = {k: round(v, 2) for k, v in percentiles(latencies).items()}
            result["found"] = {"none": sum(t == 0 for t in totals),
                               "median": statistics.median(totals), "max": max(totals)}  # fmt: skip
            slowest = sorted(zip(latencies, queries, totals, strict=True), reverse=True)[:5]
            result["slowest"] = [{"q": q, "ms": round(ms, 1), "found": n} for ms, q, n in slowest]
            if args.engine == "redis":
                redis_url = target.redis.url
                figures = await index_figures(redis_url, endpoint.blog)
                figures["index_bytes_per_entry"] = round(figures["index_bytes"] / args.entries)
                result["memory"] = figures
                await drop_index(redis_url, endpoint.blog)
                started = time.perf_counter()
                response = await client.get(endpoint.pub_path, params={"q": queries[0]})
                assert response.status_code == 200
                result["first_search_unindexed_seconds"] = round(time.perf_counter() - started, 2)
    finally:
        target.stop()
    return result


def print_report(result: dict[str, Any]) -> None:
    print(f"engine {result['engine']}, {result['entries']:,} entries, source {result['source']}")
    print(f"fill: {result['fill_seconds']} s; POST p50 {result['post_ms']['p50']} ms, "
          f"p99 {result['post_ms']['p99']} ms")  # fmt: skip
    if "search_ms" in result:
        s = result["search_ms"]
        print(f"search, {result['queries']} queries one at a time: p50 {s['p50']} ms, "
              f"p90 {s['p90']} ms, p99 {s['p99']} ms, max {s['max']} ms")  # fmt: skip
        print(f"results: none for {result['found']['none']} queries, median "
              f"{result['found']['median']}, max {result['found']['max']}")  # fmt: skip
        slow = ", ".join(f"{q['q']!r} {q['ms']} ms ({q['found']} found)" for q in result["slowest"])
        print(f"slowest: {slow}")
    if "memory" in result:
        m = result["memory"]
        print(f"index: {m['index_keys']:,} keys, {m['index_bytes'] / 2**20:.1f} MiB "
              f"({m['index_bytes_per_entry']:,} B per entry); the entries themselves "
              f"{m['entries_hash_bytes'] / 2**20:.1f} MiB")  # fmt: skip
        print(f"first search with nothing indexed: {result['first_search_unindexed_seconds']} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["redis", "memory"], default="redis")
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--vocabulary", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--fill-only", action="store_true", help="only the POST figures")
    parser.add_argument("--source", help="run the server from this checkout (absolute path)")
    parser.add_argument("--python", help="the server's interpreter (that checkout's .venv)")
    parser.add_argument("--json", help="also write the figures here")
    arguments = parser.parse_args()
    figures = asyncio.run(main(arguments))
    print_report(figures)
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(figures, indent=2))

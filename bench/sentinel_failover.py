"""A Redis Sentinel failover under steady publishing: what is lost, and how long it takes.

Starts the suite's master, replica and three Sentinels (free ports; Sentinel's
down-after-milliseconds 1000) and ``--processes`` ``liveblog serve`` processes on them, an SSE
reader per process, and a publisher posting one entry every ``--interval`` seconds (a 503 is
retried with the same Idempotency-Key, as the console does). After ``--before`` seconds the
master gets SIGKILL; publishing goes on for ``--after`` seconds. Reported:

- acknowledged entries missing from the timeline afterwards (must be 0), and doubled ones;
- time to recover: from the kill to the first publish acknowledged after it, and to /readyz
  200 on every process again;
- what the readers got (every acknowledged entry once, or a reset).

    .venv/bin/python bench/sentinel_failover.py [--processes 2] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.clients import SSEReader
from tests.support.redis_sentinel import RedisSentinel
from tests.support.servers import ADMIN_TOKEN, ServerProcess

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def publish_steadily(
    urls: list[str], interval: float, stop: asyncio.Event, acked: list[tuple[float, str]]
) -> int:
    """Posts until ``stop``; returns the number of 503s met."""
    unavailable = 0
    async with httpx.AsyncClient(headers=AUTH, timeout=10) as client:
        n = 0
        while not stop.is_set():
            headline = f"entry {n}"
            for attempt in range(2000):
                url = urls[(n + attempt) % len(urls)]
                try:
                    response = await client.post(
                        f"{url}/api/blogs/failover/entries",
                        json={"headline": headline, "body": f"<p>{headline}</p>"},
                        headers={"Idempotency-Key": f"k{n}"},
                    )
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
                    continue
                if response.status_code == 201:
                    acked.append((time.monotonic(), headline))
                    break
                unavailable += 1
                await asyncio.sleep(0.05)
            n += 1
            await asyncio.sleep(interval)
    return unavailable


async def timeline(url: str) -> list[str]:
    headlines: list[str] = []
    cursor: str | None = None
    async with httpx.AsyncClient(headers=AUTH) as client:
        while True:
            params = {"limit": "100", **({"before": cursor} if cursor else {})}
            page = (await client.get(f"{url}/api/blogs/failover/entries", params=params)).json()
            headlines += [entry["headline"] for entry in page["entries"]]
            if (cursor := page["next"]) is None:
                return headlines


async def ready_everywhere(urls: list[str]) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            statuses = []
            for url in urls:
                try:
                    statuses.append((await client.get(f"{url}/readyz")).status_code)
                except httpx.TransportError:
                    statuses.append(0)
            if all(status == 200 for status in statuses):
                return
            await asyncio.sleep(0.05)


async def one_run(args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        sentinel = RedisSentinel(Path(tmp))
        sentinel.start()
        env = {"LIVEBLOG_REDIS_SENTINELS": sentinel.addresses}
        processes = [ServerProcess(env) for _ in range(args.processes)]
        try:
            for process in processes:
                process.start()
            urls = [p.url for p in processes]
            async with httpx.AsyncClient(headers=AUTH) as client:
                await client.post(f"{urls[0]}/api/blogs", json={"slug": "failover", "title": "F"})
            readers = [await SSEReader(url, "/blogs/failover/events").connect() for url in urls]
            acked: list[tuple[float, str]] = []
            stop = asyncio.Event()
            publisher = asyncio.create_task(publish_steadily(urls, args.interval, stop, acked))
            await asyncio.sleep(args.before)
            killed = time.monotonic()
            sentinel.kill(sentinel.master())
            await ready_everywhere(urls)
            ready = time.monotonic() - killed
            await asyncio.sleep(args.after)
            stop.set()
            unavailable = await publisher
            first_after = min(t for t, _ in acked if t > killed) - killed
            stored = await timeline(urls[0])
            headlines = [h for _, h in acked]
            lost = len(set(headlines) - set(stored))
            doubled = len(stored) - len(set(stored))
            await asyncio.sleep(1.0)
            readers_ok = 0
            for reader in readers:
                created = [
                    e.data["data"]["headline"] for e in reader.events if e.type == "entry.created"
                ]
                reset = any(e.type == "reset" for e in reader.events)
                readers_ok += reset or created == headlines
                await reader.close()
            return {
                "acknowledged": len(headlines),
                "lost": lost,
                "doubled": doubled,
                "503s": unavailable,
                "first_ack_after_kill_s": first_after,
                "all_ready_after_kill_s": ready,
                "readers_ok": readers_ok,
                "readers": len(readers),
            }
        finally:
            for process in processes:
                process.stop()
            sentinel.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--before", type=float, default=2.0)
    parser.add_argument("--after", type=float, default=3.0)
    args = parser.parse_args()
    results = [asyncio.run(one_run(args)) for _ in range(args.runs)]
    for n, result in enumerate(results, 1):
        print(f"run {n}: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                       for k, v in result.items()))  # fmt: skip
    for key in ("first_ack_after_kill_s", "all_ready_after_kill_s"):
        values = [r[key] for r in results]
        print(f"{key}: median {statistics.median(values):.2f} s, max {max(values):.2f} s")
    print(f"acknowledged entries lost: {sum(r['lost'] for r in results)}")


if __name__ == "__main__":
    main()

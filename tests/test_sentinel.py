"""Redis Sentinel: the master is found through the Sentinels and followed across failovers.

Two ``liveblog serve`` processes on the suite's master, replica and three Sentinels; readers on
both follow every blog while editors publish with an Idempotency-Key each. The master gets
``kill -9``: until the Sentinels have promoted the replica, publishes answer 503 (never a 2xx
that is then lost) and ``/readyz`` is 503; then the retries succeed once each, and every reader
ends with every acknowledged entry exactly once, in order, unless it was told ``reset``. A
write no replica confirms is not acknowledged. The event subscription moves to a new master.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis

from liveblog.editorial import editing
from liveblog.engine import make_engine
from liveblog.engine.base import EngineUnavailable
from liveblog.models import BlogCreate, EntryCreate
from tests.conftest import make_settings
from tests.support.clients import Editor, SSEReader, WSReader
from tests.support.failover import (
    AUTH,
    Publisher,
    check_reader,
    delivered,
    readiness,
    wait_until,
)
from tests.support.redis_sentinel import MASTER, RedisSentinel
from tests.support.servers import ServerProcess, process_starter, serve_in_process

BLOGS = [f"desk-{n}" for n in range(3)]


@pytest.fixture
def sentinel_servers(sentinels: str) -> Iterator[Callable[[], ServerProcess]]:
    with process_starter({"LIVEBLOG_REDIS_SENTINELS": sentinels}) as start:
        yield start


async def timeline(url: str, slug: str) -> list[str]:
    headlines: list[str] = []
    cursor: str | None = None
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as client:
        while True:
            params = {"limit": "100", **({"before": cursor} if cursor else {})}
            page = (await client.get(f"/api/blogs/{slug}/entries", params=params)).json()
            headlines += [entry["headline"] for entry in page["entries"]]
            cursor = page["next"]
            if cursor is None:
                return headlines


async def test_a_write_no_replica_confirms_is_503_until_its_retry_settles_it(
    redis_sentinel: RedisSentinel, sentinels: str
) -> None:
    # LIVEBLOG_REDIS_REPLICA_WAIT_MS: the wait, and the words of its 503.
    engine = make_engine(make_settings(None, redis_sentinels=sentinels, redis_replica_wait_ms=300))
    try:
        await editing.create_blog(engine, BlogCreate(slug="wait", title="Wait"))
        replica = next(port for port in redis_sentinel.nodes if port != redis_sentinel.master())
        data = EntryCreate(headline="once", body="<p>once</p>")
        redis_sentinel.pause(replica)
        try:
            # The master stored it, but no replica confirmed it: not acknowledged.
            with pytest.raises(
                EngineUnavailable, match="no replica confirmed the write within 300 ms"
            ):
                await editing.create_entry(
                    engine, "wait", data, idempotency_key="k", raw_request=b"1"
                )
            # The same key again, until the Sentinels judge the replica down: the stored answer.
            for _ in range(100):  # bounded: 20 s
                try:
                    _, replayed, _ = await editing.create_entry(
                        engine, "wait", data, idempotency_key="k", raw_request=b"1"
                    )
                    break
                except EngineUnavailable:
                    await asyncio.sleep(0.2)
            else:
                raise AssertionError("the retry never succeeded")
        finally:
            redis_sentinel.resume(replica)
        assert replayed  # published once, by the first request
        page = await engine.timeline("wait", 10, None)
        assert [e.headline for e in page.entries] == ["once"] and page.position.offset == 1
        assert engine.replica_wait_failures >= 1
    finally:
        await engine.close()


async def test_the_subscription_moves_to_a_new_master(
    redis_sentinel: RedisSentinel, sentinels: str
) -> None:
    """A failover whose old master lives on (SENTINEL FAILOVER): writes and the subscription
    leave it for the new master, and readers miss nothing."""
    settings = make_settings(None, redis_sentinels=sentinels)
    async with serve_in_process(settings) as url:
        editor = Editor(url)
        await editor.create_blog("moving")
        sse = await SSEReader(url, "/blogs/moving/events").connect()
        ws = await WSReader(url, "/blogs/moving/ws").connect()
        await editor.post("moving", headline="before")
        old_master = redis_sentinel.master()
        client = redis.Redis(port=int(redis_sentinel.addresses.split(",")[0].split(":")[1]))
        try:
            client.execute_command("SENTINEL", "FAILOVER", MASTER)
        finally:
            client.close()
        await wait_until(lambda: redis_sentinel.master() != old_master, 30, "no failover")
        for n in range(3):
            async with asyncio.timeout(30):
                while True:
                    response = await editor.http.post(
                        "/api/blogs/moving/entries",
                        json={"headline": f"after {n}", "body": "<p>x</p>"},
                        headers={"Idempotency-Key": f"after-{n}"},
                    )
                    if response.status_code == 201:
                        break
                    assert response.status_code == 503, response.text
                    await asyncio.sleep(0.1)
        expected = ["before", "after 0", "after 1", "after 2"]
        # Every acknowledged write is on the new master: none went to the old one, which takes
        # writes until the Sentinels demote it, and then loses them.
        new_master = redis.Redis(port=redis_sentinel.master())
        try:
            assert new_master.hlen("lb:{moving}:entries") == 4
        finally:
            new_master.close()
        for reader in (sse, ws):
            events = await reader.wait_for(4, timeout=30)
            check_reader(events, expected)
            await reader.close()
        metrics = (await editor.http.get("/metrics")).text
        reconnects = re.search(r"^liveblog_redis_reconnects_total (\S+)$", metrics, re.M)
        assert reconnects and float(reconnects[1]) >= 1  # it left the old master
        await editor.close()


async def test_failover_loses_no_acknowledged_entry(
    redis_sentinel: RedisSentinel, sentinel_servers: Callable[[], ServerProcess]
) -> None:
    servers = [sentinel_servers(), sentinel_servers()]
    editor = Editor(servers[0].url)
    for slug in BLOGS:
        await editor.create_blog(slug)
    await editor.close()

    readers: dict[str, list[SSEReader | WSReader]] = {slug: [] for slug in BLOGS}
    for slug in BLOGS:
        for server in servers:
            readers[slug].append(await SSEReader(server.url, f"/blogs/{slug}/events").connect())
        readers[slug].append(await WSReader(servers[1].url, f"/blogs/{slug}/ws").connect())
    await asyncio.sleep(0.2)

    publisher = Publisher([s.url for s in servers], BLOGS)
    publishing = [asyncio.create_task(publisher.run(slug)) for slug in BLOGS]
    stop = asyncio.Event()
    ready: list[list[int]] = [[], []]
    probes = [asyncio.create_task(readiness(s.url, ready[i], stop)) for i, s in enumerate(servers)]
    old_master = redis_sentinel.master()
    try:
        await asyncio.sleep(1.0)
        assert all(publisher.acked[slug] for slug in BLOGS)  # publishing is steady
        redis_sentinel.kill(old_master)
        await wait_until(lambda: all(503 in seen for seen in ready), 15, "/readyz never failed")
        await wait_until(lambda: all(seen[-1] == 200 and 503 in seen for seen in ready), 30,
                         "/readyz never recovered")  # fmt: skip
        await asyncio.sleep(1.0)  # publishing goes on after the failover
    finally:
        publisher.running = False
        results = await asyncio.gather(*publishing, return_exceptions=True)
        stop.set()
        await asyncio.gather(*probes)
        await publisher.close()
    for result in results:
        if isinstance(result, BaseException):
            raise result

    assert redis_sentinel.master() != old_master  # the replica took over
    assert sum(publisher.unavailable.values()) > 0  # the outage was seen, as 503s
    # Every acknowledged entry is stored once: nothing acknowledged was lost in the failover,
    # and no retry published twice.
    for slug in BLOGS:
        headlines = await timeline(servers[1].url, slug)
        assert sorted(headlines) == sorted(publisher.acked[slug])
        assert len(headlines) == len(set(headlines))
    # Every reader: every acknowledged entry exactly once, in order, or a reset; never a gap.
    for slug in BLOGS:
        acked = publisher.acked[slug]
        for reader in readers[slug]:
            async with asyncio.timeout(30):  # the last entry was published after recovery
                while not delivered(reader.events, acked[-1]):
                    await asyncio.sleep(0.05)
            check_reader(reader.events, acked)
            await reader.close()

"""Redis Cluster: a master killed under steady publishing loses nothing that was acknowledged.

Two ``liveblog serve`` processes share the suite's 3+3 cluster; readers on both follow every
blog while editors publish with an Idempotency-Key each. The master that holds most blogs gets
``kill -9``: until its replica takes over, publishes to its blogs answer 503 (never a 2xx that is
then lost) and ``/readyz`` is 503; the retries then succeed once each, and every reader ends with
every acknowledged entry exactly once, in order, unless it was told ``reset``. And a write no
replica confirms is not acknowledged: 503, until its retry with the same key settles it, once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest

from liveblog.editorial import editing
from liveblog.engine import make_engine
from liveblog.engine.base import Engine, EngineUnavailable
from liveblog.models import BlogCreate, EntryCreate
from tests.conftest import make_settings
from tests.support.clients import Editor, SSEReader, WSReader
from tests.support.failover import Publisher, check_reader, delivered, readiness, wait_until
from tests.support.redis_cluster import RedisCluster
from tests.support.servers import ADMIN_TOKEN, ServerProcess, process_starter

BLOGS = [f"desk-{n}" for n in range(9)]
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def cluster_servers(cluster_url: str) -> Iterator[Callable[[], ServerProcess]]:
    env = {"LIVEBLOG_REDIS_URL": cluster_url, "LIVEBLOG_REDIS_CLUSTER": "1"}
    with process_starter(env) as start:
        yield start


async def test_failover_loses_no_acknowledged_entry(
    redis_cluster: RedisCluster, cluster_servers: Callable[[], ServerProcess]
) -> None:
    servers = [cluster_servers(), cluster_servers()]
    editor = Editor(servers[0].url)
    for slug in BLOGS:
        await editor.create_blog(slug)
    await editor.close()
    by_master = Counter(redis_cluster.master_of(f"lb:{{{slug}}}:blog") for slug in BLOGS)
    victim, victim_blogs = by_master.most_common(1)[0]
    assert victim_blogs >= 3

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
    try:
        await asyncio.sleep(1.0)
        assert all(publisher.acked[slug] for slug in BLOGS)  # publishing is steady
        redis_cluster.kill(victim)
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

    # A replica took over every slot of the dead master.
    assert all(redis_cluster.master_of(f"lb:{{{slug}}}:blog") != victim for slug in BLOGS)
    assert sum(publisher.unavailable.values()) > 0  # the outage was seen, as 503s

    # Every acknowledged entry is stored once: nothing acknowledged was lost in the failover,
    # and no retry published twice.
    async with httpx.AsyncClient(base_url=servers[1].url, headers=AUTH) as client:
        for slug in BLOGS:
            headlines: list[str] = []
            cursor: str | None = None
            while True:
                params = {"limit": "100", **({"before": cursor} if cursor else {})}
                page = (await client.get(f"/api/blogs/{slug}/entries", params=params)).json()
                headlines += [entry["headline"] for entry in page["entries"]]
                cursor = page["next"]
                if cursor is None:
                    break
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
    redis_cluster.heal()  # the victim comes back as a replica, for the tests after this one


async def test_a_write_no_replica_confirms_is_503_until_its_retry_settles_it(
    redis_cluster: RedisCluster, cluster_url: str
) -> None:
    engine = make_engine(make_settings(cluster_url, redis_cluster=True))
    try:
        await _retry_settles(redis_cluster, engine)
    finally:
        await engine.close()


async def _retry_settles(redis_cluster: RedisCluster, engine: Engine) -> None:
    await editing.create_blog(engine, BlogCreate(slug="wait", title="Wait"))
    replica = redis_cluster.replica_of(redis_cluster.master_of("lb:{wait}:blog"))
    data = EntryCreate(headline="once", body="<p>once</p>")
    redis_cluster.pause(replica)
    try:
        # The master stored it, but no replica confirmed it: not acknowledged.
        with pytest.raises(EngineUnavailable, match="no replica confirmed"):
            await editing.create_entry(engine, "wait", data, idempotency_key="k", raw_request=b"1")
        # The same key again, until the cluster gives up on the hung replica: the stored answer.
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
        redis_cluster.resume(replica)
    assert replayed  # published once, by the first request
    page = await engine.timeline("wait", 10, None)
    assert [e.headline for e in page.entries] == ["once"] and page.position.offset == 1

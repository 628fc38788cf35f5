"""``/metrics`` counts what happened, ``/api/stats`` sums every server process, on both engines."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from liveblog.config import Settings
from liveblog.engine import make_engine
from liveblog.engine.base import Engine
from liveblog.ops import latency
from tests.conftest import make_settings
from tests.support.clients import BIG_BODY, Editor, SSEReader, WSReader, stalled_reader
from tests.support.metrics import scrape
from tests.support.redis_server import RedisServer
from tests.support.servers import ADMIN_TOKEN, ServerProcess, serve_in_process


async def subscribe(socket: WSReader, *slugs: str) -> None:
    """Subscribe a /ws socket and wait until the server has attached it to every blog.

    The server handles one socket's ops in order, so the error answering a probe for a blog that
    does not exist arrives only after the subscriptions before it are in place.
    """
    for slug in slugs:
        await socket.send({"op": "subscribe", "blog": slug})
    probe = f"probe-{len(socket.others)}"
    await socket.send({"op": "subscribe", "blog": probe})
    async with asyncio.timeout(20):
        while not any(o["blog"] == probe for o in socket.others):
            await asyncio.sleep(0.01)


async def eventually(check: Callable[[], Any], timeout: float = 20) -> Any:
    """Poll an async ``check`` until it returns something truthy (or the deadline fails)."""
    async with asyncio.timeout(timeout):
        while not (result := await check()):
            await asyncio.sleep(0.05)
    return result


async def test_metrics_count_what_the_test_did(server: str, editor: Editor) -> None:
    await editor.create_blog("count")
    # The subscription connects in the background after start-up: wait until /readyz says so.
    await eventually(lambda: _ready(editor.http, True))
    before = await scrape(editor.http)
    assert before["liveblog_events_published_total"] == 0
    assert before["liveblog_subscription_up"] == 1

    sse = [await SSEReader(server, "/blogs/count/events").connect() for _ in range(2)]
    ws = await WSReader(server, "/blogs/count/ws").connect()
    newsroom = await WSReader(server, "/ws").connect()
    await subscribe(newsroom, "count")

    await editor.post("count", headline="one")
    await editor.post("count", headline="two")
    key = {"Idempotency-Key": "metrics-1"}
    first = await editor.http.post("/api/blogs/count/entries", json={"body": "x"}, headers=key)
    replay = await editor.http.post("/api/blogs/count/entries", json={"body": "x"}, headers=key)
    assert first.status_code == replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    for reader in [*sse, ws, newsroom]:
        await reader.wait_for(3)

    # A resume from a known position, and one from a position that never existed (a reset).
    resumed = SSEReader(server, "/blogs/count/events", last_event_id=sse[0].events[0].id)
    await (await resumed.connect()).wait_for(2)
    lost = await SSEReader(server, "/blogs/count/events", last_event_id="nosuchepoch-2").connect()
    assert [e.type for e in await lost.wait_for(1)] == ["reset"]

    m = await scrape(editor.http)
    assert m["liveblog_events_published_total"] == 3  # the replay published nothing
    assert m["liveblog_publish_latency_seconds_count"] == 3
    assert m["liveblog_events_received_total"] == 3
    assert m["liveblog_deliveries_total"] == 3 * 4  # 2 SSE, 1 WS, 1 newsroom socket
    assert m["liveblog_fanout_latency_seconds_count"] == 3  # once per event, not per reader
    assert m["liveblog_fanout_latency_seconds_bucket{le=+Inf}"] == 3
    assert m["liveblog_resumes_total"] == 2
    assert m["liveblog_resets_total"] == 1
    assert m["liveblog_slow_readers_dropped_total"] == 0
    assert m["liveblog_redis_reconnects_total"] == 0
    assert m["liveblog_connections{transport=sse}"] == 4
    assert m["liveblog_connections{transport=ws}"] == 2
    assert m["liveblog_newsroom_connections"] == 1
    assert m["liveblog_channels"] == 1
    assert m["process_resident_memory_bytes"] > 0

    for reader in [*sse, ws, newsroom, resumed, lost]:
        await reader.close()
    await eventually(lambda: _connections(editor.http, sse=0, ws=0))


async def _connections(client: httpx.AsyncClient, **expected: int) -> bool:
    m = await scrape(client)
    return all(m[f"liveblog_connections{{transport={k}}}"] == v for k, v in expected.items())


async def test_a_slow_reader_dropped_is_counted(
    settings_factory: Callable[..., Settings],
) -> None:
    async with serve_in_process(settings_factory(reader_buffer_bytes=64 * 1024)) as url:
        editor = Editor(url)
        await editor.create_blog("slow")
        reader = await SSEReader(url, "/blogs/slow/events").connect()
        _, stalled = await stalled_reader(url, "/blogs/slow/events")
        await asyncio.sleep(0.2)
        for _ in range(160):
            await editor.post("slow", body=BIG_BODY)
        await reader.wait_for(160)
        m = await eventually(lambda: _dropped(editor.http))
        assert m["liveblog_slow_readers_dropped_total"] == 1  # the stalled one only
        # Every event handed to the reader that reads; to the stalled one until it overflowed.
        assert 160 < m["liveblog_deliveries_total"] < 320
        stalled.close()
        await reader.close()
        await editor.close()


async def _dropped(client: httpx.AsyncClient) -> dict[str, float] | None:
    m = await scrape(client)
    return m if m["liveblog_slow_readers_dropped_total"] else None


async def test_redis_reconnects_are_counted(redis_url: str, redis_server: RedisServer) -> None:
    async with serve_in_process(make_settings(redis_url)) as url:
        editor = Editor(url)
        await eventually(lambda: _ready(editor.http, True))  # subscribed once before the kill
        redis_server.kill()
        await eventually(lambda: _ready(editor.http, False), timeout=30)
        assert (await scrape(editor.http))["liveblog_subscription_up"] == 0
        redis_server.start()
        await eventually(lambda: _ready(editor.http, True), timeout=30)
        m = await scrape(editor.http)
        assert m["liveblog_redis_reconnects_total"] == 1
        assert m["liveblog_subscription_up"] == 1
        await editor.close()


async def _ready(client: httpx.AsyncClient, ready: bool) -> bool:
    return ((await client.get("/readyz")).status_code == 200) == ready


async def test_every_app_has_a_registry_of_its_own(
    settings_factory: Callable[..., Settings],
) -> None:
    async with (
        serve_in_process(settings_factory()) as one,
        serve_in_process(settings_factory()) as two,
    ):
        first, second = Editor(one), Editor(two)
        await first.create_blog("one")
        await first.post("one")
        assert (await scrape(first.http))["liveblog_events_published_total"] == 1
        assert (await scrape(second.http))["liveblog_events_published_total"] == 0
        await first.close()
        await second.close()


async def test_metrics_are_open_without_a_metrics_token(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert "liveblog_connections" in response.text


async def test_metrics_token_restricts_metrics() -> None:
    token = "scraper-secret-0123456789"
    async with (
        serve_in_process(make_settings(None, metrics_token=token)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Bearer {token}x"},
            {"Authorization": f"Basic {token}"},
            {"Authorization": f"Bearer {ADMIN_TOKEN}"},  # an API token is not the metrics token
        ):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert "liveblog_connections" not in refused.text
        client.headers["Authorization"] = f"Bearer {token}"
        samples = await scrape(client)
        assert samples["liveblog_events_published_total"] == 0
        # The rest of the server is not behind the metrics token.
        assert (await client.get("/healthz")).status_code == 200


# --- /api/stats -------------------------------------------------------------------------------


async def stats(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/stats")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def blog_stats(body: dict[str, Any], slug: str) -> dict[str, Any]:
    found: dict[str, Any] = next(b for b in body["blogs"] if b["slug"] == slug)
    return found


async def test_stats_of_one_process(server: str, editor: Editor) -> None:
    now = datetime.now(UTC)
    await editor.create_blog("busy", "Busy")
    await editor.create_blog("quiet", "Quiet")
    await editor.create_blog("silent", "Silent")
    await editor.create_blog("over", "Over")
    await editor.http.patch("/api/blogs/over", json={"status": "ended"})
    sse = await SSEReader(server, "/blogs/busy/events").connect()
    ws = await WSReader(server, "/blogs/busy/ws").connect()
    newsroom = await WSReader(server, "/ws").connect()
    await subscribe(newsroom, "busy", "quiet")

    await editor.post("busy", headline="now")
    await editor.post("busy", headline="a while ago", published_at=_ago(now, minutes=50))
    await editor.post("busy", headline="old", published_at=_ago(now, hours=2))
    tomorrow = _ago(now, hours=-24)  # scheduled: a published entry from the future is refused
    await editor.post("busy", headline="tomorrow", status="scheduled", publish_at=tomorrow)
    await editor.post("quiet", headline="twenty minutes ago", published_at=_ago(now, minutes=20))
    await editor.post("over", headline="fin", published_at=_ago(now, hours=3))
    await sse.wait_for(3)

    body = await stats(editor.http)
    assert body["processes"] == 1
    assert body["readers"] == {"sse": 1, "ws": 1, "total": 2}
    assert body["newsroom_connections"] == 1  # watching two blogs, counted as no reader
    assert body["quiet_thresholds"] == {"amber_minutes": 10.0, "red_minutes": 30.0}
    assert [b["slug"] for b in body["blogs"]] == ["busy", "quiet", "silent", "over"]
    busy = blog_stats(body, "busy")
    assert busy["readers"] == 2
    assert busy["entries_last_hour"] == 2  # not the old one, nor the one dated tomorrow
    assert busy["seconds_since_last_entry"] < 60
    assert busy["quiet"] == "ok"
    quiet = blog_stats(body, "quiet")
    assert quiet["readers"] == 0
    assert quiet["entries_last_hour"] == 1
    assert 20 * 60 - 5 < quiet["seconds_since_last_entry"] < 21 * 60
    assert quiet["quiet"] == "amber"
    silent = blog_stats(body, "silent")
    assert silent["last_entry_at"] is None and silent["seconds_since_last_entry"] is None
    assert silent["quiet"] == "ok"  # created a moment ago
    over = blog_stats(body, "over")
    assert over["status"] == "ended" and over["quiet"] is None
    assert over["entries_last_hour"] == 0

    # Publish-to-delivery latency: one sample per event that reached live readers.
    assert body["latency"]["window_seconds"] == 300
    assert body["latency"]["samples"] == 4  # 3 on busy, 1 on quiet (the newsroom socket)
    assert 0 < body["latency"]["p50_ms"] <= body["latency"]["p99_ms"] < 5000

    # A cached count follows the blog's changes: a delete moves its position.
    entries = (await editor.http.get("/api/blogs/busy/entries")).json()["entries"]
    now_entry = next(e for e in entries if e["headline"] == "now")
    deleted = await editor.http.delete(f"/api/blogs/busy/entries/{now_entry['id']}")
    assert deleted.status_code == 204
    assert blog_stats(await stats(editor.http), "busy")["entries_last_hour"] == 1

    for reader in [sse, ws, newsroom]:
        await reader.close()


def _ago(now: datetime, **delta: float) -> str:
    return (now - timedelta(**delta)).isoformat()


async def test_stats_sum_every_server_process(
    server_process: Callable[..., ServerProcess],
) -> None:
    one, two = server_process(), server_process()
    editor = Editor(one.url)
    await editor.create_blog("shared")
    a = await SSEReader(one.url, "/blogs/shared/events").connect()
    b = [await WSReader(two.url, "/blogs/shared/ws").connect() for _ in range(2)]
    c = await SSEReader(two.url, "/blogs/shared/events").connect()
    newsroom = await WSReader(one.url, "/ws").connect()
    await subscribe(newsroom, "shared")
    await editor.post("shared", headline="to everyone")
    for reader in [a, *b, c, newsroom]:
        await reader.wait_for(1)

    async def summed(url: str, total: int, processes: int = 2) -> dict[str, Any] | None:
        async with httpx.AsyncClient(base_url=url) as client:
            body = await stats(client)
        done = body["processes"] == processes and body["readers"]["total"] == total
        return body if done and body["latency"]["samples"] == processes else None

    # Each process sees the other's report (within a report interval) plus its own, now.
    for url in (one.url, two.url):
        body = await eventually(lambda url=url: summed(url, 4))
        assert body["readers"] == {"sse": 2, "ws": 2, "total": 4}
        assert blog_stats(body, "shared")["readers"] == 4
        assert body["newsroom_connections"] == 1
        assert body["latency"]["samples"] == 2  # the event, delivered once by each process

    for reader in b:
        await reader.close()
    body = await eventually(lambda: summed(one.url, 2))
    assert blog_stats(body, "shared")["readers"] == 2

    # A process that stops takes its readers out of the sum at once (not after the TTL).
    await c.close()
    await asyncio.to_thread(two.stop)
    body = await eventually(lambda: summed(one.url, 1, processes=1))
    assert body["readers"] == {"sse": 1, "ws": 0, "total": 1}
    for reader in [a, newsroom]:
        await reader.close()
    await editor.close()


# --- the engines' report store ------------------------------------------------------------------


@pytest.fixture
async def engine(settings_factory: Callable[..., Settings]) -> Engine:
    return make_engine(settings_factory())


async def test_engine_reports_expire_and_can_be_forgotten(engine: Engine) -> None:
    await engine.start()
    try:
        await engine.report_stats("a", b'{"sse":1}', ttl=60)
        await engine.report_stats("b", b'{"sse":2}', ttl=0.05)
        await engine.report_stats("a", b'{"sse":3}', ttl=60)  # a newer report replaces
        await asyncio.sleep(0.1)
        assert await engine.collect_stats() == {"a": b'{"sse":3}'}
        await engine.forget_stats("a")
        await engine.forget_stats("never-reported")
        assert await engine.collect_stats() == {}
    finally:
        await engine.close()


# --- the latency window -------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_latency_quantiles_are_within_five_percent() -> None:
    window = latency.LatencyWindow(clock=FakeClock())
    samples = [i / 1000 for i in range(1, 1001)]  # 1 ms .. 1 s
    for seconds in samples:
        window.observe(seconds)
    counts = window.buckets()
    assert sum(counts.values()) == 1000
    for q, exact in ((0.5, 0.5), (0.99, 0.99), (1.0, 1.0)):
        found = latency.quantile(counts, q)
        assert found is not None
        assert exact <= found <= exact * 1.05
    assert latency.quantile({}, 0.5) is None
    assert latency.bucket_of(0) == 0
    assert latency.bucket_of(10**9) == latency.bucket_of(10**10)  # bounded


def test_latency_window_forgets_after_five_minutes_and_stays_bounded() -> None:
    clock = FakeClock()
    window = latency.LatencyWindow(clock=clock)
    window.observe(0.002)
    clock.now += 200
    window.observe(0.004)
    assert sum(window.buckets().values()) == 2
    clock.now += 110  # the first sample is now 310 s old
    assert sum(window.buckets().values()) == 1
    for second in range(10_000):  # hours of samples: memory is bounded by slots x buckets
        clock.now += 1
        window.observe(second % 7 / 1000)
    assert len(window._slots) == latency.WINDOW_SECONDS // latency.SLOT_SECONDS
    assert 290 <= sum(window.buckets().values()) <= 300  # the last 5 minutes, to a slot


def test_windows_of_two_processes_merge_exactly() -> None:
    one, two = latency.LatencyWindow(clock=FakeClock()), latency.LatencyWindow(clock=FakeClock())
    for _ in range(99):
        one.observe(0.001)
    two.observe(2.0)
    merged = latency.merge([one.buckets(), two.buckets()])
    assert sum(merged.values()) == 100
    p50, p99, top = (latency.quantile(merged, q) for q in (0.5, 0.99, 1.0))
    assert p50 is not None and p99 is not None and top is not None
    assert 0.001 <= p50 <= 0.00105
    assert p99 <= 0.00105 and 2.0 <= top <= 2.1

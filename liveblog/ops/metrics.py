"""``GET /metrics``: Prometheus metrics of this process, in a registry of the app's own.

Cheap on the hot path by construction: the hub's counters are plain integers it keeps anyway,
read only when Prometheus scrapes; the two histograms are observed once per write and once per
event fanned out, never once per reader.

With several workers behind one port a scrape reaches one of them; scrape each process (one
port per instance) for per-process series, or read ``/api/stats`` for the cluster-wide view.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from liveblog.delivery import frames
from liveblog.delivery.connections import COMPRESSED, SSE, WS, DirectConnection, Frame
from liveblog.delivery.hub import Hub
from liveblog.engine.base import Applied, Engine
from liveblog.ops.eviction import UNKNOWN, EvictionGuard
from liveblog.problems import Problem

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STATUS_CLASSES = ("1xx", "1xx", "2xx", "3xx", "4xx", "5xx")

# Seconds: sub-millisecond resolution where a healthy server lives, up to a stalled one.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class HubCollector(Collector):
    """The hub's own counters and its connections, read at scrape time."""

    def __init__(self, hub: Hub, eviction: EvictionGuard) -> None:
        self.hub = hub
        self.eviction = eviction

    def collect(self) -> Iterator[Metric]:
        yield from self._engine()
        yield from self._hub()

    def _engine(self) -> Iterator[Metric]:
        engine, eviction = self.hub.engine, self.eviction
        yield GaugeMetricFamily(
            "liveblog_ready",
            "1 while /readyz would answer 200 as far as this process knows without asking Redis "
            "(subscription up, no delivery loop down, Redis not evicting unless allowed).",
            value=1 if self.hub.healthy and eviction.problem is None else 0,
        )
        yield GaugeMetricFamily(
            "liveblog_redis_evicting",
            "1 when a Redis server's maxmemory-policy may evict keys (checked every "
            f"{eviction.interval:.0f} s; /readyz fails unless LIVEBLOG_ALLOW_EVICTING_REDIS=1).",
            value=1 if eviction.evicting else 0,
        )
        policy = GaugeMetricFamily(
            "liveblog_redis_maxmemory_policy",
            "Each Redis server's maxmemory-policy as last read (policy=unknown: CONFIG GET "
            "refused).",
            labels=["server", "policy"],
        )
        if eviction.policies is not None:
            for server, name in sorted(eviction.policies.by_server.items()):
                policy.add_metric([server, name or UNKNOWN], 1)
        yield policy
        yield CounterMetricFamily(
            "liveblog_replica_waits",
            "Writes that waited for a replica to have them (Redis Cluster or Sentinel).",
            value=engine.replica_waits,
        )
        yield CounterMetricFamily(
            "liveblog_replica_wait_failures",
            "Writes no replica confirmed in time: answered 503 (an idempotent retry settles it).",
            value=engine.replica_wait_failures,
        )

    def _hub(self) -> Iterator[Metric]:
        hub, stats = self.hub, self.hub.stats
        connections = GaugeMetricFamily(
            "liveblog_connections",
            "Open stream connections by transport (the newsroom's /ws sockets count as ws).",
            labels=["transport"],
        )
        counts = {SSE: 0, WS: 0}
        newsroom = 0
        for conn in hub.connections:
            counts[conn.kind] = counts.get(conn.kind, 0) + 1
            newsroom += conn.watcher
        for transport, count in sorted(counts.items()):
            connections.add_metric([transport], count)
        yield connections
        yield GaugeMetricFamily(
            "liveblog_newsroom_connections",
            "Open multi-blog /ws sockets: editor consoles and dashboards.",
            value=newsroom,
        )
        yield GaugeMetricFamily(
            "liveblog_direct_connections",
            "Open streams on the fast path (written straight into their sockets).",
            value=sum(isinstance(conn, DirectConnection) for conn in hub.connections),
        )
        yield GaugeMetricFamily(
            "liveblog_compressed_connections",
            "Open streams taking compressed events (SSE gzip, WebSocket permessage-deflate).",
            value=sum(conn.encoding in COMPRESSED for conn in hub.connections),
        )
        compressions = CounterMetricFamily(
            "liveblog_event_compressions",
            "Deflate runs for live events in this process: one per event (or coalesced batch) "
            "and compressed encoding, however many readers take it.",
            labels=["transport"],
        )
        for kind in (SSE, WS):
            compressions.add_metric([kind], frames.COMPRESSIONS[kind])
        yield compressions
        yield GaugeMetricFamily(
            "liveblog_channels", "Blogs this process is subscribed to.", value=len(hub.channels)
        )
        yield GaugeMetricFamily(
            "liveblog_subscription_up",
            "1 while the engine's event subscription is connected.",
            value=1 if hub.connected.is_set() else 0,
        )
        errors = CounterMetricFamily(
            "liveblog_task_errors",
            "Unexpected errors of background tasks, each logged; the task went on.",
            labels=["task"],
        )
        for task, count in sorted(hub.supervisor.errors.items()):
            errors.add_metric([task], count)
        yield errors
        for name, doc, value in (
            ("events_received", "Live events received from the engine.", stats.events),
            ("deliveries", "Events handed to readers, one per reader.", stats.deliveries),
            (
                "reader_writes",
                "Writes of events to live readers: events of one loop turn share one write.",
                stats.writes,
            ),
            ("slow_readers_dropped", "Readers closed: their buffer overflowed.", stats.dropped),
            (
                "unresponsive_sockets_closed",
                "WebSockets closed: no pong (nothing at all) since the previous keepalive ping.",
                stats.unresponsive,
            ),
            ("resumes", "Readers that resumed from a last event id.", stats.resumes),
            ("resets", "Reset events sent: a gap that could not be filled.", stats.resets),
            ("redis_reconnects", "Reconnects of the event subscription.", stats.reconnects),
            (
                "write_errors",
                "Writes that found a reader's socket gone; that reader alone was detached.",
                stats.write_errors,
            ),
        ):
            yield CounterMetricFamily(f"liveblog_{name}", doc, value=value)


class Metrics:
    """The metrics of one app. ``on_latency`` also receives each fan-out latency (stats)."""

    def __init__(
        self,
        engine: Engine,
        hub: Hub,
        eviction: EvictionGuard,
        *,
        on_latency: Callable[[float], None] | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.responses = Counter(
            "liveblog_http_responses",
            "Responses to requests other than live streams, by method and status class (2xx..).",
            ["method", "status"],
            registry=self.registry,
        )
        for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
            for status in ("2xx", "4xx", "5xx"):
                self.responses.labels(method, status)  # present at 0 before anything happens
        self.published = Counter(
            "liveblog_events_published",
            "Events published by this process's editor API (idempotent replays excluded).",
            registry=self.registry,
        )
        self.publish_latency = Histogram(
            "liveblog_publish_latency_seconds",
            "Time of the engine's atomic write for each published event (API side).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.fanout_latency = Histogram(
            "liveblog_fanout_latency_seconds",
            "From an event's publish to its hand-off to this process's readers.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(HubCollector(hub, eviction))
        ProcessCollector(registry=self.registry)
        self._on_latency = on_latency
        engine.observe_apply(self.on_applied)
        hub.observe_deliveries(self.on_deliver)

    def on_response(self, method: str, status: int) -> None:
        """Called once per request answered (not per live stream: those are counted above)."""
        if method not in _METHODS:
            method = "other"
        self.responses.labels(method, _STATUS_CLASSES[min(status // 100, 5)]).inc()

    def on_applied(self, applied: Applied, seconds: float) -> None:
        """Called by the engine after each write (an idempotent replay publishes nothing)."""
        if applied.replay is None:
            self.publish_latency.observe(seconds)
            self.published.inc()

    def on_deliver(self, frame: Frame, readers: int) -> None:
        """Called by the hub once per event it fans out to live readers."""
        if frame.published is None:
            return  # from history: its publish time is not known
        seconds = max(0.0, time.time() - frame.published)  # clocks of two hosts may disagree
        self.fanout_latency.observe(seconds)
        if self._on_latency is not None:
            self._on_latency(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # compare_digest: the time taken says nothing about how much of the token was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


async def metrics_endpoint(request: Request) -> Response:
    token = request.app.state.settings.metrics_token
    if token and not _authorized(request, token):
        # Metrics show the load and health of the process: with a token, only scrapers see them.
        raise Problem(
            401,
            "GET /metrics needs Authorization: Bearer <LIVEBLOG_METRICS_TOKEN>",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
        )
    metrics: Metrics = request.app.state.metrics
    return Response(
        metrics.exposition(),
        media_type=CONTENT_TYPE_LATEST,
        headers={"Cache-Control": "no-store"},
    )

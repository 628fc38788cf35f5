"""``GET /api/stats``: what the newsroom dashboard shows, summed over every server process.

Each process reports its readers and its latency window through the engine every few seconds,
with a TTL (:class:`Reporter`); the endpoint merges the reports of all processes with a fresh
one of its own. Entry counts come from the timelines, cached per stream position: a blog's
position moves with every change, so a cached answer is never stale.

Readers over the last hour: each process also records, per minute, the most readers it saw on
each blog in that minute (one record per process and minute in the engine, an hour of them
kept); a blog's point for a minute is the sum over processes, and its peak the highest point.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import secrets
import socket
import time
from datetime import UTC, datetime
from typing import Literal

import msgspec

from liveblog.config import Settings
from liveblog.delivery.connections import SSE
from liveblog.delivery.hub import Hub
from liveblog.engine.base import Engine, EngineError, Reports
from liveblog.models import Blog
from liveblog.ops import latency
from liveblog.supervisor import Supervisor

logger = logging.getLogger("liveblog.ops.stats")

REPORT_SECONDS = 2.0
REPORT_TTL_SECONDS = 3 * REPORT_SECONDS  # a missed report or two is not a dead process
HOUR = 3600.0
MINUTES = 60  # points of the readers chart: one a minute, the last is the current minute
HISTORY_CACHE_SECONDS = 5.0  # past minutes change little: read them at most this often
_SCAN_PAGE = 100
SCAN_LIMIT = 1000  # "entries in the last hour" counts at most this many
_CACHE_SIZE = 1024

Quiet = Literal["ok", "amber", "red"]


class ProcessReport(msgspec.Struct):
    """One server process, as it reports itself."""

    sse: int = 0  # readers on SSE
    ws: int = 0  # readers on a blog's WebSocket
    newsroom: int = 0  # multi-blog sockets (/ws): consoles and dashboards, not readers
    blogs: dict[str, int] = {}  # readers per blog
    latency: latency.Buckets = {}  # publish-to-delivery samples of the last 5 minutes


class Readers(msgspec.Struct):
    sse: int
    ws: int
    total: int


class LatencySummary(msgspec.Struct):
    window_seconds: int
    samples: int
    p50_ms: float | None
    p99_ms: float | None


class QuietThresholds(msgspec.Struct):
    amber_minutes: float
    red_minutes: float


class BlogStats(msgspec.Struct):
    slug: str
    title: str
    status: str
    created_at: datetime
    last_event_id: str
    readers: int
    # Readers in each minute of the last hour, oldest first (the last: this minute so far),
    # summed over processes; the peak of them, and the start of its minute.
    readers_last_hour: list[int]
    readers_peak: int
    readers_peak_at: datetime | None
    entries_last_hour: int
    last_entry_at: datetime | None
    seconds_since_last_entry: float | None
    quiet: Quiet | None  # for live blogs: how long since the last entry, against thresholds
    time_zone: str = "UTC"  # the blog's: the dashboard shows its times there


class Stats(msgspec.Struct):
    generated_at: datetime
    processes: int
    readers: Readers
    newsroom_connections: int  # the newsroom's own /ws sockets, not counted as readers
    latency: LatencySummary
    quiet_thresholds: QuietThresholds
    blogs: list[BlogStats]


_report_decoder = msgspec.json.Decoder(ProcessReport)
_counts_decoder = msgspec.json.Decoder(dict[str, int])


def local_report(hub: Hub, window: latency.LatencyWindow) -> ProcessReport:
    """This process now. One pass over its connections, every few seconds: no per-event work."""
    report = ProcessReport(blogs={}, latency=window.buckets())
    per_blog: collections.Counter[str] = collections.Counter()
    for conn in hub.connections:
        if conn.watcher:
            report.newsroom += 1
        elif conn.blogs:  # attached: a reader, not a request still being answered
            if conn.kind == SSE:
                report.sse += 1
            else:
                report.ws += 1
            per_blog.update(conn.blogs)
    report.blogs = dict(per_blog)
    return report


class Reporter:
    """Reports this process every ``interval`` seconds; its report expires after ``ttl``."""

    def __init__(
        self,
        engine: Reports,
        hub: Hub,
        supervisor: Supervisor,
        *,
        interval: float = REPORT_SECONDS,
        ttl: float = REPORT_TTL_SECONDS,
    ) -> None:
        self.engine = engine
        self.hub = hub
        self.supervisor = supervisor
        self.interval = interval
        self.ttl = ttl
        self.latency = latency.LatencyWindow()
        self.process = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._task: asyncio.Task[None] | None = None
        self.timelines = _TimelineCache()
        self._minute = 0  # the minute of ``_peaks``
        self._peaks: dict[str, int] = {}  # the most readers per blog seen in that minute
        self._history: tuple[float, int, dict[int, dict[str, int]]] | None = None

    def report(self) -> ProcessReport:
        return local_report(self.hub, self.latency)

    async def start(self) -> None:
        self._task = self.supervisor.loop("stats-reporter", self._loop)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # Stop counting at once rather than after the TTL; a down engine forgets it by itself.
        with contextlib.suppress(EngineError, TimeoutError):
            async with asyncio.timeout(2):
                await self.engine.forget_stats(self.process)

    async def _loop(self) -> None:
        failing = False
        while True:
            try:
                report = self.report()
                await self.engine.report_stats(self.process, msgspec.json.encode(report), self.ttl)
                await self._record_readers(report.blogs)
                failing = False
            except EngineError as exc:
                if not failing:  # once per outage, not every few seconds
                    logger.warning("cannot report stats: %s", exc)
                failing = True
            await asyncio.sleep(self.interval)

    async def _record_readers(self, readers: dict[str, int]) -> None:
        """This minute's most readers per blog, for the chart (the first report of a minute
        also drops the minutes that have left the hour)."""
        minute = int(time.time() // 60)
        keep_from = None
        if minute != self._minute:
            self._minute, self._peaks = minute, {}
            keep_from = minute - MINUTES
        for slug, count in readers.items():
            self._peaks[slug] = max(count, self._peaks.get(slug, 0))
        counts = msgspec.json.encode(self._peaks)
        await self.engine.record_readers(minute, self.process, counts, keep_from=keep_from)

    async def readers_by_minute(self) -> tuple[int, dict[int, dict[str, int]]]:
        """(the current minute, readers per blog per minute summed over processes): past
        minutes read again at most every few seconds."""
        minute = int(time.time() // 60)
        now = time.monotonic()
        if self._history is None or self._history[1] != minute or now > self._history[0]:
            merged: dict[int, dict[str, int]] = {}
            for at, records in (await self.engine.readers_history()).items():
                if not minute - MINUTES < at <= minute:
                    continue
                sums = merged.setdefault(at, {})
                for raw in records:
                    try:
                        counts = _counts_decoder.decode(raw)
                    except msgspec.DecodeError:
                        continue  # a process of another version
                    for slug, count in counts.items():
                        sums[slug] = sums.get(slug, 0) + count
            self._history = (now + HISTORY_CACHE_SECONDS, minute, merged)
        return minute, self._history[2]

    async def cluster(self) -> tuple[int, ProcessReport]:
        """(number of processes, their reports summed): others' last reports and ours now."""
        reports = await self.engine.collect_stats()
        reports.pop(self.process, None)
        total = self.report()
        for raw in reports.values():
            try:
                other = _report_decoder.decode(raw)
            except msgspec.DecodeError:
                continue  # a process of another version; its report expires soon anyway
            total.sse += other.sse
            total.ws += other.ws
            total.newsroom += other.newsroom
            for slug, count in other.blogs.items():
                total.blogs[slug] = total.blogs.get(slug, 0) + count
            total.latency = latency.merge([total.latency, other.latency])
        return len(reports) + 1, total


class _TimelineCache:
    """Publish times of a blog's newest entries, keyed by its stream position (LRU)."""

    def __init__(self) -> None:
        self._items: collections.OrderedDict[tuple[str, str], list[float]] = (
            collections.OrderedDict()
        )

    async def published(self, engine: Engine, blog: Blog) -> list[float]:
        """Unix publish times, newest first: every entry of the last hour, and one older."""
        key = (blog.slug, blog.last_event_id)
        found = self._items.get(key)
        if found is None:
            found = await _recent_publish_times(engine, blog.slug)
            self._items[key] = found
            while len(self._items) > _CACHE_SIZE:
                self._items.popitem(last=False)
        self._items.move_to_end(key)
        return found


async def _recent_publish_times(engine: Engine, slug: str) -> list[float]:
    # Entries older than an hour now can never be in a later hour: stop at the first one.
    horizon = time.time() - HOUR
    times: list[float] = []
    before: str | None = None
    while len(times) < SCAN_LIMIT:
        page = await engine.timeline(slug, _SCAN_PAGE, before)
        for entry in page.entries:
            times.append(entry.published_at.timestamp())
            if times[-1] < horizon:
                return times
        if page.next_key is None:
            break
        before = page.next_key
    return times


def _quiet(seconds: float, settings: Settings) -> Quiet:
    if seconds >= settings.quiet_red_minutes * 60:
        return "red"
    if seconds >= settings.quiet_amber_minutes * 60:
        return "amber"
    return "ok"


def _readers_chart(
    slug: str, readers: int, minute: int, by_minute: dict[int, dict[str, int]]
) -> tuple[list[int], int, datetime | None]:
    """A blog's points for the last hour, its peak and the start of the peak's minute. This
    minute's point is at least the readers there are now (the records lag a report)."""
    first = minute - MINUTES + 1
    points = [by_minute.get(at, {}).get(slug, 0) for at in range(first, minute + 1)]
    points[-1] = max(points[-1], readers)
    peak = max(points)
    if peak == 0:
        return points, 0, None
    at = first + max(i for i, value in enumerate(points) if value == peak)  # the latest
    return points, peak, datetime.fromtimestamp(at * 60, UTC)


async def _blog_stats(
    engine: Engine,
    cache: _TimelineCache,
    blog: Blog,
    readers: int,
    settings: Settings,
    chart: tuple[list[int], int, datetime | None],
) -> BlogStats:
    now = time.time()
    times = await cache.published(engine, blog)
    past = [t for t in times if t <= now]  # an entry dated in the future has not happened yet
    last = past[0] if past else None
    since = None if last is None else now - last
    quiet: Quiet | None = None
    if blog.status == "live":
        # A live blog without entries has been quiet since it was created.
        quiet = _quiet(since if since is not None else now - blog.created_at.timestamp(), settings)
    return BlogStats(
        slug=blog.slug,
        title=blog.title,
        status=blog.status,
        created_at=blog.created_at,
        last_event_id=blog.last_event_id,
        readers=readers,
        readers_last_hour=chart[0],
        readers_peak=chart[1],
        readers_peak_at=chart[2],
        entries_last_hour=sum(1 for t in past if t > now - HOUR),
        last_entry_at=None if last is None else datetime.fromtimestamp(last, UTC),
        seconds_since_last_entry=None if since is None else round(since, 3),
        quiet=quiet,
        time_zone=blog.time_zone,
    )


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


async def snapshot(engine: Engine, reporter: Reporter, settings: Settings) -> Stats:
    """What ``GET /api/stats`` answers: every process's readers and latency, every blog."""
    processes, total = await reporter.cluster()
    minute, by_minute = await reporter.readers_by_minute()
    blogs = await engine.list_blogs()
    blogs.sort(key=lambda b: (b.status != "live", b.title.lower(), b.slug))
    results = await asyncio.gather(
        *(
            _blog_stats(
                engine, reporter.timelines, b, total.blogs.get(b.slug, 0), settings,
                _readers_chart(b.slug, total.blogs.get(b.slug, 0), minute, by_minute),
            )
            for b in blogs
        )
    )  # fmt: skip
    return Stats(
        generated_at=datetime.now(UTC),
        processes=processes,
        readers=Readers(sse=total.sse, ws=total.ws, total=total.sse + total.ws),
        newsroom_connections=total.newsroom,
        latency=LatencySummary(
            window_seconds=latency.WINDOW_SECONDS,
            samples=sum(total.latency.values()),
            p50_ms=_ms(latency.quantile(total.latency, 0.50)),
            p99_ms=_ms(latency.quantile(total.latency, 0.99)),
        ),
        quiet_thresholds=QuietThresholds(settings.quiet_amber_minutes, settings.quiet_red_minutes),
        blogs=list(results),
    )

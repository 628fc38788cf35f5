"""Soak: readers that come and go for a long time, with nothing lost and nothing left behind.

N readers (half SSE, half WebSocket) on ``liveblog serve`` (Redis engine, a private
redis-server), 1 event/s; every second 5% of N leave (close the socket) and come back after
0.5-3 s with the id of the last event they received, as a browser does (EventSource: the
``Last-Event-ID`` header; the page's WebSocket: ``?last_event_id=``). Half of the readers
(``--stay-fraction``) never leave. Reports:

- the server's RSS over time and its growth after the warm-up (must be < 5%),
- events lost or doubled for readers that stayed and for readers that came back (must be 0),
- the server's file descriptors at the start, at the peak and at the end (back to baseline),
- the server's ``liveblog_task_errors_total`` and its reader counters.

    .venv/bin/python bench/soak.py --quick                      # 3 minutes, 2,000 readers
    .venv/bin/python bench/soak.py                              # 30 minutes, 10,000 readers
    .venv/bin/python bench/soak.py --readers 10000 --minutes 10 --json /tmp/soak.json

Everything runs on 127.0.0.1 (several 127.0.0.x source addresses, so that 500 reconnects/s and
their TIME_WAIT sockets do not use up one address's ports); every loop ends by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import procstat
from loadgen import boost_priority, parse_cpus, summary_ms
from payload import BUILDERS, MARK
from publisher import Publisher
from readers import SSEReader, Tally, WSReader, raise_nofile
from targets import HOST, REPO, Endpoint, LiveblogTarget, http
from wire import OP_CLOSE, request, ws_client_frame

_MARK_LEN = len(MARK)
_SSE_END = b"\n\n"
_WS_ID = b'{"id":"'
RSS_GROWTH_LIMIT = 0.05


# --- one reader across its connections ---------------------------------------------------------


class Client:
    """A reader (a browser tab) that outlives its connections: what it has seen, its last
    event id, whether it ever leaves."""

    __slots__ = (
        "away", "closed_by_server", "dups", "failed", "kind", "last_id", "leaves", "max_seq",
        "out_of_order", "proto", "resets", "seen", "source", "stays", "uniq",
    )  # fmt: skip

    def __init__(self, kind: str, stays: bool, source: str, first_id: str, events: int) -> None:
        self.kind = kind
        self.stays = stays
        self.source = source
        self.last_id = first_id  # the blog's position when the page was rendered
        self.seen = bytearray(events + 64)  # one byte per event sequence number
        self.uniq = 0
        self.dups = 0
        self.max_seq = -1
        self.out_of_order = 0
        self.resets = 0
        self.leaves = 0
        self.closed_by_server = 0
        self.failed = 0  # reconnects that never got in
        self.away = False
        self.proto: SoakSSE | SoakWS | None = None

    def event(self, ev: bytes, event_id: bytes | None, reset: bool, now: int, lat: Lat) -> None:
        """One whole event, as the browser dispatches it: count its marker, adopt its id."""
        if reset:
            self.resets += 1
        m = ev.find(MARK)
        if m >= 0:
            j = ev.find(b"#", m + _MARK_LEN)
            c = ev.find(b":", m + _MARK_LEN, j)
            seq = int(ev[m + _MARK_LEN : c])
            seen = self.seen
            if seq >= len(seen):
                seen.extend(bytes(seq - len(seen) + 64))
            if seen[seq]:
                self.dups += 1
            else:
                seen[seq] = 1
                self.uniq += 1
                if self.stays:  # a resumed reader's history arrives late by design
                    lat.add((now - int(ev[c + 1 : j])) // 1000)
            if seq < self.max_seq:
                self.out_of_order += 1
            self.max_seq = max(self.max_seq, seq)
        if event_id:
            self.last_id = event_id.decode()


class Lat:
    """Publish-to-receive latency: this window's values (us) and a whole-run 1 ms histogram."""

    def __init__(self) -> None:
        self.window = array("q")
        self.hist = array("q", bytes(8 * 60_001))

    def add(self, us: int) -> None:
        self.window.append(us)
        self.hist[min(max(us, 0) // 1000, 60_000)] += 1

    def take(self) -> array[int]:
        window, self.window = self.window, array("q")
        return window

    def percentile_ms(self, q: float) -> float | None:
        total = sum(self.hist)
        if not total:
            return None
        rank, acc = q * total, 0
        for ms, n in enumerate(self.hist):
            acc += n
            if acc >= rank:
                return float(ms)
        return None


LAT = Lat()


class SoakSSE(SSEReader):
    """EventSource: resumes with ``Last-Event-ID``; the page's ``?last_event_id=`` stays in
    the URL (the header wins, API.md)."""

    __slots__ = ("acc", "client", "resume")

    def __init__(self, client: Client, ready: asyncio.Future[None], path: str, port: int) -> None:
        super().__init__(Tally(), ready, HOST, port, path)
        self.client = client
        self.resume = client.last_id
        self.acc = b""

    def request_bytes(self) -> bytes:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.client.leaves or self.client.closed_by_server:  # a reconnect, not the page's
            headers["Last-Event-ID"] = self.resume  # first request
        return request("GET", self.host, self.port, self.path, headers)

    def scan(self, buf: bytes, start: int, end: int, now: int) -> None:
        acc = self.acc + buf[start:end]
        client = self.client
        while (i := acc.find(_SSE_END)) >= 0:
            ev, acc = acc[:i], acc[i + 2 :]
            event_id = None
            if ev.startswith(b"id: "):
                eol = ev.find(b"\n")
                event_id = ev[4:eol] if eol > 0 else ev[4:]
            client.event(ev, event_id, b"\nevent: reset\n" in ev, now, LAT)
        self.acc = acc

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        on_lost(self)


class SoakWS(WSReader):
    """The page's WebSocket: one event per text frame; resumes with ``?last_event_id=``."""

    __slots__ = ("client",)

    def __init__(self, client: Client, ready: asyncio.Future[None], path: str, port: int) -> None:
        sep = "&" if "?" in path else "?"
        super().__init__(Tally(), ready, HOST, port, f"{path}{sep}last_event_id={client.last_id}")
        self.client = client

    def scan(self, buf: bytes, start: int, end: int, now: int) -> None:
        ev = buf[start:end]
        event_id = None
        if ev.startswith(_WS_ID):
            event_id = ev[len(_WS_ID) : ev.find(b'"', len(_WS_ID))]
        self.client.event(ev, event_id, ev.find(b'"type":"reset"', 0, 120) >= 0, now, LAT)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        on_lost(self)


RUN: Soak | None = None


def on_lost(proto: SoakSSE | SoakWS) -> None:
    """A connection ended. One the client did not end itself (the server closed it): the
    browser reconnects with its last event id, and the soak counts it."""
    client = proto.client
    if client.proto is not proto or RUN is None:
        return  # a connection the client left, or one that never got in
    client.proto = None
    client.closed_by_server += 1
    if not RUN.ending:
        client.away = True
        RUN.comeback(client, 1.0)


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Sample:
    t: float
    rss_mib: float
    redis_rss_mib: float
    fds: int
    connected: int
    away: int
    published: int


@dataclass
class Soak:
    args: argparse.Namespace
    ep: Endpoint
    server_pid: int
    redis_pid: int | None
    redis_port: int | None
    clients: list[Client] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)
    metric_samples: list[dict[str, Any]] = field(default_factory=list)
    connect_failures: dict[str, int] = field(default_factory=dict)
    retried: dict[str, int] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    away_s: array[float] = field(default_factory=lambda: array("d"))  # leave to back in
    ending: bool = False
    published: int = 0
    reconnects: int = 0

    # connections ---------------------------------------------------------------------------

    async def open(self, client: Client, attempts: int = 10) -> bool:
        loop = asyncio.get_running_loop()
        cls = SoakWS if client.kind == "ws" else SoakSSE
        path = self.ep.ws_path if client.kind == "ws" else self.sse_path
        for n in range(attempts):
            ready: asyncio.Future[None] = loop.create_future()
            proto = cls(client, ready, path, self.ep.port)
            try:
                await asyncio.wait_for(
                    loop.create_connection(
                        lambda p=proto: p, HOST, self.ep.port, local_addr=(client.source, 0)
                    ),
                    30,
                )
                await asyncio.wait_for(ready, 30)
                if proto.transport is None or proto.transport.is_closing():
                    raise ConnectionError("closed right after the response head")
                client.proto = proto
                client.away = False
                return True
            except (OSError, TimeoutError, ConnectionError) as exc:
                if proto.transport is not None:
                    proto.transport.close()
                kind = f"{type(exc).__name__}: {exc}"[:200]
                table = self.connect_failures if n == attempts - 1 else self.retried
                table[kind] = table.get(kind, 0) + 1
                await asyncio.sleep(min(2.0, 0.1 * 2**n) * (0.5 + random.random()))
        client.failed += 1
        return False

    @property
    def sse_path(self) -> str:
        # the page opens EventSource with the position it rendered; reconnects keep that URL
        return f"{self.ep.sse_path}?last_event_id={self.first_id}"

    def leave(self, client: Client) -> None:
        proto, client.proto = client.proto, None
        client.away = True
        client.leaves += 1
        if proto is None or proto.transport is None:
            return
        if isinstance(proto, SoakWS) and random.random() < 0.5:
            proto.send(ws_client_frame(OP_CLOSE, b"\x03\xe9"))  # 1001 going away
        proto.transport.close()

    def comeback(self, client: Client, delay: float) -> None:
        async def back() -> None:
            left = time.monotonic()
            await asyncio.sleep(delay)
            if await self.open(client):
                self.reconnects += 1
                self.away_s.append(time.monotonic() - left)

        task = asyncio.create_task(back())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # loops (each ends by itself) -----------------------------------------------------------

    async def churn(self, until: float) -> None:
        args = self.args
        per_tick = round(len(self.clients) * args.churn)
        movers = [c for c in self.clients if not c.stays]
        tick = time.monotonic()
        while (tick := tick + 1.0) < until:
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
            here = [c for c in movers if c.proto is not None and not c.away]
            for client in random.sample(here, min(per_tick, len(here))):
                self.leave(client)
                self.comeback(client, random.uniform(args.away_min, args.away_max))

    async def sample(self, until: float, t0: float) -> None:
        server = procstat.tree(self.server_pid)
        next_metrics = 0.0
        while (now := time.monotonic()) < until:
            self.samples.append(
                Sample(
                    t=round(now - t0, 1),
                    rss_mib=procstat.rss_bytes(server) / 2**20,
                    redis_rss_mib=(
                        procstat.rss_bytes([self.redis_pid]) / 2**20 if self.redis_pid else 0.0
                    ),
                    fds=fd_count(self.server_pid),
                    connected=sum(c.proto is not None and not c.away for c in self.clients),
                    away=sum(c.away for c in self.clients),
                    published=self.published,
                )
            )
            if now >= next_metrics:
                next_metrics = now + self.args.print_every
                window = LAT.take()
                metrics = await asyncio.to_thread(server_metrics, self.ep)
                self.metric_samples.append({"t": round(now - t0, 1), **metrics})
                s = self.samples[-1]
                lat = summary_ms(window) if window else {}
                self.windows.append({"t": s.t, "n": len(window), **lat})
                print(
                    f"t={s.t:6.0f}s rss {s.rss_mib:7.1f} MiB fds {s.fds:6d} connected"
                    f" {s.connected:6d} away {s.away:4d} published {s.published:5d}"
                    f" | server readers {metrics.get('connections', '?')}"
                    f" | lat p50 {lat.get('p50', '-')} p99 {lat.get('p99', '-')} ms"
                    f" | task errors {metrics.get('task_errors', '?')}",
                    flush=True,
                )
            await asyncio.sleep(1.0)

    async def publish(self, count: int) -> dict[str, Any]:
        ep = self.ep
        build = BUILDERS[ep.payload](ep.blog, 600, None)
        publisher = Publisher(ep.host, ep.port, ep.pub_path, ep.pub_headers, build, conns=4)
        await publisher.open()
        real_build = publisher.build

        def counted(seq: int, t_ns: int) -> bytes:
            self.published = seq + 1
            return real_build(seq, t_ns)

        publisher.build = counted
        try:
            result = await publisher.run(0, count, self.args.rate)
        finally:
            await publisher.close()
        return {
            "sent": result.sent,
            "ok": result.ok,
            "statuses": dict(result.statuses),
            "errors": dict(result.errors),
            "post_ms_p99": round(sorted(result.post_ms)[int(0.99 * (len(result.post_ms) - 1))], 1)
            if result.post_ms
            else None,
        }

    first_id: str = ""


def boost_autogroup(pid: int, nice: int) -> str:
    """The niceness of ``pid``'s autogroup. With ``sched_autogroup_enabled`` a process's own
    niceness only counts inside its session: against other sessions (other people's test runs)
    each session gets an equal share, and a server started in a session of its own gets ~1/N
    of its core however nice it is. Root may set the session's niceness instead."""
    path = f"/proc/{pid}/autogroup"
    with contextlib.suppress(OSError), open(path, "w") as fh:
        fh.write(str(nice))
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return "no autogroup"


# --- what the server says about itself --------------------------------------------------------


def fd_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def _tcp_table() -> dict[str, tuple[int, int, str]]:
    """socket inode -> (local port, remote port, state) for every TCP socket on the machine."""
    table: dict[str, tuple[int, int, str]] = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(name) as fh:
            next(fh)
            for line in fh:
                parts = line.split()
                local, remote, state, inode = parts[1], parts[2], parts[3], parts[9]
                table[inode] = (
                    int(local.rsplit(":", 1)[1], 16),
                    int(remote.rsplit(":", 1)[1], 16),
                    state,
                )
    return table


def fd_kinds(pid: int, server_port: int, redis_port: int | None) -> dict[str, int]:
    """The server's file descriptors by kind: readers' sockets, Redis, listening, other."""
    tcp = _tcp_table()
    kinds: dict[str, int] = {}
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return {}
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            entry = tcp.get(target[8:-1])
            if entry is None:
                kind = "socket (not TCP)"
            elif entry[2] == "0A":
                kind = "listening"
            elif redis_port is not None and entry[1] == redis_port:
                kind = "redis"
            elif entry[0] == server_port:
                kind = "http clients"
            else:
                kind = "other TCP"
        elif target.startswith("anon_inode:"):
            kind = target
        elif target.startswith("pipe:"):
            kind = "pipe"
        else:
            kind = "file"
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items()))


COUNTERS = (
    "liveblog_slow_readers_dropped_total",
    "liveblog_unresponsive_sockets_closed_total",
    "liveblog_resumes_total",
    "liveblog_resets_total",
    "liveblog_write_errors_total",
    "liveblog_redis_reconnects_total",
    "liveblog_deliveries_total",
)


def server_metrics(ep: Endpoint) -> dict[str, Any]:
    """The counters of ``GET /metrics`` that tell whether readers were treated right."""
    try:
        status, body = http("GET", f"http://{ep.host}:{ep.port}/metrics")
    except OSError as exc:
        return {"error": str(exc)}
    if status != 200:
        return {"error": f"status {status}"}
    out: dict[str, Any] = {"task_errors": 0, "task_errors_by_task": {}, "connections": 0}
    for line in body.decode().splitlines():
        if line.startswith("#") or not line:
            continue
        name, _, value = line.rpartition(" ")
        if name.startswith("liveblog_task_errors_total"):
            task = name.split('task="', 1)[1].split('"', 1)[0] if 'task="' in name else "?"
            out["task_errors_by_task"][task] = int(float(value))
            out["task_errors"] += int(float(value))
        elif name.startswith("liveblog_connections{"):
            out["connections"] += int(float(value))
        elif name in COUNTERS:
            out[name.removeprefix("liveblog_").removesuffix("_total")] = int(float(value))
    return out


# --- the report --------------------------------------------------------------------------------


def group_report(clients: list[Client], expected: int) -> dict[str, Any]:
    return {
        "readers": len(clients),
        "sse": sum(c.kind == "sse" for c in clients),
        "ws": sum(c.kind == "ws" for c in clients),
        "expected_each": expected,
        "lost": sum(max(0, expected - c.uniq) for c in clients),
        "readers_with_loss": sum(c.uniq < expected for c in clients),
        "doubled": sum(c.dups for c in clients),
        "out_of_order": sum(c.out_of_order for c in clients),
        "resets_received": sum(c.resets for c in clients),
        "leaves": sum(c.leaves for c in clients),
        "closed_by_server": sum(c.closed_by_server for c in clients),
        "reconnects_failed": sum(c.failed for c in clients),
    }


def rss_growth(samples: list[Sample], warmup: float) -> dict[str, Any]:
    """RSS growth after the warm-up: median of the first 5 samples after it against the
    median of the last 5; and the slope of a least-squares line over that part."""
    after = [s for s in samples if s.t >= warmup]
    if len(after) < 10:
        return {"growth_pct": None, "note": "too few samples after the warm-up"}
    first = statistics.median(s.rss_mib for s in after[:5])
    last = statistics.median(s.rss_mib for s in after[-5:])
    ts = [s.t for s in after]
    ys = [s.rss_mib for s in after]
    mt, my = statistics.fmean(ts), statistics.fmean(ys)
    var = sum((t - mt) ** 2 for t in ts)
    slope = sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / var if var else 0.0
    return {
        "warmup_s": warmup,
        "rss_at_warmup_mib": round(first, 1),
        "rss_at_end_mib": round(last, 1),
        "growth_pct": round(100.0 * (last - first) / first, 2),
        "slope_mib_per_10min": round(slope * 600, 2),
        "min_mib": round(min(ys), 1),
        "max_mib": round(max(ys), 1),
    }


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--short", "--untracked-files=no", "liveblog"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split("\n")
    with open("/proc/loadavg") as fh:
        load = " ".join(fh.read().split()[:3])
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "commit": commit,
        "uncommitted": [line[3:] for line in dirty if line.strip()],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg": load,
    }


# --- main --------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    global RUN
    os.sched_setaffinity(0, parse_cpus(args.gen_cpus))
    nofile = raise_nofile(args.readers + 4096)
    target = LiveblogTarget(args.engine, 1, args.server_cpus)
    before = machine()
    with target:
        ep = target.start()
        pids = [target.pid, os.getpid(), *([target.redis.pid] if target.redis else [])]
        boosted = [boost_autogroup(pid, args.nice) for pid in pids]
        status, body = http(
            "GET", f"http://{ep.host}:{ep.port}/api/blogs/{ep.blog}", headers=ep.pub_headers
        )
        first_id = json.loads(body)["last_event_id"] if status == 200 else ""
        assert target.redis is not None or args.engine == "memory"
        soak = RUN = Soak(
            args,
            ep,
            target.pid,
            target.redis.pid if target.redis else None,
            target.redis.port if target.redis else None,
        )
        soak.first_id = first_id
        await asyncio.sleep(1.0)
        rss0 = procstat.rss_bytes(procstat.tree(target.pid)) / 2**20
        fds0 = fd_kinds(target.pid, ep.port, soak.redis_port)
        fd_start = sum(fds0.values())
        print(f"server pid {target.pid} port {ep.port}, RSS {rss0:.1f} MiB, fds {fds0}", flush=True)

        events = round(args.minutes * 60 * args.rate)
        sources = [f"127.0.0.{2 + i}" for i in range(args.sources)]
        n_stay = round(args.readers * args.stay_fraction)
        for i in range(args.readers):
            kind = "sse" if i % 2 == 0 else "ws"
            soak.clients.append(
                Client(kind, i < n_stay, sources[i % len(sources)], first_id, events)
            )
        # connect everyone before the first event: every reader is owed every event
        started = time.monotonic()
        sem = asyncio.Semaphore(args.concurrency)

        async def first(client: Client) -> None:
            async with sem:
                await soak.open(client)

        await asyncio.gather(*(first(c) for c in soak.clients))
        connected = sum(c.proto is not None for c in soak.clients)
        connect_s = time.monotonic() - started
        print(f"connected {connected}/{args.readers} in {connect_s:.1f} s", flush=True)
        await asyncio.sleep(2.0)
        rss_connected = procstat.rss_bytes(procstat.tree(target.pid)) / 2**20

        server_cpu = procstat.CpuMeter(procstat.tree(target.pid))
        gen_cpu = procstat.CpuMeter([os.getpid()])
        ours = {*server_cpu.pids, os.getpid(), *([soak.redis_pid] if soak.redis_pid else [])}
        foreign = procstat.ForeignMeter(ours)
        for meter in (server_cpu, gen_cpu, foreign):
            meter.start()
        t0 = time.monotonic()
        until = t0 + events / args.rate
        sampler = asyncio.create_task(soak.sample(until + 3600, t0))  # cancelled below
        churner = asyncio.create_task(soak.churn(until))
        pub = await soak.publish(events)
        await churner
        cpu = {
            "server_pct": round(server_cpu.percent(), 1),
            "generator_pct": round(gen_cpu.percent(), 1),
            "other_processes_pct": round(foreign.percent(), 1),
        }
        # everyone who is away comes back, then everything still in flight arrives
        soak.ending = True
        deadline = time.monotonic() + 60
        while soak.tasks and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        expected = pub["ok"]
        drain_until = time.monotonic() + 30
        while time.monotonic() < drain_until:
            if all(c.uniq >= expected for c in soak.clients if c.proto is not None):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        metrics_end = await asyncio.to_thread(server_metrics, ep)
        fds_peak_kinds = fd_kinds(target.pid, ep.port, soak.redis_port)
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler

        stayed = [c for c in soak.clients if c.stays]
        came_back = [c for c in soak.clients if not c.stays]
        report_stayed = group_report(stayed, expected)
        report_back = group_report(came_back, expected)

        # every reader leaves: the server's descriptors must come back to the baseline
        for client in soak.clients:
            if client.proto is not None:
                soak.leave(client)
        closed_at = time.monotonic()
        fd_settle_s, rport = None, soak.redis_port
        while time.monotonic() - closed_at < args.fd_wait:
            await asyncio.sleep(0.5)
            if fds_back({"start_kinds": fds0, "end_kinds": fd_kinds(target.pid, ep.port, rport)}):
                fd_settle_s = round(time.monotonic() - closed_at, 1)
                break
        fds_end_kinds = fd_kinds(target.pid, ep.port, soak.redis_port)
        fd_end = sum(fds_end_kinds.values())
        rss_after = procstat.rss_bytes(procstat.tree(target.pid)) / 2**20
        metrics_after = await asyncio.to_thread(server_metrics, ep)

    growth = rss_growth(soak.samples, args.warmup)
    fd_peak = max((s.fds for s in soak.samples), default=-1)
    result: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": before,
        "load_after": machine()["loadavg"],
        "config": {
            "readers": args.readers,
            "engine": args.engine,
            "minutes": args.minutes,
            "rate": args.rate,
            "churn_per_s": round(args.readers * args.churn),
            "stay_fraction": args.stay_fraction,
            "away_s": [args.away_min, args.away_max],
            "sources": args.sources,
            "nofile": nofile,
            "autogroups": boosted,
        },
        "connect": {
            "connected": connected,
            "seconds": round(connect_s, 1),
            "failures": soak.connect_failures,
            "retried": soak.retried,
        },
        "publish": pub,
        "rss": {
            "before_readers_mib": round(rss0, 1),
            "readers_connected_mib": round(rss_connected, 1),
            "after_readers_left_mib": round(rss_after, 1),
            **growth,
        },
        "stayed": report_stayed,
        "came_back": report_back,
        "reconnects": soak.reconnects,
        "leaves_per_s": round(report_back["leaves"] / (events / args.rate), 1),
        "away_s": {
            "mean": round(statistics.fmean(soak.away_s), 2) if soak.away_s else None,
            "p99": round(sorted(soak.away_s)[int(0.99 * (len(soak.away_s) - 1))], 2)
            if soak.away_s
            else None,
            "max": round(max(soak.away_s), 2) if soak.away_s else None,
        },
        "cpu": cpu,
        "latency_ms": {
            "p50": LAT.percentile_ms(0.5),
            "p99": LAT.percentile_ms(0.99),
            "max": next((float(i) for i in range(60_000, -1, -1) if LAT.hist[i]), None),
        },
        "fds": {
            "start": fd_start,
            "peak_sampled": fd_peak,
            "end": fd_end,
            "end_settled_after_s": fd_settle_s,
            "start_kinds": fds0,
            "before_leaving_kinds": fds_peak_kinds,
            "end_kinds": fds_end_kinds,
        },
        "server_metrics_end": metrics_end,
        "server_metrics_after_leaving": metrics_after,
        "samples": [s.__dict__ for s in soak.samples],
        "windows": soak.windows,
    }
    result["checks"] = checks(result)
    return result


def checks(r: dict[str, Any]) -> dict[str, bool]:
    growth = r["rss"].get("growth_pct")
    return {
        "rss growth after warm-up < 5%": growth is not None and growth < 100 * RSS_GROWTH_LIMIT,
        "0 lost / doubled for readers that stayed": (
            r["stayed"]["lost"] == 0 and r["stayed"]["doubled"] == 0
        ),
        "0 lost / doubled for readers that came back": (
            r["came_back"]["lost"] == 0 and r["came_back"]["doubled"] == 0
        ),
        "0 resets": r["stayed"]["resets_received"] + r["came_back"]["resets_received"] == 0,
        "every POST 2xx": r["publish"]["ok"] == r["publish"]["sent"],
        # Redis connections are pooled (a bounded pool): every other kind must be back
        "fds back to the start (Redis pool aside)": fds_back(r["fds"]),
        "0 task errors": r["server_metrics_after_leaving"].get("task_errors") == 0,
        "every reader connected": r["connect"]["connected"] == r["config"]["readers"],
    }


def fds_back(fds: dict[str, Any]) -> bool:
    start, end = dict(fds["start_kinds"]), dict(fds["end_kinds"])
    start.pop("redis", None)
    end.pop("redis", None)
    return all(end.get(kind, 0) <= start.get(kind, 0) for kind in end)


def summary(r: dict[str, Any]) -> str:
    m, c, rss, fds = r["machine"], r["config"], r["rss"], r["fds"]
    st, cb, met = r["stayed"], r["came_back"], r["server_metrics_after_leaving"]
    lines = [
        f"soak: {c['readers']:,} readers ({c['engine']}), {c['minutes']} min, {c['rate']} event/s,"
        f" {c['churn_per_s']} leave and come back per second | commit {m['commit']}"
        f" | {m['nproc']} x {m['cpu']} | {m['date']} | load {m['loadavg']} -> {r['load_after']}",
        f"  connected {r['connect']['connected']}/{c['readers']} in {r['connect']['seconds']} s;"
        f" {r['reconnects']:,} reconnects ({r['leaves_per_s']}/s left; away mean"
        f" {r['away_s']['mean']} s, p99 {r['away_s']['p99']} s, max {r['away_s']['max']} s);"
        f" POSTs {r['publish']['ok']}/{r['publish']['sent']} 2xx",
        f"  CPU over the run: server {r['cpu']['server_pct']}%, generator"
        f" {r['cpu']['generator_pct']}%, other processes on the machine"
        f" {r['cpu']['other_processes_pct']}% (of one core)",
        f"  RSS: {rss['before_readers_mib']} MiB before readers, {rss['readers_connected_mib']}"
        f" connected, {rss.get('rss_at_warmup_mib')} after warm-up ({rss.get('warmup_s')} s),"
        f" {rss.get('rss_at_end_mib')} at the end: growth {rss.get('growth_pct')}%"
        f" (slope {rss.get('slope_mib_per_10min')} MiB/10 min); {rss['after_readers_left_mib']}"
        " after every reader left",
        f"  stayed: {st['readers']:,} readers x {st['expected_each']} events: lost {st['lost']},"
        f" doubled {st['doubled']}, out of order {st['out_of_order']}, resets"
        f" {st['resets_received']}, closed by the server {st['closed_by_server']}",
        f"  came back: {cb['readers']:,} readers, {cb['leaves']:,} leaves: lost {cb['lost']},"
        f" doubled {cb['doubled']}, out of order {cb['out_of_order']}, resets"
        f" {cb['resets_received']}, reconnects failed {cb['reconnects_failed']}, closed by the"
        f" server {cb['closed_by_server']}",
        f"  latency (readers that stayed): p50 {r['latency_ms']['p50']} ms, p99"
        f" {r['latency_ms']['p99']} ms, max {r['latency_ms']['max']} ms",
        f"  server fds: start {fds['start']}, peak {fds['peak_sampled']}, end {fds['end']}"
        f" (settled after {fds['end_settled_after_s']} s); end kinds {fds['end_kinds']}",
        f"  server: task errors {met.get('task_errors')} {met.get('task_errors_by_task')},"
        f" resumes {met.get('resumes')}, resets {met.get('resets')}, slow dropped"
        f" {met.get('slow_readers_dropped')}, unresponsive"
        f" {met.get('unresponsive_sockets_closed')},"
        f" write errors {met.get('write_errors')}, readers left {met.get('connections')}",
    ]
    for name, ok in r["checks"].items():
        lines.append(f"  [{'PASS' if ok else 'FAIL'}] {name}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="3 minutes, 2,000 readers")
    p.add_argument("--readers", type=int, help="default 10,000 (quick: 2,000)")
    p.add_argument("--minutes", type=float, help="default 30 (quick: 3)")
    p.add_argument("--rate", type=float, default=1.0, help="events per second")
    p.add_argument("--churn", type=float, default=0.05, help="share of readers leaving per second")
    p.add_argument("--stay-fraction", type=float, default=0.5, help="readers that never leave")
    p.add_argument("--away-min", type=float, default=0.5, help="seconds away, at least")
    p.add_argument("--away-max", type=float, default=3.0, help="seconds away, at most")
    p.add_argument("--warmup", type=float, help="seconds; default max(60, 20%% of the run)")
    p.add_argument("--engine", choices=("redis", "memory"), default="redis")
    p.add_argument("--sources", type=int, default=16, help="127.0.0.x source addresses")
    p.add_argument("--concurrency", type=int, default=200, help="handshakes at once at start")
    p.add_argument("--print-every", type=float, default=10.0, help="seconds between lines")
    p.add_argument("--fd-wait", type=float, default=30.0, help="seconds for fds to settle")
    p.add_argument("--server-cpus", default="0")
    p.add_argument("--gen-cpus", default="1")
    p.add_argument("--nice", type=int, default=-10, help="niceness of the bench (root)")
    p.add_argument("--json", type=Path, help="write the whole result (with samples) here")
    args = p.parse_args(argv)
    args.readers = args.readers or (2000 if args.quick else 10_000)
    args.minutes = args.minutes or (3.0 if args.quick else 30.0)
    if args.warmup is None:
        args.warmup = max(60.0, 0.2 * args.minutes * 60)
    return args


def main() -> None:
    args = parse_args()
    # SIGTERM as Ctrl-C: uvloop.run then cancels the run, and ``with target`` stops the server
    signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    boost_priority(args.nice)
    import uvloop

    result = uvloop.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(summary(result), flush=True)
    sys.exit(0 if all(result["checks"].values()) else 1)


if __name__ == "__main__":
    main()

"""Load generator: N SSE or WebSocket readers, M events published at R/s, one report.

The coordinator (this process) publishes through the editor API and measures; reader worker
processes (``readers.py``) hold the connections. Everything runs pinned to the generator core(s)
with the server on the other core. See bench/README.md.

    .venv/bin/python bench/loadgen.py --target nchan-memory --readers 5000 --rate 5 --events 50
    .venv/bin/python bench/loadgen.py --self-test
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import sys
import tempfile
import time
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import procstat
from payload import BUILDERS
from publisher import Publisher
from readers import raise_nofile
from targets import PYTHON, TARGETS, Endpoint, Target, make_target

BENCH = Path(__file__).resolve().parent
P99_LIMIT_MS = 300.0


def parse_cpus(spec: str) -> set[int]:
    cpus: set[int] = set()
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def percentile(sorted_values: list[int] | array[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    idx = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return float(sorted_values[idx])


def summary_ms(values_us: list[int] | array[int]) -> dict[str, float]:
    ordered = sorted(values_us)
    return {
        name: round(percentile(ordered, q) / 1000.0, 2)
        for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
    }


def post_summary(post_ms: list[float]) -> dict[str, float]:
    ordered = sorted(post_ms)
    return {
        name: round(percentile(ordered, q), 2)  # type: ignore[arg-type]
        for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))
    }


def load_latencies(files: list[str]) -> array[int]:
    """Merge the workers' latency dumps (microseconds) and remove the files."""
    lat = array("q")
    for name in files:
        with open(name, "rb") as fh:
            lat.frombytes(fh.read())
        os.unlink(name)
    return lat


class QuietBudget:
    """Seconds a whole run may spend waiting for a calm machine, so it stays bounded."""

    def __init__(self, seconds: float) -> None:
        self.remaining = seconds


@dataclass
class LoadConfig:
    endpoint: Endpoint
    transport: str = "sse"
    readers: int = 1000
    procs: int = 1
    gen_cpus: str = "1"
    server_pid: int | None = None
    redis_pid: int | None = None
    label: str = ""
    concurrency: int = 200
    body_size: int = 600
    pub_conns: int = 16  # editors posting at once: a slow POST must not throttle the rate
    drain_idle: float = 3.0  # give up waiting when nothing arrives for this long
    drain_max: float = 20.0  # and at most this long after the last publish
    quiet_wait: float = 0.0  # before a step, wait up to this long for other processes to calm
    quiet_budget: QuietBudget | None = None  # shared by all sessions of a run

    settle: float = 1.0
    # Readers ask for compression as browsers do (gzip SSE, permessage-deflate offered).
    compress: bool = False
    # Entry bodies from this text's paragraphs (blank-line separated) instead of the built-in
    # sentences; see payload.bodies.
    body_source: Path | None = None
    # Each reader worker connects from its own 127.0.0.<n> (n = 1, 2, ...): past ~28,000
    # readers one source address runs out of client ports.
    spread_sources: bool = False


class Worker:
    """One reader worker process, driven by one-line JSON commands."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def spawn(cls, cfg: LoadConfig, count: int, tmpdir: str, index: int = 0) -> Worker:
        ep = cfg.endpoint
        wcfg = {
            "host": ep.host,
            "port": ep.port,
            "path": ep.sse_path if cfg.transport == "sse" else ep.ws_path,
            "transport": cfg.transport,
            "blog": ep.blog,
            "count": count,
            "concurrency": cfg.concurrency,
            "tmpdir": tmpdir,
            "source": f"127.0.0.{index + 1}" if cfg.spread_sources else None,
            "compress": cfg.compress,
        }
        proc = await asyncio.create_subprocess_exec(
            "taskset",
            "-c",
            cfg.gen_cpus,
            PYTHON,
            str(BENCH / "readers.py"),
            json.dumps(wcfg),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 24,
        )
        return cls(proc)

    async def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"reader worker {self.proc.pid} exited ({self.proc.returncode})")
        doc: dict[str, Any] = json.loads(line)
        return doc

    async def ask(self, cmd: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd}).encode() + b"\n")
        await self.proc.stdin.drain()
        return await self.read()

    async def quit(self) -> None:
        try:
            await asyncio.wait_for(self.ask("quit"), 15)
            await asyncio.wait_for(self.proc.wait(), 15)
        except (RuntimeError, TimeoutError, BrokenPipeError, ConnectionError):
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()


class Session:
    """Readers connected once; then any number of publish steps."""

    def __init__(self, cfg: LoadConfig) -> None:
        self.cfg = cfg
        self.workers: list[Worker] = []
        self.publisher: Publisher | None = None
        self.next_seq = 0
        self.connected = 0
        self.alive = 0
        self.connect: dict[str, Any] = {}
        self.tmpdir = tempfile.mkdtemp(prefix="bench-lat-")

    def server_tree(self) -> list[int]:
        return procstat.tree(self.cfg.server_pid) if self.cfg.server_pid else []

    def gen_pids(self) -> list[int]:
        return [os.getpid()] + [w.proc.pid for w in self.workers]

    async def __aenter__(self) -> Session:
        cfg = self.cfg
        os.sched_setaffinity(0, parse_cpus(cfg.gen_cpus))
        raise_nofile(cfg.readers + 1024)
        rss0 = procstat.rss_bytes(self.server_tree())
        tcp0 = procstat.tcp_mem_bytes()
        started = time.monotonic()
        q, r = divmod(cfg.readers, cfg.procs)
        shares = [q + (i < r) for i in range(cfg.procs)]
        self.workers = [
            await Worker.spawn(cfg, n, self.tmpdir, i) for i, n in enumerate(shares) if n
        ]
        hellos = await asyncio.gather(*(w.read() for w in self.workers))
        self.connected = self.alive = sum(h["ok"] for h in hellos)
        failures: dict[str, int] = {}
        retried: dict[str, int] = {}
        for hello in hellos:
            for table, key in ((failures, "failures"), (retried, "retried")):
                for kind, n in hello[key].items():
                    table[kind] = table.get(kind, 0) + n
        connect_s = time.monotonic() - started
        await asyncio.sleep(cfg.settle)
        rss1 = procstat.rss_bytes(self.server_tree())
        tcp1 = procstat.tcp_mem_bytes()
        per = max(self.connected, 1)
        self.connect = {
            "readers": cfg.readers,
            "connected": self.connected,
            "failed": sum(failures.values()),
            "failures": failures,
            "retried": retried,
            "connect_s": round(connect_s, 2),
            "server_rss_before_mib": round(rss0 / 2**20, 1),
            "server_rss_after_mib": round(rss1 / 2**20, 1),
            "rss_per_conn_kib": round((rss1 - rss0) / per / 1024, 2) if rss0 else None,
            "kernel_tcp_per_conn_kib": round((tcp1 - tcp0) / per / 1024, 2),
        }
        ep = cfg.endpoint
        build = BUILDERS[ep.payload](ep.blog, cfg.body_size, cfg.body_source)
        self.publisher = Publisher(
            ep.host, ep.pub_port or ep.port, ep.pub_path, ep.pub_headers, build, cfg.pub_conns
        )
        await self.publisher.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.publisher is not None:
            await self.publisher.close()
        await asyncio.gather(*(w.quit() for w in self.workers))

    async def status(self, cmd: str = "status") -> list[dict[str, Any]]:
        return await asyncio.gather(*(w.ask(cmd) for w in self.workers))

    async def wait_quiet(self, limit: float) -> float:
        """Wait (at most ``limit`` s) until the machine is calm for two seconds in a row: both
        cores together < NOISY_PCT / 2 busy with anything but our (idle) processes. This machine
        is shared with other people's test runs, whose short-lived processes the per-step
        process scan can miss."""
        ours = {*self.server_tree(), *self.gen_pids()}
        if self.cfg.redis_pid:
            ours.add(self.cfg.redis_pid)
        started = time.monotonic()
        calm = 0
        while time.monotonic() - started < limit and calm < 2:
            cores, mine = procstat.CoreMeter(), procstat.CpuMeter(list(ours))
            cores.start()
            mine.start()
            await asyncio.sleep(1.0)
            busy = sum(cores.percent().values()) - mine.percent()
            calm = calm + 1 if busy < NOISY_PCT / 2 else 0
        return time.monotonic() - started

    async def step(self, rate: float, seconds: float) -> dict[str, Any]:
        """Publish ``rate * seconds`` events at ``rate``/s, wait for delivery, report."""
        assert self.publisher is not None
        cfg = self.cfg
        count = max(1, round(rate * seconds))
        limit = cfg.quiet_wait
        if cfg.quiet_budget is not None:
            limit = min(limit, cfg.quiet_budget.remaining)
        waited = await self.wait_quiet(limit) if limit > 0 else 0.0
        if cfg.quiet_budget is not None:
            cfg.quiet_budget.remaining -= waited
        for doc in await self.status("collect"):  # drop latencies left from earlier steps
            os.unlink(doc["file"])
        base = await self.status()
        uniq0 = sum(d["uniq"] for d in base)
        dups0 = sum(d["dups"] for d in base)
        closed0 = sum(d["closed"] for d in base)
        wire0 = sum(d["wire"] for d in base)
        self.alive = self.connected - closed0  # readers an earlier step lost stay lost
        expected = count * self.alive
        server = procstat.CpuMeter(self.server_tree())
        gen = procstat.CpuMeter(self.gen_pids())
        redis = procstat.CpuMeter([cfg.redis_pid] if cfg.redis_pid else [])
        cores = procstat.CoreMeter()
        ours = {*server.pids, *gen.pids, *redis.pids}
        foreign = procstat.ForeignMeter(ours)
        for meter in (server, gen, redis, cores, foreign):
            meter.start()
        t0 = time.monotonic()
        pub = await self.publisher.run(self.next_seq, count, rate)
        self.next_seq += count
        # wait until everything arrived, or nothing has for drain_idle seconds
        last_uniq, last_change = -1, time.monotonic()
        while True:
            uniq = sum(d["uniq"] for d in await self.status()) - uniq0
            now = time.monotonic()
            if uniq >= expected:
                break
            if uniq != last_uniq:
                last_uniq, last_change = uniq, now
            if now - last_change > cfg.drain_idle or now - pub.finished > cfg.drain_max:
                break
            await asyncio.sleep(0.05)
        t1 = time.monotonic()
        server_cpu, gen_cpu, redis_cpu = server.percent(), gen.percent(), redis.percent()
        core_busy = cores.percent()
        foreign_cpu = foreign.percent()
        gen_cpu_s = gen.seconds()
        server_cpu_s = server.seconds()
        docs = await self.status("collect")
        lat = load_latencies([doc["file"] for doc in docs])
        delivered = sum(d["uniq"] for d in docs) - uniq0
        dups = sum(d["dups"] for d in docs) - dups0
        closed = sum(d["closed"] for d in docs) - closed0
        wire = sum(d["wire"] for d in docs) - wire0
        coded = sum(d["coded"] for d in docs)
        wall = t1 - t0
        per_s = delivered / wall if wall > 0 else 0.0
        gen_cores = len(parse_cpus(cfg.gen_cpus))
        capacity = per_s * 100.0 * gen_cores / gen_cpu if gen_cpu > 0 else float("inf")
        result: dict[str, Any] = {
            "label": cfg.label,
            "transport": cfg.transport,
            "readers": self.alive,
            "rate": round(rate, 2),
            "events": count,
            "expected": expected,
            "delivered": delivered,
            "loss": expected - delivered,
            "dups": dups,
            "closed": closed,
            "lat_ms": summary_ms(lat),
            "deliveries_per_s": round(per_s),
            "offered_per_s": round(rate * self.alive),
            "wall_s": round(wall, 2),
            "publish": {
                "sent": pub.sent,
                "ok": pub.ok,
                "statuses": dict(pub.statuses),
                "errors": dict(pub.errors),
                "rate": round(pace, 2) if (pace := pub.pace()) is not None else None,
                "post_ms": post_summary(pub.post_ms),
                "first_error_body": pub.first_body.decode("utf-8", "replace") or None,
            },
            "server_cpu_pct": round(server_cpu, 1),
            "redis_cpu_pct": round(redis_cpu, 1) if cfg.redis_pid else None,
            "gen_cpu_pct": round(gen_cpu, 1),
            "core_busy_pct": core_busy,
            "foreign_cpu_pct": round(foreign_cpu, 1),
            "waited_for_quiet_s": round(waited, 1),
            "gen_us_per_delivery": round(gen_cpu_s * 1e6 / delivered, 2) if delivered else None,
            # What reached the readers' sockets: body bytes (framing, heartbeats, compressed
            # or not) per unique delivery, and how many readers' streams were compressed.
            "compress_asked": cfg.compress,
            "coded_readers": coded,
            "wire_bytes": wire,
            "bytes_per_delivery": round(wire / delivered, 1) if delivered else None,
            "server_cpu_us_per_delivery": (
                round(server_cpu_s * 1e6 / delivered, 2) if delivered else None
            ),
            "gen_capacity_per_s": round(capacity) if math.isfinite(capacity) else None,
        }
        result["why"] = failures(result)
        result["pass"] = not result["why"]
        result["gen_bound"] = gen_bound(result, cfg.gen_cpus)
        return result


def failures(r: dict[str, Any], p99_limit_ms: float = P99_LIMIT_MS) -> list[str]:
    """Why a step does not count as sustained: loss, duplicates, dropped readers, p99 over
    the limit, failed POSTs, or a publisher that could not keep the pace."""
    pub = r["publish"]
    why = []
    if r["loss"]:
        why.append(f"loss {r['loss']}")
    if r["dups"]:
        why.append(f"dups {r['dups']}")
    if r["closed"]:
        why.append(f"{r['closed']} readers closed")
    if pub["ok"] != r["events"]:
        why.append(f"{r['events'] - pub['ok']} POSTs failed")
    if pub["rate"] is not None and pub["rate"] < 0.95 * r["rate"]:
        why.append(f"publisher behind ({pub['rate']}/s)")
    if not r["lat_ms"]["p99"] <= p99_limit_ms:
        why.append(f"p99 {r['lat_ms']['p99']} ms > {p99_limit_ms:g}")
    return why


GEN_BUSY_WARN = 85.0
NOISY_PCT = 10.0  # other processes used this much CPU during a step: its result is suspect


def gen_bound(r: dict[str, Any], gen_cpus: str) -> bool:
    """The generator's processes used >= GEN_BUSY_WARN % of their core(s): a failure may be
    the generator's. (Per-core busy time cannot tell: other work fills any idle time.)"""
    return bool(r["gen_cpu_pct"] >= GEN_BUSY_WARN * len(parse_cpus(gen_cpus)))


async def search(
    session: Session,
    start_per_s: float,
    factor: float,
    seconds: float,
    max_per_s: float,
    max_steps: int,
    budget_s: float,
    first_seconds: float | None = None,
    retry_noisy: bool = True,
) -> list[dict[str, Any]]:
    """Find the highest sustained rate: from ``start_per_s`` deliveries/s, multiply the event
    rate by ``factor`` while steps pass; if the first step fails, divide instead until one
    passes. Bounded in steps, in rate and in time."""
    steps: list[dict[str, Any]] = []
    per_s = start_per_s
    deadline = time.monotonic() + budget_s
    direction = 0
    for _ in range(max_steps):
        if session.alive == 0:
            break
        length = first_seconds if first_seconds and not steps else seconds
        result = await session.step(per_s / session.alive, length)
        print("  " + human(result), flush=True)
        noisy = retry_noisy and result["foreign_cpu_pct"] >= NOISY_PCT
        if not result["pass"] and noisy and session.alive:
            # other processes on this shared machine ate CPU: measure that rate once more
            result["retried"] = True
            steps.append(result)
            result = await session.step(per_s / session.alive, length)
            print("  (again) " + human(result), flush=True)
        steps.append(result)
        if not direction:
            direction = 1 if result["pass"] else -1
        if (direction > 0) != result["pass"] or time.monotonic() > deadline:
            break
        per_s = per_s * factor if direction > 0 else per_s / factor
        if per_s > max_per_s:
            break
    return steps


def best_pass(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    passed = [s for s in steps if s["pass"]]
    return max(passed, key=lambda s: s["deliveries_per_s"]) if passed else None


def human(r: dict[str, Any]) -> str:
    lat, pub = r["lat_ms"], r["publish"]
    redis = f" redis {r['redis_cpu_pct']}%" if r.get("redis_cpu_pct") is not None else ""
    verdict = "PASS" if r["pass"] else "FAIL: " + ", ".join(r["why"])
    if r.get("gen_bound"):
        verdict += f" (generator >= {GEN_BUSY_WARN:g}% of its core)"
    cores = "/".join(f"{v:.0f}%" for v in r["core_busy_pct"].values())
    if r["foreign_cpu_pct"] >= NOISY_PCT / 2:
        cores += f" (other processes {r['foreign_cpu_pct']:.0f}%)"
    return (
        f"{r['label']} {r['transport']} {r['readers']}r x {r['rate']}ev/s: "
        f"{r['delivered']}/{r['expected']} loss {r['loss']} dup {r['dups']} closed {r['closed']}"
        f" | lat p50 {lat['p50']} p95 {lat['p95']} p99 {lat['p99']} max {lat['max']} ms"
        f" | {r['deliveries_per_s']:,} deliv/s | server CPU {r['server_cpu_pct']}%{redis}"
        f" | gen CPU {r['gen_cpu_pct']}% ({r['gen_us_per_delivery']} us/deliv)"
        f" | {r['bytes_per_delivery']} B/deliv ({r['coded_readers']} readers compressed)"
        f" | cores busy {cores}"
        f" | POST p99 {pub['post_ms']['p99']} ms {dict(pub['statuses'])} | {verdict}"
    )


def connect_line(label: str, c: dict[str, Any]) -> str:
    return (
        f"{label}: connected {c['connected']}/{c['readers']} in {c['connect_s']} s"
        f" | server RSS {c['server_rss_before_mib']} -> {c['server_rss_after_mib']} MiB"
        f" = {c['rss_per_conn_kib']} KiB/conn | kernel TCP {c['kernel_tcp_per_conn_kib']} KiB/conn"
        + (f" | failures {c['failures']}" if c["failed"] else "")
        + (f" | refused then retried {c['retried']}" if c["retried"] else "")
    )


# --- command line ----------------------------------------------------------------------------


def endpoint_from_args(args: argparse.Namespace) -> Endpoint:
    headers = {}
    for item in args.pub_header or []:
        name, _, value = item.partition(":")
        headers[name.strip()] = value.strip()
    return Endpoint(
        host=args.host,
        port=args.port,
        sse_path=args.sse_path,
        ws_path=args.ws_path,
        pub_path=args.pub_path,
        pub_headers=headers,
        payload=args.payload,
        blog=args.blog,
    )


async def run_once(args: argparse.Namespace, ep: Endpoint, target: Target | None) -> dict[str, Any]:
    cfg = LoadConfig(
        endpoint=ep,
        transport=args.transport,
        readers=args.readers,
        procs=args.procs,
        gen_cpus=args.gen_cpus,
        server_pid=target.pid if target else args.server_pid,
        redis_pid=target.redis.pid if target and target.redis else None,
        label=target.name if target else f"{ep.host}:{ep.port}",
        body_size=args.body_size,
        compress=args.compress,
        body_source=args.body_source,
    )
    async with Session(cfg) as session:
        print(connect_line(cfg.label, session.connect), flush=True)
        events = args.events or max(1, round(args.rate * args.seconds))
        result = await session.step(args.rate, events / args.rate)
        result["connect"] = session.connect
        print(human(result), flush=True)
        return result


async def self_test(args: argparse.Namespace) -> dict[str, Any]:
    """Drive the stub byte source harder and harder: how much can the generator count?"""
    readers = args.readers if args.readers_given else 2000
    target = make_target("stub", args.server_cpus)
    with target:
        ep = target.start()
        cfg = LoadConfig(
            endpoint=ep,
            transport=args.transport,
            readers=readers,
            procs=args.procs,
            gen_cpus=args.gen_cpus,
            server_pid=target.pid,
            label="stub",
            body_size=args.body_size,
        )
        async with Session(cfg) as session:
            print(connect_line("stub", session.connect), flush=True)
            steps = await search(session, 25_000, 1.4, args.seconds, 600_000, 12, 240)
    best = best_pass(steps)
    lossless = [s for s in steps if s["loss"] == 0 and s["dups"] == 0 and not s["closed"]]
    most = max(lossless, key=lambda s: s["deliveries_per_s"], default=None)
    if best is not None:
        print(
            f"self-test: the generator counted {best['deliveries_per_s']:,} deliveries/s with"
            f" 0 loss and p99 {best['lat_ms']['p99']} ms (a passing step) using"
            f" {best['gen_cpu_pct']}% of its core(s), {best['gen_us_per_delivery']} us/delivery.",
            flush=True,
        )
    if most is not None:
        print(
            f"self-test: at most it counted {most['deliveries_per_s']:,} deliveries/s with 0 loss"
            f" (p99 {most['lat_ms']['p99']} ms, {most['gen_us_per_delivery']} us/delivery)."
            " A server measured with it should stay below half of that.",
            flush=True,
        )
    return {"steps": steps, "best": best, "most": most}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--target", choices=TARGETS, help="start this server (else: --host/--port)")
    p.add_argument("--self-test", action="store_true", help="calibrate against the stub source")
    p.add_argument(
        "--transport",
        choices=("sse", "ws", "sio"),
        default="sse",
        help="sio: Socket.IO over Engine.IO's WebSocket transport (the socketio target)",
    )
    p.add_argument("--readers", type=int, default=1000)
    p.add_argument("--rate", type=float, default=5.0, help="events per second")
    p.add_argument("--events", type=int, default=0, help="events to publish (default rate x 10)")
    p.add_argument("--seconds", type=float, default=10.0, help="step length when --events unset")
    p.add_argument("--procs", type=int, default=1, help="reader worker processes")
    p.add_argument("--gen-cpus", default="1", help="cores for the generator (taskset list)")
    p.add_argument("--server-cpus", default="0", help="cores for a started server")
    p.add_argument("--workers", type=int, default=1, help="liveblog --workers")
    p.add_argument("--server-pid", type=int, help="pid of an already running server")
    p.add_argument("--body-size", type=int, default=600, help="entry HTML bytes")
    p.add_argument(
        "--body-source", type=Path, help="entry bodies from this text's paragraphs (realistic)"
    )
    p.add_argument(
        "--compress", action="store_true", help="readers ask for compression, as browsers do"
    )
    p.add_argument("--nice", type=int, default=-10, help="niceness of the bench (root)")
    p.add_argument("--realtime", action="store_true", help="SCHED_FIFO for the bench (root)")
    p.add_argument("--json", type=Path, help="write the result here")
    ext = p.add_argument_group("an already running server")
    ext.add_argument("--host", default="127.0.0.1")
    ext.add_argument("--port", type=int, default=8000)
    ext.add_argument("--blog", default="bench")
    ext.add_argument("--sse-path", default="/blogs/bench/events")
    ext.add_argument("--ws-path", default="/blogs/bench/ws")
    ext.add_argument("--pub-path", default="/api/blogs/bench/entries")
    ext.add_argument("--pub-header", action="append", help="'Name: value', repeatable")
    ext.add_argument("--payload", choices=tuple(BUILDERS), default="entry")
    args = p.parse_args(argv)
    args.readers_given = any(a.startswith("--readers") for a in (argv or sys.argv[1:]))
    return args


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    if args.self_test:
        return await self_test(args)
    if args.target:
        target = make_target(args.target, args.server_cpus, args.workers)
        with target:
            ep = target.start()
            return await run_once(args, ep, target)
    return await run_once(args, endpoint_from_args(args), None)


def boost_priority(niceness: int, realtime: bool = False) -> str:
    """Run this process, and so every server, Redis and reader it starts, at a higher
    priority than other work on the machine; returns what was set.

    This machine is shared with other people's test runs. ``niceness`` (default -10) gives
    the bench a larger share of a contended core, for server and generator alike.
    ``realtime`` (SCHED_FIFO 1) makes them preempt all other work: the only way to measure
    latency while browsers and test suites run, at the price of starving those (the kernel
    still leaves them 5% of each core). Both need root; without it the bench runs as it is.
    """
    with contextlib.suppress(OSError):  # PermissionError without root
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
    if realtime:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    policy = "SCHED_FIFO 1" if os.sched_getscheduler(0) == os.SCHED_FIFO else "SCHED_OTHER"
    return f"nice {os.getpriority(os.PRIO_PROCESS, 0)}, {policy}"


def exit_on_sigterm() -> None:
    """Let ``with``/``finally`` blocks stop the servers this process started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def main() -> None:
    args = parse_args()
    exit_on_sigterm()
    boost_priority(args.nice, args.realtime)
    import uvloop

    result = uvloop.run(amain(args))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result if not args.self_test else result.get("best")))


if __name__ == "__main__":
    main()

"""Scale figures of issue 13: readers one process holds, two processes against one, the cluster.

    .venv/bin/python bench/scale.py readers      # readers in steps at 1 event/s, one process
    .venv/bin/python bench/scale.py processes    # `serve --workers 2` against 1 (Redis engine)
    .venv/bin/python bench/scale.py cluster      # fan-out on a 3+3 Redis Cluster against 1 Redis

- ``readers``: a fresh ``liveblog serve`` (memory engine) pinned to core 0 per step; N idle
  readers connect (reader workers of at most 12,000 each, every worker from its own 127.0.0.<n>
  so client ports never run out), then entries go out at 1/s. A step passes with every reader
  connected, nothing lost and p99 publish-to-reader below 200 ms; the run stops at the first
  step that fails, or where the server's open-file limit (its hard limit) would be passed.
  Memory per idle reader is the server's RSS growth over the connect, per reader.
- ``processes``: the same load on one worker (pinned to core 0) and on two (one per core), the
  generator on core 1 (it shares core 1 with a worker in the second case). Each worker's own
  CPU time is read from /proc, and the figure is deliveries per second of CPU of the busiest
  worker: what N workers deliver when the busiest fills its core (the generator can't fill two
  cores' worth here: it needs a core of its own for ~150,000 deliveries/s).
- ``cluster``: the same readers and rates on the Redis engine against one Redis, and on the
  cluster engine against three masters with three replicas (AOF ``always`` and WAIT for a
  replica on the cluster, as in production; the single Redis keeps nothing on disk).

Figures and the machine they came from: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from loadgen import LoadConfig, Session, boost_priority, connect_line, exit_on_sigterm, human
from procstat import children, cpu_seconds
from targets import LiveblogTarget

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

P99_LIMIT_MS = 200.0
READERS_PER_WORKER = 12_000


def server_nofile() -> int:
    """What a server started from here may open: the hard limit it raises its own to."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


async def one_step(
    target: LiveblogTarget, transport: str, readers: int, rate: float, seconds: float
) -> dict[str, Any]:
    ep = target.start()
    cfg = LoadConfig(
        endpoint=ep,
        transport=transport,
        readers=readers,
        procs=max(1, math.ceil(readers / READERS_PER_WORKER)),
        server_pid=target.pid,
        redis_pid=target.redis.pid if target.redis else None,
        label=f"{target.name} {readers:,}",
        spread_sources=True,
        settle=2.0,
    )
    async with Session(cfg) as session:
        print(connect_line(cfg.label, session.connect), flush=True)
        step = await session.step(rate, seconds)
        print("  " + human(step), flush=True)
        return {"connect": session.connect, "step": step}


async def readers_mode(args: argparse.Namespace) -> list[dict[str, Any]]:
    nofile = server_nofile()
    room = nofile - 200  # the server's own files: listening socket, epoll, logs, Redis
    rows = []
    for readers in args.steps:
        if readers > room:
            print(f"stop: {readers:,} readers would pass the open-file limit ({nofile:,})")
            rows.append({"readers": readers, "skipped": f"open-file hard limit {nofile}"})
            break
        env = {"LIVEBLOG_MAX_CONNECTIONS": str(room)}
        with LiveblogTarget("memory", extra_env=env) as target:
            result = await one_step(target, args.transport, readers, 1.0, args.seconds)
        step, connect = result["step"], result["connect"]
        passed = (
            connect["connected"] == readers
            and step["loss"] == 0
            and step["lat_ms"]["p99"] < P99_LIMIT_MS
        )
        rows.append({"readers": readers, "passed": passed, **result})
        if not passed:
            break
    print("\n| readers | connected | connect s | KiB per idle reader | p50 ms | p99 ms | lost | "
          "server CPU | passed |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        if "skipped" in row:
            print(f"| {row['readers']:,} | not run: {row['skipped']} |||||||")
            continue
        c, s = row["connect"], row["step"]
        print(
            f"| {row['readers']:,} | {c['connected']:,} | {c['connect_s']} | "
            f"{c['rss_per_conn_kib']} | {s['lat_ms']['p50']} | {s['lat_ms']['p99']} | "
            f"{s['loss']} | {s['server_cpu_pct']}% | {'yes' if row['passed'] else 'no'} |"
        )
    return rows


def cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def worker_pids(target: LiveblogTarget, workers: int) -> list[int]:
    if workers == 1:
        return [target.pid]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        # taskset execs the server in place; uvicorn's supervisor spawns the workers (beside
        # multiprocessing's resource tracker).
        kids = [pid for pid in children(target.pid) if b"spawn_main" in cmdline(pid)]
        if len(kids) >= workers:
            return kids[:workers]
        time.sleep(0.2)
    raise RuntimeError("the workers did not start")


async def processes_mode(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for workers in (1, 2):
        with LiveblogTarget("redis", workers=workers, cpus="0,1") as target:
            ep = target.start()
            pids = worker_pids(target, workers)
            for core, pid in enumerate(pids):
                os.sched_setaffinity(pid, {core})
            assert target.redis is not None
            os.sched_setaffinity(target.redis.pid, {1})
            cfg = LoadConfig(
                endpoint=ep,
                transport=args.transport,
                readers=args.readers,
                procs=max(1, math.ceil(args.readers / READERS_PER_WORKER)),
                gen_cpus="1",
                server_pid=target.pid,
                redis_pid=target.redis.pid,
                label=f"{workers} worker(s)",
            )
            async with Session(cfg) as session:
                print(connect_line(cfg.label, session.connect), flush=True)
                before = [cpu_seconds([pid]) for pid in pids]
                started = time.monotonic()
                step = await session.step(args.rate, args.seconds)
                wall = time.monotonic() - started
                spent = [cpu_seconds([pid]) - b for pid, b in zip(pids, before, strict=True)]
                busy = [seconds / wall * 100 for seconds in spent]
                print("  " + human(step), flush=True)
        busiest = max(busy)
        per_core = step["deliveries_per_s"] / (busiest / 100) if busiest else 0.0
        rows.append({"workers": workers, "worker_cpu_pct": busy, "capacity": per_core,
                     "step": step})  # fmt: skip
    one = rows[0]["capacity"]
    print("\n| workers | deliveries/s | p99 ms | each worker's CPU | deliveries/s when the "
          "busiest fills its core | against one |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for row in rows:
        s = row["step"]
        cpus = " / ".join(f"{pct:.1f}%" for pct in row["worker_cpu_pct"])
        print(
            f"| {row['workers']} | {s['deliveries_per_s']:,} | {s['lat_ms']['p99']} | {cpus} | "
            f"{row['capacity']:,.0f} | {row['capacity'] / one:.2f}x |"
        )
    return rows


async def cluster_mode(args: argparse.Namespace) -> list[dict[str, Any]]:
    from tests.support.redis_cluster import RedisCluster

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cluster = RedisCluster(Path(tmp))
        cluster.start()
        try:
            for engine in ("redis", "cluster"):
                for rate in args.rates:
                    cluster.flush()
                    target = LiveblogTarget(engine, cluster_url=cluster.url)
                    with target:
                        result = await one_step(
                            target, args.transport, args.readers, rate, args.seconds
                        )
                    nodes = [node.pid for node in cluster.processes.values()]
                    rows.append({"engine": engine, "rate": rate,
                                 "cluster_pids": nodes if engine == "cluster" else [],
                                 **result})  # fmt: skip
        finally:
            cluster.stop()
    print("\n| engine | readers x events/s | deliveries/s | lost | p50 ms | p99 ms | "
          "server CPU | POST p99 ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        s = row["step"]
        name = "1 Redis" if row["engine"] == "redis" else "cluster (3+3)"
        print(
            f"| {name} | {args.readers:,} x {row['rate']:g} | {s['deliveries_per_s']:,} | "
            f"{s['loss']} | {s['lat_ms']['p50']} | {s['lat_ms']['p99']} | "
            f"{s['server_cpu_pct']}% | {s['publish']['post_ms']['p99']} |"
        )
    return rows


MODES = {"readers": readers_mode, "processes": processes_mode, "cluster": cluster_mode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--transport", choices=("sse", "ws"), default="sse")
    parser.add_argument(
        "--steps",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[5_000, 10_000, 15_000, 19_500, 30_000, 50_000],
        help="readers mode: reader counts, comma-separated",
    )
    parser.add_argument("--readers", type=int, default=5_000, help="processes and cluster modes")
    parser.add_argument("--rate", type=float, default=10.0, help="processes mode: events/s")
    parser.add_argument(
        "--rates",
        type=lambda text: [float(n) for n in text.split(",")],
        default=[5.0, 20.0],
        help="cluster mode: events/s, comma-separated",
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--realtime", action="store_true", help="SCHED_FIFO for the bench (root)")
    parser.add_argument("--json", type=Path, help="write every raw step here")
    args = parser.parse_args()
    exit_on_sigterm()
    boost_priority(-10, args.realtime)
    rows = asyncio.run(MODES[args.mode](args))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

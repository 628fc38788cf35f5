"""Reconnect storm (issue 23): a process behind the proxy restarts, its readers come back at once.

    .venv/bin/python bench/storm.py --realtime                          # 10,000 readers, ~5 min
    .venv/bin/python bench/storm.py --readers 1000 --procs 2 --spreads 2000   # a sanity run

Readers (``browsers.py``, the reader script's behaviour: a stream that ends is opened again
after a random wait within the spread, with ``Last-Event-ID``) reach two server processes
through nginx run from ``deploy/nginx.conf`` itself (``least_conn``, ``max_fails=0``, the
streams unbuffered), one Redis behind them. Every reader is live, and owed every entry, before
the first one is posted; entries go out at ``--rate``/s to the process that stays. Then the
other gets SIGTERM (it tells its readers to come back: SSE streams end) and is started again at
once, as an orchestrator restarts a container. Reported, per resume spread:

- how many readers the restart displaced, and the time from SIGTERM until the last of them was
  live again (p50/p99 of each one's gap);
- entries lost (each reader checked against every entry posted), duplicates, out of order;
- the latency of entries caught up on after resuming, and of entries to readers that stayed;
- the staying process's CPU during the storm, and 503s/refusals the readers met.

The same for nginx + Nchan: two nginx instances with Nchan on the same Redis
(``nchan_redis_pass``, as Nchan documents for several servers), one restarted (SIGTERM), behind
the same front nginx, its EventSource readers resuming with ``Last-Event-ID``.

``--spreads`` runs the storm once per resume spread (ms; the reader script's is 2000) to tune
it; ``--client native`` has readers wait what the server's ``retry:`` said instead, as a
browser's own EventSource does (liveblog spreads that hint over its readers). Every run starts
from fresh servers. The generator: ``--procs`` processes on core 1, each
from its own 127.0.0.<n>; the servers, their Redis and the front nginx share core 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import procstat
from crowd import Ticker, Workers, lost, percentiles, redis_above_us
from loadgen import boost_priority, exit_on_sigterm, parse_cpus
from readers import raise_nofile
from side_by_side import code_state, machine
from targets import (
    HOST,
    NGINX_CONF,
    PYTHON,
    REPO,
    SERVER_NOFILE,
    Endpoint,
    Process,
    RedisServer,
    ensure_nchan,
    free_port,
    http,
    wait_port,
)

DEPLOY_CONF = REPO / "deploy" / "nginx.conf"
# deploy/compose/upstreams.conf's parameters (tests/support/nginx.py checks they match)
SERVER_PARAMETERS = "max_fails=0"


# --- the front: deploy/nginx.conf ------------------------------------------------------------


def front_workers(readers: int) -> int:
    """One worker (the server core is one core), or as many as the open-file limit needs:
    a proxied reader holds two descriptors, and no worker may open more than the hard limit."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return 1
    return max(1, math.ceil((2 * readers + 2000) / max(1000, min(hard, SERVER_NOFILE) - 1000)))


def front_config(workdir: Path, port: int, upstreams: list[int], workers: int) -> Path:
    """``deploy/nginx.conf`` as shipped, but: ``workers`` workers, room for the storm's
    connections (two per reader), no access log; and for Nchan, its ``/sub/`` streams in the
    unbuffered streams location too."""
    text = DEPLOY_CONF.read_text()
    swaps = (
        (r"worker_processes auto;", f"worker_processes {workers};"),
        (r"worker_rlimit_nofile \d+;", f"worker_rlimit_nofile {SERVER_NOFILE};"),
        (r"worker_connections \d+;", "worker_connections 100000;"),
        (r"access_log /dev/stdout liveblog;", "access_log off;"),
        (r"error_log stderr warn;", f"error_log {workdir}/error.log warn;"),
        (r"location ~ \^/\(blogs", "location ~ ^/(sub/[^/]+|blogs"),
    )
    for pattern, new in swaps:
        text, n = re.subn(pattern, new.replace("\\", "\\\\"), text)
        if n != 1:
            raise RuntimeError(f"deploy/nginx.conf changed: {pattern!r} not found once")
    (workdir / "nginx.conf").write_text(text)
    servers = "".join(f"server {HOST}:{p} {SERVER_PARAMETERS};\n" for p in upstreams)
    (workdir / "upstreams.conf").write_text(servers)
    (workdir / "listen.conf").write_text(f"listen {HOST}:{port} backlog=8192;\n")
    for name in ("client_temp", "proxy_temp", "fastcgi_temp", "uwsgi_temp", "scgi_temp"):
        (workdir / name).mkdir(exist_ok=True)
    return workdir / "nginx.conf"


def start_front(upstreams: list[int], cpus: str, readers: int) -> tuple[Process, int]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-front-"))
    port = free_port()
    conf = front_config(workdir, port, upstreams, front_workers(readers))
    cmd = ["taskset", "-c", cpus, "nginx", "-p", str(workdir), "-c", str(conf)]
    cmd += ["-e", str(workdir / "error.log"), "-g", "daemon off;"]
    front = Process("front-nginx", cmd)
    front.start(cwd=workdir)
    wait_port(port, 15, front.proc)
    return front, port


# --- the two processes ------------------------------------------------------------------------


class Pair:
    """Two server processes on one Redis; ``restart(0)`` restarts the first."""

    name = "pair"

    def __init__(self, cpus: str) -> None:
        self.cpus = cpus
        self.redis = RedisServer(cpus)
        self.ports = [free_port(), free_port()]
        self.procs: list[Process | None] = [None, None]

    def make(self, i: int) -> Process:
        raise NotImplementedError

    def start_one(self, i: int) -> None:
        proc = self.make(i)
        proc.start(cwd=self.workdir(i))
        self.procs[i] = proc

    def workdir(self, i: int) -> Path:
        return REPO

    def wait_ready(self, i: int, timeout: float = 30.0) -> None:
        proc = self.procs[i]
        assert proc is not None
        wait_port(self.ports[i], timeout, proc.proc)

    def start(self) -> Endpoint:
        raise NotImplementedError

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p is not None and p.alive()]

    def stop(self) -> None:
        for proc in self.procs:
            if proc is not None:
                proc.stop()
        self.redis.stop()


class LiveblogPair(Pair):
    name = "liveblog"

    def __init__(self, cpus: str) -> None:
        super().__init__(cpus)
        self.token = "bench-" + os.urandom(16).hex()

    def make(self, i: int) -> Process:
        env = {
            **os.environ,
            "LIVEBLOG_ADMIN_TOKEN": self.token,
            "LIVEBLOG_RATE_LIMIT_PER_SECOND": "100000",
            "LIVEBLOG_RATE_LIMIT_BURST": "100000",
            "LIVEBLOG_DEMO": "0",
            "LIVEBLOG_REDIS_URL": self.redis.url,
        }
        cmd = [PYTHON, "-m", "liveblog", "serve", "--host", HOST, "--port", str(self.ports[i])]
        return Process(f"liveblog-{i}", ["taskset", "-c", self.cpus, *cmd], env)

    def wait_ready(self, i: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if http("GET", f"http://{HOST}:{self.ports[i]}/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"liveblog {i} not ready")

    def start(self) -> Endpoint:
        self.redis.start()
        redis_above_us(self.redis.pid)
        for i in (0, 1):
            self.start_one(i)
        for i in (0, 1):
            self.wait_ready(i)
        auth = {"Authorization": f"Bearer {self.token}"}
        blog = "storm-" + os.urandom(3).hex()
        base = f"http://{HOST}:{self.ports[1]}"
        status, body = http("POST", base + "/api/blogs", {"slug": blog, "title": "Storm"}, auth)
        if status != 201:
            raise RuntimeError(f"POST /api/blogs answered {status}: {body[:200]!r}")
        status, body = http("GET", f"{base}/api/blogs/{blog}", headers=auth)
        position = json.loads(body)["last_event_id"]
        return Endpoint(
            host=HOST,
            port=self.ports[1],  # entries go to the process that stays
            sse_path=f"/blogs/{blog}/events?last_event_id={position}",
            ws_path=f"/blogs/{blog}/ws",
            pub_path=f"/api/blogs/{blog}/entries",
            pub_headers=auth,
            payload="entry",
            blog=blog,
        )


NCHAN_REDIS = """\
upstream nchan_redis {{ nchan_redis_server redis://{host}:{redis_port}; }}
"""


class NchanPair(Pair):
    """Two nginx instances with Nchan sharing one Redis."""

    name = "nginx + Nchan"

    def __init__(self, cpus: str) -> None:
        super().__init__(cpus)
        self.dirs = [Path(tempfile.mkdtemp(prefix=f"bench-nchan{i}-")) for i in (0, 1)]

    def workdir(self, i: int) -> Path:
        return self.dirs[i]

    def make(self, i: int) -> Process:
        module = ensure_nchan()
        conf = self.dirs[i] / "nginx.conf"
        text = NGINX_CONF.format(
            module=module,
            dir=self.dirs[i],
            host=HOST,
            port=self.ports[i],
            redis_url=NCHAN_REDIS.format(host=HOST, redis_port=self.redis.port),
            use_redis="nchan_redis_pass nchan_redis;",
            nofile=SERVER_NOFILE,
        )
        conf.write_text(text)
        cmd = ["taskset", "-c", self.cpus, "nginx", "-p", str(self.dirs[i]), "-c", str(conf)]
        cmd += ["-e", str(self.dirs[i] / "error.log")]
        return Process(f"nchan-{i}", cmd)

    def start(self) -> Endpoint:
        self.redis.start()
        redis_above_us(self.redis.pid)
        for i in (0, 1):
            self.start_one(i)
            self.wait_ready(i)
        time.sleep(1.0)  # Nchan connects to Redis
        blog = "storm-" + os.urandom(3).hex()
        return Endpoint(
            host=HOST,
            port=self.ports[1],
            sse_path=f"/sub/{blog}",
            ws_path=f"/sub/{blog}",
            pub_path=f"/pub/{blog}",
            payload="event",
            blog=blog,
        )


# --- one storm -------------------------------------------------------------------------------


async def wait_until(workers: Workers, test: Any, limit: float) -> dict[str, int]:
    deadline = time.monotonic() + limit
    while True:
        st = await workers.status()
        if test(st) or time.monotonic() > deadline:
            return st
        await asyncio.sleep(0.25)


async def storm(kind: str, spread_ms: int, args: argparse.Namespace) -> dict[str, Any]:
    pair: Pair = LiveblogPair("0") if kind == "liveblog" else NchanPair("0")
    front: Process | None = None
    try:
        ep = pair.start()
        front, front_port = start_front(pair.ports, "0", args.readers)
        base = {
            "host": HOST,
            "port": front_port,
            "page": None,
            "stream": ep.sse_path,
            "start_at": time.time() + 1.0 + 0.3 * args.procs,
            "arrive_seconds": args.arrive,
            "resume_spread_ms": spread_ms,
            "client": args.client,
            "timeout": 30.0,
        }
        workers = await Workers.spawn(base, args.readers, args.procs, args.gen_cpus)
        st = await wait_until(
            workers, lambda s: s["live"] + s["failed"] >= args.readers, args.arrive + 120
        )
        connected = st["live"]
        print(f"  {kind}: {connected:,} of {args.readers:,} readers live", flush=True)
        await asyncio.sleep(2.0)
        ticker = Ticker(ep, 1.0 / args.rate)
        await ticker.start()
        await asyncio.sleep(args.before)
        # the restart: SIGTERM, then started again as soon as it is gone
        staying = procstat.tree(pair.pids()[1])
        cpu = procstat.CpuMeter(staying)
        redis_cpu = procstat.CpuMeter([pair.redis.pid])
        front_cpu = procstat.CpuMeter(procstat.tree(front.pid))
        for meter in (cpu, redis_cpu, front_cpu):
            meter.start()
        victim = pair.procs[0]
        assert victim is not None and victim.proc is not None
        term_ns = time.time_ns()
        os.killpg(victim.proc.pid, signal.SIGTERM)
        exited = await asyncio.to_thread(victim.proc.wait, 30)
        down_s = (time.time_ns() - term_ns) / 1e9
        back_s = None
        if args.restart:
            pair.start_one(0)
            await asyncio.to_thread(pair.wait_ready, 0)
            back_s = (time.time_ns() - term_ns) / 1e9
        # until every displaced reader is live again (and caught up), at most --max-wait s
        await asyncio.sleep(1.0)
        await wait_until(workers, lambda s: s["live"] + s["failed"] >= connected, args.max_wait)
        storm_s = (time.time_ns() - term_ns) / 1e9
        window = {
            "staying_cpu_pct": round(cpu.percent(), 1),
            "redis_cpu_pct": round(redis_cpu.percent(), 1),
            "front_cpu_pct": round(front_cpu.percent(), 1),
            "window_s": round(storm_s, 1),
        }
        await asyncio.sleep(args.after)
        await ticker.stop()
        await asyncio.sleep(2.0)
        merged = await workers.collect()
        await workers.quit()
        client = "EventSource's own (retry:)" if args.client == "native" else f"{spread_ms:,} ms"
        return summarize(
            kind, spread_ms, client, merged, ticker, term_ns, down_s, back_s, exited, window
        )
    finally:
        if front is not None:
            front.stop()
        pair.stop()


def summarize(
    kind: str,
    spread_ms: int,
    client: str,
    merged: dict[str, Any],
    ticker: Ticker,
    term_ns: int,
    down_s: float,
    back_s: float | None,
    exit_code: int,
    window: dict[str, Any],
) -> dict[str, Any]:
    browsers = merged["browsers"]
    displaced = [b for b in browsers if any(lost >= term_ns for lost, _ in b["gaps"])]
    # every reader that was live before the first entry is owed every entry
    owed = [b for b in browsers if b["live"]]
    gaps = [(back - lost) / 1e6 for b in displaced for lost, back in b["gaps"] if lost >= term_ns]
    last_back = max((back for b in displaced for _, back in b["gaps"]), default=None)
    not_back = sum(1 for b in owed if not b["now_live"])
    lost_total = sum(lost_entries(b, ticker.stamps) for b in owed)
    return {
        "target": kind,
        "resume_spread_ms": spread_ms,
        "client": client,
        "readers": len(browsers),
        "live_before": len(owed),
        "displaced": len(displaced),
        "all_resumed_s": round((last_back - term_ns) / 1e9, 2) if last_back else None,
        "gap_ms": percentiles(gaps),
        "readers_not_live_at_end": not_back,
        "restarted_process": {
            "exit_code": exit_code,
            "gone_s": round(down_s, 2),
            "ready_again_s": round(back_s, 2) if back_s is not None else None,
        },
        "entries": ticker.sent,
        "post_statuses": ticker.statuses,
        "lost": lost_total,
        "readers_with_loss": sum(1 for b in owed if lost_entries(b, ticker.stamps)),
        "duplicates": sum(b["dups"] for b in browsers),
        "out_of_order": sum(b["out_of_order"] for b in browsers),
        "caught_up_entry_ms": percentiles(merged["catchup_lat"], 1e-3),
        "live_entry_ms": percentiles(merged["live_lat"], 1e-3),
        "errors": merged["errors"],
        **window,
    }


def lost_entries(browser: dict[str, Any], stamps: list[int]) -> int:
    return lost(browser, stamps, 0)


def report(rows: list[dict[str, Any]], args: argparse.Namespace, seconds: float) -> str:
    lines = [
        f"## Reconnect storm: {args.readers:,} readers on two processes behind nginx, one"
        " restarted\n",
        f"{machine()}; servers, Redis and the front nginx on core 0, {args.procs} generator"
        f" processes on core(s) {args.gen_cpus}, at {args.priority}; entries at {args.rate:g}/s;"
        f" {seconds:.0f} s; command: `{' '.join(sys.argv)}`\n",
        "| server | reconnect wait | readers displaced | all resumed after SIGTERM | gap p50 / p99"
        " | lost / duplicates / out of order | caught-up entry p99 | entry p99, others"
        " | staying process CPU | refusals and errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['target']} | {r['resume_spread_ms']} ms | failed: {r['error']} |")
            continue
        errors = sum(r["errors"].values())
        resumed = f"{r['all_resumed_s']} s" if r["all_resumed_s"] is not None else "n/a"
        if r["readers_not_live_at_end"]:
            resumed += f" ({r['readers_not_live_at_end']:,} not back)"
        lines.append(
            f"| {r['target']} | {r['client']} | {r['displaced']:,} of"
            f" {r['live_before']:,} | {resumed} | {r['gap_ms']['p50']} / {r['gap_ms']['p99']} ms"
            f" | {r['lost']:,} / {r['duplicates']:,} / {r['out_of_order']:,}"
            f" | {r['caught_up_entry_ms']['p99']} ms | {r['live_entry_ms']['p99']} ms"
            f" | {r['staying_cpu_pct']}% | {errors:,} |"
        )
    return "\n".join(lines)


async def amain(args: argparse.Namespace) -> int:
    raise_nofile(4 * args.readers + 8192)
    os.sched_setaffinity(0, parse_cpus(args.gen_cpus))
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    for kind in args.targets.split(","):
        for spread in args.spreads:
            print(f"== {kind}, resume spread {spread} ms", flush=True)
            try:
                row = await storm(kind, spread, args)
            except (RuntimeError, TimeoutError, OSError) as exc:
                print(f"   failed: {exc}", flush=True)
                row = {"target": kind, "resume_spread_ms": spread, "error": str(exc)[:200]}
            print(json.dumps(row, indent=1), flush=True)
            rows.append(row)
    text = report(rows, args, time.monotonic() - started)
    print("\n" + text, flush=True)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps({"code": code_state(), "rows": rows}, indent=1))
    return 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--readers", type=int, default=10_000)
    p.add_argument("--procs", type=int, default=8, help="generator worker processes")
    p.add_argument("--gen-cpus", default="1")
    p.add_argument("--arrive", type=float, default=10.0, help="seconds to connect everyone")
    p.add_argument("--rate", type=float, default=2.0, help="entries per second")
    p.add_argument("--before", type=float, default=3.0, help="seconds of entries before")
    p.add_argument("--after", type=float, default=3.0, help="seconds of entries after")
    p.add_argument("--max-wait", type=float, default=60.0, help="for the readers to resume")
    p.add_argument(
        "--spreads",
        type=lambda text: [int(v) for v in text.split(",")],
        default=[2000],
        help="resume spreads to try, ms (the reader script's: 2000)",
    )
    p.add_argument("--targets", default="liveblog,nchan", help="liveblog, nchan or both")
    p.add_argument(
        "--client",
        choices=("script", "native"),
        default="script",
        help="script: the reader script's random wait within the spread; native: a browser's"
        " own EventSource, which waits exactly the server's retry: hint (--spreads unused)",
    )
    p.add_argument(
        "--no-restart",
        dest="restart",
        action="store_false",
        help="stop the process and leave it stopped: every reader resumes on the other",
    )
    p.add_argument("--json", type=Path)
    p.add_argument("--markdown", type=Path)
    p.add_argument("--nice", type=int, default=-10)
    p.add_argument("--realtime", action="store_true", help="SCHED_FIFO (root): shared machines")
    args = p.parse_args()
    if not (0 < args.readers <= 50_000 and 0 < args.procs <= 64 and 0 < args.rate <= 100):
        p.error("bounded: up to 50,000 readers, 64 processes, 100 entries/s")
    exit_on_sigterm()
    args.priority = boost_priority(args.nice, args.realtime)
    import uvloop

    sys.exit(uvloop.run(amain(args)))


if __name__ == "__main__":
    main()

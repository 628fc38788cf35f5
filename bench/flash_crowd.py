"""Flash crowd (issue 23): a push notification sends 10,000 readers to one blog within 2 s.

    .venv/bin/python bench/flash_crowd.py --realtime                # 10,000 readers, ~3 minutes
    .venv/bin/python bench/flash_crowd.py --readers 500 --procs 2   # a sanity run, ~1 minute

Each reader is a browser (``browsers.py``): at its own moment within ``--arrive`` seconds it
loads the blog page as a browser does (the HTML, then the stylesheet, icon, script and its
preloaded modules over ``--conns`` keep-alive connections, compressed; ``--returning`` of them
have the versioned files cached, which is every file of the page, and would revalidate any
other with ``If-None-Match``), then opens
its event stream from the position its page showed. An entry is posted every ``--interval``
seconds from the first arrival until every reader is live (and 2 s more).

Two targets, the same crowd and the same page:

- ``liveblog``: one ``liveblog serve`` process (Redis engine by default, its Redis beside it),
  serving the page, its files and the streams;
- ``nginx``: nginx serving a copy of that very page and its files as static files
  (``gzip_static``, and ``brotli_static`` where Debian's module is installed, as the nginx
  documentation recommends for files compressed ahead), plus Nchan for the stream
  (``/sub/<blog>``, the same Redis or memory as liveblog's engine).

Reported: page time (first request sent to last file received) p50/p99, how late the
generator sent each first request against the schedule, time until every reader was live (from
the first arrival) and each reader's arrival-to-live p50/p99, the live entry's latency p50/p99
for every reader that was live when it was posted, entries lost by readers that were live when
they were posted, failures and HTTP statuses, bytes of a page view. Goals: every reader live
within 5 s, entry p99 under 1 s during the rush.

The generator: ``--procs`` worker processes (each from its own 127.0.0.<n>, so client ports
never run out) share the generator core(s) (``--gen-cpus``, core 1; the server has core 0).
On two cores they share one core whatever their number, so their CPU and how late they sent
each first request are reported: a schedule that slipped means the generator, not the server,
set part of the page time.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import procstat
from crowd import Ticker, Workers, lost, percentiles, redis_above_us
from loadgen import boost_priority, exit_on_sigterm, parse_cpus
from payload import bodies
from readers import raise_nofile
from side_by_side import code_state, machine
from targets import (
    HOST,
    SERVER_NOFILE,
    Endpoint,
    LiveblogTarget,
    Process,
    RedisServer,
    Target,
    apt_install,
    ensure_nchan,
    free_port,
    http,
    wait_port,
)

ASSET = re.compile(
    rb'<(?:link rel="(?:stylesheet|icon|modulepreload)"|script type="module")[^>]*?'
    rb'(?:href|src)="(/static/[^"]+)"'
)
GOAL_LIVE_S, GOAL_P99_MS = 5.0, 1000.0


def seed(base: str, ep: Endpoint, entries: int, source: Path | None) -> None:
    """The story so far: ``entries`` entries of real size on the blog."""
    for n, body in zip(range(entries), bodies(900, source) * (entries // 16 + 1), strict=False):
        doc = {"headline": f"Update {n + 1}", "body": body, "author": "Bench Reporter"}
        status, answer = http("POST", base + ep.pub_path, doc, ep.pub_headers)
        if status != 201:
            raise RuntimeError(f"seeding answered {status}: {answer[:200]!r}")


def preflight(port: int, page: str) -> list[dict[str, Any]]:
    """The page's files as a browser finds them, and what a returning browser knows of each:
    versioned files served ``immutable`` stay in its cache; the others it revalidates."""
    import urllib.request

    base = f"http://{HOST}:{port}"
    with urllib.request.urlopen(base + page, timeout=10) as resp:
        html = resp.read()
    paths = list(dict.fromkeys(p.decode() for p in ASSET.findall(html)))
    if not paths:
        raise RuntimeError("the page names no files")
    assets = []
    for path in paths:
        req = urllib.request.Request(base + path, headers={"Accept-Encoding": "gzip, br"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            cache = resp.headers.get("Cache-Control", "")
            assets.append(
                {
                    "path": path,
                    "cached": "immutable" in cache or "max-age=31536000" in cache,
                    "etag": resp.headers.get("ETag"),
                }
            )
    return assets


# --- nginx serving the page as files, plus Nchan ----------------------------------------------

STATIC_CONF = """\
load_module {nchan_module};
{brotli_module}
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
worker_rlimit_nofile {nofile};
events {{
    worker_connections 100000;
    multi_accept on;
}}
http {{
    access_log off;
    include /etc/nginx/mime.types;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 5s;
    nchan_max_reserved_memory 256M;
    {redis_upstream}
    server {{
        listen {host}:{port} backlog=8192;
        # The page and its files, compressed ahead of time (gzip_static/brotli_static),
        # the same cache headers as liveblog gives them.
        gzip_static on;
        {brotli_static}
        location = /blogs/{blog} {{
            default_type text/html;
            add_header Cache-Control no-cache;
            alias {root}/page.html;
        }}
        location /static/ {{
            # Every file the page names is versioned (?v=), the modules too: kept for good.
            root {root};
            add_header Cache-Control "public, max-age=31536000, immutable";
        }}
        location ~ ^/sub/([a-z0-9-]+)$ {{
            nchan_subscriber;
            nchan_channel_id $1;
            nchan_subscriber_first_message newest;
            {use_redis}
        }}
        location ~ ^/pub/([a-z0-9-]+)$ {{
            nchan_publisher;
            nchan_channel_id $1;
            nchan_message_buffer_length 100;
            nchan_message_timeout 10m;
            {use_redis}
        }}
    }}
}}
"""


def brotli_static_module() -> str | None:
    """Debian's brotli static module, installed if missing (``None`` if it cannot be)."""
    path = "/usr/lib/nginx/modules/ngx_http_brotli_static_module.so"
    if not os.path.exists(path):
        try:
            apt_install(["libnginx-mod-http-brotli-static"])
        except subprocess.CalledProcessError:
            return None
    return path if os.path.exists(path) else None


def snapshot(root: Path, port: int, page: str, assets: list[dict[str, Any]]) -> None:
    """liveblog's page and files as files, each with its gzip (and Brotli) form beside it."""
    import urllib.request

    files = {root / "page.html": page}
    for asset in assets:
        files[root / asset["path"].split("?", 1)[0].lstrip("/")] = asset["path"]
    for dest, path in files.items():
        with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=10) as resp:
            data = resp.read()  # asked for nothing: the plain bytes
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        dest.with_name(dest.name + ".gz").write_bytes(gzip.compress(data, 9))
        try:
            import brotli

            dest.with_name(dest.name + ".br").write_bytes(brotli.compress(data, quality=11))
        except ImportError:
            pass


class StaticNchanTarget(Target):
    """nginx with liveblog's page as static files and Nchan for the stream."""

    def __init__(self, root: Path, blog: str, storage: str, cpus: str = "0") -> None:
        super().__init__(cpus)
        self.root, self.blog, self.storage = root, blog, storage
        self.name = f"nginx-static+nchan-{storage}"

    def start(self) -> Endpoint:
        module = ensure_nchan()
        brotli = brotli_static_module()
        workdir = Path(tempfile.mkdtemp(prefix="bench-static-"))
        port = free_port()
        redis_upstream = use_redis = ""
        if self.storage == "redis":
            self.redis = RedisServer(self.cpus)
            self.redis.start()
            redis_upstream = (
                f"upstream nchan_redis {{ nchan_redis_server redis://{HOST}:{self.redis.port}; }}"
            )
            use_redis = "nchan_redis_pass nchan_redis;"
        conf = workdir / "nginx.conf"
        conf.write_text(
            STATIC_CONF.format(
                nchan_module=module,
                brotli_module=f"load_module {brotli};" if brotli else "",
                brotli_static="brotli_static on;" if brotli else "",
                dir=workdir,
                nofile=SERVER_NOFILE,
                host=HOST,
                port=port,
                blog=self.blog,
                root=self.root,
                redis_upstream=redis_upstream,
                use_redis=use_redis,
            )
        )
        cmd = ["taskset", "-c", self.cpus, "nginx", "-p", str(workdir), "-c", str(conf)]
        cmd += ["-e", str(workdir / "error.log")]
        self.server = Process(self.name, cmd)
        self.server.start(cwd=workdir)
        try:
            wait_port(port, 15, self.server.proc)
        except (RuntimeError, TimeoutError) as exc:
            log = (workdir / "error.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{exc}\n{self.server.log_tail()}\n{log}") from exc
        time.sleep(1.0 if self.redis else 0.3)
        return Endpoint(
            host=HOST,
            port=port,
            sse_path=f"/sub/{self.blog}",
            ws_path=f"/sub/{self.blog}",
            pub_path=f"/pub/{self.blog}",
            payload="event",
            blog=self.blog,
        )


# --- one rush ---------------------------------------------------------------------------------


async def rush(
    target: Target, ep: Endpoint, page: str, resume_from_page: bool, args: argparse.Namespace
) -> dict[str, Any]:
    if target.redis is not None:
        redis_above_us(target.redis.pid)
    assets = preflight(ep.port, page)
    server = procstat.tree(target.pid)
    ticker = Ticker(ep, args.interval, args.body_source)
    start_at = time.time() + 2.0 + 0.3 * args.procs  # the workers start before the rush
    base = {
        "host": ep.host,
        "port": ep.port,
        "page": page,
        "assets": assets,
        "conns": args.conns,
        "returning": args.returning,
        "resume_from_page": resume_from_page,
        "stream": ep.sse_path,
        "start_at": start_at,
        "arrive_seconds": args.arrive,
        "resume_spread_ms": 2000,
        "timeout": args.timeout,
    }
    workers = await Workers.spawn(base, args.readers, args.procs, args.gen_cpus)
    gen = procstat.CpuMeter([os.getpid(), *workers.pids])
    cpu = procstat.CpuMeter(server)
    redis = procstat.CpuMeter([target.redis.pid] if target.redis else [])
    cores = procstat.CoreMeter()
    ours = {*server, os.getpid(), *workers.pids, *redis.pids}
    foreign = procstat.ForeignMeter(ours)
    rss0 = procstat.rss_bytes(server)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    for meter in (gen, cpu, redis, cores, foreign):
        meter.start()
    await ticker.start()
    deadline = time.monotonic() + args.arrive + args.max_wait
    all_live_at = None
    peak_rss = rss0
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        st = await workers.status()
        peak_rss = max(peak_rss, procstat.rss_bytes(server))
        if st["ever_live"] + st["failed"] >= args.readers and all_live_at is None:
            all_live_at = time.monotonic()
        if all_live_at is not None and time.monotonic() - all_live_at >= 2.0:
            break
    await ticker.stop()
    await asyncio.sleep(1.0)  # the last entry reaches everyone
    window = {
        "server_cpu_pct": round(cpu.percent(), 1),
        "redis_cpu_pct": round(redis.percent(), 1) if target.redis else None,
        "generator_cpu_pct": round(gen.percent(), 1),
        "core_busy_pct": cores.percent(),
        "other_processes_pct": round(foreign.percent(), 1),
        "seconds": round(time.time() - start_at, 1),
    }
    merged = await workers.collect()
    await workers.quit()
    return summarize(merged, ticker, start_at, window, rss0, peak_rss, args)


def summarize(
    merged: dict[str, Any],
    ticker: Ticker,
    start_at: float,
    window: dict[str, Any],
    rss0: int,
    peak_rss: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    browsers = merged["browsers"]
    t0 = int(start_at * 1e9)
    pages = [(b["page_done"] - b["sent"]) / 1e6 for b in browsers if b["page_done"]]
    late = [(b["sent"] - b["arrive"]) / 1e6 for b in browsers if b["sent"]]
    to_live = [(b["live"] - b["arrive"]) / 1e6 for b in browsers if b["live"]]
    lives = [b["live"] for b in browsers if b["live"]]
    statuses: dict[str, int] = {}
    for b in browsers:
        for code, n in b["status"].items():
            statuses[code] = statuses.get(code, 0) + n
    stamps = ticker.stamps
    lost_total = sum(lost(b, stamps, b["live"]) for b in browsers if b["live"])
    new_views = [b["page_bytes"] for b in browsers if b["page_done"] and not b["returning"]]
    back_views = [b["page_bytes"] for b in browsers if b["page_done"] and b["returning"]]
    all_live_s = (max(lives) - t0) / 1e9 if len(lives) == len(browsers) else None
    live_lat = percentiles(merged["live_lat"], 1e-3)
    return {
        "readers": len(browsers),
        "live": len(lives),
        "failed": {k: sum(b["failed"] == k for b in browsers) for k in ("page", "stream")},
        "page_ms": percentiles(pages),
        "first_request_late_ms": percentiles(late),
        "arrival_to_live_ms": percentiles(to_live),
        "all_live_s": round(all_live_s, 2) if all_live_s is not None else None,
        "entries": ticker.sent,
        "post_statuses": ticker.statuses,
        "post_p99_ms": percentiles(ticker.post_ms)["p99"],
        "live_entry_ms": live_lat,
        "caught_up_entry_ms": percentiles(merged["catchup_lat"], 1e-3),
        "lost_while_live": lost_total,
        "duplicates": sum(b["dups"] for b in browsers),
        "out_of_order": sum(b["out_of_order"] for b in browsers),
        "http_statuses": statuses,
        "errors": merged["errors"],
        "page_view_bytes": {
            "new": round(sum(new_views) / len(new_views)) if new_views else None,
            "returning": round(sum(back_views) / len(back_views)) if back_views else None,
        },
        "server_rss_mib": {"before": round(rss0 / 2**20, 1), "peak": round(peak_rss / 2**20, 1)},
        **window,
        "goals": {
            f"every reader live within {GOAL_LIVE_S:g} s": (
                all_live_s is not None and all_live_s <= GOAL_LIVE_S
            ),
            f"entry p99 under {GOAL_P99_MS:g} ms during the rush": (
                live_lat["p99"] is not None and live_lat["p99"] < GOAL_P99_MS
            ),
            "nothing lost by readers that were live": lost_total == 0,
        },
    }


async def run_liveblog(args: argparse.Namespace) -> tuple[dict[str, Any], Path, str]:
    """The rush on liveblog; leaves a snapshot of its page for the nginx run."""
    target = LiveblogTarget(args.engine, 1, "0")  # streams up to its open-file limit
    with target:
        ep = target.start()
        base = f"http://{HOST}:{ep.port}"
        seed(base, ep, args.entries, args.body_source)
        page = f"/blogs/{ep.blog}"
        root = Path(tempfile.mkdtemp(prefix="bench-page-"))
        os.chmod(root, 0o755)  # nginx's workers read it as an unprivileged user
        snapshot(root, ep.port, page, preflight(ep.port, page))
        result = await rush(target, ep, page, True, args) if "liveblog" in args.targets else {}
    return result, root, ep.blog


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace, seconds: float) -> str:
    names = {"liveblog": "liveblog (one process)", "nginx": "nginx static + Nchan"}
    cols = [k for k in ("liveblog", "nginx") if results.get(k)]
    rows = [
        ("readers live / arrived", lambda r: f"{r['live']:,} / {r['readers']:,}"),
        ("time until every reader was live (from the first arrival)",
         lambda r: f"{r['all_live_s']} s" if r["all_live_s"] is not None else "not all"),
        ("arrival to live, p50 / p99", lambda r: ms(r["arrival_to_live_ms"])),
        ("page time (HTML and files), p50 / p99", lambda r: ms(r["page_ms"])),
        ("live entry, publish to reader, p50 / p99 (during the rush)",
         lambda r: ms(r["live_entry_ms"])),
        ("entries lost by readers that were live / duplicates",
         lambda r: f"{r['lost_while_live']:,} / {r['duplicates']:,}"),
        ("bytes of a page view, new / returning reader",
         lambda r: f"{r['page_view_bytes']['new']:,} / {r['page_view_bytes']['returning'] or 0:,}"),
        ("HTTP statuses", lambda r: ", ".join(f"{k}: {v:,}" for k, v in
                                              sorted(r["http_statuses"].items()))),
        ("failed readers (page / stream)",
         lambda r: f"{r['failed']['page']:,} / {r['failed']['stream']:,}"),
        ("server CPU over the rush (+ its Redis)",
         lambda r: f"{r['server_cpu_pct']}%" + (f" (+{r['redis_cpu_pct']}%)"
                                                 if r["redis_cpu_pct"] is not None else "")),
        ("generator CPU; its first requests late, p99",
         lambda r: f"{r['generator_cpu_pct']}%; {r['first_request_late_ms']['p99']} ms"),
        ("cores busy; other processes", lambda r: "/".join(
            f"{v:.0f}%" for v in r["core_busy_pct"].values()) + f"; {r['other_processes_pct']}%"),
    ]  # fmt: skip
    lines = [
        f"## Flash crowd: {args.readers:,} readers within {args.arrive:g} s\n",
        f"{machine()}; engine {args.engine}; server on core 0, {args.procs} generator processes"
        f" on core(s) {args.gen_cpus}, at {args.priority}"
        f"{' (Redis one above, on core 0 too)' if 'FIFO' in args.priority else ''};"
        f" {args.conns} connections per"
        f" browser, {args.returning:.0%} returning; an entry every {args.interval:g} s;"
        f" {seconds:.0f} s; command: `{' '.join(sys.argv)}`\n",
        "| | " + " | ".join(names[c] for c in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for label, fn in rows:
        lines.append(f"| {label} | " + " | ".join(fn(results[c]) for c in cols) + " |")
    lines.append("")
    for c in cols:
        for goal, ok in results[c]["goals"].items():
            lines.append(f"- {names[c]}: {goal}: {'met' if ok else 'NOT met'}")
    return "\n".join(lines)


def ms(p: dict[str, Any]) -> str:
    return "n/a" if p["p50"] is None else f"{p['p50']:,} / {p['p99']:,} ms"


async def amain(args: argparse.Namespace) -> int:
    raise_nofile(4 * args.readers + 8192)
    os.sched_setaffinity(0, parse_cpus(args.gen_cpus))
    started = time.monotonic()
    results: dict[str, dict[str, Any]] = {}
    print(f"== liveblog ({args.engine})", flush=True)
    results["liveblog"], root, blog = await run_liveblog(args)
    if results["liveblog"]:
        print(json.dumps(results["liveblog"], indent=1), flush=True)
    if "nginx" in args.targets:
        print("== nginx static + Nchan", flush=True)
        target = StaticNchanTarget(root, blog, args.engine)
        with target:
            ep = target.start()
            results["nginx"] = await rush(target, ep, f"/blogs/{blog}", False, args)
        print(json.dumps(results["nginx"], indent=1), flush=True)
    shutil.rmtree(root, ignore_errors=True)
    text = report(results, args, time.monotonic() - started)
    print("\n" + text, flush=True)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps({"code": code_state(), **results}, indent=1))
    return 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--readers", type=int, default=10_000)
    p.add_argument("--arrive", type=float, default=2.0, help="seconds over which they arrive")
    p.add_argument("--procs", type=int, default=8, help="generator worker processes")
    p.add_argument("--gen-cpus", default="1", help="the generator's core(s)")
    p.add_argument(
        "--conns",
        type=int,
        default=2,
        help="connections per browser for the page (a browser opens up to 6 over HTTP/1.1,"
        " one over HTTP/2; each is an open file on the server while the crowd loads)",
    )
    p.add_argument("--returning", type=float, default=0.3, help="share with a warm cache")
    p.add_argument("--interval", type=float, default=0.2, help="seconds between entries")
    p.add_argument("--entries", type=int, default=20, help="entries on the page before")
    p.add_argument("--engine", choices=("redis", "memory"), default="redis")
    p.add_argument("--targets", default="liveblog,nginx", help="liveblog, nginx or both")
    p.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    p.add_argument("--max-wait", type=float, default=60.0, help="after the arrivals, seconds")
    p.add_argument("--body-source", type=Path, help="entry bodies from this text's paragraphs")
    p.add_argument("--json", type=Path)
    p.add_argument("--markdown", type=Path)
    p.add_argument("--nice", type=int, default=-10)
    p.add_argument("--realtime", action="store_true", help="SCHED_FIFO (root): shared machines")
    args = p.parse_args()
    if not (0 < args.readers <= 50_000 and 0 < args.procs <= 64 and args.interval >= 0.01):
        p.error("bounded: up to 50,000 readers, 64 processes, an entry per 10 ms at most")
    exit_on_sigterm()
    args.priority = boost_priority(args.nice, args.realtime)
    import uvloop

    sys.exit(uvloop.run(amain(args)))


if __name__ == "__main__":
    main()

"""What one liveblog process spends per request on the reader page and on its static files.

    .venv/bin/python bench/static_files.py                          # this checkout, ~1 minute
    .venv/bin/python bench/static_files.py --checkout /work/main    # another one (before/after)
    .venv/bin/python bench/static_files.py --rate 0 --realtime      # flat out: a quiet machine

One ``liveblog serve`` process (memory engine, the production settings otherwise, access log
included) pinned to core 0 serves a blog of 20 entries; the generator, on core 1, asks for one
URL at a time over ``--conns`` keep-alive connections, as a browser would (``Accept-Encoding:
gzip, deflate, br``), in one window per case:

- ``healthz``: ``/healthz``, the smallest answer through the router and the middleware: what
  any request costs (uvicorn, the access log, the kernel's side of the socket);
- ``page``: the blog's page (``/blogs/<slug>``), which the page cache keeps per position;
- ``script``: the page's script as the page names it (``/static/reader.js?v=...``): 200, then
  revalidated with its ETag (304);
- ``module``: the first module the page preloads (``/static/reader/i18n.js``, versioned or
  not, as that checkout names it): 200, then 304.

By default the load is paced (``--rate`` requests per second, 400: a fraction of the server's
core, so the figures hold on a machine others share, and the generator stays far below its
core): the server's CPU time over the window (``/proc``) divided by the requests answered is
its **CPU per request**. 1 s / that is a floor for what one core answers flat out: a paced
request mostly wakes the process on its own, and requests that arrive together share wake-ups.
``--rate 0`` sends as fast as the answers come (requests per second measured, not estimated):
one core saturated, so only on a quiet machine. Every case checks the status it expects, and a
window with errors says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import procstat
from loadgen import boost_priority, exit_on_sigterm, parse_cpus
from payload import bodies
from side_by_side import machine
from targets import HOST, PYTHON, REPO, LiveblogTarget, http
from wire import HEAD_END, ResponseHead, request

ACCEPT = "gzip, deflate, br"  # Chromium's
SCRIPT = re.compile(rb'<script type="module" src="(/static/[^"]+)"')
PRELOAD = re.compile(rb'<link rel="modulepreload" href="(/static/[^"]+)"')


class Window:
    """What one case's window saw."""

    def __init__(self) -> None:
        self.done = 0
        self.statuses: dict[int, int] = {}
        self.latencies_us: list[int] = []
        self.errors = 0


async def get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    """One request on a keep-alive connection: its status, once the whole body is in."""
    writer.write(raw)
    head = ResponseHead(await reader.readuntil(HEAD_END))
    if head.chunked:
        raise RuntimeError("a chunked answer: this bench reads bodies by their length")
    length = head.content_length or 0
    if length and head.status != 304:
        await reader.readexactly(length)
    return head.status


async def drive(port: int, raw: bytes, conns: int, rate: float, seconds: float) -> Window:
    """``rate`` requests a second (0: flat out) over ``conns`` connections for ``seconds``."""
    window = Window()
    tickets: asyncio.Queue[float] = asyncio.Queue()
    start = time.monotonic()
    end = start + seconds

    async def pace() -> None:
        n = 0
        while (due := start + n / rate) < end:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            tickets.put_nowait(due)
            n += 1

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.monotonic() < end:
                if rate:  # one request per ticket
                    try:
                        await asyncio.wait_for(tickets.get(), max(0.0, end - time.monotonic()))
                    except TimeoutError:
                        return
                sent = time.perf_counter_ns()
                try:
                    status = await get(reader, writer, raw)
                except (OSError, asyncio.IncompleteReadError, RuntimeError):
                    window.errors += 1
                    return
                window.latencies_us.append((time.perf_counter_ns() - sent) // 1000)
                window.statuses[status] = window.statuses.get(status, 0) + 1
                window.done += 1
        finally:
            writer.close()

    tasks = [asyncio.create_task(connection()) for _ in range(conns)]
    if rate:
        tasks.append(asyncio.create_task(pace()))
    await asyncio.gather(*tasks)
    return window


def percentile(values: list[int], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] / 1000


async def measure(
    name: str, url: str, headers: dict[str, str], expect: int, pid: int, port: int, args: Any
) -> dict[str, Any]:
    raw = request("GET", HOST, port, url, {"Accept-Encoding": ACCEPT, **headers})
    await drive(port, raw, args.conns, args.rate, args.warmup)  # caches warm, connections made
    pids = procstat.tree(pid)
    cpu0, gen0, wall0 = procstat.cpu_seconds(pids), time.process_time(), time.monotonic()
    window = await drive(port, raw, args.conns, args.rate, args.seconds)
    wall = time.monotonic() - wall0
    cpu = procstat.cpu_seconds(pids) - cpu0
    generator = time.process_time() - gen0
    per_request_us = 1e6 * cpu / window.done if window.done else float("nan")
    result = {
        "case": name,
        "url": url,
        "status": expect,
        "statuses": window.statuses,
        "errors": window.errors,
        "requests": window.done,
        "requests_per_s": round(window.done / wall, 1),
        "server_cpu_pct": round(100 * cpu / wall, 1),
        "cpu_per_request_us": round(per_request_us, 1),
        "one_core_req_per_s": round(1e6 / per_request_us) if window.done else None,
        "latency_ms": {"p50": percentile(window.latencies_us, 0.5),
                       "p99": percentile(window.latencies_us, 0.99)},
        "generator_cpu_pct": round(100 * generator / wall, 1),
    }  # fmt: skip
    print(json.dumps(result), flush=True)
    return result


def etag_of(port: int, url: str) -> str:
    import urllib.request

    req = urllib.request.Request(f"http://{HOST}:{port}{url}", headers={"Accept-Encoding": ACCEPT})
    with urllib.request.urlopen(req, timeout=10) as resp:
        etag = resp.headers.get("ETag")
    if not etag:
        raise RuntimeError(f"{url} has no ETag")
    return etag


def checkout_state(checkout: Path) -> str:
    git = ["git", "-C", str(checkout)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    branch = subprocess.run([*git, "branch", "--show-current"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "liveblog", "web"], capture_output=True, text=True
    )
    changed = len(dirty.stdout.splitlines())
    return f"{checkout} at {head.stdout.strip() or '?'} ({branch.stdout.strip() or 'detached'})" + (
        f" + {changed} uncommitted file(s)" if changed else ""
    )


async def amain(args: argparse.Namespace) -> int:
    os.sched_setaffinity(0, parse_cpus(args.gen_cpus))
    checkout = args.checkout.resolve()
    env = dict(setting.split("=", 1) for setting in args.server_env)
    target = LiveblogTarget("memory", checkout=checkout, python=args.python, extra_env=env)
    results = []
    with target:
        ep = target.start()
        base = f"http://{HOST}:{ep.port}"
        for n, body in zip(range(20), bodies(900) * 2, strict=False):
            doc = {"headline": f"Update {n + 1}", "body": body, "author": "Bench Reporter"}
            status, answer = http("POST", base + ep.pub_path, doc, ep.pub_headers)
            if status != 201:
                raise RuntimeError(f"seeding answered {status}: {answer[:200]!r}")
        page = f"/blogs/{ep.blog}"
        html = http("GET", base + page)[1]
        script = SCRIPT.search(html)
        preloads = PRELOAD.findall(html)
        if script is None or len(preloads) < 2:
            raise RuntimeError("the page names no script or no module to preload")
        files = {"script": script[1].decode(), "module": preloads[1].decode()}
        cases: list[tuple[str, str, dict[str, str], int]] = [
            ("healthz (the floor)", "/healthz", {}, 200),
            ("page", page, {}, 200),
        ]
        for kind, url in files.items():
            cases.append((f"{kind} (200)", url, {}, 200))
            cases.append((f"{kind} (304)", url, {"If-None-Match": etag_of(ep.port, url)}, 304))
        for name, url, headers, expect in cases:
            results.append(await measure(name, url, headers, expect, target.pid, ep.port, args))
    text = report(results, args, checkout)
    print("\n" + text, flush=True)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps({"checkout": checkout_state(checkout), "cases": results}))
    return 1 if any(r["errors"] or set(r["statuses"]) != {r["status"]} for r in results) else 0


def report(results: list[dict[str, Any]], args: argparse.Namespace, checkout: Path) -> str:
    pace = "flat out" if not args.rate else f"paced at {args.rate:g} requests/s"
    lines = [
        f"## Static files and the page: CPU per request, one process ({checkout_state(checkout)})",
        "",
        f"{machine().rsplit('; liveblog at', 1)[0]}; server on core 0, generator on core(s)"
        f" {args.gen_cpus}, at"
        f" {args.priority}; {args.conns} keep-alive connections, {pace}, {args.seconds:g} s per"
        f" case; server settings: {', '.join(args.server_env) or 'the defaults'}; command:"
        f" `{' '.join(sys.argv)}`",
        "",
        "| case | URL | statuses | requests/s | server CPU | CPU per request | 1 s / CPU per"
        " request | latency p50 / p99 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(r["statuses"].items()))
        if r["errors"]:
            statuses += f"; {r['errors']} errors"
        lines.append(
            f"| {r['case']} | `{r['url']}` | {statuses} | {r['requests_per_s']:,} |"
            f" {r['server_cpu_pct']}% | {r['cpu_per_request_us']} us |"
            f" {r['one_core_req_per_s'] or 0:,} | {r['latency_ms']['p50']} /"
            f" {r['latency_ms']['p99']} ms |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--checkout", type=Path, default=REPO, help="the liveblog checkout to serve")
    p.add_argument("--python", default=PYTHON, help="its interpreter (this venv by default)")
    p.add_argument("--rate", type=float, default=400.0, help="requests/s; 0: flat out")
    p.add_argument("--conns", type=int, default=4, help="keep-alive connections")
    p.add_argument("--seconds", type=float, default=5.0, help="per case")
    p.add_argument("--warmup", type=float, default=1.0, help="per case, before its window")
    p.add_argument("--gen-cpus", default="1", help="the generator's core(s)")
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the server, e.g. LIVEBLOG_ACCESS_LOG=0 (repeatable)",
    )
    p.add_argument("--json", type=Path)
    p.add_argument("--markdown", type=Path)
    p.add_argument("--nice", type=int, default=-10)
    p.add_argument("--realtime", action="store_true", help="SCHED_FIFO (root): shared machines")
    args = p.parse_args()
    if not (0 <= args.rate <= 20_000 and 0 < args.conns <= 64 and 0 < args.seconds <= 120):
        p.error("bounded: up to 20,000 requests/s, 64 connections, 120 s per case")
    if any("=" not in setting for setting in args.server_env):
        p.error("--server-env takes NAME=VALUE")
    exit_on_sigterm()
    args.priority = boost_priority(args.nice, args.realtime)
    import uvloop

    sys.exit(uvloop.run(amain(args)))


if __name__ == "__main__":
    main()

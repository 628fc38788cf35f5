"""liveblog beside the three things a newsroom would pick instead, in one run (issue 23).

    .venv/bin/python bench/peers.py --realtime                      # 5,000 readers, ~6 minutes
    .venv/bin/python bench/peers.py --readers 500 --seconds 5       # a sanity run, ~2 minutes

Every target on Redis (Socket.IO's adapter needs it; liveblog and Nchan use theirs), pinned to
core 0 with its Redis, the generator on core 1, and each set up as its documentation
recommends for broadcast (see ``targets.py`` and ``peer_targets.py``):

- liveblog (SSE and WebSocket), its events compressed once for every reader that asks;
- nginx + Nchan (EventSource and WebSocket; ``nchan_deflate_message_for_websocket on``);
- Socket.IO 4 on Node 20 with ``@socket.io/redis-adapter`` (a room per blog,
  ``io.to(room).emit``), read over Engine.IO's WebSocket transport;
- Pushpin (Debian's package) holding Server-Sent Events for a GRIP origin, published to over
  its HTTP publish endpoint.

For each: a fresh server, N readers that ask for compression as browsers do (``--plain``: they
do not), memory per connection once they are all in, then ``--rate`` events/s for
``--seconds``: server CPU per delivery, publish-to-receive p50/p99, bytes on the wire per
delivered entry. Every target is handed the very event liveblog sends. Prints one markdown
table; ``--json`` keeps every raw step.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from loadgen import (
    LoadConfig,
    QuietBudget,
    Session,
    boost_priority,
    connect_line,
    exit_on_sigterm,
    human,
)
from readers import raise_nofile
from side_by_side import code_state, machine
from targets import make_target

# (target, transport, label)
PEERS = (
    ("liveblog-redis", "sse", "liveblog (Redis)"),
    ("liveblog-redis", "ws", "liveblog (Redis)"),
    ("nchan-redis", "sse", "nginx + Nchan (Redis)"),
    ("nchan-redis", "ws", "nginx + Nchan (Redis)"),
    ("socketio", "sio", "Socket.IO 4 + Redis adapter"),
    ("pushpin", "sse", "Pushpin"),
)
TRANSPORT = {"sse": "SSE", "ws": "WebSocket", "sio": "Engine.IO WebSocket"}


async def measure(target_name: str, transport: str, args: argparse.Namespace) -> dict[str, Any]:
    target = make_target(target_name, "0")
    with target:
        ep = target.start()
        cfg = LoadConfig(
            endpoint=ep,
            transport=transport,
            readers=args.readers,
            procs=args.procs,
            server_pid=target.pid,
            redis_pid=target.redis.pid if target.redis else None,
            label=f"{target_name} {transport}",
            quiet_wait=args.quiet_wait,
            quiet_budget=args.budget,
            compress=not args.plain,
            body_source=args.body_source,
            settle=2.0,
        )
        async with Session(cfg) as session:
            print(connect_line(cfg.label, session.connect), flush=True)
            if session.connected < 0.99 * args.readers:
                why = f"only {session.connected:,} of {args.readers:,} readers could connect"
                print(f"  not measured: {why}", flush=True)
                return {"connect": session.connect, "skipped": why}
            step = await session.step(args.rate, args.seconds)
            print("  " + human(step), flush=True)
            return {"connect": session.connect, "step": step}


def cell(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def table(rows: list[tuple[str, str, str, dict[str, Any]]], args: argparse.Namespace) -> str:
    base: dict[str, float] = {}
    for name, transport, _label, res in rows:
        if name.startswith("liveblog") and "step" in res:
            base[transport] = res["step"]["server_cpu_us_per_delivery"]
    asked = "plain (readers do not ask)" if args.plain else "readers ask for compression"
    lines = [
        f"| server | transport | memory per connection | server CPU | CPU per delivery"
        f" | x liveblog's (SSE; WebSocket for WebSockets) | p50 / p99 | bytes per delivered"
        f" entry ({asked}) | lost |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for _name, transport, label, res in rows:
        c = res.get("connect", {})
        if "step" not in res:
            why = res.get("skipped") or res.get("error", "not run")
            lines.append(f"| {label} | {TRANSPORT[transport]} | {why} |||||||")
            continue
        s = res["step"]
        us = s["server_cpu_us_per_delivery"]
        ref = base.get("sse" if transport == "sse" else "ws")
        vs = f"{us / ref:.2f}x" if us and ref else "n/a"
        coded = f", {s['coded_readers']:,} compressed" if s["coded_readers"] else ""
        lines.append(
            f"| {label} | {TRANSPORT[transport]} | {cell(c.get('rss_per_conn_kib'), '.1f')} KiB"
            f" | {s['server_cpu_pct']:.0f}% | {cell(us, '.2f')} us | {vs}"
            f" | {s['lat_ms']['p50']:.0f} / {s['lat_ms']['p99']:.0f} ms"
            f" | {cell(s['bytes_per_delivery'], ',.0f')} B{coded} | {s['loss']:,} |"
        )
    return "\n".join(lines)


async def amain(args: argparse.Namespace) -> int:
    raise_nofile(4 * args.readers + 4096)
    args.budget = QuietBudget(300.0)
    started = time.monotonic()
    wanted = set(args.targets.split(","))
    rows: list[tuple[str, str, str, dict[str, Any]]] = []
    for name, transport, label in PEERS:
        if name not in wanted:
            continue
        print(f"== {label} {transport}", flush=True)
        try:
            res = await measure(name, transport, args)
        except (RuntimeError, TimeoutError, OSError) as exc:
            print(f"   failed: {exc}", flush=True)
            res = {"error": str(exc).splitlines()[0][:200]}
        rows.append((name, transport, label, res))
    header = (
        f"## liveblog beside Nchan, Socket.IO and Pushpin\n\n{machine()}; every server on core"
        f" 0 with its Redis, the generator on core 1, at {args.priority};"
        f" {args.readers:,} readers x {args.rate:g} events/s for {args.seconds:g} s;"
        f" {time.monotonic() - started:.0f} s; command: `{' '.join(sys.argv)}`\n"
    )
    text = header + "\n" + table(rows, args)
    print("\n" + text, flush=True)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.json:
        raw = [{"target": n, "transport": t, **r} for n, t, _l, r in rows]
        args.json.write_text(json.dumps({"code": code_state(), "rows": raw}, indent=1))
    return 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--readers", type=int, default=5000)
    p.add_argument("--rate", type=float, default=5.0, help="events per second")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--procs", type=int, default=1, help="reader worker processes")
    p.add_argument(
        "--targets",
        default="liveblog-redis,nchan-redis,socketio,pushpin",
        help="comma-separated: liveblog-redis, nchan-redis, socketio, pushpin",
    )
    p.add_argument("--plain", action="store_true", help="readers do not ask for compression")
    p.add_argument("--body-source", type=Path, help="entry bodies from this text's paragraphs")
    p.add_argument("--quiet-wait", type=float, default=10.0, help="wait for a calm machine")
    p.add_argument("--json", type=Path)
    p.add_argument("--markdown", type=Path)
    p.add_argument("--nice", type=int, default=-10)
    p.add_argument("--realtime", action="store_true", help="SCHED_FIFO (root): shared machines")
    args = p.parse_args()
    exit_on_sigterm()
    args.priority = boost_priority(args.nice, args.realtime)
    import uvloop

    sys.exit(uvloop.run(amain(args)))


if __name__ == "__main__":
    main()

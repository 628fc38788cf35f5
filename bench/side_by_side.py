"""The goal rows of issues 3 and 23, nginx + Nchan beside liveblog, in one command.

    .venv/bin/python bench/side_by_side.py --quick     # smaller N, about 6 minutes
    .venv/bin/python bench/side_by_side.py             # the issues' N, about 20-26 minutes

Each target runs pinned to core 0 (Redis, when used, too); the generator runs on core 1.
For every target and transport: one session of ``load`` readers (a 25,000 deliveries/s step for
CPU and editor POST latency, then a search for the highest sustained rate), one session of
``idle`` readers (memory per connection, then p99 at 1 event/s), and one ``compressed`` session
of ``load`` readers that all ask for compression as browsers do (issue 23: a 25,000 deliveries/s
step for CPU and bytes per delivery with every reader compressed, and memory per compressed
reader). Prints the markdown tables with ratios liveblog/Nchan; ``--json`` keeps every raw step.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadgen import (
    NOISY_PCT,
    LoadConfig,
    QuietBudget,
    Session,
    best_pass,
    boost_priority,
    connect_line,
    exit_on_sigterm,
    human,
    search,
)
from readers import raise_nofile
from targets import REPO, liveblog_available, make_target


@dataclass(frozen=True)
class Plan:
    load_readers: int
    idle_readers: int
    cpu_per_s: float  # deliveries/s of the CPU and POST-latency step
    cpu_seconds: float
    step_seconds: float
    factor: float
    max_steps: int
    max_per_s: float
    latency_rate: float
    latency_seconds: float
    search_budget_s: float
    quiet_budget_s: float  # waiting for a calm machine, over the whole run


NOISE_FLAGS = True  # off with --realtime: other processes then only get what the bench leaves
MIN_CONNECTED = 0.99  # a session with fewer readers is not comparable: not measured

FULL = Plan(5000, 10000, 25_000, 20, 6, 1.25, 10, 400_000, 1.0, 20, 150, 300)
QUICK = Plan(1000, 2000, 25_000, 4, 3, 1.6, 5, 400_000, 1.0, 6, 40, 60)


@dataclass(frozen=True)
class Readers:
    """How the readers of a run behave: as browsers (asking for compression) or not, and what
    entries are published."""

    compress: bool = False
    body_source: Path | None = None


# Memory per idle reader before issue 23 (docs/benchmarks.md, 55de289, 10,000 readers): the
# figure compressed readers must not pass.
TODAY_KIB = {"sse": 9.3, "ws": 10.0}


async def measure(
    target_name: str,
    transport: str,
    plan: Plan,
    workers: int,
    procs: int,
    quiet_wait: float,
    budget: QuietBudget,
    readers_as: Readers,
) -> dict[str, Any]:
    """The sessions for one target and transport, a fresh server for each: load, idle, and
    compressed (every reader asks for compression; at the CPU step's pace, 5 events/s for
    5,000 readers, no coalescing, so bytes per entry are those of single events)."""
    out: dict[str, Any] = {"target": target_name, "transport": transport}
    for kind in ("load", "idle", "compressed"):
        target = make_target(target_name, "0", workers)
        with target:
            ep = target.start()
            readers = plan.idle_readers if kind == "idle" else plan.load_readers
            cfg = LoadConfig(
                endpoint=ep,
                transport=transport,
                readers=readers,
                procs=procs,
                server_pid=target.pid,
                redis_pid=target.redis.pid if target.redis else None,
                label=f"{target_name} [{kind}]",
                quiet_wait=quiet_wait,
                quiet_budget=budget,
                compress=readers_as.compress or kind == "compressed",
                body_source=readers_as.body_source,
            )
            async with Session(cfg) as session:
                print(connect_line(cfg.label, session.connect), flush=True)
                if session.connected < MIN_CONNECTED * readers:
                    why = f"only {session.connected:,} of {readers:,} readers could connect"
                    print(f"  not measured: {why}", flush=True)
                    out[kind] = {"connect": session.connect, "skipped": why}
                elif kind == "load":
                    steps = await search(
                        session,
                        plan.cpu_per_s,
                        plan.factor,
                        plan.step_seconds,
                        plan.max_per_s,
                        plan.max_steps,
                        plan.search_budget_s,
                        first_seconds=plan.cpu_seconds,
                        retry_noisy=NOISE_FLAGS,
                    )
                    out["load"] = {"connect": session.connect, "steps": steps}
                elif kind == "compressed":
                    rate = plan.cpu_per_s / session.alive
                    step = await session.step(rate, plan.cpu_seconds)
                    print("  " + human(step), flush=True)
                    out[kind] = {"connect": session.connect, "step": step}
                else:
                    step = await session.step(plan.latency_rate, plan.latency_seconds)
                    print("  " + human(step), flush=True)
                    out["idle"] = {"connect": session.connect, "step": step}
    return out


# --- the table -------------------------------------------------------------------------------


def flags(step: dict[str, Any]) -> list[str]:
    """Why a number may not be the server's own: a failed step, a busy generator, or other
    processes on this shared machine using CPU during the step."""
    out = []
    if not step["pass"]:
        out.append("step failed: " + ", ".join(step["why"]))
    if step.get("gen_bound"):
        out.append("generator near its limit")
    if NOISE_FLAGS and step["foreign_cpu_pct"] >= NOISY_PCT:
        out.append(f"noisy: other processes {step['foreign_cpu_pct']:.0f}% CPU")
    return out


def metrics(res: dict[str, Any] | None) -> dict[str, tuple[float | None, str]]:
    """Each goal metric of one run: (value, note)."""
    if res is None:
        return {}
    out: dict[str, tuple[float | None, str]] = {}
    load, idle = res["load"], res["idle"]
    if "skipped" in load:
        for key in ("sustained", "cpu", "post_p99"):
            out[key] = (None, load["skipped"])
    else:
        out.update(load_metrics(load["steps"]))
    if "skipped" in idle:
        out["p99"] = out["memory"] = (None, idle["skipped"])
    else:
        step = idle["step"]
        out["p99"] = (step["lat_ms"]["p99"], "; ".join(flags(step)))
        out["memory"] = (idle["connect"]["rss_per_conn_kib"], "")
    return out


def load_metrics(steps: list[dict[str, Any]]) -> dict[str, tuple[float | None, str]]:
    """Sustained deliveries/s, CPU and POST p99 from the steps of a load session."""
    counted = [s for s in steps if not s.get("retried")]  # a noisy step measured again
    first = counted[0] if counted else None
    best = best_pass(counted)
    out: dict[str, tuple[float | None, str]] = {}
    if best is None:
        lowest = min((s["offered_per_s"] for s in counted), default=0)
        out["sustained"] = (None, f"< {lowest:,}/s")
    else:
        # the limit is where the next step failed: say if that failure may not be the server's
        after = [s for s in counted if not s["pass"] and s["offered_per_s"] > best["offered_per_s"]]
        why = [f for f in flags(after[0]) if not f.startswith("step failed")] if after else []
        if not after:
            why.append("search stopped before a failure")
        out["sustained"] = (best["deliveries_per_s"], "; ".join(why))
    if first is not None:
        out["cpu"] = (first["server_cpu_pct"], "; ".join(flags(first)))
        out["post_p99"] = (first["publish"]["post_ms"]["p99"], "; ".join(flags(first)))
    return out


ROWS = (
    # key, label, unit, goal (checked by goal_met)
    (
        "sustained",
        "sustained deliveries/s, {load} readers, p99 <= 300 ms, 0 loss",
        "/s",
        ">= Nchan",
    ),
    ("cpu", "server CPU at 25,000 deliveries/s ({load} readers)", "%", "<= Nchan"),
    ("p99", "p99 publish-to-receive, {idle} readers, 1 event/s", "ms", "<= Nchan"),
    ("memory", "memory per idle connection, {idle} readers", "KiB", "<= 12 KiB"),
    ("post_p99", "editor POST p99 during the 25,000/s load", "ms", "< 10 ms"),
)


def goal_met(key: str, lb: float | None, nc: float | None) -> str:
    if lb is None:
        return "no"
    if key == "sustained":
        return "yes" if nc is not None and lb >= nc else "no"
    if key in ("cpu", "p99"):
        return "yes" if nc is not None and lb <= nc else "no"
    if key == "memory":
        return "yes" if lb <= 12 else "no"
    if key == "post_p99":
        return "yes" if lb < 10 else "no"
    return "?"


def fmt(value: float | None, unit: str, note: str = "") -> str:
    if value is None:
        text = "n/a"
    elif unit == "/s":
        text = f"{value:,.0f}"
    else:
        text = f"{value:.0f}%" if unit == "%" else f"{value:,.1f} {unit}"
    return f"{text} ({note})" if note else text


def ratio(lb: float | None, nc: float | None) -> str:
    if lb is None or nc is None or nc == 0:
        return "n/a"
    return f"{lb / nc:.2f}x"


def table(results: dict[tuple[str, str], dict[str, Any]], plan: Plan, storages: list[str]) -> str:
    lines: list[str] = []
    labels = {"load": f"{plan.load_readers:,}", "idle": f"{plan.idle_readers:,}"}
    for storage in storages:
        lines.append(
            f"\n### {storage} storage: nginx + Nchan ({storage}) vs liveblog ({storage})\n"
        )
        lines.append(
            "| metric | transport | nginx + Nchan | liveblog | liveblog/Nchan | goal | met |"
        )
        lines.append("|---|---|---|---|---|---|---|")
        for key, label, unit, goal in ROWS:
            for transport in ("sse", "ws"):
                nc = metrics(results.get((f"nchan-{storage}", transport)))
                lb = metrics(results.get((f"liveblog-{storage}", transport)))
                if not nc and not lb:
                    continue
                nv, nn = nc.get(key, (None, ""))
                lv, ln = lb.get(key, (None, ""))
                met = goal_met(key, lv, nv) if lb else "not run"
                lb_text = fmt(lv, unit, ln) if lb else "not run"
                lines.append(
                    f"| {label.format(**labels)} | {transport.upper()} | {fmt(nv, unit, nn)}"
                    f" | {lb_text} | {ratio(lv, nv)} | {goal} | {met} |"
                )
    lines.append("\n### WebSocket vs SSE (WS/SSE; goal for liveblog: within 10%)\n")
    lines.append("| metric | storage | Nchan WS/SSE | liveblog WS/SSE | met |")
    lines.append("|---|---|---|---|---|")
    for storage in storages:
        for key, label, _unit, _goal in ROWS:
            cells = []
            lb_ratio: float | None = None
            for kind in ("nchan", "liveblog"):
                sse = metrics(results.get((f"{kind}-{storage}", "sse"))).get(key, (None, ""))[0]
                ws = metrics(results.get((f"{kind}-{storage}", "ws"))).get(key, (None, ""))[0]
                cells.append(ratio(ws, sse))
                if kind == "liveblog" and ws is not None and sse:
                    lb_ratio = ws / sse
            if cells == ["n/a", "n/a"]:
                continue
            met = "n/a" if lb_ratio is None else ("yes" if abs(lb_ratio - 1) <= 0.10 else "no")
            lines.append(
                f"| {label.format(**labels)} | {storage} | {cells[0]} | {cells[1]} | {met} |"
            )
    return "\n".join(lines)


def compressed_step(res: dict[str, Any] | None) -> dict[str, Any] | None:
    """The step of the compressed session, when it was measured."""
    if res is None or "compressed" not in res or "skipped" in res["compressed"]:
        return None
    step: dict[str, Any] = res["compressed"]["step"]
    return step


def plain_step(res: dict[str, Any] | None) -> dict[str, Any] | None:
    """The load session's first step: the same pace with readers that do not ask."""
    if res is None or "load" not in res or "skipped" in res["load"]:
        return None
    counted = [s for s in res["load"]["steps"] if not s.get("retried")]
    return counted[0] if counted and not counted[0]["compress_asked"] else None


def coded_note(step: dict[str, Any] | None) -> str:
    """How many readers' streams the server actually compressed, when not all."""
    if step is None or step["coded_readers"] >= step["readers"]:
        return ""
    return f"{step['coded_readers']:,} of {step['readers']:,} streams compressed"


def compression_table(
    results: dict[tuple[str, str], dict[str, Any]], plan: Plan, storages: list[str], source: str
) -> str:
    """Issue 23's goals: bytes, CPU and memory with every reader asking for compression."""
    n = f"{plan.load_readers:,}"
    rate = plan.cpu_per_s / plan.load_readers
    lines = [
        f"\n### Every reader asks for compression ({n} readers x {rate:.3g} events/s;"
        f" bodies: {source})\n",
        "| metric | storage | transport | nginx + Nchan | liveblog, plain | liveblog"
        " | liveblog/Nchan | goal | met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for storage in storages:
        for transport in ("sse", "ws"):
            nres = results.get((f"nchan-{storage}", transport))
            lres = results.get((f"liveblog-{storage}", transport))
            if nres is None and lres is None:
                continue
            nc, lc, lp = compressed_step(nres), compressed_step(lres), plain_step(lres)
            where = f"| {storage} | {transport.upper()} "

            def pick(step: dict[str, Any] | None, key: str) -> float | None:
                return None if step is None else step.get(key)

            # bytes on the wire per delivered entry
            nv, lv = pick(nc, "bytes_per_delivery"), pick(lc, "bytes_per_delivery")
            met = "n/a" if lv is None or nv is None else ("yes" if lv <= 0.6 * nv else "no")
            lines.append(
                f"| bytes on the wire per delivered entry {where}"
                f"| {fmt(nv, 'B', coded_note(nc))} | {fmt(pick(lp, 'bytes_per_delivery'), 'B')}"
                f" | {fmt(lv, 'B', coded_note(lc))} | {ratio(lv, nv)} | <= 0.6x | {met} |"
            )
            # server CPU per delivery
            nv, lv = pick(nc, "server_cpu_us_per_delivery"), pick(lc, "server_cpu_us_per_delivery")
            met = "n/a" if lv is None or nv is None else ("yes" if lv <= 0.8 * nv else "no")
            notes = [("; ".join(flags(st)) if st else "") for st in (nc, lp, lc)]
            cells = [
                fmt(v, "us", note) + (f", {st['server_cpu_pct']:.0f}% CPU" if st else "")
                for v, note, st in zip(
                    (nv, pick(lp, "server_cpu_us_per_delivery"), lv),
                    notes,
                    (nc, lp, lc),
                    strict=True,
                )
            ]
            lines.append(
                f"| server CPU per delivery {where}| {cells[0]} | {cells[1]} | {cells[2]}"
                f" | {ratio(lv, nv)} | <= 0.8x | {met} |"
            )
            # memory per idle compressed reader, against the figure before issue 23
            nm = None if nres is None or nc is None else nres["compressed"]["connect"]
            lm = None if lres is None or lc is None else lres["compressed"]["connect"]
            nv = nm["rss_per_conn_kib"] if nm else None
            lv = lm["rss_per_conn_kib"] if lm else None
            plain_idle = None
            if lres is not None and "idle" in lres and "skipped" not in lres["idle"]:
                plain_idle = lres["idle"]["connect"]["rss_per_conn_kib"]
            today = TODAY_KIB[transport]
            met = "n/a" if lv is None else ("yes" if lv <= today else "no")
            lines.append(
                f"| memory per idle reader {where}| {fmt(nv, 'KiB')}"
                f" | {fmt(plain_idle, 'KiB', f'idle session, {plan.idle_readers:,} readers')}"
                f" | {fmt(lv, 'KiB')} | {ratio(lv, nv)} | <= {today} KiB (before issue 23)"
                f" | {met} |"
            )
    return "\n".join(lines)


def machine() -> str:
    nproc = os.cpu_count()
    model = ""
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    for line in lscpu.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    return f"{nproc} cores ({model}), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {code_state()}"


def code_state() -> str:
    """Which liveblog was measured: the work tree is shared, so say what was in it."""
    git = ["git", "-C", str(REPO)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "liveblog"], capture_output=True, text=True
    )
    changed = len(dirty.stdout.splitlines())
    return f"liveblog at {head.stdout.strip() or '?'}" + (
        f" + {changed} uncommitted file(s) under liveblog/" if changed else ""
    )


async def amain(args: argparse.Namespace) -> int:
    plan = QUICK if args.quick else FULL
    if args.quiet_wait is None:
        args.quiet_wait = 5.0 if args.quick else 30.0
    budget = QuietBudget(plan.quiet_budget_s)
    if args.load_readers:
        plan = dataclasses.replace(plan, load_readers=args.load_readers)
    if args.idle_readers:
        plan = dataclasses.replace(plan, idle_readers=args.idle_readers)
    raise_nofile(4 * max(plan.load_readers, plan.idle_readers) + 4096)
    targets = [t for t in args.targets.split(",") if t]
    notes: list[str] = []
    if any(t.startswith("liveblog") for t in targets) and not liveblog_available():
        notes.append("liveblog: `python -m liveblog serve` is not available yet: not measured.")
        targets = [t for t in targets if not t.startswith("liveblog")]
    transports = [t for t in args.transports.split(",") if t]
    readers_as = Readers(args.compress, args.body_source)
    results: dict[tuple[str, str], dict[str, Any]] = {}
    started = time.monotonic()
    for name in targets:
        for transport in transports:
            print(f"== {name} {transport}", flush=True)
            try:
                results[(name, transport)] = await measure(
                    name,
                    transport,
                    plan,
                    args.workers,
                    args.procs,
                    args.quiet_wait,
                    budget,
                    readers_as,
                )
            except (RuntimeError, TimeoutError, OSError) as exc:
                notes.append(f"{name} {transport}: {exc}")
                print(f"   failed: {exc}", flush=True)
    storages = sorted({t.split("-", 1)[1] for t in targets}, key=["memory", "redis"].index)
    header = (
        f"## liveblog vs nginx + Nchan ({'quick' if args.quick else 'full'} run)\n\n"
        f"{machine()}; server on core 0, generator on core 1, both at {args.priority}; "
        f"{time.monotonic() - started:.0f} s; command: `{' '.join(sys.argv)}`"
    )
    text = header + "\n" + table(results, plan, storages)
    source = readers_as.body_source.name if readers_as.body_source else "built-in sentences"
    text += "\n" + compression_table(results, plan, storages, source)
    if notes:
        text += "\n\nNotes:\n" + "\n".join(f"- {n}" for n in notes)
    print("\n" + text, flush=True)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.json:
        raw = {f"{t} {tr}": r for (t, tr), r in results.items()}
        doc = {"plan": dataclasses.asdict(plan), "notes": notes, "results": raw}
        args.json.write_text(json.dumps(doc, indent=1))
    return 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smaller N and shorter steps")
    p.add_argument("--targets", default="nchan-memory,nchan-redis,liveblog-memory,liveblog-redis")
    p.add_argument("--transports", default="sse,ws")
    p.add_argument("--workers", type=int, default=1, help="liveblog --workers")
    p.add_argument("--procs", type=int, default=1, help="reader worker processes")
    p.add_argument("--load-readers", type=int, help="override the load session's readers")
    p.add_argument("--idle-readers", type=int, help="override the idle session's readers")
    p.add_argument(
        "--quiet-wait",
        type=float,
        help="before each step wait up to this many seconds for other processes to go quiet"
        " (default: 30, --quick: 5)",
    )
    p.add_argument(
        "--compress",
        action="store_true",
        help="the load and idle sessions' readers ask for compression too (the compressed"
        " session always does; the 'liveblog, plain' column then has no figure)",
    )
    p.add_argument(
        "--body-source",
        type=Path,
        help="entry bodies from this text's paragraphs (blank-line separated): use a real"
        " live blog's text for bytes; the built-in sentences repeat and compress too well",
    )
    p.add_argument("--json", type=Path, help="write every raw step here")
    p.add_argument("--markdown", type=Path, help="write the table here")
    p.add_argument(
        "--nice", type=int, default=-10, help="niceness of servers and generator (root only)"
    )
    p.add_argument(
        "--realtime",
        action="store_true",
        help="run servers and generator SCHED_FIFO (root only): see README, shared machines",
    )
    args = p.parse_args()
    exit_on_sigterm()
    args.priority = boost_priority(args.nice, args.realtime)
    global NOISE_FLAGS
    NOISE_FLAGS = "FIFO" not in args.priority
    import uvloop

    sys.exit(uvloop.run(amain(args)))


if __name__ == "__main__":
    main()

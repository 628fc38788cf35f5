"""What an editor waits for a POST: p50/p99 of ``POST /api/blogs/{slug}/entries`` on
``liveblog serve``, one checkout against another (issue 21: the record must not slow it).

Starts the server of ``--tree`` (default: this checkout) with its own Redis (or the memory
engine), pinned to core 0 like every bench target, creates a blog and posts ``--posts``
entries of ~600 bytes of HTML at ``--rate`` per second over ``--conns`` keep-alive connections
(bench/publisher.py), after ``--warmup`` posts that are not counted. No reader is connected:
this is the write path alone (the fan-out figures are loadgen's and side_by_side's).

    # before: the commit the record was merged onto, checked out aside
    git worktree add /tmp/lb-before <commit>
    .venv/bin/python bench/publish_cost.py --tree /tmp/lb-before --json /tmp/before.json
    # after: this checkout
    .venv/bin/python bench/publish_cost.py --json /tmp/after.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from pathlib import Path

from payload import liveblog_entry_builder
from publisher import Publisher
from targets import PYTHON, REPO, LiveblogTarget


class TreeTarget(LiveblogTarget):
    """``liveblog serve`` imported from another checkout (its code, templates and scripts),
    run with this checkout's virtual environment."""

    def __init__(self, tree: Path, engine: str) -> None:
        super().__init__(engine)
        self.tree = tree

    def command(self, port: int) -> list[str]:
        run = (
            f"import runpy, sys; sys.path.insert(0, {str(self.tree)!r}); "
            "sys.argv[0] = 'liveblog'; runpy.run_module('liveblog', run_name='__main__')"
        )
        return [PYTHON, "-c", run, "serve", "--host", "127.0.0.1", "--port", str(port)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(args: argparse.Namespace) -> dict[str, object]:
    target = TreeTarget(args.tree.resolve(), args.engine)
    endpoint = target.start()
    try:
        build = liveblog_entry_builder(600)
        publisher = Publisher(endpoint.host, endpoint.port, endpoint.pub_path,
                              endpoint.pub_headers, build, conns=args.conns)  # fmt: skip
        await publisher.open()
        try:
            await publisher.run(0, args.warmup, args.rate)
            result = await publisher.run(args.warmup, args.posts, args.rate)
        finally:
            await publisher.close()
    finally:
        target.stop()
    ms = result.post_ms
    return {
        "tree": str(args.tree.resolve()),
        "engine": args.engine,
        "posts": len(ms),
        "rate": args.rate,
        "conns": args.conns,
        "statuses": dict(result.statuses),
        "failed": result.failed,
        "p50_ms": round(statistics.median(ms), 3) if ms else None,
        "p90_ms": round(percentile(ms, 0.90), 3) if ms else None,
        "p99_ms": round(percentile(ms, 0.99), 3) if ms else None,
        "max_ms": round(max(ms), 3) if ms else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=REPO, help="the checkout to serve")
    parser.add_argument("--engine", choices=["redis", "memory"], default="redis")
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0, help="posts per second")
    parser.add_argument("--conns", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = asyncio.run(measure(args))
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    ok = sum(n for status, n in report["statuses"].items() if 200 <= int(status) < 300)  # type: ignore[union-attr]
    if ok != report["posts"] or report["failed"]:
        sys.exit("some posts were not answered 2xx: the figures are not valid")


if __name__ == "__main__":
    main()

"""Issue 19's figures: an update's own page, a deep link far back, the oEmbed round trip.

Starts ``liveblog serve`` (``targets.py``: pinned to core 0, 127.0.0.1 only, its origin trusted
through ``LIVEBLOG_ALLOWED_HOSTS`` so pages name their oEmbed URL), posts ``--entries`` entries
to a fresh blog, then measures from one client on core 1, every loop bounded by a count:

- **entry page**: ``GET /blogs/{slug}/entries/{id}`` answered from the page cache (the same
  entry again and again), rendered on a miss (each of many entries once, the blog unchanged),
  and rendered after a change of the blog (an edit before each request, not timed);
- **deep link**: headless Chromium opens ``/blogs/{slug}#entry-<id>`` of the entry with ``--newer``
  entries after it, and the page records when that entry is first on the screen (an
  IntersectionObserver; ``performance.now()`` counts from the navigation's start); the same for
  an entry of the first page, for comparison; each ``--loads`` times in a fresh browser context;
- **oEmbed**: what a consumer does with a pasted URL: fetch the page, find the discovery link,
  fetch ``/oembed`` (both timed, and ``/oembed`` alone).

    .venv/bin/python bench/sharing.py                      # memory engine, 600 entries
    .venv/bin/python bench/sharing.py --engine redis --json /tmp/sharing.json
    .venv/bin/python bench/sharing.py --quick              # a sanity run, not a result

Chromium is Debian's (``/usr/bin/chromium``) driven by Playwright, both from the test setup.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from http.client import HTTPConnection
from typing import Any
from urllib.parse import urlsplit

from targets import HOST, LiveblogTarget, http

CLIENT_CORE = 1
SLUG = "bench-share"
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
# When the target entry is first on the screen, measured in the page from navigation start.
VISIBLE = """
window.__visibleAt = null;
const id = location.hash.slice("#entry-".length);
new MutationObserver((_, watcher) => {
  const node = document.getElementById(`entry-${id}`);
  if (!node) return;
  watcher.disconnect();
  new IntersectionObserver((seen, self) => {
    if (!seen.some((e) => e.isIntersecting)) return;
    window.__visibleAt = performance.now();
    self.disconnect();
  }).observe(node);
}).observe(document, { childList: true, subtree: true });
"""
_OEMBED_LINK = re.compile(r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)"')


def pin(core: int) -> None:
    if hasattr(os, "sched_setaffinity") and core < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {core})


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max_ms": round(ordered[-1], 2),
    }


class Client:
    """Sequential requests over one keep-alive connection."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = HTTPConnection(HOST, port, timeout=30)
        self.auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def get(self, path: str) -> tuple[int, bytes, float]:
        started = time.perf_counter()
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        body = response.read()
        return response.status, body, (time.perf_counter() - started) * 1000

    def send(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.connection.request(method, path, json.dumps(body), self.auth)
        response = self.connection.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        answer: dict[str, Any] = json.loads(data)
        return answer


def post_entries(client: Client, count: int) -> list[str]:
    """``count`` entries a minute apart, the newest now; ids oldest first."""
    start = datetime.now(UTC) - timedelta(minutes=count + 1)
    ids = []
    for n in range(count):
        body = {
            "headline": f"Update {n}: the river at the old bridge",
            "body": "<p>" + "Water levels along the valley keep rising this evening. " * 4 + "</p>",
            "author": "Valley desk",
            "published_at": (start + timedelta(minutes=n)).isoformat(),
        }
        ids.append(client.send("POST", f"/api/blogs/{SLUG}/entries", body)["id"])
    return ids


def entry_pages(client: Client, ids: list[str], requests: int) -> dict[str, Any]:
    page = f"/blogs/{SLUG}/entries/{{}}"
    status, body, _ = client.get(page.format(ids[-1]))
    assert status == 200 and b"og:title" in body, status
    hits = [client.get(page.format(ids[-1]))[2] for _ in range(requests)]
    misses = []
    for entry_id in ids[: min(requests, len(ids) - 1)]:  # each its own slot: one render each
        status, _, ms = client.get(page.format(entry_id))
        assert status == 200
        misses.append(ms)
    changed = []
    for n in range(min(requests, 100)):
        client.send("PATCH", f"/api/blogs/{SLUG}/entries/{ids[0]}", {"headline": f"Edit {n}"})
        changed.append(client.get(page.format(ids[-1]))[2])
    return {
        "cached": summary(hits),
        "rendered": summary(misses),
        "rendered_after_a_change": summary(changed),
        "bytes": len(body),
    }


def oembed(client: Client, ids: list[str], runs: int) -> dict[str, Any]:
    round_trips, alone = [], []
    for n in range(runs):
        path = f"/blogs/{SLUG}" if n % 2 else f"/blogs/{SLUG}/entries/{ids[-1 - n % 50]}"
        started = time.perf_counter()
        status, body, _ = client.get(path)
        found = _OEMBED_LINK.search(body.decode())
        assert status == 200 and found, "no discovery link: is the origin trusted?"
        link = urlsplit(found[1].replace("&amp;", "&"))
        status, answer, ms = client.get(f"{link.path}?{link.query}")
        assert status == 200 and json.loads(answer)["type"] == "rich", answer[:200]
        round_trips.append((time.perf_counter() - started) * 1000)
        alone.append(ms)
    return {"discover_and_fetch": summary(round_trips), "oembed_request": summary(alone)}


async def deep_links(base: str, far: str, near: str, loads: int) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    results: dict[str, list[float]] = {"far_back": [], "on_the_first_page": []}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            for _ in range(loads):
                for name, entry_id in (("far_back", far), ("on_the_first_page", near)):
                    context = await browser.new_context(viewport={"width": 360, "height": 740})
                    page = await context.new_page()
                    await page.add_init_script(VISIBLE)
                    await page.goto(f"{base}/blogs/{SLUG}#entry-{entry_id}")
                    await page.wait_for_function(
                        "() => window.__visibleAt !== null", timeout=30_000
                    )
                    results[name].append(await page.evaluate("window.__visibleAt"))
                    await context.close()
        finally:
            await browser.close()
    return {name: summary(samples) for name, samples in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["memory", "redis"], default="memory")
    parser.add_argument("--entries", type=int, default=600)
    parser.add_argument("--newer", type=int, default=500, help="entries after the linked one")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="small counts: a sanity run")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    if args.quick:
        args.entries, args.newer, args.requests, args.loads = 80, 50, 40, 2
    assert args.entries > args.newer, "--entries must exceed --newer"
    pin(CLIENT_CORE)
    target = LiveblogTarget(args.engine, extra_env={"LIVEBLOG_ALLOWED_HOSTS": HOST})
    endpoint = target.start()
    base = f"http://{HOST}:{endpoint.port}"
    try:
        token = target.token
        status, _ = http("POST", f"{base}/api/blogs", {"slug": SLUG, "title": "River watch"},
                         {"Authorization": f"Bearer {token}"})  # fmt: skip
        assert status == 201, status
        client = Client(endpoint.port, token)
        ids = post_entries(client, args.entries)
        far, near = ids[-1 - args.newer], ids[-3]
        figures = {
            "engine": args.engine,
            "entries": args.entries,
            "entry_page": entry_pages(client, ids, args.requests),
            "oembed": oembed(client, ids, args.requests),
            "deep_link_time_to_visible": asyncio.run(deep_links(base, far, near, args.loads)),
            "newer_than_the_linked_entry": args.newer,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
        }
    finally:
        target.stop()
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as file:
            file.write(text + "\n")


if __name__ == "__main__":
    main()

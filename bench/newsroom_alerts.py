"""Newsroom latencies as people feel them, in headless Chromium: a contribution posted on one
server process to the editor's desktop notification on another; a colleague opening an entry
(presence) to the mark on the other console. Two ``liveblog serve`` processes share a private
Redis, as a desk and a reporter's phone on two servers behind a balancer would.

    .venv/bin/python bench/newsroom_alerts.py --rounds 30

Needs the test extras (Playwright) and Debian's chromium. Both clocks are this machine's: the
page stamps what it shows with ``Date.now()``, the script what it does with ``time.time()``.
Everything runs on 127.0.0.1 and ends after ``--rounds``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from playwright.async_api import Page, async_playwright
from targets import HOST, PYTHON, Process, RedisServer, free_port, http

ADMIN = "bench-newsroom-admin-token-0123456789abcdef"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
# In the editor's page: every desktop notification made, and when a colleague's mark shows.
WATCH = """
window.__notes = [];
window.__marks = [];
const Real = window.Notification;
window.Notification = class extends Real {
  constructor(title, options = {}) { window.__notes.push(Date.now()); super(title, options); }
};
new MutationObserver(() => {
  const shown = document.querySelector("#entry-list [data-role=editing-mark]") !== null;
  if (shown !== (window.__markShown || false)) {
    window.__markShown = shown;
    window.__marks.push({shown, at: Date.now()});
  }
}).observe(document, {subtree: true, childList: true});
"""


def serve(redis_url: str) -> tuple[Process, str]:
    port = free_port()
    env = {**os.environ, "LIVEBLOG_REDIS_URL": redis_url, "LIVEBLOG_ADMIN_TOKEN": ADMIN,
           "LIVEBLOG_DEMO": "0", "LIVEBLOG_RATE_LIMIT_PER_SECOND": "10000",
           "LIVEBLOG_RATE_LIMIT_BURST": "10000"}  # fmt: skip
    process = Process(f"liveblog-{port}", [PYTHON, "-m", "liveblog", "serve", "--port", str(port)],
                      env)  # fmt: skip
    process.start()
    base = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if http("GET", base + "/readyz")[0] == 200:
                return process, base
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(process.log_tail())
        time.sleep(0.1)


def api(base: str, method: str, path: str, token: str, body: object = None) -> Any:
    status, data = http(method, base + path, body, {"Authorization": f"Bearer {token}"})
    assert status < 300, (status, data)
    return json.loads(data) if data else None


async def console(browser: Any, base: str, token: str, watch: bool) -> Page:
    context = await browser.new_context(viewport={"width": 1440, "height": 1000})
    if watch:
        await context.grant_permissions(["notifications"])
        await context.add_init_script(WATCH)
    signed_in = f"localStorage.setItem('liveblog.token', {json.dumps(token)});"
    alerts_on = "localStorage.setItem('liveblog.alerts', JSON.stringify({desktop: true}));"
    await context.add_init_script(signed_in + alerts_on)
    page = await context.new_page()
    await page.goto(f"{base}/editor?blog=desk")
    await page.wait_for_selector("#workflow[data-stream=live]")
    return page


def summary(name: str, values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    return {
        "what": name, "rounds": len(values), "p50_ms": round(statistics.median(ordered), 1),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 1), "max_ms": round(ordered[-1], 1),
    }  # fmt: skip


async def run(rounds: int) -> list[dict[str, Any]]:
    redis = RedisServer()
    redis.start()
    first, first_url = serve(redis.url)
    second, second_url = serve(redis.url)
    try:
        api(first_url, "POST", "/api/blogs", ADMIN, {"slug": "desk", "title": "Desk"})
        tokens = {}
        for name, role in (("Ed", "editor"), ("Ana", "editor"), ("Asha", "contributor")):
            made = api(first_url, "POST", "/api/tokens", ADMIN,
                       {"name": name, "role": role, "blogs": ["desk"]})  # fmt: skip
            tokens[name] = made["token"]
        entry = api(first_url, "POST", "/api/blogs/desk/entries", ADMIN,
                    {"headline": "Shared", "body": "<p>x</p>"})  # fmt: skip
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            ed = await console(browser, first_url, tokens["Ed"], watch=True)
            ana = await console(browser, second_url, tokens["Ana"], watch=False)

            alerts = []
            for n in range(rounds):
                sent = time.time() * 1000
                await asyncio.to_thread(api, second_url, "POST", "/api/blogs/desk/entries",
                                        tokens["Asha"], {"headline": f"From the field {n}",
                                                         "body": "<p>x</p>"})  # fmt: skip
                await ed.wait_for_function(f"() => window.__notes.length > {n}", timeout=20_000)
                alerts.append((await ed.evaluate("window.__notes"))[n] - sent)

            presence = []
            card = ana.locator(f'#entry-list > .nr-entry[data-id="{entry["id"]}"]')
            for n in range(rounds):
                started = time.time() * 1000
                await card.locator("[data-action=edit]").click()
                await ed.wait_for_function(f"() => window.__marks.length > {2 * n}",
                                           timeout=20_000)  # fmt: skip
                presence.append((await ed.evaluate("window.__marks"))[2 * n]["at"] - started)
                await card.locator("[data-action=cancel]").click()
                await ed.wait_for_function(f"() => window.__marks.length > {2 * n + 1}",
                                           timeout=20_000)  # fmt: skip
            await browser.close()
        return [
            summary("contribution posted (process 2) -> editor's notification (process 1)", alerts),
            summary("colleague opens an entry (process 2) -> mark on the other console", presence),
        ]
    finally:
        for process in (first, second):
            process.stop()
        redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    for row in asyncio.run(run(args.rounds)):
        print(json.dumps(row))


if __name__ == "__main__":
    main()

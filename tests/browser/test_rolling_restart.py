"""A rolling restart behind nginx loses nothing, and readers sent away come back spread out.

Three ``liveblog serve`` processes behind the proxy of docker-compose (deploy/nginx.conf). Each
is stopped (SIGTERM, as an orchestrator does) and started again in turn, while an editor
publishes once a second through the proxy: a Chromium reader page and SSE and WebSocket readers
end with every entry once, in order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.kit import Newsroom, Pages, entry_ids
from tests.support.nginx import Nginx, proxied
from tests.support.resuming import ResumingReader, RetryingPublisher, created_ids
from tests.support.servers import ServerProcess

# Counts the EventSources a page opens: each one after the first is a reconnect.
COUNT_SOURCES = """
const Original = window.EventSource;
window.sourcesOpened = 0;
window.EventSource = class extends Original {
  constructor(...args) { super(...args); window.sourcesOpened += 1; }
};
"""


@pytest.fixture
def processes(server_process: Callable[..., ServerProcess]) -> list[ServerProcess]:
    with ThreadPoolExecutor(3) as pool:  # they start side by side
        return list(pool.map(lambda _: server_process(), range(3)))


@pytest.fixture
def proxy(processes: list[ServerProcess], tmp_path: Path) -> Iterator[Nginx]:
    with proxied(tmp_path / "nginx", processes) as nginx:
        yield nginx


async def test_rolling_restart_behind_the_proxy_loses_nothing(
    processes: list[ServerProcess], proxy: Nginx, pages: Pages
) -> None:
    newsroom = Newsroom(proxy.url)
    publisher = RetryingPublisher(proxy.url, "rolling")
    readers: list[ResumingReader] = []
    try:
        await newsroom.blog("rolling", "Rolling restart")
        first = await publisher.post()
        page, _ = await pages.open(
            f"{proxy.url}/blogs/rolling",
            allow_network_errors=True,
            before_load=lambda page: page.add_init_script(COUNT_SOURCES),
        )
        # From the position the blog is at, as a page would: a reader sent away before its
        # first event still resumes from there.
        since = (await newsroom.http.get("/api/blogs/rolling")).json()["last_event_id"]
        for transport in ("sse", "sse", "ws", "ws"):
            reader = ResumingReader(proxy.url, "rolling", transport, since)
            readers.append(await reader.start())

        async def publish_every_second(stop: asyncio.Event) -> None:
            while not stop.is_set():
                await publisher.post()
                await asyncio.sleep(1)

        stop = asyncio.Event()
        publishing = asyncio.create_task(publish_every_second(stop))
        for process in processes:
            await asyncio.to_thread(process.stop)
            await asyncio.to_thread(process.start)  # the same port; back when /readyz is 200
            await asyncio.sleep(1)
        stop.set()
        await publishing
        # One process was down at a time: nginx always had another to send each request to.
        assert "no live upstreams" not in proxy.error_log.read_text()
        last = await publisher.post()  # after the last restart
        published = [entry["id"] for entry in publisher.published]
        assert published[0] == first["id"] and published[-1] == last["id"]

        for reader in readers:
            events = await reader.wait_for(len(published) - 1)  # `first` came before them
            assert created_ids(events) == published[1:], reader.transport
            # Every process restarted, so every reader was sent away and came back.
            assert reader.connections >= 2, reader.transport

        top = page.locator("#timeline > .entry").first
        await expect(top).to_have_attribute("id", f"entry-{last['id']}", timeout=15_000)
        assert await entry_ids(page) == published[::-1]
        assert await page.evaluate("window.sourcesOpened") >= 2
        await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    finally:
        for reader in readers:
            await reader.stop()
        await publisher.close()
        await newsroom.close()


# 20 browser clients of each kind, the real modules of the reader page and the newsroom, each
# noting when it connects. Five per page: Chromium opens at most six HTTP/1.1 connections per
# host in a browser context, and each EventSource holds one.
CLIENTS = """
async ([count, slug]) => {
  const { LiveStream } = await import("/static/reader/stream.js");
  const { MultiBlogSocket } = await import("/static/newsroom/socket.js");
  const timed = (client) => {
    client.connects = [];
    const connect = client.connect.bind(client);
    client.connect = () => { client.connects.push(Date.now()); connect(); };
    return client;
  };
  window.clients = [];
  for (let i = 0; i < count; i++) {
    const sse = timed(new LiveStream(`/blogs/${slug}/events`, null, () => {},
                                     (state) => { sse.state = state; }));
    sse.kind = "sse";
    const ws = timed(new MultiBlogSocket(() => {}, (state) => { ws.state = state; }));
    ws.kind = "ws";
    ws.subscribe(slug);
    window.clients.push(sse, ws);
    sse.start();
    ws.start();
  }
}
"""
ALL_LIVE = "() => window.clients.every((client) => client.state === 'live')"
CONNECTS = "() => window.clients.map((client) => [client.kind, client.connects])"


async def test_readers_sent_away_by_a_restart_come_back_spread_out(
    server_process: Callable[..., ServerProcess], browser: Browser
) -> None:
    server = server_process()
    newsroom = Newsroom(server.url)
    contexts = [await browser.new_context() for _ in range(4)]
    try:
        await newsroom.blog("spread")
        browser_pages: list[Page] = []
        for context in contexts:
            page = await context.new_page()
            await page.goto(f"{server.url}/")
            await page.evaluate(CLIENTS, [5, "spread"])
            browser_pages.append(page)
        for page in browser_pages:
            await page.wait_for_function(ALL_LIVE)

        stopped_at = time.time() * 1000
        await asyncio.to_thread(server.stop)  # every stream ends at the same moment
        await asyncio.to_thread(server.start)
        for page in browser_pages:
            await page.wait_for_function(ALL_LIVE, timeout=30_000)

        # Each client's first attempt after the stop: the moments it came back at.
        back: dict[str, list[float]] = {"sse": [], "ws": []}
        for page in browser_pages:
            for kind, connects in await page.evaluate(CONNECTS):
                back[kind].append(min(t for t in connects if t > stopped_at))
        for kind, moments in back.items():
            assert len(moments) == 20, kind
            # Spread over the 2 s window, not in one burst (all within 600 ms would be a
            # one-in-a-billion draw for 20 clients).
            assert max(moments) - min(moments) > 600, (kind, sorted(moments))
    finally:
        for context in contexts:
            await context.close()
        await newsroom.close()

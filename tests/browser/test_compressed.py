"""What a phone downloads: the reader page compressed, its modules asked for at once, its live
updates over compressed streams (Chromium's own EventSource and WebSocket decoding them), and a
first view within its byte budget."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from playwright.async_api import Page, Request, Response, Route, expect

from liveblog.pages.assets import STATIC_DIR
from tests.browser.kit import MOBILE, Newsroom, Pages

# A first view of the reader page on a phone, headers included, live stream open.
FIRST_VIEW_BUDGET = 25_000
# Reporting of our own, a typical entry's length: two or three short paragraphs.
PARAGRAPHS = (
    "Crews have reopened the coast road south of the harbour after clearing fallen trees; "
    "police ask drivers to keep to the speed limit while repairs go on.",
    "The weather service has lowered its warning to amber for the afternoon, but expects "
    "another band of heavy rain to arrive after dark.",
    "Schools in the district will open two hours late tomorrow, the education office says, "
    "so that buses can check every route first.",
    "A reader in the old town sent us a picture of the river, now a metre below its peak of "
    "this morning; volunteers are filling sandbags at the station.",
)


async def _blog(newsroom: Newsroom, slug: str, entries: int) -> None:
    await newsroom.blog(slug, "Storm on the coast", description="Roads, rail and schools, live.")
    for n in range(entries):
        paragraphs = [PARAGRAPHS[(n + k) % len(PARAGRAPHS)] for k in range(2 + n % 2)]
        await newsroom.post(
            slug,
            headline=f"Update {n}: the latest on the roads",
            body="".join(f"<p>{p}</p>" for p in paragraphs),
            author="Ana Lima",
            labels=["key"] if n % 7 == 0 else [],
        )


async def test_live_updates_arrive_over_compressed_streams(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await _blog(newsroom, "coast", 3)
    streams: list[Response] = []

    async def watch(page: Page) -> None:
        page.on("response", lambda r: "/events" in r.url and streams.append(r))

    page, _ = await pages.open(f"{server}/blogs/coast", viewport=MOBILE, before_load=watch)
    (stream,) = streams
    assert stream.headers["content-encoding"] == "gzip"  # the browser asked, the server sent
    entry = await newsroom.post("coast", headline="Ferry services resume", body="<p>At six.</p>")
    top = page.locator("#timeline > .entry").first
    await expect(top).to_have_attribute("id", f"entry-{entry['id']}")
    await expect(top.locator(".entry__headline")).to_have_text("Ferry services resume")

    # Chromium's own WebSocket: it offers permessage-deflate, gets the shared kind, and
    # inflates the server's frames.
    socket = await page.evaluate_handle(
        """() => new Promise((resolve, reject) => {
            const ws = new WebSocket(`ws://${location.host}/blogs/coast/ws`);
            ws.messages = [];
            ws.onmessage = (m) => ws.messages.push(JSON.parse(m.data));
            ws.onopen = () => resolve(ws);
            ws.onerror = reject;
        })"""
    )
    extensions = await socket.evaluate("ws => ws.extensions")
    assert "permessage-deflate" in extensions and "server_no_context_takeover" in extensions
    posted = await newsroom.post(
        "coast", headline="Bridge open again", body="<p>" + "Traffic. " * 80 + "</p>"
    )
    await page.wait_for_function("ws => ws.messages.length === 1", arg=socket)
    message = await socket.evaluate("ws => ws.messages[0]")
    assert message["data"] == posted
    await socket.evaluate("ws => ws.close()")


async def test_the_modules_are_asked_for_at_once_not_one_level_after_another(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    """The page's script is held back until every module it imports has been asked for: with
    the modules preloaded from the page, they all are; with imports found one file after
    another, none would be."""
    await _blog(newsroom, "modules", 1)
    modules = {f"/static/reader/{p.name}" for p in (STATIC_DIR / "reader").glob("*.js")}
    asked: list[str] = []
    all_asked = asyncio.Event()

    def on_request(request: Request) -> None:
        path = request.url.split("//", 1)[1].partition("/")[2].partition("?")[0]
        asked.append("/" + path)
        if modules <= set(asked):
            all_asked.set()

    async def hold_script(route: Route) -> None:
        async with asyncio.timeout(10):
            await all_asked.wait()
        await route.continue_()

    async def watch(page: Page) -> None:
        page.on("request", on_request)
        await page.route("**/static/reader.js?*", hold_script)

    page, _ = await pages.open(f"{server}/blogs/modules", viewport=MOBILE, before_load=watch)
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    for module in modules:
        assert asked.count(module) == 1, module  # each once: the preload is the import


async def test_a_first_view_of_the_reader_page_fits_the_budget(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    """Everything a phone downloads for a first view of a page of 20 entries (the page, its
    script and modules, stylesheet, icon, and the live stream's start), headers included, as
    Chromium counts it on the wire."""
    await _blog(newsroom, "budget", 20)
    received: dict[str, int] = defaultdict(int)
    finished: dict[str, int] = {}
    urls: dict[str, str] = {}

    async def measure(page: Page) -> None:
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("Network.enable")
        cdp.on(
            "Network.requestWillBeSent",
            lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]),
        )
        cdp.on(
            "Network.responseReceived",
            lambda e: _add(received, e["requestId"], e["response"]["encodedDataLength"]),
        )
        cdp.on(
            "Network.dataReceived", lambda e: _add(received, e["requestId"], e["encodedDataLength"])
        )
        cdp.on(
            "Network.loadingFinished",
            lambda e: finished.__setitem__(e["requestId"], e["encodedDataLength"]),
        )

    page, _ = await pages.open(f"{server}/blogs/budget", viewport=MOBILE, before_load=measure)
    await page.wait_for_load_state("networkidle")
    sizes = {urls[r]: finished.get(r, received[r]) for r in urls}
    total = sum(sizes.values())
    report = "\n".join(
        f"{size:>7} {url}" for url, size in sorted(sizes.items(), key=lambda i: -i[1])
    )
    print(f"first view: {total} bytes\n{report}")
    assert any("/events" in url for url in sizes), report  # the live stream is in the view
    assert total < FIRST_VIEW_BUDGET, report


def _add(sizes: dict[str, int], request_id: str, size: Any) -> None:
    sizes[request_id] += int(size or 0)

"""What a phone downloads: the reader page compressed, its modules asked for at once, its live
updates over compressed streams (Chromium's own EventSource and WebSocket decoding them), and a
first view within its byte budget."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest
from playwright.async_api import Page, Request, Response, Route, expect

from liveblog.pages.assets import STATIC_DIR
from tests.browser.kit import MOBILE, TIMEZONE, Newsroom, Pages

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


# The reader's modules: those every first view runs, imported by the page's script and so
# preloaded; those only some readers need, imported when they do (never preloaded).
FIRST_VIEW = {"i18n.js", "media.js", "render.js", "stream.js", "times.js"}
ON_DEMAND = {
    "zone.js",  # a reader whose own zone is another than the blog's
    "share.js",  # a Share link used
    "deep-links.js",  # a link to #entry-<id>, a key event, a gap's button
    "catch-up.js",  # a browser that remembers an earlier visit
    "frame.js",  # a page in another site's frame
    "reload.js",  # a `reset` on the stream
}


async def test_the_modules_are_asked_for_at_once_not_one_level_after_another(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    """The page's script is held back until every module it imports has been asked for: with
    the modules preloaded from the page, they all are; with imports found one file after
    another, none would be. What only some readers use is not asked for until it is used."""
    assert {p.name for p in (STATIC_DIR / "reader").glob("*.js")} == FIRST_VIEW | ON_DEMAND
    await _blog(newsroom, "modules", 1)
    modules = {f"/static/reader/{name}" for name in FIRST_VIEW}
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
    # The reader is abroad (kit.TIMEZONE): the zone switch comes, and nothing else.
    await expect(page.locator(".lb-zone__switch")).to_be_visible()
    assert asked.count("/static/reader/zone.js") == 1
    for name in ON_DEMAND - {"zone.js"}:
        assert f"/static/reader/{name}" not in asked, name
    # Sharing comes with the first Share used, and works.
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    await page.locator("#timeline .entry__share").click()
    await expect(page.locator("#announcer")).to_have_text("Link copied")
    assert asked.count("/static/reader/share.js") == 1


async def test_a_reader_abroad_goes_live_once_the_zone_switch_is_drawn(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    """The zone switch (loaded on demand) can move the header: the stream opens after it is
    drawn, so nothing moves under a reader once the page is live."""
    await _blog(newsroom, "abroad", 1)
    asked: list[str] = []
    zone_asked, release = asyncio.Event(), asyncio.Event()

    async def hold_zone(route: Route) -> None:
        zone_asked.set()
        async with asyncio.timeout(10):
            await release.wait()
        await route.continue_()

    async def watch(page: Page) -> None:
        page.on("request", lambda request: asked.append(request.url))
        await page.route("**/static/reader/zone.js?*", hold_zone)  # as reader.js names it

    page, _ = await pages.open(
        f"{server}/blogs/abroad", viewport=MOBILE, before_load=watch, wait_live=False
    )
    async with asyncio.timeout(10):
        await zone_asked.wait()
    await page.wait_for_timeout(300)  # time the stream would have had to open
    assert not [url for url in asked if "/events" in url]
    await expect(page.locator(".lb-zone__switch")).to_have_count(0)
    release.set()
    await expect(page.locator(".lb-zone__switch")).to_be_visible()
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    assert [url for url in asked if "/events" in url]


async def test_a_returning_reader_asks_for_none_of_the_files(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    """Every file of the page, its modules and those it loads on demand included, comes from
    a URL with its version, kept for good: a reader coming back asks the server for the page
    and its stream, and for no file (not even to revalidate one)."""
    await _blog(newsroom, "returning", 3)
    # A context of its own: Playwright turns the browser's cache off where it routes requests.
    context = await pages.browser.new_context(viewport=MOBILE, timezone_id=TIMEZONE)
    try:
        first = await context.new_page()
        await first.goto(f"{server}/blogs/returning")
        await expect(first.locator("#live-status")).to_have_attribute("data-state", "live")
        await expect(first.locator(".lb-zone__switch")).to_be_visible()  # zone.js, on demand
        await first.close()

        again = await context.new_page()
        cdp = await context.new_cdp_session(again)
        await cdp.send("Network.enable")
        asked: dict[str, str] = {}  # what went to the server: request id -> URL
        cdp.on(
            "Network.responseReceived",
            lambda e: (
                e["response"].get("fromDiskCache")
                or asked.__setitem__(e["requestId"], e["response"]["url"])
            ),
        )
        cdp.on("Network.requestServedFromCache", lambda e: asked.pop(e["requestId"], None))
        await again.goto(f"{server}/blogs/returning")
        await expect(again.locator("#live-status")).to_have_attribute("data-state", "live")
        await expect(again.locator(".lb-zone__switch")).to_be_visible()
        await again.wait_for_load_state("networkidle")
        files = sorted(url for url in asked.values() if "/static/" in url)
        assert not files, f"asked the server again for: {files}"
        assert any(url.endswith("/blogs/returning") for url in asked.values())  # the page
    finally:
        await context.close()


@pytest.mark.parametrize("coding", ["br", "gzip"])
async def test_a_first_view_of_the_reader_page_fits_the_budget(
    server: str, newsroom: Newsroom, pages: Pages, coding: str
) -> None:
    """Everything a phone downloads for a first view of a page of 20 entries (the page, its
    script and modules, stylesheet, icon, and the live stream's start), headers included, as
    Chromium counts it on the wire: in Brotli, which Chromium asks for, and in gzip, for a
    browser or a proxy without Brotli. The reader is abroad (kit.TIMEZONE), so the zone switch
    is part of the view."""
    await _blog(newsroom, "budget", 20)
    received: dict[str, int] = defaultdict(int)
    finished: dict[str, int] = {}
    urls: dict[str, str] = {}
    codings: dict[str, str] = {}

    def on_response(event: dict[str, Any]) -> None:
        _add(received, event["requestId"], event["response"]["encodedDataLength"])
        headers = {k.lower(): v for k, v in event["response"]["headers"].items()}
        codings[event["requestId"]] = headers.get("content-encoding", "")

    async def measure(page: Page) -> None:
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("Network.enable")
        if coding == "gzip":
            headers = {"Accept-Encoding": "gzip, deflate"}
            await cdp.send("Network.setExtraHTTPHeaders", {"headers": headers})
        cdp.on(
            "Network.requestWillBeSent",
            lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]),
        )
        cdp.on("Network.responseReceived", on_response)
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
        f"{size:>7} {codings.get(r, ''):>4} {urls[r]}"
        for r, size in sorted(((r, sizes[urls[r]]) for r in urls), key=lambda i: -i[1])
    )
    print(f"first view ({coding}): {total} bytes\n{report}")
    assert any("/events" in url for url in sizes), report  # the live stream is in the view
    # Each file came in the coding measured (the live stream is gzip for every reader).
    for request, url in urls.items():
        if "/events" not in url:
            assert codings[request] == coding, report
    assert total < FIRST_VIEW_BUDGET, report


def _add(sizes: dict[str, int], request_id: str, size: Any) -> None:
    sizes[request_id] += int(size or 0)

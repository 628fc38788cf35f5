"""Helpers for the reader's browser tests: a page that watches itself, pictures, a blog to post to.

Every page opened through ``Pages`` records console errors, uncaught exceptions and dialogs; the
fixture fails the test if any appeared. Pictures from ``https://`` are answered locally (the
tests have no network), so an entry with a photo logs no failed load.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, Route, expect

from tests.support.clients import Editor

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 390, "height": 844}
# The narrowest phone the newsroom is built for, held as a phone: touch, a mobile viewport.
PHONE = {"width": 360, "height": 740}
# Not the machine's zone, so a test sees the page convert times for the reader.
TIMEZONE = "Asia/Kolkata"


def photo_svg(seed: str) -> bytes:
    """A calm landscape, different per URL: sky, sun, two hills, water."""
    digest = hashlib.sha256(seed.encode()).digest()
    hue = digest[0] * 360 // 256
    sun_x = 160 + digest[1] % 480
    sky, glow = f"hsl({hue} 55% 62%)", f"hsl({(hue + 40) % 360} 70% 85%)"
    sun = f"hsl({(hue + 50) % 360} 90% 92%)"
    hills = [f"hsl({(hue + shift) % 360} {s}% {lum}%)" for shift, s, lum in ((180, 25, 38),
             (190, 30, 28), (200, 45, 30))]  # fmt: skip
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 800 450" width="800" height="450">'
        '<defs><linearGradient id="s" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="{sky}"/><stop offset="1" stop-color="{glow}"/>'
        '</linearGradient></defs><rect width="800" height="450" fill="url(#s)"/>'
        f'<circle cx="{sun_x}" cy="150" r="48" fill="{sun}"/>'
        f'<path d="M0 300 Q200 200 400 290 T800 260 V450 H0Z" fill="{hills[0]}"/>'
        f'<path d="M0 340 Q250 280 520 335 T800 320 V450 H0Z" fill="{hills[1]}"/>'
        f'<rect y="380" width="800" height="70" fill="{hills[2]}" opacity=".85"/></svg>'
    ).encode()


async def _pictures_only(route: Route) -> None:
    request = route.request
    if request.resource_type == "image" and "/static/" not in request.url:
        body = photo_svg(request.url)
        await route.fulfill(status=200, content_type="image/svg+xml", body=body)
    else:
        await route.continue_()


def _not_a_stream(url: str) -> bool:
    # Event streams go straight to the network: nothing to answer there, and no buffering.
    return "/events" not in url


@dataclass
class Watch:
    """What a page reported that a reader should never see."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    # A test that takes the server down expects failed connections (and nothing else).
    allow_network_errors: bool = False

    def problems(self) -> list[str]:
        errors = self.errors
        if self.allow_network_errors:
            errors = [e for e in errors if not _NETWORK_ERROR.search(e)]
        return [*errors, *(f"dialog: {d}" for d in self.dialogs)]


_NETWORK_ERROR = re.compile(r"net::ERR_|Failed to load resource|EventSource")


class Pages:
    """Opens reader pages in fresh browser contexts and checks them when the test ends."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.watches: list[Watch] = []

    async def open(
        self,
        url: str,
        *,
        viewport: dict[str, int] = DESKTOP,
        color_scheme: str = "light",
        reduced_motion: str = "no-preference",
        javascript: bool = True,
        wait_live: bool = True,
        allow_network_errors: bool = False,
        before_load: Callable[[Page], Awaitable[None]] | None = None,
        touch: bool = False,
        locale: str = "en-GB",
    ) -> tuple[Page, Watch]:
        """``touch``: a phone (a mobile viewport that zooms out if the page is too wide, and
        fingers: ``pointer: coarse``)."""
        context = await self.browser.new_context(
            viewport=viewport,  # type: ignore[arg-type]
            color_scheme=color_scheme,  # type: ignore[arg-type]
            reduced_motion=reduced_motion,  # type: ignore[arg-type]
            java_script_enabled=javascript,
            timezone_id=TIMEZONE,
            locale=locale,
            is_mobile=touch,
            has_touch=touch,
        )
        self.contexts.append(context)
        await context.route(_not_a_stream, _pictures_only)
        watch = Watch(allow_network_errors=allow_network_errors)
        self.watches.append(watch)
        page = await context.new_page()
        page.on(
            "console",
            lambda message: message.type == "error" and watch.errors.append(message.text),
        )
        page.on("pageerror", lambda error: watch.errors.append(f"uncaught: {error}"))

        async def on_dialog(dialog: Any) -> None:
            watch.dialogs.append(f"{dialog.type}: {dialog.message}")
            await dialog.dismiss()

        page.on("dialog", on_dialog)
        if before_load is not None:
            await before_load(page)
        await page.goto(url)
        if javascript and wait_live:
            await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
        return page, watch

    async def close(self) -> list[str]:
        problems = [p for watch in self.watches for p in watch.problems()]
        for context in self.contexts:
            await context.close()
        return problems


# The editor API as the tests drive it: blogs, entries, edits, deletes.
Newsroom = Editor


async def entry_ids(page: Page, selector: str = "#timeline > .entry") -> list[str]:
    ids: list[str] = await page.locator(selector).evaluate_all(
        "nodes => nodes.map(n => n.dataset.id)"
    )
    return ids


@contextlib.asynccontextmanager
async def host_site(html: str) -> AsyncIterator[str]:
    """Another site on 127.0.0.1 (another port, so another origin) serving one HTML page.

    A page Playwright invents would count as a public site, which Chromium forbids to reach a
    loopback address; a real local server is what a developer's own test page would be.
    """
    body = html.encode()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/article"
    finally:
        server.close()
        await server.wait_closed()

"""The dashboard draws: each live blog's readers over the last hour, a point a minute summed
over every server process, with its peak (an inline SVG, no chart library)."""

from __future__ import annotations

import math
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from playwright.async_api import expect
from starlette.applications import Starlette

from liveblog.app import create_app
from tests.browser.kit import DESKTOP, PHONE, Newsroom, Pages
from tests.browser.test_phone import layout_problems
from tests.browser.test_rich import axe_violations
from tests.browser.test_screenshots import _save, _settle
from tests.conftest import make_settings
from tests.support.clients import SSEReader
from tests.support.servers import ADMIN_TOKEN, serve_app

SLOW = 20_000


@pytest.fixture
async def app_server(redis_url: str) -> AsyncIterator[tuple[Starlette, str]]:
    app = create_app(make_settings(redis_url))
    async with serve_app(app) as url:
        yield app, url


async def _an_hour_of_readers(app: Starlette) -> tuple[int, int]:
    """An evening's audience, as two other processes recorded it: (its peak, how many minutes
    ago the peak's minute began)."""
    engine = app.state.engine
    minute = int(time.time() // 60)
    peak, peak_ago = 0, 0
    for ago in range(59, 0, -1):
        crowd = int(180 + 140 * math.exp(-(((ago - 17) / 7) ** 2)) + 20 * math.sin(ago / 3))
        if crowd >= peak:
            peak, peak_ago = crowd, ago
        for process, share in (("desk-1", 0.6), ("desk-2", 0.4)):
            counts = {"election": round(crowd * share), "marathon": 12 + ago % 5}
            await engine.record_readers(minute - ago, process, msgspec.json.encode(counts))
    return peak, peak_ago


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_each_blog_shows_its_last_hour_of_readers_and_the_peak(
    app_server: tuple[Starlette, str], pages: Pages, scheme: str, size: str
) -> None:
    app, server = app_server
    newsroom = Newsroom(server, ADMIN_TOKEN)
    readers: list[SSEReader] = []
    try:
        await newsroom.blog("election", "Election night: the count")
        await newsroom.blog("marathon", "City marathon")
        await newsroom.post("election", headline="Polls close")
        seeded, ago = await _an_hour_of_readers(app)
        readers = [await SSEReader(server, "/blogs/election/events").connect() for _ in range(4)]
        options = {"viewport": PHONE, "touch": True} if size == "phone" else {"viewport": DESKTOP}
        page, _ = await pages.open(
            f"{server}/dashboard", wait_live=False, color_scheme=scheme, reduced_motion="reduce",
            **options,  # type: ignore[arg-type]
        )  # fmt: skip
        card = page.locator('.nr-blogcard[data-slug="election"]')
        chart = card.locator("[data-role=chart]")
        await expect(chart).to_have_attribute("data-peak", str(seeded), timeout=SLOW)
        await expect(chart.locator("svg path.nr-chart__line")).to_have_count(1)
        await expect(chart.locator("svg path.nr-chart__peak")).to_have_count(1)
        await expect(chart.locator("figcaption")).to_have_text(
            re.compile(
                rf"Readers, last hour: peak {seeded:,} at .*\d\d:\d\d, ({ago}|{ago + 1}) min ago"
            )
        )
        # The hour's ends and the peak on the blog's clock (UTC here, the browser's Kolkata).
        axis = chart.locator("[data-role=axis] time")
        await expect(axis).to_have_count(2)
        start, end = await axis.evaluate_all("nodes => nodes.map(n => [n.dateTime, n.textContent])")
        for iso, text in (start, end):
            # (after midnight on the blog's clock, the day goes before the hour's start)
            assert text.endswith(datetime.fromisoformat(iso).astimezone(UTC).strftime("%H:%M"))
        caption = await chart.locator("figcaption").text_content() or ""
        peak_at = datetime.now(UTC) - timedelta(minutes=ago)
        shown = re.search(r" at (?:\w+ \d+, )?(\d\d:\d\d),", caption)
        assert shown is not None and shown[1] in {
            (peak_at + timedelta(minutes=m)).strftime("%H:%M") for m in (-1, 0, 1)
        }, caption
        # The line has a point a minute; the last is the readers now (4 on this process).
        line = await chart.locator("svg path.nr-chart__line").get_attribute("d")
        assert line is not None and line.count("L") == 59
        other = page.locator('.nr-blogcard[data-slug="marathon"] [data-role=chart]')
        await expect(other).to_have_attribute("data-peak", "32")  # both processes, summed
        await _settle(page)
        if size == "phone":
            assert await layout_problems(page) == []
        assert await axe_violations(page) == []
        if size == "desktop":
            _save(f"newsroom-dashboard-chart-{scheme}.png", await card.screenshot())
        _save(f"newsroom-dashboard-{size}-{scheme}.png", await page.screenshot())
    finally:
        for reader in readers:
            await reader.close()
        await newsroom.close()

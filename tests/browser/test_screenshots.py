"""Screenshots of the reader's page: desktop and mobile width, light and dark. Each test first
asserts what its picture must show (the README shows them), then takes it.

Always written to ``test-artifacts/screenshots/``; with ``LIVEBLOG_UPDATE_SCREENSHOTS=1`` also to
``docs/screenshots/``, the ones the README shows. The content is invented for the pictures.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.browser.kit import DESKTOP, MOBILE, Newsroom, Pages

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"

SLUG = "storm-iris"


async def _storm_blog(newsroom: Newsroom) -> None:
    await newsroom.blog(
        SLUG,
        "Storm Iris reaches the coast: live updates",
        description="Gusts above 120 km/h, ferries cancelled and 40,000 homes without power "
        "as the season's first named storm moves inland.",
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)

    async def post(minutes_ago: int, **fields: object) -> dict[str, object]:
        published = (now - timedelta(minutes=minutes_ago)).isoformat()
        return await newsroom.post(SLUG, published_at=published, **fields)

    await post(
        185,
        headline="Red warning issued for the northern coast",
        body="<p>The weather service has raised its warning to red, its highest level, for "
        "the coast between the two river mouths from 14:00 until midnight.</p>",
        labels=["key"],
        author="Weather desk",
    )
    await post(
        140,
        headline="All ferry crossings suspended",
        body="<p>The ferry operator has cancelled every sailing for the rest of the day. "
        "Passengers booked today can move to any crossing this week at no cost.</p>",
        author="Transport desk",
    )
    await post(
        95,
        body="<p>A reader sent us this view of the breakwater an hour ago, before the "
        "promenade was closed to the public.</p>",
        author="Picture desk",
        media=[
            {
                "url": "https://images.example/breakwater.jpg",
                "caption": "Waves breaking over the harbour wall at high tide.",
                "credit": "Reader photo",
                "alt": "Grey waves crashing over a stone harbour wall",
            }
        ],
    )
    outage = await post(
        60,
        headline="Power cuts spread inland",
        body="<p>The grid operator says 40,000 homes are without electricity. Crews are "
        "waiting for the wind to drop below 90 km/h before they can climb the lines.</p>",
        labels=["key"],
        author="Regional desk",
    )
    await newsroom.edit(
        SLUG,
        str(outage["id"]),
        body="<p>The grid operator now says <strong>40,000 homes</strong> are without "
        "electricity, up from 25,000. Crews are waiting for the wind to drop below "
        "90 km/h before they can climb the lines.</p>",
    )
    await post(
        25,
        headline="Coastal road closed after a landslip",
        body="<blockquote>Please do not try to drive around the barriers. The slope is still "
        "moving.</blockquote><p>Police have closed the coast road in both directions.</p>",
        labels=["breaking"],
        author="News desk",
    )
    await post(
        8,
        headline="Peak gust of 126 km/h recorded at the lighthouse",
        body="<p>It is the strongest gust measured there in eleven years. Forecasters expect "
        "the storm to weaken as it moves inland overnight.</p>",
        author="Weather desk",
    )
    await post(
        200,
        headline="What we know so far",
        body="<ul><li>Red warning on the northern coast until midnight</li>"
        "<li>No ferries today; the coast road is closed</li>"
        "<li>Schools in the warning area close early at 12:30</li></ul>",
        pinned=True,
        author="Live team",
    )


def _save(name: str, data: bytes) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_bytes(data)
    if os.environ.get("LIVEBLOG_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ARTIFACTS / name, DOCS / name)


async def _settle(page: Page) -> None:
    await page.wait_for_load_state("load")
    await page.evaluate("document.fonts.ready")
    # A lazy image below the fold would never load (and never be waited for): load them all.
    await page.evaluate(
        "[...document.images].forEach(i => { i.loading = 'eager' });"
        "Promise.all([...document.images].filter(i => !i.complete)"
        ".map(i => new Promise(r => { i.onload = i.onerror = r })))"
    )


async def _assert_the_picture_shows(page: Page, scheme: str, width: int) -> int:
    """The blog's title, its pinned summary, the key events, the newest entry, the edited one
    as edited and the photo, loaded; in the colour scheme asked for; and nothing wider than the
    window. Returns the picture's height: down to the end of the photo."""
    await expect(page.locator("#lb-title")).to_have_text(
        "Storm Iris reaches the coast: live updates"
    )
    await expect(page.locator("#pinned .entry__headline")).to_have_text("What we know so far")
    await expect(page.locator("#key-events-list .key-events__title")).to_have_text(
        ["Power cuts spread inland", "Red warning issued for the northern coast"]
    )
    await expect(page.locator(".entry--breaking .entry__headline")).to_have_text(
        "Coastal road closed after a landslip"
    )
    await expect(page.locator(".entry__body").filter(has_text="up from 25,000")).to_have_count(1)
    photo = page.locator("figure.entry__media").first
    await expect(photo).to_contain_text("Waves breaking over the harbour wall")
    loaded = await photo.locator("img").evaluate("i => i.complete && i.naturalWidth > 0")
    assert loaded, "the photo shows as a broken image"
    newest = page.locator("article.entry:not(.entry--pinned) .entry__headline").first
    await expect(newest).to_have_text("Peak gust of 126 km/h recorded at the lighthouse")
    # The page's own background: dark in dark mode, light in light mode.
    luminance = await page.evaluate(
        """() => {
          const rgb = getComputedStyle(document.body).backgroundColor.match(/[0-9.]+/g);
          const [r, g, b] = rgb.slice(0, 3).map(Number);
          return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
        }"""
    )
    assert (luminance < 0.3) if scheme == "dark" else (luminance > 0.7), luminance
    scroll_width = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"the page is {scroll_width} px wide in a {width} px window"
    box = await photo.bounding_box()
    assert box is not None
    return round(box["y"] + box["height"] + 24)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("width_name", "viewport"), [("desktop", DESKTOP), ("mobile", MOBILE)])
async def test_screenshot(
    server: str,
    newsroom: Newsroom,
    pages: Pages,
    scheme: str,
    width_name: str,
    viewport: dict[str, int],
) -> None:
    await _storm_blog(newsroom)
    page, _ = await pages.open(
        f"{server}/blogs/{SLUG}", viewport=viewport, color_scheme=scheme, reduced_motion="reduce"
    )
    await _settle(page)
    # Taller than the window: the pictures show the timeline down to the photo, however much
    # the page above it grows.
    height = await _assert_the_picture_shows(page, scheme, viewport["width"])
    clip = {"x": 0, "y": 0, "width": viewport["width"], "height": height}
    shot = await page.screenshot(full_page=True, clip=clip)  # type: ignore[arg-type]
    _save(f"reader-{width_name}-{scheme}.png", shot)


async def test_screenshot_of_the_new_updates_banner(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await _storm_blog(newsroom)
    page, _ = await pages.open(f"{server}/blogs/{SLUG}", viewport=MOBILE, reduced_motion="reduce")
    await page.locator(".entry__media").first.scroll_into_view_if_needed()
    await _settle(page)
    for headline in ("Rail services halted north of the estuary", "Evacuation centre opens"):
        await newsroom.post(SLUG, headline=headline)
    await expect(page.locator("#new-updates")).to_have_text("2 new updates")
    _save("reader-mobile-new-updates.png", await page.screenshot())

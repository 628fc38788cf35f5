"""Deep links always land (docs/api.md, Sharing and embedding): ``/blogs/{slug}#entry-<id>`` of
any published entry, however many came after it, shows it on load, scrolled into view and
marked, the newer ones above it a tap away, and it stays put while the timeline goes on.

The page asks the API for the page that starts with the entry (``?around=``), shows it below the
newest page with a gap between them whose button loads the entries just above the entry
(``?after=``), a page at a time; tested with 25 newer entries and with 500, on a 360 px phone
and a desktop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from tests.browser.kit import DESKTOP, Newsroom, Pages, entry_ids
from tests.browser.test_screenshots import _save, _settle

PHONE = {"width": 360, "height": 740}
SLUG = "deep"


async def _blog(newsroom: Newsroom, newer: int, older: int = 30) -> tuple[str, list[str]]:
    """``older`` entries, the shared one, ``newer`` entries after it, a minute apart. Returns
    the shared entry's id and the ids of the newer ones, newest first."""
    await newsroom.blog(SLUG, "Deep links")
    start = datetime.now(UTC) - timedelta(minutes=older + newer + 10)

    async def post(n: int, headline: str) -> str:
        at = (start + timedelta(minutes=n)).isoformat()
        body = f"<p>Report {n}: a paragraph long enough to wrap on a phone, as reports do.</p>"
        return str((await newsroom.post(SLUG, headline=headline, body=body, published_at=at))["id"])

    for n in range(0, older, 25):
        await asyncio.gather(*(post(k, f"Older {k}") for k in range(n, min(n + 25, older))))
    shared = await post(older, "The update that was shared")
    ids: list[str] = []
    for n in range(0, newer, 25):
        batch = range(older + 1 + n, older + 1 + min(n + 25, newer))
        ids += await asyncio.gather(*(post(k, f"Newer {k - older}") for k in batch))
    return shared, ids[::-1]


async def _top(page: Page, selector: str) -> float:
    top: float = await page.locator(selector).evaluate("node => node.getBoundingClientRect().top")
    return top


async def _landed(page: Page, shared: str) -> None:
    target = page.locator(f"#entry-{shared}")
    await expect(target).to_be_in_viewport()
    await expect(target).to_have_class("entry entry--target")
    await expect(target).to_be_focused()
    assert 0 <= await _top(page, f"#entry-{shared}") < 160  # at the top, under the gap's button


@pytest.mark.parametrize(("screen", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
async def test_a_link_to_an_entry_with_25_newer_lands_on_it(
    server: str, newsroom: Newsroom, pages: Pages, screen: str, viewport: dict[str, int]
) -> None:
    shared, newer = await _blog(newsroom, 25)
    page, _ = await pages.open(f"{server}/blogs/{SLUG}#entry-{shared}", viewport=viewport)
    await _landed(page, shared)
    await _settle(page)
    _save(f"reader-deep-link-{screen}.png", await page.screenshot())
    # Above it: the newest page, then a gap for the 5 between, its button in view.
    ids = await entry_ids(page)
    assert ids[: ids.index(shared)] == newer[:20]
    gap = page.locator(".timeline-gap__button")
    await expect(gap).to_have_text("Show 5 newer updates")
    await expect(gap).to_be_in_viewport()
    top = await _top(page, ".timeline-gap")
    await gap.click()
    await expect(page.locator(".timeline-gap")).to_have_count(0)  # nothing left between
    ids = await entry_ids(page)
    assert ids[: ids.index(shared)] == newer  # each once, in order
    # The entries appeared where the reader tapped, below it, not above the screen.
    assert abs(await _top(page, f"#entry-{newer[-5]}") - top) < 30
    # "Load older" goes on below it.
    before = len(ids)
    await page.locator("#load-older").click()
    await expect(page.locator("#timeline > .entry")).not_to_have_count(before)
    ids = await entry_ids(page)
    assert len(ids) == len(set(ids)) and ids.index(shared) == 25

    # The timeline goes on: the entry being read does not move.
    top = await _top(page, f"#entry-{shared}")
    await page.evaluate("window.scrollBy(0, -1)")  # not quite at the entry's edge
    top = await _top(page, f"#entry-{shared}")
    for n in range(3):
        await newsroom.post(SLUG, headline=f"Breaking {n}")
    await expect(page.locator("#new-updates")).to_have_text("3 new updates")
    assert abs(await _top(page, f"#entry-{shared}") - top) < 1


@pytest.mark.parametrize(("screen", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
async def test_a_link_to_an_entry_with_500_newer_lands_on_it(
    server: str, newsroom: Newsroom, pages: Pages, screen: str, viewport: dict[str, int]
) -> None:
    shared, newer = await _blog(newsroom, 500)
    page, _ = await pages.open(f"{server}/blogs/{SLUG}#entry-{shared}", viewport=viewport)
    await _landed(page, shared)
    ids = await entry_ids(page)
    # The newest page on top, then the gap, then the page that starts with the entry.
    assert ids[:20] == newer[:20] and ids[20] == shared
    gap = page.locator(".timeline-gap__button")
    await expect(gap).to_have_text("Show 480 newer updates")
    await expect(gap).to_be_in_viewport()  # one tap away, right above the entry

    # A tap: the 20 just above it, below the gap, which stays where it was.
    top = await _top(page, ".timeline-gap")
    await gap.click()
    await expect(gap).to_have_text("Show 460 newer updates")
    assert abs(await _top(page, ".timeline-gap") - top) < 1
    ids = await entry_ids(page)
    assert ids[20 : ids.index(shared)] == newer[-20:] and len(ids) == len(set(ids))
    await _settle(page)
    _save(f"reader-deep-link-gap-{screen}.png", await page.screenshot())

    # Another link on the page (the hash changes): it lands there too.
    await page.evaluate(f"location.hash = '#entry-{newer[100]}'")
    await _landed(page, newer[100])
    await expect(page.locator(".entry--target")).to_have_count(1)


async def test_a_link_to_an_entry_that_is_gone_says_so(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog(SLUG, "Deep links")
    gone = await newsroom.post(SLUG, headline="Withdrawn")
    draft = await newsroom.post(SLUG, headline="Not yet", status="draft")
    for n in range(25):
        await newsroom.post(SLUG, headline=f"Later {n}")
    await newsroom.delete(SLUG, gone["id"])
    for missing in (gone["id"], draft["id"]):
        # The API's 404 for it is the one failed load the page may log.
        page, _ = await pages.open(
            f"{server}/blogs/{SLUG}#entry-{missing}", viewport=PHONE, allow_network_errors=True
        )
        await expect(page.locator("#lb-notice")).to_have_text("This update is no longer available.")
        await expect(page.locator("#announcer")).to_have_text("This update is no longer available.")
        assert "Not yet" not in await page.content()

"""Since your last visit (docs/api.md, Sharing and embedding: Catch-up): the reader page
remembers, in this browser only, the newest entry it showed; coming back, it marks what is new,
says how many in the page's language (with its plural rules) and jumps to the first of them.
No cookie, and nothing of what it remembers goes to the server."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, Request, expect

from tests.browser.kit import DESKTOP, Newsroom, Pages, entry_ids
from tests.browser.test_screenshots import _save, _settle

PHONE = {"width": 360, "height": 740}
SLUG = "back"


async def _post(newsroom: Newsroom, start: datetime, first: int, count: int) -> list[str]:
    ids = []
    for n in range(first, first + count):
        at = (start + timedelta(minutes=n)).isoformat()
        ids.append((await newsroom.post(SLUG, headline=f"Update {n}", published_at=at))["id"])
    return ids


async def _away_and_back(
    page: Page, url: str, post: Awaitable[list[str]]
) -> tuple[list[str], list[str]]:
    """Leave the page, let entries arrive, come back (same browser, so same storage). Returns
    the new entries' ids and every request the page makes from then on (what it sent)."""
    await page.goto("about:blank")
    ids = await post
    sent: list[str] = []

    def record(request: Request) -> None:
        sent.append(f"{request.url} {request.post_data or ''} {request.headers}")

    page.on("request", record)
    await page.goto(url)
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    return ids, sent


@pytest.mark.parametrize(("screen", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
async def test_a_reader_coming_back_sees_what_is_new(
    server: str, newsroom: Newsroom, pages: Pages, screen: str, viewport: dict[str, int]
) -> None:
    await newsroom.blog(SLUG, "Coming back")
    start = datetime.now(UTC) - timedelta(hours=2)
    before = await _post(newsroom, start, 0, 6)
    url = f"{server}/blogs/{SLUG}"
    page, _ = await pages.open(url, viewport=viewport)
    await expect(page.locator("#catch-up")).to_have_count(0)  # a first visit: nothing to say
    stored = await page.evaluate(f"localStorage.getItem('liveblog:seen:{SLUG}')")
    assert before[-1] in stored

    new, sent = await _away_and_back(page, url, _post(newsroom, start, 10, 3))
    await expect(page.locator("#catch-up .catch-up__text")).to_have_text(
        "3 updates since your last visit"
    )
    await expect(page.locator("#announcer")).to_have_text("3 updates since your last visit")
    marked = await entry_ids(page, "#timeline > .entry--unseen")
    assert marked == new[::-1]
    await expect(page.locator(f"#entry-{new[0]} .entry__unseen")).to_have_text("New")
    await expect(page.locator(f"#entry-{before[-1]}")).not_to_have_class("entry entry--unseen")
    await _settle(page)
    _save(f"reader-catch-up-{screen}.png", await page.screenshot())

    await page.locator("#catch-up .catch-up__jump").click()
    first = page.locator(f"#entry-{new[0]}")  # the oldest of the new ones
    await expect(first).to_be_focused()
    await expect(first).to_be_in_viewport()
    await expect(page.locator("#catch-up")).to_have_count(0)

    # Only in this browser: no cookie, and no request of the visit carried what it remembers.
    assert await page.context.cookies() == []
    assert await page.evaluate("document.cookie") == ""
    assert not [line for line in sent if before[-1] in line]


async def test_more_than_a_page_since_the_last_visit_in_ukrainian(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog(SLUG, "Повернення", language="uk")
    start = datetime.now(UTC) - timedelta(hours=3)
    seen = await _post(newsroom, start, 0, 4)
    url = f"{server}/blogs/{SLUG}"
    page, _ = await pages.open(url, viewport=PHONE)

    # 25 new: more than the page holds (20); the count reads on down the timeline, asking
    # only what "Load older" asks: the entry last seen is named in no request.
    new, sent = await _away_and_back(page, url, _post(newsroom, start, 10, 25))
    await expect(page.locator("#catch-up .catch-up__text")).to_have_text(
        "25 оновлень з вашого останнього візиту"
    )
    await page.locator("#catch-up .catch-up__jump").click()  # "Перейти до першого"
    await expect(page.locator(f"#entry-{new[0]}")).to_be_focused()
    await expect(page.locator(f"#entry-{new[0]}")).to_be_in_viewport()
    assert any("before=" in line for line in sent)  # it read on down the timeline...
    assert not [line for line in sent if seen[-1] in line]  # ...and named nothing it knew
    ids = await entry_ids(page)
    assert ids[:25] == new[::-1] and len(ids) == len(set(ids))

    # Two more: Ukrainian says "2 оновлення" (few), not the "many" form.
    await _away_and_back(page, url, _post(newsroom, start, 40, 2))
    await expect(page.locator("#catch-up .catch-up__text")).to_have_text(
        "2 оновлення з вашого останнього візиту"
    )
    await expect(page.locator("#catch-up .catch-up__jump")).to_have_text("Перейти до першого")

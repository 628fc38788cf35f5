"""With JavaScript off the page is complete: the whole timeline, key events and older pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.async_api import expect

from tests.browser.kit import Newsroom, Pages, entry_ids


async def test_the_timeline_is_all_there_without_javascript(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("plain", "Plain page", description="Read without scripts")
    start = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
    at = lambda minutes: (start + timedelta(minutes=minutes)).isoformat()  # noqa: E731
    key = await newsroom.post(
        "plain", headline="Where it began", labels=["key"], body="<p>Start.</p>", published_at=at(0)
    )
    ids = [key["id"]]
    for n in range(1, 23):
        entry = await newsroom.post("plain", headline=f"Update {n}", published_at=at(n))
        ids.append(entry["id"])
    photo = await newsroom.post(
        "plain",
        headline="A picture",
        body="<p>Look at this.</p>",
        author="Photo desk",
        labels=["breaking"],
        published_at=at(30),
        media=[
            {
                "url": "https://img.example/p.jpg",
                "caption": "The square",
                "credit": "Agency",
                "alt": "The square",
            }
        ],
    )
    await newsroom.edit("plain", photo["id"], headline="A picture, updated")
    pinned = await newsroom.post(
        "plain", headline="Read this first", pinned=True, published_at=at(5)
    )

    page, _ = await pages.open(f"{server}/blogs/plain", javascript=False)
    await expect(page.locator("h1")).to_have_text("Plain page")
    await expect(page.locator("#lb-desc")).to_have_text("Read without scripts")
    await expect(page.locator("#pinned > .entry")).to_have_attribute("id", f"entry-{pinned['id']}")
    expected = [photo["id"], *ids[::-1][:19]]
    assert await entry_ids(page) == expected

    top = page.locator(f"#entry-{photo['id']}")
    # In the blog's zone (UTC) without a script, with the date: it is not from today.
    await expect(top.locator(".entry__clock")).to_have_text("Mar 14, 09:30")
    await expect(top.locator(".entry__headline")).to_have_text("A picture, updated")
    await expect(top.locator(".entry__updated")).to_have_text(re.compile(r"^Updated \d\d:\d\d$"))
    await expect(top.locator(".label--breaking")).to_have_text("Breaking")
    await expect(top.locator(".entry__body")).to_have_text("Look at this.")
    await expect(top.locator("figcaption")).to_have_text("The square Photo: Agency")
    await expect(top.locator(".entry__author")).to_have_text("By Photo desk")

    # The key event is further back than this page: its link opens the older page holding it.
    await page.locator("#key-events-list a").click()
    await expect(page.locator(f"#entry-{key['id']}")).to_be_in_viewport()
    await expect(page.locator(".archive-note")).to_contain_text("older updates")

    await page.goto(f"{server}/blogs/plain")
    await page.locator("#load-older").click()
    assert await entry_ids(page) == ids[::-1][19:]
    await expect(page.locator("#load-older")).to_be_hidden()

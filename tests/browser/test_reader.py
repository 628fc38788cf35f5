"""The reader's page in headless Chromium: live inserts, scrolled-down readers, edits, the end."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from playwright.async_api import Page, Route, expect

from liveblog.config import Settings
from tests.browser.kit import MOBILE, Newsroom, Pages, entry_ids
from tests.support.servers import ADMIN_TOKEN, serve_in_process

TOP = "#timeline > .entry"


async def _fill(newsroom: Newsroom, slug: str, count: int, *, start: datetime) -> list[str]:
    """``count`` entries a minute apart from ``start``, tall enough to scroll; oldest first."""
    ids = []
    for n in range(count):
        entry = await newsroom.post(
            slug,
            headline=f"Update number {n}",
            body="".join(
                f"<p>Paragraph {p} of update {n}, long enough to wrap.</p>" for p in range(4)
            ),
            published_at=(start + timedelta(minutes=n)).isoformat(),
        )
        ids.append(entry["id"])
    return ids


async def test_an_entry_posted_through_the_api_is_on_top_within_a_second(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("launch", "Launch day")
    older = await newsroom.post("launch", headline="Doors open")
    page, _ = await pages.open(f"{server}/blogs/launch")
    assert await entry_ids(page) == [older["id"]]
    await page.locator("#load-older, .entry__permalink").first.focus()
    focused = await page.evaluate("document.activeElement.outerHTML")

    entry = await newsroom.post("launch", headline="Countdown resumes", labels=["breaking"])
    top = page.locator(TOP).first
    await expect(top).to_have_attribute("id", f"entry-{entry['id']}", timeout=1000)
    await expect(top.locator(".entry__headline")).to_have_text("Countdown resumes")
    await expect(top.locator(".label--breaking")).to_have_text("Breaking")
    await expect(top).to_have_class(re.compile(r"\bentry--new\b"))  # the brief highlight
    assert await entry_ids(page) == [entry["id"], older["id"]]
    # Announced politely; the reader's focus stays where it was.
    await expect(page.locator("#announcer")).to_have_text("New update: Countdown resumes")
    assert await page.evaluate("document.activeElement.outerHTML") == focused
    assert await page.locator("#announcer").get_attribute("aria-live") == "polite"


async def test_a_reader_scrolled_down_gets_a_banner_and_the_content_stays_put(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("scroll", "Long coverage")
    start = datetime.now(UTC) - timedelta(hours=1)
    ids = await _fill(newsroom, "scroll", 12, start=start)
    page, _ = await pages.open(f"{server}/blogs/scroll", viewport=MOBILE)
    title = await page.title()
    reading = page.locator(f"#entry-{ids[-6]}")
    await reading.evaluate("node => node.scrollIntoView({block: 'start'})")
    await page.evaluate("window.scrollBy(0, 40)")  # mid-entry, as a reader would be
    before = await reading.evaluate("node => node.getBoundingClientRect().top")

    first = await newsroom.post("scroll", headline="Fresh news one")
    # An edit above the reader changes a height there: it must not move them either.
    await newsroom.edit("scroll", ids[-1], body="<p>Much longer now.</p>" * 6)
    second = await newsroom.post("scroll", headline="Fresh news two")

    banner = page.locator("#new-updates")
    await expect(banner).to_be_visible(timeout=1000)
    await expect(banner).to_have_text("2 new updates", timeout=1000)
    await expect(page).to_have_title(f"(2) {title}")
    await expect(page.locator("#announcer")).to_have_text("2 new updates")
    # Scroll offsets are whole pixels, heights are not: "put" means within a pixel.
    assert abs(await reading.evaluate("node => node.getBoundingClientRect().top") - before) < 1
    assert first["id"] not in await entry_ids(page)

    await banner.click()
    await expect(banner).to_be_hidden()
    await expect(page).to_have_title(title)
    assert (await entry_ids(page))[:3] == [second["id"], first["id"], ids[-1]]
    # The reader asked for them: they are taken to the newest, which has focus.
    await expect(page.locator(f"#entry-{second['id']}")).to_be_focused()
    await expect(page.locator(f"#entry-{second['id']}")).to_be_in_viewport()


async def test_scrolling_back_to_the_top_reveals_what_waited(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("back", "Back to top")
    ids = await _fill(newsroom, "back", 8, start=datetime.now(UTC) - timedelta(hours=1))
    page, _ = await pages.open(f"{server}/blogs/back", viewport=MOBILE)
    await page.locator(f"#entry-{ids[0]}").scroll_into_view_if_needed()
    entry = await newsroom.post("back", headline="Held back")
    await expect(page.locator("#new-updates")).to_have_text("1 new update", timeout=1000)
    await page.evaluate("window.scrollTo(0, 0)")
    await expect(page.locator(TOP).first).to_have_attribute("id", f"entry-{entry['id']}")
    await expect(page.locator("#new-updates")).to_be_hidden()


async def test_edits_and_deletes_show_live(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await newsroom.blog("edits", "Edits")
    a = await newsroom.post("edits", headline="First", author="Desk")
    b = await newsroom.post("edits", headline="Second")
    c = await newsroom.post("edits", headline="Third")
    page, _ = await pages.open(f"{server}/blogs/edits")
    await expect(page.locator("#key-events")).to_be_hidden()

    await newsroom.edit("edits", b["id"], headline="Second, corrected", labels=["key"])
    node = page.locator(f"#entry-{b['id']}")
    await expect(node.locator(".entry__headline")).to_have_text("Second, corrected", timeout=1000)
    await expect(node.locator(".entry__updated")).to_have_text(re.compile(r"^Updated \d\d:\d\d$"))
    await expect(node.locator(".label--key")).to_have_text("Key event")
    assert await entry_ids(page) == [c["id"], b["id"], a["id"]]  # replaced in place
    key_link = page.locator("#key-events-list a")
    await expect(page.locator("#key-events")).to_be_visible()
    await expect(key_link).to_have_attribute("href", f"#entry-{b['id']}")
    await expect(key_link.locator(".key-events__title")).to_have_text("Second, corrected")

    await newsroom.delete("edits", b["id"])
    await expect(node).to_have_count(0, timeout=1000)
    await expect(page.locator("#key-events")).to_be_hidden()
    assert await entry_ids(page) == [c["id"], a["id"]]

    # Pinning moves an entry on top; moving its time moves it in the timeline.
    await newsroom.edit("edits", a["id"], pinned=True)
    await expect(page.locator(f"#pinned #entry-{a['id']}")).to_have_count(1, timeout=1000)
    await expect(page.locator(f"#entry-{a['id']} .label--pinned")).to_have_text("Pinned")
    await newsroom.edit("edits", a["id"], pinned=False)
    await expect(page.locator(f"#timeline #entry-{a['id']}")).to_have_count(1, timeout=1000)
    # (Back in time: a published entry dated in the future is refused; that is scheduling.)
    earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    await newsroom.edit("edits", c["id"], published_at=earlier)
    await expect(page.locator(TOP).first).to_have_attribute("id", f"entry-{a['id']}")
    assert await entry_ids(page) == [a["id"], c["id"]]


async def test_an_ended_blog_says_so_and_stops_streaming(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("final", "The final")
    await newsroom.post("final", headline="Kick-off")
    page, _ = await pages.open(f"{server}/blogs/final")
    await expect(page.locator("#lb-ended")).to_be_hidden()

    await newsroom.patch_blog("final", status="ended", title="The final: it is over")
    await expect(page.locator("#lb-ended")).to_have_text("This live blog has ended", timeout=1000)
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "ended")
    await expect(page.locator("#live-status")).to_have_text("Ended")
    await expect(page.locator("#lb-title")).to_have_text("The final: it is over")
    # With the stream closed the page goes quiet: an open EventSource would never let it idle.
    await page.wait_for_load_state("networkidle")

    # A reader arriving later sees the same, and the page opens no stream at all.
    later, _ = await pages.open(f"{server}/blogs/final", wait_live=False)
    await expect(later.locator("#lb-ended")).to_be_visible()
    await expect(later.locator("#live-status")).to_have_text("Ended")
    await later.wait_for_load_state("networkidle")


async def test_load_older_never_duplicates_a_live_insert(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("paging", "Paging")
    start = datetime.now(UTC) - timedelta(hours=2)
    ids = await _fill(newsroom, "paging", 24, start=start)
    page, _ = await pages.open(f"{server}/blogs/paging")
    assert await entry_ids(page) == ids[::-1][:20]

    live = await newsroom.post("paging", headline="Live while reading")
    # Back-dated among the entries not loaded yet: it belongs to an older page.
    backdated = await newsroom.post(
        "paging", headline="Filed late", published_at=(start + timedelta(seconds=90)).isoformat()
    )
    await expect(page.locator(TOP).first).to_have_attribute("id", f"entry-{live['id']}")
    await expect(page.locator(f"#entry-{backdated['id']}")).to_have_count(0)

    await page.locator("#load-older").click()
    await expect(page.locator(TOP)).to_have_count(26)
    expected = [live["id"], *ids[::-1][:22], backdated["id"], ids[1], ids[0]]
    assert await entry_ids(page) == expected
    await expect(page.locator("#load-older")).to_be_hidden()


async def test_an_older_page_in_flight_does_not_bring_back_a_deleted_entry(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("paged-delete", "Paged delete")
    start = datetime.now(UTC) - timedelta(hours=2)
    ids = await _fill(newsroom, "paged-delete", 22, start=start)
    page, _ = await pages.open(f"{server}/blogs/paged-delete")
    fetched, release = asyncio.Event(), asyncio.Event()

    async def hold_the_older_page(route: Route) -> None:
        response = await route.fetch()  # the page is read before the delete...
        fetched.set()
        await release.wait()  # ...and reaches the browser after it
        await route.fulfill(response=response)

    await page.route(re.compile(r"/api/blogs/paged-delete/entries\?.*before="), hold_the_older_page)
    await page.locator("#load-older").click()
    await fetched.wait()
    await newsroom.delete("paged-delete", ids[0])
    marker = await newsroom.post("paged-delete", headline="After the delete")
    # The reader is down at "Load older": the marker waits behind the banner, so the delete
    # before it has been handled too.
    await expect(page.locator("#new-updates")).to_have_text("1 new update")
    release.set()
    await expect(page.locator("#load-older")).to_be_hidden()  # the older page is in
    assert await entry_ids(page) == ids[::-1][:21]
    await page.locator("#new-updates").click()
    await expect(page.locator(f"#entry-{marker['id']}")).to_have_count(1)
    assert await entry_ids(page) == [marker["id"], *ids[::-1][:21]]


async def test_reset_reloads_the_timeline_without_reloading_the_page(
    settings_factory: Callable[..., Settings], pages: Pages
) -> None:
    # A history of two events: a reader offline for three cannot be filled in, only reset.
    async with serve_in_process(settings_factory(history_size=2)) as url:
        newsroom = Newsroom(url, ADMIN_TOKEN)
        await newsroom.blog("gap", "Gap")
        first = await newsroom.post("gap", headline="Before the gap")
        page, _ = await pages.open(f"{url}/blogs/gap")
        await page.evaluate("window.sameDocument = true")

        await page.context.set_offline(True)
        status = page.locator("#live-status")
        await expect(status).to_have_attribute("data-state", "offline")
        await expect(status).to_have_text("Offline")
        missed = [await newsroom.post("gap", headline=f"Missed {n}") for n in range(3)]
        await page.context.set_offline(False)
        await expect(page.locator(TOP)).to_have_count(4)
        await expect(status).to_have_attribute("data-state", "live")
        assert await entry_ids(page) == [*(m["id"] for m in reversed(missed)), first["id"]]
        assert await page.evaluate("window.sameDocument") is True
        # Live again from the reloaded position.
        after = await newsroom.post("gap", headline="After the gap")
        await expect(page.locator(TOP).first).to_have_attribute("id", f"entry-{after['id']}")
        await page.close()
        await newsroom.close()


async def test_relative_times_refresh_every_minute(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("clock", "Clock")
    now = datetime.now(UTC)
    await newsroom.post("clock", headline="Now", published_at=now.isoformat())

    async def install_clock(page: Page) -> None:
        await page.clock.install(time=now + timedelta(seconds=5))

    page, _ = await pages.open(f"{server}/blogs/clock", before_load=install_clock)
    ago = page.locator(".entry__ago").first
    await expect(ago).to_have_text("just now")
    await page.clock.run_for(3 * 60_000)
    await expect(ago).to_have_text("3 min. ago")  # the page's English ("en"), not the reader's
    # Beside it, the absolute time in the blog's zone (UTC), not the reader's (Asia/Kolkata).
    await expect(page.locator(".entry__clock").first).to_have_text(now.strftime("%H:%M"))


async def test_reduced_motion_gets_no_highlight(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("calm", "Calm")
    page, _ = await pages.open(f"{server}/blogs/calm", reduced_motion="reduce")
    entry = await newsroom.post("calm", headline="Quietly")
    node = page.locator(f"#entry-{entry['id']}")
    await expect(node).to_have_count(1, timeout=1000)
    assert "entry--new" not in (await node.get_attribute("class") or "")
    assert await node.evaluate("n => getComputedStyle(n).animationName") == "none"


async def test_key_events_link_to_entries_further_back(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("keys", "Keys")
    start = datetime.now(UTC) - timedelta(hours=3)
    key = await newsroom.post(
        "keys", headline="The key moment", labels=["key"], published_at=start.isoformat()
    )
    await _fill(newsroom, "keys", 22, start=start + timedelta(minutes=1))
    page, _ = await pages.open(f"{server}/blogs/keys")
    await expect(page.locator(f"#entry-{key['id']}")).to_have_count(0)
    await page.locator("#key-events-list a").click()
    target = page.locator(f"#entry-{key['id']}")
    await expect(target).to_be_in_viewport()
    await expect(target).to_be_focused()
    assert page.url.endswith(f"#entry-{key['id']}")


async def test_live_markup_matches_the_server_rendered_markup(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    """render.js and _entry.html must build the same entry, field for field."""
    await newsroom.blog("same", "Same")
    page, _ = await pages.open(f"{server}/blogs/same")
    fields = {
        "headline": "All the fields",
        "body": "<p>Text with <a href='https://example.org/'>a link</a>.</p><ul><li>one</li></ul>",
        "author": "A. Reporter",
        "labels": ["breaking", "key", "analysis"],
        "media": [
            {
                "url": "https://img.example/a.jpg",
                "caption": "A caption",
                "credit": "Agency",
                "alt": "Alt",
            },
            {"url": "https://img.example/b.jpg", "decorative": True},
        ],
    }
    entry = await newsroom.post("same", **fields)
    await newsroom.edit("same", entry["id"], pinned=True)
    other = await newsroom.post("same", body="<p>Just a body, no headline.</p>")
    await expect(page.locator(f"#pinned #entry-{entry['id']} .label--pinned")).to_have_count(1)
    await expect(page.locator(f"#entry-{other['id']}")).to_have_count(1)
    live = await _shapes(page)
    await page.reload()
    assert await _shapes(page) == live


async def _shapes(page: Page) -> list[object]:
    """Each entry as nested [tag, classes, attribute names, text or children]."""
    return await page.locator("#pinned > .entry, #timeline > .entry").evaluate_all(
        """nodes => nodes.map(function shape(node) {
            if (node.nodeType === Node.TEXT_NODE) return node.textContent.trim();
            const classes = [...node.classList].filter(c => c !== "entry--new").sort();
            const attrs = node.getAttributeNames().filter(a => a !== "class").sort();
            const values = attrs.map(a => a === "title" ? "" : node.getAttribute(a));
            const children = [...node.childNodes].map(shape).filter(c => c !== "");
            return [node.tagName, classes, attrs, values, children];
        })"""
    )

"""Search as readers and editors use it: the reader page's box (without JavaScript, and with it
next to a live stream that keeps going), right to left, at phone width; the console's box over
every status. Screenshots go to ``test-artifacts/screenshots/`` (look at them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.kit import DESKTOP, Newsroom, Pages, entry_ids
from tests.browser.test_rich import AXE
from tests.support.servers import ADMIN_TOKEN

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHONE = {"width": 360, "height": 780}
START = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


def _at(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).isoformat()


async def _shot(page: Page, name: str) -> None:
    """The page as far as a phone's screen or two shows it."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or DESKTOP
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"] * 2}
    await page.screenshot(path=str(ARTIFACTS / name), full_page=True, clip=clip)  # type: ignore[arg-type]


async def _no_sideways_scroll(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= await page.evaluate("window.innerWidth"), "the page scrolls sideways"


async def _axe_violations_in(page: Page, selectors: list[str]) -> list[str]:
    """axe-core's violations inside these parts of the page only."""
    await page.evaluate(AXE.read_text())
    script = "s => axe.run({include: s.map(x => [x])}, {resultTypes: ['violations']})"
    result: dict[str, Any] = await page.evaluate(script, selectors)
    return [
        f"{v['id']}: {v['help']}: {[n['target'] for n in v['nodes']]}" for v in result["violations"]
    ]


async def _flood_blog(newsroom: Newsroom) -> list[dict[str, object]]:
    await newsroom.blog("flood", "River flood: live updates", description="Water levels rising")
    shelters = []
    for n in range(22):
        shelters.append(await newsroom.post(
            "flood", headline=f"Shelter {n + 1} opens its doors",
            body=f"<p>The school on street {n + 1} takes in families from the lower town.</p>",
            published_at=_at(n),
        ))  # fmt: skip
    await newsroom.post("flood", headline="Bridge closed", body="<p>No traffic.</p>",
                        published_at=_at(30))  # fmt: skip
    await newsroom.post("flood", headline="Shelter list (draft)", status="draft")
    return shelters


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_readers_search_without_javascript(
    server: str, newsroom: Newsroom, pages: Pages, viewport: dict[str, int]
) -> None:
    shelters = await _flood_blog(newsroom)
    page, _ = await pages.open(f"{server}/blogs/flood", viewport=viewport, javascript=False)
    name = "phone" if viewport is PHONE else "desktop"
    await _no_sideways_scroll(page)
    await page.screenshot(path=str(ARTIFACTS / f"search-box-{name}.png"))
    box = page.get_by_role("searchbox", name="Search this live blog")
    await box.fill("shelters")
    await box.press("Enter")

    await expect(page).to_have_url(f"{server}/blogs/flood?q=shelters")
    await expect(page.locator("#search-summary")).to_have_text("22 updates match “shelters”")
    newest = [str(s["id"]) for s in reversed(shelters)]
    assert await entry_ids(page, "#search-list .entry") == newest[:20]
    await expect(page.locator("#search-list")).not_to_contain_text("draft")
    await expect(box).to_have_value("shelters")
    await _no_sideways_scroll(page)
    await _shot(page, f"search-reader-{name}.png")

    await page.locator("#search-older").click()
    assert await entry_ids(page, "#search-list .entry") == newest[20:]
    # A result in its place in the blog: the older page that starts with it.
    await page.locator(".search-result__context a").first.click()
    await expect(page.locator(f"#entry-{newest[20]}")).to_be_in_viewport()

    await page.go_back()
    await page.get_by_role("link", name="Back to live updates").click()
    await expect(page).to_have_url(f"{server}/blogs/flood")
    await expect(page.locator("#timeline > .entry").first).to_contain_text("Bridge closed")


async def test_search_results_do_not_follow_the_live_stream(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await _flood_blog(newsroom)
    page, _ = await pages.open(f"{server}/blogs/flood", viewport=PHONE)
    # The live page keeps going with the box on it.
    await newsroom.post("flood", headline="Army arrives with boats")
    await expect(page.locator("#timeline > .entry").first).to_contain_text("Army arrives")

    await page.get_by_role("searchbox", name="Search this live blog").fill("shelter 7")
    await page.get_by_role("button", name="Search", exact=True).click()
    await expect(page.locator("#search-summary")).to_have_text("1 update matches “shelter 7”")
    # New entries, matching or not, never slip into a list of results.
    await newsroom.post("flood", headline="Shelter 23 opens, on street 7")
    await newsroom.post("flood", headline="Rain stops")
    await page.wait_for_timeout(1500)  # what a live page would have shown by now
    assert len(await entry_ids(page, "#search-list .entry")) == 1
    await expect(page.locator("#search-list")).not_to_contain_text("Rain stops")
    # Searching again is a new answer that includes it.
    await page.get_by_role("button", name="Search", exact=True).click()
    await expect(page.locator("#search-summary")).to_have_text("2 updates match “shelter 7”")

    await page.get_by_role("link", name="Back to live updates").click()
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    await expect(page.locator("#timeline > .entry").first).to_contain_text("Rain stops")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_search_right_to_left(
    server: str, newsroom: Newsroom, pages: Pages, viewport: dict[str, int]
) -> None:
    await newsroom.blog("cairo", "الفيضانات في القاهرة: تغطية مباشرة", language="ar")
    first = await newsroom.post("cairo", headline="فتح الملاجئ في الأحياء المنخفضة",
                                published_at=_at(0))  # fmt: skip
    await newsroom.post("cairo", headline="إغلاق الجسر", published_at=_at(1))
    second = await newsroom.post(
        "cairo", headline="الملجأ الثاني يستقبل العائلات",
        body="<p>الملاجئ مفتوحة طوال الليل.</p>", published_at=_at(2),
    )  # fmt: skip
    for scheme in ("light", "dark"):
        page, _ = await pages.open(
            f"{server}/blogs/cairo", viewport=viewport, javascript=False, color_scheme=scheme
        )
        await expect(page.locator("html")).to_have_attribute("dir", "rtl")
        box = page.get_by_role("searchbox", name="البحث في هذه التغطية المباشرة")
        await box.fill("الملاجئ")
        await box.press("Enter")
        await expect(page.locator("#search-summary")).to_contain_text("«الملاجئ»")
        assert await entry_ids(page, "#search-list .entry") == [second["id"], first["id"]]
        await expect(page.get_by_role("link", name="العودة إلى التحديثات المباشرة")).to_be_visible()
        # The box sits at the start of the line: the right edge, right to left.
        form = await page.locator("form.lb-search").bounding_box()
        header = await page.locator(".lb-header").bounding_box()
        assert form is not None and header is not None
        assert abs((form["x"] + form["width"]) - (header["x"] + header["width"])) < 2
        await _no_sideways_scroll(page)
        name = "phone" if viewport is PHONE else "desktop"
        await _shot(page, f"search-reader-rtl-{name}-{scheme}.png")


# --- the console ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("viewport", "scheme"), [(PHONE, "light"), (DESKTOP, "dark")], ids=["phone", "desktop"]
)
async def test_staff_search_every_status_in_the_console(
    server: str, newsroom: Newsroom, pages: Pages, viewport: dict[str, int], scheme: str
) -> None:
    await newsroom.blog("desk", "Election night", description="Results as they come")
    published = await newsroom.post("desk", headline="Turnout record in the north",
                                    published_at=_at(0))  # fmt: skip
    draft = await newsroom.post("desk", headline="Turnout analysis (draft)", status="draft")
    waiting = await newsroom.post("desk", headline="Turnout in my village", status="submitted")
    later = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    scheduled = await newsroom.post("desk", headline="Final turnout figures", status="scheduled",
                                    publish_at=later)  # fmt: skip
    await newsroom.post("desk", headline="Polls close", published_at=_at(1))

    page, _ = await pages.open(
        f"{server}/editor?blog=desk", viewport=viewport, color_scheme=scheme, wait_live=False
    )
    await page.fill("#token-input", ADMIN_TOKEN)
    await page.click("#signin-form [type=submit]")
    await expect(page.locator("#stream-status")).to_have_attribute("data-state", "live")
    live = page.locator("#entry-list")
    await expect(live.locator(".nr-entry")).to_have_count(2)

    box = page.get_by_role("searchbox", name="Search entries")
    await box.fill("turnout")
    await box.press("Enter")
    results = page.locator("#search-results .nr-search-result")
    await expect(results).to_have_count(4)
    statuses = await results.evaluate_all(
        "nodes => nodes.map(n => [n.dataset.id, n.dataset.status])"
    )
    assert dict(statuses) == {
        str(published["id"]): "published", str(draft["id"]): "draft",
        str(waiting["id"]): "submitted", str(scheduled["id"]): "scheduled",
    }  # fmt: skip
    await expect(page.locator("#search-results [data-role=summary]")).to_contain_text(
        "4 entries match \u2068“turnout”"  # the query set apart from the sentence
    )
    await expect(live).to_be_hidden()
    # The box and the results fit their column (the console itself is made to fit a phone
    # elsewhere).
    column = await page.locator("#entry-search").evaluate(
        "n => n.closest('section').getBoundingClientRect().toJSON()"
    )
    for part in ("#entry-search", "#search-results"):
        box_of = await page.locator(part).bounding_box()
        assert box_of is not None and box_of["x"] + box_of["width"] <= column["right"] + 1, part
    name = "phone" if viewport is PHONE else "desktop"
    section = page.locator("section.nr-entries")
    await section.screenshot(path=str(ARTIFACTS / f"search-console-{name}-{scheme}.png"))
    assert await _axe_violations_in(page, ["#entry-search", "#search-results"]) == []

    # A new entry goes to the live list underneath, never into the results.
    await newsroom.post("desk", headline="Turnout at 71 per cent")
    await page.wait_for_timeout(1000)
    await expect(results).to_have_count(4)
    await page.get_by_role("button", name="Clear search").click()
    await expect(live).to_be_visible()
    await expect(live.locator(".nr-entry").first).to_contain_text("Turnout at 71 per cent")
    await expect(page.locator("#search-results")).to_be_hidden()

    await box.fill("?!")
    await box.press("Enter")
    await expect(page.locator("#search-results [data-role=summary]")).to_contain_text(
        "Nothing to search for"
    )

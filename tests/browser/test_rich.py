"""Rich entries in Chromium: embeds with consent, the key events view, day headings, the page's
language in live text, right-to-left layout, an axe-core scan of every page, and screenshots.

Third-party hosts are never reached: the tests route them to a local stub and record each
request, so "nothing before the click" is what the browser attempted, not what it got.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image
from playwright.async_api import Page, Route, expect

from liveblog.config import Settings
from tests.browser.kit import DESKTOP, MOBILE, Newsroom, Pages, entry_ids, photo_svg
from tests.browser.test_screenshots import _save, _settle
from tests.support.clients import Editor
from tests.support.servers import ADMIN_TOKEN, serve_in_process

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
YOUTUBE = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
VIMEO = "https://vimeo.com/76979871"
STUB = "<!doctype html><title>player</title><p id=stub>the provider's player</p>"


class ThirdParty:
    """Every request the page makes to a host other than the test server, answered locally."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    async def install(self, page: Page) -> None:
        def elsewhere(url: str) -> bool:
            return urlsplit(url).hostname not in ("127.0.0.1", None)

        async def answer(route: Route) -> None:
            self.requests.append(route.request.url)
            if route.request.resource_type == "image":  # an entry's photo from its https host
                body = photo_svg(route.request.url)
                await route.fulfill(status=200, content_type="image/svg+xml", body=body)
            else:
                await route.fulfill(status=200, content_type="text/html", body=STUB)

        await page.route(elsewhere, answer)

    def hosts(self) -> list[str]:
        return sorted({urlsplit(url).hostname or "" for url in self.requests})


def _ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


# --- embeds ----------------------------------------------------------------------------------


async def test_an_embed_requests_nothing_from_the_provider_before_the_click(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("match", "The match")
    rendered = await newsroom.post(
        "match", headline="The goal", media=[{"type": "embed", "url": YOUTUBE}]
    )
    third = ThirdParty()
    page, _ = await pages.open(f"{server}/blogs/match", before_load=third.install)
    response = await page.request.get(f"{server}/blogs/match")
    csp = response.headers["content-security-policy"]
    assert "frame-src https://www.youtube-nocookie.com https://player.vimeo.com" in csp

    card = page.locator(f"#entry-{rendered['id']} .embed-card")
    await expect(card.locator(".embed-card__provider")).to_have_text("YouTube")
    await expect(card.locator(".embed-card__link")).to_have_attribute("href", YOUTUBE)
    # A card added live (by the script) behaves the same.
    live = await newsroom.post("match", headline="Replay", media=[{"type": "embed", "url": VIMEO}])
    live_card = page.locator(f"#entry-{live['id']} .embed-card")
    await expect(live_card.locator(".embed-card__load")).to_have_text("Load video")
    await page.wait_for_load_state("networkidle")
    assert third.requests == []  # nothing attempted: no player, no thumbnail, no font
    assert await page.locator("iframe").count() == 0

    await card.locator(".embed-card__load").click()
    frame = card.locator("iframe")
    await expect(frame).to_have_attribute(
        "src", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ?autoplay=1"
    )
    # The CSP let the frame in: it shows the (stub) player the provider would send.
    await expect(
        page.frame_locator(f"#entry-{rendered['id']} iframe").locator("#stub")
    ).to_be_visible()
    assert third.hosts() == ["www.youtube-nocookie.com"]  # that one, and the other card still waits
    assert await live_card.locator("iframe").count() == 0

    await live_card.locator(".embed-card__load").click()
    await expect(page.frame_locator(f"#entry-{live['id']} iframe").locator("#stub")).to_be_visible()
    assert third.hosts() == ["player.vimeo.com", "www.youtube-nocookie.com"]


async def test_without_javascript_an_embed_is_a_link(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("plain-embed", "Plain")
    entry = await newsroom.post(
        "plain-embed", headline="Watch", media=[{"type": "embed", "url": YOUTUBE}]
    )
    third = ThirdParty()
    page, _ = await pages.open(
        f"{server}/blogs/plain-embed", javascript=False, before_load=third.install
    )
    card = page.locator(f"#entry-{entry['id']} .embed-card")
    await expect(card.locator(".embed-card__load")).to_be_hidden()  # it would do nothing
    link = card.get_by_role("link", name="Open on YouTube")
    await expect(link).to_have_attribute("href", YOUTUBE)
    await page.wait_for_load_state("networkidle")
    assert third.requests == [] and await page.locator("iframe").count() == 0


# --- the key events view -------------------------------------------------------------------


async def _key_blog(newsroom: Newsroom, slug: str, *, keys: int = 8, others: int = 30) -> list[str]:
    """``keys`` key events among ``others`` entries, newest first: their ids."""
    await newsroom.blog(slug, "Election night")
    key_ids = []
    for n in range(keys + others):
        is_key = n % ((keys + others) // keys) == 0 and len(key_ids) < keys
        entry = await newsroom.post(
            slug,
            headline=f"Result {n}" if is_key else f"Minor note {n}",
            labels=["key"] if is_key else [],
            published_at=_ago(keys + others - n),
        )
        if is_key:
            key_ids.append(entry["id"])
    return key_ids[::-1]


async def test_the_key_events_view_works_without_javascript(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    keys = await _key_blog(newsroom, "election")
    page, _ = await pages.open(f"{server}/blogs/election", javascript=False)
    # Every key event is listed in the box (no script to fold them away).
    await expect(page.locator("#key-events-list > li")).to_have_count(len(keys))
    await expect(page.locator("#key-events-more")).to_be_hidden()

    await page.get_by_role("link", name="Key events only").click()
    await expect(page).to_have_url(f"{server}/blogs/election?view=key")
    assert await entry_ids(page) == keys
    await expect(page.get_by_role("link", name="Key events only")).to_have_attribute(
        "aria-current", "page"
    )
    await expect(page.locator("#key-events")).to_have_count(0)  # the timeline is the list
    await page.get_by_role("link", name="All updates").click()
    assert len(await entry_ids(page)) == 20


async def test_the_key_events_box_folds_past_a_few_and_the_view_stays_live(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    keys = await _key_blog(newsroom, "count")
    page, _ = await pages.open(f"{server}/blogs/count")
    items = page.locator("#key-events-list > li")
    await expect(items.nth(4)).to_be_visible()
    await expect(items.nth(5)).to_be_hidden()
    more = page.locator("#key-events-more")
    await expect(more).to_have_text(f"Show all {len(keys)} key events")
    await expect(more).to_have_attribute("aria-expanded", "false")
    await more.click()
    await expect(items.nth(len(keys) - 1)).to_be_visible()
    await expect(items.nth(5).locator("a")).to_be_focused()
    await expect(more).to_be_hidden()

    view, _ = await pages.open(f"{server}/blogs/count?view=key")
    assert await entry_ids(view) == keys
    await newsroom.post("count", headline="Not a key event")
    fresh = await newsroom.post("count", headline="Turnout record", labels=["key"])
    await expect(view.locator("#timeline > .entry").first).to_have_id(f"entry-{fresh['id']}")
    await newsroom.edit("count", keys[0], labels=[])  # no longer key: it leaves the view
    await expect(view.locator(f"#entry-{keys[0]}")).to_have_count(0)
    assert await entry_ids(view) == [fresh["id"], *keys[1:]]
    await expect(view.get_by_text("Not a key event")).to_have_count(0)


# --- days, zones and languages -------------------------------------------------------------


async def test_times_are_the_blogs_until_the_reader_chooses_their_own(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("night", "Overnight")  # the blog's zone is UTC
    # 20:00 UTC on 1 June is 01:30 on 2 June for the reader (Asia/Kolkata).
    first = await newsroom.post("night", headline="Evening", published_at="2024-06-01T12:00:00Z")
    second = await newsroom.post("night", headline="Late", published_at="2024-06-01T20:00:00Z")

    page, _ = await pages.open(f"{server}/blogs/night")
    days = page.locator("#timeline > .day-separator")
    # The blog's zone, as the server wrote it: one day, so no headings; its name in the header.
    await expect(days).to_have_count(0)
    await expect(page.locator(f"#entry-{second['id']} .entry__clock")).to_have_text(
        "Jun 1, 2024, 20:00"
    )
    switch = page.locator("#lb-zone [role=group]")
    await expect(switch.locator("button")).to_have_text(["UTC", "My time"])
    await expect(switch.locator("[aria-pressed=true]")).to_have_text("UTC")

    await switch.get_by_role("button", name="My time").click()
    await expect(days).to_have_text(["Sunday, June 2, 2024", "Saturday, June 1, 2024"])
    await expect(page.locator(f"#entry-{second['id']} .entry__clock")).to_have_text(
        "Jun 2, 2024, 01:30"
    )
    await expect(page.locator(f"#entry-{first['id']} .entry__clock")).to_have_text(
        "Jun 1, 2024, 17:30"
    )
    # Each heading sits right above the first entry of its day.
    order = await page.locator("#timeline > *").evaluate_all(
        "nodes => nodes.map(n => n.dataset.day || n.dataset.id)"
    )
    assert order == ["2024-06-02", second["id"], "2024-06-01", first["id"]]

    now = await newsroom.post("night", headline="This morning")
    await expect(page.locator("#timeline > .entry").first).to_have_id(f"entry-{now['id']}")
    today = datetime.now(UTC) + timedelta(hours=5, minutes=30)
    await expect(days.first).to_have_attribute("data-day", today.date().isoformat())
    await expect(days).to_have_count(3)
    await expect(page.locator(f"#entry-{now['id']} .entry__clock")).to_have_text(
        today.strftime("%H:%M")  # today: the time alone
    )
    # Remembered in this browser: a reload keeps the reader's zone, until they switch back.
    await page.reload()
    await expect(page.locator(f"#entry-{second['id']} .entry__clock")).to_have_text(
        "Jun 2, 2024, 01:30"
    )
    await page.locator("#lb-zone").get_by_role("button", name="UTC").click()
    await expect(page.locator(f"#entry-{second['id']} .entry__clock")).to_have_text(
        "Jun 1, 2024, 20:00"
    )
    await expect(days).to_have_count(2)  # today and 1 June, in UTC


async def test_live_text_speaks_the_blogs_language(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("wahl", "Wahlabend", language="de")
    for n in range(8):
        await newsroom.post("wahl", headline=f"Meldung {n}", body="<p>Text.</p>" * 6,
                            published_at=_ago(30 - n))  # fmt: skip
    page, _ = await pages.open(f"{server}/blogs/wahl", viewport=MOBILE)
    await expect(page.locator("#live-status")).to_have_text("Live")
    await expect(page.locator(".entry__ago").first).to_have_text("vor 23 Min.")
    await page.locator("#timeline > .entry").last.scroll_into_view_if_needed()
    await newsroom.post("wahl", headline="Hochrechnung")
    await expect(page.locator("#new-updates")).to_have_text("1 neuer Eintrag")
    await newsroom.post("wahl", headline="Zweite Hochrechnung", labels=["breaking"])
    await expect(page.locator("#new-updates")).to_have_text("2 neue Einträge")
    await page.locator("#new-updates").click()
    top = page.locator("#timeline > .entry").first
    await expect(top.locator(".label--breaking")).to_have_text("Eilmeldung")
    await expect(top.locator(".entry__ago")).to_have_text("gerade eben")


async def test_an_arabic_page_is_laid_out_right_to_left(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await _arabic_blog(newsroom)
    page, _ = await pages.open(f"{server}/blogs/gaza-ar", reduced_motion="reduce")
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.locator("#live-status")).to_have_text("مباشر")
    entry = page.locator("#timeline > .entry").first
    time_box = await entry.locator(".entry__time").bounding_box()
    main_box = await entry.locator(".entry__main").bounding_box()
    assert time_box and main_box and time_box["x"] > main_box["x"]  # the time column on the right
    stream = await page.locator(".lb-stream").bounding_box()
    keys = await page.locator("#key-events").bounding_box()
    assert stream and keys and keys["x"] < stream["x"]  # the key events box on the left
    await _settle(page)
    _save("reader-rtl-ar.png", await page.screenshot(full_page=False))


async def _arabic_blog(newsroom: Newsroom) -> None:
    await newsroom.blog("gaza-ar", "تغطية مباشرة: قمة المناخ", language="ar",
                        time_zone="Asia/Amman",
                        description="آخر المستجدات من الجلسة الختامية للقمة")  # fmt: skip
    await newsroom.post("gaza-ar", headline="افتتاح الجلسة الختامية", labels=["key"],
                        body="<p>بدأت الجلسة الختامية بكلمة رئيس القمة.</p>",
                        author="مكتب الأخبار", published_at=_ago(95))  # fmt: skip
    await newsroom.post("gaza-ar", headline="اتفاق على مسودة البيان", labels=["key", "breaking"],
                        body="<p>توصلت الوفود إلى اتفاق مبدئي على نص البيان الختامي.</p>",
                        author="مكتب الأخبار", published_at=_ago(40))  # fmt: skip
    await newsroom.post("gaza-ar", body="<p>صورة من القاعة قبل التصويت.</p>",
                        media=[{"url": "https://img.example/hall.jpg", "alt": "القاعة",
                                "caption": "القاعة الرئيسية", "credit": "وكالة الأنباء",
                                "width": 1600, "height": 900}],
                        published_at=_ago(12))  # fmt: skip


# --- the console's upload ------------------------------------------------------------------

# Put a picture on the composer as a drop or a paste would: a File in a DataTransfer.
GIVE_PICTURE = """async ([how, data]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], "square.png", { type: "image/png" }));
  const form = document.getElementById("composer");
  const options = { bubbles: true, cancelable: true };
  if (how === "drop") {
    form.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, ...options }));
    form.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, ...options }));
  } else {
    const body = form.querySelector("[data-role=body]");
    body.focus();
    body.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, ...options }));
  }
}"""
# Every value the progress bar takes, and whether it was shown.
WATCH_PROGRESS = """() => {
  const bar = document.querySelector("#composer [data-role=upload-progress]");
  window.progressSeen = [];
  new MutationObserver(() => window.progressSeen.push([bar.hidden, bar.value]))
    .observe(bar, { attributes: true });
}"""


def _png(color: tuple[int, int, int], size: tuple[int, int] = (1200, 800)) -> str:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


async def test_the_console_uploads_a_dropped_or_pasted_photo_and_asks_for_alt_text(
    settings_factory: Callable[..., Settings], tmp_path: Path, pages: Pages
) -> None:
    async with serve_in_process(settings_factory(media_dir=str(tmp_path))) as url:
        editor = Editor(url)
        try:
            await editor.blog("up", "Uploads")
            page, _ = await pages.open(f"{url}/editor?blog=up", wait_live=False)
            await _signed_in(page)
            composer = page.locator("#composer")
            await page.evaluate(WATCH_PROGRESS)

            await page.evaluate(GIVE_PICTURE, ["drop", _png((200, 30, 30))])
            status = composer.locator("[data-role=upload-status]")
            await expect(status).to_contain_text(re.compile(r"Uploaded \(1200 . 800\)"))
            photo_url = composer.locator("[name=photo_url]")
            await expect(photo_url).to_have_value(re.compile(r"^/media/up/[0-9a-f]{24}/1200\.png$"))
            await expect(composer.locator("[name=alt]")).to_be_focused()
            seen = await page.evaluate("window.progressSeen")
            assert [False, 0] in seen and seen[-1][0] is True  # shown, then hidden when done
            assert any(value == 100 for _, value in seen)

            # No alt text and not marked decorative: not published.
            await composer.locator("[name=caption]").fill("A red square")
            await composer.locator("[name=credit]").fill("Test desk")
            await composer.locator("[data-role=body]").press("Control+Enter")
            await expect(composer.locator("[data-role=errors]")).to_contain_text(
                "Describe the photo in Alt text, or mark it decorative."
            )
            assert (await editor.http.get("/api/blogs/up/entries")).json()["entries"] == []
            await composer.locator("[name=alt]").fill("A plain red square")
            await composer.locator("[data-role=body]").press("Control+Enter")
            await expect(photo_url).to_have_value("")  # published: the form is clear again

            await page.evaluate(GIVE_PICTURE, ["paste", _png((30, 30, 200), (800, 600))])
            await expect(status).to_contain_text(re.compile(r"Uploaded \(800 . 600\)"))
            await composer.locator("[name=decorative]").check()
            await composer.locator("[data-role=body]").press("Control+Enter")
            await expect(photo_url).to_have_value("")

            entries = (await editor.http.get("/api/blogs/up/entries")).json()["entries"]
            pasted, dropped = (entry["media"][0] for entry in entries)
            assert dropped["alt"] == "A plain red square" and dropped["caption"] == "A red square"
            assert dropped["credit"] == "Test desk" and not dropped["decorative"]
            assert (dropped["width"], dropped["height"]) == (1200, 800)
            assert {v["width"] for v in dropped["variants"]} == {480, 960, 1200}
            assert pasted["decorative"] and not pasted.get("alt")

            reader, _ = await pages.open(f"{url}/blogs/up")
            img = reader.locator(f"#entry-{entries[1]['id']} img")
            await expect(img).to_have_attribute("alt", "A plain red square")
            await expect(img).to_have_attribute("width", "1200")
            srcset = await reader.locator(f"#entry-{entries[1]['id']} source").get_attribute(
                "srcset"
            )
            assert srcset is not None and "480w" in srcset and "960w" in srcset
            await reader.close()
            await page.close()  # before the server stops: no failed reconnects to report
        finally:
            await editor.close()


# --- accessibility -------------------------------------------------------------------------


async def axe_violations(page: Page) -> list[str]:
    """axe-core's violations on the page as it is now (WCAG 2.x A and AA, and best practice)."""
    await page.evaluate(AXE.read_text())  # evaluate() is not subject to the page's CSP
    result: dict[str, Any] = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: "
        + json.dumps([node["target"] for node in v["nodes"]][:5])
        + " "
        + (v["nodes"][0].get("failureSummary") or "").replace("\n", " ")
        for v in result["violations"]
    ]


async def _signed_in(page: Page) -> None:
    await page.fill("#token-input", ADMIN_TOKEN)
    await page.click("#signin-form [type=submit]")
    await expect(page.locator("#stream-status")).to_have_attribute("data-state", "live")


async def _entry_page(page: Page) -> None:
    """An update's own page: the one with the photo."""
    article = page.locator(".entry").filter(has_text="A photo and a video")
    await page.goto(await article.locator(".entry__share").evaluate("a => a.href"))


async def _returning(page: Page) -> None:
    """Back after the oldest entry, at a link to it: new ones marked, counted; it is marked."""
    oldest = page.locator("#timeline > .entry").last
    seen = await oldest.evaluate(
        "n => ({id: n.dataset.id, key: `${String(Date.parse(n.dataset.published) * 1000)"
        ".padStart(17, '0')}:${n.dataset.id}`})"
    )
    await page.evaluate("seen => localStorage.setItem('liveblog:seen:a11y', JSON.stringify(seen))",
                        seen)  # fmt: skip
    await page.goto(f"{page.url}#entry-{seen['id']}")
    await page.reload()
    await expect(page.locator("#catch-up")).to_be_visible()
    await expect(page.locator(".entry--target")).to_be_visible()


PAGES: dict[str, tuple[str, bool, Callable[[Page], Awaitable[None]] | None]] = {
    # name: (path, wait for the live stream, what to do first)
    "index": ("/", False, None),
    "reader": ("/blogs/a11y", True, None),
    "key-events": ("/blogs/a11y?view=key", True, None),
    "rtl": ("/blogs/gaza-ar", True, None),
    "embed": ("/blogs/a11y/embed", True, None),
    "entry": ("/blogs/a11y", True, _entry_page),
    "returning": ("/blogs/a11y", True, _returning),
    "editor": ("/editor?blog=a11y", False, _signed_in),
    "dashboard": ("/dashboard", False, None),
}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", list(PAGES))
async def test_axe_finds_no_violations(
    server: str, newsroom: Newsroom, pages: Pages, name: str, scheme: str
) -> None:
    await newsroom.blog("a11y", "Accessible coverage", description="Checked by axe-core")
    body = "<p>It <a href='https://example.org'>began</a>.</p>"
    await newsroom.post("a11y", headline="A key event", labels=["key"], published_at=_ago(200),
                        author="Desk", body=body)  # fmt: skip
    await newsroom.post("a11y", headline="Breaking", labels=["breaking"], published_at=_ago(30))
    await newsroom.post("a11y", headline="Pinned", pinned=True, published_at=_ago(60))
    await newsroom.post(
        "a11y", headline="A photo and a video", published_at=_ago(5),
        media=[{"url": "https://img.example/a.jpg", "alt": "A square", "caption": "The square",
                "credit": "Agency", "width": 1600, "height": 900},
               {"type": "embed", "url": YOUTUBE, "caption": "The speech"}],
    )  # fmt: skip
    await newsroom.edit("a11y", (await newsroom.post("a11y", headline="Edited"))["id"],
                        headline="Edited later")  # fmt: skip
    await _arabic_blog(newsroom)
    path, live, prepare = PAGES[name]
    page, _ = await pages.open(
        f"{server}{path}", color_scheme=scheme, wait_live=live, reduced_motion="reduce"
    )
    if prepare is not None:
        await prepare(page)
    await _settle(page)
    violations = await axe_violations(page)
    assert violations == [], f"{name}, {scheme}:\n" + "\n".join(violations)


# --- screenshots for the README ------------------------------------------------------------


async def _rich_blog(newsroom: Newsroom) -> None:
    await newsroom.blog("summit", "Climate summit: the final day",
                        description="Negotiators race to agree a text before the deadline.",
                        time_zone="Europe/Berlin")  # fmt: skip
    yesterday = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    yesterday -= timedelta(days=1)
    await newsroom.post("summit", headline="Talks resume after a night of drafting",
                        labels=["key"], author="Politics desk",
                        body="<p>Delegations returned to the plenary hall at nine.</p>",
                        published_at=yesterday.isoformat())  # fmt: skip
    await newsroom.post("summit", headline="The hall before the vote", author="Picture desk",
                        body="<p>Delegates took their seats as the chair opened the session.</p>",
                        media=[{"url": "https://img.example/hall.jpg", "width": 1600,
                                "height": 900, "alt": "Delegates in a large hall",
                                "caption": "The plenary hall on the final morning",
                                "credit": "Summit pool",
                                "variants": [{"url": "https://img.example/hall-480.webp",
                                              "width": 480, "type": "image/webp"},
                                             {"url": "https://img.example/hall-960.webp",
                                              "width": 960, "type": "image/webp"}]}],
                        published_at=_ago(50))  # fmt: skip
    await newsroom.post("summit", headline="The chair's opening words", labels=["key"],
                        body="<p>“We are closer than we have ever been,” the chair said.</p>",
                        media=[{"type": "embed", "url": YOUTUBE,
                                "caption": "The chair's speech, in full"}],
                        published_at=_ago(20))  # fmt: skip
    await newsroom.post("summit", headline="Agreement on the final text",
                        labels=["key", "breaking"],
                        body="<p>The text was adopted without objection.</p>",
                        author="Politics desk", published_at=_ago(3))  # fmt: skip


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_screenshots_of_rich_entries(
    server: str, newsroom: Newsroom, pages: Pages, scheme: str
) -> None:
    await _rich_blog(newsroom)
    third = ThirdParty()
    page, _ = await pages.open(f"{server}/blogs/summit", color_scheme=scheme,
                               reduced_motion="reduce", before_load=third.install)  # fmt: skip
    await _settle(page)
    await expect(page.locator(".day-separator")).to_have_count(2)
    _save(f"reader-rich-{scheme}.png", await page.screenshot(full_page=True))
    card = page.locator(".embed-card").first
    _save(f"reader-embed-card-{scheme}.png", await card.screenshot())
    photo = page.locator(".entry__media:not(.embed-card)").first
    _save(f"reader-photo-{scheme}.png", await photo.locator("xpath=ancestor::article").screenshot())
    assert third.hosts() == ["img.example"]  # the photos; nothing from the video's provider

    view, _ = await pages.open(f"{server}/blogs/summit?view=key", color_scheme=scheme,
                               viewport=DESKTOP, reduced_motion="reduce")  # fmt: skip
    await _settle(view)
    _save(f"reader-key-events-{scheme}.png", await view.screenshot(full_page=True))

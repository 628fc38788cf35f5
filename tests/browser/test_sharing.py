"""Every update travels (docs/api.md, Sharing and embedding), in Chromium: the Share control
(the system share sheet where the browser has one, else the clipboard, else the link to copy by
hand, each said to screen readers in the page's language), an update's own page at 360 px and
on a desktop, light and dark, and a blog pasted into a publishing tool that embeds it the way
WordPress does (oEmbed discovery, its sandboxed frame, its height messages)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from html import escape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from playwright.async_api import Page, expect

from liveblog.config import Settings
from tests.browser.kit import DESKTOP, Newsroom, Pages, host_site
from tests.browser.test_screenshots import _save, _settle
from tests.support.servers import ADMIN_TOKEN, serve_in_process

PHONE = {"width": 360, "height": 740}
# navigator.share as a phone's browser has it, recording what it was given.
SHARE_SHEET = """
    window.shared = [];
    navigator.share = async (data) => { window.shared.push(data); };
"""


async def _clipboard(page: Page, server: str) -> None:
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)


@pytest.mark.parametrize(
    ("language", "copied", "share"),
    [("en", "Link copied", "Share"), ("uk", "Посилання скопійовано", "Поділитися")],
)
async def test_share_copies_the_entrys_link_and_says_so(
    server: str, newsroom: Newsroom, pages: Pages, language: str, copied: str, share: str
) -> None:
    await newsroom.blog("share", "Sharing", language=language)
    entry = await newsroom.post("share", headline="Worth sharing")
    page, _ = await pages.open(f"{server}/blogs/share", viewport=PHONE)
    await _clipboard(page, server)
    link = page.locator(f"#entry-{entry['id']} .entry__share")
    await expect(link).to_have_text(share)
    await expect(link).to_have_accessible_name(f"{share}: Worth sharing")
    await link.click()
    await expect(link).to_have_text(copied)
    await expect(page.locator("#announcer")).to_have_text(copied)  # aria-live: heard
    url = f"{server}/blogs/share/entries/{entry['id']}"
    assert await page.evaluate("navigator.clipboard.readText()") == url
    assert page.url == f"{server}/blogs/share"  # no navigation
    await expect(link).to_have_text(share)  # back to itself after a moment

    # An entry that arrives live is shared the same way.
    live = await newsroom.post("share", headline="Just in")
    await page.locator(f"#entry-{live['id']} .entry__share").click()
    assert await page.evaluate("navigator.clipboard.readText()") == (
        f"{server}/blogs/share/entries/{live['id']}"
    )


async def test_share_opens_the_system_share_sheet_where_there_is_one(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("share", "Sharing")
    entry = await newsroom.post("share", headline="Worth sharing")

    async def phone_browser(page: Page) -> None:
        await page.add_init_script(SHARE_SHEET)

    page, _ = await pages.open(f"{server}/blogs/share", viewport=PHONE, before_load=phone_browser)
    await page.locator(f"#entry-{entry['id']} .entry__share").click()
    # A function, not an expression: polling an expression evals it in the page, which the
    # page's CSP refuses (only seen when the first check comes too early, on a busy machine).
    await page.wait_for_function("() => window.shared.length === 1")
    shared = await page.evaluate("window.shared[0]")
    assert shared == {
        "title": "Worth sharing",
        "url": f"{server}/blogs/share/entries/{entry['id']}",
    }
    assert page.url == f"{server}/blogs/share"


async def test_without_share_sheet_or_clipboard_the_link_is_offered_to_copy(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("share", "Sharing", language="de")
    entry = await newsroom.post("share", headline="Worth sharing")
    page, _ = await pages.open(f"{server}/blogs/share", viewport=PHONE)
    # No permission to write the clipboard: the browser refuses.
    await page.context.clear_permissions()
    await page.evaluate(
        "() => { navigator.clipboard.writeText = () => Promise.reject(new Error('no')); }"
    )
    await page.locator(f"#entry-{entry['id']} .entry__share").click()
    field = page.locator(f"#entry-{entry['id']} .entry__share-url")
    await expect(field).to_be_focused()
    await expect(field).to_have_value(f"{server}/blogs/share/entries/{entry['id']}")
    await expect(field).to_have_accessible_name("Link zu diesem Eintrag")
    await expect(page.locator("#announcer")).to_have_text("Kopieren Sie den markierten Link")


async def test_without_javascript_share_is_the_entrys_own_page(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("share", "Sharing")
    entry = await newsroom.post("share", headline="Worth sharing", body="<p>Its text.</p>")
    page, _ = await pages.open(f"{server}/blogs/share", javascript=False)
    await page.locator(f"#entry-{entry['id']} .entry__share").click()
    await expect(page).to_have_url(f"{server}/blogs/share/entries/{entry['id']}")
    await expect(page.locator("h1")).to_have_text("Worth sharing")
    await page.get_by_role("link", name="See this update in the live blog").click()
    await expect(page).to_have_url(f"{server}/blogs/share#entry-{entry['id']}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("screen", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
async def test_an_entrys_own_page(
    server: str, newsroom: Newsroom, pages: Pages, scheme: str, screen: str,
    viewport: dict[str, int],
) -> None:  # fmt: skip
    await newsroom.blog("storm", "Storm Iris reaches the coast: live updates",
                        time_zone="Europe/London")  # fmt: skip
    entry = await newsroom.post(
        "storm",
        headline="Harbour wall breached at high tide",
        body="<p>Water poured over the old harbour wall shortly after the evening high tide, "
        "flooding the lower quay. The coastguard has closed the promenade.</p>",
        author="Coast desk",
        labels=["breaking"],
        media=[{"url": "https://img.example/harbour.jpg", "alt": "Waves over a stone wall",
                "caption": "The harbour wall at 18:40", "credit": "Reader photo",
                "width": 800, "height": 450}],
    )  # fmt: skip
    await newsroom.edit("storm", entry["id"], correction="The wall is the old one, not the new.")
    page, _ = await pages.open(
        f"{server}/blogs/storm/entries/{entry['id']}", viewport=viewport, color_scheme=scheme
    )
    await expect(page.locator("h1")).to_have_text("Harbour wall breached at high tide")
    await expect(page.locator(".entry__correction")).to_contain_text("the old one")
    await expect(page.get_by_role("link", name="Follow the live blog")).to_have_attribute(
        "href", "/blogs/storm"
    )
    await expect(page.locator("#lb-zone [aria-pressed=true]")).to_have_text(
        re.compile(r"^(BST|GMT|London Time)$")
    )
    assert await page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    await _settle(page)
    _save(f"entry-page-{screen}-{scheme}.png", await page.screenshot(full_page=True))


async def test_an_arabic_entry_page_is_right_to_left(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("qahira", "القاهرة مباشر", language="ar", time_zone="Africa/Cairo")
    entry = await newsroom.post("qahira", headline="افتتاح الجلسة", body="<p>بدأت الجلسة.</p>")
    page, _ = await pages.open(f"{server}/blogs/qahira/entries/{entry['id']}", viewport=PHONE)
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.get_by_role("link", name="تابع التغطية المباشرة")).to_be_visible()
    await expect(page.locator(f"#entry-{entry['id']} .entry__share")).to_have_text("مشاركة")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await _settle(page)
    _save("entry-page-phone-rtl-ar.png", await page.screenshot(full_page=True))


# --- oEmbed, consumed the way WordPress does --------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.oembed: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and values.get("type") == "application/json+oembed":
            self.oembed.append(values.get("href") or "")


class _Frame(HTMLParser):
    """wp_kses with WordPress's allowed tags for an untrusted provider: the iframe alone."""

    KEPT = ("src", "width", "height", "frameborder", "marginwidth", "marginheight", "scrolling",
            "title")  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self.iframe: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "iframe" and self.iframe is None:
            self.iframe = {k: v or "" for k, v in attrs if k in self.KEPT}


async def wordpress_embed(url: str, *, content_width: int = 600) -> str:
    """What WordPress puts in a post for a pasted URL of a provider it does not know
    (WP_oEmbed::discover, ::fetch, wp_filter_oembed_result)."""
    async with httpx.AsyncClient(timeout=10, follow_redirects=True) as http:
        page = await http.get(url)
        assert page.status_code == 200
        links = _Links()
        links.feed(page.text)
        assert links.oembed, "no oEmbed discovery link"
        # WordPress asks for its content width, and a height of at most 1.5 times that.
        bounds = {"maxwidth": content_width, "maxheight": min(content_width * 3 // 2, 1000)}
        provider = f"{links.oembed[0]}&{urlencode(bounds)}"
        answer = await http.get(provider)
        assert answer.status_code == 200
        data: dict[str, Any] = answer.json()
    assert data["version"] == "1.0" and data["type"] == "rich"
    assert data["width"] <= bounds["maxwidth"] and data["height"] <= bounds["maxheight"]
    frame = _Frame()
    frame.feed(data["html"])
    assert frame.iframe is not None, data["html"]
    secret = "s3cr3t"
    attrs = {**frame.iframe, "src": f"{frame.iframe['src']}#?secret={secret}",
             "data-secret": secret}  # fmt: skip
    shown = " ".join(f'{k}="{escape(v)}"' for k, v in attrs.items())
    return (
        f'<iframe class="wp-embedded-content" sandbox="allow-scripts" security="restricted" '
        f"{shown}></iframe>"
    )


# The part of WordPress's wp-embed.js that sizes such frames: a "height" message from the frame
# whose secret matches sets its height.
WP_EMBED = """<script>
window.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.message !== "height" || !data.secret) return;
  for (const frame of document.querySelectorAll(`iframe[data-secret="${data.secret}"]`)) {
    if (frame.contentWindow !== event.source) continue;
    frame.height = String(Math.min(1000, Math.max(200, data.value)));
  }
});
</script>"""


@pytest.fixture
async def trusted(settings_factory: Callable[..., Settings]) -> AsyncIterator[str]:
    """A server that knows its origin (an allowlisted Host): pages name their oEmbed URL."""
    async with serve_in_process(settings_factory(allowed_hosts="127.0.0.1")) as url:
        yield url


async def test_a_blog_pasted_into_a_publishing_tool_is_embedded_live(
    trusted: str, pages: Pages
) -> None:
    newsroom = Newsroom(trusted, ADMIN_TOKEN)
    try:
        await newsroom.blog("vote", "Election night", description="Results as they come")
        await newsroom.post("vote", headline="Polls close")
        counted = await newsroom.post("vote", headline="First count declared")
        post = "<h1>Our coverage</h1>" + await wordpress_embed(f"{trusted}/blogs/vote")
        single = await wordpress_embed(f"{trusted}/blogs/vote/entries/{counted['id']}")
        async with host_site(f"<!doctype html>{WP_EMBED}{post}<p>Another paragraph</p>") as site:
            page, _ = await pages.open(site, wait_live=False, viewport=DESKTOP)
            frame = page.frame_locator("iframe")
            await expect(frame.locator(".entry__headline")).to_have_text(
                ["First count declared", "Polls close"]
            )
            # Sandboxed, with no origin of its own, the frame still runs and stays live.
            await expect(frame.locator("#live-status")).to_have_attribute("data-state", "live")
            await newsroom.post("vote", headline="Turnout at 71%")
            await expect(frame.locator(".entry__headline").first).to_have_text("Turnout at 71%")
            # WordPress's own script sized the frame to its content from the height message.
            await expect(page.locator("iframe")).not_to_have_attribute("height", "800")
        async with host_site(f"<!doctype html>{WP_EMBED}{single}") as site:
            page, _ = await pages.open(site, wait_live=False, viewport=PHONE)
            frame = page.frame_locator("iframe")
            await expect(frame.locator("h1")).to_have_text("First count declared")
            await expect(frame.get_by_role("link", name="Follow the live blog")).to_be_visible()
    finally:
        await newsroom.close()

"""A Ukrainian and an Arabic blog, as their readers see them in Chromium: every word of the
interface comes from the blog's catalogue, server-rendered or written live by the script
(corrections, labels, bylines, photo credits, embed cards, the new-updates button, loading
older entries, the end of the blog), on the page, the embed and the not-found page. The test
reads every visible text and every title, aria-label and alt, and finds no English word."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.kit import Newsroom, Pages
from tests.browser.test_screenshots import _save, _settle

PHONE = {"width": 360, "height": 740}
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# Names, not words: the publisher (a setting), a provider, a feed format, time zone names; and
# "cookie", which Ukrainian writes in Latin letters ("файли cookie").
NAMES = {"liveblog", "YouTube", "Atom", "UTC", "GMT", "cookie"}

CONTENT: dict[str, dict[str, Any]] = {
    "uk": {
        "title": "Повінь на Подолі: наживо",
        "description": "Рятувальники на набережній.",
        "headline": "Оновлення",
        "body": "<p>Вода піднялася ще на пів метра.</p>",
        "author": "Олена Петренко",
        "alt": "Затоплена вулиця",
        "caption": "Поділ уранці",
        "credit": "Іван Коваль",
        "correction": "Уточнено висоту води.",
        "ended": "Завершено",
    },
    "ar": {
        "title": "فيضان في القاهرة: مباشر",
        "description": "فرق الإنقاذ على الكورنيش.",
        "headline": "تحديث",
        "body": "<p>ارتفع منسوب المياه نصف متر.</p>",
        "author": "ليلى حسن",
        "alt": "شارع غمرته المياه",
        "caption": "وسط البلد صباحًا",
        "credit": "عمر خالد",
        "correction": "صُحّح منسوب المياه.",
        "ended": "انتهى",
    },
}


async def english_words(page: Page) -> set[str]:
    text: str = await page.evaluate(
        """() => {
          const parts = [document.title, document.body.innerText];
          for (const node of document.querySelectorAll("[title], [aria-label], [alt]")) {
            for (const name of ["title", "aria-label", "alt"]) {
              if (node.hasAttribute(name)) parts.push(node.getAttribute(name));
            }
          }
          return parts.join("\\n");
        }"""
    )
    return set(LATIN_WORD.findall(text)) - NAMES


async def assert_no_english(page: Page, where: str) -> None:
    words = await english_words(page)
    assert words == set(), f"{where} shows English: {sorted(words)}"


async def fill_blog(newsroom: Newsroom, language: str) -> list[dict[str, Any]]:
    c = CONTENT[language]
    zone = "Europe/Kyiv" if language == "uk" else "Africa/Cairo"
    await newsroom.blog(
        "flood", c["title"], description=c["description"], language=language, time_zone=zone
    )
    photo = {"url": "https://photos.example/flood.jpg", "alt": c["alt"],
             "caption": c["caption"], "credit": c["credit"]}  # fmt: skip
    embed = {"type": "embed", "url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
             "caption": c["caption"]}  # fmt: skip
    yesterday = datetime.now(UTC) - timedelta(days=1)
    entries = []
    for n in range(24):
        fields: dict[str, Any] = {"headline": f"{c['headline']} {n}", "body": c["body"],
                                  "author": c["author"]}  # fmt: skip
        if n < 6:
            fields["published_at"] = (yesterday + timedelta(minutes=n)).isoformat()
        if n % 4 == 0:
            fields["labels"] = ["key"]
        if n == 22:
            fields |= {"labels": ["breaking", "key"], "media": [photo, embed]}
        if n == 23:
            fields["pinned"] = True
        entries.append(await newsroom.post("flood", **fields))
    await newsroom.edit("flood", entries[22]["id"], correction=c["correction"])
    return entries


@pytest.mark.parametrize("language", ["uk", "ar"])
async def test_a_blog_in_another_language_shows_no_english(
    server: str, newsroom: Newsroom, pages: Pages, language: str
) -> None:
    c = CONTENT[language]
    entries = await fill_blog(newsroom, language)
    page, _ = await pages.open(f"{server}/blogs/flood", viewport=PHONE)
    corrected = page.locator(f"#entry-{entries[22]['id']} .entry__correction")
    await expect(corrected).to_contain_text(c["correction"])
    await assert_no_english(page, "the page as served")
    article = page.locator(f"#entry-{entries[22]['id']}")
    await article.scroll_into_view_if_needed()
    await _settle(page)
    _save(f"reader-{language}-corrected-entry.png", await article.screenshot())

    # Live: a reader further down gets the new-updates button; a correction arrives live.
    await page.locator("#load-older").scroll_into_view_if_needed()
    await newsroom.post("flood", headline=f"{c['headline']} 24", body=c["body"],
                        author=c["author"], labels=["breaking"])  # fmt: skip
    await expect(page.locator("#new-updates")).to_be_visible()
    await assert_no_english(page, "the new-updates button")
    await page.locator("#new-updates").click()
    fresh = await newsroom.post("flood", headline=f"{c['headline']} 25", body=c["body"])
    await newsroom.edit("flood", fresh["id"], correction=c["correction"])
    live = page.locator(f"#entry-{fresh['id']} .entry__correction")
    await expect(live).to_contain_text(c["correction"])
    await page.locator("#load-older").click()
    await expect(page.locator("#timeline > .entry")).to_have_count(25)  # and 1 pinned
    await assert_no_english(page, "the page after live entries and older ones")
    await page.evaluate("window.scrollTo(0, 0)")
    await _settle(page)
    _save(f"reader-{language}-phone.png", await page.screenshot())

    await newsroom.patch_blog("flood", status="ended")
    await expect(page.locator("#live-status")).to_have_text(c["ended"])
    await assert_no_english(page, "the ended blog")

    embed, _ = await pages.open(f"{server}/blogs/flood/embed", viewport=PHONE, wait_live=False)
    await expect(embed.locator("#timeline > .entry").first).to_be_visible()
    await assert_no_english(embed, "the embed")
    missing, _ = await pages.open(  # its 404 is logged as a failed load: expected here
        f"{server}/blogs/flood?before=nonsense", wait_live=False, allow_network_errors=True
    )
    await assert_no_english(missing, "the not-found page of older updates")
    assert await missing.locator("html").get_attribute("lang") == language

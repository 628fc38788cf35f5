"""One time policy (docs/api.md, Sharing and embedding: Times): the server's rendering and the
script's agree to the digit, in the blog's zone and language, whatever the reader's zone (the
browser runs in Asia/Kolkata, see kit.TIMEZONE); the console and the dashboard write a blog's
times in its zone too, labelled, and the dashboard no longer doubles the date."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel import Locale
from playwright.async_api import expect

from liveblog.i18n import times
from tests.browser.kit import MOBILE, TIMEZONE, Newsroom, Pages
from tests.browser.test_newsroom import Console

# Each language of the catalogues with a zone of its own (and none of them the browser's).
ZONES = {"en": "America/New_York", "uk": "Europe/Kyiv", "de": "Europe/Berlin",
         "fr": "Europe/Paris", "es": "Atlantic/Canary", "ar": "Africa/Cairo"}  # fmt: skip
ASCII_DIGITS = re.compile(r"[0-9]")

READ_TIMES = """() => ({
    clocks: [...document.querySelectorAll("time[data-clock]")]
        .map(t => [t.dateTime, t.textContent]),
    titles: [...document.querySelectorAll(".entry__permalink")].map(a => a.title),
    days: [...document.querySelectorAll(".day-separator time")].map(t => t.textContent),
    zone: document.querySelector("#lb-zone .lb-zone__name, #lb-zone button")?.textContent,
})"""


async def _scene(newsroom: Newsroom, slug: str) -> list[dict[str, Any]]:
    """Entries across today, other days and another year, an edit, a correction, a key event."""
    now = datetime.now(UTC)
    made = []
    for minutes, headline in [(2, "Now"), (60 * 24 * 3, "Three days ago"), (None, "Last year")]:
        at = (
            now - timedelta(minutes=minutes)
            if minutes
            else datetime(2024, 12, 31, 23, 30, tzinfo=UTC)
        )
        made.append(await newsroom.post(slug, headline=headline, published_at=at.isoformat(),
                                        labels=["key"] if minutes == 2 else []))  # fmt: skip
    await newsroom.edit(slug, made[1]["id"], correction="A name was misspelt.")
    return made


@pytest.mark.parametrize("language", list(ZONES))
async def test_the_script_writes_the_times_the_server_wrote(
    server: str, newsroom: Newsroom, pages: Pages, language: str
) -> None:
    await newsroom.blog("times", "Times", language=language, time_zone=ZONES[language])
    made = await _scene(newsroom, "times")
    url = f"{server}/blogs/times"

    plain, _ = await pages.open(url, javascript=False)
    written = await plain.evaluate(READ_TIMES)
    page, _ = await pages.open(url, viewport=MOBILE)
    drawn = await page.evaluate(READ_TIMES)
    assert len(written["clocks"]) >= 6 and written["days"] and written["zone"]
    assert drawn == written
    for _, text in written["clocks"]:
        # Babel's numbering system for all six is latn: 13:13, never ١٣:١٣.
        assert ASCII_DIGITS.search(text) and not any(c.isdigit() and not c.isascii() for c in text)

    # The script's own formats, time by time, against the server's text for each.
    isos = [iso for iso, _ in written["clocks"]]
    script = await page.evaluate(
        """async isos => {
            const times = await import("/static/reader/times.js");
            return isos.map(iso => times.clock(new Date(iso)));
        }""",
        isos,
    )
    assert script == [text for _, text in written["clocks"]]

    # An entry the script renders itself, live: the same text the server gives it after.
    live = await newsroom.post("times", headline="Live now")
    clock = page.locator(f"#entry-{live['id']} .entry__clock")
    await expect(clock).to_be_visible()
    again, _ = await pages.open(url, javascript=False)
    server_text = await again.locator(f"#entry-{live['id']} .entry__clock").text_content()
    await expect(clock).to_have_text(server_text or "")
    assert {e["id"] for e in made} <= set(await page.locator(".entry").evaluate_all(
        "nodes => nodes.map(n => n.dataset.id)"))  # fmt: skip


async def test_a_reader_in_the_blogs_zone_gets_no_switch(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("local", "Local", time_zone=TIMEZONE)
    page, _ = await pages.open(f"{server}/blogs/local")
    await expect(page.locator("#lb-zone")).to_have_text("Kolkata Time")  # never Asia/Kolkata
    await expect(page.locator("#lb-zone button")).to_have_count(0)


def _clock(iso: str, zone: str, now: datetime) -> str:
    return times.clock(datetime.fromisoformat(iso), ZoneInfo(zone), Locale("en"), now)


async def test_the_console_and_the_dashboard_write_a_blogs_times_in_its_zone(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("kyiv", "Kyiv desk", language="uk", time_zone="Europe/Kyiv")
    await newsroom.blog("ny", "New York desk", time_zone="America/New_York")
    now = datetime.now(UTC)
    old = await newsroom.post("kyiv", headline="Days ago",
                              published_at=(now - timedelta(days=3)).isoformat())  # fmt: skip
    fresh = await newsroom.post("kyiv", headline="Just now")
    edited = await newsroom.edit("kyiv", fresh["id"], headline="Just now, edited")
    york = await newsroom.post("ny", headline="Morning in New York")

    console = await Console.open(pages, server, blog="kyiv")
    page = console.page
    # The console speaks English; its times are the blog's, in Kyiv, labelled with its zone.
    await expect(page.locator("#blog-zone")).to_have_text(re.compile(r"\S"))
    label = await page.locator("#blog-zone").text_content()
    assert label and "Europe/" not in label
    card = console.entry(old["id"])
    await expect(card.locator(".entry__clock")).to_have_text(
        _clock(old["published_at"], "Europe/Kyiv", now)
    )
    edit_meta = console.entry(fresh["id"]).locator(".nr-entry__version")
    await expect(edit_meta).to_contain_text(
        f"edited {_clock(edited['updated_at'], 'Europe/Kyiv', now)}"
    )

    dashboard, _ = await pages.open(f"{server}/dashboard", wait_live=False)
    kyiv = dashboard.locator('.nr-blogcard[data-slug="kyiv"]')
    ny = dashboard.locator('.nr-blogcard[data-slug="ny"]')
    # Each card in its own blog's zone; a day that is not today once, not "Dec 4 Dec 4, 10:00".
    await expect(kyiv.locator(".nr-latest__time")).to_have_text(
        [
            _clock(fresh["published_at"], "Europe/Kyiv", now),
            _clock(old["published_at"], "Europe/Kyiv", now),
        ]
    )
    await expect(ny.locator(".nr-latest__time")).to_have_text(
        [_clock(york["published_at"], "America/New_York", now)]
    )
    assert await kyiv.locator(".nr-latest").get_attribute("data-zone") == label
    assert await ny.locator(".nr-latest").get_attribute("data-zone") != label
    text = await kyiv.locator(".nr-latest__time").last.text_content() or ""
    assert len(re.findall(r"[A-Z][a-z]{2} \d", text)) == 1, text

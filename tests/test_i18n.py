"""Languages, direction and time zones of the reader's pages (docs/api.md: Blog language and
time_zone)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.clients import Editor

EXPECTED = {
    # language: (dir, "Key events", "Load older updates")
    "uk": ("ltr", "Ключові події", "Завантажити старіші оновлення"),
    "de": ("ltr", "Die wichtigsten Ereignisse", "Ältere Einträge laden"),
    "fr": ("ltr", "Les moments clés", "Charger les mises à jour précédentes"),
    "es": ("ltr", "Momentos clave", "Cargar actualizaciones anteriores"),
    "ar": ("rtl", "أبرز الأحداث", "تحميل تحديثات أقدم"),
}


def catalogue_json(html: str) -> str:
    found = re.search(r'<script type="application/json" id="liveblog-i18n">([^<]*)</script>', html)
    assert found is not None, "the page carries the script's catalogue"
    return found[1]


def _client_catalogue(html: str) -> Any:
    return json.loads(catalogue_json(html))


@pytest.mark.parametrize("language", list(EXPECTED))
async def test_the_page_speaks_the_blogs_language(editor: Editor, language: str) -> None:
    blog = await editor.blog("lang", language=language)
    assert blog["language"] == language and blog["time_zone"] == "UTC"
    for i in range(21):
        await editor.post("lang", headline=f"Entry {i}", labels=["key"] if i == 20 else [])
    html = (await editor.http.get("/blogs/lang")).text
    direction, key_events, older = EXPECTED[language]
    assert f'<html lang="{language}" dir="{direction}" ' in html
    assert f">{key_events}</h2>" in html
    assert older in html
    # The script's catalogue is keyed by the English source text; everything else is translated.
    catalogue = _client_catalogue(html)
    page = html.replace(catalogue_json(html), "")
    for english in ("Key events", "Load older updates", "Skip to content", "All live blogs"):
        assert english not in page
    assert catalogue["language"] == language
    assert catalogue["messages"]["Load older updates"] == older
    embed = (await editor.http.get("/blogs/lang/embed")).text
    assert f'<html lang="{language}" dir="{direction}" ' in embed


async def test_an_unknown_language_or_zone_is_refused(editor: Editor) -> None:
    for field, value in [("language", "xx-nowhere"), ("time_zone", "Europe/Atlantis"),
                         ("time_zone", "../etc/passwd")]:  # fmt: skip
        response = await editor.http.post(
            "/api/blogs", json={"slug": "bad", "title": "Bad", field: value}
        )
        assert response.status_code == 422, (field, value)
        assert response.json()["errors"][0]["path"] == f"$.{field}"


async def test_times_are_shown_in_the_blogs_zone_with_the_date(editor: Editor) -> None:
    await editor.blog("kyiv", language="uk", time_zone="Europe/Kyiv")
    # 21:30 in UTC on 1 June is 00:30 on 2 June in Kyiv.
    await editor.post("kyiv", headline="Night", published_at="2024-06-01T21:30:00Z")
    html = (await editor.http.get("/blogs/kyiv")).text
    clock = re.search(
        r'<time class="entry__clock" datetime="2024-06-01T21:30:00Z"[^>]*>([^<]+)<', html
    )
    # Another year: with it (spaces plain: see liveblog/i18n/times.py).
    assert clock is not None and clock[1] == "2 черв. 2024 р., 00:30"  # noqa: RUF001
    assert 'data-time-zone="Europe/Kyiv" data-numbering="latn"' in html
    assert '<span class="lb-zone__name">час: Київ</span>' in html  # never an IANA id
    patched = await editor.patch_blog("kyiv", time_zone="America/New_York")
    assert patched["time_zone"] == "America/New_York"
    html = (await editor.http.get("/blogs/kyiv")).text
    assert ">1 черв. 2024 р., 17:30<" in html  # noqa: RUF001
    assert '<span class="lb-zone__name">час: Нью-Йорк</span>' in html


async def test_the_script_gets_the_blogs_catalogue_with_plural_forms(editor: Editor) -> None:
    await editor.blog("kyiv", language="uk")
    catalogue = _client_catalogue((await editor.http.get("/blogs/kyiv")).text)
    assert catalogue["messages"]["Reconnecting…"] == "Повторне підключення…"
    assert catalogue["messages"]["just now"] == "щойно"
    # Intl.PluralRules("uk") picks one of these by the number (1, 3, 5, 1.5 new updates).
    forms = catalogue["plurals"]["new_updates"]
    assert set(forms) >= {"one", "few", "many"}
    assert forms["one"] == "%(count)s нове оновлення"
    assert forms["few"] == "%(count)s нові оновлення"
    assert forms["many"] == "%(count)s нових оновлень"
    embed = (await editor.http.get("/blogs/kyiv/embed")).text
    assert _client_catalogue(embed)["messages"]["Live"] == catalogue["messages"]["Live"]


async def test_a_timeline_that_spans_days_has_a_heading_per_day(editor: Editor) -> None:
    await editor.blog("days", language="de", time_zone="Europe/Berlin")
    # 23:30 UTC on 1 June is 01:30 on 2 June in Berlin: a day of its own there.
    for at, headline in [("2024-06-01T10:00:00Z", "Morning"), ("2024-06-01T21:00:00Z", "Late"),
                         ("2024-06-01T23:30:00Z", "After midnight")]:  # fmt: skip
        await editor.post("days", headline=headline, published_at=at)
    html = (await editor.http.get("/blogs/days")).text
    timeline = html.split('id="timeline"', 1)[1].split('id="timeline-empty"', 1)[0]
    order = re.findall(r'class="day-separator"[^>]*>.*?>([^<]+)</time>|<h3[^>]*>([^<]+)</h3>',
                       timeline)  # fmt: skip
    assert [day or headline for day, headline in order] == [
        "Sonntag, 2. Juni 2024", "After midnight", "Samstag, 1. Juni 2024", "Late", "Morning"
    ]  # fmt: skip

    await editor.blog("one-day", time_zone="Europe/Berlin")
    for at in ("2024-06-01T10:00:00Z", "2024-06-01T21:00:00Z"):
        await editor.post("one-day", headline="Same day", published_at=at)
    assert "day-separator" not in (await editor.http.get("/blogs/one-day")).text


async def test_the_index_writes_each_blogs_time_in_its_zone(editor: Editor) -> None:
    for slug, zone in (("kyiv", "Europe/Kyiv"), ("utc", "UTC")):
        await editor.blog(slug, language="uk", time_zone=zone)
        await editor.post(slug, headline="Night", published_at="2024-06-01T21:30:00Z")
    html = (await editor.http.get("/")).text  # in the default language, "en"
    times = dict(
        (name, (int(hour) * 60 + int(minute)))
        for hour, minute, name in re.findall(r", (\d\d):(\d\d) (Kyiv Time|UTC)</time>", html)
    )
    offset = datetime.now(ZoneInfo("Europe/Kyiv")).utcoffset()
    assert offset is not None
    # Each blog was last active when it was made (just now): Kyiv's clock is ahead of UTC's.
    assert (times["Kyiv Time"] - times["UTC"]) % (24 * 60) in {
        offset.seconds // 60,
        offset.seconds // 60 + 1,
    }
    assert "Europe/Kyiv" not in html


# What the script writes (sharing, deep links, catch-up, the zone switch) and an entry's page.
SCRIPT_STRINGS = [
    "Share", "Share: %(title)s", "Link copied", "Link to this update", "Copy the selected link",
    "My time", "Time zone", "New", "Jump to the first", "Dismiss",
    "This update is no longer available.", "Could not load this update. Try again",
    "More than %(count)s updates since your last visit",
]  # fmt: skip
PAGE_STRINGS = ["An update from the live blog", "Follow the live blog", "Read the live blog",
                "See this update in the live blog"]  # fmt: skip


@pytest.mark.parametrize("language", list(EXPECTED))
def test_every_new_reader_string_is_translated(language: str) -> None:
    from liveblog import i18n
    from liveblog.pages.templating import CLIENT_MESSAGES, CLIENT_PLURALS

    assert set(SCRIPT_STRINGS) <= set(CLIENT_MESSAGES)  # the page hands them to the script
    catalogue = i18n.catalogue(language)
    for message in SCRIPT_STRINGS + PAGE_STRINGS:
        assert catalogue.gettext(message) != message, (language, message)
    for name in ("newer_updates", "since_last_visit"):
        singular, plural = CLIENT_PLURALS[name]
        for n in (1, 2, 3, 5, 11, 21, 100, 1_000_000):  # every CLDR plural category of the six
            text = catalogue.ngettext(singular, plural, n)
            assert text and text not in (singular, plural), (language, name, n)

"""Languages, direction and time zones of the reader's pages (docs/api.md: Blog language and
time_zone)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from babel.messages.extract import extract_python
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

import liveblog
from liveblog import i18n
from liveblog.config import Settings
from liveblog.pages.assets import STATIC_DIR, TEMPLATES_DIR
from liveblog.pages.templating import CLIENT_MESSAGES
from tests.support.clients import Editor
from tests.support.servers import serve_in_process

ROOT = Path(liveblog.__file__).parent

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


# --- every word readers see comes from the catalogues -----------------------------------------


def _literal(message: object) -> list[str]:
    """The msgid of an extracted call; none for ``gettext(variable)``."""
    first = message[0] if isinstance(message, tuple) else message
    return [first] if isinstance(first, str) else []


def _template_messages() -> set[str]:
    found: set[str] = set()
    for path in sorted(TEMPLATES_DIR.glob("*.html")):  # the reader's (newsroom/ is English)
        with path.open("rb") as file:
            for _, _, message, _ in babel_extract(file, ["_", "gettext", "ngettext"], [], {}):
                found.update(_literal(message))
    return found


def _python_messages() -> set[str]:
    found: set[str] = set()
    for path in sorted((ROOT / "pages").glob("*.py")):
        with path.open("rb") as file:
            for _, _, message, _ in extract_python(file, ["gettext"], [], {}):
                found.update(_literal(message))
    return found


def _script_messages() -> set[str]:
    found: set[str] = set()
    for path in [STATIC_DIR / "reader.js", *sorted((STATIC_DIR / "reader").glob("*.js"))]:
        found.update(re.findall(r'\bt\(\s*"([^"]+)"', path.read_text()))
        # t(SOME_TABLE[key]) and t(kind ? "a" : "b"): the tables' and branches' words
        found.update(re.findall(r'\bt\([^)]*\?\s*"([^"]+)"\s*:\s*"([^"]+)"', path.read_text()))
    return {m for group in found for m in ([group] if isinstance(group, str) else group)}


def test_every_reader_message_has_a_translation_in_every_catalogue() -> None:
    messages = _template_messages() | _python_messages() | set(CLIENT_MESSAGES)
    assert {"Corrected", "Live coverage", "This page could not be found", "Photo: %(credit)s"} <= (
        messages
    )
    assert _script_messages() <= set(CLIENT_MESSAGES), "the script's words reach its catalogue"
    for language in i18n.LANGUAGES[1:]:
        path = ROOT / "i18n" / "locales" / language / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as file:
            catalogue = read_po(file, locale=language)
        missing = [
            m for m in sorted(messages) if not (found := catalogue.get(m)) or not found.string
        ]
        assert missing == [], f"{language} lacks {missing}"


async def test_corrections_feeds_and_not_found_pages_speak_the_blogs_language(
    editor: Editor,
) -> None:
    await editor.blog("kyiv", "Київ наживо", language="uk")
    entry = await editor.post(
        "kyiv",
        body="<p>Текст.</p>",
        media=[{"url": "https://photos.example/a.jpg", "alt": "Міст", "credit": "Олена"}],
    )
    await editor.edit("kyiv", entry["id"], correction="Уточнено назву мосту.")
    page = (await editor.http.get("/blogs/kyiv")).text
    assert ">Виправлено <time" in page and "Corrected" not in page.replace(catalogue_json(page), "")
    older = await editor.http.get("/blogs/kyiv", params={"before": "not-a-cursor"})
    assert older.status_code == 404
    assert "Цю сторінку старіших оновлень не знайдено" in older.text
    assert '<html lang="uk"' in older.text
    feed = (await editor.http.get("/blogs/kyiv/feed.atom")).text
    assert 'xml:lang="uk"' in feed and "Фото: Олена" in feed and "Photo:" not in feed


async def test_the_index_speaks_the_sites_language(
    settings_factory: Callable[..., Settings],
) -> None:
    async with (
        serve_in_process(settings_factory(default_language="ar", page_cache_seconds=0)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        empty = (await http.get("/")).text
        assert "لا توجد تغطيات مباشرة بعد." in empty and "No live blogs" not in empty
        editor = Editor(url)
        await editor.blog("cairo", "القاهرة مباشر", language="ar")
        await editor.blog("giza", "الجيزة", language="ar", status="ended")
        await editor.post("cairo", body="<p>نص.</p>")
        await editor.close()
        index = (await http.get("/")).text
        assert '<html lang="ar" dir="rtl"' in index
        for arabic in ("التغطيات المباشرة", "مباشر", "انتهى", "آخر تحديث", "بدأت"):
            assert arabic in index
        for english in ("Live coverage", ">Live<", ">Ended<", "Last update", "Started"):
            assert english not in index
        missing = (await http.get("/nowhere")).text
        assert "تعذّر العثور على هذه الصفحة" in missing


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

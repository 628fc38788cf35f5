"""Languages, direction and time zones of the reader's pages (docs/api.md: Blog language and
time_zone)."""

from __future__ import annotations

import json
import re
from typing import Any

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
    assert f'<html lang="{language}" dir="{direction}">' in html
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
    assert f'<html lang="{language}" dir="{direction}">' in embed


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
    assert clock is not None and clock[1] == "2 черв., 00:30"
    patched = await editor.patch_blog("kyiv", time_zone="America/New_York")
    assert patched["time_zone"] == "America/New_York"
    html = (await editor.http.get("/blogs/kyiv")).text
    assert ">1 черв., 17:30<" in html


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


def test_the_newsroom_catalogues_hold_every_word_of_its_pages_and_scripts() -> None:
    """The console, dashboard and People screen speak the six languages: each message of their
    templates and scripts (what `pybabel extract -F liveblog/i18n/newsroom.cfg` finds) has a
    translation in every catalogue, with the same placeholders."""
    from pathlib import Path

    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    import liveblog
    from liveblog import i18n

    root = Path(liveblog.__file__).resolve().parents[1]
    method_map = [("web/templates/newsroom/**.html", "jinja2"),
                  ("web/static/newsroom/**.js", "javascript")]  # fmt: skip
    keywords = {"_": None, "t": None, "tn": (1, 2)}
    found = {
        message if isinstance(message, str) else message[0]
        for _, _, message, _, _ in extract_from_dir(root, method_map, keywords=keywords)
    }
    assert len(found) > 250
    placeholder = re.compile(r"%\((\w+)\)s")
    for language in [code for code in i18n.LANGUAGES if code != "en"]:
        path = root / "liveblog" / "i18n" / "locales" / language / "LC_MESSAGES" / "newsroom.po"
        with path.open("rb") as file:
            catalogue = read_po(file, locale=language)
        translated = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalogue if m.id}
        missing = sorted(found - translated.keys())
        assert missing == [], f"{language}: {missing[:5]}"
        for message_id in found:
            strings = translated[message_id].string
            for text in [strings] if isinstance(strings, str) else strings:
                assert text, f"{language}: {message_id!r} is not translated"
                # A plural form may say the number in words ("one draft"), not the others.
                if isinstance(strings, str):
                    wanted = set(placeholder.findall(message_id))
                    assert set(placeholder.findall(text)) == wanted, (language, message_id)


async def test_the_newsroom_pages_speak_the_browsers_language(editor: Editor) -> None:
    page = await editor.http.get("/editor", headers={"Accept-Language": "fr-CH, de;q=0.8"})
    assert '<html lang="fr" dir="ltr">' in page.text
    assert "Se connecter à la rédaction" in page.text
    catalogue = json.loads(
        re.search(r'<script type="application/json" id="newsroom-i18n">([^<]*)</script>',
                  page.text)[1]  # type: ignore[index]
    )  # fmt: skip
    assert catalogue["messages"]["Retry now"] == "Réessayer maintenant"
    assert catalogue["plurals"]["%(count)s unfinished entry"]["one"] == "%(count)s entrée inachevée"
    chosen = await editor.http.get(
        "/dashboard",
        headers={"Accept-Language": "fr", "Cookie": "liveblog-newsroom-language=ar"},
    )
    assert '<html lang="ar" dir="rtl">' in chosen.text
    unknown = await editor.http.get("/people", headers={"Accept-Language": "pl, zh;q=0.5"})
    assert '<html lang="en" dir="ltr">' in unknown.text

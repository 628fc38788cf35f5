"""Languages, direction and time zones of the reader's pages (API.md: Blog language, time_zone)."""

from __future__ import annotations

import re

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
    for english in ("Key events", "Load older updates", "Skip to content", "All live blogs"):
        assert english not in html
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

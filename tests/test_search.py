"""Search (``GET /api/blogs/{slug}/entries?q=``): every word, in headline, text or captions,
ignoring case and accents, stems in the blog's language; readers find published entries only;
the index follows every edit and delete; pages by cursor. On the memory engine, Redis and a
Redis Cluster (the index lives in the blog's slot)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from tests.conftest import ALL_ENGINES
from tests.support.clients import Editor

BASE = datetime(2024, 6, 1, tzinfo=UTC)


def _at(minutes: int) -> str:
    return (BASE + timedelta(minutes=minutes)).isoformat()


async def _search(
    editor: Editor, slug: str, q: str, *, token: bool = False, **params: Any
) -> dict[str, Any]:
    """A reader's search (no token), or the staff's with ``token``."""
    client = editor.http if token else httpx.AsyncClient(base_url=editor.base_url)
    try:
        response = await client.get(f"/api/blogs/{slug}/entries", params={"q": q, **params})
    finally:
        if not token:
            await client.aclose()
    assert response.status_code == 200, response.text
    return response.json()


async def _found(editor: Editor, slug: str, q: str, **params: Any) -> list[str]:
    return [entry["id"] for entry in (await _search(editor, slug, q, **params))["entries"]]


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_words_in_headline_text_and_captions_are_found(editor: Editor) -> None:
    await editor.blog("war")
    headline = await editor.post("war", headline="Ceasefire talks resume", body="<p>Talks.</p>")
    body = await editor.post("war", body="<p>Shelling near the <b>river</b>bank overnight</p>")
    photo = await editor.post(
        "war",
        body="<p>Pictures from the square.</p>",
        media=[{"url": "https://example.org/a.jpg", "caption": "Crowd at the harbour",
                "alt": "People waving yellow flags"}],
    )  # fmt: skip
    await editor.post("war", headline="Weather", body="<p>Rain all day.</p>")

    assert await _found(editor, "war", "ceasefire") == [headline["id"]]
    assert await _found(editor, "war", "shelling") == [body["id"]]
    assert await _found(editor, "war", "harbour") == [photo["id"]]  # caption
    assert await _found(editor, "war", "flags") == [photo["id"]]  # alt text
    # Tags separate words: "river" and "bank" are two words, "riverbank" none.
    assert await _found(editor, "war", "river") == [body["id"]]
    assert await _found(editor, "war", "elephant") == []
    result = await _search(editor, "war", "talks")
    assert result["total"] == 1 and result["next"] is None and result["last_event_id"]


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_case_and_accents_are_ignored(editor: Editor) -> None:
    await editor.blog("kyiv")
    city = await editor.post("kyiv", headline="Air-raid alert in KYÏV")
    cv = await editor.post("kyiv", body="<p>She sent her résumé to the Café.</p>")
    greek = await editor.post("kyiv", body="<p>Στην ΑΘΗΝΑ σήμερα</p>")

    assert await _found(editor, "kyiv", "Kyiv") == [city["id"]]
    assert await _found(editor, "kyiv", "kyïv") == [city["id"]]
    assert await _found(editor, "kyiv", "resume") == [cv["id"]]
    assert await _found(editor, "kyiv", "RÉSUMÉ cafe") == [cv["id"]]
    assert await _found(editor, "kyiv", "Αθήνα") == [greek["id"]]


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_words_are_stemmed_in_the_blogs_language(editor: Editor) -> None:
    await editor.blog("en", language="en")
    protest = await editor.post("en", headline="Protests grow in the capital")
    await editor.post("en", headline="A quiet night")
    assert await _found(editor, "en", "protest ") == [protest["id"]]  # whole word: the stem
    assert await _found(editor, "en", "protesting ") == [protest["id"]]

    await editor.blog("de", language="de")
    houses = await editor.post("de", body="<p>Viele Häuser wurden beschädigt.</p>")
    assert await _found(editor, "de", "Haus ") == [houses["id"]]
    assert await _found(editor, "de", "beschadigt") == [houses["id"]]

    await editor.blog("ar", language="ar")
    demo = await editor.post("ar", headline="المظاهرات في القاهرة")
    assert await _found(editor, "ar", "مظاهرة ") == [demo["id"]]  # without the article

    # Ukrainian has no stemmer: its words match case-insensitively, as written, and the last
    # word of a query also as the beginning of a longer one.
    await editor.blog("uk", language="uk")
    kyiv = await editor.post("uk", headline="Вибухи в Києві")
    assert await _found(editor, "uk", "КИЄВІ") == [kyiv["id"]]
    assert await _found(editor, "uk", "вибух") == [kyiv["id"]]


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_every_word_is_required_and_the_last_may_begin_a_word(editor: Editor) -> None:
    await editor.blog("and")
    both = await editor.post("and", headline="Zelensky meets Macron in Paris")
    one = await editor.post("and", headline="Zelensky visits the front")
    assert await _found(editor, "and", "zelensky macron") == [both["id"]]
    assert await _found(editor, "and", "zelensky") == [one["id"], both["id"]]  # newest first
    assert await _found(editor, "and", "macron front") == []
    # The last word may begin a longer word ("zelen"), unless the query ends with a space.
    assert await _found(editor, "and", "paris zelen") == [both["id"]]
    assert await _found(editor, "and", "zelen ") == []
    assert await _found(editor, "and", "zelen paris") == []  # only the last word
    # CJK: no spaces between words; the characters' pairs are searched.
    chinese = await editor.post("and", body="<p>北京大学的学生今天上街</p>")
    assert await _found(editor, "and", "北京大学") == [chinese["id"]]
    assert await _found(editor, "and", "学") == [chinese["id"]]
    assert await _found(editor, "and", "大北") == []


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_readers_never_find_what_they_may_not_see(editor: Editor) -> None:
    await editor.blog("secret")
    await editor.blog("other")
    published = await editor.post("secret", headline="Embargo lifted", published_at=_at(0))
    draft = await editor.post("secret", headline="Embargo draft", status="draft")
    submitted = await editor.post("secret", headline="Embargo story", status="submitted")
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    scheduled = await editor.post("secret", headline="Embargo ends", status="scheduled",
                                  publish_at=later)  # fmt: skip

    assert await _found(editor, "secret", "embargo") == [published["id"]]
    # A token alone searches what readers see; status=all searches every status.
    assert await _found(editor, "secret", "embargo", token=True) == [published["id"]]
    everything = await _search(editor, "secret", "embargo", token=True, status="all")
    ids = {e["id"]: e["status"] for e in everything["entries"]}
    assert ids == {
        published["id"]: "published", draft["id"]: "draft", submitted["id"]: "submitted",
        scheduled["id"]: "scheduled",
    }  # fmt: skip
    assert everything["total"] == 4

    async with httpx.AsyncClient(base_url=editor.base_url) as reader:
        url = "/api/blogs/secret/entries"
        assert (await reader.get(url, params={"q": "embargo", "status": "all"})).status_code == 401
        created = await editor.http.post(
            "/api/tokens", json={"name": "Elsewhere", "role": "editor", "blogs": ["other"]}
        )
        reader.headers["Authorization"] = f"Bearer {created.json()['token']}"
        assert (await reader.get(url, params={"q": "embargo", "status": "all"})).status_code == 403
        assert (await reader.get(url, params={"q": "embargo"})).json()["total"] == 1


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_edits_deletes_and_publication_change_what_is_found(editor: Editor) -> None:
    await editor.blog("edits")
    entry = await editor.post("edits", headline="Bridge closed", body="<p>Traffic jam.</p>")
    assert await _found(editor, "edits", "bridge") == [entry["id"]]

    await editor.edit("edits", entry["id"], headline="Tunnel closed")
    assert await _found(editor, "edits", "bridge") == []
    assert await _found(editor, "edits", "tunnel jam") == [entry["id"]]

    await editor.edit("edits", entry["id"], status="draft")  # taken back from readers
    assert await _found(editor, "edits", "tunnel") == []
    assert await _found(editor, "edits", "tunnel", token=True, status="all") == [entry["id"]]
    await editor.edit("edits", entry["id"], status="published")
    assert await _found(editor, "edits", "tunnel") == [entry["id"]]

    # A new time moves it in the timeline: the index moves it too.
    older = await editor.post("edits", headline="Tunnel reopened", published_at=_at(0))
    await editor.edit("edits", entry["id"], published_at=_at(-10))
    assert await _found(editor, "edits", "tunnel") == [older["id"], entry["id"]]

    await editor.delete("edits", entry["id"])
    assert await _found(editor, "edits", "tunnel") == [older["id"]]
    gone = await _search(editor, "edits", "jam", token=True, status="all")
    assert gone["entries"] == [] and gone["total"] == 0  # out of the index, not just hidden


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_results_page_by_cursor_newest_first(editor: Editor) -> None:
    await editor.blog("pages")
    matching = []
    for i in range(45):
        matching.append(await editor.post("pages", headline=f"Convoy update {i}",
                                          published_at=_at(i * 2)))  # fmt: skip
        if i % 5 == 0:
            await editor.post("pages", headline=f"Other news {i}", published_at=_at(i * 2 + 1))
    pages, cursor = [], None
    while True:
        params = {"limit": 20} | ({"before": cursor} if cursor else {})
        page = await _search(editor, "pages", "convoy", **params)
        assert page["total"] == 45
        pages.append([e["id"] for e in page["entries"]])
        cursor = page["next"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [20, 20, 5]
    assert [i for page in pages for i in page] == [e["id"] for e in reversed(matching)]


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"q": "x" * 201}, "q"),
        ({"q": "!!! ..."}, "q"),
        ({"q": ""}, "q"),
        ({"q": " ".join(f"word{i}" for i in range(13))}, "q"),
        ({"q": "fire", "status": "draft"}, "status"),
        ({"q": "fire", "before": "not-a-cursor"}, "before"),
    ],
)
async def test_a_query_that_cannot_be_searched_is_422(
    editor: Editor, params: dict[str, Any], path: str
) -> None:
    await editor.blog("bad")
    response = await editor.http.get("/api/blogs/bad/entries", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["path"] == path


async def test_searching_a_blog_that_does_not_exist_is_404(editor: Editor) -> None:
    response = await editor.http.get("/api/blogs/nowhere/entries", params={"q": "fire"})
    assert response.status_code == 404


@pytest.mark.parametrize("engine_name", ["redis", "cluster"])
async def test_entries_from_before_the_index_are_indexed_on_the_first_search(
    editor: Editor, engine_name: str, request: pytest.FixtureRequest
) -> None:
    """A blog written before search existed: its entries are indexed when it is first
    searched (here the index is taken away, as an older version would have left it)."""
    await editor.blog("old")
    entries = [await editor.post("old", headline=f"Harbour report {i}", published_at=_at(i))
               for i in range(250)]  # fmt: skip
    draft = await editor.post("old", headline="Harbour draft", status="draft")
    url = request.getfixturevalue("cluster_url" if engine_name == "cluster" else "redis_url")
    client: Any = (
        aioredis.RedisCluster.from_url(url) if engine_name == "cluster" else aioredis.from_url(url)
    )
    try:
        names = [k async for k in client.scan_iter(match="lb:{old}:search*", count=1000)]
        assert len(names) > 3
        for name in names:
            await client.delete(name)
    finally:
        await client.aclose()
    page = await _search(editor, "old", "harbour", limit=100)
    assert page["total"] == 250
    assert [e["id"] for e in page["entries"]] == [e["id"] for e in reversed(entries)][:100]
    everything = await _search(editor, "old", "harbour draft", token=True, status="all")
    assert [e["id"] for e in everything["entries"]] == [draft["id"]]


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_a_new_language_indexes_the_blog_again(editor: Editor) -> None:
    await editor.blog("lang", language="en")
    houses = await editor.post("lang", body="<p>Viele Häuser brennen.</p>")
    assert await _found(editor, "lang", "haus ") == []  # English stems: "hauser"
    await editor.patch_blog("lang", language="de")
    assert await _found(editor, "lang", "haus ") == [houses["id"]]
    later = await editor.post("lang", body="<p>Zwei Häuser mehr.</p>")
    assert await _found(editor, "lang", "haus ") == [later["id"], houses["id"]]


async def test_searches_at_the_same_time_while_the_index_is_made(editor: Editor) -> None:
    await editor.blog("crowd")
    for i in range(30):
        await editor.post("crowd", headline=f"Flood warning {i}")
    results = await asyncio.gather(*(_search(editor, "crowd", "flood") for _ in range(10)))
    assert {r["total"] for r in results} == {30}


# --- the reader page: a GET form and server-rendered results --------------------------------


def _result_ids(html: str) -> list[str]:
    listed = html.split('id="search-list"', 1)[1]
    return re.findall(r'<article [^>]*data-id="([^"]+)"', listed)


async def test_the_reader_page_has_a_search_box_that_needs_no_script(editor: Editor) -> None:
    await editor.blog("page")
    page = (await editor.http.get("/blogs/page")).text
    form = re.search(r'<form class="lb-search"[^>]*>', page)
    assert form is not None
    assert 'method="get"' in form[0] and 'action="/blogs/page"' in form[0]
    assert 'name="q"' in page


async def test_search_results_are_rendered_by_the_server(editor: Editor) -> None:
    await editor.blog("res")
    matching = [await editor.post("res", headline=f"Evacuation route {i}", published_at=_at(i))
                for i in range(23)]  # fmt: skip
    await editor.post("res", headline="Evacuation plan draft", status="draft")
    await editor.post("res", headline="Weather")
    async with httpx.AsyncClient(base_url=editor.base_url) as reader:
        response = await reader.get("/blogs/res", params={"q": "evacuation"})
        assert response.status_code == 200
        html = response.text
        assert "23 updates match “evacuation”" in html
        assert _result_ids(html) == [e["id"] for e in reversed(matching)][:20]
        assert "draft" not in html.split('id="search-list"', 1)[1]
        assert 'href="/blogs/res"' in html  # back to the live updates
        assert '<meta name="robots" content="noindex, follow">' in html
        older = re.search(r'id="search-older" href="([^"]+)"', html)
        assert older is not None
        second = await reader.get("/blogs/res" + older[1].replace("&amp;", "&"))
        assert _result_ids(second.text) == [e["id"] for e in reversed(matching)][20:]
        assert 'id="search-older"' not in second.text
        # Each result leads to its place in the blog: the older page that starts with it.
        context = re.findall(r'class="search-result__context"><a href="([^"]+)"', second.text)
        first = await reader.get(context[0].replace("&amp;", "&"))
        assert re.findall(r'<article [^>]*data-id="([^"]+)"', first.text)[0] == matching[2]["id"]

        none = await reader.get("/blogs/res", params={"q": "<b>volcano</b>"})
        assert none.status_code == 200
        assert "No updates match “&lt;b&gt;volcano&lt;/b&gt;”." in none.text
        assert "<b>volcano" not in none.text
        empty = await reader.get("/blogs/res", params={"q": "  "}, follow_redirects=False)
        assert empty.status_code == 303 and empty.headers["location"] == "/blogs/res"
        bad = await reader.get("/blogs/res", params={"q": "?!"})
        assert bad.status_code == 422 and 'class="lb-search"' in bad.text
        missing = await reader.get("/blogs/nowhere", params={"q": "evacuation"})
        assert missing.status_code == 404


async def test_search_results_speak_the_blogs_language(editor: Editor) -> None:
    await editor.blog("ua", language="uk")
    await editor.post("ua", headline="Евакуація з Харкова")
    html = (await editor.http.get("/blogs/ua", params={"q": "евакуація"})).text
    assert "запитом «евакуація» знайдено 1 оновлення" in html
    assert "Назад до онлайн-оновлень" in html


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_restored_and_imported_entries_are_found_by_what_they_now_say(
    editor: Editor,
) -> None:
    await editor.blog("desk")
    entry = await editor.post("desk", headline="Harbour reopens", body="<p>Ships wait.</p>")
    path = f"/api/blogs/desk/entries/{entry['id']}"
    edited = await editor.http.patch(path, json={"headline": "Bridge closes"})
    assert edited.status_code == 200, edited.text
    assert await _found(editor, "desk", "harbour") == []
    restored = await editor.http.post(f"{path}/revisions/1/restore")
    assert restored.status_code == 200, restored.text
    assert await _found(editor, "desk", "harbour") == [entry["id"]]
    assert await _found(editor, "desk", "bridge") == []

    exported = await editor.http.get("/api/blogs/desk/export")
    assert exported.status_code == 200, exported.text
    copy = exported.content.replace(b'"slug":"desk"', b'"slug":"copy"')
    copy = copy.replace(b'"blog":"desk"', b'"blog":"copy"')
    imported = await editor.http.post(
        "/api/blogs/import", content=copy, headers={"Content-Type": "application/x-ndjson"}
    )
    assert imported.status_code == 201, imported.text
    assert await _found(editor, "copy", "harbour") == [entry["id"]]

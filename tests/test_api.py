"""The editor API of docs/api.md, on both engines: status codes, bodies, headers, problem+json."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from liveblog.config import Settings
from tests.support.clients import Editor, SSEReader
from tests.support.servers import serve_in_process

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"]
    return body


@pytest.fixture
async def blog(editor: Editor) -> str:
    await editor.create_blog("news", "News")
    return "news"


async def token_for(editor: Editor, role: str, blogs: list[str] | None) -> str:
    response = await editor.http.post(
        "/api/tokens", json={"name": f"{role} token", "role": role, "blogs": blogs}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["role"] == role and body["blogs"] == blogs
    return body["token"]


# --- blogs ------------------------------------------------------------------------------


async def test_blog_lifecycle(editor: Editor) -> None:
    created = await editor.create_blog("election-night", "Election night")
    assert created["slug"] == "election-night"
    assert created["status"] == "live" and created["description"] == ""
    assert created["last_event_id"].endswith("-0")
    again = {"slug": "election-night", "title": "Again"}
    assert_problem(await editor.http.post("/api/blogs", json=again), 409)

    listed = (await editor.http.get("/api/blogs")).json()["blogs"]
    assert [b["slug"] for b in listed] == ["election-night"]

    response = await editor.http.patch("/api/blogs/election-night", json={"status": "ended"})
    assert response.status_code == 200
    assert response.json()["status"] == "ended"
    fetched = (await editor.http.get("/api/blogs/election-night")).json()
    assert fetched["status"] == "ended"
    assert fetched["last_event_id"] == response.json()["last_event_id"]
    assert fetched["last_event_id"].endswith("-1")  # blog.updated used one offset


async def test_blog_slug_and_fields_are_validated(editor: Editor) -> None:
    bad = {"slug": "Bad Slug!", "title": "x"}
    body = assert_problem(await editor.http.post("/api/blogs", json=bad), 422)
    assert body["errors"][0]["path"] == "$.slug"
    body = assert_problem(await editor.http.post("/api/blogs", json={"slug": "ok"}), 422)
    assert "title" in body["detail"]


# --- entries ----------------------------------------------------------------------------


async def test_entry_create_read_update_delete(editor: Editor, blog: str) -> None:
    response = await editor.http.post(
        f"/api/blogs/{blog}/entries",
        json={
            "headline": "Polls close",
            "body": "<p>Counting <em>begins</em>.</p>",
            "author": "Desk",
            "labels": ["breaking", "key"],
            "media": [{"url": "https://example.org/a.jpg", "caption": "Count", "alt": "Ballots"}],
        },
    )
    assert response.status_code == 201
    assert response.headers["etag"] == '"1"'
    entry = response.json()
    assert entry["version"] == 1 and entry["updated_at"] is None
    assert entry["body"] == "<p>Counting <em>begins</em>.</p>"
    assert entry["published_at"].endswith("Z")
    assert set(entry) == {"id", "blog", "version", "published_at", "updated_at", "headline",
                          "body", "author", "labels", "pinned", "media", "status", "publish_at",
                          "corrections", "authors", "created_by", "note"}  # fmt: skip
    url = f"/api/blogs/{blog}/entries/{entry['id']}"
    assert (await editor.http.get(url)).json() == entry

    response = await editor.http.patch(url, json={"pinned": True}, headers={"If-Match": '"1"'})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["version"] == 2 and updated["pinned"] is True and updated["updated_at"]
    assert response.headers["etag"] == '"2"'
    assert updated["headline"] == "Polls close"  # untouched fields stay

    for form in ('W/"2"', "3"):  # weak and bare forms are accepted too
        response = await editor.http.patch(url, json={"author": form}, headers={"If-Match": form})
        assert response.status_code == 200, response.text
        assert_problem(await editor.http.patch(url, json={}, headers={"If-Match": form}), 412)
    assert (await editor.http.get(url)).json()["author"] == "3"

    assert (await editor.http.delete(url)).status_code == 204
    assert_problem(await editor.http.get(url), 404)
    assert_problem(await editor.http.delete(url), 404)
    assert_problem(await editor.http.patch(url, json={"pinned": False}), 404)


async def test_stale_if_match_is_412_and_publishes_nothing(
    server: str, editor: Editor, blog: str
) -> None:
    entry = await editor.post(blog, headline="v1")
    await editor.http.patch(f"/api/blogs/{blog}/entries/{entry['id']}", json={"headline": "v2"})
    reader = await SSEReader(server, f"/blogs/{blog}/events").connect()
    before = (await editor.http.get(f"/api/blogs/{blog}")).json()["last_event_id"]

    response = await editor.http.patch(
        f"/api/blogs/{blog}/entries/{entry['id']}",
        json={"headline": "lost update"},
        headers={"If-Match": '"1"'},
    )
    body = assert_problem(response, 412)
    assert "version is now 2" in body["detail"]
    assert response.headers["etag"] == '"2"'
    current = (await editor.http.get(f"/api/blogs/{blog}/entries/{entry['id']}")).json()
    assert current["headline"] == "v2" and current["version"] == 2
    assert (await editor.http.get(f"/api/blogs/{blog}")).json()["last_event_id"] == before
    # A later event arrives as the very next one: the 412 published nothing in between.
    await editor.post(blog, headline="after")
    (event,) = await reader.wait_for(1)
    assert event.data["data"]["headline"] == "after"
    assert event.id == before.rpartition("-")[0] + f"-{int(before.rpartition('-')[2]) + 1}"
    await reader.close()


async def test_idempotent_retry_returns_the_first_answer_and_publishes_once(
    server: str, editor: Editor, blog: str
) -> None:
    reader = await SSEReader(server, f"/blogs/{blog}/events").connect()
    request = {"headline": "Once", "body": "<p>only once</p>"}
    headers = {"Idempotency-Key": "draft-7f3a"}
    first = await editor.http.post(f"/api/blogs/{blog}/entries", json=request, headers=headers)
    second = await editor.http.post(f"/api/blogs/{blog}/entries", json=request, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers

    other = await editor.http.post(
        f"/api/blogs/{blog}/entries", json={"body": "<p>different</p>"}, headers=headers
    )
    assert_problem(other, 422)

    await editor.post(blog, headline="next")  # a marker: everything before it has arrived
    events = await reader.wait_for(2)
    await asyncio.sleep(0.2)
    assert [e.data["data"]["headline"] for e in reader.events] == ["Once", "next"]
    timeline = (await editor.http.get(f"/api/blogs/{blog}/entries")).json()
    assert [e["headline"] for e in timeline["entries"]] == ["next", "Once"]
    assert events[0].data["data"] == first.json()
    await reader.close()


async def test_timeline_order_paging_and_position(editor: Editor, blog: str) -> None:
    base = "2026-11-25T10:00:00Z"
    ids = []
    for i in range(7):
        entry = await editor.post(blog, headline=f"e{i}", published_at=base if i in (2, 3) else
                                  f"2026-11-25T10:{i:02d}:30Z")  # fmt: skip
        ids.append(entry["id"])
    # Backdated entry goes in its place; ties on published_at: the later-created first.
    expected = ["e6", "e5", "e4", "e1", "e0", "e3", "e2"]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "3"} | ({"before": cursor} if cursor else {})
        page = (await editor.http.get(f"/api/blogs/{blog}/entries", params=params)).json()
        seen += [e["headline"] for e in page["entries"]]
        assert page["last_event_id"].endswith("-7")
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == expected

    for bad in ("0", "101", "x"):
        response = await editor.http.get(f"/api/blogs/{blog}/entries", params={"limit": bad})
        assert assert_problem(response, 422)["errors"][0]["path"] == "limit"
    response = await editor.http.get(f"/api/blogs/{blog}/entries", params={"before": "nope"})
    assert_problem(response, 422)
    assert_problem(await editor.http.get("/api/blogs/missing/entries"), 404)
    empty = await editor.create_blog("empty")
    page = (await editor.http.get("/api/blogs/empty/entries")).json()
    assert page == {"entries": [], "next": None, "last_event_id": empty["last_event_id"]}


HOSTILE = [
    "<script>alert(1)</script><p>text</p>",
    '<img src="https://x.test/a.png" onerror="alert(1)">',
    '<a href="javascript:alert(1)">link</a>',
    '<p onclick="alert(1)" style="color:red">click</p>',
    '<iframe src="https://evil.test"></iframe><p>after</p>',
    '<svg onload="alert(1)"><circle/></svg>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<form action="https://evil.test"><input autofocus onfocus="alert(1)"></form>',
    '<object data="javascript:alert(1)"></object>',
]


async def test_hostile_html_is_stored_clean(editor: Editor, blog: str) -> None:
    for html in HOSTILE:
        entry = await editor.post(blog, body=html)
        stored = (await editor.http.get(f"/api/blogs/{blog}/entries/{entry['id']}")).json()
        body = stored["body"].lower()
        for marker in ("<script", "onerror", "onclick", "onload", "onfocus", "javascript:",
                       "<iframe", "<svg", "<style", "<form", "<object", "style="):  # fmt: skip
            assert marker not in body, (html, stored["body"])
    entry = await editor.post(blog, body='<p>Keep <a href="https://ok.test/">this</a></p>')
    assert '<a href="https://ok.test/" rel="noopener noreferrer nofollow">this</a>' in entry["body"]


async def test_field_limits_name_their_json_path(editor: Editor, blog: str) -> None:
    url = f"/api/blogs/{blog}/entries"
    cases = [
        ({"body": "x", "headline": "h" * 301}, "$.headline"),
        ({"body": "x", "labels": ["l"] * 21}, "$.labels"),
        ({"body": "x", "media": [{"url": "https://a.test/x"}] * 11}, "$.media"),
        ({"body": "x", "media": [{"url": "http://a.test/x.jpg"}]}, "$.media[0].url"),
        ({"body": "x", "media": [{"url": "https://a.test/x", "colour": 1}]}, "$.media[0]"),
        ({"body": "x", "published_at": "yesterday"}, "$.published_at"),
        ({"body": "x", "published_at": "2026-11-25T10:00:00"}, "$.published_at"),
        ({"body": "x", "published_at": "1969-12-31T23:59:59Z"}, "$.published_at"),
        ({"headline": "no body"}, "$"),
        ({"body": "<p>" + "a" * 70_000 + "</p>"}, "$.body"),
    ]
    for payload, path in cases:
        body = assert_problem(await editor.http.post(url, json=payload), 422)
        assert body["errors"][0]["path"] == path, (payload, body)
    assert (await editor.http.get(url)).json()["entries"] == []


async def test_error_statuses_and_their_order(server: str, editor: Editor, blog: str) -> None:
    anonymous = httpx.AsyncClient(base_url=server)
    url = f"/api/blogs/{blog}/entries"
    json_headers = {"Content-Type": "application/json"}

    # 400 malformed JSON
    assert_problem(await editor.http.post(url, content=b"{nope", headers=json_headers), 400)
    # 413 before the body is read, and before auth
    big = b"{" + b" " * (1024 * 1024) + b"}"
    assert_problem(await anonymous.post(url, content=big, headers=json_headers), 413)
    assert_problem(await editor.http.post(url, content=big, headers=json_headers), 413)

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    response = await editor.http.post(url, content=chunked(), headers=json_headers)
    assert_problem(response, 413)
    # 415 before auth
    assert_problem(await anonymous.post(url, content=b"x", headers={"Content-Type": "text/plain"}),
                   415)  # fmt: skip
    # 401 no or bad token, before 404
    response = await anonymous.post("/api/blogs/missing/entries", json={"body": "x"})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    bad = httpx.AsyncClient(base_url=server, headers={"Authorization": "Bearer wrong"})
    assert_problem(await bad.post(url, json={"body": "x"}), 401)
    # 404 before 403
    other = await token_for(editor, "editor", ["elsewhere"])
    limited = httpx.AsyncClient(base_url=server, headers={"Authorization": f"Bearer {other}"})
    assert_problem(await limited.post("/api/blogs/missing/entries", json={"body": "x"}), 404)
    assert_problem(await limited.post(url, json={"body": "x"}), 403)
    # editors may not create blogs or tokens
    assert_problem(await limited.post("/api/blogs", json={"slug": "x", "title": "x"}), 403)
    assert_problem(await limited.post("/api/tokens", json={"name": "x", "role": "admin"}), 403)
    # 404 on reads
    assert_problem(await anonymous.get("/api/blogs/missing"), 404)
    assert_problem(await anonymous.get(f"{url}/nope"), 404)
    for client in (anonymous, bad, limited):
        await client.aclose()
    assert (await editor.http.get(url)).json()["entries"] == []


async def test_tokens_scope_editors_to_their_blogs(server: str, editor: Editor, blog: str) -> None:
    await editor.create_blog("sport")
    token = await token_for(editor, "editor", [blog])
    scoped = Editor(server, token)
    assert (await scoped.post(blog, headline="allowed"))["headline"] == "allowed"
    response = await scoped.http.post("/api/blogs/sport/entries", json={"body": "x"})
    assert_problem(response, 403)
    response = await scoped.http.patch(f"/api/blogs/{blog}", json={"title": "Renamed"})
    assert response.status_code == 200
    everywhere = Editor(server, await token_for(editor, "editor", None))
    assert (await everywhere.post("sport"))["blog"] == "sport"
    admin = Editor(server, await token_for(editor, "admin", None))
    await admin.create_blog("weather")
    for client in (scoped, everywhere, admin):
        await client.close()


async def test_tokens_are_stored_hashed(redis_url: str) -> None:
    import redis.asyncio as aioredis

    async with serve_in_process(_settings(redis_url)) as url:
        admin = Editor(url)
        token = await token_for(admin, "editor", None)
        client = aioredis.Redis.from_url(redis_url)
        stored = await client.hgetall("lb:tokens")
        await client.aclose()
        assert len(stored) == 1
        assert token.encode() not in b"".join([*stored, *stored.values()])
        await admin.close()


def _settings(redis_url: str | None, **overrides: Any) -> Settings:
    from tests.conftest import make_settings

    return make_settings(redis_url, **overrides)


async def test_rate_limit_answers_429_with_retry_after(
    settings_factory: Callable[..., Settings],
) -> None:
    async with serve_in_process(
        settings_factory(rate_limit_per_second=1, rate_limit_burst=3)
    ) as url:
        editor = Editor(url)
        await editor.create_blog("rl")
        statuses = []
        for _ in range(3):
            response = await editor.http.post("/api/blogs/rl/entries", json={"body": "x"})
            statuses.append(response.status_code)
        assert statuses == [201, 201, 429]  # the blog creation took the first of the burst
        assert int(response.headers["retry-after"]) >= 1
        assert_problem(response, 429)
        await editor.close()


async def test_openapi_describes_the_api(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        document = (await client.get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert {"/api/blogs", "/api/blogs/{slug}/entries/{entry_id}"} <= set(document["paths"])
    entry = document["components"]["schemas"]["EntryCreate"]
    assert entry["properties"]["headline"]["anyOf"][0]["maxLength"] == 300

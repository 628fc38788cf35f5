"""Hostile input through the editor API, on both engines: whole-string formats, ASCII digits,
published_at in UTC, control and bidi characters. Each refusal is a clean 4xx that changes
nothing; what is accepted comes back in a form every later request accepts too."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from starlette.requests import Request

from liveblog.api.body import check_envelope
from liveblog.models import Position, is_slug, parse_decimal
from liveblog.problems import Problem
from tests.support.clients import Editor, SSEReader, WSReader
from tests.test_api import assert_problem

HUGE = "9" * 5000  # int() refuses strings over 4,300 digits


@pytest.fixture
async def blog(editor: Editor) -> str:
    await editor.create_blog("news", "News")
    return "news"


def first_error(body: dict[str, Any]) -> dict[str, str]:
    assert body["errors"], body
    return body["errors"][0]


# --- formats are whole-string matches ------------------------------------------------------


async def test_a_trailing_newline_fails_every_format(editor: Editor, blog: str) -> None:
    response = await editor.http.post("/api/blogs", json={"slug": "nl\n", "title": "x"})
    error = first_error(assert_problem(response, 422))
    assert error["path"] == "$.slug"
    assert "lower-case letters, digits or hyphens" in error["message"]  # in words, not a regex
    assert [b["slug"] for b in (await editor.http.get("/api/blogs")).json()["blogs"]] == [blog]

    url = f"/api/blogs/{blog}/entries"
    cases = [
        ({"body": "x", "labels": ["ok", "breaking\n"]}, "$.labels[1]"),
        ({"body": "x", "media": [{"url": "https://a.test/x.jpg\n"}]}, "$.media[0].url"),
        ({"body": "x", "media": [{"url": "https://a.test/x\x00.jpg"}]}, "$.media[0].url"),
    ]
    for payload, path in cases:
        response = await editor.http.post(url, json=payload)
        assert first_error(assert_problem(response, 422))["path"] == path, payload
    assert (await editor.http.get(url)).json()["entries"] == []

    token = {"name": "desk", "role": "editor", "blogs": [blog, "news\n"]}
    response = await editor.http.post("/api/tokens", json=token)
    assert first_error(assert_problem(response, 422))["path"] == "$.blogs[1]"


def test_is_slug_is_the_api_slug_check() -> None:
    assert is_slug("election-2026") and is_slug("a") and is_slug("a" * 64)
    for bad in ("nl\n", "", "-x", "A", "a" * 65, "a b", "ü", "a\x00"):
        assert not is_slug(bad), bad


# --- numbers are ASCII digits ---------------------------------------------------------------


def test_parse_decimal_takes_ascii_digits_only() -> None:
    assert parse_decimal("0", 3) == 0 and parse_decimal("100", 3) == 100
    for bad in ("", "²", "\u0661\u0662", "\uff11\uff12", "+1", "-1", " 1", "1_0", "1000", HUGE):
        assert parse_decimal(bad, 3) is None, bad
    assert parse_decimal(HUGE, 4) is None


def test_position_parse_refuses_what_int_cannot_read() -> None:
    assert Position.parse("ab12-7") == Position("ab12", 7)
    assert Position.parse("x-²") is None
    assert Position.parse("x-" + HUGE) is None
    assert Position.parse("x-\u0661") is None


async def test_limit_and_if_match_digits(editor: Editor, blog: str) -> None:
    url = f"/api/blogs/{blog}/entries"
    for bad in ("²", "1²", "\uff11\uff10", HUGE):
        body = assert_problem(await editor.http.get(url, params={"limit": bad}), 422)
        assert first_error(body)["path"] == "limit"
    assert (await editor.http.get(url, params={"limit": "007"})).status_code == 200

    entry = await editor.post(blog, headline="v1")
    for bad in ('"²"', "²", 'W/"1²"', f'"{HUGE}"', HUGE):
        response = await editor.http.patch(
            f"{url}/{entry['id']}",
            json={"headline": "no"},
            headers={"If-Match": bad.encode("latin-1")},
        )
        assert_problem(response, 412)
    stored = (await editor.http.get(f"{url}/{entry['id']}")).json()
    assert stored["version"] == 1 and stored["headline"] == "v1"


def _request(content_length: str) -> Request:
    headers = [
        (b"content-length", content_length.encode("latin-1")),
        (b"content-type", b"application/json"),
    ]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers})


def test_content_length_must_be_ascii_digits() -> None:
    check_envelope(_request("1024"))
    for bad in ("²", "1²", HUGE):
        with pytest.raises(Problem) as refused:
            check_envelope(_request(bad))
        assert refused.value.status == 400, bad
    with pytest.raises(Problem) as refused:
        check_envelope(_request(str(2 * 1024 * 1024)))
    assert refused.value.status == 413


async def test_resume_ids_with_odd_digits_get_a_reset(server: str, editor: Editor) -> None:
    await editor.create_blog("resume")
    await editor.post("resume", headline="one")
    for bad in ("x-²", "x-" + HUGE):
        query = f"?last_event_id={quote(bad)}"
        sse = await SSEReader(server, f"/blogs/resume/events{query}").connect()
        assert sse.status == 200
        ws = await WSReader(server, f"/blogs/resume/ws{query}").connect()
        for reader in (sse, ws):
            (reset,) = await reader.wait_for(1)
            assert reset.type == "reset", bad
        await editor.post("resume", headline="after")
        for reader in (sse, ws):
            assert (await reader.wait_for(2))[1].type == "entry.created"
            await reader.close()


# --- published_at is UTC, bounded in UTC ----------------------------------------------------


async def test_published_at_is_stored_in_utc(editor: Editor, blog: str) -> None:
    entry = await editor.post(blog, published_at="2026-11-25T10:00:00+02:00")
    assert entry["published_at"] == "2026-11-25T08:00:00Z"
    edited = await editor.edit(blog, entry["id"], published_at="2026-11-25T10:00:00-05:30")
    assert edited["published_at"] == "2026-11-25T15:30:00Z"


async def test_published_at_bounds_are_in_utc(editor: Editor, blog: str) -> None:
    url = f"/api/blogs/{blog}/entries"
    entry = await editor.post(blog, headline="kept")
    for outside in (
        "1970-01-01T00:00:00+23:59",  # 1969-12-31T00:01Z
        "1970-01-01T00:00:00+00:01",
        "2999-12-31T23:59:00-23:59",  # 3000-01-01T23:58Z
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59-23:59",
    ):
        response = await editor.http.post(url, json={"body": "x", "published_at": outside})
        assert first_error(assert_problem(response, 422))["path"] == "$.published_at", outside
        response = await editor.http.patch(f"{url}/{entry['id']}", json={"published_at": outside})
        assert first_error(assert_problem(response, 422))["path"] == "$.published_at"
    page = (await editor.http.get(url)).json()
    assert [e["id"] for e in page["entries"]] == [entry["id"]]
    assert page["entries"][0]["version"] == 1


async def test_every_cursor_the_api_returns_it_accepts(editor: Editor, blog: str) -> None:
    url = f"/api/blogs/{blog}/entries"
    extremes = [  # (as sent, as stored), oldest first
        ("1970-01-01T23:59:00+23:59", "1970-01-01T00:00:00Z"),
        ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"),
        ("1970-01-01T00:00:00.000001Z", "1970-01-01T00:00:00.000001Z"),
        ("2026-11-25T10:00:00+14:00", "2026-11-24T20:00:00Z"),
        ("2999-12-31T23:59:59-00:00", "2999-12-31T23:59:59Z"),
        ("3000-01-01T23:58:59.999999+23:59", "2999-12-31T23:59:59.999999Z"),
        ("2999-12-31T23:59:59.999999Z", "2999-12-31T23:59:59.999999Z"),
    ]
    # Entries dated after now are scheduled (a published entry from the future is refused):
    # the newsroom lists them with the same cursors.
    expected: dict[str, list[str]] = {"published": [], "scheduled": []}
    for sent, stored in extremes:
        if stored.startswith("2999"):
            entry = await editor.post(blog, status="scheduled", publish_at=sent)
            expected["scheduled"].append(entry["id"])
        else:
            entry = await editor.post(blog, published_at=sent)
            expected["published"].append(entry["id"])
        assert entry["published_at"] == stored
    moved = await editor.post(blog, published_at="2026-01-01T00:00:00Z")
    await editor.edit(blog, moved["id"], published_at="1970-01-02T00:00:00-23:59")
    expected["published"].insert(3, moved["id"])  # 1970-01-02T23:59Z
    for ids in expected.values():
        ids.reverse()  # newest first; ties: the later-created first

    for limit, status in itertools.product(("1", "2", "3"), expected):
        seen, cursor = [], None
        while True:
            params = {"limit": limit, "status": status} | ({"before": cursor} if cursor else {})
            response = await editor.http.get(url, params=params)
            assert response.status_code == 200, (cursor, response.text)
            page = response.json()
            seen += [e["id"] for e in page["entries"]]
            cursor = page["next"]
            if cursor is None:
                break
        assert seen == expected[status], limit

    for forged in ("LTAwMDAwMDAwMDAwMDAwMDAxOmFiYw==", "wrLCsjpbXQ=="):  # "-0…1:abc", "²²:[]"
        response = await editor.http.get(url, params={"before": forged})
        assert first_error(assert_problem(response, 422))["path"] == "before"


# --- control and bidi characters ------------------------------------------------------------

FORBIDDEN = ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\u202e", "\u2066", "\u2069"]


async def test_control_and_bidi_characters_in_text_fields_are_refused(
    editor: Editor, blog: str
) -> None:
    url = f"/api/blogs/{blog}/entries"
    media = {"url": "https://a.test/p.jpg"}
    entry = await editor.post(blog, headline="clean")
    for char in FORBIDDEN:
        text = f"before{char}after"
        cases: list[tuple[str, str, dict[str, Any], str]] = [
            ("post", url, {"body": "x", "headline": text}, "$.headline"),
            ("post", url, {"body": "x", "author": text}, "$.author"),
            *[
                ("post", url, {"body": "x", "media": [media | {name: text}]}, f"$.media[0].{name}")
                for name in ("caption", "credit", "alt")
            ],
            ("patch", f"{url}/{entry['id']}", {"headline": text}, "$.headline"),
            ("post", "/api/blogs", {"slug": "other", "title": text}, "$.title"),
            (
                "post",
                "/api/blogs",
                {"slug": "other", "title": "t", "description": text},
                "$.description",
            ),
            ("patch", f"/api/blogs/{blog}", {"title": text}, "$.title"),
            ("patch", f"/api/blogs/{blog}", {"description": text}, "$.description"),
            ("post", "/api/tokens", {"name": text, "role": "editor"}, "$.name"),
        ]
        for method, target, payload, path in cases:
            response = await editor.http.request(method, target, json=payload)
            error = first_error(assert_problem(response, 422))
            assert error["path"] == path, (char, payload)
            assert "control characters" in error["message"]

    page = (await editor.http.get(url)).json()
    assert [(e["id"], e["version"]) for e in page["entries"]] == [(entry["id"], 1)]
    news = (await editor.http.get(f"/api/blogs/{blog}")).json()
    assert news["title"] == "News" and news["description"] == ""
    assert [b["slug"] for b in (await editor.http.get("/api/blogs")).json()["blogs"]] == [blog]

    # Tab and line breaks are text.
    text = "line one\r\nline two\n\tindented"
    kept = await editor.post(blog, headline=text, author=text)
    assert kept["headline"] == text and kept["author"] == text
    assert (await editor.patch_blog(blog, description=text))["description"] == text


async def test_control_and_bidi_characters_are_removed_from_entry_html(
    server: str, editor: Editor, blog: str
) -> None:
    raw = "".join(FORBIDDEN)
    refs = "&#0;&#1;&#x1b;&#127;&#x202e;&#x2066;&#8297;"  # nh3 decodes these into characters
    body = f"<p>a{raw}b{refs}c\td\ne</p><p>&amp;#1; stays text</p>"
    entry = await editor.post(blog, body=body, headline="Quiet")
    assert entry["body"] == "<p>ab\ufffdc\td\ne</p><p>&amp;#1; stays text</p>"  # &#0; is U+FFFD

    # A character removed from a URL must not make a scheme the sanitiser would have refused.
    for href in ("java\x01script:alert(1)", "java&#1;script:alert(1)", "java&#x202e;script:x"):
        html = (await editor.post(blog, body=f'<p><a href="{href}">x</a></p>'))["body"]
        assert "script" not in html.lower() and "href" not in html, (href, html)

    async with httpx.AsyncClient(base_url=server) as reader:
        for path in (f"/blogs/{blog}", f"/blogs/{blog}/feed.atom"):
            response = await reader.get(path)
            assert response.status_code == 200
            assert "Quiet" in response.text
            for char in FORBIDDEN:
                assert char not in response.text, (path, char)

"""Pages, feeds, API answers and static files in the coding the client accepts (Brotli, gzip),
with Vary, ETag and Content-Length right and HEAD alike; shared pages and static files
compressed once; live streams never compressed twice."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable
from typing import Any

import brotli
import httpx
import pytest

from liveblog.app import create_app
from liveblog.config import Settings
from liveblog.pages import cache
from liveblog.pages.assets import STATIC_DIR
from liveblog.pages.static import CompressedForms
from liveblog.serving.compression import negotiate
from tests.support.clients import Editor, SSEReader
from tests.support.servers import ADMIN_TOKEN, serve_app

LONG = "".join(
    f"<p>Paragraph {i} of a long update about the storm and the roads.</p>" for i in range(40)
)


def decode(body: bytes, coding: str | None) -> bytes:
    if coding == "br":
        return brotli.decompress(body)
    if coding == "gzip":
        return gzip.decompress(body)
    assert coding is None, coding
    return body


async def fetch(
    client: httpx.AsyncClient, path: str, coding: str | None, method: str = "GET", **headers: str
) -> tuple[httpx.Response, bytes]:
    """The response and its body as it came on the wire (httpx would inflate it)."""
    headers["Accept-Encoding"] = coding or "identity"
    async with client.stream(method, path, headers=headers) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, raw


@pytest.fixture
async def app_url() -> AsyncIterator[tuple[Any, str]]:
    app = create_app(Settings(demo=False, admin_token=ADMIN_TOKEN))
    async with serve_app(app) as url:
        yield app, url


@pytest.fixture
async def client(app_url: tuple[Any, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=app_url[1]) as http:
        yield http


@pytest.fixture
async def blog(app_url: tuple[Any, str]) -> AsyncIterator[Editor]:
    editor = Editor(app_url[1])
    await editor.create_blog("storm", "Storm over the coast", description="Live coverage")
    for i in range(8):
        await editor.post("storm", headline=f"Update {i}", body=LONG)
    yield editor
    await editor.close()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("gzip, deflate, br, zstd", "br"),  # Chromium: equal weights, the server's order
        ("gzip", "gzip"),
        ("x-gzip", "gzip"),
        ("br;q=0.5, gzip;q=0.9", "gzip"),
        ("br;q=0, gzip;q=0", None),
        ("*", "br"),
        ("*;q=0.2, br;q=0", "gzip"),
        ("identity", None),
        ("GZIP; Q=1", "gzip"),
        ("br;q=nonsense, gzip", "gzip"),
    ],
)
def test_negotiate_follows_the_weights(header: str | None, expected: str | None) -> None:
    assert negotiate(header) == expected


async def test_the_reader_page_in_each_coding_is_the_same_page(
    client: httpx.AsyncClient, blog: Editor
) -> None:
    plain, plain_body = await fetch(client, "/blogs/storm", None)
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["vary"]
    for coding in ("br", "gzip"):
        response, body = await fetch(client, "/blogs/storm", coding)
        assert response.headers["content-encoding"] == coding
        assert "Accept-Encoding" in response.headers["vary"]
        assert int(response.headers["content-length"]) == len(body)
        assert decode(body, coding) == plain_body
        assert len(body) < len(plain_body) / 3
        # HEAD: the same headers, no body.
        head, head_body = await fetch(client, "/blogs/storm", coding, "HEAD")
        assert head_body == b""
        for name in ("content-encoding", "content-length", "vary", "content-type"):
            assert head.headers[name] == response.headers[name]


async def test_a_crowd_costs_one_compression_per_coding_and_version(
    client: httpx.AsyncClient, blog: Editor, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []
    real_encode = cache.encode

    def counting(body: bytes, coding: str, effort: Any) -> bytes:
        made.append(coding)
        return real_encode(body, coding, effort)

    monkeypatch.setattr(cache, "encode", counting)
    for coding in ("br", "gzip"):
        answers = await asyncio.gather(*(fetch(client, "/blogs/storm", coding) for _ in range(20)))
        assert {decode(body, coding) for _, body in answers} == {decode(answers[0][1], coding)}
    assert made == ["br", "gzip"]
    await blog.post("storm", headline="A new version")  # the page changes: compressed anew
    _, body = await fetch(client, "/blogs/storm", "br")
    assert b"A new version" in decode(body, "br")
    assert made == ["br", "gzip", "br"]


async def test_static_files_are_compressed_once_with_an_etag_per_coding(
    app_url: tuple[Any, str], client: httpx.AsyncClient
) -> None:
    app, _ = app_url
    static = next(route for route in app.routes if getattr(route, "name", "") == "static")
    static.app.forms = forms = CompressedForms()
    original = (STATIC_DIR / "reader.js").read_bytes()
    path = "/static/reader.js?v=1"

    plain, plain_body = await fetch(client, path, None)
    assert plain_body == original and "Accept-Encoding" in plain.headers["vary"]
    etags = {plain.headers["etag"]}
    for coding in ("br", "gzip"):
        answers = await asyncio.gather(*(fetch(client, path, coding) for _ in range(10)))
        response, body = answers[0]
        assert all(raw == body for _, raw in answers)
        assert response.headers["content-encoding"] == coding
        assert int(response.headers["content-length"]) == len(body) < len(original) / 2
        assert decode(body, coding) == original
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"
        etag = response.headers["etag"]
        etags.add(etag)
        # Revalidation of that form: 304, with its tag and no body.
        again, again_body = await fetch(client, path, coding, **{"If-None-Match": etag})
        assert (again.status_code, again_body, again.headers["etag"]) == (304, b"", etag)
        assert "Accept-Encoding" in again.headers["vary"]
        head, head_body = await fetch(client, path, coding, "HEAD")
        assert head_body == b"" and head.headers["content-length"] == str(len(body))
    assert len(etags) == 3  # one per form: a cache never takes one for another
    assert forms.made == 2  # 20 requests, one compression per coding

    # A range of the file is a range of the file itself.
    part, part_body = await fetch(client, path, "br", Range="bytes=0-99")
    assert part.status_code == 206 and part_body == original[:100]
    assert "content-encoding" not in part.headers


async def test_api_answers_are_compressed_and_their_etag_made_weak(
    client: httpx.AsyncClient, blog: Editor
) -> None:
    response, body = await fetch(client, "/api/blogs/storm/entries?limit=20", "gzip")
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"] == "application/json"
    assert len(decode(body, "gzip").decode()) > 5 * len(body)

    big = await blog.post("storm", headline="Big", body=LONG)
    small = await blog.post("storm", headline="Small", body="<p>Short.</p>")
    entry, body = await fetch(client, f"/api/blogs/storm/entries/{big['id']}", "br")
    assert entry.headers["content-encoding"] == "br"
    assert entry.headers["etag"] == 'W/"1"'  # not the bytes the tag names, the same entry
    # The weak tag is what a client sends back, and it still guards the edit.
    patched = await blog.http.patch(
        f"/api/blogs/storm/entries/{big['id']}", json={"headline": "Bigger"},
        headers={"If-Match": entry.headers["etag"]},
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    # Under a kilobyte nothing is gained: the answer and its tag stay as they are.
    short, _ = await fetch(client, f"/api/blogs/storm/entries/{small['id']}", "br")
    assert "content-encoding" not in short.headers and short.headers["etag"] == '"1"'


async def test_the_feed_and_the_index_are_compressed(
    client: httpx.AsyncClient, blog: Editor
) -> None:
    feed, body = await fetch(client, "/blogs/storm/feed.atom", "br")
    assert feed.headers["content-encoding"] == "br"
    assert decode(body, "br").startswith(b"<?xml")
    index, body = await fetch(client, "/", "gzip")
    assert index.headers["content-encoding"] == "gzip"
    assert b"Storm over the coast" in decode(body, "gzip")


async def test_live_streams_are_never_compressed_twice(
    app_url: tuple[Any, str], client: httpx.AsyncClient, blog: Editor
) -> None:
    _, url = app_url
    both = SSEReader(url, "/blogs/storm/events", extra_headers={"Accept-Encoding": "br, gzip"})
    brotli_only = SSEReader(url, "/blogs/storm/events", extra_headers={"Accept-Encoding": "br"})
    for reader in (both, brotli_only):
        await reader.connect()
    await blog.post("storm", headline="Live")
    assert (await both.wait_for(1))[0].data["data"]["headline"] == "Live"
    assert both.headers["content-encoding"] == "gzip"  # the events' own coding, once
    assert (await brotli_only.wait_for(1))[0].data["data"]["headline"] == "Live"
    assert "content-encoding" not in brotli_only.headers  # events are gzip or plain
    # The newsroom's stream passes the middleware, which leaves event streams alone.
    newsroom = SSEReader(
        url, "/api/blogs/storm/newsroom/events",
        extra_headers={"Accept-Encoding": "gzip", "Authorization": f"Bearer {ADMIN_TOKEN}"},
    )  # fmt: skip
    await newsroom.connect()
    assert newsroom.status == 200 and "content-encoding" not in newsroom.headers
    for reader in (both, brotli_only, newsroom):
        await reader.close()


async def test_compression_off_sends_everything_as_it_is(
    settings_factory: Callable[..., Settings],
) -> None:
    app = create_app(settings_factory(compression=False))
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        editor = Editor(url)
        await editor.create_blog("plain")
        await editor.post("plain", body=LONG)
        for path in ("/blogs/plain", "/static/reader.js", "/api/blogs/plain/entries", "/"):
            response, _ = await fetch(client, path, "br")
            assert response.status_code == 200, path
            assert "content-encoding" not in response.headers, path
            assert "Accept-Encoding" not in response.headers.get("vary", ""), path
        await editor.close()


async def test_the_page_preloads_every_module_of_its_script(
    client: httpx.AsyncClient, blog: Editor
) -> None:
    _, body = await fetch(client, "/blogs/storm", None)
    html = body.decode()
    preloads = [
        line.split('href="')[1].split('"')[0]
        for line in html.splitlines()
        if 'rel="modulepreload"' in line
    ]
    script = html.split('<script type="module" src="')[1].split('"')[0]
    assert preloads[0] == script  # the script itself, from the head
    # The reader's modules are the files of web/static/reader/, all of them imported.
    modules = {p.removeprefix("/static/") for p in preloads[1:]}
    assert modules == {f"reader/{p.name}" for p in (STATIC_DIR / "reader").glob("*.js")}
    for url in preloads:
        assert (await client.get(url)).status_code == 200

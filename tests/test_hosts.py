"""Host header poisoning: absolute URLs never come from a Host nobody vouched for.

Three ways to run: ``LIVEBLOG_PUBLIC_URL`` (URLs from it), ``LIVEBLOG_ALLOWED_HOSTS`` (any other
Host gets 400; URLs from the checked Host, with ``Vary: Host``), or neither (relative URLs).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import feedparser
import httpx
import pytest
import websockets

from liveblog.config import Settings
from liveblog.serving.hosts import TrustedHosts
from tests.conftest import make_settings
from tests.support.clients import Editor
from tests.support.servers import serve_in_process

EVIL = "evil.example"
# Every page and feed a reader (or a crawler, or a cache in front) can fetch.
PATHS = [
    "/",
    "/blogs/floods",
    "/blogs/floods?before=not-a-cursor",
    "/blogs/floods/embed",
    "/blogs/floods/feed.atom",
    "/blogs/nope",
    "/editor",
    "/dashboard",
    "/api/blogs",
    "/api/blogs/floods/entries",
]


@pytest.fixture
async def seeded() -> AsyncIterator[Callable[..., Any]]:
    """Start the app with some settings and a blog with entries (one with a photo and label);
    ``host`` is the Host the editor sends (an allowlist refuses 127.0.0.1)."""
    stack: list[Any] = []

    async def start(settings: Settings, host: str | None = None) -> str:
        context = serve_in_process(settings)
        url = await context.__aenter__()
        stack.append(context)
        editor = Editor(url)
        if host is not None:
            editor.http.headers["Host"] = host
        await editor.create_blog("floods", "Flood watch", description="River levels")
        first = await editor.post("floods", headline="Levels rising", labels=["key"])
        await editor.post(
            "floods", media=[{"url": "https://img.example/a.jpg", "alt": "A"}], pinned=True
        )
        await editor.edit("floods", first["id"], headline="Levels up")
        await editor.close()
        return url

    yield start
    for context in reversed(stack):
        await context.__aexit__(None, None, None)


async def _fetch_all(url: str, host: str) -> dict[str, httpx.Response]:
    async with httpx.AsyncClient(base_url=url, headers={"Host": host}) as client:
        responses = {path: await client.get(path) for path in PATHS}
        # An update's own page and frame, and oEmbed asked about a page at that Host.
        timeline = responses["/api/blogs/floods/entries"]
        if timeline.status_code == 200:
            entry = f"/blogs/floods/entries/{timeline.json()['entries'][0]['id']}"
            oembed = f"/oembed?url=http://{host}/blogs/floods"
            for path in (entry, f"{entry}/embed", oembed):
                responses[path] = await client.get(path)
        return responses


def _assert_never_shows(responses: dict[str, httpx.Response], host: str) -> None:
    for path, response in responses.items():
        assert host not in response.text, path
        for name, value in response.headers.items():
            assert host not in value, (path, name)


def _jsonld(html: str) -> dict[str, Any]:
    (text,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    data: dict[str, Any] = json.loads(text)
    return data


def _attr(html: str, pattern: str) -> list[str]:
    return re.findall(pattern, html)


async def test_without_a_trusted_origin_urls_are_relative(
    seeded: Callable[..., Any], settings_factory: Callable[..., Settings]
) -> None:
    url = await seeded(settings_factory())
    responses = await _fetch_all(url, EVIL)
    assert responses["/blogs/floods"].status_code == 200
    _assert_never_shows(responses, EVIL)

    page = responses["/blogs/floods"].text
    assert _attr(page, r'<link rel="canonical" href="([^"]*)"') == ["/blogs/floods"]
    assert "og:url" not in page  # must be absolute: left out rather than guessed
    data = _jsonld(page)
    assert data["url"] == data["@id"] == data["mainEntityOfPage"] == "/blogs/floods"
    assert all(u["url"].startswith("/blogs/floods/entries/") for u in data["liveBlogUpdate"])
    embed = responses["/blogs/floods/embed"].text
    assert _attr(embed, r'<link rel="canonical" href="([^"]*)"') == ["/blogs/floods"]

    # The feed: relative links a feed reader resolves against the feed's own URL, and ids that
    # are absolute (RFC 4287) without naming any host.
    feed = responses["/blogs/floods/feed.atom"]
    parsed = feedparser.parse(
        feed.content,
        response_headers={**feed.headers, "content-location": str(feed.url)},
    )
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.id.startswith("urn:uuid:")
    assert parsed.feed.link == f"{url}/blogs/floods"
    assert all(e.id.startswith("urn:uuid:") for e in parsed.entries)
    assert len({e.id for e in parsed.entries}) == len(parsed.entries) == 2
    for response in responses.values():
        assert "host" not in response.headers.get("vary", "").lower()

    # The same feed from another Host is byte for byte the same: nothing in it depends on Host.
    again = (await _fetch_all(url, "other.example"))["/blogs/floods/feed.atom"]
    assert again.content == feed.content


async def test_public_url_is_the_only_origin(
    seeded: Callable[..., Any], settings_factory: Callable[..., Settings]
) -> None:
    url = await seeded(settings_factory(public_url="https://news.example/"))
    responses = await _fetch_all(url, EVIL)
    _assert_never_shows(responses, EVIL)
    page = responses["/blogs/floods"].text
    canonical = "https://news.example/blogs/floods"
    assert _attr(page, r'<link rel="canonical" href="([^"]*)"') == [canonical]
    assert _attr(page, r'<meta property="og:url" content="([^"]*)"') == [canonical]
    assert _jsonld(page)["url"] == canonical
    parsed = feedparser.parse(responses["/blogs/floods/feed.atom"].content)
    assert parsed.feed.id == parsed.feed.link == canonical
    assert all(e.id.startswith(f"{canonical}#entry-") for e in parsed.entries)


async def _status_of_raw_request(url: str, request: str) -> int:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(request.encode("latin-1"))
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return int(status_line.split()[1])


async def test_allowed_hosts_refuse_every_other_host(seeded: Callable[..., Any]) -> None:
    settings = make_settings(None, allowed_hosts="news.example, *.news.example")
    url = await seeded(settings, host="news.example")
    port = urlsplit(url).port
    for host in (EVIL, f"{EVIL}:{port}", "news.example.evil.example", "news.example/evil",
                 "news.example@evil.example", "xnews.example", "127.0.0.1", ""):  # fmt: skip
        responses = await _fetch_all(url, host)
        for path, response in responses.items():
            assert response.status_code == 400, (host, path)
            assert response.headers["content-type"] == "application/problem+json"
            assert EVIL not in response.text
    # Streams too: they are dispatched ahead of the routes, not ahead of the Host check.
    sse = f"GET /blogs/floods/events HTTP/1.1\r\nHost: {EVIL}\r\n\r\n"
    assert await _status_of_raw_request(url, sse) == 400
    two_hosts = "GET / HTTP/1.1\r\nHost: news.example\r\nHost: evil.example\r\n\r\n"
    assert await _status_of_raw_request(url, two_hosts) == 400
    with pytest.raises(websockets.InvalidStatus) as refused:
        ws_url = "ws" + url.removeprefix("http") + "/blogs/floods/ws"
        async with websockets.connect(ws_url, additional_headers={"Host": EVIL}):
            pass
    assert refused.value.response.status_code == 400

    # A listed Host is answered, and pages built from it say they vary by Host.
    for host in (f"news.example:{port}", "live.news.example", "NEWS.example"):
        responses = await _fetch_all(url, host)
        for path, response in responses.items():
            assert response.status_code in (200, 404), (host, path)
        page = responses["/blogs/floods"]
        canonical = f"http://{host}/blogs/floods"
        assert _attr(page.text, r'<link rel="canonical" href="([^"]*)"') == [canonical]
        assert _jsonld(page.text)["url"] == canonical
        assert "Host" in page.headers["vary"]
        feed = responses["/blogs/floods/feed.atom"]
        assert "Host" in feed.headers["vary"]
        assert feedparser.parse(feed.content).feed.link == canonical
    allowed = await _status_of_raw_request(
        url, f"GET /blogs/floods/events HTTP/1.1\r\nHost: news.example:{port}\r\n\r\n"
    )
    assert allowed == 200


async def test_a_wildcard_allowlist_trusts_no_host(seeded: Callable[..., Any]) -> None:
    url = await seeded(make_settings(None, allowed_hosts="*"))
    responses = await _fetch_all(url, EVIL)
    assert responses["/blogs/floods"].status_code == 200
    _assert_never_shows(responses, EVIL)


@pytest.mark.parametrize("setting", ["news.example/path", "news.*.example", "*news.example", "a b"])
def test_a_malformed_allowlist_stops_start_up(setting: str) -> None:
    with pytest.raises(ValueError, match="LIVEBLOG_ALLOWED_HOSTS"):
        TrustedHosts(setting)

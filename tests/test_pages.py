"""The reader's pages without a browser: JSON-LD, Atom, the no-JS timeline, headers, the index."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin
from xml.etree import ElementTree as ET

import feedparser
import httpx
import pytest

from liveblog.config import Settings
from liveblog.pages.assets import STATIC_DIR, TEMPLATES_DIR, WEB_DIR
from tests.support.servers import ADMIN_TOKEN, serve_in_process

ATOM = "{http://www.w3.org/2005/Atom}"
LOGO = "https://cdn.example/logo.png"


class Page(HTMLParser):
    """The parts of an HTML page these tests look at."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self._script: dict[str, str] | None = None
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.tags.append((tag, values))
        if tag == "script":
            self._script, self._text = values, []

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._text)))
            self._script = None

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            values
            for name, values in self.tags
            if name == tag and all(values.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def meta(self, prop: str) -> str:
        (found,) = self.find("meta", property=prop) or self.find("meta", name=prop)
        return found["content"]

    def ids(self, css_class: str) -> list[str]:
        return [
            values["data-id"]
            for name, values in self.tags
            if name == "article" and css_class in values.get("class", "").split()
        ]

    def jsonld(self) -> dict[str, Any]:
        (data,) = [
            text for attrs, text in self.scripts if attrs.get("type") == "application/ld+json"
        ]
        parsed: dict[str, Any] = json.loads(data)
        return parsed


@pytest.fixture
async def site(settings_factory: Callable[..., Settings]) -> AsyncIterator[str]:
    """The app with the page settings set, on each engine."""
    settings = settings_factory(
        publisher_name="Coast Herald",
        publisher_logo=LOGO,
        public_url="https://news.example",
        frame_ancestors="https://partner.example https://*.friends.example",
    )
    async with serve_in_process(settings) as url:
        yield url


@pytest.fixture
async def http(site: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=site, headers=headers, timeout=10) as client:
        yield client


async def _blog(http: httpx.AsyncClient, slug: str, **fields: Any) -> None:
    response = await http.post("/api/blogs", json={"slug": slug, "title": "Flood watch", **fields})
    assert response.status_code == 201, response.text


async def _post(http: httpx.AsyncClient, slug: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("body", "<p>An update.</p>")
    response = await http.post(f"/api/blogs/{slug}/entries", json=fields)
    assert response.status_code == 201, response.text
    entry: dict[str, Any] = response.json()
    return entry


async def _page(http: httpx.AsyncClient, path: str) -> Page:
    response = await http.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return Page(response.text)


def _at(minutes: int) -> str:
    return (datetime(2026, 5, 4, 12, 0, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat()


# --- the reader's page -------------------------------------------------------------------


async def test_json_ld_live_blog_posting(http: httpx.AsyncClient) -> None:
    await _blog(http, "floods", description="River levels across the valley")
    first = await _post(
        http,
        "floods",
        headline="Levels rising",
        body="<p>The river is <strong>up 2 m</strong>.</p>",
        author="Valley desk",
        published_at=_at(0),
        media=[
            {"url": "https://img.example/river.jpg", "caption": "The bridge", "alt": "A bridge"}
        ],
    )
    second = await _post(
        http, "floods", body="<p>No headline on this one.</p>", published_at=_at(5)
    )
    await http.patch(f"/api/blogs/floods/entries/{first['id']}", json={"headline": "Levels up"})

    page = await _page(http, "/blogs/floods")
    data = page.jsonld()
    canonical = "https://news.example/blogs/floods"
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "LiveBlogPosting"
    assert data["url"] == data["@id"] == canonical
    assert data["headline"] == "Flood watch"
    assert data["description"] == "River levels across the valley"
    assert data["coverageStartTime"].endswith("Z")
    assert "coverageEndTime" not in data
    assert data["publisher"] == {
        "@type": "Organization",
        "name": "Coast Herald",
        "logo": {"@type": "ImageObject", "url": LOGO},
    }
    newest, oldest = data["liveBlogUpdate"]
    # Each update is named by its own page, the URL it is shared by.
    assert newest["url"] == newest["@id"] == f"{canonical}/entries/{second['id']}"
    assert newest["headline"] == "No headline on this one."
    assert newest["articleBody"] == "No headline on this one."
    assert oldest["headline"] == "Levels up"
    assert oldest["articleBody"] == "The river is up 2 m."
    assert oldest["author"] == {"@type": "Person", "name": "Valley desk"}
    assert oldest["datePublished"] == "2026-05-04T12:00:00Z"
    assert oldest["dateModified"] > oldest["datePublished"]  # it was edited
    assert oldest["image"] == ["https://img.example/river.jpg"]

    # The page's other metadata.
    assert page.find("link", rel="canonical") == [{"rel": "canonical", "href": canonical}]
    assert page.meta("og:url") == canonical
    assert page.meta("og:title") == "Flood watch"
    assert page.meta("og:description") == "River levels across the valley"
    assert page.meta("og:site_name") == "Coast Herald"
    assert page.meta("og:image") == "https://img.example/river.jpg"
    assert page.meta("og:type") == "article"
    (alternate,) = page.find("link", rel="alternate", type="application/atom+xml")
    assert alternate["href"] == f"{canonical}/feed.atom"

    await http.patch("/api/blogs/floods", json={"status": "ended"})
    ended = (await _page(http, "/blogs/floods")).jsonld()
    assert ended["coverageEndTime"] >= ended["coverageStartTime"]


async def test_json_ld_cannot_be_closed_by_an_entry(http: httpx.AsyncClient) -> None:
    await _blog(http, "escape")
    await _post(
        http, "escape", headline="</script><script>alert(1)</script><!--", published_at=_at(0)
    )
    response = await http.get("/blogs/escape")
    page = Page(response.text)
    assert page.jsonld()["liveBlogUpdate"][0]["headline"].startswith("</script><script>")
    assert "<script>alert(1)" not in response.text
    # Every script is the page's own module or a data block (JSON-LD, the script's catalogue):
    # none inline.
    for attrs, text in page.scripts:
        assert attrs.get("type") in ("application/ld+json", "application/json") or (
            attrs.get("type") == "module" and attrs["src"].startswith("/static/") and not text
        )


async def test_timeline_is_complete_without_javascript(http: httpx.AsyncClient) -> None:
    await _blog(http, "nojs", description="All in the HTML")
    key = await _post(http, "nojs", headline="It began", labels=["key"], published_at=_at(0))
    regular = [
        await _post(http, "nojs", headline=f"Step {n}", published_at=_at(n)) for n in range(1, 25)
    ]
    pinned = await _post(http, "nojs", headline="Summary", pinned=True, published_at=_at(2))
    photo = await _post(
        http,
        "nojs",
        headline="Picture",
        author="Photo desk",
        labels=["breaking", "key"],
        published_at=_at(40),
        media=[
            {
                "url": "https://img.example/a.jpg",
                "caption": "Sandbags",
                "credit": "Agency",
                "alt": "Bags",
            }
        ],
    )
    await http.patch(f"/api/blogs/nojs/entries/{photo['id']}", json={"body": "<p>Edited.</p>"})

    response = await http.get("/blogs/nojs")
    html, page = response.text, Page(response.text)
    assert page.ids("entry")[0] == pinned["id"]  # pinned on top
    timeline = [photo["id"], *(e["id"] for e in reversed(regular))][:20]
    assert page.ids("entry")[1:] == timeline
    assert page.ids("entry--pinned") == [pinned["id"]]
    assert page.ids("entry--breaking") == [photo["id"]]
    assert '<h1 class="lb-title" id="lb-title">Flood watch</h1>' in html
    assert "All in the HTML" in html
    article = html[html.index(f'id="entry-{photo["id"]}"') :].split("</article>")[0]
    assert (
        # In the blog's zone (UTC by default), with the date: it is not from today.
        '<time class="entry__clock" datetime="2026-05-04T12:40:00Z" data-clock>May 4, 12:40</time>'
        in article
    )
    assert re.search(r'class="entry__updated">Updated <time datetime="[^"]+Z"', article)
    assert '<span class="label label--breaking">Breaking</span>' in article
    assert '<h3 class="entry__headline">Picture</h3>' in article
    assert '<div class="entry__body"><p>Edited.</p></div>' in article
    assert '<img src="https://img.example/a.jpg" alt="Bags"' in article
    caption = '<span class="entry__caption">Sandbags</span>'
    assert f'{caption} <span class="entry__credit">Photo: Agency</span>' in article
    assert '<p class="entry__author">By Photo desk</p>' in article

    # Key events: the first is on this page; the other links to the older page that holds it.
    links = [a["href"] for name, a in page.tags if name == "a" and "href" in a]
    keys = [h for h in links if h.endswith((f"#entry-{photo['id']}", f"#entry-{key['id']}"))]
    assert keys[0] == f"#entry-{photo['id']}"
    older_link = next(h for h in keys if h.endswith(f"#entry-{key['id']}"))
    assert older_link.startswith("?before=")
    older = await _page(http, urljoin("/blogs/nojs", older_link.split("#")[0]))
    assert older.ids("entry")[0] == key["id"]

    # "Load older updates" is a real link: the rest of the timeline, then no further link.
    (more,) = page.find("a", id="load-older")
    rest = await _page(http, urljoin("/blogs/nojs", more["href"]))
    assert rest.ids("entry") == [*[e["id"] for e in reversed(regular)][19:], key["id"]]
    assert "hidden" in rest.find("a", id="load-older")[0]
    assert rest.meta("robots") == "noindex, follow"


async def test_the_page_starts_live_from_the_position_it_shows(http: httpx.AsyncClient) -> None:
    await _blog(http, "position")
    await _post(http, "position")
    (root,) = (await _page(http, "/blogs/position")).find("div", id="liveblog")
    api = (await http.get("/api/blogs/position/entries")).json()
    assert root["data-last-event-id"] == api["last_event_id"]
    assert root["data-events"] == "/blogs/position/events"
    assert root["data-api"] == "/api/blogs/position/entries"
    assert root["data-status"] == "live"


async def test_unknown_blogs_and_cursors_are_404(http: httpx.AsyncClient) -> None:
    for path in ("/blogs/nope", "/blogs/nope/feed.atom", "/blogs/nope/embed"):
        assert (await http.get(path)).status_code == 404
    await _blog(http, "exists")
    response = await http.get("/blogs/exists", params={"before": "not-a-cursor"})
    assert response.status_code == 404
    assert "could not be found" in response.text


# --- the feed ----------------------------------------------------------------------------


async def test_atom_feed_parses_and_validates(http: httpx.AsyncClient) -> None:
    await _blog(http, "feed", description="Feed of the floods")
    plain = await _post(
        http, "feed", body="<p>Untitled &amp; unsigned\x0b.</p>", published_at=_at(0)
    )
    full = await _post(
        http,
        "feed",
        headline="Water & wind <live>",
        author="Desk",
        labels=["breaking"],
        body="<p>Body with <em>markup</em>.</p>",
        published_at=_at(10),
        media=[
            {
                "url": "https://img.example/f.jpg",
                "caption": "Quay",
                "credit": "Agency",
                "alt": "The quay",
            }
        ],
    )
    edited = await http.patch(
        f"/api/blogs/feed/entries/{plain['id']}", json={"headline": "Now titled"}
    )
    assert edited.status_code == 200

    response = await http.get("/blogs/feed/feed.atom")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"

    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "Flood watch"
    assert parsed.feed.subtitle == "Feed of the floods"
    assert parsed.feed.link == "https://news.example/blogs/feed"
    assert [e.title for e in parsed.entries] == ["Water & wind <live>", "Now titled"]
    first, second = parsed.entries
    assert first.id == f"https://news.example/blogs/feed#entry-{full['id']}"
    assert first.author == "Desk"
    assert [t.term for t in first.tags] == ["breaking"]
    assert "<em>markup</em>" in first.content[0].value
    assert 'src="https://img.example/f.jpg"' in first.content[0].value
    assert second.updated_parsed > second.published_parsed  # the edit shows
    assert "author" not in second
    assert parsed.feed.author == "Coast Herald"  # stands in for entries without one

    # RFC 4287's required elements, checked on the XML itself.
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, name
    assert root.find(f"{ATOM}author/{ATOM}name") is not None
    (self_link,) = [x for x in root.findall(f"{ATOM}link") if x.get("rel") == "self"]
    assert self_link.get("href") == "https://news.example/blogs/feed/feed.atom"
    updated = root.findtext(f"{ATOM}updated")
    assert updated is not None
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
        alternate = [x for x in entry.findall(f"{ATOM}link") if x.get("rel") == "alternate"]
        assert len(alternate) == 1
        assert entry.find(f"{ATOM}content").get("type") == "html"  # type: ignore[union-attr]
        entry_updated = entry.findtext(f"{ATOM}updated")
        assert entry_updated is not None and entry_updated <= updated
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", entry_updated)
    ids = [e.findtext(f"{ATOM}id") for e in root.findall(f"{ATOM}entry")]
    assert len(set(ids)) == len(ids)


# --- headers -----------------------------------------------------------------------------


def _csp(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {d.split()[0]: " ".join(d.split()[1:]) for d in policy.split(";") if d.strip()}


async def test_security_headers(http: httpx.AsyncClient) -> None:
    await _blog(http, "secure")
    for path in ("/", "/blogs/secure", "/blogs/secure/embed", "/blogs/nope"):
        response = await http.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin", path
        csp = _csp(response)
        assert csp["script-src"] == "'self'", path
        assert csp["object-src"] == "'none'", path
        assert csp["base-uri"] == "'self'", path
        assert "unsafe-inline" not in response.headers["content-security-policy"], path
        assert "unsafe-eval" not in response.headers["content-security-policy"], path
    page = await http.get("/blogs/secure")
    assert _csp(page)["frame-ancestors"] == "'self'"
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    embed = await http.get("/blogs/secure/embed")
    assert _csp(embed)["frame-ancestors"] == "https://partner.example https://*.friends.example"
    assert "x-frame-options" not in embed.headers

    (module,) = [a["src"] for a, _ in Page(page.text).scripts if a.get("type") == "module"]
    script = await http.get(module)
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
    plain = await http.get("/static/reader/stream.js")  # imported without a version
    assert plain.headers["cache-control"] == "no-cache"

    loader = await http.get("/embed.js")
    assert loader.headers["content-type"].startswith("text/javascript")
    assert loader.headers["access-control-allow-origin"] == "*"
    assert loader.headers["cross-origin-resource-policy"] == "cross-origin"


async def test_frame_ancestors_from_settings_cannot_add_directives(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(frame_ancestors="https://a.example; script-src *")
    async with serve_in_process(settings) as url, httpx.AsyncClient(base_url=url) as client:
        await client.post(
            "/api/blogs",
            json={"slug": "framed", "title": "Framed"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        csp = _csp(await client.get("/blogs/framed/embed"))
    assert csp["script-src"] == "'self'"
    assert csp["frame-ancestors"] == "https://a.example"


# --- the index ---------------------------------------------------------------------------


async def test_index_lists_live_blogs_first(http: httpx.AsyncClient) -> None:
    await _blog(http, "old-news", title="Old news")
    await _blog(http, "quiet", title="Quiet")
    await _blog(http, "busy", title="Busy")
    await _post(http, "busy", headline="Just now")
    await _post(http, "old-news", headline="Earlier")
    await http.patch("/api/blogs/old-news", json={"status": "ended"})
    page = await _page(http, "/")
    slugs = [
        values["data-slug"] for name, values in page.tags if name == "li" and "data-slug" in values
    ]
    assert slugs == ["busy", "quiet", "old-news"]


async def test_web_directory_is_found() -> None:
    assert WEB_DIR.is_dir()
    assert (TEMPLATES_DIR / "reader.html").is_file()
    assert (STATIC_DIR / "reader.js").is_file()

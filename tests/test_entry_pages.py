"""An update's own page, the URL it is shared by (docs/api.md, Sharing and embedding): what a
social network's crawler reads of it (fetched without JavaScript, its head parsed as such
crawlers do), who may see it, the blog's article:modified_time, and the oEmbed provider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from liveblog.config import Settings
from tests.support.crawler import crawl
from tests.support.servers import ADMIN_TOKEN, serve_in_process

ORIGIN = "https://news.example"
LOGO = "https://cdn.example/logo.png"
PHOTO = "https://img.example/bridge.jpg"


@pytest.fixture
async def http(settings_factory: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_factory(
        publisher_name="Coast Herald", publisher_logo=LOGO, public_url=ORIGIN,
        frame_ancestors="https://partner.example",
    )  # fmt: skip
    async with serve_in_process(settings) as url:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
            yield client


async def _blog(http: httpx.AsyncClient, slug: str = "floods") -> None:
    body = {"slug": slug, "title": "Flood watch", "description": "River levels, live"}
    assert (await http.post("/api/blogs", json=body)).status_code == 201


async def _post(http: httpx.AsyncClient, slug: str = "floods", **fields: Any) -> dict[str, Any]:
    fields.setdefault("body", "<p>An update.</p>")
    response = await http.post(f"/api/blogs/{slug}/entries", json=fields)
    assert response.status_code == 201, response.text
    entry: dict[str, Any] = response.json()
    return entry


async def test_an_update_shared_on_social_media_has_a_card_of_its_own(
    http: httpx.AsyncClient,
) -> None:
    await _blog(http)
    entry = await _post(
        http,
        headline="The old bridge is closed",
        body="<p>Engineers found <strong>cracks</strong> in the east pier &amp; closed it.</p>",
        author="Valley desk",
        media=[{"url": PHOTO, "alt": "A stone bridge over a high river", "caption": "The pier"}],
    )
    fixed = await http.patch(
        f"/api/blogs/floods/entries/{entry['id']}",
        json={"correction": "The bridge is in Upton, not Acton."},
    )
    assert fixed.status_code == 200
    url = f"{ORIGIN}/blogs/floods/entries/{entry['id']}"

    card = await crawl(http, f"/blogs/floods/entries/{entry['id']}")
    assert card.status == 200
    assert card.title == "The old bridge is closed · Flood watch · Coast Herald"
    assert [link["href"] for link in card.link("canonical")] == [url]
    assert card.one("og:url") == url
    assert card.one("og:type") == "article"
    assert card.one("og:site_name") == "Coast Herald"
    assert card.one("og:title") == "The old bridge is closed"
    assert card.one("og:description") == "Engineers found cracks in the east pier & closed it."
    assert card.one("og:image") == PHOTO
    assert card.one("twitter:card") == "summary_large_image"
    assert card.one("article:published_time") == entry["published_at"].replace("+00:00", "Z")
    assert card.one("article:modified_time") == fixed.json()["updated_at"].replace("+00:00", "Z")
    (data,) = card.jsonld
    assert data["@type"] == "BlogPosting" and data["@id"] == data["url"] == url
    assert data["headline"] == "The old bridge is closed"
    assert data["image"] == [PHOTO]
    assert data["author"] == {"@type": "Person", "name": "Valley desk"}
    blog = f"{ORIGIN}/blogs/floods"
    assert data["isPartOf"] == {
        "@type": "LiveBlogPosting", "@id": blog, "url": blog, "headline": "Flood watch"
    }  # fmt: skip
    assert data["publisher"]["name"] == "Coast Herald"
    # The page itself: the entry, its correction, and the way into the live blog.
    assert ("article", {"class": "entry", "id": f"entry-{entry['id']}"}) in [
        (tag, {k: v for k, v in attrs.items() if k in ("class", "id")}) for tag, attrs in card.tags
    ]
    assert "The bridge is in Upton, not Acton." in card.text
    hrefs = [attrs.get("href") for tag, attrs in card.tags if tag == "a"]
    assert f"{ORIGIN}/blogs/floods" in hrefs
    assert f"{ORIGIN}/blogs/floods#entry-{entry['id']}" in hrefs
    assert "Follow the live blog" in card.text
    (oembed,) = card.link("alternate", type="application/json+oembed")
    assert parse_qs(urlsplit(oembed["href"]).query)["url"] == [url]


async def test_a_card_without_headline_or_photo_falls_back_to_the_blog(
    http: httpx.AsyncClient,
) -> None:
    await _blog(http)
    plain = await _post(http, body="<p>" + "Water keeps rising along the quay. " * 20 + "</p>")
    card = await crawl(http, f"/blogs/floods/entries/{plain['id']}")
    assert card.one("og:title") == "Flood watch"  # no headline: the blog's title
    description = card.one("og:description")
    assert description.startswith("Water keeps rising") and description.endswith("…")
    assert len(description) <= 300
    assert card.one("og:image") == LOGO  # no photo anywhere in the blog: the publisher's image
    await _post(http, headline="Picture", media=[{"url": PHOTO, "alt": "The bridge"}])
    card = await crawl(http, f"/blogs/floods/entries/{plain['id']}")
    blog = await crawl(http, "/blogs/floods")
    assert card.one("og:image") == blog.one("og:image") == PHOTO  # the blog's own image


async def test_only_published_entries_have_pages(http: httpx.AsyncClient) -> None:
    await _blog(http)
    await _blog(http, "other")
    shown = await _post(http, headline="Visible")
    hidden = [
        await _post(http, headline="Secret draft", status="draft"),
        await _post(http, headline="Secret waiting", status="submitted"),
        await _post(http, headline="Secret later", status="scheduled",
                    publish_at="2999-01-01T00:00:00Z"),
    ]  # fmt: skip
    gone = await _post(http, headline="Secret deleted")
    assert (await http.delete(f"/api/blogs/floods/entries/{gone['id']}")).status_code == 204
    paths = [f"/blogs/floods/entries/{e['id']}" for e in [*hidden, gone]] + [
        f"/blogs/floods/entries/{'0' * 16}",
        "/blogs/floods/entries/not-an-id",
        f"/blogs/other/entries/{shown['id']}",  # another blog's entry
        f"/blogs/nope/entries/{shown['id']}",
    ]
    for path in paths:
        for page in (path, path + "/embed"):
            response = await http.get(page)
            assert response.status_code == 404, page
            assert "Secret" not in response.text
            assert 'name="robots" content="noindex"' in response.text
    assert (await http.get(f"/blogs/floods/entries/{shown['id']}")).status_code == 200


async def test_the_entry_frame_is_for_other_sites(http: httpx.AsyncClient) -> None:
    await _blog(http)
    entry = await _post(http, headline="Framed")
    response = await http.get(f"/blogs/floods/entries/{entry['id']}/embed")
    assert response.status_code == 200
    assert "frame-ancestors https://partner.example" in response.headers["content-security-policy"]
    assert '<base target="_blank">' in response.text and "noindex" in response.text
    assert f'id="entry-{entry["id"]}"' in response.text
    page = await http.get(f"/blogs/floods/entries/{entry['id']}")
    assert "frame-ancestors 'self'" in page.headers["content-security-policy"]


async def test_article_modified_time_moves_with_the_blog(http: httpx.AsyncClient) -> None:
    """The blog page's article:modified_time and its JSON-LD dateModified: one source."""
    await _blog(http)
    seen = []

    async def modified() -> str:
        card = await crawl(http, "/blogs/floods")
        (data,) = card.jsonld
        assert card.one("article:modified_time") == data["dateModified"]
        return data["dateModified"]

    seen.append(await modified())
    entry = await _post(http, headline="First")
    seen.append(await modified())
    await http.patch(f"/api/blogs/floods/entries/{entry['id']}", json={"headline": "First!"})
    seen.append(await modified())
    await http.patch("/api/blogs/floods", json={"title": "Flood watch, day 2"})
    seen.append(await modified())
    assert seen == sorted(seen) and len(set(seen)) == 4  # each change moved it


# --- oEmbed --------------------------------------------------------------------------------


async def _oembed(http: httpx.AsyncClient, url: str, **params: str) -> httpx.Response:
    return await http.get("/oembed", params={"url": url, **params})


async def test_oembed_answers_for_blogs_and_their_updates(http: httpx.AsyncClient) -> None:
    await _blog(http)
    entry = await _post(http, headline="Bridge closed")
    blog_card = await crawl(http, "/blogs/floods")
    (link,) = blog_card.link("alternate", type="application/json+oembed")
    response = await http.get(link["href"].removeprefix(ORIGIN))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert {k: data[k] for k in ("version", "type", "width", "height", "title")} == {
        "version": "1.0", "type": "rich", "width": 640, "height": 800, "title": "Flood watch"
    }  # fmt: skip
    assert data["provider_name"] == "Coast Herald" and data["provider_url"] == f"{ORIGIN}/"
    assert data["html"].startswith(f'<iframe src="{ORIGIN}/blogs/floods/embed" width="640"')

    bounded = (await _oembed(http, f"{ORIGIN}/blogs/floods", maxwidth="400",
                             maxheight="300")).json()  # fmt: skip
    assert (bounded["width"], bounded["height"]) == (400, 300)
    assert 'width="400" height="300"' in bounded["html"]

    for url in (f"{ORIGIN}/blogs/floods/entries/{entry['id']}",
                f"{ORIGIN}/blogs/floods#entry-{entry['id']}"):  # fmt: skip
        item = (await _oembed(http, url)).json()
        assert item["title"] == "Bridge closed · Flood watch"
        src = f"{ORIGIN}/blogs/floods/entries/{entry['id']}/embed"
        assert item["html"].startswith(f'<iframe src="{src}"'), url


async def test_oembed_refuses_what_is_not_a_page_of_this_server(http: httpx.AsyncClient) -> None:
    await _blog(http)
    draft = await _post(http, headline="Draft", status="draft")
    for url in (
        "https://elsewhere.example/blogs/floods",
        "http://news.example/blogs/floods",  # another origin: the scheme differs
        f"{ORIGIN}/blogs/nope",
        f"{ORIGIN}/blogs/floods/entries/{draft['id']}",
        f"{ORIGIN}/blogs/floods/feed.atom",
        f"{ORIGIN}/",
    ):
        response = await _oembed(http, url)
        assert response.status_code == 404, url
        assert response.headers["content-type"] == "application/problem+json"
    assert (await _oembed(http, f"{ORIGIN}/blogs/floods", format="xml")).status_code == 501
    assert (await http.get("/oembed")).status_code == 400
    assert (await _oembed(http, f"{ORIGIN}/blogs/floods", maxwidth="wide")).status_code == 400


@pytest.mark.parametrize("engine_name", ["memory"])
async def test_without_a_known_origin_no_discovery_link(
    settings_factory: Callable[..., Settings],
) -> None:
    """A page cannot name its absolute URL without a trusted origin (never from a Host nobody
    vouched for): no discovery link then, and the endpoint says why it answers nothing."""
    async with (
        serve_in_process(settings_factory()) as url,
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http,
    ):
        await _blog(http)
        entry = await _post(http, headline="Here")
        for path in ("/blogs/floods", f"/blogs/floods/entries/{entry['id']}"):
            card = await crawl(http, path)
            assert card.link("alternate", type="application/json+oembed") == []
        response = await _oembed(http, f"{url}/blogs/floods")
        assert response.status_code == 404
        assert "LIVEBLOG_PUBLIC_URL" in response.json()["detail"]

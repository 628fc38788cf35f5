"""Embeds with consent: the server recognises providers from a strict allowlist, the page shows
a card with a link (nothing loaded from the provider), and the CSP allows exactly their frames."""

from __future__ import annotations

import re

import pytest

from tests.support.clients import Editor

URLS = {
    "youtube": ("https://www.youtube.com/watch?v=dQw4w9WgXcQ",
                "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ?autoplay=1"),
    "vimeo": ("https://vimeo.com/76979871", "https://player.vimeo.com/video/76979871?autoplay=1&dnt=1"),
    "x": ("https://x.com/nasa/status/1234567890",
          "https://platform.twitter.com/embed/Tweet.html?id=1234567890&dnt=true"),
    "bluesky": ("https://bsky.app/profile/bsky.app/post/3l6oveex3ii2l",
                "https://embed.bsky.app/embed/bsky.app/app.bsky.feed.post/3l6oveex3ii2l"),
    "mastodon": ("https://mastodon.social/@Gargron/11232", "https://mastodon.social/@Gargron/11232/embed"),
    "instagram": ("https://www.instagram.com/p/C1a2b3c4d5/", "https://www.instagram.com/p/C1a2b3c4d5/embed/"),
    "tiktok": ("https://www.tiktok.com/@scout2015/video/6718335390845095173",
               "https://www.tiktok.com/embed/v2/6718335390845095173"),
}  # fmt: skip
FRAME_SRC = (
    "https://www.youtube-nocookie.com https://player.vimeo.com https://platform.twitter.com "
    "https://embed.bsky.app https://www.instagram.com https://www.tiktok.com "
    "https://mastodon.social https://mastodon.online https://mstdn.social https://social.coop"
)


@pytest.mark.parametrize("provider", list(URLS))
async def test_each_provider_is_recognised_from_its_url(editor: Editor, provider: str) -> None:
    await editor.blog("e")
    url, frame = URLS[provider]
    # Whatever the client claims about the frame, the server decides it from the URL.
    sent = {"type": "embed", "url": url, "provider": "evil", "embed_url": "https://evil.example/"}
    entry = await editor.post("e", media=[sent])
    (media,) = entry["media"]
    assert (media["type"], media["provider"], media["embed_url"]) == ("embed", provider, frame)


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com.evil.example/watch?v=dQw4w9WgXcQ",
        "https://evil.example/@someone/1234",  # a Mastodon-like URL on a server not listed
        "https://vimeo.com/channels/staffpicks",
        "https://www.youtube.com/watch?v=short",
        "https://example.org/video.mp4",
        # A Bluesky account is a did:plc or a domain name; the frame's path is built from it.
        *(
            f"https://bsky.app/profile/{actor}/post/3l6oveex3ii2l"
            for actor in (
                "..",
                ".",
                "-",
                "a..b",
                "-a.com",
                "a-.com",
                "com",
                "a.1com",
                "x" * 64 + ".com",
                "a.b.",
                ".a.b",
                "a_b.com",
                "a" * 250 + ".com",
                "did:plc:short",
                "..%2F..",
            )
        ),
    ],
)
async def test_urls_off_the_allowlist_are_refused(editor: Editor, url: str) -> None:
    await editor.blog("e")
    response = await editor.http.post(
        "/api/blogs/e/entries", json={"body": "x", "media": [{"type": "embed", "url": url}]}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "$.media[0].url"


async def test_the_page_shows_a_card_and_loads_nothing_from_the_provider(editor: Editor) -> None:
    await editor.blog("e")
    url, frame = URLS["youtube"]
    await editor.post("e", body="<p>Watch</p>", media=[{"type": "embed", "url": url,
                                                        "caption": "The briefing"}])  # fmt: skip
    response = await editor.http.get("/blogs/e")
    html = response.text
    card = html.split('class="entry__media embed-card', 1)[1].split("</figure>", 1)[0]
    assert "<iframe" not in html and "youtube-nocookie" not in html.replace(
        f'data-embed="{frame.replace("&", "&amp;")}"', ""
    )
    # Without JavaScript: a link to the video; the button that loads the player is for the script.
    assert f'<a class="embed-card__link" href="{url}" rel="noopener noreferrer">' in card
    assert re.search(
        r'<button type="button" class="embed-card__load" hidden>Load video</button>', card
    )
    assert "The briefing" in card
    csp = dict(
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
    )
    assert csp["frame-src"] == FRAME_SRC


def test_the_console_gets_the_allowlist_in_javascripts_syntax() -> None:
    """The editor page hands the console these patterns (liveblog/pages/newsroom.py): the same
    allowlist, with JavaScript's named groups and end of text."""
    from liveblog.editorial import embeds

    data = embeds.client_providers(["mastodon.social"])
    keys = [p["key"] for p in data["providers"]]  # type: ignore[index]
    assert sorted(keys) == sorted(URLS)
    for provider in data["providers"]:  # type: ignore[attr-defined]
        assert "(?P<" not in provider["pattern"] and "\\Z" not in provider["pattern"]
        assert provider["pattern"].endswith("$")
    assert data["mastodon_hosts"] == ["mastodon.social"]
    assert "youtube.com" in data["page_hosts"] and "mastodon.social" in data["page_hosts"]  # type: ignore[operator]

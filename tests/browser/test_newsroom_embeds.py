"""Embeds where editors work: a post or video link pasted into the composer becomes an embed
with the consent card readers get (in the preview too); the photo field refuses such links
and says what to do; plain web addresses in the text become links."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Locator, Page, expect

from tests.browser.kit import PHONE, Newsroom, Pages
from tests.browser.test_newsroom import Console, entries
from tests.browser.test_rich import ThirdParty, axe_violations
from tests.browser.test_screenshots import _settle
from tests.test_embeds import URLS

YOUTUBE = URLS["youtube"][0]
NAMES = {
    "youtube": "YouTube", "vimeo": "Vimeo", "x": "X", "bluesky": "Bluesky",
    "mastodon": "Mastodon", "instagram": "Instagram", "tiktok": "TikTok",
}  # fmt: skip


async def paste(target: Locator, text: str) -> None:
    """Paste plain text where the caret is, as the phone's or the desktop's clipboard would."""
    await target.click()
    await target.evaluate(
        """(node, text) => {
            const data = new DataTransfer();
            data.setData("text/plain", text);
            node.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true,
                                                             cancelable: true}));
        }""",
        text,
    )


async def _stored(newsroom: Newsroom, slug: str, headline: str) -> dict[str, Any]:
    [entry] = [e for e in await entries(newsroom, slug) if e["headline"] == headline]
    return entry


@pytest.mark.parametrize("provider", list(URLS))
async def test_a_pasted_link_of_each_provider_becomes_an_embed(
    server: str, newsroom: Newsroom, pages: Pages, provider: str
) -> None:
    await newsroom.blog("match", "Cup final")
    third = ThirdParty()
    console = await Console.open(pages, server, blog="match", before_load=third.install)
    composer = console.composer
    url = URLS[provider][0]
    await composer.locator("[name=headline]").fill("Watch it again")
    await paste(composer.locator("[data-role=body]"), url)
    # Not into the text: into the embed, which opens and says what readers get.
    await expect(composer.locator("[data-role=body]")).to_have_text("")
    await expect(composer.locator("[name=embed_url]")).to_have_value(url)
    await expect(composer.locator("[data-role=embed]")).to_have_attribute("open", "")
    status = composer.locator("[data-role=embed-status]")
    await expect(status).to_contain_text(f"{NAMES[provider]} ")
    await expect(status).to_contain_text("choose to")

    await composer.locator("[data-action=preview]").click()
    card = composer.locator("[data-role=preview-entry] .embed-card")
    await expect(card).to_have_class(f"entry__media embed-card embed-card--{provider}")
    await expect(card.locator(".embed-card__link")).to_have_text(f"Open on {NAMES[provider]}")
    await expect(card.locator(".embed-card__note")).to_contain_text("only if you choose to")
    await console.publish()
    await expect(console.entry_titled("Watch it again").locator(".embed-card")).to_have_count(1)
    stored = await _stored(newsroom, "match", "Watch it again")
    [media] = stored["media"]
    assert (media["type"], media["provider"], media["url"]) == ("embed", provider, url)
    assert third.hosts() == []  # neither the preview nor the console asked the provider


async def test_an_embed_with_a_photo_a_caption_and_the_reader_page(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("match", "Cup final")
    console = await Console.open(pages, server, blog="match")
    composer = console.composer
    await console.write(headline="The winning goal", text="From the north stand.")
    await composer.locator("[data-role=photo] summary").click()
    await composer.locator("[name=photo_url]").fill("https://img.example/goal.jpg")
    await composer.locator("[name=alt]").fill("The ball in the net")
    await composer.locator("[data-role=embed] summary").click()
    await composer.locator("[name=embed_url]").fill(YOUTUBE)
    await composer.locator("[name=embed_caption]").fill("The goal, from the broadcast")
    await console.publish()
    card = console.entry_titled("The winning goal")
    await expect(card.locator(".embed-card figcaption")).to_have_text(
        "The goal, from the broadcast"
    )
    stored = await _stored(newsroom, "match", "The winning goal")
    assert [m["type"] for m in stored["media"]] == ["image", "embed"]

    # Edited: the caption changes, both items stay.
    await card.locator("[data-action=edit]").click()
    editing = console.page.locator(".nr-entry--editing")
    await expect(editing.locator("[name=embed_url]")).to_have_value(YOUTUBE)
    await editing.locator("[name=embed_caption]").fill("The goal, replayed")
    await editing.locator("[data-role=submit]").click()
    await expect(card.locator(".embed-card figcaption")).to_have_text("The goal, replayed")
    stored = await _stored(newsroom, "match", "The winning goal")
    assert [(m["type"], m["caption"]) for m in stored["media"]] == [
        ("image", None),
        ("embed", "The goal, replayed"),
    ]
    assert stored["version"] == 2

    reader, _ = await pages.open(f"{server}/blogs/match")
    await expect(reader.locator(".embed-card--youtube")).to_have_count(1)


async def test_the_photo_field_refuses_a_provider_link_and_says_what_to_do(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("match", "Cup final")
    console = await Console.open(pages, server, blog="match")
    composer = console.composer
    await console.write(headline="Highlights")
    await composer.locator("[data-role=photo] summary").click()
    await composer.locator("[name=photo_url]").fill(YOUTUBE)
    refusal = composer.locator("[data-role=photo-refusal]")
    await expect(refusal).to_contain_text("That is a video on YouTube, not a picture.")
    await expect(refusal).to_contain_text("Put it under “Video or post”")
    await console.publish()
    await expect(composer.locator("[data-role=errors]")).to_contain_text("not a picture")
    assert await entries(newsroom, "match") == []  # nothing went

    # A page of the site that is not a post: refused too, with what to do instead.
    await composer.locator("[name=photo_url]").fill("https://www.youtube.com/@channel")
    await expect(refusal).to_contain_text("That is a page on youtube.com, not a picture.")
    await expect(refusal.locator("[data-action=move-to-embed]")).to_be_hidden()

    await composer.locator("[name=photo_url]").fill(YOUTUBE)
    await refusal.locator("[data-action=move-to-embed]").click()
    await expect(composer.locator("[name=photo_url]")).to_have_value("")
    await expect(composer.locator("[name=embed_url]")).to_have_value(YOUTUBE)
    await expect(refusal).to_be_hidden()
    await console.publish()
    await expect(console.entry_titled("Highlights")).to_have_count(1)
    stored = await _stored(newsroom, "match", "Highlights")
    assert [m["type"] for m in stored["media"]] == ["embed"]


async def test_an_unknown_link_in_the_embed_field_is_refused(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("match", "Cup final")
    console = await Console.open(pages, server, blog="match")
    composer = console.composer
    await console.write(headline="Elsewhere", text="A clip.")
    await composer.locator("[data-role=embed] summary").click()
    await composer.locator("[name=embed_url]").fill("https://clips.example/v/123")
    status = composer.locator("[data-role=embed-status]")
    await expect(status).to_have_attribute("data-state", "bad")
    await expect(status).to_contain_text("Not a post or video link of YouTube, Vimeo")
    await console.publish()
    await expect(composer.locator("[data-role=errors]")).to_contain_text("Not a post or video")
    assert await entries(newsroom, "match") == []


async def test_plain_web_addresses_in_the_text_become_links(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("match", "Cup final")
    console = await Console.open(pages, server, blog="match")
    composer = console.composer
    await console.write(
        headline="Tickets",
        text="Refunds at https://tickets.example/refunds. (Terms: https://tickets.example/terms)",
    )
    body = composer.locator("[data-role=body]")
    await paste(body, "https://club.example/statement")  # pasted alone: a link at once
    await expect(body.locator("a")).to_have_attribute("href", "https://club.example/statement")
    await composer.locator("[data-action=preview]").click()
    links = composer.locator("[data-role=preview-entry] .entry__body a")
    await expect(links).to_have_count(3)
    await console.publish()
    await expect(console.entry_titled("Tickets").locator(".entry__body a")).to_have_count(3)
    stored = await _stored(newsroom, "match", "Tickets")
    rel = 'rel="noopener noreferrer nofollow"'
    for url in ("https://tickets.example/refunds", "https://tickets.example/terms",
                "https://club.example/statement"):  # fmt: skip
        assert f'<a href="{url}" {rel}>{url}</a>' in stored["body"]
    assert "/refunds." not in stored["body"].replace("/refunds.</a>", "")  # the full stop is text
    assert "refunds</a>. (Terms" in stored["body"]
    assert "/terms</a>)" in stored["body"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_the_embed_preview_on_a_phone_is_accessible(
    server: str, newsroom: Newsroom, pages: Pages, scheme: str
) -> None:
    await newsroom.blog("match", "Cup final")
    console = await Console.open(
        pages, server, blog="match", viewport=PHONE, touch=True, color_scheme=scheme,
        reduced_motion="reduce",
    )  # fmt: skip
    page: Page = console.page
    await console.write(headline="Watch it again")
    await paste(console.composer.locator("[data-role=body]"), YOUTUBE)
    await console.composer.locator("[data-role=photo] summary").click()
    await console.composer.locator("[name=photo_url]").fill(URLS["x"][0])
    await console.composer.locator("[data-action=preview]").click()
    await expect(console.composer.locator("[data-role=preview-entry] .embed-card")).to_be_visible()
    await _settle(page)
    assert await axe_violations(page) == []
    assert await page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]

"""Embedding on another site: /embed.js inserts the compact page, sized to its content."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.kit import Newsroom, Pages, host_site

HEIGHT = "f => Math.round(f.getBoundingClientRect().height)"


async def test_embed_js_inserts_a_frame_that_follows_its_content(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("embedded", "Embedded coverage")
    await newsroom.post("embedded", headline="First from the embed")
    html = f"""<!doctype html><html><head><title>Host</title></head><body>
        <h1>An article elsewhere</h1>
        <div data-liveblog="embedded"></div>
        <script src="{server}/embed.js" async></script></body></html>"""
    async with host_site(html) as host:
        page, _ = await pages.open(host, wait_live=False)
        await _follows_its_content(page, server, newsroom)
        await page.close()


async def _follows_its_content(page: Page, server: str, newsroom: Newsroom) -> None:
    frame_element = page.locator("iframe")
    await expect(frame_element).to_have_attribute("src", f"{server}/blogs/embedded/embed")
    frame = page.frame_locator("iframe")
    await expect(frame.locator("#live-status")).to_have_attribute("data-state", "live")
    await expect(frame.locator(".entry__headline")).to_have_text("First from the embed")

    content = page.frames[1]
    inner = await content.evaluate(
        "Math.ceil(document.documentElement.getBoundingClientRect().height)"
    )
    await page.wait_for_function(
        f"h => ({HEIGHT})(document.querySelector('iframe')) === h", arg=inner
    )
    before = await frame_element.evaluate(HEIGHT)

    await newsroom.post("embedded", headline="Second", body="<p>More text.</p>" * 5)
    await expect(frame.locator(".entry__headline").first).to_have_text("Second", timeout=1000)
    grown = await content.evaluate(
        "Math.ceil(document.documentElement.getBoundingClientRect().height)"
    )
    assert grown > before
    await page.wait_for_function(
        f"h => ({HEIGHT})(document.querySelector('iframe')) === h", arg=grown
    )

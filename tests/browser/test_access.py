"""The console when a person's access ends while it is open: revoked, expired, or the blog taken
off their token. The server ends the newsroom stream with the reason (or refuses its reconnect);
the console says so in one sentence, on the sign-in screen, and stops reconnecting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Page, expect

from liveblog.app import create_app
from liveblog.config import Settings
from tests.browser.kit import Newsroom, Pages
from tests.browser.test_newsroom import Console
from tests.browser.test_screenshots import _save, _settle
from tests.support.servers import serve_app

PHONE = {"width": 360, "height": 740}
SENTENCES = {
    "revoked": "Your access to this blog was revoked: sign in again.",
    "expired": "Your access to this blog expired: sign in again.",
    "changed": "Your access to this blog was changed: sign in again.",
}
# What the console adds when the token itself is dead: the way back.
ASK = "Ask an admin for a new sign-in link."
RETRY_SECONDS = 2  # the console's pause between reconnects (workflow.js RETRY_MS)


async def editor_token(newsroom: Newsroom, **fields: Any) -> dict[str, Any]:
    body = {"name": "Mila Night Desk", "role": "editor", "blogs": ["harbour"], **fields}
    response = await newsroom.http.post("/api/tokens", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def count_stream_requests(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: "/newsroom/events" in r.url and seen.append(r.url))
    return seen


async def assert_no_more_retries(seen: list[str]) -> None:
    before = len(seen)
    await asyncio.sleep(RETRY_SECONDS * 2)  # two retry periods: a retry would have shown
    assert len(seen) == before, "the console went on reconnecting"


@pytest.mark.parametrize(("cause", "scheme"), [("revoked", "light"), ("expired", "dark")])
async def test_the_console_says_why_its_stream_ended(
    server: str, newsroom: Newsroom, pages: Pages, cause: str, scheme: str
) -> None:
    await newsroom.blog("harbour", "Harbour fire: live")
    fields = {}
    if cause == "expired":
        fields["expires_at"] = (datetime.now(UTC) + timedelta(seconds=8)).isoformat()
    token = await editor_token(newsroom, **fields)
    console = await Console.open(pages, server, token=token["token"], blog="harbour",
                                 viewport=PHONE, color_scheme=scheme)  # fmt: skip
    seen = count_stream_requests(console.page)
    await expect(console.page.locator("#workflow")).to_have_attribute("data-stream", "live")
    opened = len(seen)
    if cause == "revoked":
        assert (await newsroom.http.delete(f"/api/tokens/{token['id']}")).status_code == 204

    error = console.page.locator("#signin-error")
    await expect(error).to_have_text(f"{SENTENCES[cause]} {ASK}", timeout=15_000)
    await expect(error).to_be_visible()
    await expect(console.page.locator("#app")).to_be_hidden()
    assert await console.page.evaluate("localStorage.getItem('liveblog.token')") is None
    await expect(console.page.locator("#token-input")).to_have_value("")  # a dead token
    await assert_no_more_retries(seen)
    assert len(seen) == opened, "told why by the stream's last event, it never reconnected"
    await _settle(console.page)
    _save(f"access-{cause}-phone-{scheme}.png", await console.page.screenshot(full_page=True))


@pytest.mark.parametrize("engine_name", ["redis"])
async def test_a_refused_reconnect_stops_the_console(
    settings_factory: Callable[..., Settings], pages: Pages
) -> None:
    """The stream broke while the blog was taken off the token (no farewell reached the
    console): its reconnect gets 403, and the console says so and stops."""
    app = create_app(settings_factory())
    async with serve_app(app) as server:
        newsroom = Newsroom(server)
        try:
            await newsroom.blog("harbour", "Harbour fire: live")
            await newsroom.blog("council", "Council vote")
            token = await editor_token(newsroom)
            console = await Console.open(pages, server, token=token["token"], blog="harbour",
                                         allow_network_errors=True)  # fmt: skip
            seen = count_stream_requests(console.page)
            workflow = console.page.locator("#workflow")
            await expect(workflow).to_have_attribute("data-stream", "live")

            await console.page.context.set_offline(True)
            app.state.hub.shutdown_readers()  # the stream ends; its reconnects fail offline
            await expect(workflow).to_have_attribute("data-stream", "reconnecting")
            path = f"/api/tokens/{token['id']}"
            assert (await newsroom.http.patch(path, json={"blogs": ["council"]})).status_code == 200
            await console.page.context.set_offline(False)

            error = console.page.locator("#signin-error")
            await expect(error).to_have_text(SENTENCES["changed"], timeout=15_000)
            # The token still opens other blogs: it stays in the field, one click away.
            await expect(console.page.locator("#token-input")).to_have_value(token["token"])
            await assert_no_more_retries(seen)
            await _settle(console.page)
            _save("access-changed-desktop.png", await console.page.screenshot(full_page=True))
        finally:
            await newsroom.close()

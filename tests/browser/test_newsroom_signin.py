"""Sign-in that fits a newsroom: a sign-in link signs a browser in until sign-out (every tab,
the app on the home screen) and leaves no token in any history entry; the People screen sets
when a person's access ends and shows their link once; a revoked secret leaves the screen; a
console whose token the server no longer accepts ends its session and says why."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.kit import PHONE, Newsroom, Pages
from tests.browser.test_newsroom import Console
from tests.browser.test_phone import layout_problems
from tests.browser.test_rich import axe_violations
from tests.browser.test_screenshots import _save, _settle

SLOW = 20_000  # ms: the server's promise (2 s) plus a loaded machine's headroom


async def _person(newsroom: Newsroom, name: str = "Maya Okafor", **fields: Any) -> str:
    response = await newsroom.http.post(
        "/api/tokens", json={"name": name, "role": "editor", "blogs": ["harbour"], **fields}
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


async def history_urls(page: Page) -> list[str]:
    """Every entry of the tab's history, as the browser keeps it (back, forward, restore)."""
    session = await page.context.new_cdp_session(page)
    history = await session.send("Page.getNavigationHistory")
    await session.detach()
    return [entry["url"] for entry in history["entries"]]


async def test_a_sign_in_link_signs_this_browser_in_until_sign_out(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("harbour", "Harbour race")
    token = await _person(newsroom)
    page, _ = await pages.open(f"{server}/editor#token={token}", wait_live=False)
    await expect(page.locator("#me-name")).to_have_text("Maya Okafor")
    # The token is in no address the browser keeps.
    assert token not in page.url
    assert [url for url in await history_urls(page) if token in url] == []
    assert await page.evaluate("localStorage.getItem('liveblog.token')") == token
    # A new tab is signed in too, and so is the page opened again.
    second = await page.context.new_page()
    await second.goto(f"{server}/editor")
    await expect(second.locator("#me-name")).to_have_text("Maya Okafor")
    await page.reload()
    await expect(page.locator("#me-name")).to_have_text("Maya Okafor")
    # Signing out in one tab signs every tab out.
    await second.click("#sign-out")
    await expect(second.locator("#signin")).to_be_visible()
    await expect(page.locator("#signin")).to_be_visible()
    await expect(page.locator("#signin-error")).to_have_text("You signed out in another tab.")
    assert await page.evaluate("localStorage.getItem('liveblog.token')") is None
    await second.close()


async def test_the_people_screen_sets_when_access_ends_and_shows_the_link_once(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("harbour", "Harbour race")
    admin = await Console.open(pages, server, blog="harbour")
    page = admin.page
    await page.goto(f"{server}/people")
    form = page.locator("#person-form")
    await form.locator("[name=name]").fill("Tomás Ferreira")
    await form.locator("[name=role]").select_option("contributor")
    await form.locator("[name=expires]").select_option("7")
    await form.locator("[type=submit]").click()
    secret = page.locator("#new-secret")
    await expect(secret).to_be_visible()
    link = await secret.locator("[data-role=link]").inner_text()
    assert link.startswith(f"{server}/editor#token=lb_")
    await expect(secret.locator("[data-role=until]")).to_contain_text("It works until")
    [person] = (await newsroom.http.get("/api/tokens")).json()["tokens"]
    ends = datetime.fromisoformat(person["expires_at"])
    assert abs(ends - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=5)
    row = page.locator("#people-list tr", has_text="Tomás Ferreira")
    await expect(row.locator("[data-role=ends]")).not_to_contain_text("never")

    # The link works on another device (a new browser context).
    phone, _ = await pages.open(link, wait_live=False, viewport=PHONE, touch=True)
    await expect(phone.locator("#me-name")).to_have_text("Tomás Ferreira")

    # A chosen last day: access ends at the end of it, in the admin's zone.
    await form.locator("[name=name]").fill("Day Reporter")
    await form.locator("[name=expires]").select_option("date")
    last_day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    await form.locator("[name=expires_on]").fill(last_day)
    await form.locator("[type=submit]").click()
    await expect(secret.locator("[data-role=who]")).to_have_text("Day Reporter")
    people = {p["name"]: p for p in (await newsroom.http.get("/api/tokens")).json()["tokens"]}
    day = await page.evaluate(
        "iso => new Date(iso).toLocaleDateString('en-CA')", people["Day Reporter"]["expires_at"]
    )
    assert day == last_day

    # Revoked: the secret on screen is gone with it.
    await page.locator("#people-list tr", has_text="Day Reporter").locator("[data-revoke]").click()
    await page.locator("#confirm-dialog [value=confirm]").click()
    await expect(secret).to_be_hidden()
    assert await secret.locator("[data-role=token]").inner_text() == ""
    assert "lb_" not in await page.locator("body").inner_text()


async def test_a_revoked_persons_console_ends_its_session_and_says_why(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    """Revoked on the People screen (the API's DELETE): the server ends the console's newsroom
    stream with the reason (access.ended); the console signs out within 2 s, says why and
    what to do, and stops calling the server."""
    await newsroom.blog("harbour", "Harbour race")
    token = await _person(newsroom)
    console = await Console.open(pages, server, token=token, blog="harbour",
                                 allow_network_errors=True)  # fmt: skip
    page = console.page
    await expect(page.locator("#workflow")).to_have_attribute("data-stream", "live")
    streams: list[str] = []
    page.on("request", lambda r: "/newsroom/events" in r.url and streams.append(r.url))
    [person] = (await newsroom.http.get("/api/tokens")).json()["tokens"]
    assert (await newsroom.http.delete(f"/api/tokens/{person['id']}")).status_code == 204
    await expect(page.locator("#signin")).to_be_visible(timeout=2_000)
    await expect(page.locator("#signin-error")).to_have_text(
        "Your access to this blog was revoked: sign in again. Ask an admin for a new sign-in link."
    )
    assert await page.evaluate("localStorage.getItem('liveblog.token')") is None
    await expect(page.locator("#token-input")).to_have_value("")
    await asyncio.sleep(4)  # two of the console's reconnect periods
    assert streams == [], "told why by the stream's last event, it never reconnected"


async def test_a_refused_token_on_any_call_ends_the_session_keeping_unsent_work(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    """Revoked while the phone was offline (no stream could say so): the first call that
    reaches the server again is refused, and the session ends the same way, saying why and
    keeping what was written meanwhile on the device."""
    await newsroom.blog("harbour", "Harbour race")
    token = await _person(newsroom)
    console = await Console.open(pages, server, token=token, blog="harbour",
                                 allow_network_errors=True)  # fmt: skip
    page = console.page
    await expect(page.locator("#workflow")).to_have_attribute("data-stream", "live")
    await page.context.set_offline(True)
    await console.write(headline="Filed in the tunnel", text="It cannot go.")
    await console.publish()
    async with asyncio.timeout(SLOW / 1000):
        while len(await console.outbox()) != 1:  # kept on the device before it is sent
            await asyncio.sleep(0.05)
    [person] = (await newsroom.http.get("/api/tokens")).json()["tokens"]
    await newsroom.http.delete(f"/api/tokens/{person['id']}")
    await page.context.set_offline(False)
    await expect(page.locator("#signin")).to_be_visible(timeout=SLOW)
    error = page.locator("#signin-error")
    await expect(error).to_contain_text("Your access to this blog was revoked")
    await expect(error).to_contain_text("1 unsent entry stays")
    # It is on the device still, for that token only; nothing reached the server.
    assert len(await console.outbox()) == 1
    assert (await newsroom.http.get("/api/blogs/harbour/entries")).json()["entries"] == []


async def test_an_expired_token_says_so(server: str, newsroom: Newsroom, pages: Pages) -> None:
    """The console open as the token expires says so at once; a browser that kept an expired
    token says so when the console opens."""
    await newsroom.blog("harbour", "Harbour race")
    # Time enough to sign in and go live first on a loaded machine (3 s was not, now and then).
    soon = (datetime.now(UTC) + timedelta(seconds=10)).isoformat()
    token = await _person(newsroom, expires_at=soon)
    console = await Console.open(pages, server, token=token, blog="harbour",
                                 allow_network_errors=True)  # fmt: skip
    page = console.page
    await expect(page.locator("#workflow")).to_have_attribute("data-stream", "live")
    await expect(page.locator("#signin-error")).to_have_text(
        "Your access to this blog expired: sign in again. Ask an admin for a new sign-in link.",
        timeout=SLOW,
    )
    await page.evaluate("t => localStorage.setItem('liveblog.token', t)", token)
    await page.reload()
    await expect(page.locator("#signin-error")).to_contain_text("expired")
    assert await page.evaluate("localStorage.getItem('liveblog.token')") is None


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_the_people_screen_on_a_phone(
    server: str, newsroom: Newsroom, pages: Pages, scheme: str
) -> None:
    await newsroom.blog("harbour", "Harbour race")
    week = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    await _person(newsroom, expires_at=week)
    console = await Console.open(
        pages, server, blog="harbour", viewport=PHONE, touch=True, color_scheme=scheme,
        reduced_motion="reduce",
    )  # fmt: skip
    page = console.page
    await page.goto(f"{server}/people")
    form = page.locator("#person-form")
    await form.locator("[name=name]").fill("Tomás Ferreira")
    await form.locator("[name=expires]").select_option("30")
    await form.locator("[type=submit]").click()
    await expect(page.locator("#new-secret")).to_be_visible()
    await _settle(page)
    assert await layout_problems(page) == []
    assert await axe_violations(page) == []
    _save(f"newsroom-people-phone-{scheme}.png", await page.screenshot(full_page=True))

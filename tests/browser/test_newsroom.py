"""The newsroom in headless Chromium: the editor console and the live dashboard.

Readers are the real reader pages (issue 4) in other browser contexts; the editor API is called
directly only to set the scene or to check what the server holds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from playwright.async_api import Page, Route, expect

from tests.browser.kit import Newsroom, Pages, Watch, entry_ids
from tests.browser.test_screenshots import SLUG, _save, _settle, _storm_blog
from tests.support.clients import SSEReader, WSReader
from tests.support.servers import ADMIN_TOKEN, ServerProcess

SLOW = 20_000  # ms: a stats poll, a reconnect with backoff
SCREEN = {"width": 1440, "height": 1000}


class Console:
    """The editor console as an editor uses it."""

    def __init__(self, page: Page, watch: Watch) -> None:
        self.page = page
        self.watch = watch
        self.composer = page.locator("#composer")
        self.token_id = ""

    @classmethod
    async def open(
        cls, pages: Pages, base: str, *, token: str = ADMIN_TOKEN, blog: str = "", **options: Any
    ) -> Console:
        query = f"?blog={blog}" if blog else ""
        page, watch = await pages.open(f"{base}/editor{query}", wait_live=False, **options)
        console = cls(page, watch)
        await console.sign_in(token)
        return console

    async def sign_in(self, token: str) -> None:
        self.token_id = hashlib.sha256(token.encode()).hexdigest()[:12]  # what /api/me says
        await self.page.fill("#token-input", token)
        await self.page.click("#signin-form [type=submit]")
        await expect(self.page.locator("#stream-status")).to_have_attribute("data-state", "live")

    async def write(self, *, headline: str = "", text: str = "", bold: str = "") -> None:
        if headline:
            await self.composer.locator("[name=headline]").fill(headline)
        body = self.composer.locator("[data-role=body]")
        await body.click()
        await self.page.keyboard.type(text)
        if bold:
            await self.composer.locator("[data-cmd=bold]").click()
            await self.page.keyboard.type(bold)
            await self.composer.locator("[data-cmd=bold]").click()

    async def publish(self) -> None:
        await self.composer.locator("[data-role=body]").press("Control+Enter")

    def entry(self, entry_id: str) -> Any:
        return self.page.locator(f'#entry-list > .nr-entry[data-id="{entry_id}"]')

    def entry_titled(self, headline: str) -> Any:
        return self.page.locator("#entry-list > .nr-entry").filter(
            has=self.page.locator(".entry__headline", has_text=headline)
        )

    async def outbox(self, token_id: str = "") -> list[dict[str, Any]]:
        """The outbox this device keeps for a token (the signed-in one by default)."""
        key = f"liveblog.outbox.{token_id or self.token_id}"
        raw = await self.page.evaluate("key => localStorage.getItem(key) || '[]'", key)
        items: list[dict[str, Any]] = json.loads(raw)
        return items

    async def draft(self, slug: str) -> dict[str, Any] | None:
        key = f"liveblog.draft.{self.token_id}.{slug}"
        raw = await self.page.evaluate("key => localStorage.getItem(key)", key)
        return None if raw is None else dict(json.loads(raw))

    async def stored_keys(self) -> list[str]:
        keys: list[str] = await self.page.evaluate("Object.keys(localStorage)")
        return sorted(keys)


async def entries(newsroom: Newsroom, slug: str) -> list[dict[str, Any]]:
    response = await newsroom.http.get(f"/api/blogs/{slug}/entries", params={"limit": 100})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["entries"]
    return found


# --- the editor console ----------------------------------------------------------------------


async def test_an_editor_signs_in_composes_and_readers_see_it(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("harbour", "Harbour race", description="The regatta, as it happens")
    reader, _ = await pages.open(f"{server}/blogs/harbour")
    console = await Console.open(pages, server)
    page = console.page

    await expect(page.locator("#blog-title")).to_have_text("Harbour race")
    await expect(page.locator("#blog-list [aria-current=page]")).to_contain_text("Harbour race")
    await expect(page.locator("#me-role")).to_have_text("Admin")

    await console.write(headline="Boats leave the harbour", text="Crews are ", bold="on their way")
    await console.composer.locator(".nr-chip--breaking").click()
    await console.composer.locator("[data-action=preview]").click()
    preview = console.composer.locator("[data-role=preview-entry] .entry")
    await expect(preview.locator(".entry__headline")).to_have_text("Boats leave the harbour")
    await expect(preview.locator(".entry__body strong")).to_have_text("on their way")
    await expect(preview.locator(".label--breaking")).to_have_text("Breaking")
    # The draft is on this device before anything is sent.
    draft = await console.draft("harbour")
    assert draft is not None and draft["headline"] == "Boats leave the harbour"

    await console.publish()  # Ctrl+Enter

    top = reader.locator("#timeline > .entry").first
    await expect(top.locator(".entry__headline")).to_have_text("Boats leave the harbour")
    await expect(top.locator(".entry__body strong")).to_have_text("on their way")
    await expect(top.locator(".label--breaking")).to_have_text("Breaking")
    card = console.entry_titled("Boats leave the harbour")
    await expect(card).to_have_count(1)
    await expect(page.locator("#pending-list")).to_be_hidden()
    await expect(console.composer.locator("[name=headline]")).to_have_value("")
    assert await console.outbox() == []
    assert await console.draft("harbour") is None

    (stored,) = await entries(newsroom, "harbour")
    assert stored["headline"] == "Boats leave the harbour"
    assert stored["body"] == "<p>Crews are <strong>on their way</strong></p>"
    assert stored["labels"] == ["breaking"]
    assert await entry_ids(reader) == [stored["id"]]


async def test_a_bad_token_and_an_editor_token_of_one_blog(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("mine", "Mine")
    await newsroom.blog("theirs", "Theirs")
    response = await newsroom.http.post(
        "/api/tokens", json={"name": "Sam", "role": "editor", "blogs": ["mine"]}
    )
    token = response.json()["token"]

    # The 401 is expected, and the browser logs it.
    page, _ = await pages.open(f"{server}/editor", wait_live=False, allow_network_errors=True)
    await page.fill("#token-input", "lb_not-a-token")
    await page.click("#signin-form [type=submit]")
    await expect(page.locator("#signin-error")).to_contain_text("not valid")
    await expect(page.locator("#app")).to_be_hidden()

    console = Console(page, Watch())
    await console.sign_in(token)
    await expect(page.locator("#me-name")).to_have_text("Sam")
    await expect(page.locator("#me-role")).to_have_text("Editor")
    await expect(page.locator("#blog-list a")).to_have_text(["Mine (live)"])
    await expect(page.locator("#new-blog")).to_be_hidden()
    # The token stays in this browser (every tab) until sign-out.
    assert await page.evaluate("localStorage.getItem('liveblog.token')") == token
    await page.click("#sign-out")
    await expect(page.locator("#signin")).to_be_visible()
    assert await page.evaluate("localStorage.getItem('liveblog.token')") is None


async def test_an_admin_creates_ends_and_reopens_a_blog(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    console = await Console.open(pages, server)
    page = console.page
    await expect(page.locator("#no-blog")).to_be_visible()
    await page.click("#new-blog")
    dialog = page.locator("#blog-dialog")
    await dialog.locator("[name=title]").fill("Budget day 2025!")
    await expect(dialog.locator("[name=slug]")).to_have_value("budget-day-2025")
    await dialog.locator("[type=submit]").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#blog-title")).to_have_text("Budget day 2025!")
    await expect(page.locator("#blog-status")).to_have_text("Live")
    assert "blog=budget-day-2025" in page.url

    await page.click("#blog-toggle")  # End blog: asks first
    confirm = page.locator("#confirm-dialog")
    await expect(confirm).to_be_visible()
    await confirm.locator("[value=confirm]").click()
    await expect(page.locator("#blog-status")).to_have_text("Ended")
    await expect(page.locator("#ended-note")).to_be_visible()
    assert (await newsroom.http.get("/api/blogs/budget-day-2025")).json()["status"] == "ended"

    await page.click("#blog-toggle")  # Reopen: no question
    await expect(page.locator("#blog-status")).to_have_text("Live")
    assert (await newsroom.http.get("/api/blogs/budget-day-2025")).json()["status"] == "live"


async def test_a_photo_a_backdated_time_and_pasted_html(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("gallery", "Gallery", time_zone="Europe/Kyiv")
    console = await Console.open(pages, server)
    page = console.page
    await console.composer.locator("[name=headline]").fill("From the archive")
    body = console.composer.locator("[data-role=body]")
    await body.click()
    # Paste markup as a word processor or another site would put it on the clipboard.
    await body.evaluate(
        """(node) => {
            const data = new DataTransfer();
            data.setData("text/html", '<meta charset="utf-8"><div style="color:red" onclick="x()">'
              + '<b>Bold</b> and <span class="Mso">plain</span><script>alert(1)</script>'
              + ' <a href="javascript:alert(2)">bad link</a> <a href="https://example.org/x">ok</a>'
              + '</div><img src="https://example.org/t.png" onerror="alert(3)">');
            node.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true,
                                                             cancelable: true}));
        }"""
    )
    await expect(body.locator("strong")).to_have_text("Bold")
    html = await body.inner_html()
    for banned in ("script", "onclick", "style=", "javascript:", "<img", "<span", "<b>"):
        assert banned not in html
    assert '<a href="https://example.org/x">ok</a>' in html

    await console.composer.locator("[data-role=photo] summary").click()
    await console.composer.locator("[name=photo_url]").fill("https://example.org/quay.jpg")
    await console.composer.locator("[name=caption]").fill("The quay at dawn")
    await console.composer.locator("[name=credit]").fill("A. Reader")
    await console.composer.locator("[name=alt]").fill("Boats moored along a stone quay")
    await console.composer.locator("[data-role=timing] summary").click()
    await console.composer.locator("[name=published_at]").fill("2024-06-25T09:30")
    await console.composer.locator("[name=pinned]").check(force=True)
    await console.composer.locator("[data-role=submit]").click()

    card = console.entry_titled("From the archive")
    await expect(card.locator(".entry__media img")).to_have_attribute(
        "alt", "Boats moored along a stone quay"
    )
    (stored,) = await entries(newsroom, "gallery")
    (photo,) = stored["media"]
    assert {k: photo[k] for k in ("type", "url", "caption", "credit", "alt")} == {
        "type": "image",
        "url": "https://example.org/quay.jpg",
        "caption": "The quay at dawn",
        "credit": "A. Reader",
        "alt": "Boats moored along a stone quay",
    }
    assert stored["pinned"] is True
    # Times typed are the blog's: 09:30 in Kyiv (UTC+3 in June) is 06:30 UTC, whatever the
    # zone of the browser (Asia/Kolkata, where 09:30 would be 04:00 UTC).
    assert stored["published_at"].startswith("2024-06-25T06:30:00")
    assert "alert" not in stored["body"] and "onclick" not in stored["body"]
    await expect(page.locator("#pending-list")).to_be_hidden()


async def test_the_toolbar_makes_lists_quotes_and_links(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("format", "Format")
    console = await Console.open(pages, server)
    page, composer = console.page, console.composer
    body = composer.locator("[data-role=body]")
    await body.click()
    await page.keyboard.type("Read the report")
    await page.keyboard.press("Shift+Home")  # select the line, then link it
    await composer.locator("[data-cmd=link]").click()
    link_bar = composer.locator("[data-role=link-bar]")
    await link_bar.locator("input").fill("javascript:alert(1)")
    await link_bar.locator("input").press("Enter")
    await expect(link_bar).to_be_visible()  # refused: not an https or mailto address
    await link_bar.locator("input").fill("https://example.org/report")
    await link_bar.locator("input").press("Enter")
    await expect(link_bar).to_be_hidden()
    await expect(body.locator("a")).to_have_attribute("href", "https://example.org/report")
    await page.keyboard.press("End")
    await page.keyboard.press("Enter")
    await composer.locator("[data-cmd=ul]").click()
    await page.keyboard.type("first point")
    await page.keyboard.press("Enter")
    await page.keyboard.type("second point")
    await expect(composer.locator("[data-cmd=ul]")).to_have_attribute("aria-pressed", "true")
    await page.keyboard.press("Enter")
    await page.keyboard.press("Enter")  # out of the list
    await composer.locator("[data-cmd=quote]").click()
    await page.keyboard.type("A quote.")
    await console.publish()

    await expect(console.page.locator("#entry-list > .nr-entry")).to_have_count(1)
    (stored,) = await entries(newsroom, "format")
    assert stored["body"] == (
        '<p><a href="https://example.org/report" rel="noopener noreferrer nofollow">'
        "Read the report</a></p><ul><li>first point</li><li>second point</li></ul>"
        "<blockquote>A quote.</blockquote>"
    )


async def test_a_draft_survives_a_reload(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await newsroom.blog("drafts", "Drafts")
    console = await Console.open(pages, server)
    await console.write(headline="Half written", text="The first sentence")
    await console.page.reload()
    # The token is in localStorage, which a reload keeps: no sign-in again.
    composer = console.page.locator("#composer")
    await expect(composer.locator("[name=headline]")).to_have_value("Half written")
    await expect(composer.locator("[data-role=body]")).to_have_text("The first sentence")
    await expect(console.page.locator("#draft-state")).to_have_text(
        "Unfinished entry restored from this device"
    )
    assert await entries(newsroom, "drafts") == []


async def test_the_server_stops_while_the_editor_publishes(
    server_process: Callable[..., ServerProcess], pages: Pages
) -> None:
    process = await asyncio.to_thread(server_process)
    newsroom = Newsroom(process.url, process.admin_token)
    try:
        await newsroom.blog("outage", "Outage")
        before = await newsroom.post("outage", headline="Before the outage")
        reader, _ = await pages.open(f"{process.url}/blogs/outage", allow_network_errors=True)
        position = (await newsroom.http.get("/api/blogs/outage")).json()["last_event_id"]
        raw = await SSEReader(process.url, "/blogs/outage/events", last_event_id=position).connect()
        console = await Console.open(pages, process.url, allow_network_errors=True)
        page = console.page
        await expect(console.entry(before["id"])).to_be_visible()

        await asyncio.to_thread(process.stop)
        await expect(page.locator("#stream-status")).to_have_attribute(
            "data-state", re.compile("reconnecting|connecting")
        )
        await console.write(headline="Written during the outage", text="It must not be lost.")
        await console.publish()

        pending = page.locator("#pending-list .nr-pending")
        await expect(pending).to_have_attribute("data-state", "waiting", timeout=SLOW)
        await expect(pending).to_contain_text("the server cannot be reached")
        await expect(pending.locator(".entry__headline")).to_have_text("Written during the outage")
        (item,) = await console.outbox()  # on the device until the server confirms
        assert json.loads(item["body"])["headline"] == "Written during the outage"
        await expect(page.locator("#outbox-status")).to_have_text("1 entry not yet published")
        # The retries all carry the first attempt's key: the server cannot make two entries.
        await expect(pending).to_contain_text(re.compile(r"attempt [3-9]"), timeout=SLOW)
        assert [i["key"] for i in await console.outbox()] == [item["key"]]

        await asyncio.to_thread(process.start)
        await expect(pending).to_have_count(0, timeout=SLOW)
        assert await console.outbox() == []
        card = console.entry_titled("Written during the outage")
        await expect(card).to_have_count(1)

        stored = await entries(newsroom, "outage")
        assert [e["headline"] for e in stored] == ["Written during the outage", "Before the outage"]
        created = stored[0]
        # The reader page resumed after the restart and shows it once.
        top = reader.locator("#timeline > .entry").first
        await expect(top).to_have_attribute("id", f"entry-{created['id']}", timeout=SLOW)
        assert await entry_ids(reader) == [created["id"], before["id"]]
        # A reader on the wire resumes from its last event id and gets it exactly once.
        assert raw.ended
        resumed = SSEReader(process.url, "/blogs/outage/events", last_event_id=raw.last_event_id)
        events = await (await resumed.connect()).wait_for(1)
        assert [(e.type, e.data["data"]["id"]) for e in events] == [
            ("entry.created", created["id"])
        ]
        after = await newsroom.post("outage", headline="After")
        events = await resumed.wait_for(2)
        assert [e.data["data"]["id"] for e in events] == [created["id"], after["id"]]
        await resumed.close()
        await raw.close()
    finally:
        await newsroom.close()


async def test_a_publish_whose_answer_is_lost_is_not_doubled(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("lossy", "Lossy")
    console = await Console.open(pages, server, allow_network_errors=True)
    attempts: list[str | None] = []

    async def lose_the_first_answer(route: Route) -> None:
        attempts.append(await route.request.header_value("idempotency-key"))
        if len(attempts) == 1:
            await route.fetch()  # the server stores the entry...
            await route.abort("connectionreset")  # ...and the answer never arrives
        else:
            await route.continue_()

    await console.page.route("**/api/blogs/lossy/entries", lose_the_first_answer)
    await console.write(headline="Said once", text="Only once.")
    await console.publish()
    await expect(console.page.locator("#pending-list .nr-pending")).to_have_count(0, timeout=SLOW)
    await expect(console.entry_titled("Said once")).to_have_count(1)
    assert len(attempts) >= 2 and len(set(attempts)) == 1  # a retry, with the same key
    assert [e["headline"] for e in await entries(newsroom, "lossy")] == ["Said once"]


async def test_a_rejected_entry_waits_for_the_editor(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("strict", "Strict")
    console = await Console.open(pages, server, allow_network_errors=True)  # the 422
    page = console.page
    # Past the field's maxlength (as a script could put it there): the server says 422.
    headline = console.composer.locator("[name=headline]")
    await headline.evaluate("node => node.removeAttribute('maxlength')")
    await console.write(headline="x" * 301, text="Too long a headline.")
    await console.publish()
    pending = page.locator("#pending-list .nr-pending")
    await expect(pending).to_have_attribute("data-state", "failed")
    await expect(pending).to_contain_text("Not published")
    await expect(pending).to_contain_text("headline")
    assert len(await console.outbox()) == 1

    await pending.locator("[data-outbox=edit]").click()  # back into the composer, fixed, sent
    await expect(pending).to_have_count(0)
    await console.composer.locator("[name=headline]").fill("A fine headline")
    await console.publish()
    await expect(console.entry_titled("A fine headline")).to_have_count(1)
    assert [e["headline"] for e in await entries(newsroom, "strict")] == ["A fine headline"]
    assert await console.outbox() == []


class Publishes:
    """Every POST of an entry the page makes, with its token; refused while ``offline``."""

    def __init__(self) -> None:
        self.offline = False
        self.sent: list[tuple[str, str]] = []  # (token, headline)

    async def __call__(self, route: Route) -> None:
        request = route.request
        if request.method != "POST":
            await route.continue_()
            return
        auth = (await request.header_value("authorization") or "").removeprefix("Bearer ")
        self.sent.append((auth, json.loads(request.post_data or "{}").get("headline", "")))
        if self.offline:
            await route.abort("connectionrefused")
        else:
            await route.continue_()


async def editor_token(newsroom: Newsroom, name: str, blog: str) -> str:
    body = {"name": name, "role": "editor", "blogs": [blog]}
    response = await newsroom.http.post("/api/tokens", json=body)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


async def test_signing_out_deletes_unsent_work_after_asking(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("shared", "Shared desk")
    alice = await editor_token(newsroom, "Alice", "shared")
    bob = await editor_token(newsroom, "Bob", "shared")
    console = await Console.open(pages, server, token=alice, allow_network_errors=True)
    page = console.page
    publishes = Publishes()
    await page.route("**/api/blogs/shared/entries", publishes)

    publishes.offline = True  # the API cannot be reached
    await console.write(headline="Alice's scoop", text="Queued while offline.")
    await console.publish()
    pending = page.locator("#pending-list .nr-pending")
    await expect(pending).to_have_attribute("data-state", "waiting", timeout=SLOW)
    await console.write(headline="Alice half-written")
    await expect(page.locator("#draft-state")).to_have_text("Kept on this device")
    alice_id = console.token_id

    # Signing out asks first; cancelled, nothing changes.
    await page.click("#sign-out")
    confirm = page.locator("#confirm-dialog")
    await expect(confirm).to_be_visible()
    await expect(confirm).to_contain_text("1 entry not yet published and 1 unfinished entry")
    await confirm.locator("[value=cancel]").click()
    await expect(page.locator("#app")).to_be_visible()
    assert len(await console.outbox()) == 1

    await page.click("#sign-out")
    await confirm.locator("[value=confirm]").click()
    await expect(page.locator("#signin")).to_be_visible()
    assert not [k for k in await console.stored_keys() if alice_id in k]  # deleted
    assert await page.evaluate("localStorage.getItem('liveblog.token')") is None

    publishes.offline = False  # the API is back: Bob signs in on the same device
    await console.sign_in(bob)
    await expect(page.locator("#me-name")).to_have_text("Bob")
    await expect(pending).to_have_count(0)
    await expect(console.composer.locator("[name=headline]")).to_have_value("")
    await console.write(headline="Bob's own", text="Mine.")
    await console.publish()
    await expect(console.entry_titled("Bob's own")).to_have_count(1)
    await expect(pending).to_have_count(0)  # the answer came too (the stream may be first)

    assert [e["headline"] for e in await entries(newsroom, "shared")] == ["Bob's own"]
    assert (bob, "Bob's own") in publishes.sent
    assert {token for token, _ in publishes.sent if _ != "Bob's own"} <= {alice}
    assert await console.outbox() == []


async def test_a_queued_entry_waits_for_the_token_that_queued_it(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("shared", "Shared desk")
    alice = await editor_token(newsroom, "Alice", "shared")
    bob = await editor_token(newsroom, "Bob", "shared")
    console = await Console.open(pages, server, token=alice, allow_network_errors=True)
    page = console.page
    publishes = Publishes()
    await page.route("**/api/blogs/shared/entries", publishes)
    publishes.offline = True
    await console.write(headline="Alice's scoop", text="Queued while offline.")
    await console.publish()
    pending = page.locator("#pending-list .nr-pending")
    await expect(pending).to_have_attribute("data-state", "waiting", timeout=SLOW)
    alice_id = console.token_id

    # Alice leaves without signing out; Bob opens his sign-in link on the same browser.
    publishes.offline = False
    console.token_id = hashlib.sha256(bob.encode()).hexdigest()[:12]
    await page.goto(f"{server}/editor#token={bob}")
    await expect(page.locator("#me-name")).to_have_text("Bob")
    await expect(pending).to_have_count(0)  # not Bob's to see
    await console.write(headline="Bob's own", text="Mine.")
    await console.publish()
    await expect(console.entry_titled("Bob's own")).to_have_count(1)
    assert [e["headline"] for e in await entries(newsroom, "shared")] == ["Bob's own"]
    assert [h for token, h in publishes.sent if token == bob] == ["Bob's own"]
    assert len(await console.outbox(alice_id)) == 1  # still on the device, for Alice

    # His entry can reach the timeline through the stream before its POST's answer clears it
    # from the device: once that answer is in, Bob has nothing unsent and gets no question.
    await expect(pending).to_have_count(0)
    await page.click("#sign-out")
    await expect(page.locator("#signin")).to_be_visible()
    await console.sign_in(alice)  # Alice is back: her entry goes, with her token
    await expect(console.entry_titled("Alice's scoop")).to_have_count(1, timeout=SLOW)
    await expect(pending).to_have_count(0)
    assert sorted(e["headline"] for e in await entries(newsroom, "shared")) == [
        "Alice's scoop",
        "Bob's own",
    ]
    assert {token for token, h in publishes.sent if h == "Alice's scoop"} == {alice}
    assert await console.outbox() == []


async def test_two_editors_edit_the_same_entry(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("desk", "Desk")
    entry = await newsroom.post("desk", headline="First take", body="<p>Original text.</p>")
    alice = await Console.open(pages, server)
    bob = await Console.open(pages, server, allow_network_errors=True)  # the 412

    for console in (alice, bob):
        await console.entry(entry["id"]).locator("[data-action=edit]").click()
    alice_form = alice.entry(entry["id"]).locator("form")
    bob_form = bob.entry(entry["id"]).locator("form")
    await alice_form.locator("[name=headline]").fill("Alice's headline")
    await alice_form.locator("[data-role=submit]").click()
    await expect(alice.entry(entry["id"]).locator(".entry__headline")).to_have_text(
        "Alice's headline"
    )

    # Bob sees, live, that someone saved while he types; his text is untouched.
    await expect(bob_form.locator("[data-role=notice]")).to_contain_text("Someone else saved")
    body = bob_form.locator("[data-role=body]")
    await body.click()
    await body.press("Control+a")
    await bob.page.keyboard.type("Bob's better text.")
    await bob_form.locator("[data-role=body]").press("Control+Enter")

    conflict = bob.entry(entry["id"]).locator(".nr-conflict")
    await expect(conflict).to_be_visible()
    theirs = conflict.locator("[data-version=theirs]")
    mine = conflict.locator("[data-version=mine]")
    await expect(theirs).to_contain_text("Alice's headline")
    await expect(theirs).to_contain_text("Original text.")
    await expect(mine).to_contain_text("First take")
    await expect(mine).to_contain_text("Bob's better text.")
    stored = (await newsroom.http.get(f"/api/blogs/desk/entries/{entry['id']}")).json()
    assert stored["version"] == 2 and stored["headline"] == "Alice's headline"  # not overwritten

    await conflict.locator("[data-choice=mine]").click()
    await expect(conflict).to_have_count(0)
    await expect(bob.entry(entry["id"]).locator(".entry__body")).to_have_text("Bob's better text.")
    stored = (await newsroom.http.get(f"/api/blogs/desk/entries/{entry['id']}")).json()
    assert stored["version"] == 3
    assert stored["body"] == "<p>Bob's better text.</p>"
    assert stored["headline"] == "First take"  # "keep mine" keeps all of mine, as shown
    # Alice sees Bob's version arrive.
    await expect(alice.entry(entry["id"]).locator(".entry__body")).to_have_text(
        "Bob's better text."
    )
    await expect(alice.entry(entry["id"])).to_have_attribute("data-version", "3")


async def test_taking_theirs_discards_only_mine(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("yield", "Yield")
    entry = await newsroom.post("yield", headline="Theirs wins", body="<p>Start.</p>")
    console = await Console.open(pages, server, allow_network_errors=True)  # the 412
    card = console.entry(entry["id"])
    await card.locator("[data-action=edit]").click()
    await card.locator("[name=headline]").fill("Mine loses")
    await newsroom.edit("yield", entry["id"], body="<p>Changed elsewhere.</p>")
    await card.locator("[data-role=submit]").click()
    await card.locator(".nr-conflict [data-choice=theirs]").click()
    await expect(card.locator(".entry__headline")).to_have_text("Theirs wins")
    await expect(card.locator(".entry__body")).to_have_text("Changed elsewhere.")
    stored = (await newsroom.http.get(f"/api/blogs/yield/entries/{entry['id']}")).json()
    assert stored["version"] == 2


async def test_pin_breaking_and_delete_reach_readers(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("flags", "Flags")
    older = await newsroom.post("flags", headline="Older")
    entry = await newsroom.post("flags", headline="Flag me")
    reader, _ = await pages.open(f"{server}/blogs/flags")
    console = await Console.open(pages, server)
    card = console.entry(entry["id"])
    on_reader = reader.locator(f"#entry-{entry['id']}")

    await card.locator("[data-action=breaking]").click()
    await expect(card.locator("[data-action=breaking]")).to_have_attribute("aria-pressed", "true")
    await expect(on_reader.locator(".label--breaking")).to_be_visible()

    await console.entry(older["id"]).locator("[data-action=pin]").click()
    await expect(console.entry(older["id"]).locator("[data-action=pin]")).to_have_text("Unpin")
    await expect(reader.locator(f"#pinned #entry-{older['id']}")).to_be_visible()

    await card.locator("[data-action=delete]").click()
    dialog = console.page.locator("#confirm-dialog")
    await expect(dialog).to_contain_text("Flag me")
    await dialog.locator("[value=cancel]").click()  # changed their mind: nothing happens
    await expect(card).to_be_visible()
    await card.locator("[data-action=delete]").click()
    await dialog.locator("[value=confirm]").click()
    await expect(card).to_have_count(0)
    await expect(on_reader).to_have_count(0)
    assert [e["id"] for e in await entries(newsroom, "flags")] == [older["id"]]
    stored = (await newsroom.http.get(f"/api/blogs/flags/entries/{older['id']}")).json()
    assert stored["pinned"] is True and stored["version"] == 2


async def test_two_consoles_see_each_others_work(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("pair", "Pair")
    one = await Console.open(pages, server)
    two = await Console.open(pages, server)
    await one.write(headline="From one", text="Posted in the first console.")
    await one.publish()
    await expect(two.entry_titled("From one")).to_have_count(1)
    (entry,) = await entries(newsroom, "pair")
    await two.entry(entry["id"]).locator("[data-action=pin]").click()
    await expect(one.entry(entry["id"]).locator("[data-action=pin]")).to_have_text("Unpin")
    await newsroom.delete("pair", entry["id"])
    await expect(one.entry(entry["id"])).to_have_count(0)
    await expect(two.entry(entry["id"])).to_have_count(0)


async def test_a_late_answer_does_not_bring_back_a_deleted_entry(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("late", "Late")
    entry = await newsroom.post("late", headline="Pinned, then deleted")
    console = await Console.open(pages, server)
    fetched, release = asyncio.Event(), asyncio.Event()

    async def hold_the_answer(route: Route) -> None:
        if route.request.method != "PATCH":
            await route.continue_()
            return
        response = await route.fetch()  # the pin is stored and published...
        fetched.set()
        await release.wait()  # ...and its answer arrives after the delete's event
        await route.fulfill(response=response)

    await console.page.route(f"**/api/blogs/late/entries/{entry['id']}", hold_the_answer)
    await console.entry(entry["id"]).locator("[data-action=pin]").click()
    await fetched.wait()
    await newsroom.delete("late", entry["id"])
    await expect(console.entry(entry["id"])).to_have_count(0)
    async with console.page.expect_event("requestfinished", lambda r: r.method == "PATCH"):
        release.set()
    # Something later on the same stream: by the time it shows, the late answer was handled.
    marker = await newsroom.post("late", headline="After the delete")
    await expect(console.entry(marker["id"])).to_have_count(1)
    await expect(console.entry(entry["id"])).to_have_count(0)


async def test_a_reset_reloads_the_console_and_the_dashboard(
    server: str, newsroom: Newsroom, pages: Pages, redis_url: str
) -> None:
    await newsroom.blog("restore", "Restore")
    first = await newsroom.post("restore", headline="Before the restore")
    console = await Console.open(pages, server)
    dashboard, _ = await pages.open(f"{server}/dashboard", wait_live=False)
    latest = dashboard.locator('.nr-blogcard[data-slug="restore"] .nr-latest__title')
    await expect(latest).to_have_text(["Before the restore"])
    await expect(console.entry(first["id"])).to_be_visible()

    # A restore that lost the blog's position: its old event ids cannot be trusted any more,
    # so the next event starts a new epoch and every reader is sent `reset`.
    admin = aioredis.Redis.from_url(redis_url)
    await admin.delete("lb:{restore}:pos")
    await admin.aclose()
    second = await newsroom.post("restore", headline="After the restore")
    await expect(console.entry(second["id"])).to_be_visible()
    await expect(console.entry(first["id"])).to_be_visible()
    await expect(latest).to_have_text(["After the restore", "Before the restore"])

    # Both go on live from the new epoch.
    third = await newsroom.post("restore", headline="Live again")
    await expect(console.page.locator("#entry-list > .nr-entry")).to_have_count(3)
    assert await console.page.locator("#entry-list > .nr-entry").evaluate_all(
        "nodes => nodes.map(n => n.dataset.id)"
    ) == [third["id"], second["id"], first["id"]]
    await expect(latest).to_have_text(["Live again", "After the restore", "Before the restore"])


# --- the dashboard ---------------------------------------------------------------------------


async def test_the_dashboard_follows_readers_and_entries(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("alpha", "Alpha")
    await newsroom.blog("beta", "Beta")
    await newsroom.blog("gone", "Gone")
    await newsroom.patch_blog("gone", status="ended")
    first = await newsroom.post("alpha", headline="First in alpha")
    dashboard, _ = await pages.open(f"{server}/dashboard", wait_live=False)
    await expect(dashboard.locator("#socket-status")).to_have_attribute("data-state", "live")
    alpha = dashboard.locator('.nr-blogcard[data-slug="alpha"]')
    readers = alpha.locator("[data-role=readers]")
    await expect(dashboard.locator(".nr-blogcard")).to_have_count(2)
    await expect(dashboard.locator("#ended-list")).to_contain_text("Gone")
    await expect(alpha.locator(".nr-latest__title")).to_have_text(["First in alpha"])
    await expect(readers).to_have_text("0")
    await expect(dashboard.locator("#kpi-readers")).to_have_text("0")
    await expect(dashboard.locator("#kpi-live")).to_have_text("2")

    # Reader pages open: the count rises (the dashboard's own socket is not a reader).
    one, _ = await pages.open(f"{server}/blogs/alpha")
    await expect(readers).to_have_text("1", timeout=SLOW)
    two, _ = await pages.open(f"{server}/blogs/alpha")
    await expect(readers).to_have_text("2", timeout=SLOW)
    await expect(dashboard.locator("#kpi-readers")).to_have_text("2", timeout=SLOW)
    await expect(dashboard.locator("#kpi-readers-split")).to_have_text("SSE 2 · WebSocket 0")

    # Latest entries stream in over the dashboard's /ws socket.
    await newsroom.post("alpha", headline="Second in alpha", labels=["breaking"])
    await expect(alpha.locator(".nr-latest__title")).to_have_text(
        ["Second in alpha", "First in alpha"]
    )
    await expect(
        alpha.locator(".nr-latest__item").first.locator(".label--breaking")
    ).to_be_visible()
    await expect(alpha.locator("[data-role=hour]")).to_have_text("2", timeout=SLOW)
    await expect(alpha.locator("[data-role=since]")).to_have_text(re.compile(r"^\d+ s ago$"))
    await newsroom.edit("alpha", first["id"], headline="First, corrected")
    await expect(alpha.locator(".nr-latest__title").last).to_have_text("First, corrected")
    await newsroom.delete("alpha", first["id"])
    await expect(alpha.locator(".nr-latest__title")).to_have_text(["Second in alpha"])
    await expect(dashboard.locator("#kpi-samples")).not_to_have_text("0", timeout=SLOW)
    await expect(dashboard.locator("#kpi-p50")).to_have_text(re.compile(r"ms$"))

    # Reader pages close: the count falls.
    await one.context.close()
    await expect(readers).to_have_text("1", timeout=SLOW)
    await two.context.close()
    await expect(readers).to_have_text("0", timeout=SLOW)

    # A blog that ends leaves the live grid; a new one joins it.
    await newsroom.patch_blog("beta", status="ended")
    await expect(dashboard.locator(".nr-blogcard")).to_have_count(1, timeout=SLOW)
    await newsroom.blog("gamma", "Gamma")
    gamma = dashboard.locator('.nr-blogcard[data-slug="gamma"]')
    await expect(gamma).to_be_visible(timeout=SLOW)
    await newsroom.post("gamma", headline="Hello gamma")
    await expect(gamma.locator(".nr-latest__title")).to_have_text(["Hello gamma"])


async def test_quiet_blogs_turn_amber_then_red(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    now = datetime.now(UTC)
    for slug, minutes in (("fresh", 1), ("slow", 15), ("stale", 45)):
        await newsroom.blog(slug, slug.capitalize())
        published = (now - timedelta(minutes=minutes)).isoformat()
        await newsroom.post(slug, headline=f"{minutes} minutes ago", published_at=published)
    dashboard, _ = await pages.open(f"{server}/dashboard", wait_live=False)
    for slug, level, since in (
        ("fresh", "ok", r"^1 min ago$"),
        ("slow", "amber", r"^15 min ago$"),
        ("stale", "red", r"^45 min ago$"),
    ):
        card = dashboard.locator(f'.nr-blogcard[data-slug="{slug}"]')
        await expect(card).to_have_attribute("data-quiet", level)
        await expect(card.locator("[data-role=since]")).to_have_text(re.compile(since))
    # A new entry on the stale blog turns it green at once.
    await newsroom.post("stale", headline="Back")
    stale = dashboard.locator('.nr-blogcard[data-slug="stale"]')
    await expect(stale).to_have_attribute("data-quiet", "ok")


# --- screenshots -----------------------------------------------------------------------------
# Written to test-artifacts/screenshots/, and with LIVEBLOG_UPDATE_SCREENSHOTS=1 to
# docs/screenshots/ for the README, as the reader's screenshots are (test_screenshots.py).


async def _newsroom_scene(newsroom: Newsroom) -> str:
    """The reader screenshots' storm blog, and a few more blogs around it; an editor's token."""
    await _storm_blog(newsroom)
    now = datetime.now(UTC).replace(microsecond=0)
    blogs = {
        "election-count": ("Election count: results as they come in", 14),
        "city-marathon": ("City marathon 2025", 41),
        "cup-final": ("Cup final: United v City", 2),
    }
    for slug, (title, minutes) in blogs.items():
        await newsroom.blog(slug, title)
        earlier = SCENE_HEADLINES[slug]
        for n, headline in enumerate(earlier):
            published = now - timedelta(minutes=minutes + 9 * (len(earlier) - n))
            await newsroom.post(slug, headline=headline, published_at=published.isoformat())
        await newsroom.post(
            slug,
            headline=SCENE_LATEST[slug],
            published_at=(now - timedelta(minutes=minutes)).isoformat(),
            labels=["breaking"] if slug == "cup-final" else [],
        )
    await newsroom.blog("budget-day", "Budget day: every measure explained")
    await newsroom.patch_blog("budget-day", status="ended")
    token = {"name": "Maya Okafor", "role": "admin", "blogs": None}
    created: str = (await newsroom.http.post("/api/tokens", json=token)).json()["token"]
    return created


SCENE_HEADLINES = {
    "election-count": ["Polls close across the country", "Turnout up four points on 2021"],
    "city-marathon": ["Elite women set off", "Leaders pass halfway in 1:09"],
    "cup-final": ["Teams are out", "Early chance for City hits the post"],
}
SCENE_LATEST = {
    "election-count": "First seat declared in the north-east",
    "city-marathon": "Course record falls on the embankment",
    "cup-final": "Goal! United lead through a header from the corner",
}


async def _draft(console: Console) -> None:
    await console.write(
        headline="Ferries to resume at first light",
        text="The operator says crossings restart at 06:00 if the wind drops below ",
        bold="60 km/h",
    )
    await console.page.keyboard.type(" overnight. Tickets for today stay valid all week.")
    await console.composer.locator(".nr-chip--key").click()
    await console.composer.locator("[data-role=timing] summary").click()
    await console.composer.locator("[name=author]").fill("Transport desk")
    await console.composer.locator("[data-action=preview]").click()


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_screenshot_of_the_console(
    server: str, newsroom: Newsroom, pages: Pages, scheme: str
) -> None:
    token = await _newsroom_scene(newsroom)
    console = await Console.open(
        pages, server, token=token, blog=SLUG, viewport=SCREEN, color_scheme=scheme,
        reduced_motion="reduce",
    )  # fmt: skip
    await expect(
        console.entry_titled("Peak gust of 126 km/h recorded at the lighthouse")
    ).to_be_visible()
    await _draft(console)
    await _settle(console.page)
    _save(f"newsroom-editor-{scheme}.png", await console.page.screenshot())


async def test_screenshot_of_an_edit_conflict_and_an_unsent_entry(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    token = await _newsroom_scene(newsroom)
    console = await Console.open(
        pages, server, token=token, blog=SLUG, viewport=SCREEN, reduced_motion="reduce",
        allow_network_errors=True,
    )  # fmt: skip
    page = console.page
    card = console.entry_titled("Peak gust of 126 km/h recorded at the lighthouse")
    entry_id = await card.get_attribute("data-id")
    assert entry_id is not None
    card = console.entry(entry_id)  # by id: while it is edited, the card shows no headline
    await card.locator("[data-action=edit]").click()
    await card.locator("[name=headline]").fill("Peak gust of 126 km/h: strongest in eleven years")
    await newsroom.edit(SLUG, entry_id, headline="Lighthouse records a 126 km/h gust")
    await card.locator("[data-role=submit]").click()
    await expect(card.locator(".nr-conflict")).to_be_visible()

    async def unavailable(route: Route) -> None:
        if route.request.method != "POST":
            await route.continue_()
            return
        await route.fulfill(
            status=503,
            content_type="application/problem+json",
            body='{"type": "about:blank", "title": "Service Unavailable", "status": 503, '
            '"detail": "The store is unavailable; nothing was written."}',
            headers={"Retry-After": "30"},
        )

    await page.route("**/api/blogs/*/entries", unavailable)
    await console.write(headline="Evacuation centre opens at the sports hall", text="Beds for 200.")
    await console.publish()
    pending = page.locator("#pending-list .nr-pending")
    await expect(pending).to_have_attribute("data-state", "waiting")
    await _settle(page)
    _save("newsroom-editor-conflict-light.png", await page.screenshot())


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_screenshot_of_the_dashboard(
    server: str, newsroom: Newsroom, pages: Pages, scheme: str
) -> None:
    await _newsroom_scene(newsroom)
    audience = {
        SLUG: (23, 6),
        "election-count": (9, 3),
        "city-marathon": (4, 0),
        "cup-final": (31, 12),
    }
    readers = []
    for slug, (sse, ws) in audience.items():
        readers += [await SSEReader(server, f"/blogs/{slug}/events").connect() for _ in range(sse)]
        readers += [await WSReader(server, f"/blogs/{slug}/ws").connect() for _ in range(ws)]
    try:
        dashboard, _ = await pages.open(
            f"{server}/dashboard", wait_live=False, viewport=SCREEN, color_scheme=scheme,
            reduced_motion="reduce",
        )  # fmt: skip
        await expect(dashboard.locator("#kpi-readers")).to_have_text("88", timeout=SLOW)
        # Live entries with readers connected: latency samples, and a card that updates.
        await newsroom.post(SLUG, headline="Evacuation centre opens at the sports hall")
        await newsroom.post("cup-final", headline="Half-time: United 1, City 0")
        await expect(dashboard.locator("#kpi-samples")).to_have_text("2", timeout=SLOW)
        await expect(dashboard.locator("#ended-list")).to_contain_text("Budget day")
        await _settle(dashboard)
        _save(f"newsroom-dashboard-{scheme}.png", await dashboard.screenshot(full_page=True))
    finally:
        for reader in readers:
            await reader.close()

"""Alerts: the tab title counts contributions waiting; a sound and a desktop notification each
person turns on (remembered by the browser); an editor hears of a new contribution and of a
scheduled entry going out, a contributor of its entry published or sent back (with the note);
nobody is alerted of what they did themselves."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.kit import PHONE, Newsroom, Pages
from tests.browser.test_newsroom import Console
from tests.browser.test_phone import layout_problems
from tests.browser.test_rich import axe_violations
from tests.browser.test_screenshots import _save, _settle

SLOW = 20_000
# What the page shows and plays, recorded: every desktop notification made (title, body, the
# page's clock) and every note of the chime.
RECORD = """
window.__notes = [];
window.__tones = 0;
const Real = window.Notification;
if (Real) {
  window.Notification = class extends Real {
    constructor(title, options = {}) {
      window.__notes.push({title, body: options.body || "", at: Date.now()});
      super(title, options);
    }
  };
}
const createOscillator = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  window.__tones += 1;
  return createOscillator.call(this);
};
"""


async def notes(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await page.evaluate("window.__notes")
    return found


async def _people(newsroom: Newsroom) -> dict[str, str]:
    tokens = {}
    for name, role in (("Ed Desk", "editor"), ("Asha Field", "contributor")):
        response = await newsroom.http.post(
            "/api/tokens", json={"name": name, "role": role, "blogs": ["harbour"]}
        )
        tokens[name] = response.json()["token"]
    return tokens


async def console_with_alerts(pages: Pages, server: str, token: str, **options: Any) -> Console:
    """A console whose person turned on the sound and desktop notifications."""

    async def prepare(page: Page) -> None:
        await page.context.grant_permissions(["notifications"])
        await page.add_init_script(RECORD)

    console = await Console.open(
        pages, server, token=token, blog="harbour", before_load=prepare, **options
    )
    page = console.page
    await page.click("#me-button")
    dialog = page.locator("#me-dialog")
    await dialog.locator("[name=alert_sound]").check()
    await dialog.locator("[name=alert_desktop]").check()
    await expect(dialog.locator("[name=alert_desktop]")).to_be_checked()
    await dialog.locator("[value=close]").click()
    return console


async def test_an_editor_hears_of_a_contribution_and_the_tab_counts_them(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("harbour", "Harbour race")
    tokens = await _people(newsroom)
    ed = await console_with_alerts(pages, server, tokens["Ed Desk"])
    page = ed.page
    await expect(page).to_have_title("Harbour race · Editor")
    asha = Newsroom(server, tokens["Asha Field"])
    try:
        sent = await page.evaluate("Date.now()")
        first = await asha.post("harbour", headline="Smoke over the quay", author="Asha Field")
        await page.wait_for_function("() => window.__notes.length === 1", timeout=SLOW)
        [note] = await notes(page)
        assert note["title"] == "New contribution to approve"
        assert note["body"] == "“Smoke over the quay”, by Asha Field"
        print(f"contribution to the editor's notification: {note['at'] - sent} ms")
        assert await page.evaluate("window.__tones") == 2 * 2  # the chime on, and this one
        await expect(page.locator(".nr-toast", has_text="New contribution")).to_be_visible()
        await expect(page).to_have_title("(1) Harbour race · Editor")
        await asha.post("harbour", headline="Crowds at the pier")
        await asha.post("harbour", headline="Ferries stop")
        await expect(page).to_have_title("(3) Harbour race · Editor")
        assert len(await notes(page)) == 3

        # Approved here: the count goes down, and nobody is told of their own doing.
        card = page.locator(f'#workflow-list .nr-wf[data-id="{first["id"]}"]')
        await card.locator("[data-wf=publish]").click()
        await expect(page).to_have_title("(2) Harbour race · Editor")
        await expect(ed.entry_titled("Smoke over the quay")).to_be_visible()
        assert len(await notes(page)) == 3

        # The choice is remembered by this browser.
        await page.reload()
        await page.click("#me-button")
        await expect(page.locator("#me-dialog [name=alert_sound]")).to_be_checked()
        await expect(page.locator("#me-dialog [name=alert_desktop]")).to_be_checked()
    finally:
        await asha.close()


async def test_a_contributor_hears_when_its_entry_is_sent_back_or_published(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("harbour", "Harbour race")
    tokens = await _people(newsroom)
    asha = await console_with_alerts(pages, server, tokens["Asha Field"])
    page = asha.page
    await asha.write(headline="Smoke over the quay", text="Seen from the pier.")
    await asha.publish()
    card = page.locator("#workflow-list .nr-wf")
    await expect(card).to_have_count(1)
    entry_id = await card.get_attribute("data-id")
    ed = Newsroom(server, tokens["Ed Desk"])
    try:
        await ed.edit("harbour", str(entry_id), status="draft", note="Who saw it? Add a source.")
        await page.wait_for_function("() => window.__notes.length === 1", timeout=SLOW)
        assert (await notes(page))[0] == {
            **(await notes(page))[0],
            "title": "Your entry was sent back",
            "body": "The editor's note: Who saw it? Add a source.",
        }
        await page.click('[data-tab="draft"]')
        await card.locator("[data-wf=edit]").click()
        await card.locator("[name=headline]").fill("Smoke over the quay, says the harbour master")
        await card.locator("[data-role=submit]").click()  # submitted again
        await expect(page.locator('[data-count="draft"]')).to_have_text("0")
        await page.click('[data-tab="submitted"]')
        await expect(card).to_have_attribute("data-status", "submitted")
        latest = (await ed.http.get(f"/api/blogs/harbour/entries/{entry_id}")).json()
        await ed.edit("harbour", str(entry_id), status="published")
        await page.wait_for_function("() => window.__notes.length === 2", timeout=SLOW)
        assert (await notes(page))[1]["title"] == "Your entry is published"
        assert (await notes(page))[1]["body"] == f"“{latest['headline']}” is on the blog."
    finally:
        await ed.close()


async def test_an_editor_hears_when_a_scheduled_entry_goes_out(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("harbour", "Harbour race")
    tokens = await _people(newsroom)
    ed = await console_with_alerts(pages, server, tokens["Ed Desk"])
    at = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    await newsroom.post("harbour", headline="Race starts", status="scheduled", publish_at=at)
    await expect(ed.page.locator('[data-count="scheduled"]')).to_have_text("1")
    await ed.page.wait_for_function("() => window.__notes.length === 1", timeout=SLOW)
    [note] = await notes(ed.page)
    assert (note["title"], note["body"]) == (
        "A scheduled entry went out", "“Race starts” is on the blog.",
    )  # fmt: skip
    await expect(ed.entry_titled("Race starts")).to_be_visible()


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_the_alert_choices_on_a_phone(
    server: str, newsroom: Newsroom, pages: Pages, scheme: str
) -> None:
    await newsroom.blog("harbour", "Harbour race")
    console = await Console.open(
        pages, server, blog="harbour", viewport=PHONE, touch=True, color_scheme=scheme,
        reduced_motion="reduce",
    )  # fmt: skip
    page = console.page
    await page.click("#me-button")
    dialog = page.locator("#me-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("[data-role=alerts]")).to_be_visible()
    await expect(dialog.locator("[data-role=alerts-hint]")).to_have_text(
        re.compile("new contributions|blocked|no desktop")
    )
    await _settle(page)
    assert await layout_problems(page) == []
    assert await axe_violations(page) == []
    _save(f"newsroom-alerts-phone-{scheme}.png", await page.screenshot())

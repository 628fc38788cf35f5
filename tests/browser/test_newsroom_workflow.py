"""The newsroom's workflow in headless Chromium: an admin adds people on the People screen; a
contributor and an editor work at once in two browser contexts (submit, send back, approve);
an editor saves a draft and schedules an entry; a reader's page shows only what is published,
and a correction. Screenshots of the People screen, the queue and a scheduled entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.async_api import Page, expect

from tests.browser.kit import Newsroom, Pages
from tests.browser.test_newsroom import SCREEN, Console
from tests.browser.test_screenshots import _save, _settle
from tests.support.servers import ADMIN_TOKEN

AVATAR = "https://avatars.example/asha.png"
SLOW = 20_000


# A datetime-local value 30 minutes from now on the blog's clock (the harbour's zone is the
# server's default, UTC; the browser's is Asia/Kolkata): times typed in the console are the
# blog's.
def in_half_an_hour() -> str:
    return (datetime.now(UTC) + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")


async def add_person(page: Page, name: str, role: str, blog: str) -> str:
    """Through the People screen; returns the token it shows once."""
    form = page.locator("#person-form")
    await form.locator("[name=name]").fill(name)
    await form.locator("[name=role]").select_option(role)
    if role == "contributor":
        await form.locator("[name=avatar_url]").fill(AVATAR)
    await form.locator("label:has([name=all_blogs])").click()  # the chips are labels
    await form.locator(f"label:has([name=blogs][value={blog}])").click()
    await form.locator("[type=submit]").click()
    secret = page.locator("#new-secret [data-role=token]")
    await expect(page.locator("#new-secret [data-role=who]")).to_have_text(name)
    link = await page.locator("#new-secret [data-role=link]").text_content()
    token = await secret.text_content()
    assert token and link and link.endswith(f"/editor#token={token}")
    return token


def card(console: Console, headline: str) -> object:
    return console.page.locator("#workflow-list .nr-wf").filter(
        has=console.page.locator(".entry__headline", has_text=headline)
    )


async def test_people_contributions_drafts_schedule_and_corrections(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("harbour", "Harbour fire: live", description="Crews at the quay.")
    await newsroom.blog("council", "Council vote")

    # --- People: the admin adds a contributor and an editor, then changes a role ---------
    admin = await Console.open(pages, server, blog="harbour", viewport=SCREEN)
    await admin.page.click("[data-role=people-link]")
    await expect(admin.page.locator("#people-app")).to_be_visible()
    asha = await add_person(admin.page, "Asha Contributor", "contributor", "harbour")
    ed = await add_person(admin.page, "Ed Desk", "editor", "harbour")
    await add_person(admin.page, "Temp Intern", "editor", "council")
    rows = admin.page.locator("#people-list tr")
    await expect(rows).to_have_count(3)
    temp_row = rows.filter(has_text="Temp Intern")
    await temp_row.locator("select").select_option("contributor")
    await expect(admin.page.locator(".nr-toast", has_text="Temp Intern: saved.")).to_be_visible()
    await admin.page.evaluate("document.querySelectorAll('.nr-toast').forEach(t => t.remove())")
    asha_row = rows.filter(has_text="Asha Contributor")
    await expect(asha_row.locator("img.nr-avatar")).to_have_attribute("src", AVATAR)
    await _settle(admin.page)
    _save("people.png", await admin.page.screenshot(full_page=True))
    me = await newsroom.http.get("/api/tokens")
    roles = {t["name"]: t["role"] for t in me.json()["tokens"]}
    assert roles == {"Asha Contributor": "contributor", "Ed Desk": "editor",
                     "Temp Intern": "contributor"}  # fmt: skip

    # A reader on the public page the whole time.
    reader, _ = await pages.open(f"{server}/blogs/harbour")

    # --- Two contexts at once: Asha contributes, Ed approves --------------------------------
    contributor = await Console.open(pages, server, token=asha, blog="harbour", viewport=SCREEN)
    editor = await Console.open(pages, server, token=ed, blog="harbour", viewport=SCREEN)
    await expect(contributor.page.locator("#me-role")).to_have_text("Contributor")
    await expect(contributor.composer.locator("[data-role=submit]")).to_have_text(
        "Submit for review"
    )
    await expect(contributor.composer.locator("[name=author]")).to_have_value("Asha Contributor")
    await contributor.write(headline="Smoke over the quay", text="Thick smoke seen from the pier.")
    await contributor.publish()
    await expect(card(contributor, "Smoke over the quay")).to_be_visible()
    # The editor's queue badge counts it, live, over the console's own stream.
    badge = editor.page.locator('[data-count="submitted"]')
    await expect(badge).to_have_text("1")
    await card(editor, "Smoke over the quay").wait_for()
    await _settle(editor.page)
    _save("contributions-queue.png", await editor.page.screenshot(full_page=True))

    # Sent back with a note: the contributor sees the note live.
    await card(editor, "Smoke over the quay").locator("[data-wf=sendback]").click()
    await editor.page.fill("#sendback-dialog [name=note]", "Who saw it? Add a source.")
    await editor.page.click("#sendback-dialog [value=confirm]")
    await expect(badge).to_have_text("0")
    await contributor.page.click('[data-tab="draft"]')
    mine = card(contributor, "Smoke over the quay")
    await expect(mine.locator("[data-role=note]")).to_have_text(
        "Note from the desk: Who saw it? Add a source."
    )
    # Edited and submitted again; approved by the editor; the contributor sees it published.
    mine_id = await mine.get_attribute("data-id")
    await mine.locator("[data-wf=edit]").click()
    form = contributor.page.locator(f'#workflow-list .nr-wf[data-id="{mine_id}"] form')
    await form.locator("[name=headline]").fill("Smoke over the quay, says harbour master")
    await form.locator("[data-role=submit]").click()
    await expect(badge).to_have_text("1")
    approve = card(editor, "Smoke over the quay, says harbour master").locator("[data-wf=publish]")
    await approve.click()
    await expect(
        contributor.page.locator(".nr-toast", has_text="Your entry is published")
    ).to_be_visible(timeout=SLOW)
    headline = reader.locator("#timeline .entry__headline")
    await expect(headline).to_have_text(["Smoke over the quay, says harbour master"])
    await expect(reader.locator("#timeline .entry__avatar")).to_have_attribute("src", AVATAR)

    # --- Drafts on the server, and a scheduled entry with its countdown ------------------
    await editor.composer.locator("[name=status]").select_option("draft")
    await editor.write(headline="Draft: evacuation map", text="Not yet confirmed.")
    await expect(editor.composer.locator("[data-role=submit]")).to_have_text("Save draft")
    await editor.publish()
    await editor.page.click('[data-tab="draft"]')
    await card(editor, "Draft: evacuation map").wait_for()
    await admin.page.goto(f"{server}/editor?blog=harbour")  # another editor's console lists it
    await admin.page.click('[data-tab="draft"]')
    await card(admin, "Draft: evacuation map").wait_for()

    local = in_half_an_hour()
    await editor.composer.locator("[name=status]").select_option("scheduled")
    await editor.composer.locator("[name=publish_at]").fill(local)
    await editor.write(headline="Press conference at the quay", text="Live from 15:00.")
    await editor.publish()
    await editor.page.click('[data-tab="scheduled"]')
    scheduled = card(editor, "Press conference at the quay")
    await expect(scheduled.locator("[data-role=countdown]")).to_contain_text("Publishes in ")
    await editor.page.evaluate("document.querySelectorAll('.nr-toast').forEach(t => t.remove())")
    await _settle(editor.page)
    _save("scheduled-entry.png", await editor.page.screenshot(full_page=True))

    # Moved to a few seconds from now through the API: the server publishes it, once.
    scheduled_id = await scheduled.get_attribute("data-id")
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    await newsroom.edit("harbour", str(scheduled_id), publish_at=soon)
    await expect(headline).to_have_text(
        ["Press conference at the quay", "Smoke over the quay, says harbour master"],
        timeout=SLOW,
    )
    await expect(scheduled).to_have_count(0)

    # --- A correction, shown to readers ----------------------------------------------------
    entry = editor.entry_titled("Smoke over the quay, says harbour master")
    entry_id = await entry.get_attribute("data-id")
    await entry.locator("[data-action=edit]").click()
    edit = editor.entry(str(entry_id)).locator("form")
    await edit.locator("[name=correction]").fill("An earlier version named the wrong pier.")
    await edit.locator("[data-role=submit]").click()
    await expect(reader.locator("#timeline .entry__correction")).to_contain_text(
        "An earlier version named the wrong pier."
    )
    # Readers never saw the draft, the queue or the schedule.
    text = await reader.locator("#timeline").text_content()
    assert text is not None and "evacuation map" not in text
    assert ADMIN_TOKEN not in (await reader.content())

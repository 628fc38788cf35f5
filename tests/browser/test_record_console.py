"""The record in the newsroom, in headless Chromium at 360 px and on a desktop: an entry's
history with what changed marked word by word, restoring a version (and the stale-version
path), deleted entries brought back, and the audit log screen for admins."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.kit import DESKTOP, Newsroom, Pages
from tests.browser.test_rich import axe_violations
from tests.support.servers import ADMIN_TOKEN

PHONE = {"width": 360, "height": 780}
VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}
SCHEMES = {"phone": "light", "desktop": "dark"}  # each screen in one of them


async def console(pages: Pages, server: str, slug: str, viewport: dict[str, int],
                  token: str = ADMIN_TOKEN, **options: Any) -> Page:  # fmt: skip
    page, _ = await pages.open(f"{server}/editor?blog={slug}", wait_live=False,
                               viewport=viewport, **options)  # fmt: skip
    await page.fill("#token-input", token)
    await page.click("#signin-form [type=submit]")
    await expect(page.locator("#stream-status")).to_have_attribute("data-state", "live")
    return page


async def fits(page: Page, selector: str, within: str = "") -> None:
    """Nothing of ``selector`` reaches past the screen's edge (or ``within``'s, the column it
    shares), nor scrolls sideways inside. The console's own layout at 360 px is issue 18's."""
    overflow = await page.locator(selector).evaluate(
        """(box, within) => {
            const bound = within ? document.querySelector(within).getBoundingClientRect().right
                : document.documentElement.clientWidth;
            const width = bound;
            const out = [box, ...box.querySelectorAll("*")]
                .filter(n => n.getClientRects().length)
                .filter(n => n.getBoundingClientRect().right > width + 1)
                .map(n => `${n.tagName}.${n.className}`);
            if (box.scrollWidth > box.clientWidth + 1) out.push("scrolls inside");
            return out;
        }""",
        within,
    )
    assert overflow == [], overflow


def card(page: Page, entry_id: str) -> Any:
    return page.locator(f'#entry-list > .nr-entry[data-id="{entry_id}"]')


@pytest.mark.parametrize("screen", list(VIEWPORTS))
async def test_the_history_marks_what_changed_and_restores_a_version(
    server: str, newsroom: Newsroom, pages: Pages, screen: str, tmp_path: Path
) -> None:
    await newsroom.create_blog("summit", "The summit")
    entry = await newsroom.post(
        "summit", headline="The minister arrives", labels=["breaking"],
        body="<p>The minister arrived at nine and spoke briefly to reporters.</p>",
    )  # fmt: skip
    await newsroom.edit(
        "summit", entry["id"], headline="The minister arrives late", labels=[],
        body="<p>The minister arrived at ten and spoke briefly to waiting reporters.</p>",
    )  # fmt: skip
    # A stale restore is answered 412, which the browser logs as a failed load.
    page = await console(pages, server, "summit", VIEWPORTS[screen], allow_network_errors=True,
                         color_scheme=SCHEMES[screen])  # fmt: skip

    await card(page, entry["id"]).locator("[data-action=history]").click()
    dialog = page.locator("#history-dialog")
    await expect(dialog).to_be_visible()
    versions = dialog.locator(".nr-history__version")
    await expect(versions).to_have_count(2)
    await expect(versions.first).to_contain_text("v2")
    await expect(versions.first).to_contain_text("current")
    await expect(versions.first).to_have_attribute("aria-pressed", "true")
    # Version 2 against version 1: the words that changed, and the labels.
    detail = dialog.locator("[data-role=detail]")
    await expect(detail.locator(".nr-diff__del")).to_have_text(["nine", "Breaking"])
    await expect(detail.locator(".nr-diff__ins")).to_have_text([" late", "ten", "waiting ", "none"])
    await expect(detail).to_contain_text("Edited by \u2068admin")  # the name isolated
    await expect(detail.locator("[data-history=ask]")).to_have_count(0)  # the current one
    await page.screenshot(path=str(tmp_path / f"history-{screen}.png"))
    await fits(page, "#history-dialog")
    assert await axe_violations(page) == []

    # Restore version 1, with a correction readers see.
    await versions.nth(1).click()
    await expect(detail).to_contain_text("The first version kept")
    await detail.locator("[data-history=ask]").click()
    await detail.locator("[name=correction]").fill("The minister was not late.")
    await page.screenshot(path=str(tmp_path / f"restore-{screen}.png"))
    await detail.locator("[type=submit]").click()
    await expect(dialog).to_be_hidden()
    shown = card(page, entry["id"])
    await expect(shown.locator(".entry__headline")).to_have_text("The minister arrives")
    await expect(shown.locator(".entry__correction")).to_contain_text("The minister was not late.")
    await expect(shown.locator(".nr-entry__version")).to_contain_text("v3")
    stored = (await newsroom.http.get(f"/api/blogs/summit/entries/{entry['id']}")).json()
    assert (stored["version"], stored["labels"]) == (3, ["breaking"])

    # Someone saves while the history is open: the restore meets 412, the history is read
    # again and says so, and the editor restores on what is there now.
    await shown.locator("[data-action=history]").click()
    await expect(versions).to_have_count(3)
    await versions.nth(1).click()  # version 2
    await newsroom.edit("summit", entry["id"], body="<p>Someone else's words.</p>")
    await detail.locator("[data-history=ask]").click()
    await detail.locator("[type=submit]").click()
    notice = dialog.locator("[data-role=notice]")
    await expect(notice).to_contain_text("now at version 4")
    await expect(versions).to_have_count(4)
    await expect(detail.locator(".nr-diff__ins")).to_have_text(["Someone else's words."])
    await versions.nth(2).click()  # version 2 again
    await detail.locator("[data-history=ask]").click()
    await detail.locator("[type=submit]").click()
    await expect(dialog).to_be_hidden()
    await expect(shown.locator(".entry__headline")).to_have_text("The minister arrives late")
    stored = (await newsroom.http.get(f"/api/blogs/summit/entries/{entry['id']}")).json()
    assert stored["version"] == 5 and "waiting reporters" in stored["body"]


async def test_a_deleted_entry_comes_back(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await newsroom.create_blog("summit", "The summit")
    entry = await newsroom.post("summit", headline="Delegates leave")
    page = await console(pages, server, "summit", PHONE)
    reader, _ = await pages.open(f"{server}/blogs/summit")

    await card(page, entry["id"]).locator("[data-action=delete]").click()
    await page.locator("#confirm-dialog [value=confirm]").click()
    await expect(card(page, entry["id"])).to_have_count(0)
    await expect(reader.locator(f"#entry-{entry['id']}")).to_have_count(0)
    await page.locator(".nr-toast__action", has_text="Undo").click()
    await expect(card(page, entry["id"]).locator(".entry__headline")).to_have_text(
        "Delegates leave"
    )
    await expect(reader.locator(f"#entry-{entry['id']}")).to_have_count(1)

    # Later: from the blog's deleted entries, through its history.
    await card(page, entry["id"]).locator("[data-action=delete]").click()
    await page.locator("#confirm-dialog [value=confirm]").click()
    await expect(card(page, entry["id"])).to_have_count(0)
    deleted = page.locator("#deleted-entries")
    await deleted.locator("summary").click()
    item = deleted.locator(f'.nr-deleted__item[data-id="{entry["id"]}"]')
    await expect(item).to_contain_text("Deleted by \u2068admin")
    await item.locator("button").click()
    dialog = page.locator("#history-dialog")
    await expect(dialog.locator("[data-role=entry-title]")).to_contain_text("deleted")
    await dialog.locator(".nr-history__version").nth(1).click()
    await dialog.locator("[data-history=ask]").click()
    await dialog.locator("[type=submit]").click()
    await expect(dialog).to_be_hidden()
    await expect(card(page, entry["id"])).to_have_count(1)
    await expect(reader.locator(f"#entry-{entry['id']}")).to_have_count(1)
    await expect(deleted.locator(".nr-deleted__item")).to_have_count(0)
    await fits(page, "#deleted-entries", within="#entry-list")

    # Entries readers do not see have their history too (the newsroom panel's cards).
    draft = await newsroom.post("summit", headline="A draft", status="draft")
    await newsroom.edit("summit", draft["id"], headline="A better draft")
    await page.locator('#workflow [data-tab="draft"]').click()
    await page.locator(f'#workflow [data-wf="history"][data-id="{draft["id"]}"]').click()
    await expect(dialog.locator(".nr-history__version")).to_have_count(2)
    await expect(dialog.locator(".nr-diff__ins")).to_have_text([" better"])


@pytest.mark.parametrize("screen", list(VIEWPORTS))
async def test_admins_read_the_audit_log_by_blog_and_person(
    server: str, newsroom: Newsroom, pages: Pages, screen: str, tmp_path: Path
) -> None:
    await newsroom.create_blog("summit", "The summit")
    await newsroom.create_blog("market", "Market day")
    made = await newsroom.http.post(
        "/api/tokens", json={"name": "Ed Itor", "role": "editor", "blogs": ["summit"]}
    )
    ed = Newsroom(server, made.json()["token"])
    try:
        entry = await ed.post("summit", headline="Talks begin")
        await ed.delete("summit", entry["id"])
        await newsroom.post("market", headline="Stalls open")

        page, _ = await pages.open(f"{server}/audit", wait_live=False, viewport=VIEWPORTS[screen],
                                   color_scheme=SCHEMES[screen])  # fmt: skip
        await page.evaluate("t => localStorage.setItem('liveblog.token', t)", ADMIN_TOKEN)
        await page.reload()
        events = page.locator(".nr-audit__event")
        await expect(events.first).to_contain_text("Stalls open")
        await expect(events).to_have_count(6)
        await expect(page.locator("[aria-current=page]")).to_have_text("Audit")

        await page.select_option("[name=blog]", "summit")
        await expect(events).to_have_count(3)
        await expect(events.locator(".nr-audit__action")).to_have_text(
            ["entry.deleted", "entry.created", "blog.created"]
        )
        assert "blog=summit" in page.url
        await page.select_option("[name=by]", made.json()["id"])
        await expect(events).to_have_count(2)
        await expect(events.first).to_contain_text(
            re.compile("Ed Itor\\s+Deleted \u2068“Talks begin”")
        )
        await page.screenshot(path=str(tmp_path / f"audit-{screen}.png"), full_page=True)
        await fits(page, "#main")
        assert await axe_violations(page) == []  # the top bar's logo link has its name at 360 px
        # The history of the deleted entry opens from its event.
        await events.first.locator("button", has_text="History").click()
        await expect(page.locator("#history-dialog .nr-history__version")).to_have_count(2)
        await page.locator("#history-dialog [data-close]").click()

        # An editor is not shown the link, and the screen says who may read it.
        editor_page = await console(
            pages, server, "summit", VIEWPORTS[screen], made.json()["token"]
        )
        await expect(editor_page.locator("[data-role=audit-link]")).to_be_hidden()
        await editor_page.goto(f"{server}/audit")
        await expect(editor_page.locator("#audit-signin")).to_be_visible()
        await expect(editor_page.locator("#audit-app")).to_be_hidden()
    finally:
        await ed.close()

"""Controls by role: each person sees what their role can do on the blog, and nothing it
cannot (docs/api.md, Roles): an admin everything, an editor the blog and its entries but not
people or new blogs, a contributor its own entries waiting for an editor and nothing more."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.kit import PHONE, Newsroom, Pages
from tests.browser.test_newsroom import Console
from tests.browser.test_phone import layout_problems
from tests.support.servers import ADMIN_TOKEN

# What each role sees: the page's controls, by the selector of each.
SEEN = {
    "admin": {
        "[data-role=people-link]", "#new-blog", "#blog-settings", "#blog-toggle",
        "#composer [name=status]", "#entry-list [data-action=edit]",
        "#entry-list [data-action=pin]", "#entry-list [data-action=breaking]",
        "#entry-list [data-action=delete]", "[data-tab=scheduled]", "[data-wf=publish]",
        "[data-wf=sendback]", "[data-wf=edit]", "[data-wf=delete]",
    },
    "editor": {
        "#blog-settings", "#blog-toggle", "#composer [name=status]",
        "#entry-list [data-action=edit]", "#entry-list [data-action=pin]",
        "#entry-list [data-action=breaking]", "#entry-list [data-action=delete]",
        "[data-tab=scheduled]", "[data-wf=publish]", "[data-wf=sendback]", "[data-wf=edit]",
        "[data-wf=delete]",
    },
    # Its own contribution: edit it or withdraw it, until an editor publishes it.
    "contributor": {"[data-wf=edit]", "[data-wf=delete]"},
}  # fmt: skip
EVERY_CONTROL = set().union(*SEEN.values())
SUBMIT = {"admin": "Publish", "editor": "Publish", "contributor": "Submit for review"}


async def _token(newsroom: Newsroom, name: str, role: str) -> str:
    if role == "admin":
        return ADMIN_TOKEN
    response = await newsroom.http.post(
        "/api/tokens", json={"name": name, "role": role, "blogs": ["harbour"]}
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


async def _scene(newsroom: Newsroom, role: str) -> str:
    """A blog with a published entry and a contribution in the queue (the viewer's own, for a
    contributor; a colleague's for the others); returns the viewer's token."""
    await newsroom.blog("harbour", "Harbour race")
    await newsroom.post("harbour", headline="Boats leave the harbour")
    viewer = await _token(newsroom, "Viewer", role)
    writer = Newsroom(newsroom.base_url, viewer if role == "contributor" else
                      await _token(newsroom, "Colleague", "contributor"))  # fmt: skip
    try:
        await writer.post("harbour", headline="From the quay", body="<p>Seen from the quay.</p>")
    finally:
        await writer.close()
    return viewer


async def visible(page: Page, selectors: set[str]) -> set[str]:
    found = set()
    for selector in selectors:
        for node in await page.locator(selector).all():
            if await node.is_visible():
                found.add(selector)
                break
    return found


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
@pytest.mark.parametrize("role", list(SEEN))
async def test_each_role_sees_what_it_can_do_and_nothing_else(
    server: str, newsroom: Newsroom, pages: Pages, role: str, phone: bool
) -> None:
    viewer = await _scene(newsroom, role)
    options: dict[str, Any] = {"viewport": PHONE, "touch": True} if phone else {}
    console = await Console.open(pages, server, token=viewer, blog="harbour", **options)
    page = console.page
    await expect(console.entry_titled("Boats leave the harbour")).to_be_visible()
    await expect(page.locator("#workflow-list .nr-wf")).to_have_count(1)
    if phone:
        await page.locator("#blogs-toggle").click()  # the blog list unfolded: New blog there
    await expect(console.composer.locator("[data-role=submit]")).to_have_text(SUBMIT[role])
    assert await visible(page, EVERY_CONTROL) == SEEN[role]
    if phone:
        assert await layout_problems(page) == []


async def test_a_contributor_follows_its_entry_without_editorial_controls(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    viewer = await _scene(newsroom, "contributor")
    colleague = await _token(newsroom, "Colleague", "contributor")
    other = Newsroom(newsroom.base_url, colleague)
    await other.post("harbour", headline="Someone else's contribution")
    await other.close()
    console = await Console.open(pages, server, token=viewer, blog="harbour")
    page = console.page
    # Only its own contribution is in its queue; another contributor's is not.
    await expect(page.locator("#workflow-list .nr-wf")).to_have_count(1)
    await expect(page.locator("#workflow-list")).to_contain_text("From the quay")
    await expect(page.locator("#workflow-list")).not_to_contain_text("Someone else")
    # A direct link to the People screen says it is for admins, and shows nobody.
    await page.goto(f"{server}/people")
    await expect(page.locator("#people-signin")).to_be_visible()
    await expect(page.locator("#people-app")).to_be_hidden()

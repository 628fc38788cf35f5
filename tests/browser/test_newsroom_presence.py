"""Presence in the console: who else has the blog open (their avatars in the blog's header),
and the entries they edit, marked before anyone else starts on them. Two consoles in two
browser contexts, on two server processes sharing one Redis, as a newsroom's desk and a
reporter's phone would be."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from playwright.async_api import expect

from tests.browser.kit import PHONE, Newsroom, Pages
from tests.browser.test_newsroom import Console
from tests.browser.test_phone import layout_problems
from tests.browser.test_rich import axe_violations
from tests.browser.test_screenshots import _save, _settle
from tests.support.servers import ServerProcess

SLOW = 30_000  # ms: the contract's "drops out within 30 s"


async def _people(newsroom: Newsroom) -> dict[str, str]:
    tokens = {}
    for name in ("Ana Reyes", "Ben Okoro"):
        response = await newsroom.http.post(
            "/api/tokens", json={"name": name, "role": "editor", "blogs": ["harbour"]}
        )
        tokens[name] = response.json()["token"]
    return tokens


async def test_two_consoles_on_two_processes_see_each_other_and_what_each_edits(
    server_process: Callable[..., ServerProcess], pages: Pages
) -> None:
    first, second = await asyncio.to_thread(server_process), await asyncio.to_thread(server_process)
    newsroom = Newsroom(first.url, first.admin_token)
    try:
        await newsroom.blog("harbour", "Harbour race")
        entry = await newsroom.post("harbour", headline="Boats leave the harbour")
        tokens = await _people(newsroom)
        ana = await Console.open(pages, first.url, token=tokens["Ana Reyes"], blog="harbour")
        ben = await Console.open(pages, second.url, token=tokens["Ben Okoro"], blog="harbour")
        # Each sees the other, and only the other.
        await expect(ana.page.locator("#presence [data-token]")).to_have_count(1)
        await expect(ana.page.locator("#presence")).to_contain_text("Ben Okoro has this blog open")
        await expect(ben.page.locator("#presence")).to_contain_text("Ana Reyes has this blog open")

        # Ben starts editing: Ana's console marks the entry before she starts on it.
        started = time.monotonic()
        await ben.entry(entry["id"]).locator("[data-action=edit]").click()
        mark = ana.entry(entry["id"]).locator("[data-role=editing-mark]")
        await expect(mark).to_contain_text("Ben Okoro is editing this entry")
        print(f"presence change seen by the other console after "
              f"{(time.monotonic() - started) * 1000:.0f} ms")  # fmt: skip
        await expect(ana.page.locator("#presence")).to_contain_text(
            "Ben Okoro is editing “Boats leave the harbour”"
        )
        # Ana opens it anyway: her form says so before she types.
        await ana.entry(entry["id"]).locator("[data-action=edit]").click()
        await expect(ana.page.locator(".nr-entry--editing [data-role=notice]")).to_contain_text(
            "Ben Okoro is editing this entry too"
        )
        await expect(ben.entry(entry["id"]).locator("[data-role=editing-mark]")).to_contain_text(
            "Ana Reyes is editing this entry"
        )
        await ana.page.locator(".nr-entry--editing [data-action=cancel]").click()

        # Ben saves: the mark goes on Ana's console.
        await ben.page.locator(".nr-entry--editing [data-role=submit]").click()
        await expect(mark).to_have_count(0)

        # Ben closes his console: Ana sees him go (at once; the contract allows 30 s).
        await ben.page.context.close()
        await expect(ana.page.locator("#presence [data-token]")).to_have_count(0, timeout=SLOW)
        await expect(ana.page.locator("#presence")).to_be_hidden()
    finally:
        await newsroom.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_presence_on_a_phone(
    server: str, newsroom: Newsroom, pages: Pages, scheme: str
) -> None:
    await newsroom.blog("harbour", "Harbour race")
    entry = await newsroom.post("harbour", headline="Boats leave the harbour",
                                body="<p>Crews are on their way.</p>")  # fmt: skip
    tokens = await _people(newsroom)
    ben = await Console.open(pages, server, token=tokens["Ben Okoro"], blog="harbour")
    ana = await Console.open(
        pages, server, token=tokens["Ana Reyes"], blog="harbour", viewport=PHONE, touch=True,
        color_scheme=scheme, reduced_motion="reduce",
    )  # fmt: skip
    await ben.entry(entry["id"]).locator("[data-action=edit]").click()
    await expect(ana.entry(entry["id"]).locator("[data-role=editing-mark]")).to_be_visible()
    await expect(ana.page.locator("#presence .nr-presence__person--editing")).to_have_count(1)
    await _settle(ana.page)
    assert await layout_problems(ana.page) == []
    assert await axe_violations(ana.page) == []
    await ana.entry(entry["id"]).scroll_into_view_if_needed()
    _save(f"newsroom-presence-phone-{scheme}.png", await ana.page.screenshot())

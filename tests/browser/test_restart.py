"""The server restarts under an open page: what was posted meanwhile appears once, in order."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from playwright.async_api import expect

from tests.browser.kit import Newsroom, Pages, entry_ids
from tests.support.servers import ServerProcess


async def test_server_restart_while_the_page_is_open(
    server_process: Callable[..., ServerProcess], pages: Pages
) -> None:
    # Two processes on one Redis: the page reads from `reading`, editors post through `other`.
    reading, other = await asyncio.gather(
        asyncio.to_thread(server_process), asyncio.to_thread(server_process)
    )
    newsroom = Newsroom(other.url, reading.admin_token)
    try:
        await newsroom.blog("restart", "Restart")
        first = await newsroom.post("restart", headline="Before the restart")
        page, _ = await pages.open(f"{reading.url}/blogs/restart", allow_network_errors=True)

        await asyncio.to_thread(reading.stop)
        status = page.locator("#live-status")
        await expect(status).to_have_attribute("data-state", re.compile("reconnecting|offline"))
        await expect(status).to_have_text(re.compile("Reconnecting…|Offline"))
        meanwhile = [await newsroom.post("restart", headline=f"While down {n}") for n in range(3)]
        await asyncio.to_thread(reading.start)

        expected = [*(e["id"] for e in reversed(meanwhile)), first["id"]]
        top = page.locator("#timeline > .entry").first
        # Backoff with jitter: the page may wait a few seconds before it tries again.
        await expect(top).to_have_attribute("id", f"entry-{expected[0]}", timeout=30_000)
        await expect(status).to_have_attribute("data-state", "live")
        assert await entry_ids(page) == expected

        after = await newsroom.post("restart", headline="After the restart")
        await expect(top).to_have_attribute("id", f"entry-{after['id']}", timeout=1000)
        assert await entry_ids(page) == [after["id"], *expected]
    finally:
        await newsroom.close()

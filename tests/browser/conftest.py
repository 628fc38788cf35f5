"""Fixtures for the reader's browser tests: headless Debian Chromium driven by Playwright.

The async API runs in the test's event loop next to the in-process server (``server`` from
``tests/conftest.py``); a test that restarts a server uses real processes (``server_process``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from tests.browser.kit import CHROMIUM, LAUNCH_ARGS, Newsroom, Pages
from tests.support.servers import ADMIN_TOKEN


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def engine_name() -> str:
    """The browser tests run on Redis, the production engine (test_pages covers both)."""
    return "redis"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        yield browser
        await browser.close()


@pytest.fixture
async def pages(request: pytest.FixtureRequest, browser: Browser) -> AsyncIterator[Pages]:
    """Reader pages; any console error, uncaught exception or dialog fails the test."""
    if "server" in request.fixturenames:
        # Set the server up first so it is torn down last: pages close while it still runs.
        request.getfixturevalue("server")
    opened = Pages(browser)
    yield opened
    problems = await opened.close()
    assert not problems, "the page reported:\n" + "\n".join(problems)


@pytest.fixture
async def newsroom(server: str) -> AsyncIterator[Newsroom]:
    client = Newsroom(server, ADMIN_TOKEN)
    yield client
    await client.close()

"""Fixtures for the reader's browser tests: headless Debian Chromium driven by Playwright.

The async API runs in the test's event loop next to the in-process server (``server`` from
``tests/conftest.py``); a test that restarts a server uses real processes (``server_process``).
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import playwright
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


# Playwright's own browser server (``launchServer``, the defaults of ``launch()``), run by the
# Node.js its Python package carries: it prints where to connect, and stops when stdin closes
# (the test process ended, however it ended).
_BROWSER_SERVER = """
const [pkg, options] = process.argv.slice(1);
require(pkg).chromium.launchServer(JSON.parse(options)).then((server) => {
  console.log(server.wsEndpoint());
  process.stdin.on("end", () => server.close().then(() => process.exit(0)));
  process.stdin.resume();
});
"""


@pytest.fixture(scope="session")
def browser_server() -> Iterator[str]:
    """One Chromium per test process, each test connected to it with contexts of its own (they
    close when it disconnects): a Chromium launched and closed per test took 1-2 s of a loaded
    machine, two hundred times over."""
    driver = Path(playwright.__file__).parent / "driver"
    options = {"executablePath": CHROMIUM, "headless": True, "args": LAUNCH_ARGS}
    process = subprocess.Popen(
        [driver / "node", "-e", _BROWSER_SERVER, str(driver / "package"), json.dumps(options)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, process.kill)  # a browser that never says where it is
    watchdog.start()
    endpoint = process.stdout.readline().strip() if process.stdout else ""
    watchdog.cancel()
    if not endpoint.startswith("ws://"):
        process.kill()
        process.communicate()  # its pipes closed
        raise RuntimeError(f"Chromium's browser server did not start ({endpoint!r})")
    try:
        yield endpoint
    finally:
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stdout:
            process.stdout.close()


@pytest.fixture
async def browser(browser_server: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect(browser_server)
        yield browser
        await browser.close()  # closes this test's contexts; the browser stays for the next


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

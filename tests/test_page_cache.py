"""Pages read by crowds are cheap: one computation per version, however many readers ask.

The engine here is a real one (memory, then Redis) whose read methods count their calls.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.responses import Response

from liveblog.app import create_app
from liveblog.config import Settings
from liveblog.engine import make_engine
from liveblog.engine.base import Engine
from liveblog.pages.cache import STALE_SECONDS, PageCache
from tests.support.servers import ADMIN_TOKEN

CROWD = 50
READS = ("list_blogs", "get_blog", "get_entry", "timeline", "position")


def count_reads(engine: Engine) -> collections.Counter[str]:
    """Count every call of the engine's read methods (the engine itself is untouched)."""
    calls: collections.Counter[str] = collections.Counter()
    for name in READS:
        method = getattr(engine, name)

        async def counted(*args: Any, _name: str = name, _method: Any = method) -> Any:
            calls[_name] += 1
            return await _method(*args)

        setattr(engine, name, counted)
    return calls


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def site(
    settings_factory: Callable[..., Settings],
) -> AsyncIterator[tuple[httpx.AsyncClient, collections.Counter[str], Clock, Settings]]:
    settings = settings_factory()
    engine = make_engine(settings)
    calls = count_reads(engine)
    app = create_app(settings, engine=engine)
    clock = Clock()
    app.state.page_cache.clock = clock
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as client,
    ):
        yield client, calls, clock, settings


async def _crowd(client: httpx.AsyncClient, path: str) -> str:
    responses = await asyncio.gather(*(client.get(path) for _ in range(CROWD)))
    assert {r.status_code for r in responses} == {200}
    bodies = {r.text for r in responses}
    assert len(bodies) == 1  # every reader got the same page
    return bodies.pop()


async def _post(client: httpx.AsyncClient, slug: str, headline: str) -> None:
    response = await client.post(
        f"/api/blogs/{slug}/entries", json={"headline": headline, "body": "<p>An update.</p>"}
    )
    assert response.status_code == 201, response.text


async def test_a_crowd_on_the_index_costs_one_computation(site: Any) -> None:
    client, calls, clock, settings = site
    for slug in ("dam", "storm", "vote"):
        created = await client.post("/api/blogs", json={"slug": slug, "title": slug.title()})
        assert created.status_code == 201
        await _post(client, slug, f"First on {slug}")

    calls.clear()
    page = await _crowd(client, "/")
    assert "First on vote" in page
    # One listing and one timeline read per blog, for all fifty readers.
    assert calls == {"list_blogs": 1, "timeline": 3}

    await _post(client, "dam", "The dam holds")
    calls.clear()
    assert "The dam holds" not in (await client.get("/")).text  # kept for page_cache_seconds
    assert calls == {}
    clock.now += settings.page_cache_seconds
    assert "The dam holds" in await _crowd(client, "/")
    # Only the blog that changed (its position moved) has its timeline read again.
    assert calls == {"list_blogs": 1, "timeline": 1}


@pytest.mark.parametrize("path", ["/blogs/dam", "/blogs/dam/embed", "/blogs/dam/feed.atom"])
async def test_a_crowd_on_a_blog_page_costs_one_render_per_position(site: Any, path: str) -> None:
    client, calls, _, _ = site
    await client.post("/api/blogs", json={"slug": "dam", "title": "Dam"})
    await _post(client, "dam", "Cracks seen")

    calls.clear()
    assert "Cracks seen" in await _crowd(client, path)
    # The readers share the blog's position read in flight (a few reads for fifty, the
    # render's own included); the page is built once.
    assert calls["position"] < CROWD / 10
    assert calls["get_blog"] == 1
    assert calls["timeline"] <= 2

    # A change moves the position: the very next request shows it, no TTL to wait for.
    await _post(client, "dam", "The dam holds")
    calls.clear()
    assert "The dam holds" in await _crowd(client, path)
    assert calls["get_blog"] == 1


# --- the cache itself ------------------------------------------------------------------------


async def test_misses_together_share_one_computation() -> None:
    cache = PageCache()
    gate = asyncio.Event()
    computed = 0

    async def compute() -> Response:
        nonlocal computed
        computed += 1
        await gate.wait()
        return Response(b"page")

    waiters = [asyncio.create_task(cache.get("slot", 1, compute)) for _ in range(CROWD)]
    await asyncio.sleep(0)
    waiters[0].cancel()  # one reader goes away: the others still get the page
    gate.set()
    results = await asyncio.gather(*waiters[1:])
    assert computed == 1
    assert {r.body for r in results} == {b"page"}
    await cache.get("slot", 1, compute)
    assert computed == 1  # kept
    await cache.get("slot", 2, compute)
    assert computed == 2  # a new version is a new page


async def test_failures_and_errors_are_shared_but_not_kept() -> None:
    cache = PageCache()
    attempts = 0

    async def failing() -> Response:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0)
        raise RuntimeError("engine down")

    results = await asyncio.gather(
        *(cache.get("slot", 1, failing) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    assert attempts == 1

    async def missing() -> Response:
        return Response(b"not found", 404)

    assert (await cache.get("slot", 1, missing)).status_code == 404
    assert len(cache) == 0

    async def ok() -> Response:
        return Response(b"fine")

    assert (await cache.get("slot", 1, ok)).body == b"fine"
    assert len(cache) == 1


async def test_the_cache_is_bounded_in_slots_and_bytes_and_keeps_one_version_per_slot() -> None:
    cache = PageCache(max_slots=3)

    async def page() -> Response:
        return Response(b"x" * 100)

    for version in range(10):
        await cache.get("blog", version, page)
    assert len(cache) == 1
    for slot in range(10):
        await cache.get(slot, 0, page)
    assert len(cache) == 3
    assert cache.bytes == 300

    small = PageCache(max_bytes=250)
    for slot in range(10):
        await small.get(slot, 0, page)
    assert (len(small), small.bytes) == (2, 200)


async def test_responses_are_copies() -> None:
    cache = PageCache()

    async def page() -> Response:
        return Response(b"shared", headers={"X-Page": "1"})

    first = await cache.get("slot", 1, page)
    first.headers["X-Page"] = "changed"
    second = await cache.get("slot", 1, page)
    assert second.headers["X-Page"] == "1"
    assert second.headers["content-length"] == "6"


async def test_a_crowd_on_an_entry_page_costs_one_render_per_position(site: Any) -> None:
    """A viral update: its page is rendered once per change of its blog."""
    client, calls, _, _ = site
    await client.post("/api/blogs", json={"slug": "dam", "title": "Dam"})
    response = await client.post(
        "/api/blogs/dam/entries", json={"headline": "Cracks seen", "body": "<p>Wide ones.</p>"}
    )
    path = f"/blogs/dam/entries/{response.json()['id']}"

    calls.clear()
    assert "Cracks seen" in await _crowd(client, path)
    assert calls["position"] < CROWD / 10  # shared while in flight
    assert calls["get_entry"] == 1  # one render for fifty readers

    await _post(client, "dam", "The dam holds")  # a change to the blog: the page is redone once
    calls.clear()
    assert "Cracks seen" in await _crowd(client, path)
    assert calls["get_entry"] == 1


async def test_a_page_stands_in_only_while_it_was_current_lately() -> None:
    """``stale``: the slot's page, whatever its version, up to STALE_SECONDS after a request
    last found it current; then nothing (the store's error is the answer)."""
    clock = Clock()
    cache = PageCache(clock=clock)

    async def page() -> Response:
        return Response(b"the page")

    assert cache.stale("slot") is None
    await cache.get("slot", 1, page)
    clock.now += STALE_SECONDS - 1
    await cache.get("slot", 1, page)  # found current again
    clock.now += STALE_SECONDS - 1
    stood_in = cache.stale("slot")
    assert stood_in is not None and stood_in.body == b"the page"
    clock.now += 2
    assert cache.stale("slot") is None

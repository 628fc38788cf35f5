"""The Engine interface behaves the same on memory, Redis and Redis Cluster (docs/design.md: one
suite, every engine)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import msgspec
import pytest
import redis.asyncio as aioredis

from liveblog.config import Settings
from liveblog.editorial import editing
from liveblog.engine import make_engine
from liveblog.engine.base import (
    BlogExists,
    BlogNotFound,
    Engine,
    EntryNotFound,
    IdempotencyMismatch,
    VersionConflict,
)
from liveblog.models import BlogCreate, EntryCreate, EntryPatch, Position, Token
from tests.conftest import ALL_ENGINES, make_settings


@pytest.fixture(params=ALL_ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def engine(
    engine_name: str, settings_factory: Callable[..., Settings]
) -> AsyncIterator[Engine]:
    engine = make_engine(settings_factory(history_size=5))
    await engine.start()
    yield engine
    await engine.close()


async def new_blog(engine: Engine, slug: str = "b") -> Position:
    blog = await editing.create_blog(engine, BlogCreate(slug=slug, title="B"))
    position = Position.parse(blog.last_event_id)
    assert position is not None and position.offset == 0
    return position


async def post(engine: Engine, slug: str = "b", **fields: object) -> dict[str, object]:
    fields.setdefault("body", "<p>x</p>")
    encoded, *_ = await editing.create_entry(engine, slug, msgspec.convert(fields, EntryCreate))
    return msgspec.json.decode(encoded)


async def test_blogs_are_unique_and_listed(engine: Engine) -> None:
    await new_blog(engine, "one")
    await new_blog(engine, "two")
    with pytest.raises(BlogExists):
        await new_blog(engine, "one")
    assert sorted(b.slug for b in await engine.list_blogs()) == ["one", "two"]
    assert await engine.get_blog("three") is None
    assert await engine.position("three") is None


async def test_history_window(engine: Engine) -> None:
    start = await new_blog(engine)
    for i in range(8):
        await post(engine, headline=f"e{i}")
    assert await engine.position("b") == Position(start.epoch, 8)
    assert await engine.history("b", 8) == []
    assert await engine.history("b", 9) is None  # never issued
    recent = await engine.history("b", 3)  # events 4..8 are the last five
    assert recent is not None
    assert [msgspec.json.decode(e)["id"] for e in recent] == [f"{start.epoch}-{n}" for n in
                                                              range(4, 9)]  # fmt: skip
    assert await engine.history("b", 2) is None  # event 3 fell out of the window


async def test_versions_and_idempotency_are_checked_atomically(engine: Engine) -> None:
    await new_blog(engine)
    entry = await post(engine)
    entry_id = str(entry["id"])
    patch = EntryPatch(headline="new")
    results = await asyncio.gather(
        *(editing.update_entry(engine, "b", entry_id, patch, 1) for _ in range(5)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, VersionConflict) for r in results if isinstance(r, Exception))
    assert (await engine.position("b")).offset == 2  # type: ignore[union-attr]

    data = EntryCreate(body="<p>same</p>")
    first = await editing.create_entry(engine, "b", data, idempotency_key="k", raw_request=b"1")
    again = await editing.create_entry(engine, "b", data, idempotency_key="k", raw_request=b"1")
    assert again == (first.encoded, True, first.entry_id) and not first.replayed
    with pytest.raises(IdempotencyMismatch):
        await editing.create_entry(engine, "b", data, idempotency_key="k", raw_request=b"2")
    # The same key on another blog is another key.
    await new_blog(engine, "c")
    other = await editing.create_entry(engine, "c", data, idempotency_key="k", raw_request=b"1")
    assert other[1] is False
    assert (await engine.position("b")).offset == 3  # type: ignore[union-attr]

    await editing.delete_entry(engine, "b", entry_id)
    with pytest.raises(EntryNotFound):
        await editing.delete_entry(engine, "b", entry_id)
    with pytest.raises(BlogNotFound):
        await post(engine, "nope")


async def test_tokens(engine: Engine) -> None:
    await engine.store_token("h1", Token("desk", "editor", ["b"]))
    assert await engine.find_token("h1") == Token("desk", "editor", ["b"])
    assert await engine.find_token("h2") is None


async def test_lost_position_starts_a_new_epoch(redis_url: str) -> None:
    """If a blog's position is lost (an incomplete restore), its old ids must not be trusted."""
    engine = make_engine(make_settings(redis_url))
    start = await new_blog(engine)
    await post(engine)
    admin = aioredis.Redis.from_url(redis_url)
    await admin.delete("lb:{b}:pos")
    await admin.aclose()
    await post(engine)
    position = await engine.position("b")
    assert position is not None
    assert position.epoch != start.epoch and position.offset == 1
    await engine.close()


async def test_renew_epoch_only_when_the_store_is_behind(engine: Engine) -> None:
    start = await new_blog(engine)
    for _ in range(3):
        await post(engine)
    # Not behind what was seen: nothing changes.
    assert await engine.renew_epoch("b", Position(start.epoch, 3)) == Position(start.epoch, 3)
    assert await engine.renew_epoch("b", Position("other", 9)) == Position(start.epoch, 3)
    # Behind: a new epoch, offsets go on, the old epoch's history is gone.
    renewed = await engine.renew_epoch("b", Position(start.epoch, 5))
    assert renewed is not None and renewed.epoch != start.epoch and renewed.offset == 3
    assert await engine.position("b") == renewed
    assert await engine.history("b", 1) is None
    await post(engine)
    assert await engine.history("b", 3) is not None
    assert await engine.renew_epoch("nope", start) is None


async def test_presence_is_a_map_with_expiry_and_a_notice_on_every_change(engine: Engine) -> None:
    """Who has a blog open (liveblog/api/presence.py): records expire unless put again; a
    touch gives one more time but never brings it back; every change, an expiry included, is
    one notice on the blog's newsroom channel, and nothing else is."""
    from liveblog import events

    await new_blog(engine)
    heard: list[tuple[str, bytes]] = []
    subscription = engine.subscription(lambda name, message: heard.append((name, message)))
    await subscription.subscribe("b~newsroom")
    runner = asyncio.create_task(subscription.run())
    try:
        await subscription.confirm()

        async def notices(count: int) -> None:
            async with asyncio.timeout(5):
                while len(heard) < count:
                    await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)  # and no more than that
            assert len(heard) == count
            for name, message in heard:
                assert name == "b~newsroom"
                assert message.partition(b" ")[2] == events.PRESENCE_NOTICE

        changed, records = await engine.update_presence("b", {"s:a:1": (0.4, b"A")})
        assert changed and records == {"s:a:1": b"A"}
        await notices(1)
        # The same record again: no change, no notice; another one: a change.
        assert await engine.update_presence("b", {"s:a:1": (0.4, b"A")}) == (False, records)
        changed, records = await engine.update_presence("b", {"e:a": (30, b"X")})
        assert changed and records == {"s:a:1": b"A", "e:a": b"X"}
        await notices(2)
        # A touch with another value changes nothing; with the same value, it lasts longer.
        changed, _ = await engine.update_presence("b", {}, touch={"e:a": (30, b"Y")})
        assert not changed
        await asyncio.sleep(0.6)  # "s:a:1" has expired: the next call forgets it, and says so
        changed, records = await engine.update_presence("b", {}, touch={"s:a:1": (30, b"A")})
        assert changed and records == {"e:a": b"X"}  # the touch did not bring it back
        await notices(3)
        changed, records = await engine.update_presence("b", {}, drop=["e:a", "e:nobody"])
        assert changed and records == {}
        await notices(4)
        assert await engine.update_presence("b", {}, drop=["e:a"]) == (False, {})
        await notices(4)
    finally:
        runner.cancel()
        with contextlib.suppress(BaseException):
            await runner
        await subscription.close()


async def test_readers_by_minute_keep_an_hour_of_every_process(engine: Engine) -> None:
    """The dashboard's chart (liveblog/ops/stats.py): one record per process and minute,
    replaced within the minute, and the minutes before ``keep_from`` forgotten."""
    await engine.record_readers(100, "a", b'{"b":3}')
    await engine.record_readers(100, "a", b'{"b":5}')  # the same minute, later: replaced
    await engine.record_readers(100, "c", b'{"b":2}')
    await engine.record_readers(101, "a", b'{"b":1}')
    history = await engine.readers_history()
    assert sorted(history) == [100, 101]
    assert sorted(history[100]) == [b'{"b":2}', b'{"b":5}'] and history[101] == [b'{"b":1}']
    await engine.record_readers(161, "a", b'{"b":9}', keep_from=101)
    assert sorted(await engine.readers_history()) == [101, 161]


async def test_the_entries_just_newer_than_a_key(engine: Engine) -> None:
    """``newer``: what a reader page landing on an old entry loads above it, a page at a time,
    with how many remain above (one atomic read, like ``timeline``)."""
    await new_blog(engine)
    made = [await post(engine, headline=str(n)) for n in range(7)]  # oldest first
    entries = [await engine.get_entry("b", str(e["id"])) for e in made]
    keys = [e.order_key for e in entries if e is not None]

    found = await engine.newer("b", 2, keys[1])
    assert [e.headline for e in found.entries] == ["3", "2"]  # just above entry 1, newest first
    assert found.remaining == 3  # 4, 5 and 6 are newer still
    assert found.position == await engine.position("b")
    top = await engine.newer("b", 10, keys[4])
    assert [e.headline for e in top.entries] == ["6", "5"] and top.remaining == 0
    assert (await engine.newer("b", 3, keys[6])).entries == []
    counted = await engine.newer("b", 0, keys[0])  # how many, and nothing else
    assert counted.entries == [] and counted.remaining == 6
    # A key between entries (the timeline cursor of "just above entry 2") works the same.
    assert [e.headline for e in (await engine.newer("b", 1, keys[2] + "~")).entries] == ["3"]
    with pytest.raises(BlogNotFound):
        await engine.newer("nope", 2, keys[0])

"""One blog's channel state machine, driven directly with a fake store: live delivery, gaps,
epochs, history windows, held frames, resumes ahead of the channel, fills that fail.

The fake store stands for the engine's reads (position, history with a window, renew_epoch);
the readers are the hub's own plain connections, and what they were sent is parsed back into
(id, type, reason). Every test asserts what a reader would see: each event once, in order, or a
``reset`` that says why; never a silent gap.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import msgspec
import pytest

from liveblog.delivery.channel import COALESCE_MAX_BYTES, RECENT_FRAMES, Channel, HubStats
from liveblog.delivery.connections import Connection, Frame
from liveblog.engine.base import EngineUnavailable
from liveblog.models import Position
from liveblog.supervisor import Supervisor

SLUG = "blog"


def raw_event(epoch: str, offset: int, pad: int = 0) -> bytes:
    event = {"id": f"{epoch}-{offset}", "type": "entry.deleted", "blog": SLUG,
             "data": {"id": f"e{offset}", "pad": "x" * pad}}  # fmt: skip
    return msgspec.json.encode(event)


class FakeStore:
    """A blog's log as the engine keeps it: offsets 1..n in one epoch, the last
    ``history_size`` readable as history."""

    def __init__(self, *, history_size: int = 8, offset: int = 0) -> None:
        self.history_size = history_size
        self.epoch = "ep1"
        self.log: list[bytes] = [raw_event(self.epoch, n) for n in range(1, offset + 1)]
        self.failures = 0  # the next this many reads raise EngineUnavailable
        self.history_gate: asyncio.Event | None = None  # history reads wait for it when set
        self.position_gate: asyncio.Event | None = None  # so do position reads
        self.history_reads = 0
        # History as of the moment it was asked for, not when the gate opens (a read that
        # began before later events were stored).
        self.history_as_asked = False
        self.renewed: list[Position] = []

    @property
    def offset(self) -> int:
        return len(self.log)

    def publish(self, pad: int = 0) -> Frame:
        """Store the next event and return it as pub/sub would hand it to the channel."""
        raw = raw_event(self.epoch, self.offset + 1, pad)
        self.log.append(raw)
        return Frame(raw, time.time())

    def lose_last(self, count: int) -> None:
        """The store lost its last writes (a crash between fsyncs)."""
        del self.log[-count:]

    def new_epoch(self, epoch: str) -> None:
        """The history was rebuilt under a new epoch (e.g. restored from a backup)."""
        self.epoch, self.log = epoch, []

    def _maybe_fail(self) -> None:
        if self.failures:
            self.failures -= 1
            raise EngineUnavailable("injected")

    async def position(self, slug: str) -> Position | None:
        if self.position_gate is not None:
            await self.position_gate.wait()
        self._maybe_fail()
        return Position(self.epoch, self.offset)

    async def history(self, slug: str, after: int) -> list[bytes] | None:
        self.history_reads += 1
        log = list(self.log) if self.history_as_asked else None
        if self.history_gate is not None:
            await self.history_gate.wait()
        self._maybe_fail()
        log = self.log if log is None else log
        if after < len(log) - self.history_size:
            return None  # older than the window
        return log[after:]

    async def renew_epoch(self, slug: str, seen: Position) -> Position | None:
        self.renewed.append(seen)
        self.new_epoch(self.epoch + "r")
        self.log = [b""] * seen.offset  # the new epoch starts past every offset handed out
        return Position(self.epoch, self.offset)


class Reader:
    """A plain connection joined to the channel, and what it was sent, parsed."""

    def __init__(self, channel: Channel) -> None:
        self.conn = Connection("sse", 1 << 20)
        self.conn.on_close = channel.remove
        self.channel = channel
        self.writes = 0

    @property
    def events(self) -> list[tuple[str, str, str | None]]:
        """(id, type, reset reason) of every event sent so far."""
        seen = []
        for payload in self.conn.pending:
            for block in payload.decode().split("\n\n"):
                if not block:
                    continue
                fields = dict(line.split(": ", 1) for line in block.split("\n"))
                data = json.loads(fields["data"])
                reason = data["data"].get("reason") if data["type"] == "reset" else None
                seen.append((fields["id"], fields["event"], reason))
        return seen

    @property
    def ids(self) -> list[str]:
        return [event_id for event_id, kind, _ in self.events if kind != "reset"]

    @property
    def resets(self) -> list[tuple[str, str | None]]:
        return [(event_id, reason) for event_id, kind, reason in self.events if kind == "reset"]


def ids(epoch: str, first: int, last: int) -> list[str]:
    return [f"{epoch}-{n}" for n in range(first, last + 1)]


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the loop run (flushes, fills) until ``check()`` holds."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.001)


async def settled(channel: Channel) -> None:
    """The channel is live (no fill under way) and this turn's writes are out."""
    await until(lambda: not channel.filling)
    await asyncio.sleep(0)
    await asyncio.sleep(0)


@pytest.fixture
def supervisor() -> Supervisor:
    return Supervisor(first_delay=0.001, max_delay=0.01)


@pytest.fixture
def open_channel(supervisor: Supervisor) -> Callable[..., Channel]:
    def make(store: FakeStore, window: float = 0.0) -> Channel:
        channel = Channel(
            SLUG, store, stats=HubStats(), supervisor=supervisor, observers=[], window=window
        )
        channel.start(Position(store.epoch, store.offset))
        return channel

    return make


async def join(channel: Channel, resume: str | None = None) -> Reader:
    reader = Reader(channel)
    await channel.add(reader.conn, resume)
    return reader


async def resume_reading_history(
    channel: Channel, store: FakeStore, resume: str
) -> asyncio.Task[Reader]:
    """A reader resuming from ``resume``, held inside its history read until
    ``store.history_gate`` is set."""
    store.history_gate = asyncio.Event()
    joining = asyncio.create_task(join(channel, resume))
    await until(lambda: store.history_reads == 1)
    return joining


# --- live -------------------------------------------------------------------------------


async def test_live_events_reach_every_reader_once_in_order(open_channel) -> None:
    store = FakeStore(offset=2)
    channel = open_channel(store)
    readers = [await join(channel) for _ in range(3)]
    for _ in range(3):
        frame = store.publish()
        channel.receive(frame)
        channel.receive(frame)  # pub/sub may hand an event twice: it is delivered once
    await settled(channel)
    for reader in readers:
        assert reader.ids == ids("ep1", 3, 5)
    assert channel.stats.deliveries == 9


async def test_a_burst_in_one_turn_is_one_write_per_reader(open_channel) -> None:
    store = FakeStore()
    channel = open_channel(store)
    readers = [await join(channel) for _ in range(2)]
    seen: list[tuple[int, int]] = []
    channel.observers.append(lambda frame, count: seen.append((frame.offset, count)))
    for _ in range(4):
        channel.receive(store.publish())
    await settled(channel)
    for reader in readers:
        assert len(reader.conn.pending) == 1  # the four events joined into one write
        assert reader.ids == ids("ep1", 1, 4)
    assert (channel.stats.writes, channel.stats.deliveries) == (2, 8)
    assert seen == [(1, 2), (2, 2), (3, 2), (4, 2)]


async def test_a_busy_blog_coalesces_within_the_window_a_quiet_one_goes_at_once(
    open_channel,
) -> None:
    store = FakeStore()
    window = 0.2
    channel = open_channel(store, window)
    reader = await join(channel)
    loop = asyncio.get_running_loop()
    channel.receive(store.publish())  # after a quiet spell: out at once
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert reader.ids == ["ep1-1"]
    first = loop.time()
    for _ in range(3):  # a busy spell: held until the window since the last write ends
        channel.receive(store.publish())
        await asyncio.sleep(0.01)
    assert reader.ids == ["ep1-1"]
    await until(lambda: len(reader.ids) == 4)
    assert loop.time() - first >= window * 0.9  # not much before the window's end
    assert reader.ids == ids("ep1", 1, 4)
    assert len(reader.conn.pending) == 2  # the three of the busy spell in one write
    await asyncio.sleep(window * 1.5)  # quiet again
    channel.receive(store.publish())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert reader.ids == ids("ep1", 1, 5)


async def test_a_window_holds_no_more_than_a_few_kib(open_channel) -> None:
    """Big events are not held for the window: a reader that would have taken them one by one
    must not find them joined past its buffer bound."""
    store = FakeStore()
    channel = open_channel(store, 60.0)
    reader = await join(channel)
    channel.receive(store.publish())
    await asyncio.sleep(0)
    channel.receive(store.publish(pad=COALESCE_MAX_BYTES))  # in the window, but big: at once
    await until(lambda: len(reader.ids) == 2, timeout=2)
    for _ in range(3):  # small ones within the window wait...
        channel.receive(store.publish(pad=COALESCE_MAX_BYTES // 4))
    await asyncio.sleep(0.05)
    assert len(reader.ids) == 2
    channel.receive(store.publish(pad=COALESCE_MAX_BYTES // 4))  # ...until they are enough
    await until(lambda: len(reader.ids) == 6, timeout=2)
    assert reader.ids == ids("ep1", 1, 6)


async def test_a_reader_whose_write_fails_leaves_and_the_others_go_on(open_channel) -> None:
    store = FakeStore()
    channel = open_channel(store)
    first, broken, last = [await join(channel) for _ in range(3)]

    def gone(payload: object) -> None:
        raise RuntimeError("handle is closed")

    broken.conn.write = gone
    channel.receive(store.publish())
    await settled(channel)
    assert first.ids == last.ids == ids("ep1", 1, 1)
    assert broken.conn.close_reason == "disconnect"
    assert channel.readers == 2
    assert channel.stats.write_errors == 1


# --- gaps and epochs ----------------------------------------------------------------------


async def test_a_gap_is_filled_from_history_before_anything_later(open_channel) -> None:
    store = FakeStore(offset=1)
    channel = open_channel(store)
    reader = await join(channel)
    missed = [store.publish() for _ in range(2)]  # 2 and 3: lost on the way here
    channel.receive(store.publish())  # 4 arrives: a gap
    channel.receive(missed[0])  # 2 arrives late, during the fill: delivered once
    await settled(channel)
    assert reader.ids == ids("ep1", 2, 4)
    assert reader.resets == []


async def test_a_gap_older_than_the_history_window_resets_readers(open_channel) -> None:
    store = FakeStore(history_size=3)
    channel = open_channel(store)
    reader = await join(channel)
    for _ in range(5):
        store.publish()  # none of these arrive; only three stay in the window
    channel.receive(store.publish())
    await settled(channel)
    assert reader.resets == [("ep1-6", "history window exceeded")]
    channel.receive(store.publish())
    await settled(channel)
    assert reader.ids == ["ep1-7"]  # after the reset, live from where the store is


async def test_a_new_epoch_resets_readers_and_continues_in_it(open_channel) -> None:
    store = FakeStore(offset=3)
    channel = open_channel(store)
    reader = await join(channel)
    store.new_epoch("ep2")
    channel.receive(store.publish())  # ep2-1: a new epoch
    await settled(channel)
    assert reader.resets == [("ep2-1", "history epoch changed")]
    channel.receive(store.publish())
    await settled(channel)
    assert reader.ids == ["ep2-2"]
    assert channel.position == Position("ep2", 2)


async def test_a_store_behind_the_channel_renews_the_epoch_never_reusing_offsets(
    open_channel,
) -> None:
    """Events were delivered, then the store lost them: their offsets must not be handed out
    again with other content. The channel asks for a new epoch and readers reload."""
    store = FakeStore(offset=2)
    channel = open_channel(store)
    reader = await join(channel)
    for _ in range(2):
        channel.receive(store.publish())
    await settled(channel)
    store.lose_last(2)
    channel.start_fill()  # as after a reconnect of the subscription
    await settled(channel)
    assert store.renewed == [Position("ep1", 4)]
    assert reader.resets == [("ep1r-4", "history epoch changed")]
    channel.receive(store.publish())
    await settled(channel)
    assert reader.ids == ["ep1-3", "ep1-4", "ep1r-5"]


async def test_events_arriving_while_the_channel_fills_wait_in_order(open_channel) -> None:
    store = FakeStore(offset=1)
    channel = open_channel(store)
    reader = await join(channel)
    store.history_gate = asyncio.Event()
    store.publish()  # 2 is missed
    channel.receive(store.publish())  # 3: gap, the fill waits on history
    await until(lambda: store.history_reads == 1)
    later = [store.publish() for _ in range(3)]
    for frame in reversed(later):
        channel.receive(frame)  # 4..6 arrive (out of order) while the fill is under way
    assert reader.ids == []  # nothing past the gap goes out before it is filled
    store.history_gate.set()
    await settled(channel)
    assert reader.ids == ids("ep1", 2, 6)


async def test_a_fill_that_fails_is_retried_until_it_works(open_channel, supervisor) -> None:
    store = FakeStore(offset=1)
    channel = open_channel(store)
    reader = await join(channel)
    store.publish()
    store.failures = 3
    channel.receive(store.publish())
    await settled(channel)
    assert reader.ids == ids("ep1", 2, 3)
    assert store.failures == 0
    assert supervisor.errors["fill"] == 0  # the engine being down is expected, not a bug


async def test_a_backlog_too_big_to_hold_is_dropped_and_read_again(open_channel) -> None:
    """Events that pile up during a fill are held up to the history window; past it they are
    forgotten and read from history after the fill. So many events mean the gap was already
    wider than the window: readers reload, then go on live with nothing lost after."""
    store = FakeStore(history_size=4, offset=1)
    channel = open_channel(store)
    reader = await join(channel)
    store.history_gate = asyncio.Event()
    store.publish()
    channel.receive(store.publish())  # gap at 3: the fill reads position 3, waits on history
    await until(lambda: store.history_reads == 1)
    for _ in range(4):
        channel.receive(store.publish())
        assert len(channel.backlog) <= store.history_size
    store.history_gate.set()
    await settled(channel)
    assert reader.events[0] == ("ep1-3", "reset", "history window exceeded")
    assert reader.ids == ids("ep1", 4, 7)
    channel.receive(store.publish())
    await settled(channel)
    assert reader.ids == ids("ep1", 4, 8)


async def test_an_error_mid_fan_out_makes_the_blogs_readers_resume(
    open_channel, supervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FakeStore()
    channel = open_channel(store)
    readers = [await join(channel) for _ in range(2)]

    def broken(frame: Frame) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(Channel, "_deliver", lambda self, frame: broken(frame))
    channel.receive(store.publish())
    assert [r.conn.close_reason for r in readers] == ["error", "error"]
    assert channel.readers == 0
    assert supervisor.errors["deliver"] == 1


# --- resumes ----------------------------------------------------------------------------


async def test_a_resume_reads_history_then_held_live_events_exactly_once(open_channel) -> None:
    store = FakeStore(offset=5)
    channel = open_channel(store)
    joining = await resume_reading_history(channel, store, "ep1-2")
    for _ in range(2):
        channel.receive(store.publish())  # 6 and 7 while its history (3..) is being read
    await asyncio.sleep(0)
    store.history_gate.set()
    reader = await joining
    channel.receive(store.publish())
    await settled(channel)
    assert reader.ids == ids("ep1", 3, 8)
    assert reader.resets == []
    assert channel.live_count == 1 and not channel.waiting


async def test_a_resume_from_now_goes_live_at_once(open_channel) -> None:
    store = FakeStore(offset=3)
    channel = open_channel(store)
    reader = await join(channel, "ep1-3")
    assert store.history_reads == 0
    channel.receive(store.publish())
    await settled(channel)
    assert reader.ids == ["ep1-4"]


async def test_a_resume_older_than_the_window_is_told_to_reload(open_channel) -> None:
    store = FakeStore(history_size=3, offset=10)
    channel = open_channel(store)
    reader = await join(channel, "ep1-2")
    channel.receive(store.publish())
    await settled(channel)
    assert reader.events == [
        ("ep1-10", "reset", "history window exceeded"),
        ("ep1-11", "entry.deleted", None),
    ]


@pytest.mark.parametrize(
    ("resume", "reason"),
    [("old-2", "history epoch changed"), ("not-an-id", "unknown event id")],
)
async def test_a_resume_from_another_epoch_or_a_bad_id_is_told_to_reload(
    open_channel, resume: str, reason: str
) -> None:
    store = FakeStore(offset=4)
    channel = open_channel(store)
    reader = await join(channel, resume)
    channel.receive(store.publish())
    await settled(channel)
    assert reader.resets == [("ep1-4", reason)]
    assert reader.ids == ["ep1-5"]


async def test_a_resume_with_a_hole_in_history_is_never_hidden(open_channel) -> None:
    store = FakeStore(offset=5)
    channel = open_channel(store)
    del store.log[3]  # offset 4 missing from what history returns
    reader = await join(channel, "ep1-1")
    assert reader.resets == [("ep1-5", "history incomplete")]
    assert reader.ids == ["ep1-2", "ep1-3"]


async def test_a_resume_with_a_hole_while_the_channel_fills_is_never_hidden(
    open_channel,
) -> None:
    store = FakeStore(offset=5)
    channel = open_channel(store)
    store.position_gate = asyncio.Event()
    channel.start_fill()  # as after a reconnect: the fill waits on the position
    store.log[3] = store.log[4]  # history from 1 reads 2, 3, 5, 5: offset 4 is missing
    reader = await join(channel, "ep1-1")
    assert reader.resets == [("ep1-5", "history incomplete")]
    store.position_gate.set()
    await settled(channel)
    channel.receive(store.publish())
    await settled(channel)
    assert reader.ids == ["ep1-2", "ep1-3", "ep1-6"]


async def test_a_resume_ahead_of_the_channel_waits_for_it(open_channel) -> None:
    """The reader saw 6 and 7 on another process; they have not reached this one yet. It gets
    neither again, then 8 live."""
    store = FakeStore(offset=5)
    channel = open_channel(store)
    late = [store.publish() for _ in range(2)]
    reader = await join(channel, "ep1-7")
    assert reader.events == [] and len(channel.waiting) == 1
    for frame in late:
        channel.receive(frame)
    channel.receive(store.publish())
    await settled(channel)
    assert reader.ids == ["ep1-8"]
    assert channel.live_count == 1 and not channel.waiting


async def test_a_resume_that_falls_too_far_behind_while_reading_is_dropped(open_channel) -> None:
    store = FakeStore(history_size=3, offset=2)
    channel = open_channel(store)
    joining = await resume_reading_history(channel, store, "ep1-1")
    for _ in range(4):  # more live events than it may hold while its history is read
        channel.receive(store.publish())
    await asyncio.sleep(0)
    store.history_gate.set()
    reader = await joining
    assert reader.conn.close_reason == "overflow"  # it resumes from its id later
    assert channel.readers == 0


async def test_a_reader_that_leaves_mid_resume_leaves_nothing_behind(open_channel) -> None:
    store = FakeStore(offset=5)
    channel = open_channel(store)
    joining = await resume_reading_history(channel, store, "ep1-1")
    store.failures = 1
    store.history_gate.set()
    with pytest.raises(EngineUnavailable):
        await joining
    assert channel.readers == 0
    assert channel.idle_since is not None  # the hub may close the channel


async def test_a_crowd_resuming_from_recent_frames_reads_no_history(open_channel) -> None:
    store = FakeStore(offset=5)
    channel = open_channel(store)
    for _ in range(3):
        channel.receive(store.publish())  # 6..8, delivered and kept as recent frames
    await settled(channel)
    crowd = [await join(channel, "ep1-6") for _ in range(20)]
    channel.receive(store.publish())
    await settled(channel)
    assert store.history_reads == 0
    for reader in crowd:
        assert reader.ids == ids("ep1", 7, 9)
        assert reader.resets == []
    assert channel.live_count == 20 and not channel.waiting


async def test_readers_resuming_from_one_id_share_a_history_read_and_miss_nothing(
    open_channel,
) -> None:
    """The second reader comes while the first one's read is in flight, after events that read
    does not have: it shares the read, and gets those events from the channel's recent frames."""
    store = FakeStore(offset=5)
    store.history_as_asked = True
    channel = open_channel(store)
    first = await resume_reading_history(channel, store, "ep1-2")  # history 3..5, as of now
    for _ in range(2):
        channel.receive(store.publish())  # 6 and 7: held for the first, not in its read
    await settled(channel)
    second = asyncio.create_task(join(channel, "ep1-2"))
    await asyncio.sleep(0)
    assert store.history_reads == 1 and len(channel.waiting) == 2
    store.history_gate.set()
    readers = [await first, await second]
    channel.receive(store.publish())
    await settled(channel)
    assert store.history_reads == 1
    for reader in readers:
        assert reader.ids == ids("ep1", 3, 8)
        assert reader.resets == []
    assert channel.live_count == 2 and not channel.waiting


async def test_readers_resuming_from_older_positions_share_the_events_their_reads_have_in_common(
    open_channel,
) -> None:
    """A crowd that loaded its pages moments apart resumes from as many positions, each a read
    of its own: an event both reads hold is encoded (and compressed) once, not once per read."""
    store = FakeStore(offset=5, history_size=64)
    channel = open_channel(store)
    for _ in range(RECENT_FRAMES + 5):
        channel.receive(store.publish())  # 6..26: ``recent`` keeps 11..26
    await settled(channel)
    first = await join(channel, "ep1-2")
    second = await join(channel, "ep1-4")
    await settled(channel)
    assert store.history_reads == 2
    assert first.ids == ids("ep1", 3, 26) and second.ids == ids("ep1", 5, 26)
    # Events 5..26 went to both as the very same bytes: one frame each, encoded once (5..10
    # from the first read, which the second shares).
    assert all(a is b for a, b in zip(first.conn.pending[2:], second.conn.pending, strict=True))

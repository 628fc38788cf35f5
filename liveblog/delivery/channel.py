"""One blog's delivery state machine: which readers get which event, in order, exactly once.

A channel knows the last offset it delivered (``offset``, in ``epoch``) and holds its readers in
two states:

- **live**: grouped by the encoding they take; each event is written to them as it comes.
- **waiting**: a reader that resumes from an event id reads history while live events go on;
  those are *held* for it, and merged by offset once its history is in. A reader whose cursor is
  ahead of the channel (it saw events on another process that have not arrived here yet) waits
  until the channel reaches it.

and the channel itself is either plainly live or **filling**: catching up with the engine (at
start, after a gap, a new epoch or a reconnect of the subscription). While it fills, live events
go to its *backlog* and are accepted in order afterwards. A gap that history cannot fill, or a
new epoch, sends ``reset`` to every reader: never a silent gap, never a reused offset.

The channel knows nothing of pub/sub or sockets: the hub hands it decoded :class:`Frame` s and
readers' connections, and it reads history and positions through :class:`ChannelStore`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from liveblog import events
from liveblog.delivery.connections import WS, Batch, Connection, Frame
from liveblog.engine.base import EngineError
from liveblog.models import Position
from liveblog.supervisor import Supervisor

logger = logging.getLogger("liveblog.delivery.channel")

DeliveryObserver = Callable[[Frame, int], None]
# A coalescing window holds events up to this many bytes, then writes at once: a write of this
# size already costs far more than the call it saves, and a reader's buffer bound must not be
# crossed by events it would have taken one by one (~16 events of a typical entry).
COALESCE_MAX_BYTES = 16 * 1024
# The last events delivered, kept so that readers resuming from them (a crowd coming back after
# a restart elsewhere) share their encoded and compressed bytes instead of encoding per reader.
RECENT_FRAMES = 16
# The last events read from history, kept likewise: a crowd that loaded its page a few seconds
# ago resumes from positions just older than ``recent`` reaches, each a read of its own, and
# would otherwise compress the same events once per read (~4% of a flash crowd's CPU).
EARLIER_FRAMES = 32


class ChannelStore(Protocol):
    """What a channel reads from the engine (``liveblog.engine.base.Engine`` provides it)."""

    history_size: int

    async def position(self, slug: str) -> Position | None: ...

    async def history(self, slug: str, after: int) -> list[bytes] | None: ...

    async def renew_epoch(self, slug: str, seen: Position) -> Position | None: ...


class HubStats:
    """Counters of the fan-out for /metrics and /api/stats (read, never reset)."""

    __slots__ = (
        "deliveries", "dropped", "events", "reconnects", "resets", "resumes", "unresponsive",
        "write_errors", "writes",
    )  # fmt: skip

    def __init__(self) -> None:
        self.events = 0
        self.deliveries = 0
        self.dropped = 0
        self.unresponsive = 0
        self.write_errors = 0  # writes that found the reader's socket gone
        self.writes = 0  # writes of events to live readers (a burst takes one per reader)
        self.resumes = 0
        self.resets = 0
        self.reconnects = 0


class Resume:
    """One reader catching up on one blog: not (yet) plainly live."""

    __slots__ = ("channel", "conn", "cursor", "held")

    def __init__(self, channel: Channel, conn: Connection) -> None:
        self.channel = channel
        self.conn = conn
        self.cursor = 0  # last offset this reader has
        self.held: list[Frame] | None = []  # live frames kept while history is being read


class Channel:
    __slots__ = (
        "backlog", "closed", "earlier", "epoch", "filling", "idle_since", "last_flush", "live",
        "observers", "offset", "pending", "pending_bytes", "reads", "recent", "slug", "stale",
        "stats", "store", "supervisor", "waiting", "window",
    )  # fmt: skip

    def __init__(
        self,
        slug: str,
        store: ChannelStore,
        *,
        stats: HubStats,
        supervisor: Supervisor,
        observers: list[DeliveryObserver],
        window: float = 0.0,
    ) -> None:
        self.slug = slug
        self.store = store
        self.stats = stats
        self.supervisor = supervisor
        self.observers = observers  # shared with the hub: told of each write to live readers
        self.epoch = ""
        self.offset = 0  # last offset delivered to live readers
        # Live readers by the Frame encoding they take; each an insertion-ordered set.
        self.live: dict[str, dict[Connection, None]] = {}
        self.waiting: set[Resume] = set()  # readers catching up or ahead of the channel
        self.filling = True  # frames go to the backlog until the position is known
        self.backlog: list[Frame] = []
        # Frames delivered and not yet written to live readers: written together, at the end
        # of this loop turn, or of the coalescing window when the blog is busy (_deliver).
        self.pending: list[Frame] = []
        self.pending_bytes = 0
        self.recent: dict[int, Frame] = {}  # the last RECENT_FRAMES delivered, by offset
        self.earlier: dict[int, Frame] = {}  # the last EARLIER_FRAMES read, by offset
        # History reads in flight, by (epoch, offset read after): readers resuming from the
        # same id (a crowd opening its streams from the page it loaded) share one.
        self.reads: dict[tuple[str, int], asyncio.Future[list[Frame] | None]] = {}
        self.window = window
        self.last_flush = float("-inf")  # loop time of the last write to live readers
        self.stale = False  # something changed during a fill: fill once more
        self.closed = False  # the hub dropped this channel: fills stop
        self.idle_since: float | None = None

    @property
    def position(self) -> Position:
        return Position(self.epoch, self.offset)

    @property
    def live_count(self) -> int:
        return sum(map(len, self.live.values()))

    @property
    def readers(self) -> int:
        return self.live_count + len(self.waiting)

    def start(self, position: Position) -> None:
        """The engine's position, read after subscribing: deliver from here."""
        self.epoch, self.offset = position.epoch, position.offset
        self._finish_fill()

    # --- readers --------------------------------------------------------------------------

    async def add(self, conn: Connection, resume: str | None) -> None:
        """Join ``conn``: from ``resume`` (an event id) or from now. When this returns, every
        later event reaches it. Raises what the engine raises, with nothing added."""
        position = Position.parse(resume) if resume else None
        if position is None:
            if resume:
                self._reset_one(conn, "unknown event id")
            self._go_live(conn)
            return

        self.stats.resumes += 1
        if position.epoch != self.epoch:
            self._reset_one(conn, "history epoch changed")
            self._go_live(conn)
            return
        if position.offset == self.offset and not self.filling:
            self._go_live(conn)
            return
        if not self.filling and self._catch_up_from_recent(conn, position.offset):
            return

        sub = Resume(self, conn)
        conn.subs[self.slug] = sub
        self.waiting.add(sub)
        try:
            history = await self._history(position.offset)
        except BaseException:
            self._drop_resume(sub)
            raise
        if conn.close_reason is not None or sub not in self.waiting:
            return  # gone, or told to reload by a reset while it read (it is live now)
        self._merge(sub, position.offset, history)

    def _catch_up_from_recent(self, conn: Connection, after: int) -> bool:
        """Send the reader what it missed from the frames this channel delivered last, then
        make it live: no engine read. False when they do not reach back to ``after``."""
        if not after < self.offset <= after + len(self.recent):
            return False
        missed = []
        for offset in range(after + 1, self.offset + 1):
            frame = self.recent.get(offset)
            if frame is None:
                return False
            missed.append(frame)
        for frame in missed:
            conn.send_history(frame)
        self._go_live(conn)
        return True

    async def _history(self, after: int) -> list[Frame] | None:
        """The history after ``after``: one read for every reader that asks while it is in
        flight, its events decoded into frames once for all of them (each encoded and
        compressed once, when a reader first takes that form). It may have begun before a
        reader came; ``_merge`` bridges what the channel delivered since from ``recent``."""
        key = (self.epoch, after)
        flight = self.reads.get(key)
        if flight is None:
            # A task of its own: a reader that goes away does not cancel it for the others.
            flight = asyncio.ensure_future(self._read_frames(after))
            self.reads[key] = flight
            flight.add_done_callback(lambda done: self._read_landed(key, done))
        return await asyncio.shield(flight)

    async def _read_frames(self, after: int) -> list[Frame] | None:
        history = await self.store.history(self.slug, after)
        return None if history is None else [self._shared(Frame(raw)) for raw in history]

    def _read_landed(self, key: tuple[str, int], done: asyncio.Future[list[Frame] | None]) -> None:
        if self.reads.get(key) is done:
            del self.reads[key]
        if not done.cancelled():
            done.exception()  # retrieved here too: every reader may have gone away

    def remove(self, conn: Connection) -> None:
        group = self.live.get(conn.encoding)
        if group is not None:
            group.pop(conn, None)
        sub = conn.subs.get(self.slug)
        if sub is not None:
            self._drop_resume(sub)
        self._mark_idle()

    def _merge(self, sub: Resume, after: int, history: list[Frame] | None) -> None:
        """Hand a resuming reader its history, then what the channel held for it, in order."""
        conn = sub.conn
        sub.cursor = after
        if history is None:
            # Older than the history window: the reader must reload its timeline.
            self._reset_one(conn, "history window exceeded")
            sub.cursor = self.offset
        else:
            for frame in history:
                if frame.offset == sub.cursor + 1:
                    conn.send_history(frame)
                    sub.cursor = frame.offset
            if sub.cursor < after + len(history):
                # The history did not continue where the reader stopped: never hide a gap.
                self._reset_one(conn, "history incomplete")
                sub.cursor = self.offset
            # A shared read may have begun before this reader came: what the channel
            # delivered in between is neither in it nor held, but still in ``recent``.
            while sub.cursor < self.offset:
                bridge = self.recent.get(sub.cursor + 1)
                if bridge is None:
                    break
                conn.send_history(bridge)
                sub.cursor = bridge.offset
        held, sub.held = sub.held or [], None
        for frame in held:
            self._offer(sub, frame)
        if sub.cursor < self.offset and not self.filling:
            self._reset_one(conn, "history incomplete")
            sub.cursor = self.offset
        if sub.cursor == self.offset and sub in self.waiting:
            self._promote(sub)
        # else: the reader is ahead of this process's channel (it saw events that have not
        # arrived here yet); it stays waiting and joins when the channel reaches its cursor.

    def _shared(self, frame: Frame) -> Frame:
        """The frame of that event this channel already delivered or read, when it still has
        it (with the encoded and compressed forms made so far); else ``frame``, kept."""
        offset = frame.offset
        known = self.recent.get(offset) or self.earlier.get(offset)
        if known is not None and known.epoch == frame.epoch:
            return known
        earlier = self.earlier
        earlier[offset] = frame
        if len(earlier) > EARLIER_FRAMES:
            del earlier[next(iter(earlier))]
        return frame

    def _offer(self, sub: Resume, frame: Frame) -> None:
        if sub.held is not None:
            if len(sub.held) >= self.store.history_size:
                sub.conn.close("overflow")  # it resumes from its id, on a calmer moment
            else:
                sub.held.append(frame)
            return
        if frame.offset == sub.cursor + 1:
            sub.conn.send(frame)
            sub.cursor = frame.offset
        # A reader ahead of the channel joins when the channel reaches it, not before: the
        # events between would reach it twice.
        if sub.cursor == self.offset:
            self._promote(sub)

    def _promote(self, sub: Resume) -> None:
        self.waiting.discard(sub)
        sub.conn.subs.pop(self.slug, None)
        self._go_live(sub.conn)

    def _go_live(self, conn: Connection) -> None:
        if self.pending:
            self._flush()  # those frames are the live readers' so far, not this one's
        self.live.setdefault(conn.encoding, {})[conn] = None
        self.idle_since = None

    def _drop_resume(self, sub: Resume) -> None:
        self.waiting.discard(sub)
        sub.conn.subs.pop(self.slug, None)
        self._mark_idle()

    def _mark_idle(self) -> None:
        if self.readers == 0 and self.idle_since is None:
            self.idle_since = asyncio.get_running_loop().time()

    def _reset_one(self, conn: Connection, reason: str) -> None:
        self.stats.resets += 1
        conn.send(Frame(events.reset_event(self.slug, self.position, reason)))

    # --- live events ----------------------------------------------------------------------

    def receive(self, frame: Frame) -> None:
        """A live event from pub/sub. An unexpected error is contained to this blog."""
        try:
            self.accept(frame)
        except Exception as exc:
            self._recover(exc)

    def accept(self, frame: Frame) -> None:
        if self.filling:
            if len(self.backlog) >= self.store.history_size:
                # Too much to hold: forget it and read it all from history after this fill.
                self.backlog.clear()
                self.stale = True
            else:
                self.backlog.append(frame)
            return
        if frame.epoch == self.epoch:
            if frame.offset <= self.offset:
                return  # already delivered (history overlap or a duplicate)
            if frame.offset == self.offset + 1:
                self._deliver(frame)
                return
        # A gap, or a new epoch: hold this frame and catch up from the engine.
        self.backlog.append(frame)
        self.start_fill()

    def _recover(self, exc: Exception) -> None:
        """An unexpected error mid fan-out: which readers got the event is unknown, so every
        reader of the blog is told to resume from its own last event id (nothing lost, nothing
        doubled), and the channel catches up with the engine."""
        self.supervisor.failed("deliver", exc)
        for conn in [*(c for group in self.live.values() for c in group)]:
            conn.close("error")
        for sub in list(self.waiting):
            sub.conn.close("error")
        self.stale = True
        self.start_fill()

    def _deliver(self, frame: Frame) -> None:
        self.offset = frame.offset
        recent = self.recent
        recent[frame.offset] = frame
        if len(recent) > RECENT_FRAMES:
            del recent[next(iter(recent))]
        # Coalescing: pending frames reach each live reader in ONE write, joined once per
        # encoding: those of one loop turn (a burst from pub/sub, a catch-up from history),
        # and, on a blog busier than one event per ``window``, those of the window: the first
        # event after a quiet spell goes out at once, later ones wait at most ``window``.
        held = self.pending_bytes
        self.pending.append(frame)
        self.pending_bytes += frame.size
        loop = asyncio.get_running_loop()
        if held < COALESCE_MAX_BYTES <= self.pending_bytes:
            loop.call_soon(self._flush)  # enough held: out at this turn's end
        elif not held:  # the first pending frame sets when they go
            due = self.last_flush + self.window
            if due <= loop.time():
                loop.call_soon(self._flush)
            else:
                loop.call_at(due, self._flush)
        if self.waiting:
            for sub in list(self.waiting):
                self._offer(sub, frame)

    def _flush(self) -> None:
        """Write the pending frames to the live readers."""
        frames, self.pending, self.pending_bytes = self.pending, [], 0
        if not frames:
            return
        self.last_flush = asyncio.get_running_loop().time()
        stats = self.stats
        delivered = 0
        # What every encoding's readers get, made once for all of them: one frame's bytes, or
        # the batch's (SSE chunks and WebSocket frames concatenate into one valid stream; a
        # compressed SSE batch is deflated as one text).
        source: Frame | Batch = frames[0] if len(frames) == 1 else Batch(frames)
        for encoding, group in self.live.items():
            if not group:
                continue
            if encoding == WS and len(frames) > 1:  # the plain path's text messages: one each
                self._write_each(group, [f.ws for f in frames])
                delivered += len(group)
                continue
            payload = getattr(source, encoding)
            for conn in group:
                try:  # free until it raises (Python >= 3.11)
                    conn.write(payload)  # on the fast path: the socket's transport.write
                except Exception:
                    # Its socket is gone: this reader leaves (just after this loop), the
                    # others go on.
                    stats.write_errors += 1
                    conn.lost()
            delivered += len(group)
        if delivered:
            stats.deliveries += delivered * len(frames)
            stats.writes += delivered
            for observer in self.observers:
                try:
                    for frame in frames:
                        observer(frame, delivered)
                except Exception as exc:  # an observer's bug must not stop delivery
                    self.supervisor.failed("deliver", exc)

    def _write_each(self, group: dict[Connection, None], payloads: list[str]) -> None:
        for conn in group:
            try:
                for payload in payloads:
                    conn.write(payload)
            except Exception:
                self.stats.write_errors += 1
                conn.lost()

    # --- catching up with the engine ------------------------------------------------------

    def start_fill(self) -> None:
        """Catch up with the engine; one fill at a time."""
        if self.filling:  # a fill (or the first position read) is under way: once more
            self.stale = True
            return
        self.filling = True
        self.supervisor.spawn("fill", self._fill())

    async def _fill(self) -> None:
        """Fill from history up to the engine's position, or reset; retry until it works."""
        delay = 0.05
        while not self.closed:
            self.stale = False
            try:
                await self._fill_once()
            except Exception as exc:
                if isinstance(exc, EngineError):
                    logger.warning("catch-up of %s failed (%s); retrying", self.slug, exc)
                else:
                    self.supervisor.failed("fill", exc)
                self.stale = True
                pause, delay = self.supervisor.backoff(delay)
                await asyncio.sleep(pause)
            if not self.stale:
                break
        self._finish_fill()

    async def _fill_once(self) -> None:
        position = await self.store.position(self.slug)
        if position is None:
            return  # the blog is gone; nothing more will come
        if position.epoch == self.epoch and position.offset < self.offset:
            # The store is behind what this process delivered: it lost events (a crash
            # between fsyncs) and would hand their offsets out again. A new epoch makes every
            # reader, here and on other processes, reload instead of trusting old ids.
            position = await self.store.renew_epoch(self.slug, self.position)
            if position is None:
                return
        if position.epoch != self.epoch:
            self._reset_all(position, "history epoch changed")
        elif position.offset > self.offset:
            history = await self.store.history(self.slug, self.offset)
            for frame in map(Frame, history or []):
                if frame.offset == self.offset + 1:
                    self._deliver(frame)
            if self.offset < position.offset:
                self._reset_all(position, "history window exceeded")

    def _finish_fill(self) -> None:
        if self.closed:  # nobody reads here any more: nothing to deliver, nothing to fill
            self.backlog.clear()
            return
        if self.stale:  # something changed while we read: go again before going live
            self.supervisor.spawn("fill", self._fill())
            return
        self.filling = False
        backlog, self.backlog = self.backlog, []
        for frame in backlog:
            self.accept(frame)

    def _reset_all(self, position: Position, reason: str) -> None:
        """The gap cannot be filled: every reader reloads its timeline from ``position``."""
        self._flush()  # what was delivered before the gap goes first
        self.epoch, self.offset = position.epoch, position.offset
        self.recent.clear()
        self.earlier.clear()
        frame = Frame(events.reset_event(self.slug, position, reason))
        self.stats.resets += self.readers
        for group in self.live.values():
            for conn in group:
                conn.send(frame)
        for sub in list(self.waiting):
            sub.conn.send(frame)
            sub.cursor = position.offset
            sub.held = None
            self._promote(sub)

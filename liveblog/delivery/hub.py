"""Per-process fan-out: one engine subscription per blog that has readers here.

The hot path: an event arrives once from pub/sub, is decoded and encoded ONCE into the bytes of
each transport (:class:`Frame`), and each reader gets those shared bytes with one call to its
``write`` (on the fast path, its socket's own ``transport.write``). Readers are grouped by the
encoding they take, so the loop per reader is that one call. A reader whose buffer passes its
bound is closed; it resumes by its last event id.

Ordering and gaps (docs/design.md guarantee 1): a channel knows the last offset it delivered. A live
event that is not ``last + 1`` is a gap, filled from the engine's history before anything later
is delivered; a gap that cannot be filled sends ``reset``. Every reconnect of the subscription is
treated as a possible gap. A reader that resumes from an id reads history after it has joined the
channel and holds live events meanwhile, then merges by offset: nothing lost, nothing doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import msgspec

from liveblog import events
from liveblog.delivery.connections import WS, Connection, DirectConnection, Frame
from liveblog.engine.base import BlogNotFound, Engine, EngineError, EngineUnavailable, Subscription
from liveblog.models import Position, is_newsroom_channel, is_slug
from liveblog.ops.supervisor import Supervisor

logger = logging.getLogger("liveblog.delivery.hub")


class _Sub:
    """One connection's interest in one blog while it is not (yet) plainly live."""

    __slots__ = ("channel", "conn", "cursor", "held")

    def __init__(self, channel: _Channel, conn: Connection) -> None:
        self.channel = channel
        self.conn = conn
        self.cursor = 0  # last offset this reader has
        self.held: list[Frame] | None = []  # live frames kept while history is being read


class _Channel:
    __slots__ = (
        "backlog", "epoch", "filling", "idle_since", "live", "offset", "pending", "ready", "slug",
        "stale", "waiting",
    )  # fmt: skip

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.epoch = ""
        self.offset = 0  # last offset delivered to live readers
        # Live readers by the Frame encoding they take; each an insertion-ordered set.
        self.live: dict[str, dict[Connection, None]] = {}
        self.waiting: set[_Sub] = set()  # readers catching up or ahead of the channel
        self.filling = True  # frames go to the backlog until the position is known
        self.backlog: list[Frame] = []
        # Frames delivered this loop turn, written to live readers together at its end.
        self.pending: list[Frame] = []
        self.stale = False
        self.ready: asyncio.Task[None] | None = None
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


class HubStats:
    """Counters the hub keeps for /metrics and /api/stats (read, never reset)."""

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


class Hub:
    def __init__(
        self,
        engine: Engine,
        *,
        buffer_bytes: int = 512 * 1024,
        heartbeat_seconds: float = 15.0,
        channel_linger_seconds: float = 30.0,
        drop_grace_seconds: float = 10.0,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.engine = engine
        self.supervisor = supervisor or Supervisor()
        self.buffer_bytes = buffer_bytes
        self.heartbeat_seconds = heartbeat_seconds
        self.channel_linger_seconds = channel_linger_seconds
        self.drop_grace_seconds = drop_grace_seconds
        self.stats = HubStats()
        self.channels: dict[str, _Channel] = {}
        self.connections: set[Connection] = set()
        self.connected = asyncio.Event()
        # Told of each event fanned out to live readers, with how many (metrics listen here).
        self.deliver_observers: tuple[Callable[[Frame, int], None], ...] = ()
        self._subscription: Subscription | None = None
        self._sub_lock = asyncio.Lock()
        self._closing = False
        self.connected_once = False

    def observe_deliveries(self, observer: Callable[[Frame, int], None]) -> None:
        self.deliver_observers = (*self.deliver_observers, observer)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        # Both loops survive any error (the supervisor logs, counts and restarts them), and
        # delivery depends on both: /readyz fails while either is not running.
        self.supervisor.loop("subscription", self._subscription_loop, critical=True)
        self.supervisor.loop("housekeeping", self._housekeeping_loop, critical=True)

    async def close(self) -> None:
        """Tell every reader to come back (they resume by id), then stop."""
        self._closing = True
        self.shutdown_readers()
        await self.supervisor.close()

    def shutdown_readers(self) -> None:
        for conn in list(self.connections):
            conn.close("shutdown")

    @property
    def healthy(self) -> bool:
        """Delivery can run: the subscription is up and no loop it depends on is down."""
        return self.connected.is_set() and not self.supervisor.down

    # --- readers --------------------------------------------------------------------------

    def connection(self, kind: str, *, direct: object = None, watcher: bool = False) -> Connection:
        """A new reader connection: on the fast path when ``direct`` (the protocol that
        ``liveblog.delivery.fastpath`` puts in the scope) is given."""
        if direct is not None:
            conn: Connection = DirectConnection(
                kind, self.buffer_bytes, direct, grace=self.drop_grace_seconds, watcher=watcher
            )
        else:
            conn = Connection(kind, self.buffer_bytes, watcher=watcher)
        conn.on_close = self.detach  # a closed reader leaves every channel at once
        self.connections.add(conn)
        return conn

    async def attach(
        self, conn: Connection, slug: str, resume: str | None, *, newsroom: bool = False
    ) -> None:
        """Join ``conn`` to a blog; from ``resume`` (an event id) or from now.

        When this returns, every later event of the blog reaches ``conn``. Raises
        EngineUnavailable or BlogNotFound, with nothing attached.
        """
        if slug in conn.blogs:
            return
        # A blog's newsroom stream ("<slug>~newsroom") only for the authenticated endpoint.
        if not (is_newsroom_channel(slug) if newsroom else is_slug(slug)):
            raise BlogNotFound(slug[:64])  # no such blog can exist: ask the engine nothing
        channel = await self._open_channel(slug)
        if conn.close_reason is not None or slug in conn.blogs:
            return
        conn.blogs.add(slug)
        position = Position.parse(resume) if resume else None
        if position is None:
            if resume:
                self._reset_one(conn, channel, "unknown event id")
            self._go_live(conn, channel)
            return

        self.stats.resumes += 1
        if position.epoch != channel.epoch:
            self._reset_one(conn, channel, "history epoch changed")
            self._go_live(conn, channel)
            return
        if position.offset == channel.offset and not channel.filling:
            self._go_live(conn, channel)
            return

        sub = _Sub(channel, conn)
        conn.subs[slug] = sub
        channel.waiting.add(sub)
        try:
            history = await self.engine.history(slug, position.offset)
        except BaseException:
            self._drop_sub(sub)
            conn.blogs.discard(slug)
            raise
        if conn.close_reason is not None:
            return
        self._merge(sub, position.offset, history)

    def _merge(self, sub: _Sub, after: int, history: list[bytes] | None) -> None:
        """Hand a resuming reader its history, then what the channel held for it, in order."""
        channel, conn = sub.channel, sub.conn
        sub.cursor = after
        if history is None:
            # Older than the history window: the reader must reload its timeline.
            self._reset_one(conn, channel, "history window exceeded")
            sub.cursor = channel.offset
        else:
            for raw in history:
                frame = Frame(raw)
                if frame.offset == sub.cursor + 1:
                    conn.send_history(frame)
                    sub.cursor = frame.offset
            if sub.cursor < after + len(history):
                # The history did not continue where the reader stopped: never hide a gap.
                self._reset_one(conn, channel, "history incomplete")
                sub.cursor = channel.offset
        held, sub.held = sub.held or [], None
        for frame in held:
            self._offer(sub, frame)
        if sub.cursor < channel.offset and not channel.filling:
            self._reset_one(conn, channel, "history incomplete")
            sub.cursor = channel.offset
        if sub.cursor == channel.offset and sub in channel.waiting:
            self._promote(sub)
        # else: the reader is ahead of this process's channel (it saw events that have not
        # arrived here yet); it stays waiting and joins when the channel reaches its cursor.

    def _offer(self, sub: _Sub, frame: Frame) -> None:
        if sub.held is not None:
            if len(sub.held) >= self.engine.history_size:
                sub.conn.close("overflow")  # it resumes from its id, on a calmer moment
            else:
                sub.held.append(frame)
            return
        if frame.offset == sub.cursor + 1:
            sub.conn.send(frame)
            sub.cursor = frame.offset
        if sub.cursor >= sub.channel.offset:
            self._promote(sub)

    def _promote(self, sub: _Sub) -> None:
        sub.channel.waiting.discard(sub)
        sub.conn.subs.pop(sub.channel.slug, None)
        self._go_live(sub.conn, sub.channel)

    def _go_live(self, conn: Connection, channel: _Channel) -> None:
        if channel.pending:
            self._flush(channel)  # those frames are the live readers' so far, not this one's
        channel.live.setdefault(conn.encoding, {})[conn] = None
        channel.idle_since = None

    def _drop_sub(self, sub: _Sub) -> None:
        sub.channel.waiting.discard(sub)
        sub.conn.subs.pop(sub.channel.slug, None)
        self._mark_idle(sub.channel)

    def detach(self, conn: Connection, slug: str | None = None) -> None:
        """Remove a connection from one blog, or from all of them and the hub."""
        slugs = [slug] if slug is not None else list(conn.blogs)
        for name in slugs:
            conn.blogs.discard(name)
            channel = self.channels.get(name)
            if channel is None:
                continue
            group = channel.live.get(conn.encoding)
            if group is not None:
                group.pop(conn, None)
            sub = conn.subs.get(name)
            if sub is not None:
                self._drop_sub(sub)
            self._mark_idle(channel)
        if slug is None and conn in self.connections:
            self.connections.discard(conn)
            if conn.close_reason == "overflow":
                self.stats.dropped += 1
            elif conn.close_reason == "unresponsive":
                self.stats.unresponsive += 1

    def _mark_idle(self, channel: _Channel) -> None:
        if channel.readers == 0 and channel.idle_since is None:
            channel.idle_since = asyncio.get_running_loop().time()

    def _reset_one(self, conn: Connection, channel: _Channel, reason: str) -> None:
        self.stats.resets += 1
        conn.send(Frame(events.reset_event(channel.slug, channel.position, reason)))

    # --- channels -------------------------------------------------------------------------

    async def _open_channel(self, slug: str) -> _Channel:
        channel = self.channels.get(slug)
        if channel is None:
            channel = self.channels[slug] = _Channel(slug)
            channel.ready = asyncio.create_task(self._init_channel(channel))
        assert channel.ready is not None
        await asyncio.shield(channel.ready)
        return channel

    async def _init_channel(self, channel: _Channel) -> None:
        """Subscribe and read the position; on any failure, leave nothing behind."""
        subscribed = False
        try:
            # A blog that does not exist costs one read and no subscription.
            if await self.engine.position(channel.slug) is None:
                raise BlogNotFound(channel.slug)
            # Subscribe first, then read the position: an event published in between
            # arrives live with an offset above the position and is kept; one below is a
            # duplicate.
            while True:
                await self._wait_connected()
                async with self._sub_lock:
                    subscription = self._subscription
                    if subscription is not None:
                        subscribed = True
                        await subscription.subscribe(channel.slug)
                        break
            await subscription.confirm()
            position = await self.engine.position(channel.slug)
            if position is None:
                raise BlogNotFound(channel.slug)
        except BaseException:
            if self.channels.get(channel.slug) is channel:
                del self.channels[channel.slug]
            if subscribed:
                await self._unsubscribe(channel.slug)
            raise
        channel.epoch, channel.offset = position.epoch, position.offset
        self._finish_fill(channel)

    async def _unsubscribe(self, slug: str) -> None:
        """Drop the engine subscription of a blog, unless a channel for it is open again."""
        async with self._sub_lock:
            if self._subscription is not None and slug not in self.channels:
                with contextlib.suppress(EngineError):
                    await self._subscription.unsubscribe(slug)

    async def _wait_connected(self) -> None:
        try:
            async with asyncio.timeout(5.0):
                await self.connected.wait()
        except TimeoutError:
            raise EngineUnavailable("the event subscription is down") from None

    def _on_message(self, slug: str, message: bytes) -> None:
        channel = self.channels.get(slug)
        if channel is None:
            return
        try:
            published, _, raw = message.partition(b" ")
            frame = Frame(raw, float(published))
        except (msgspec.DecodeError, ValueError):
            logger.exception("dropping a malformed event on %s", slug)
            return
        self.stats.events += 1
        try:
            self._accept(channel, frame)
        except Exception as exc:
            self._recover(channel, exc)

    def _recover(self, channel: _Channel, exc: Exception) -> None:
        """An unexpected error mid fan-out: which readers got the event is unknown, so every
        reader of the blog is told to resume from its own last event id (nothing lost, nothing
        doubled), and the channel catches up with the engine."""
        self.supervisor.failed("deliver", exc)
        for conn in [*(c for group in channel.live.values() for c in group)]:
            conn.close("error")
        for sub in list(channel.waiting):
            sub.conn.close("error")
        channel.stale = True
        self._start_fill(channel)

    def _accept(self, channel: _Channel, frame: Frame) -> None:
        if channel.filling:
            if len(channel.backlog) >= self.engine.history_size:
                # Too much to hold: forget it and read it all from history after this fill.
                channel.backlog.clear()
                channel.stale = True
            else:
                channel.backlog.append(frame)
            return
        if frame.epoch == channel.epoch:
            if frame.offset <= channel.offset:
                return  # already delivered (history overlap or a duplicate)
            if frame.offset == channel.offset + 1:
                self._deliver(channel, frame)
                return
        # A gap, or a new epoch: hold this frame and catch up from the engine.
        channel.backlog.append(frame)
        self._start_fill(channel)

    def _deliver(self, channel: _Channel, frame: Frame) -> None:
        channel.offset = frame.offset
        # Coalescing: frames of one loop turn (a burst from pub/sub, a catch-up from history)
        # reach each live reader in ONE write at the turn's end, joined once per encoding.
        channel.pending.append(frame)
        if len(channel.pending) == 1:
            asyncio.get_running_loop().call_soon(self._flush, channel)
        if channel.waiting:
            for sub in list(channel.waiting):
                self._offer(sub, frame)

    def _flush(self, channel: _Channel) -> None:
        """Write the channel's pending frames to its live readers."""
        frames, channel.pending = channel.pending, []
        if not frames:
            return
        delivered = 0
        for encoding, group in channel.live.items():
            if not group:
                continue
            if len(frames) == 1:
                payload = getattr(frames[0], encoding)
            elif encoding == WS:  # the plain path's text messages: one message per event
                self._write_each(group, [f.ws for f in frames])
                delivered += len(group)
                continue
            else:  # SSE chunks and WebSocket frames concatenate into one valid stream
                payload = b"".join([getattr(f, encoding) for f in frames])
            for conn in group:
                try:  # free until it raises (Python >= 3.11)
                    conn.write(payload)  # on the fast path: the socket's transport.write
                except Exception:
                    # Its socket is gone: this reader leaves (just after this loop), the
                    # others go on.
                    self.stats.write_errors += 1
                    conn.lost()
            delivered += len(group)
        if delivered:
            self.stats.deliveries += delivered * len(frames)
            self.stats.writes += delivered
            for observer in self.deliver_observers:
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

    def _start_fill(self, channel: _Channel) -> None:
        """Catch a channel up with the engine; one fill at a time per channel."""
        if channel.filling:  # a fill (or the first position read) is under way: once more
            channel.stale = True
            return
        channel.filling = True
        self.supervisor.spawn("fill", self._fill(channel))

    async def _fill(self, channel: _Channel) -> None:
        """Fill from history up to the engine's position, or reset; retry until it works."""
        delay = 0.05
        while self.channels.get(channel.slug) is channel and not self._closing:
            channel.stale = False
            try:
                await self._fill_once(channel)
            except Exception as exc:
                if isinstance(exc, EngineError):
                    logger.warning("catch-up of %s failed (%s); retrying", channel.slug, exc)
                else:
                    self.supervisor.failed("fill", exc)
                channel.stale = True
                pause, delay = self.supervisor.backoff(delay)
                await asyncio.sleep(pause)
            if not channel.stale:
                break
        self._finish_fill(channel)

    async def _fill_once(self, channel: _Channel) -> None:
        position = await self.engine.position(channel.slug)
        if position is None:
            return  # the blog is gone; nothing more will come
        if position.epoch == channel.epoch and position.offset < channel.offset:
            # The store is behind what this process delivered: it lost events (a crash
            # between fsyncs) and would hand their offsets out again. A new epoch makes every
            # reader, here and on other processes, reload instead of trusting old ids.
            position = await self.engine.renew_epoch(channel.slug, channel.position)
            if position is None:
                return
        if position.epoch != channel.epoch:
            self._reset_channel(channel, position, "history epoch changed")
        elif position.offset > channel.offset:
            history = await self.engine.history(channel.slug, channel.offset)
            for frame in map(Frame, history or []):
                if frame.offset == channel.offset + 1:
                    self._deliver(channel, frame)
            if channel.offset < position.offset:
                self._reset_channel(channel, position, "history window exceeded")

    def _finish_fill(self, channel: _Channel) -> None:
        if channel.stale:  # something changed while we read: go again before going live
            self.supervisor.spawn("fill", self._fill(channel))
            return
        channel.filling = False
        backlog, channel.backlog = channel.backlog, []
        for frame in backlog:
            self._accept(channel, frame)

    def _reset_channel(self, channel: _Channel, position: Position, reason: str) -> None:
        """The gap cannot be filled: every reader reloads its timeline from ``position``."""
        self._flush(channel)  # what was delivered before the gap goes first
        channel.epoch, channel.offset = position.epoch, position.offset
        raw = events.reset_event(channel.slug, position, reason)
        frame = Frame(raw)
        self.stats.resets += channel.readers
        for group in channel.live.values():
            for conn in group:
                conn.send(frame)
        for sub in list(channel.waiting):
            sub.conn.send(frame)
            sub.cursor = position.offset
            sub.held = None
            self._promote(sub)

    # --- the engine subscription ----------------------------------------------------------

    async def _subscription_loop(self) -> None:
        """Keep one pub/sub connection up; after every reconnect, fill every channel's gap.

        Engine errors are expected (Redis restarts) and handled here; anything else ends
        this call, and the supervisor logs it and runs it again (a reconnect, with fills)."""
        delay = 0.05
        first = not self.connected_once
        while not self._closing:
            subscription = self.engine.subscription(self._on_message)
            runner: asyncio.Task[None] | None = None
            try:
                async with self._sub_lock:
                    for slug in list(self.channels):
                        await subscription.subscribe(slug)
                    runner = asyncio.create_task(subscription.run())
                    self._subscription = subscription
                    # Every subscribe is in effect before we say "up" and read positions.
                    await subscription.confirm()
                self.connected.set()
                self.connected_once = True
                if not first:
                    self.stats.reconnects += 1
                    logger.warning("event subscription restored; filling gaps")
                    for channel in list(self.channels.values()):
                        self._start_fill(channel)
                first = False
                delay = 0.05
                await runner
            except EngineError as exc:
                logger.warning("event subscription down: %s", exc)
            finally:
                self.connected.clear()
                self._subscription = None
                if runner is not None:
                    runner.cancel()
                    with contextlib.suppress(BaseException):
                        await runner
                await subscription.close()
            first = False
            # Backoff with jitter, so many processes do not reconnect in lockstep.
            pause, delay = self.supervisor.backoff(delay)
            await asyncio.sleep(pause)

    async def _housekeeping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            await self.housekeeping()

    async def housekeeping(self) -> None:
        """Heartbeats (closing WebSockets that stopped answering), then idle channels."""
        # A copy: a heartbeat may close a connection, which leaves the set at once.
        for conn in list(self.connections):
            conn.heartbeat()
        now = asyncio.get_running_loop().time()
        for channel in list(self.channels.values()):
            idle = channel.idle_since
            if idle is not None and now - idle > self.channel_linger_seconds:
                await self._close_channel(channel)

    async def _close_channel(self, channel: _Channel) -> None:
        if self.channels.get(channel.slug) is not channel or channel.readers:
            return
        del self.channels[channel.slug]
        await self._unsubscribe(channel.slug)

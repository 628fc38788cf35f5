"""Per-process fan-out: one engine subscription per blog that has readers here.

The hot path: an event arrives once from pub/sub, is decoded and encoded ONCE into the bytes of
each transport and compression its readers take (:class:`Frame`, each form made when a reader
first needs it), and handed to the blog's :class:`Channel`
(``liveblog.delivery.channel``), whose state machine delivers it in order to each reader with
one call to its ``write`` (on the fast path, its socket's own ``transport.write``).

The hub owns what is process-wide: the channels by blog, the readers' connections, the ONE
engine subscription (kept up by the subscription loop, which after every reconnect has each
channel catch up, as any reconnect may hide a gap) and housekeeping (heartbeats, closing
channels idle for a while).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import msgspec

from liveblog import events
from liveblog.delivery.channel import Channel, DeliveryObserver, HubStats
from liveblog.delivery.connections import Connection, DirectConnection, Frame
from liveblog.delivery.rights import Grant, Rights
from liveblog.engine.base import (
    TOKEN_CHANGES,
    BlogNotFound,
    Engine,
    EngineError,
    EngineUnavailable,
    Subscription,
)
from liveblog.models import is_newsroom_channel, is_slug, split_channel
from liveblog.supervisor import Supervisor

logger = logging.getLogger("liveblog.delivery.hub")
HEARTBEAT_SLICE = 500  # heartbeats written per loop turn (~2-3 ms of writes)


class Hub:
    def __init__(
        self,
        engine: Engine,
        *,
        buffer_bytes: int = 512 * 1024,
        heartbeat_seconds: float = 15.0,
        channel_linger_seconds: float = 30.0,
        drop_grace_seconds: float = 10.0,
        coalesce_seconds: float = 0.0,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.engine = engine
        self.supervisor = supervisor or Supervisor()
        self.buffer_bytes = buffer_bytes
        self.heartbeat_seconds = heartbeat_seconds
        self.channel_linger_seconds = channel_linger_seconds
        self.drop_grace_seconds = drop_grace_seconds
        self.coalesce_seconds = coalesce_seconds
        self.stats = HubStats()
        self.channels: dict[str, Channel] = {}
        self._opening: dict[str, asyncio.Task[None]] = {}  # each channel's subscribe and first read
        self.connections: set[Connection] = set()
        # Streams held by a token's rights, ended when they end (revoke, expiry, edit).
        self.rights = Rights(engine, self.supervisor)
        self.connected = asyncio.Event()
        # Told of each event fanned out to live readers, with how many (metrics listen here).
        self.deliver_observers: list[DeliveryObserver] = []
        # Told of each presence notice on a newsroom channel, by blog slug (the presence
        # board listens here): a notice has no offset and never reaches a stream by itself.
        self.notice_listeners: list[Callable[[str], None]] = []
        self._subscription: Subscription | None = None
        self._sub_lock = asyncio.Lock()
        self._closing = False
        self.draining = False  # the process is stopping: readers are sent to the others
        self.connected_once = False

    def observe_deliveries(self, observer: DeliveryObserver) -> None:
        self.deliver_observers.append(observer)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        # Both loops survive any error (the supervisor logs, counts and restarts them), and
        # delivery depends on both: /readyz fails while either is not running.
        self.supervisor.loop("subscription", self._subscription_loop, critical=True)
        self.supervisor.loop("housekeeping", self._housekeeping_loop, critical=True)
        self.rights.start()

    async def close(self) -> None:
        """Tell every reader to come back (they resume by id), then stop."""
        self._closing = True
        for channel in self.channels.values():
            channel.closed = True  # fills under way stop
        self.shutdown_readers()
        await self.supervisor.close()

    def shutdown_readers(self) -> None:
        """Tell every reader to come back elsewhere; from now on, tell new ones at once too (a
        stream that got in while the process stops would otherwise hold the shutdown until
        its grace runs out, and then be cut)."""
        self.draining = True
        for conn in list(self.connections):
            conn.close("shutdown")

    @property
    def healthy(self) -> bool:
        """Delivery can run: the subscription is up and no loop it depends on is down."""
        return self.connected.is_set() and not self.supervisor.down

    # --- readers --------------------------------------------------------------------------

    def connection(
        self,
        kind: str,
        *,
        direct: object = None,
        watcher: bool = False,
        compressed: bool = False,
        grant: Grant | None = None,
    ) -> Connection:
        """A new reader connection: on the fast path when ``direct`` (the protocol that
        ``liveblog.delivery.fastpath`` puts in the scope) is given; ``compressed`` when the
        reader negotiated compression (``connections.ENCODINGS`` lists what exists). A stream
        opened with a token passes its ``grant``: it then ends when the token's right does."""
        if direct is not None:
            conn: Connection = DirectConnection(
                kind,
                self.buffer_bytes,
                direct,
                grace=self.drop_grace_seconds,
                watcher=watcher,
                compressed=compressed,
            )
        else:
            conn = Connection(kind, self.buffer_bytes, watcher=watcher, compressed=compressed)
        conn.on_close = self.detach  # a closed reader leaves every channel at once
        self.connections.add(conn)
        if grant is not None:
            self.rights.hold(conn, grant)
        if self.draining:
            conn.close("shutdown")  # its stream ends as soon as it starts: resume elsewhere
        return conn

    async def attach(
        self, conn: Connection, slug: str, resume: str | None, *, newsroom: bool = False
    ) -> None:
        """Join ``conn`` to a blog; from ``resume`` (an event id) or from now.

        When this returns, every later event of the blog reaches ``conn``. Raises
        EngineUnavailable or BlogNotFound, with nothing attached.
        """
        if slug in conn.blogs or conn.close_reason is not None:
            return
        # A blog's newsroom stream ("<slug>~newsroom") only for the authenticated endpoint.
        if not (is_newsroom_channel(slug) if newsroom else is_slug(slug)):
            raise BlogNotFound(slug[:64])  # no such blog can exist: ask the engine nothing
        channel = await self._open_channel(slug)
        if conn.close_reason is not None or slug in conn.blogs:
            return
        conn.blogs.add(slug)
        try:
            await channel.add(conn, resume)
        except BaseException:
            conn.blogs.discard(slug)
            raise

    def detach(self, conn: Connection, slug: str | None = None) -> None:
        """Remove a connection from one blog, or from all of them and the hub."""
        slugs = [slug] if slug is not None else list(conn.blogs)
        for name in slugs:
            conn.blogs.discard(name)
            channel = self.channels.get(name)
            if channel is not None:
                channel.remove(conn)
        if slug is None and conn in self.connections:
            self.connections.discard(conn)
            if conn.grant is not None:
                self.rights.release(conn)
            if conn.close_reason == "overflow":
                self.stats.dropped += 1
            elif conn.close_reason == "unresponsive":
                self.stats.unresponsive += 1

    # --- channels -------------------------------------------------------------------------

    async def _open_channel(self, slug: str) -> Channel:
        channel = self.channels.get(slug)
        if channel is None:
            channel = self.channels[slug] = Channel(
                slug,
                self.engine,
                stats=self.stats,
                supervisor=self.supervisor,
                observers=self.deliver_observers,
                window=self.coalesce_seconds,
            )
            self._opening[slug] = asyncio.create_task(self._init_channel(channel))
        await asyncio.shield(self._opening[slug])
        return channel

    async def _init_channel(self, channel: Channel) -> None:
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
            self._forget(channel)
            if subscribed:
                await self._unsubscribe(channel.slug)
            raise
        channel.start(position)

    def _forget(self, channel: Channel) -> None:
        channel.closed = True
        if self.channels.get(channel.slug) is channel:
            del self.channels[channel.slug]
            # The task that opened it stays for whoever awaits it, unless a new one replaced it.
            self._opening.pop(channel.slug, None)

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
            if slug == TOKEN_CHANGES:  # not a blog: a token changed (its hash)
                self.rights.changed(message.decode())
            return
        published, _, raw = message.partition(b" ")
        if raw == events.PRESENCE_NOTICE:
            self._notice(slug)
            return
        try:
            frame = Frame(raw, float(published))
        except (msgspec.DecodeError, ValueError):
            logger.exception("dropping a malformed event on %s", slug)
            return
        self.stats.events += 1
        channel.receive(frame)

    def _notice(self, name: str) -> None:
        slug, newsroom = split_channel(name)
        if not newsroom:
            return  # only newsroom channels carry notices
        for listener in self.notice_listeners:
            try:
                listener(slug)
            except Exception as exc:  # a listener's bug must not stop delivery
                self.supervisor.failed("notice", exc)

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
                    await subscription.subscribe(TOKEN_CHANGES)
                    for slug in list(self.channels):
                        await subscription.subscribe(slug)
                    runner = asyncio.create_task(subscription.run())
                    self._subscription = subscription
                    # Every subscribe is in effect before we say "up" and read positions.
                    await subscription.confirm()
                self.connected.set()
                self.connected_once = True
                self.rights.recheck_all()  # token changes published while down were missed
                if not first:
                    self.stats.reconnects += 1
                    logger.warning("event subscription restored; filling gaps")
                    for channel in list(self.channels.values()):
                        channel.start_fill()
                first = False
                delay = 0.05
                await runner
            except EngineError as exc:
                logger.warning("event subscription down: %s", exc)
            finally:
                self.connected.clear()
                self.rights.tokens.reset(live=False)  # changes go unheard until reconnected
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
        # A copy: a heartbeat may close a connection, which leaves the set at once. In slices,
        # letting the loop run between them: 20,000 heartbeats in one go would hold up every
        # live event and request for ~100 ms.
        connections = list(self.connections)
        for start in range(0, len(connections), HEARTBEAT_SLICE):
            if start:
                await asyncio.sleep(0)
            for conn in connections[start : start + HEARTBEAT_SLICE]:
                conn.heartbeat()
        now = asyncio.get_running_loop().time()
        for channel in list(self.channels.values()):
            idle = channel.idle_since
            if idle is not None and now - idle > self.channel_linger_seconds:
                await self._close_channel(channel)

    async def _close_channel(self, channel: Channel) -> None:
        if self.channels.get(channel.slug) is not channel or channel.readers:
            return
        self._forget(channel)
        await self._unsubscribe(channel.slug)

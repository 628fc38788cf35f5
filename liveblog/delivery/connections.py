"""Readers' connections as the hub sees them, and events encoded once for all of them.

The hub calls ``conn.write(payload)`` for every reader of an event, where ``payload`` is the
event already encoded in the connection's ``encoding`` (a :class:`Frame` attribute), shared by
every reader of that kind. Two kinds of connection:

- :class:`Connection` (plain ASGI): ``write`` appends to a bounded list that a writer task sends
  through ASGI in batches; past ``limit`` bytes the reader is closed.
- :class:`DirectConnection` (the fast path, ``liveblog.delivery.fastpath``): ``write`` IS the socket
  transport's ``write``; the transport's high-water mark is the reader's bound, and crossing it
  closes the reader. Until the response has started, writes are held like a plain connection's.

Either way a closed connection's ``write`` becomes a no-op at once, and the reader resumes from
the last event id it received.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from liveblog.delivery.frames import SSE_END, WS_PING, sse_chunk, ws_close_frame, ws_text_frame
from liveblog.models import EventHead, Position

if TYPE_CHECKING:
    from liveblog.delivery.rights import Grant

SSE, WS = "sse", "ws"
# Close codes that tell a WebSocket reader why, and that it should resume.
CLOSE_CODES = {
    "shutdown": (1012, "server restarting: resume"),
    "overflow": (1013, "too slow: resume"),
    "unresponsive": (1011, "keepalive ping timeout"),
    "error": (1011, "server error: resume"),
    # The token the stream was opened with lost its right to it (liveblog.delivery.rights):
    # resuming is pointless until someone signs in again.
    "revoked": (4401, "token revoked: sign in again"),
    "expired": (4401, "token expired: sign in again"),
    "changed": (4403, "access changed: sign in again"),
}

_head_decoder = msgspec.json.Decoder(EventHead)
_HEARTBEAT = b": heartbeat\n\n"
# On the fast path a WebSocket's heartbeat is a ping (unmasked, empty: the same bytes for every
# socket) that the client answers with a pong; see DirectConnection.heartbeat.
HEARTBEATS = {"sse": _HEARTBEAT, "sse_chunk": sse_chunk(_HEARTBEAT), "ws_frame": WS_PING}


class Frame:
    """One event, encoded once per process in every form a connection may need."""

    __slots__ = ("epoch", "offset", "published", "size", "sse", "sse_chunk", "ws", "ws_frame")

    def __init__(self, raw: bytes, published: float | None = None) -> None:
        head = _head_decoder.decode(raw)
        position = Position.parse(head.id)
        if position is None:
            raise ValueError(f"event id {head.id!r} is not <epoch>-<offset>")
        self.epoch = position.epoch
        self.offset = position.offset
        self.published = published  # unix time of the publish; None for history
        self.size = len(raw)
        self.sse = b"id: %s\nevent: %s\ndata: %s\n\n" % (head.id.encode(), head.type.encode(), raw)
        self.sse_chunk = sse_chunk(self.sse)
        self.ws = raw.decode()
        self.ws_frame = ws_text_frame(raw)


class Notice:
    """A last message for one connection, in every form a connection may need: not an event
    of the blog (no id, no offset), so a client's resume position stays where it was."""

    __slots__ = ("sse", "sse_chunk", "ws", "ws_frame")

    def __init__(self, name: str, raw: bytes) -> None:
        self.sse = b"event: %s\ndata: %s\n\n" % (name.encode(), raw)
        self.sse_chunk = sse_chunk(self.sse)
        self.ws = raw.decode()
        self.ws_frame = ws_text_frame(raw)


def _discard(payload: Any) -> None:
    """The ``write`` of a closed connection."""


class Connection:
    """A reader behind plain ASGI: a bounded list of payloads that a writer task drains."""

    __slots__ = (
        "_wake", "blogs", "close_reason", "encoding", "farewell", "grant", "kind", "limit",
        "on_close", "pending", "pending_bytes", "subs", "watcher", "write",
    )  # fmt: skip

    def __init__(self, kind: str, limit: int, *, watcher: bool = False) -> None:
        self.kind = kind
        self.encoding = kind  # Frame.sse or Frame.ws
        self.watcher = watcher  # the newsroom's /ws socket: not counted as a reader in stats
        self.limit = limit
        self.pending: list[Any] = []
        self.pending_bytes = 0
        self.close_reason: str | None = None
        self.blogs: set[str] = set()  # the blogs this connection is attached to
        self.subs: dict[str, Any] = {}  # those it is still catching up on (hub's business)
        # The token right this stream holds (liveblog.delivery.rights); None for readers.
        self.grant: Grant | None = None
        self.farewell: Any = None  # the last payload, written just before the end
        self._wake: asyncio.Event | None = None  # made when a writer first waits
        self.write = self._push
        # Set by the hub: called once when the connection closes, to stop writing to it.
        self.on_close: Callable[[Connection], None] | None = None

    def _push(self, payload: Any) -> None:
        self.pending_bytes += len(payload)
        if self.pending_bytes > self.limit:
            self._overflowed()
            return
        self.pending.append(payload)
        if self._wake is not None:
            self._wake.set()

    def send(self, frame: Frame) -> None:
        self.write_safely(getattr(frame, self.encoding))

    def write_safely(self, payload: Any) -> None:
        """``write``, for callers outside the fan-out loop (which guards its own writes)."""
        try:
            self.write(payload)
        except Exception:
            self.lost()

    def lost(self) -> None:
        """A write failed: the socket is gone (uvloop raises once its handle is closed, which
        can happen in the same loop turn as a live event, before ``connection_lost``). Stop
        writing now; close just after, as the hub may be looping over its readers."""
        if self.close_reason is None:
            self.write = _discard
            asyncio.get_running_loop().call_soon(self.close, "disconnect")

    def send_history(self, frame: Frame) -> None:
        """Catch-up is bounded by the history window, not by the live buffer: a reader far
        behind must be able to catch up, not be dropped again and again."""
        if self.close_reason is None:
            self.pending.append(getattr(frame, self.encoding))
            if self._wake is not None:
                self._wake.set()

    def send_text(self, text: str) -> None:
        """A message for this connection alone (a WebSocket error reply)."""
        self.write_safely(text)

    def heartbeat(self) -> None:
        payload = HEARTBEATS.get(self.encoding)
        if payload is not None:
            self.write_safely(payload)

    def _overflowed(self) -> None:
        # Called while the hub loops over readers: stop writing now, close just after.
        if self.close_reason is None:
            self.write = _discard
            asyncio.get_running_loop().call_soon(self.close, "overflow")

    def close(self, reason: str, notice: Notice | None = None) -> None:
        """End the stream; ``notice`` is the last thing the client reads (why it ended)."""
        if self.close_reason is None:
            self.close_reason = reason
            if notice is not None:
                self.farewell = getattr(notice, self.encoding, None)
            self.write = _discard
            self.pending = []
            if self._wake is not None:
                self._wake.set()
            if self.on_close is not None:
                self.on_close(self)

    async def next_batch(self) -> list[Any] | None:
        """Wait for payloads to write; None once the connection is closed."""
        if self._wake is None:
            self._wake = asyncio.Event()
        while not self.pending and self.close_reason is None:
            self._wake.clear()
            await self._wake.wait()
        if self.close_reason is not None:
            return None
        batch, self.pending, self.pending_bytes = self.pending, [], 0
        return batch


class DirectConnection(Connection):
    """A reader on the fast path: events go straight into its socket's transport."""

    __slots__ = ("_protocol", "_transport", "grace", "opened")

    def __init__(
        self, kind: str, limit: int, protocol: Any, *, grace: float, watcher: bool = False
    ) -> None:
        super().__init__(kind, limit, watcher=watcher)
        # A stalled reader's socket is aborted this long after its graceful end was queued.
        self.grace = grace
        self.encoding = "sse_chunk" if kind == SSE else "ws_frame"
        self._protocol = protocol
        self._transport = protocol.transport
        self.opened = False  # until then, writes are held: the response has not started

    def open(self) -> None:
        """The response has started: write what was held, then write straight through."""
        if self.close_reason is not None:
            self._end()
            return
        transport = self._transport
        held, self.pending, self.pending_bytes = self.pending, [], 0
        try:
            transport.set_write_buffer_limits(high=self.limit)
            self._protocol.on_pause = self._overflowed
            self.opened = True
            self.write = transport.write
            if held:
                transport.write(b"".join(held))
        except Exception:
            self.lost()  # the socket went away before its stream started

    def send_history(self, frame: Frame) -> None:
        if self.opened:
            self.write_safely(getattr(frame, self.encoding))
        else:
            super().send_history(frame)

    def send_text(self, text: str) -> None:
        self.write_safely(ws_text_frame(text.encode()))

    def heartbeat(self) -> None:
        # A WebSocket that sent nothing since the last ping (no pong) is gone: a peer that
        # vanished without closing would otherwise count as a reader until TCP gives up.
        if self.kind == WS and self.opened:
            if not self._protocol.heard:
                self.close("unresponsive")
                return
            self._protocol.heard = False
        super().heartbeat()

    def close(self, reason: str, notice: Notice | None = None) -> None:
        if self.close_reason is not None:
            return
        super().close(reason, notice)
        if self.opened:
            self._end()

    def _end(self) -> None:
        """End the stream the way the client understands, then close the socket."""
        self._protocol.on_pause = None
        transport = self._transport
        if transport.is_closing():
            return
        try:
            if self.farewell is not None:
                transport.write(self.farewell)
            if self.kind == SSE:
                transport.write(SSE_END)
            else:
                code, reason = CLOSE_CODES.get(self.close_reason or "", (1000, ""))
                transport.write(ws_close_frame(code, reason))
        except Exception:
            transport.abort()  # the peer is gone: nothing left to say to it
            return
        transport.close()
        asyncio.get_running_loop().call_later(self.grace, transport.abort)

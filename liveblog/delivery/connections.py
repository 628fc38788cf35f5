"""Readers' connections as the hub sees them, and events encoded once for all of them.

The hub calls ``conn.write(payload)`` for every reader of an event, where ``payload`` is the
event already encoded in the connection's ``encoding`` (a :class:`Frame` attribute, made the
first time a reader of that encoding needs it and then kept), shared by every reader of that
kind. Two kinds of connection:

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
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import msgspec

from liveblog.delivery.frames import (
    SSE_END,
    WS_PING,
    deflate_flushed,
    sse_chunk,
    ws_close_frame,
    ws_deflated_text_frame,
    ws_text_frame,
)
from liveblog.models import EventHead, Position

if TYPE_CHECKING:
    from liveblog.delivery.rights import Grant

SSE, WS = "sse", "ws"
# The scope extension under which the fast path's protocols (``fastpath``) hand a stream their
# socket. Here, not in ``fastpath``: the streams read it without importing uvicorn's internals.
EXTENSION = "liveblog.direct"


def shed_request_headers(scope: MutableMapping[str, Any]) -> None:
    """Empty the request's header list once a stream is live: a reader's connection lasts for
    hours and nothing reads its headers after the start, while browsers send a KiB or more
    (cookies, user agent) per request. Emptied in place, as uvicorn's protocol holds the list."""
    scope["headers"].clear()


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

# The encoding (a Frame attribute) a connection takes: (transport, fast path, compressed).
# The plain path's WebSockets are never compressed: through ASGI the server would deflate each
# message per reader, so they get plain frames whatever the handshake offered.
ENCODINGS = {
    (SSE, False, False): "sse",  # text for ASGI to frame
    (SSE, False, True): "sse_gzip",  # deflate blocks of a gzip body, for ASGI to frame
    (SSE, True, False): "sse_chunk",  # a chunk of a chunked body
    (SSE, True, True): "sse_gzip_chunk",  # those deflate blocks as a chunk
    (WS, False, False): "ws",  # a str for ASGI's send_text
    (WS, True, False): "ws_frame",  # an unmasked text frame
    (WS, True, True): "ws_deflate_frame",  # that frame deflated, RSV1 set
}
COMPRESSED = frozenset(name for (_, _, compressed), name in ENCODINGS.items() if compressed)

_head_decoder = msgspec.json.Decoder(EventHead)
_HEARTBEAT = b": heartbeat\n\n"
# On the fast path a WebSocket's heartbeat is a ping (unmasked, empty: the same bytes for every
# socket) that the client answers with a pong; see DirectConnection.heartbeat.
HEARTBEATS: dict[str, Any] = {
    "sse": _HEARTBEAT,
    "sse_chunk": sse_chunk(_HEARTBEAT),
    "sse_gzip": deflate_flushed(_HEARTBEAT),
    "ws_frame": WS_PING,
    "ws_deflate_frame": WS_PING,
}
HEARTBEATS["sse_gzip_chunk"] = sse_chunk(HEARTBEATS["sse_gzip"])


def _joined(encoding: str) -> Callable[[Batch], bytes]:
    return lambda batch: b"".join([getattr(frame, encoding) for frame in batch.frames])


# How each encoding is made, for one event and for a batch of them. Derived forms read the
# ones they build on as attributes, so those are made once too.
_MAKE: dict[str, Callable[[Any], Any]] = {
    "sse_chunk": lambda source: sse_chunk(source.sse),
    # A batch is compressed as one text: once per batch, and better than event by event.
    "sse_gzip": lambda source: deflate_flushed(source.sse),
    "sse_gzip_chunk": lambda source: sse_chunk(source.sse_gzip),
}
_MAKE_ONE: dict[str, Callable[[Any], Any]] = {
    **_MAKE,
    "sse": lambda f: b"id: %s\nevent: %s\ndata: %s\n\n" % (f.id, f.type, f.raw),
    "ws": lambda frame: frame.raw.decode(),
    "ws_frame": lambda frame: ws_text_frame(frame.raw),
    "ws_deflate_frame": lambda frame: ws_deflated_text_frame(frame.raw),
}
# WebSocket frames stay one per event (a message is an event), each deflated once.
_MAKE_MANY: dict[str, Callable[[Batch], Any]] = {
    **_MAKE,
    "sse": _joined("sse"),
    "ws_frame": _joined("ws_frame"),
    "ws_deflate_frame": _joined("ws_deflate_frame"),
}


class Frame:
    """One event, encoded once per process in each form its readers need. An encoding is an
    attribute made the first time it is read (``__getattr__`` runs only while its slot is
    empty); the hot path reads it as a plain slot after that."""

    __slots__ = (
        "epoch", "id", "offset", "published", "raw", "size", "sse", "sse_chunk", "sse_gzip",
        "sse_gzip_chunk", "type", "ws", "ws_deflate_frame", "ws_frame",
    )  # fmt: skip

    def __init__(self, raw: bytes, published: float | None = None) -> None:
        head = _head_decoder.decode(raw)
        position = Position.parse(head.id)
        if position is None:
            raise ValueError(f"event id {head.id!r} is not <epoch>-<offset>")
        self.epoch = position.epoch
        self.offset = position.offset
        self.published = published  # unix time of the publish; None for history
        self.raw = raw
        self.size = len(raw)
        self.id = head.id.encode()
        self.type = head.type.encode()

    def __getattr__(self, encoding: str) -> Any:
        make = _MAKE_ONE.get(encoding)
        if make is None:
            raise AttributeError(encoding)
        value = make(self)
        setattr(self, encoding, value)
        return value


class Batch:
    """Frames written to readers together (a coalesced burst), encoded once per encoding like
    a single frame. The plain path's WebSocket messages (``ws``) are not joined: the channel
    sends them one by one."""

    __slots__ = ("frames", "sse", "sse_chunk", "sse_gzip", "sse_gzip_chunk", "ws_deflate_frame",
                 "ws_frame")  # fmt: skip

    def __init__(self, frames: list[Frame]) -> None:
        self.frames = frames

    def __getattr__(self, encoding: str) -> Any:
        make = _MAKE_MANY.get(encoding)
        if make is None:
            raise AttributeError(encoding)
        value = make(self)
        setattr(self, encoding, value)
        return value


class Notice:
    """A last message for one connection, in every form a connection may need (made on first
    use, like a Frame's): not an event of the blog (no id, no offset), so a client's resume
    position stays where it was."""

    __slots__ = ("raw", "sse", "sse_chunk", "sse_gzip", "sse_gzip_chunk", "ws",
                 "ws_deflate_frame", "ws_frame")  # fmt: skip

    def __init__(self, name: str, raw: bytes) -> None:
        self.raw = raw
        self.sse = b"event: %s\ndata: %s\n\n" % (name.encode(), raw)

    def __getattr__(self, encoding: str) -> Any:
        make = _MAKE_ONE.get(encoding)
        if make is None:
            raise AttributeError(encoding)
        value = make(self)
        setattr(self, encoding, value)
        return value


def _discard(payload: Any) -> None:
    """The ``write`` of a closed connection."""


class Connection:
    """A reader behind plain ASGI: a bounded list of payloads that a writer task drains."""

    __slots__ = (
        "_wake", "blogs", "close_reason", "encoding", "farewell", "grant", "kind", "limit",
        "on_close", "pending", "pending_bytes", "subs", "watcher", "write",
    )  # fmt: skip

    def __init__(
        self, kind: str, limit: int, *, watcher: bool = False, compressed: bool = False
    ) -> None:
        self.kind = kind
        self.encoding = ENCODINGS[kind, isinstance(self, DirectConnection), compressed]
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
        self,
        kind: str,
        limit: int,
        protocol: Any,
        *,
        grace: float,
        watcher: bool = False,
        compressed: bool = False,
    ) -> None:
        super().__init__(kind, limit, watcher=watcher, compressed=compressed)
        # A stalled reader's socket is aborted this long after its graceful end was queued.
        self.grace = grace
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

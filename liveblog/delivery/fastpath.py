"""The narrow fast path: uvicorn protocols that hand the hub their transport.

A live event is the same bytes for every reader of a transport: an SSE chunk (chunked transfer
encoding framed once) or an unmasked WebSocket text frame (servers never mask), each plain or
compressed once for all. Through ASGI each reader would cost a task wake-up and a ``send()``
per event; with the transport in hand the hub writes those shared bytes straight to each
socket, one C call per reader, no task and no queue per delivery.

What these subclasses add to uvicorn's httptools and websockets-sansio protocols:
- ``scope["extensions"]["liveblog.direct"]``: the protocol itself, for ``DirectConnection``.
- ``pause_writing``: also tells the stream, so a reader whose transport buffer passes its bound
  is closed at once (the transport's high-water mark *is* the reader's buffer bound).
- WebSocket ``permessage-deflate``, negotiated so that one compressed frame serves every reader
  (``SharedDeflate``): through ASGI, uvicorn would compress each message per socket, which is
  why its own ``ws_per_message_deflate`` stays off.

Everything else (request parsing, headers, the WebSocket handshake, pongs, close) stays uvicorn's.
Without these protocols (another ASGI server, HTTP/1.0) the streams use the plain ASGI path.

An idle reader's socket lives for hours, so the WebSocket protocol also sheds per-socket weight
uvicorn does not need for it (see ``DirectWebSocketProtocol``).

What these classes rely on below uvicorn's and websockets' public API is listed, and checked at
start-up, in ``private_surfaces`` (feature ``FAST_PATH``): only ``liveblog.serving`` imports
this module, after that check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import NegotiationError
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.typing import ExtensionParameter

from liveblog.delivery.connections import EXTENSION
from liveblog.delivery.guard import GuardedHttpToolsProtocol


class _Inbox:
    """The part of ``asyncio.Queue`` uvicorn's WebSocket protocol uses (``put_nowait``, ``get``,
    ``empty``), for its one consumer, the session's receive loop: a list, and one future while
    it waits, instead of a Queue's three deques and an Event (~2.5 KiB per socket).

    ``get`` returns a future rather than being a coroutine (one frame less per idle socket).
    The item it waits for is put into that future; were the waiting task cancelled in between,
    that item would go with it, which cannot matter to a consumer that is ending."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[Any] | None = None

    def put_nowait(self, item: Any) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(item)
        else:
            self._items.append(item)

    def empty(self) -> bool:
        return not self._items

    def get(self) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        if self._items:
            future.set_result(self._items.pop(0))
        else:
            self._waiter = future
        return future


class _Flag:
    """The part of ``asyncio.Event`` uvicorn uses (``set``, ``clear``, ``is_set``, ``wait``),
    with its waiters' list made only when someone waits: an Event holds a deque (~0.6 KiB)
    from the start."""

    __slots__ = ("_on", "_waiters")

    def __init__(self, on: bool = True) -> None:
        self._on = on
        self._waiters: list[asyncio.Future[None]] | None = None

    def set(self) -> None:
        self._on = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._on = False

    def is_set(self) -> bool:
        return self._on

    async def wait(self) -> bool:
        if not self._on:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            await waiter
        return True


class _Pipeline(list[Any]):
    """The part of ``collections.deque`` uvicorn uses for pipelined requests (``appendleft``,
    ``pop``, truth): an empty list is 56 bytes, an empty deque ~0.6 KiB, and a reader's
    connection never pipelines."""

    __slots__ = ()

    def appendleft(self, item: Any) -> None:
        self.insert(0, item)


class _Direct:
    """Mixed into both protocols: the hook the hub sets to hear of a full write buffer."""

    on_pause: Callable[[], None] | None = None
    transport: Any

    def _tell_paused(self) -> None:
        if self.on_pause is not None:
            self.on_pause()


class DirectHttpToolsProtocol(_Direct, GuardedHttpToolsProtocol):
    """uvicorn's HTTP protocol, handing its transport to the stream, and lighter per connection:
    an idle SSE reader keeps its protocol, flow control and request cycle for hours, so the
    three ``asyncio.Event`` / ``deque`` objects they hold (~0.6 KiB each) are swapped for
    ``_Flag`` and ``_Pipeline``, which do the same with a fraction of the memory."""

    # A slot, not the instance dict: one key more there and CPython stops sharing the dict's
    # keys between connections (+1.5 KiB each).
    __slots__ = ("on_pause",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_pause = None
        # The stand-ins below have the part of the deque's, Event's API uvicorn uses (listed in
        # private_surfaces), not its type: hence each ``type: ignore[assignment]``.
        self.pipeline = _Pipeline()  # type: ignore[assignment]

    # uvicorn's own signature, narrower than asyncio.Protocol's BaseTransport: a stream
    # server's transports are Transports.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.flow._is_writable_event = _Flag()  # type: ignore[assignment]  # a stand-in

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        # Its ASGI task is created, not yet run: nothing waits on the Event yet. A request
        # refused in the head (or an upgrade) has no new cycle.
        if cycle is not None and type(cycle.message_event) is asyncio.Event:
            flag = _Flag(on=cycle.message_event.is_set())
            cycle.message_event = flag  # type: ignore[assignment]  # a stand-in

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.on_pause = None  # one per request on a keep-alive connection
        extensions: dict[str, Any] = {EXTENSION: self}  # uvicorn types its values as dicts
        self.scope["extensions"] = extensions

    def pause_writing(self) -> None:
        super().pause_writing()
        self._tell_paused()


class SharedDeflate(ServerPerMessageDeflateFactory):
    """permessage-deflate (RFC 7692) as shared frames need it.

    ``server_no_context_takeover``: each message is deflated alone, so the frame the hub makes
    once (``frames.ws_deflated_text_frame``, 32 KiB window) is valid on every socket, and the
    socket keeps no compressor. ``client_no_context_takeover`` (a server may ask it even when
    the offer did not): what a client sends is inflated message by message, so an idle socket
    keeps no decompressor either. An offer that limits the server's window below 32 KiB is
    declined: that client gets plain frames rather than frames of its own."""

    def __init__(self) -> None:
        super().__init__(server_no_context_takeover=True, client_no_context_takeover=True)

    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted_extensions: Sequence[Extension]
    ) -> tuple[list[ExtensionParameter], PerMessageDeflate]:
        response, extension = super().process_request_params(params, accepted_extensions)
        if extension.local_max_window_bits < 15:
            raise NegotiationError("shared frames are deflated with a 32 KiB window")
        return response, _IdleDeflate()


class _IdleDeflate(PerMessageDeflate):
    """The socket's side of ``SharedDeflate``'s agreement, which is the same for every socket:
    kept on the class, so an idle socket's instance holds no attribute dict (~0.3 KiB less per
    reader). websockets' own code does the work; what it sets while a client's message is
    inflated lives on the instance until the message ends."""

    remote_no_context_takeover = True
    local_no_context_takeover = True
    # Inflating with the widest window takes whatever window the client deflated with.
    remote_max_window_bits = 15
    local_max_window_bits = 15
    # Read-only, as it is shared by every socket; websockets only unpacks it into
    # zlib.compressobj(**...), though it types it as a dict.
    compress_settings: dict[str, Any] = MappingProxyType({})  # type: ignore[assignment]
    decode_cont_data = False  # websockets >= 15
    decode_cont_data_frame = False  # websockets 14

    def __init__(self) -> None:  # nothing per socket until a message needs it
        pass


_SHARED_DEFLATE = [SharedDeflate()]


class DirectWebSocketProtocol(_Direct, WebSocketsSansIOProtocol):
    # uvicorn's own attributes, as slots: it sets 37 per socket, and past 30 CPython stops
    # sharing an instance dict's keys between instances (~1.5 KiB per socket for the dict).
    # An attribute a later uvicorn adds still works; it goes to the instance dict.
    __slots__ = (
        "app", "app_state", "asgi_version", "client", "close_sent", "close_timeout",
        "close_timer", "config", "conn", "connections", "curr_msg_data_type", "default_headers",
        "disconnected", "frames", "handshake_complete", "handshake_initiated", "heard",
        "initial_response", "last_ping_rtt", "logger", "loop", "on_pause", "pending_ping_payload",
        "ping_interval", "ping_sent_at", "ping_timeout", "ping_timer", "pong_timer", "queue",
        "read_paused", "request", "response", "root_path", "scheme", "scope", "server", "tasks",
        "transport", "writable",
    )  # fmt: skip

    def __init__(self, *args: Any, deflate: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_pause = None
        if deflate:  # offered to every handshake; the extension list itself is shared
            self.conn.available_extensions = _SHARED_DEFLATE
        # Stand-ins with the part of the Queue's and Event's API uvicorn uses, not their types.
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Flag()  # type: ignore[assignment]
        # Keepalive is the hub's: one shared ping frame per heartbeat for every socket
        # (connections.DirectConnection.heartbeat), not two timers and a ping of its own per
        # socket. ``heard`` says whether the peer sent anything since the last ping.
        self.ping_interval = None
        self.heard = True

    def data_received(self, data: bytes) -> None:
        self.heard = True
        super().data_received(data)

    @property
    def deflated(self) -> bool:
        """The handshake negotiated permessage-deflate: write the hub's compressed frames."""
        return any(isinstance(e, PerMessageDeflate) for e in self.conn.extensions)

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # None when the handshake was refused
            scope["extensions"][EXTENSION] = self

    def pause_writing(self) -> None:
        super().pause_writing()
        self._tell_paused()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            # Uvicorn keeps the handshake's request and response (headers and all, ~5 KiB) for
            # the socket's whole life; nothing reads them after the accept. The parser's frame
            # holds the request too, so its headers are emptied in place.
            self.request.headers.clear()
            # uvicorn types both as always set: nothing of it reads them after the accept.
            self.request = self.response = None  # type: ignore[assignment]

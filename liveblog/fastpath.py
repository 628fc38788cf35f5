"""The narrow fast path: uvicorn protocols that hand the hub their transport.

A live event is the same bytes for every reader of a transport: an SSE chunk (chunked transfer
encoding framed once) or an unmasked WebSocket text frame (servers never mask; compression is
off). Through ASGI each reader would cost a task wake-up and a ``send()`` per event; with the
transport in hand the hub writes those shared bytes straight to each socket, one C call per
reader, no task and no queue per delivery.

What these subclasses add to uvicorn's httptools and websockets-sansio protocols:
- ``scope["extensions"]["liveblog.direct"]``: the protocol itself, for ``DirectStream``.
- ``pause_writing``: also tells the stream, so a reader whose transport buffer passes its bound
  is closed at once (the transport's high-water mark *is* the reader's buffer bound).

Everything else (request parsing, headers, the WebSocket handshake, pings, close) stays uvicorn's.
Without these protocols (another ASGI server, HTTP/1.0) the streams use the plain ASGI path.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

EXTENSION = "liveblog.direct"
SSE_END = b"0\r\n\r\n"  # the last chunk of a chunked response


def sse_chunk(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked HTTP/1.1 body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def ws_text_frame(payload: bytes) -> bytes:
    """An unmasked, final WebSocket text frame (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", 0x81, n) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


def ws_close_frame(code: int, reason: str) -> bytes:
    payload = struct.pack("!H", code) + reason.encode()[:123]
    return struct.pack("!BB", 0x88, len(payload)) + payload


class _Direct:
    """Mixed into both protocols: the hook the hub sets to hear of a full write buffer."""

    on_pause: Callable[[], None] | None = None
    transport: Any

    def _tell_paused(self) -> None:
        if self.on_pause is not None:
            self.on_pause()


class DirectHttpToolsProtocol(_Direct, HttpToolsProtocol):
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.on_pause = None  # one per request on a keep-alive connection
        self.scope["extensions"] = {EXTENSION: self}

    def pause_writing(self) -> None:
        super().pause_writing()
        self._tell_paused()


class DirectWebSocketProtocol(_Direct, WebSocketsSansIOProtocol):
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
            # the socket's whole life; nothing reads them after the accept.
            self.request = self.response = None

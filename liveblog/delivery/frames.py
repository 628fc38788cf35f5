"""The bytes of the wire, framed once: an SSE chunk of a chunked HTTP/1.1 body and an unmasked
WebSocket frame (servers never mask; compression is off), the same for every reader.

Nothing here knows uvicorn: the hub and its connections need only these, the fast path's
protocols (``fastpath``) hand them the sockets to write them to.
"""

from __future__ import annotations

import struct

SSE_END = b"0\r\n\r\n"  # the last chunk of a chunked response
WS_PING = b"\x89\x00"  # an unmasked ping frame, no payload: the same bytes for every socket


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

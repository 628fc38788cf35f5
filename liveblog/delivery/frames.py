"""The bytes of the wire, framed once: an SSE chunk of a chunked HTTP/1.1 body, an unmasked
WebSocket frame (servers never mask), and their compressed forms, the same for every reader.

Compression is per event, never per reader, and needs no state across events:

- SSE with ``Content-Encoding: gzip``: after a gzip header of its own (``GZIP_HEADER``, the same
  for every reader) a response carries each event as raw deflate blocks from a fresh compressor,
  ended by a full flush (``deflate_flushed``). The blocks refer to nothing before them, end on a
  byte boundary and are never final, so they append to any reader's stream, whatever it received
  before. The gzip member is never closed: its trailer's CRC-32 covers the whole stream, which
  differs per reader (see docs/design.md).
- WebSocket ``permessage-deflate`` with ``server_no_context_takeover`` (RFC 7692): each message
  is deflated alone (``ws_deflated_text_frame``), so one frame serves every reader who
  negotiated it.

``COMPRESSIONS`` counts the deflate runs by kind: tests prove with it that N readers cost one run
per event and encoding, not N. Nothing here knows uvicorn: the hub and its connections need only
these, the fast path's protocols (``fastpath``) hand them the sockets to write them to.
"""

from __future__ import annotations

import collections
import struct
import zlib

SSE_END = b"0\r\n\r\n"  # the last chunk of a chunked response
WS_PING = b"\x89\x00"  # an unmasked ping frame, no payload: the same bytes for every socket
# A gzip member header (RFC 1952): deflate, no flags, no time, no extra flags, OS unknown.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
# Each event is compressed once per process, so the best level costs nothing that matters
# (a fresh compressor's set-up is most of the time for a 1 KB event).
DEFLATE_LEVEL = 9
_WINDOW_BITS = 15  # 32 KiB: what a gzip decoder and a permessage-deflate default accept
_SYNC_TAIL = b"\x00\x00\xff\xff"  # the empty stored block a sync flush ends with

COMPRESSIONS: collections.Counter[str] = collections.Counter()  # deflate runs: "sse", "ws"


def sse_chunk(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked HTTP/1.1 body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def _deflate(data: bytes, flush: int) -> bytes:
    compressor = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -_WINDOW_BITS)
    return compressor.compress(data) + compressor.flush(flush)


def deflate_flushed(data: bytes) -> bytes:
    """``data`` as raw deflate blocks that stand alone: a fresh compressor, ended by a full
    flush (not final), to append to a gzip body after anything else of this kind."""
    COMPRESSIONS["sse"] += 1
    return _deflate(data, zlib.Z_FULL_FLUSH)


def ws_text_frame(payload: bytes) -> bytes:
    """An unmasked, final WebSocket text frame (RFC 6455 section 5.2)."""
    return _ws_frame(0x81, payload)


def ws_deflated_text_frame(payload: bytes) -> bytes:
    """``payload`` as a text message of permessage-deflate without context takeover: deflated
    alone, the sync flush's empty block removed, RSV1 set (RFC 7692 section 7.2.1). A message
    that deflate would make longer goes out as a plain frame, which the extension allows."""
    COMPRESSIONS["ws"] += 1
    deflated = _deflate(payload, zlib.Z_SYNC_FLUSH)
    if deflated.endswith(_SYNC_TAIL):
        deflated = deflated[: -len(_SYNC_TAIL)]
    if len(deflated) >= len(payload):
        return ws_text_frame(payload)
    return _ws_frame(0xC1, deflated)


def _ws_frame(first: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", first, n) + payload
    if n < 65536:
        return struct.pack("!BBH", first, 126, n) + payload
    return struct.pack("!BBQ", first, 127, n) + payload


def ws_close_frame(code: int, reason: str) -> bytes:
    payload = struct.pack("!H", code) + reason.encode()[:123]
    return struct.pack("!BB", 0x88, len(payload)) + payload

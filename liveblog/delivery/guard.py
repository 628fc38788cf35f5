"""Bounds on a request's head, before the server holds it: size, header count and time.

httptools sets no limit of its own: one request with 200 MiB of headers would be read whole, and
a socket that sends a byte now and then (slowloris) would be held for ever. The protocol below is
uvicorn's httptools protocol with three limits added:

- the bytes of a request head (request line and headers): over ``max_head_bytes`` the client
  gets 431 and the connection is closed, before more than one read's worth is held;
- the number of headers: over ``max_headers``, 431 likewise;
- the time to send a whole head, from the connection's start or a request's first byte: past
  ``head_timeout`` the client gets 408 and the connection is closed. (Idle keep-alive
  connections are closed by uvicorn's own ``timeout_keep_alive``.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeadLimits(msgspec.Struct, frozen=True):
    max_head_bytes: int = 64 * 1024
    max_headers: int = 100
    head_timeout: float = 5.0


class _TooManyHeaders(Exception):
    """Raised in a parser callback: httptools stops, uvicorn answers (see send_400_response)."""


def _problem(status: int, title: str, detail: str) -> bytes:
    body = msgspec.json.encode(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    )
    head = (
        f"HTTP/1.1 {status} {title}\r\ncontent-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    # Slots, not the instance dict: uvicorn's protocol already holds ~30 attributes, and past
    # 30 CPython stops sharing the dict's keys between instances (+1.3 KiB per connection).
    __slots__ = ("_head_bytes", "_head_tail", "_head_timer", "_header_count", "_in_head", "limits")

    def __init__(self, *args: Any, limits: HeadLimits | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits or HeadLimits()
        self._in_head = True  # the next bytes belong to a request head
        self._head_bytes = 0  # of the head being read
        self._head_tail = b""  # its last 3 bytes, to find its end across reads
        self._header_count = 0
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()  # a socket that never sends a whole head is let go

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            if self._head_bytes == 0 and self._head_timer is None:
                self._start_head_timer()
            seen = self._head_bytes + len(data)
            if seen > self.limits.max_head_bytes:
                # Read past the limit: refused unless the head ends within it (a body or the
                # next pipelined request may share this read).
                end = (self._head_tail + data).find(b"\r\n\r\n")
                if end < 0 or self._head_bytes - len(self._head_tail) + end + 4 > (
                    self.limits.max_head_bytes
                ):
                    self._refuse(431, "Request Header Fields Too Large", self._too_large())
                    return
            self._head_bytes = seen
            self._head_tail = (self._head_tail + data)[-3:]
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            raise _TooManyHeaders
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes, self._head_tail = True, 0, b""

    def send_400_response(self, msg: str) -> None:
        if self._header_count > self.limits.max_headers:
            detail = f"At most {self.limits.max_headers} request headers are accepted."
            self._refuse(431, "Request Header Fields Too Large", detail)
            return
        super().send_400_response(msg)

    def _too_large(self) -> str:
        return f"A request's line and headers may take at most {self.limits.max_head_bytes} bytes."

    def _refuse(self, status: int, title: str, detail: str) -> None:
        self._stop_head_timer()
        self._in_head = False  # read nothing more of it
        if not self.transport.is_closing():
            self.transport.write(_problem(status, title, detail))
            self.transport.close()

    def _start_head_timer(self) -> None:
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head:
            detail = f"The request's head must arrive within {self.limits.head_timeout:g} s."
            self._refuse(408, "Request Timeout", detail)

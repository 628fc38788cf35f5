"""Bounds on a request before and while the server holds it: its head's size, header count and
time, and the pace of its body.

httptools sets no limit of its own: one request with 200 MiB of headers would be read whole, and
a socket that sends a byte now and then (slowloris) would be held for ever. The protocol below is
uvicorn's httptools protocol with these limits added:

- the bytes of a request head (request line and headers): over ``max_head_bytes`` the client
  gets 431 and the connection is closed, before more than one read's worth is held;
- the number of headers: over ``max_headers``, 431 likewise;
- the time to send a whole head, from the connection's start or a request's first byte: past
  ``head_timeout`` the client gets 408 and the connection is closed. (Idle keep-alive
  connections are closed by uvicorn's own ``timeout_keep_alive``.)
- the pace of a body (``BodyLimits``, in the spirit of Apache's mod_reqtimeout): once its head
  is in, a body must have arrived at ``min_rate`` bytes a second on average after the first
  ``timeout`` seconds, else 408 (or, once an answer has started, just the close). uvicorn's
  keep-alive timer restarts on every byte, so it cannot see a trickle. The time the server is
  not reading (the app has not asked for more yet, e.g. an upload waiting for its turn, or a
  client waiting for ``100 Continue``) is not the client's and is not counted.
- how many connections are in the middle of a body at once, per process (``max_bodies``): a
  body that does not come with its head (in the same read) takes one of them. Past the cap a
  body gets a second (``_OVER_CAP_GRACE``) to arrive whole, as a small one sent just after its
  head does, and is otherwise refused 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_BODY_TICK = 1.0  # seconds between looks at a body's pace
_OVER_CAP_GRACE = 1.0  # seconds a body past the cap has to arrive whole


class HeadLimits(msgspec.Struct, frozen=True):
    max_head_bytes: int = 64 * 1024
    max_headers: int = 100
    head_timeout: float = 5.0


class BodyLimits(msgspec.Struct, frozen=True):
    timeout: float = 10.0
    min_rate: int = 1024  # bytes a second, on average, after ``timeout``
    max_bodies: int = 256  # connections in the middle of a body, per process


class BodyGate:
    """The connections of one server process that are in the middle of a request body."""

    __slots__ = ("limits", "open")

    def __init__(self, limits: BodyLimits) -> None:
        self.limits = limits
        self.open = 0


_DEFAULT_GATE = BodyGate(BodyLimits())  # for a protocol made without a server's own


class _BodyWatch:
    """The pace of one body still coming (made only for bodies that did not come with their
    head): client time in seconds and bytes so far are checked every ``_BODY_TICK``."""

    __slots__ = ("client_time", "counted", "last", "timer")

    def __init__(self, now: float, counted: bool) -> None:
        self.client_time = 0.0
        self.counted = counted  # under the cap; else it has its grace only
        self.last = now
        self.timer: asyncio.TimerHandle | None = None


class _TooManyHeaders(Exception):
    """Raised in a parser callback: httptools stops, uvicorn answers (see send_400_response)."""


def _problem(status: int, title: str, detail: str, extra: str = "") -> bytes:
    body = msgspec.json.encode(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    )
    head = (
        f"HTTP/1.1 {status} {title}\r\ncontent-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n{extra}\r\n"
    )
    return head.encode() + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    # Slots, not the instance dict: uvicorn's protocol already holds ~30 attributes, and past
    # 30 CPython stops sharing the dict's keys between instances (+1.3 KiB per connection).
    __slots__ = (
        "_bodies", "_body", "_body_bytes", "_head_bytes", "_head_tail", "_head_timer",
        "_header_count", "_in_head", "limits",
    )  # fmt: skip

    def __init__(
        self,
        *args: Any,
        limits: HeadLimits | None = None,
        bodies: BodyGate | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits or HeadLimits()
        self._bodies = bodies or _DEFAULT_GATE
        self._body: _BodyWatch | None = None  # while a body is still coming
        self._body_bytes = 0  # of the current request's body
        self._in_head = True  # the next bytes belong to a request head
        self._head_bytes = 0  # of the head being read
        self._head_tail = b""  # its last 3 bytes, to find its end across reads
        self._header_count = 0
        self._head_timer: asyncio.TimerHandle | None = None

    # uvicorn's own signature, narrower than asyncio.Protocol's BaseTransport: a stream
    # server's transports are Transports.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()  # a socket that never sends a whole head is let go

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        self._end_body()
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
        if not self._in_head and self._body is None:
            self._body_follows()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = 0
        self._body_bytes = 0

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

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
        self._end_body()

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

    # --- the body's pace ------------------------------------------------------------------------

    def _body_follows(self) -> None:
        """The head is in and its body is not (all of it): watch the body's pace, if it is this
        protocol's still (not a WebSocket's) and the connection is not being closed."""
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return
        gate = self._bodies
        counted = gate.open < gate.limits.max_bodies
        self._body = watch = _BodyWatch(self.loop.time(), counted)
        if counted:
            gate.open += 1
            watch.timer = self.loop.call_later(_tick(gate.limits), self._body_tick)
        else:
            grace = min(_OVER_CAP_GRACE, gate.limits.timeout)
            watch.timer = self.loop.call_later(grace, self._over_cap)

    def _over_cap(self) -> None:
        if self._body is None:  # it came whole in time
            return
        limit = self._bodies.limits.max_bodies
        detail = f"This server is receiving its most request bodies at once ({limit})."
        retry = f"retry-after: {random.randint(2, 10)}\r\n"
        self._refuse_body(_problem(503, "Service Unavailable", detail, retry))

    def _body_tick(self) -> None:
        watch = self._body
        if watch is None:
            return
        now = self.loop.time()
        if not self._server_holds_body():
            watch.client_time += now - watch.last
        watch.last = now
        limits = self._bodies.limits
        if watch.client_time > limits.timeout + self._body_bytes / limits.min_rate:
            detail = (
                f"The request's body must arrive at {limits.min_rate} bytes a second or more "
                f"after its first {limits.timeout:g} s."
            )
            self._refuse_body(_problem(408, "Request Timeout", detail))
            return
        watch.timer = self.loop.call_later(_tick(limits), self._body_tick)

    def _server_holds_body(self) -> bool:
        """Whether the body is late for the server's reasons: it stopped reading (the app has
        not asked for more), or the client waits for ``100 Continue``, which the app sends when
        it first asks."""
        cycle = self.cycle
        return self.flow.read_paused or (cycle is not None and cycle.waiting_for_100_continue)

    def _refuse_body(self, answer: bytes) -> None:
        self._end_body()
        self._in_head = False  # read nothing more of it
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # The app is told the client is gone (its reads end, its writes go nowhere), as
            # uvicorn would on a lost connection; it must not write after this answer.
            started = cycle.response_started
            cycle.disconnected = True
            cycle.message_event.set()
            if started:
                answer = b""  # an answer has begun: nothing more can be said on this connection
        if not self.transport.is_closing():
            if answer:
                self.transport.write(answer)
            self.transport.close()

    def _end_body(self) -> None:
        watch, self._body = self._body, None
        if watch is not None:
            if watch.counted:
                self._bodies.open -= 1
            if watch.timer is not None:
                watch.timer.cancel()


def _tick(limits: BodyLimits) -> float:
    return min(_BODY_TICK, limits.timeout / 4)

"""Server-Sent Events: ``GET /blogs/{slug}/events``.

A plain ASGI app rather than a StreamingResponse. On the fast path (``liveblog.delivery.fastpath``)
the hub writes each event's shared chunk straight into this response's socket and this coroutine
only waits for the end; otherwise a writer loop sends what the hub queued, in batches.

A request that accepts gzip gets ``Content-Encoding: gzip``: a gzip header, then each event (and
heartbeat) as deflate blocks compressed once for every reader (``liveblog.delivery.frames``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random

from starlette.datastructures import Headers, QueryParams
from starlette.types import Receive, Scope, Send

from liveblog.delivery.connections import (
    EXTENSION,
    SSE,
    Connection,
    DirectConnection,
    shed_request_headers,
)
from liveblog.delivery.frames import GZIP_HEADER, deflate_flushed
from liveblog.delivery.hub import Hub
from liveblog.engine.base import EngineError
from liveblog.problems import engine_problem
from liveblog.serving.compression import request_coding
from liveblog.streams.admission import Admission

HEADERS = [  # a stream's response headers (the newsroom's too, liveblog.streams.newsroom)
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),  # tell nginx-style proxies not to buffer the stream
    # A public stream: the embed frame runs it from another origin, or from none at all when a
    # host page sandboxes it (WordPress does: its origin is then "null").
    (b"access-control-allow-origin", b"*"),
]
_VARY = (b"vary", b"Accept-Encoding")
_GZIP_HEADERS = [*HEADERS, (b"content-encoding", b"gzip"), _VARY]


# The reconnect hint differs per reader, among this many values spread evenly from half the
# setting to one and a half times it. A browser's own EventSource waits exactly the hint after
# a stream ends, with no jitter: when a process restarts, every reader that relies on it (a
# page without the reader script, another site's client) would come back to the other
# processes in the same instant (bench/storm.py --client native). Spread, they arrive over a
# whole setting's worth of time, and on average after the setting.
RETRY_VARIANTS = 16


def retry_hints(retry_ms: int) -> list[int]:
    """The reconnect hints readers get, in milliseconds."""
    low, step = retry_ms / 2, retry_ms / (RETRY_VARIANTS - 1)
    return sorted({round(low + step * i) for i in range(RETRY_VARIANTS)})


@functools.cache
def _preludes(retry_ms: int, gzip: bool) -> tuple[bytes, ...]:
    """The body's first bytes, made once: a reconnect hint, and for gzip the member's header
    before it (the stream's only per-connection part). A reader gets one of them at random."""
    hints = (b"retry: %d\n\n" % hint for hint in retry_hints(retry_ms))
    return tuple(GZIP_HEADER + deflate_flushed(h) if gzip else h for h in hints)


def resume_id(scope: Scope) -> str | None:
    """Last-Event-ID wins over ?last_event_id= (EventSource keeps the page's old query)."""
    header = Headers(scope=scope).get("last-event-id")
    return header or QueryParams(scope["query_string"]).get("last_event_id")


def direct_protocol(scope: Scope) -> object:
    """The fast path's protocol, when this server offers it and the framing allows it."""
    if scope.get("http_version") != "1.1" or scope.get("method") != "GET":
        return None  # HTTP/1.0 has no chunked encoding; HEAD has no body
    return scope.get("extensions", {}).get(EXTENSION)


class SSEStream:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # One coroutine from the admission to the end: an idle reader holds this frame for
        # hours, and every frame nested under it would cost as much again.
        state = scope["app"].state
        admission: Admission = state.admission
        refusal = admission.enter(scope)
        if refusal is not None:
            await refusal.response()(scope, receive, send)
            return
        slug: str = scope["path_params"]["slug"]
        hub: Hub = state.hub
        compression: bool = state.settings.compression
        gzip = compression and request_coding(scope, ("gzip",)) == "gzip"
        conn = hub.connection(SSE, direct=direct_protocol(scope), compressed=gzip)
        try:
            try:
                # Attached before the headers go out: "live from the moment the headers are
                # sent". A blog this process already streams costs no engine call; an unknown
                # one is 404.
                await hub.attach(conn, slug, resume_id(scope))
            except EngineError as exc:
                hub.detach(conn)
                await engine_problem(exc).response()(scope, receive, send)
                return

            headers = _GZIP_HEADERS if gzip else [*HEADERS, _VARY] if compression else HEADERS
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            prelude = random.choice(_preludes(state.settings.sse_retry_ms, gzip))
            await send({"type": "http.response.body", "body": prelude, "more_body": True})
            shed_request_headers(scope)
            if isinstance(conn, DirectConnection):
                conn.open()
                # The hub writes; when it ends the stream (shutdown, a reader too far behind)
                # it closes the socket, and that ends this wait too. EventSource then resumes
                # by Last-Event-ID.
                while (await receive())["type"] != "http.disconnect":
                    pass
            else:
                await serve_queued(conn, receive, send)
        finally:
            # Whatever ended the request (a disconnect, a failed send, a bug), the reader
            # leaves the hub, and the admission: no phantom reader stays registered.
            conn.close("disconnect")
            hub.detach(conn)
            admission.leave(scope)


async def serve_queued(conn: Connection, receive: Receive, send: Send) -> None:
    """The plain path: send what the hub queued for ``conn`` until the stream ends."""
    watcher = asyncio.create_task(_close_on_disconnect(receive, conn))
    try:
        while (batch := await conn.next_batch()) is not None:
            await send({"type": "http.response.body", "body": b"".join(batch), "more_body": True})
    finally:
        watcher.cancel()
        with contextlib.suppress(BaseException):
            await watcher
    # The stream ends (server shutdown, or this reader fell too far behind): EventSource
    # reconnects by itself with Last-Event-ID and resumes where it stopped. A stream whose
    # token lost its right says why first (conn.farewell).
    with contextlib.suppress(OSError, RuntimeError):
        if conn.farewell is not None:
            await send({"type": "http.response.body", "body": conn.farewell, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _close_on_disconnect(receive: Receive, conn: Connection) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            conn.close("disconnect")
            return

"""Server-Sent Events: ``GET /blogs/{slug}/events``.

A plain ASGI app rather than a StreamingResponse: the hub hands it whole batches of bytes that
were encoded once for every reader, and it writes each batch in one body message.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from liveblog.api.problems import Problem
from liveblog.api.responses import problem_for
from liveblog.engine.base import EngineError
from liveblog.hub import SSE, Connection, Hub

_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),  # tell nginx-style proxies not to buffer the stream
]


def resume_id(request: Request) -> str | None:
    """Last-Event-ID wins over ?last_event_id= (EventSource keeps the page's old query)."""
    return request.headers.get("last-event-id") or request.query_params.get("last_event_id")


class SSEStream:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        slug: str = scope["path_params"]["slug"]
        hub: Hub = request.app.state.hub
        conn = hub.connection(SSE)
        try:
            if await hub.engine.position(slug) is None:
                raise Problem(404, f"No blog {slug!r} exists.")
            # Attached before the headers go out: "live from the moment the headers are sent".
            await hub.attach(conn, slug, resume_id(request))
        except Problem as exc:
            hub.detach(conn)
            await exc.response()(scope, receive, send)
            return
        except EngineError as exc:
            hub.detach(conn)
            await problem_for(exc).response()(scope, receive, send)
            return

        retry = request.app.state.settings.sse_retry_ms
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        await send(
            {"type": "http.response.body", "body": b"retry: %d\n\n" % retry, "more_body": True}
        )
        watcher = asyncio.create_task(_close_on_disconnect(receive, conn))
        try:
            while (batch := await conn.next_batch()) is not None:
                body = b"".join(batch)  # type: ignore[arg-type] # SSE batches hold bytes
                await send({"type": "http.response.body", "body": body, "more_body": True})
        finally:
            hub.detach(conn)
            watcher.cancel()
            with contextlib.suppress(BaseException):
                await watcher
        # The stream ends (server shutdown, or this reader fell too far behind): EventSource
        # reconnects by itself with Last-Event-ID and resumes where it stopped.
        with contextlib.suppress(OSError, RuntimeError):
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _close_on_disconnect(receive: Receive, conn: Connection) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            conn.close("disconnect")
            return

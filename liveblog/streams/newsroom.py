"""The newsroom's own live stream, as a transport: ``GET /api/blogs/{slug}/newsroom/events``.

Server-Sent Events on the plain path, with ``Last-Event-ID`` (or ``?last_event_id=``) to resume,
under the same admission as readers' streams. Who may open it is the editor API's to say
(``liveblog.api.newsroom`` hands this stream its ``authorise``); the stream holds the right
that answer grants for as long as it runs (``liveblog.delivery.rights``). Each console joins
the blog's presence board (``app.state.presence``) while it is open.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from liveblog.delivery.connections import SSE, Connection
from liveblog.delivery.hub import Hub
from liveblog.delivery.rights import Grant
from liveblog.engine.base import EngineError
from liveblog.models import Token, newsroom_channel
from liveblog.problems import Problem, engine_problem
from liveblog.streams.admission import Admission
from liveblog.streams.sse import HEADERS, resume_id, serve_queued

logger = logging.getLogger("liveblog.api.newsroom")

# The token, and the right the stream then holds (None: one no request can revoke); or a
# Problem (401, 404, 403) or an EngineError.
Authorise = Callable[[Request, str], Awaitable[tuple[Token, Grant | None]]]
# A newsroom stream is never cached, not even for a moment.
_HEADERS = [
    *(h for h in HEADERS if h != (b"cache-control", b"no-cache, no-transform")),
    (b"cache-control", b"no-store"),
]


class Presence(Protocol):
    """Who has the blog open: the board each console of a blog joins (``liveblog.api.presence``)."""

    async def join(self, slug: str, conn: Connection, token: Token) -> None: ...

    def leave(self, slug: str, conn: Connection) -> None: ...


class NewsroomEvents:
    """A plain ASGI app (a Route wraps functions as request -> response endpoints)."""

    def __init__(self, authorise: Authorise) -> None:
        self.authorise = authorise

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        admission: Admission = scope["app"].state.admission
        refusal = admission.enter(scope)  # a live stream like any other: under the same cap
        if refusal is not None:
            await refusal.response()(scope, receive, send)
            return
        try:
            await self._stream(scope, receive, send)
        finally:
            admission.leave(scope)

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        slug: str = scope["path_params"]["slug"]
        try:
            token, grant = await self.authorise(Request(scope, receive), slug)
        except (Problem, EngineError) as exc:
            problem = exc if isinstance(exc, Problem) else engine_problem(exc)
            await problem.response()(scope, receive, send)
            return
        hub: Hub = scope["app"].state.hub
        presence: Presence = scope["app"].state.presence
        # The newsroom's, not a reader (stats, dashboard); it ends when the token's right does.
        conn = hub.connection(SSE, watcher=True, grant=grant)
        try:
            try:
                await hub.attach(conn, newsroom_channel(slug), resume_id(scope), newsroom=True)
            except EngineError as exc:
                hub.detach(conn)
                await engine_problem(exc).response()(scope, receive, send)
                return
            await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
            retry = b"retry: %d\n\n" % scope["app"].state.settings.sse_retry_ms
            await send({"type": "http.response.body", "body": retry, "more_body": True})
            # This console is on the blog now: every console of it hears (a `presence` event).
            try:
                await presence.join(slug, conn, token)
            except EngineError as exc:
                logger.warning("presence of a console on %s waits for the engine: %s", slug, exc)
            await serve_queued(conn, receive, send)
        finally:
            conn.close("disconnect")
            hub.detach(conn)
            presence.leave(slug, conn)

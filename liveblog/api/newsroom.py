"""The newsroom's own live stream: ``GET /api/blogs/{slug}/newsroom/events`` (token required).

Every change to an entry readers do not see (a draft saved, a contribution submitted or sent
back, a schedule moved) and every publication of one is an event on the blog's newsroom stream,
``<slug>~newsroom``: a stream of its own (epoch, offsets, history) in the blog's keys, which the
hub serves like a blog. Readers' endpoints never attach to it (the hub refuses the name unless
asked for a newsroom stream); this endpoint checks the token first. Server-Sent Events, with
``Last-Event-ID`` (or ``?last_event_id=``) to resume: the console reads it with ``fetch``, so
the token travels in the ``Authorization`` header. The stream holds the token's right to the
blog for as long as it runs: revoked, expired or re-scoped away from the blog, the token's
stream ends with a last ``access.ended`` event that says why (``liveblog.delivery.rights``).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from liveblog.api import auth
from liveblog.api.presence import PresenceBoard
from liveblog.api.responses import problem_for
from liveblog.delivery.connections import SSE
from liveblog.delivery.hub import Hub
from liveblog.delivery.rights import Grant
from liveblog.engine.base import EngineError
from liveblog.models import Token, newsroom_channel
from liveblog.problems import Problem
from liveblog.streams.admission import Admission
from liveblog.streams.sse import _HEADERS, _serve_queued, resume_id

logger = logging.getLogger("liveblog.api.newsroom")


async def _authorise(request: Request, slug: str) -> tuple[Token, Grant | None]:
    """401, then 404, then 403 (docs/api.md's order); the token, and the right the stream then
    holds."""
    token_hash, token = await auth.authenticate(request)
    if await request.app.state.engine.position(slug) is None:
        raise Problem(404, f"No blog {slug!r} exists.")
    auth.require_editor_of(token, slug)
    grant = auth.grant(request, token_hash, token, slug, lambda current: current.may_edit(slug))
    return token, grant


class NewsroomEvents:
    """A plain ASGI app (a Route wraps functions as request -> response endpoints)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        admission: Admission = scope["app"].state.admission
        refusal = admission.enter(scope)  # a live stream like any other: under the same cap
        if refusal is not None:
            await refusal.response()(scope, receive, send)
            return
        try:
            await _stream(scope, receive, send)
        finally:
            admission.leave(scope)


async def _stream(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    slug: str = scope["path_params"]["slug"]
    try:
        token, grant = await _authorise(request, slug)
    except (Problem, EngineError) as exc:
        problem = exc if isinstance(exc, Problem) else problem_for(exc)
        await problem.response()(scope, receive, send)
        return
    hub: Hub = scope["app"].state.hub
    presence: PresenceBoard = scope["app"].state.presence
    # The newsroom's, not a reader (stats, dashboard); it ends when the token's right does.
    conn = hub.connection(SSE, watcher=True, grant=grant)
    try:
        try:
            await hub.attach(conn, newsroom_channel(slug), resume_id(scope), newsroom=True)
        except EngineError as exc:
            hub.detach(conn)
            await problem_for(exc).response()(scope, receive, send)
            return
        headers = [*_HEADERS, (b"cache-control", b"no-store")]
        headers = [h for h in headers if h != (b"cache-control", b"no-cache, no-transform")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        retry = b"retry: %d\n\n" % scope["app"].state.settings.sse_retry_ms
        await send({"type": "http.response.body", "body": retry, "more_body": True})
        # This console is on the blog now: every console of it hears (a `presence` event).
        try:
            await presence.join(slug, conn, token)
        except EngineError as exc:
            logger.warning("presence of a console on %s waits for the engine: %s", slug, exc)
        await _serve_queued(conn, receive, send)
    finally:
        conn.close("disconnect")
        hub.detach(conn)
        presence.leave(slug, conn)

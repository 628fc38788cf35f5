"""The newsroom's own live stream: ``GET /api/blogs/{slug}/newsroom/events`` (token required).

Every change to an entry readers do not see (a draft saved, a contribution submitted or sent
back, a schedule moved) and every publication of one is an event on the blog's newsroom stream,
``<slug>~newsroom``: a stream of its own (epoch, offsets, history) in the blog's keys, which the
hub serves like a blog. Readers' endpoints never attach to it (the hub refuses the name unless
asked for a newsroom stream); this endpoint checks the token first (``_authorise``), and the
stream itself is a transport's (``liveblog.streams.newsroom``: Server-Sent Events, with
``Last-Event-ID`` to resume). The console reads it with ``fetch``, so the token travels in the
``Authorization`` header. The stream holds the token's right to the
blog for as long as it runs: revoked, expired or re-scoped away from the blog, the token's
stream ends with a last ``access.ended`` event that says why (``liveblog.delivery.rights``).
"""

from __future__ import annotations

from starlette.requests import Request

from liveblog.api import auth
from liveblog.api.openapi import operation
from liveblog.delivery.rights import Grant
from liveblog.models import Token
from liveblog.problems import Problem
from liveblog.streams.newsroom import NewsroomEvents


async def _authorise(request: Request, slug: str) -> tuple[Token, Grant | None]:
    """401, then 404, then 403 (docs/api.md's order); the token, and the right the stream then
    holds."""
    token_hash, token = await auth.authenticate(request)
    if await request.app.state.engine.position(slug) is None:
        raise Problem(404, f"No blog {slug!r} exists.")
    auth.require_editor_of(token, slug)
    grant = auth.grant(request, token_hash, token, slug, lambda current: current.may_edit(slug))
    return token, grant


newsroom_events = operation(
    "The blog's newsroom stream (Server-Sent Events): changes to entries readers do not see,"
    " their publication, and who is on the blog (`presence`)",
    auth=True,
    errors=(401, 403, 404, 503),
)(NewsroomEvents(_authorise))

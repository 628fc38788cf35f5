"""The checks every write goes through, in the order docs/api.md fixes: 413/415, 401, 404, 403."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

from starlette.requests import ClientDisconnect, Request

from liveblog.api import auth, body
from liveblog.engine.base import BlogNotFound, EngineError
from liveblog.models import Token
from liveblog.problems import Problem

T = TypeVar("T")


async def editor_write(request: Request, slug: str, *, with_body: bool = True) -> Token:
    """Authorise a write to ``slug``: envelope, token, blog exists, permission, rate."""
    if with_body:
        body.check_envelope(request)
    token_hash, token = await auth.authenticate(request)
    if await request.app.state.engine.position(slug) is None:
        raise _no_blog(slug)
    auth.require_editor_of(token, slug)
    request.app.state.rate_limiter.check(token_hash)
    return token


@contextlib.asynccontextmanager
async def blog_write(
    request: Request, slug: str, *, with_body: bool = True
) -> AsyncIterator[Token]:
    """:func:`editor_write` for a write to the blog's entries, without reading the blog
    first: the engine's write (or the entry's read) finds it missing itself, so an ordinary
    POST is one store call. The answers stay those of :func:`editor_write`, in its order:
    whatever else the request is refused for inside this block (403, 422, 429...), the blog
    is read then, and a missing one is a 404 instead (a refused write also costs no rate)."""
    if with_body:
        body.check_envelope(request)
    token_hash, token = await auth.authenticate(request)
    limiter = request.app.state.rate_limiter
    counted = False  # the rate limiter took this write
    try:
        auth.require_editor_of(token, slug)
        limiter.check(token_hash)
        counted = True
        yield token
    except (ClientDisconnect, EngineError) as exc:
        if not isinstance(exc, BlogNotFound):
            # Nobody to answer; or the engine's own answer (a 412, a 404 of the entry: the
            # blog exists), or the store is away (503: nothing can be read).
            raise
    except Exception:
        if await request.app.state.engine.position(slug) is not None:
            raise
    else:
        return
    if counted:
        limiter.refund(token_hash)
    raise _no_blog(slug) from None


def _no_blog(slug: str) -> Problem:
    return Problem(404, f"No blog {slug!r} exists.")


async def admin_write(request: Request) -> Token:
    body.check_envelope(request)
    token_hash, token = await auth.authenticate(request)
    auth.require_admin(token)
    request.app.state.rate_limiter.check(token_hash)
    return token


async def json_body(request: Request, type: type[T]) -> tuple[T, bytes]:
    raw = await body.read_body(request)
    return body.decode(raw, type), raw

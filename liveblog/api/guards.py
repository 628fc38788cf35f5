"""The checks every write goes through, in the order docs/api.md fixes: 413/415, 401, 404, 403."""

from __future__ import annotations

from typing import TypeVar

from starlette.requests import Request

from liveblog.api import auth, body
from liveblog.models import Token
from liveblog.problems import Problem

T = TypeVar("T")


async def editor_write(request: Request, slug: str, *, with_body: bool = True) -> Token:
    """Authorise a write to ``slug``: envelope, token, blog exists, permission, rate."""
    if with_body:
        body.check_envelope(request)
    token_hash, token = await auth.authenticate(request)
    if await request.app.state.engine.position(slug) is None:
        raise Problem(404, f"No blog {slug!r} exists.")
    auth.require_editor_of(token, slug)
    request.app.state.rate_limiter.check(token_hash)
    return token


async def admin_write(request: Request) -> Token:
    body.check_envelope(request)
    token_hash, token = await auth.authenticate(request)
    auth.require_admin(token)
    request.app.state.rate_limiter.check(token_hash)
    return token


async def json_body(request: Request, type: type[T]) -> tuple[T, bytes]:
    raw = await body.read_body(request)
    return body.decode(raw, type), raw

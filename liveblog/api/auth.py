"""Bearer tokens: admins and editors. Tokens are stored as SHA-256 hashes, shown once."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request

from liveblog.api.problems import Problem
from liveblog.engine.base import Engine
from liveblog.models import Token, TokenCreate, TokenCreated

_BOOTSTRAP = Token(name="admin (LIVEBLOG_ADMIN_TOKEN)", role="admin", blogs=None)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="liveblog"'}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(engine: Engine, request: TokenCreate) -> TokenCreated:
    secret = "lb_" + secrets.token_urlsafe(32)
    await engine.store_token(hash_token(secret), Token(request.name, request.role, request.blogs))
    return TokenCreated(secret, request.name, request.role, request.blogs)


async def authenticate(request: Request) -> tuple[str, Token]:
    """The caller's (token hash, token), or 401."""
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise Problem(401, "Send a token: Authorization: Bearer <token>.", headers=_CHALLENGE)
    digest = hash_token(secret)
    admin_token: str | None = request.app.state.settings.admin_token
    if admin_token and hmac.compare_digest(secret.encode(), admin_token.encode()):
        return digest, _BOOTSTRAP
    token = await request.app.state.engine.find_token(digest)
    if token is None:
        raise Problem(401, "The token is not valid.", headers=_CHALLENGE)
    return digest, token


def require_admin(token: Token) -> None:
    if token.role != "admin":
        raise Problem(403, "Only an admin token may do this.")


def require_editor_of(token: Token, slug: str) -> None:
    if not token.may_edit(slug):
        raise Problem(403, f"This token may not edit the blog {slug!r}.")

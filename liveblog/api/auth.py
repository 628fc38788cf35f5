"""Bearer tokens: admins, editors and contributors, each a person (name, avatar).

Tokens are stored as SHA-256 hashes, shown once.

A token is named by its id, the first 12 hex digits of that hash: enough to list and revoke it,
useless to sign in with. A process keeps the tokens it read until the engine announces a
change of one (``liveblog.delivery.tokens``), so a revocation counts on every server process as
soon as it hears of it (and at once on the one that made it), and an ordinary request reads
nothing from the store to authenticate.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import UTC

import msgspec
from starlette.requests import Request

from liveblog.delivery.rights import Grant
from liveblog.delivery.tokens import TokenCache
from liveblog.editorial import record
from liveblog.engine.base import Tokens
from liveblog.models import Actor, Token, TokenCreate, TokenCreated, utcnow
from liveblog.problems import Problem

_BOOTSTRAP = Token(name="admin (LIVEBLOG_ADMIN_TOKEN)", role="admin", blogs=None)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="liveblog"'}
_EXPIRED = {"WWW-Authenticate": 'Bearer realm="liveblog", error="invalid_token"'}
ID_LENGTH = 12
# A token's last use is written at most this often: authenticating stays one read.
TOUCH_SECONDS = 60.0


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id(token_hash: str) -> str:
    return token_hash[:ID_LENGTH]


def token_audit(token: Token) -> dict[str, object]:
    """Who a token is, as the audit log names the subject of a token event."""
    return {"token_id": token.id, "name": token.name, "role": token.role, "blogs": token.blogs}


async def issue_token(
    engine: Tokens, request: TokenCreate, *, by: Actor = record.SYSTEM
) -> TokenCreated:
    secret = "lb_" + secrets.token_urlsafe(32)
    digest = hash_token(secret)
    expires_at = None if request.expires_at is None else request.expires_at.astimezone(UTC)
    token = Token(
        request.name,
        request.role,
        request.blogs,
        id=token_id(digest),
        created_at=utcnow(),
        expires_at=expires_at,
        avatar_url=request.avatar_url,
    )
    audit = record.audit_event("token.created", by, detail=token_audit(token), at=token.created_at)
    await engine.store_token(digest, token, audit)
    assert token.created_at is not None
    return TokenCreated(
        secret, token.id, token.name, token.role, token.blogs, token.created_at, expires_at,
        token.avatar_url,
    )  # fmt: skip


async def authenticate(request: Request) -> tuple[str, Token]:
    """The caller's (token hash, token), or 401."""
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise Problem(401, "Send a token: Authorization: Bearer <token>.", headers=_CHALLENGE)
    digest = hash_token(secret)
    admin_token: str | None = request.app.state.settings.admin_token
    if admin_token and hmac.compare_digest(secret.encode(), admin_token.encode()):
        return digest, msgspec.structs.replace(_BOOTSTRAP, id=token_id(digest))
    engine: Tokens = request.app.state.engine
    cache = token_cache(request)
    token = await cache.find(digest, engine.find_token)
    if token is None:
        raise Problem(401, "The token is not valid.", headers=_CHALLENGE)
    now = utcnow()
    if token.expires_at is not None and now >= token.expires_at:
        when = token.expires_at.isoformat().replace("+00:00", "Z")
        raise Problem(401, f"The token expired at {when}: ask an admin for a new one.",
                      headers=_EXPIRED)  # fmt: skip
    changes: dict[str, object] = {} if token.id else {"id": token_id(digest)}  # older tokens
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= TOUCH_SECONDS:
        await engine.touch_token(digest, now)
        changes["last_used_at"] = now
    if changes:
        token = msgspec.structs.replace(token, **changes)
        cache.touched(digest, token)
    return digest, token


def token_cache(request: Request) -> TokenCache:
    """This process's tokens, kept while its hub hears their changes."""
    cache: TokenCache = request.app.state.hub.rights.tokens
    return cache


def require_admin(token: Token) -> None:
    if token.role != "admin":
        raise Problem(403, "Only an admin token may do this.")


def require_editor_of(token: Token, slug: str) -> None:
    if not token.may_edit(slug):
        raise Problem(403, f"This token may not edit the blog {slug!r}.")


def grant(
    request: Request, token_hash: str, token: Token, blog: str, allows: Callable[[Token], bool]
) -> Grant | None:
    """What a stream opened with this token holds: it ends when ``allows`` no longer holds for
    the stored token, or the token is revoked or expires (``liveblog.delivery.rights``). None
    for LIVEBLOG_ADMIN_TOKEN, a setting that no request can revoke."""
    admin_token: str | None = request.app.state.settings.admin_token
    if admin_token and token_hash == hash_token(admin_token):
        return None
    return Grant(token_hash, token.expires_at, allows, blog)

"""Bearer tokens on a request: who is calling (``authenticate``), what their role allows
(``require_admin``, ``require_editor_of``) and the right a stream holds (``grant``).

A process keeps the tokens it read until the engine announces a change of one
(``liveblog.delivery.tokens``), so a revocation counts on every server process as soon as it
hears of it (and at once on the one that made it), and an ordinary request reads nothing from
the store to authenticate. What a token is and how one is issued: ``liveblog.editorial.tokens``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

import msgspec
from starlette.requests import Request

from liveblog.delivery.rights import Grant
from liveblog.delivery.tokens import TokenCache
from liveblog.editorial import roles
from liveblog.editorial.refusals import NotAllowed
from liveblog.editorial.tokens import hash_token, token_id
from liveblog.engine.base import Tokens
from liveblog.models import Token, utcnow
from liveblog.problems import Problem

_BOOTSTRAP = Token(name="admin (LIVEBLOG_ADMIN_TOKEN)", role="admin", blogs=None)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="liveblog"'}
_EXPIRED = {"WWW-Authenticate": 'Bearer realm="liveblog", error="invalid_token"'}
# A token's last use is written at most this often: authenticating stays one read.
TOUCH_SECONDS = 60.0


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
    allowed(roles.require_admin, token)


def require_editor_of(token: Token, slug: str) -> None:
    allowed(roles.require_editor_of, token, slug)


def allowed(rule: Callable[..., None], *args: object) -> None:
    """A role's rule (``liveblog.editorial.roles``), its refusal answered 403."""
    try:
        rule(*args)
    except NotAllowed as exc:
        raise Problem(403, str(exc)) from None


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

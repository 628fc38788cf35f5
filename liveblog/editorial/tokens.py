"""Tokens: admins, editors and contributors, each a person (name, avatar), and how one is issued
(by the API, the command line and the demo alike).

Tokens are stored as SHA-256 hashes, shown once. A token is named by its id, the first 12 hex
digits of that hash: enough to list and revoke it, useless to sign in with.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC

from liveblog.editorial import record
from liveblog.engine.base import Engine
from liveblog.models import Actor, Token, TokenCreate, TokenCreated, utcnow

ID_LENGTH = 12


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id(token_hash: str) -> str:
    return token_hash[:ID_LENGTH]


def token_audit(token: Token) -> dict[str, object]:
    """Who a token is, as the audit log names the subject of a token event."""
    return {"token_id": token.id, "name": token.name, "role": token.role, "blogs": token.blogs}


async def issue_token(
    engine: Engine, request: TokenCreate, *, by: Actor = record.SYSTEM
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

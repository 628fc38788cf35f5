"""Token administration (admin only): issue, list, change and revoke the newsroom's people."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from liveblog.api import auth
from liveblog.api.body import invalid
from liveblog.api.guards import admin_write, json_body
from liveblog.api.openapi import ADMIN_READ, WRITE, operation
from liveblog.api.responses import json_response
from liveblog.editorial import record
from liveblog.editorial.tokens import hash_token, issue_token, token_audit, token_id
from liveblog.engine.base import Engine
from liveblog.models import (
    Token,
    TokenCreate,
    TokenCreated,
    TokenList,
    TokenPatch,
    given_fields,
    utcnow,
)
from liveblog.problems import Problem

_NO_STORE = {"Cache-Control": "no-store"}
# Expiry is stored in UTC: a later bound keeps "9999-12-31T23:59:59-01:00" (year 10000 in UTC)
# a 422 rather than an overflow.
_LATEST_EXPIRY = datetime(3000, 1, 1, tzinfo=UTC)


async def _admin(request: Request) -> Token:
    """401, then 403: unlike blogs, which tokens exist is for admins only, so a non-admin
    learns nothing from a 404."""
    token_hash, token = await auth.authenticate(request)
    auth.require_admin(token)
    request.app.state.rate_limiter.check(token_hash)
    return token


@operation(
    "Issue a token (its secret is shown once)",
    status=201,
    answer=TokenCreated,
    body=TokenCreate,
    auth=True,
    errors=WRITE,
)
async def create_token(request: Request) -> Response:
    admin = await admin_write(request)
    data, _ = await json_body(request, TokenCreate)
    if data.expires_at is not None and data.expires_at <= utcnow():
        raise invalid("$.expires_at", "must be in the future")
    if data.expires_at is not None and data.expires_at >= _LATEST_EXPIRY:
        raise invalid("$.expires_at", "must be before 3000-01-01T00:00:00Z")
    created = await issue_token(request.app.state.engine, data, by=record.actor(admin))
    return json_response(created, 201, headers=_NO_STORE)


@operation("List tokens (never their secrets)", answer=TokenList, auth=True, errors=ADMIN_READ)
async def list_tokens(request: Request) -> Response:
    await _admin(request)
    engine: Engine = request.app.state.engine
    tokens = [
        msgspec.structs.replace(token, id=token_id(token_hash))
        for token_hash, token in (await engine.list_tokens()).items()
    ]
    tokens.sort(key=_oldest_first)
    return json_response(TokenList(tokens), headers=_NO_STORE)


def _oldest_first(token: Token) -> tuple[str, str, str]:
    created = "" if token.created_at is None else token.created_at.isoformat()
    return created, token.name, token.id


@operation(
    "Change a person's name, avatar, role or blogs",
    answer=Token,
    body=TokenPatch,
    auth=True,
    errors=(*WRITE, 409),
)
async def update_token(request: Request) -> Response:
    """Change a person's name, avatar, role or blogs; the secret stays the same."""
    admin = await admin_write(request)
    patch, _ = await json_body(request, TokenPatch)
    wanted: str = request.path_params["token_id"]
    engine: Engine = request.app.state.engine
    found = [(h, t) for h, t in (await engine.list_tokens()).items() if token_id(h) == wanted]
    if not found:
        _refuse_bootstrap(request, wanted)
        raise Problem(404, f"No token {wanted!r} exists.")
    changes = given_fields(patch)

    # One atomic step on the stored token: a revoke racing this edit is never undone by it.
    def audit(before: Token, after: Token) -> bytes:
        changed = {k: v for k, v in changes.items() if getattr(before, k) != v}
        detail = {**token_audit(after), "changes": changed}
        return record.audit_event("token.updated", record.actor(admin), detail=detail)

    token = await engine.update_token(
        found[0][0], lambda stored: msgspec.structs.replace(stored, **changes, id=wanted), audit
    )
    auth.token_cache(request).forget(found[0][0])  # here at once; elsewhere when heard
    if token is None:
        raise Problem(404, f"No token {wanted!r} exists.")
    return json_response(token, headers=_NO_STORE)


def _refuse_bootstrap(request: Request, wanted: str) -> None:
    admin_token: str | None = request.app.state.settings.admin_token
    if admin_token and wanted == token_id(hash_token(admin_token)):
        raise Problem(409, "This is LIVEBLOG_ADMIN_TOKEN: change the setting to revoke it.")


@operation(
    "Revoke a token, at once on every server process",
    status=204,
    auth=True,
    errors=(*ADMIN_READ, 404, 409),
)
async def delete_token(request: Request) -> Response:
    admin = await _admin(request)
    wanted: str = request.path_params["token_id"]
    engine: Engine = request.app.state.engine
    admin_token: str | None = request.app.state.settings.admin_token
    if admin_token and wanted == token_id(hash_token(admin_token)):
        raise Problem(409, "This is LIVEBLOG_ADMIN_TOKEN: change the setting to revoke it.")
    found = [(h, t) for h, t in (await engine.list_tokens()).items() if token_id(h) == wanted]
    by = record.actor(admin)
    deleted = [
        await engine.delete_token(h, record.audit_event("token.revoked", by, detail=token_audit(t)))
        for h, t in found
    ]
    for h, _ in found:
        auth.token_cache(request).forget(h)  # here at once; elsewhere when heard
    if not any(deleted):
        raise Problem(404, f"No token {wanted!r} exists.")
    return Response(status_code=204)


@operation("The calling token (never its secret)", answer=Token, auth=True, errors=(401, 503))
async def me(request: Request) -> Response:
    """The calling token's name, role and blogs (``null``: every blog); 401 if it is not valid."""
    _, token = await auth.authenticate(request)
    body: Token = token
    return json_response(body, headers={"Cache-Control": "no-store"})

"""Token lifecycle on both engines: listed without secrets, revoked at once, expiring, last use
recorded cheaply; the bootstrap admin token's length; the OpenAPI document covers every route."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from liveblog.api import auth, openapi
from liveblog.app import create_app
from liveblog.config import Settings
from tests.conftest import ALL_ENGINES, make_settings
from tests.support.clients import Editor
from tests.support.redis_server import free_port
from tests.support.servers import ADMIN_TOKEN, serve_in_process

PROBLEM = "application/problem+json"
LISTED_FIELDS = {
    "id",
    "name",
    "role",
    "blogs",
    "created_at",
    "last_used_at",
    "expires_at",
    "avatar_url",
}


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    return body


async def issue(editor: Editor, **fields: Any) -> dict[str, Any]:
    body = {"name": "desk", "role": "editor", "blogs": None, **fields}
    response = await editor.http.post("/api/tokens", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def listed(editor: Editor) -> dict[str, dict[str, Any]]:
    response = await editor.http.get("/api/tokens")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return {t["id"]: t for t in response.json()["tokens"]}


@pytest.fixture
async def as_token(server: str) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    clients: list[httpx.AsyncClient] = []

    def client(secret: str) -> httpx.AsyncClient:
        http = httpx.AsyncClient(base_url=server, headers={"Authorization": f"Bearer {secret}"})
        clients.append(http)
        return http

    yield client
    for http in clients:
        await http.aclose()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """Move the server's clock for token checks (the server runs in this process)."""

    def advance(by: timedelta) -> None:
        monkeypatch.setattr(auth, "utcnow", lambda: datetime.now(UTC) + by)

    return advance


# --- listing ----------------------------------------------------------------------------------


async def test_admins_list_tokens_without_their_secrets(
    editor: Editor, as_token: Callable[[str], httpx.AsyncClient]
) -> None:
    desk = await issue(editor, name="Desk", blogs=["news"])
    night = await issue(
        editor, name="Night shift", role="admin", expires_at="2999-01-01T02:00:00+02:00"
    )
    assert desk["id"] and desk["id"] != night["id"]
    assert desk["created_at"].endswith("Z") and desk["expires_at"] is None
    assert night["expires_at"] == "2999-01-01T00:00:00Z"  # normalised to UTC
    assert (await as_token(desk["token"]).get("/api/me")).json()["id"] == desk["id"]

    response = await editor.http.get("/api/tokens")
    for secret in (desk["token"], night["token"]):
        assert secret not in response.text
        assert hashlib.sha256(secret.encode()).hexdigest() not in response.text
    tokens = await listed(editor)
    assert set(tokens) == {desk["id"], night["id"]}  # the bootstrap token is a setting, not listed
    assert all(set(t) == LISTED_FIELDS for t in tokens.values())
    assert tokens[desk["id"]] | {"last_used_at": None} == {
        "id": desk["id"], "name": "Desk", "role": "editor", "blogs": ["news"],
        "created_at": desk["created_at"], "last_used_at": None, "expires_at": None,
        "avatar_url": None,
    }  # fmt: skip
    assert tokens[desk["id"]]["last_used_at"] is not None  # it called /api/me
    assert tokens[night["id"]]["last_used_at"] is None  # never used
    assert tokens[night["id"]]["expires_at"] == "2999-01-01T00:00:00Z"


async def test_last_use_is_written_at_most_once_a_minute(
    editor: Editor, as_token: Callable[[str], httpx.AsyncClient], clock: Callable[[timedelta], None]
) -> None:
    desk = await issue(editor)
    http = as_token(desk["token"])
    assert (await http.get("/api/me")).status_code == 200
    first = (await listed(editor))[desk["id"]]["last_used_at"]
    assert first is not None
    assert (await http.get("/api/me")).status_code == 200
    assert (await listed(editor))[desk["id"]]["last_used_at"] == first  # not rewritten

    clock(timedelta(seconds=61))
    assert (await http.get("/api/me")).status_code == 200
    later = (await listed(editor))[desk["id"]]["last_used_at"]
    assert datetime.fromisoformat(later) - datetime.fromisoformat(first) >= timedelta(seconds=60)


# --- revoking ---------------------------------------------------------------------------------


async def test_a_revoked_token_is_refused_at_once(
    editor: Editor, as_token: Callable[[str], httpx.AsyncClient]
) -> None:
    await editor.create_blog("news", "News")
    desk = await issue(editor, blogs=["news"])
    keep = await issue(editor, name="keep")
    http = as_token(desk["token"])
    entry = {"body": "<p>Before</p>"}
    assert (await http.post("/api/blogs/news/entries", json=entry)).status_code == 201

    response = await editor.http.delete(f"/api/tokens/{desk['id']}")
    assert response.status_code == 204 and response.content == b""
    problem(await http.post("/api/blogs/news/entries", json={"body": "<p>After</p>"}), 401)
    problem(await http.get("/api/me"), 401)
    assert set(await listed(editor)) == {keep["id"]}
    timeline = (await editor.http.get("/api/blogs/news/entries")).json()["entries"]
    assert [e["body"] for e in timeline] == ["<p>Before</p>"]

    problem(await editor.http.delete(f"/api/tokens/{desk['id']}"), 404)  # gone already
    problem(await editor.http.delete("/api/tokens/000000000000"), 404)
    assert (await as_token(keep["token"]).get("/api/me")).status_code == 200


async def test_only_admins_list_and_revoke_tokens(
    editor: Editor, as_token: Callable[[str], httpx.AsyncClient]
) -> None:
    desk = await issue(editor)
    other = await issue(editor, name="other")
    http = as_token(desk["token"])
    problem(await http.get("/api/tokens"), 403)
    problem(await http.delete(f"/api/tokens/{other['id']}"), 403)
    problem(await http.delete("/api/tokens/000000000000"), 403)  # nothing learnt about ids
    async with httpx.AsyncClient(base_url=editor.base_url) as anonymous:
        problem(await anonymous.get("/api/tokens"), 401)
        problem(await anonymous.delete(f"/api/tokens/{other['id']}"), 401)
    assert set(await listed(editor)) == {desk["id"], other["id"]}

    # The bootstrap token is a setting: revoking it here cannot work, and says so.
    me = (await editor.http.get("/api/me")).json()
    assert me["id"] == hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()[:12]
    refused = problem(await editor.http.delete(f"/api/tokens/{me['id']}"), 409)
    assert "LIVEBLOG_ADMIN_TOKEN" in refused["detail"]


@pytest.mark.parametrize("engine_name", ["redis"])
async def test_revocation_counts_at_once_on_every_process(
    settings_factory: Callable[..., Settings],
) -> None:
    async with (
        serve_in_process(settings_factory()) as first,
        serve_in_process(settings_factory()) as second,
    ):
        admin = Editor(first)
        desk = await issue(admin)
        elsewhere = httpx.AsyncClient(
            base_url=second, headers={"Authorization": f"Bearer {desk['token']}"}
        )
        try:
            assert (await elsewhere.get("/api/me")).status_code == 200
            assert (await admin.http.delete(f"/api/tokens/{desk['id']}")).status_code == 204
            problem(await elsewhere.get("/api/me"), 401)
        finally:
            await elsewhere.aclose()
            await admin.close()


RACES = 40


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_edits_and_revokes_of_a_token_never_undo_each_other(
    editor: Editor, as_token: Callable[[str], httpx.AsyncClient]
) -> None:
    """An edit reads the token and writes it back; a revoke landing in between must stay a
    revoke. Raced many times: a revoked token never answers 200 again."""
    revived = 0
    for attempt in range(RACES):
        desk = await issue(editor, name=f"racer {attempt}")
        path = f"/api/tokens/{desk['id']}"
        edits = [editor.http.patch(path, json={"name": f"racer {attempt}.{n}"}) for n in range(3)]
        *edited, revoked = await asyncio.gather(*edits, editor.http.delete(path))
        assert revoked.status_code == 204, revoked.text
        assert {r.status_code for r in edited} <= {200, 404}
        if (await as_token(desk["token"]).get("/api/me")).status_code == 200:
            revived += 1
    assert revived == 0, f"{revived} of {RACES} revoked tokens came back"
    assert await listed(editor) == {}


# --- expiry -----------------------------------------------------------------------------------


async def test_an_expired_token_is_refused(
    editor: Editor, as_token: Callable[[str], httpx.AsyncClient], clock: Callable[[timedelta], None]
) -> None:
    expires = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    desk = await issue(editor, expires_at=expires.isoformat())
    http = as_token(desk["token"])
    assert (await http.get("/api/me")).json()["expires_at"] == desk["expires_at"]

    clock(timedelta(hours=1, seconds=1))
    refused = problem(await http.get("/api/me"), 401)
    assert "expired" in refused["detail"] and desk["expires_at"] in refused["detail"]
    assert "invalid_token" in (await http.get("/api/me")).headers["www-authenticate"]
    assert (await editor.http.get("/api/me")).status_code == 200  # the bootstrap never expires
    assert desk["id"] in await listed(editor)  # listed until an admin revokes it


@pytest.mark.parametrize(
    "expires_at",
    ["2001-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00", "2999-01-01T00:00:00", "tomorrow", 1],
    ids=["past", "beyond-utc", "no-offset", "not-a-time", "number"],
)
async def test_a_bad_expiry_is_refused(editor: Editor, expires_at: object) -> None:
    body = {"name": "desk", "role": "editor", "expires_at": expires_at}
    refused = problem(await editor.http.post("/api/tokens", json=body), 422)
    assert refused["errors"][0]["path"] == "$.expires_at"
    assert await listed(editor) == {}


# --- the bootstrap admin token ----------------------------------------------------------------


def test_a_short_admin_token_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="LIVEBLOG_ADMIN_TOKEN must be at least 32 characters"):
        Settings.from_env({"LIVEBLOG_ADMIN_TOKEN": "x" * 31})
    with pytest.raises(ValueError, match="at least 32"):
        make_settings(None, admin_token="secret")
    assert Settings.from_env({"LIVEBLOG_ADMIN_TOKEN": "x" * 32}).admin_token == "x" * 32

    env = {**os.environ, "LIVEBLOG_ADMIN_TOKEN": "changeme", "LIVEBLOG_REDIS_URL": ""}
    result = subprocess.run(
        [sys.executable, "-m", "liveblog", "serve", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "LIVEBLOG_ADMIN_TOKEN must be at least 32 characters" in result.stderr


# --- the OpenAPI document ---------------------------------------------------------------------


async def test_the_openapi_document_lists_every_api_route(editor: Editor) -> None:
    document = (await editor.http.get("/api/openapi.json")).json()
    documented = {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    app = create_app(make_settings(None))
    served = {
        (route.path_format, method)  # {slug:slug} is documented as {slug}
        for route in app.routes
        if isinstance(route, Route) and route.path.startswith("/api/")
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert {("/api/me", "GET"), ("/api/stats", "GET"), ("/api/tokens", "GET"),
            ("/api/tokens/{token_id}", "DELETE")} <= served  # fmt: skip
    assert documented == served
    schemas = document["components"]["schemas"]
    assert set(schemas["Token"]["properties"]) == LISTED_FIELDS
    assert "token" not in schemas["TokenList"]["properties"]


def test_an_api_route_that_says_nothing_of_itself_fails_the_document() -> None:
    """The document is made from the routes: a route it could not describe is an error, not a
    hole in it."""

    async def undescribed(request: Request) -> Response:
        return Response()

    with pytest.raises(LookupError, match="GET /api/new"):
        openapi.document([Route("/api/new", undescribed)])

"""A token's rights are checked for as long as it is used (docs/api.md, "Streams that hold a
token"): a stream opened with a token ends within 2 s of the token's revoke, expiry or loss of
the blog, on every process, after a last ``access.ended`` event that says why; a reconnect is
then refused. Other streams go on. On both engines, and with two ``liveblog serve`` processes
sharing one Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from liveblog.app import create_app
from liveblog.config import Settings
from liveblog.delivery.connections import EXTENSION, SSE, WS
from liveblog.delivery.hub import Hub
from liveblog.delivery.rights import Grant
from liveblog.editorial import tokens
from liveblog.engine.memory import MemoryEngine
from liveblog.models import Token
from liveblog.streams import websocket as sockets
from tests.conftest import ALL_ENGINES
from tests.support.clients import Editor, SSEReader, WSReader
from tests.support.servers import ADMIN_TOKEN, ServerProcess, serve_app

# cause -> (the reason the stream is told, the status of a reconnect)
CAUSES = {
    "revoked": ("revoked", 401),
    "expired": ("expired", 401),
    "blogs": ("changed", 403),  # PATCH blogs: the blog is no longer among them
    "role": ("changed", 403),  # PATCH role: an admin (every blog) becomes an editor of another
}
GRACE = 2.0  # the promise: the stream ends within this many seconds
EXPIRES_IN = 6.0  # long enough to open the streams on a busy machine first


async def issue(admin: Editor, cause: str, name: str = "desk") -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "role": "editor", "blogs": ["desk"]}
    if cause == "role":
        body |= {"role": "admin", "blogs": ["other"]}
    if cause == "expired":
        expires = datetime.now(UTC) + timedelta(seconds=EXPIRES_IN)
        body["expires_at"] = expires.isoformat()
    response = await admin.http.post("/api/tokens", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def take_away(admin: Editor, cause: str, token: dict[str, Any]) -> float:
    """Make the token lose its right to the blog; returns when it did (loop time)."""
    loop = asyncio.get_running_loop()
    path = f"/api/tokens/{token['id']}"
    if cause == "revoked":
        assert (await admin.http.delete(path)).status_code == 204
    elif cause == "blogs":
        assert (await admin.http.patch(path, json={"blogs": ["other"]})).status_code == 200
    elif cause == "role":
        assert (await admin.http.patch(path, json={"role": "editor"})).status_code == 200
    else:  # expired: nothing to do but wait
        expires = datetime.fromisoformat(token["expires_at"])
        return loop.time() + (expires - datetime.now(UTC)).total_seconds()
    return loop.time()


async def newsroom(base: str, secret: str, slug: str = "desk") -> SSEReader:
    headers = {"Authorization": f"Bearer {secret}"}
    reader = SSEReader(base, f"/api/blogs/{slug}/newsroom/events", extra_headers=headers)
    await reader.connect()
    return reader


async def wait_ended_by(reader: SSEReader, deadline: float) -> None:
    """The stream ends by ``deadline`` (loop time): the promise, polled."""
    loop = asyncio.get_running_loop()
    with contextlib.suppress(TimeoutError):
        await reader.wait_ended(timeout=max(0.0, deadline - loop.time()))
    assert reader.ended, f"the stream was still open {GRACE} s after its token lost the right"


def ended_notice(reason: str) -> dict[str, Any]:
    sentence = {
        "revoked": "The token was revoked: sign in again.",
        "expired": "The token expired: sign in again.",
        "changed": "The token no longer has access to this: sign in again.",
    }[reason]
    return {"type": "access.ended", "blog": "desk", "data": {"reason": reason, "message": sentence}}


def ends_heard(reader: SSEReader) -> list[dict[str, Any]]:
    """The stream's messages about its own end (a newsroom stream's `presence` aside)."""
    return [notice for notice in reader.notices if notice["type"] != "presence"]


async def check_stream_ends(staff_url: str, admin_url: str, cause: str) -> None:
    """Streams on ``staff_url``; the admin takes the right away through ``admin_url``."""
    admin = Editor(admin_url)
    await admin.create_blog("desk", "Desk")
    await admin.create_blog("other", "Other")
    token = await issue(admin, cause)
    colleague = await issue(admin, "blogs", name="colleague")  # the same blog, kept
    mine = await newsroom(staff_url, token["token"])
    theirs = await newsroom(staff_url, colleague["token"])
    bootstrap = await newsroom(staff_url, ADMIN_TOKEN)  # a setting: never revoked
    try:
        assert (mine.status, theirs.status, bootstrap.status) == (200, 200, 200)
        await admin.post("desk", status="draft", headline="Before")
        for reader in (mine, theirs, bootstrap):
            await reader.wait_for(1)  # live: the newsroom reaches them all

        taken = await take_away(admin, cause, token)
        await wait_ended_by(mine, taken + GRACE)
        reason, status = CAUSES[cause]
        assert mine.clean_end, "the server ended the response itself"
        assert ends_heard(mine) == [ended_notice(reason)]
        assert [e.data["data"]["headline"] for e in mine.events] == ["Before"]

        await admin.post("desk", status="draft", headline="After")
        for reader in (theirs, bootstrap):
            events = await reader.wait_for(2)
            assert events[-1].data["data"]["headline"] == "After" and not ends_heard(reader)
        assert [e.data["data"]["headline"] for e in mine.events] == ["Before"]

        again = await newsroom(staff_url, token["token"])
        assert again.status == status  # the console stops here
        await again.close()
    finally:
        for reader in (mine, theirs, bootstrap):
            await reader.close()
        await admin.close()


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
@pytest.mark.parametrize("cause", list(CAUSES))
async def test_a_stream_ends_when_its_token_loses_the_right(server: str, cause: str) -> None:
    await check_stream_ends(server, server, cause)


@pytest.mark.parametrize("cause", list(CAUSES))
async def test_a_change_through_one_process_ends_the_stream_on_another(
    server_process: Callable[..., ServerProcess], cause: str
) -> None:
    first, second = server_process(), server_process()
    await check_stream_ends(first.url, second.url, cause)


# --- the mechanism, from inside one process ---------------------------------------------------


@pytest.fixture
async def app_on_memory() -> AsyncIterator[tuple[Any, str]]:
    app = create_app(Settings(admin_token=ADMIN_TOKEN, demo=False), engine=MemoryEngine())
    async with serve_app(app) as url:
        yield app, url


async def test_a_revoke_published_while_the_subscription_was_down_still_ends_the_stream(
    app_on_memory: tuple[Any, str],
) -> None:
    """Token changes published while a process was not listening are caught on reconnect."""
    app, url = app_on_memory
    admin = Editor(url)
    await admin.create_blog("desk", "Desk")
    token = await issue(admin, "revoked")
    mine = await newsroom(url, token["token"])
    hub: Hub = app.state.hub
    engine: MemoryEngine = app.state.engine
    try:
        assert mine.status == 200
        await asyncio.sleep(0.2)  # the check just after the stream was held has run
        assert not mine.ended
        # Revoked behind the process's back (no message), then its subscription drops and
        # comes back, as after a Redis restart.
        [token_hash] = [h for h, t in engine._tokens.items() if t.id == token["id"]]
        del engine._tokens[token_hash]
        await asyncio.sleep(0.2)
        assert not mine.ended  # nobody told this process yet
        assert hub._subscription is not None
        await hub._subscription.close()
        await wait_ended_by(mine, asyncio.get_running_loop().time() + GRACE + 1)
        assert ends_heard(mine) == [ended_notice("revoked")]
    finally:
        await mine.close()
        await admin.close()


async def test_a_stream_held_after_its_token_was_revoked_ends_at_once() -> None:
    """The request authenticated the token; it was revoked before the stream was held (the
    change was published while nobody held it): the check at hold time ends it."""
    engine = MemoryEngine()
    hub = Hub(engine)
    await hub.start()
    try:
        await hub.connected.wait()  # its reconnect sweep is done: only the hold can check
        await asyncio.sleep(0.05)
        token = Token("desk", "editor", ["desk"], id="0123456789ab")
        await engine.store_token("0123456789ab" + "0" * 52, token)
        await engine.delete_token("0123456789ab" + "0" * 52)  # before the hold
        await asyncio.sleep(0.05)  # its message came and went: nobody held the token yet
        grant = Grant("0123456789ab" + "0" * 52, None, lambda t: t.may_edit("desk"), "desk")
        conn = hub.connection(SSE, watcher=True, grant=grant)
        async with asyncio.timeout(GRACE):
            while conn.close_reason is None:
                await asyncio.sleep(0.01)
        assert conn.close_reason == "revoked"
        event = msgspec.json.decode(conn.farewell.split(b"data: ")[1])
        assert event["data"]["reason"] == "revoked"
        assert conn not in hub.connections and hub.rights.held == 0
        # Readers hold nothing: no token, no timer, no entry in the registry.
        reader = hub.connection(SSE)
        assert reader.grant is None and hub.rights.held == 0
    finally:
        await hub.close()


async def _socket_holding_a_token(websocket: WebSocket) -> None:
    """A WebSocket stream of the kind a future feature might add: opened with a token, it
    passes its grant to the hub, and nothing else."""
    app = websocket.app
    token_hash = tokens.hash_token(websocket.query_params["token"])
    token = await app.state.engine.find_token(token_hash)
    assert token is not None
    grant = Grant(token_hash, token.expires_at, lambda current: current.may_edit("desk"), "desk")
    direct = websocket.scope.get("extensions", {}).get(EXTENSION)
    conn = app.state.hub.connection(WS, direct=direct, watcher=True, grant=grant)
    await app.state.hub.attach(conn, "desk", None)
    await sockets._session(websocket, websocket.receive, app.state.hub, conn, on_message=None)


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "plain"])
@pytest.mark.parametrize("engine_name", ["memory"])
async def test_any_stream_that_holds_a_grant_gets_the_same_end(
    settings_factory: Callable[..., Settings], fast_path: bool
) -> None:
    """The mechanism is the hub's, not the newsroom endpoint's: a WebSocket opened with a token
    ends the same way, with the reason as its last frame and a close code of its own."""
    app = create_app(settings_factory())
    app.router.routes.append(WebSocketRoute("/held", _socket_holding_a_token))
    async with serve_app(app, fast_path=fast_path) as url:
        admin = Editor(url)
        await admin.create_blog("desk", "Desk")
        token = await issue(admin, "blogs")
        socket = await WSReader(url, f"/held?token={token['token']}").connect()
        try:
            await admin.post("desk", headline="Before")
            await socket.wait_for(1)
            path = f"/api/tokens/{token['id']}"
            assert (await admin.http.patch(path, json={"blogs": ["other"]})).status_code == 200
            await socket.wait_ended(timeout=GRACE)
            assert socket.others == [ended_notice("changed")]
            assert socket.close_code == 4403
        finally:
            await socket.close()
            await admin.close()

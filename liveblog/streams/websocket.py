"""WebSocket streams: one blog per socket (``/blogs/{slug}/ws``) or many (``/ws``).

Every event is one text frame holding the event JSON, the same bytes as SSE's ``data:``;
deflated once for every reader whose handshake negotiated permessage-deflate (fast path).
Close codes tell the client what to do: 1012 the server restarts, 1013 this reader fell too far
behind; both mean "reconnect and resume from your last event id". On the fast path the hub
writes each event's shared frame straight into the socket; otherwise a pump task sends what the
hub queued.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Literal

import msgspec
from starlette.types import Receive
from starlette.websockets import WebSocket, WebSocketDisconnect

from liveblog.delivery.connections import (
    CLOSE_CODES,
    EXTENSION,
    WS,
    Connection,
    DirectConnection,
    shed_request_headers,
)
from liveblog.delivery.hub import Hub
from liveblog.engine.base import BlogNotFound, EngineError
from liveblog.models import Slug

MAX_BLOGS_PER_SOCKET = 1000
_GONE = (WebSocketDisconnect, OSError, RuntimeError)


class Op(msgspec.Struct, forbid_unknown_fields=True):
    op: Literal["subscribe", "unsubscribe"]
    blog: Slug
    last_event_id: str | None = None


class _Error(msgspec.Struct):
    type: Literal["error"]
    blog: str | None
    data: dict[str, str]


_op_decoder = msgspec.json.Decoder(Op)


def _error(message: str, blog: str | None = None) -> str:
    return msgspec.json.encode(_Error("error", blog, {"message": message})).decode()


def _connection(websocket: WebSocket, *, watcher: bool = False) -> Connection:
    hub: Hub = websocket.app.state.hub
    direct = websocket.scope.get("extensions", {}).get(EXTENSION)
    # Negotiated by the fast path's protocol only: the plain path sends plain frames.
    deflated = direct is not None and direct.deflated
    return hub.connection(WS, direct=direct, watcher=watcher, compressed=deflated)


async def _pump(websocket: WebSocket, conn: Connection) -> None:
    """Plain path: write what the hub queued until the connection closes; then close."""
    try:
        while (batch := await conn.next_batch()) is not None:
            for text in batch:
                await websocket.send_text(text)
    except _GONE:
        conn.close("disconnect")
        return
    code, reason = CLOSE_CODES.get(conn.close_reason or "", (1000, ""))
    with contextlib.suppress(*_GONE):
        if conn.farewell is not None:  # why the stream ends (a token that lost its right)
            await websocket.send_text(conn.farewell)
        await websocket.close(code, reason)


async def _start_writing(websocket: WebSocket, conn: Connection) -> asyncio.Task[None] | None:
    """After the handshake: the fast path writes straight through; the plain one pumps."""
    if isinstance(conn, DirectConnection):
        conn.open()
        return None
    return asyncio.create_task(_pump(websocket, conn))


async def blog_socket(websocket: WebSocket, receive: Receive) -> None:
    slug: str = websocket.path_params["slug"]
    hub: Hub = websocket.app.state.hub
    conn = _connection(websocket)
    try:
        try:
            await hub.attach(conn, slug, websocket.query_params.get("last_event_id"))
        except BlogNotFound:
            hub.detach(conn)
            await websocket.accept()
            await websocket.close(4404, f"no blog {slug[:64]!r}")
            return
        except EngineError:
            hub.detach(conn)
            await websocket.accept()
            await websocket.close(1013, "store unavailable: retry")
            return
        # Readers have nothing to say on a single-blog socket: what they send is ignored.
        await _session(websocket, receive, hub, conn, on_message=None)
    finally:
        conn.close("disconnect")  # whatever failed, no phantom reader stays registered
        hub.detach(conn)


async def multi_blog_socket(websocket: WebSocket, receive: Receive) -> None:
    hub: Hub = websocket.app.state.hub
    conn = _connection(websocket, watcher=True)  # /ws is the newsroom's (docs/api.md): not a reader

    async def on_message(raw: str | bytes) -> None:
        await _handle_op(hub, conn, raw)

    await _session(websocket, receive, hub, conn, on_message=on_message)


async def _session(
    websocket: WebSocket,
    receive: Receive,
    hub: Hub,
    conn: Connection,
    *,
    on_message: Callable[[str | bytes], Awaitable[None]] | None,
) -> None:
    """Accept, let the hub write, hand each message to ``on_message`` until the end.

    ``receive`` is the ASGI receive the socket's session was called with: read directly, as
    ``websocket.receive()`` would add one more coroutine frame held by every idle socket, and
    this loop ends at the disconnect anyway (Starlette's state checks have nothing to do)."""
    pump = None
    try:
        await websocket.accept()
        shed_request_headers(websocket.scope)
        pump = await _start_writing(websocket, conn)
        while (message := await receive())["type"] != "websocket.disconnect":
            if on_message is not None:
                await on_message(message.get("text") or message.get("bytes") or b"")
    except _GONE:
        pass
    finally:
        conn.close("disconnect")
        hub.detach(conn)
        if pump is not None:
            with contextlib.suppress(BaseException):
                await pump


async def _handle_op(hub: Hub, conn: Connection, raw: str | bytes) -> None:
    try:
        op = _op_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        conn.send_text(_error(f"bad message: {exc}"))
        return
    if op.op == "unsubscribe":
        hub.detach(conn, op.blog)
        return
    if len(conn.blogs) >= MAX_BLOGS_PER_SOCKET:
        conn.send_text(_error(f"at most {MAX_BLOGS_PER_SOCKET} blogs per socket", op.blog))
        return
    try:
        await hub.attach(conn, op.blog, op.last_event_id)
    except BlogNotFound:
        conn.send_text(_error(f"no blog {op.blog!r}", op.blog))
    except EngineError:
        conn.send_text(_error("store unavailable: subscribe again shortly", op.blog))

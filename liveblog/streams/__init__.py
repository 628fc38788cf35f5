"""Live event streams: SSE and WebSocket, all fed by the process's Hub."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from liveblog.streams.admission import Admission
from liveblog.streams.sse import SSEStream
from liveblog.streams.websocket import blog_socket, multi_blog_socket


class _BareSession:
    """Starlette's ``websocket_session`` without its exception-handler layers: their frames
    would stay in memory for as long as the reader stays, and the endpoints answer their own
    errors (anything else reaches uvicorn, which logs it and closes with 1011). A socket the
    admission refuses gets an HTTP answer to its handshake (403, or 503 with Retry-After)."""

    def __init__(self, func: Callable[[WebSocket], Awaitable[None]]) -> None:
        self.func = func

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        admission: Admission = scope["app"].state.admission
        refusal = admission.enter(scope)
        if refusal is not None:
            await websocket.send_denial_response(refusal.response())
            return
        try:
            await self.func(websocket)
        finally:
            admission.leave(scope)


_sse = SSEStream()
_blog_socket = _BareSession(blog_socket)
_multi_blog_socket = _BareSession(multi_blog_socket)
_BLOG_STREAM = re.compile(r"/blogs/([^/]+)/(events|ws)")


def routes() -> list[BaseRoute]:
    return [
        Route("/blogs/{slug}/events", _sse, methods=["GET"]),
        WebSocketRoute("/blogs/{slug}/ws", _blog_socket),
        WebSocketRoute("/ws", _multi_blog_socket),
    ]


def shortcut(scope: Scope) -> ASGIApp | None:
    """The stream endpoint of this request, to be run without the middleware stack.

    A reader holds its request open for hours, and every coroutine frame of the stack in
    between stays in memory all that time: a few KiB per reader. The stream endpoints need none
    of it (they answer their own errors). Anything else goes through ``routes()`` as usual.
    """
    kind, path = scope["type"], scope["path"]
    if kind == "websocket" and path == "/ws":
        return _multi_blog_socket
    match = _BLOG_STREAM.fullmatch(path)
    if match is None:
        return None
    slug, tail = match.groups()
    if (tail, kind) == ("events", "http") and scope["method"] == "GET":
        endpoint = _sse
    elif (tail, kind) == ("ws", "websocket"):
        endpoint = _blog_socket
    else:
        return None
    scope["path_params"] = {"slug": slug}
    return endpoint

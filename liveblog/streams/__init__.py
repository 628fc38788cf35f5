"""Live event streams: SSE and WebSocket, all fed by the process's Hub (their routes are in
``liveblog/routes.py``), the newsroom's SSE stream (``newsroom``: authorised by the API, which
hands it the check), and who may open one (``admission``).

May import: models, problems, config, engine, delivery, serving.
``engine`` for its errors, ``serving`` for which content coding a request accepts. Transports
know no editor API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from liveblog.streams import websocket
from liveblog.streams.admission import Admission
from liveblog.streams.sse import SSEStream


class _BareSession:
    """Starlette's ``websocket_session`` without its exception-handler layers: their frames
    would stay in memory for as long as the reader stays, and the endpoints answer their own
    errors (anything else reaches uvicorn, which logs it and closes with 1011). A socket the
    admission refuses gets an HTTP answer to its handshake (403, or 503 with Retry-After).
    The endpoint also gets the ASGI ``receive`` itself, to wait for messages without reaching
    into the ``WebSocket``'s private ``_receive``."""

    def __init__(self, func: Callable[[WebSocket, Receive], Awaitable[None]]) -> None:
        self.func = func

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        admission: Admission = scope["app"].state.admission
        refusal = admission.enter(scope)
        if refusal is not None:
            await websocket.send_denial_response(refusal.response())
            return
        try:
            await self.func(websocket, receive)
        finally:
            admission.leave(scope)


# The endpoints (their routes are in liveblog/routes.py).
sse_events = SSEStream()
blog_socket = _BareSession(websocket.blog_socket)
dashboard_socket = _BareSession(websocket.multi_blog_socket)  # /ws: many blogs on one socket

"""Live event streams: SSE and WebSocket, all fed by the process's Hub."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route, WebSocketRoute

from liveblog.streams.sse import SSEStream
from liveblog.streams.websocket import blog_socket, multi_blog_socket


def routes() -> list[BaseRoute]:
    return [
        Route("/blogs/{slug}/events", SSEStream(), methods=["GET"]),
        WebSocketRoute("/blogs/{slug}/ws", blog_socket),
        WebSocketRoute("/ws", multi_blog_socket),
    ]

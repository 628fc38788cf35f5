"""A trivial, fast byte source that speaks liveblog's URLs: for calibration only.

Not liveblog and never a result: no storage, no validation, no guarantees. It encodes each
published entry once as an SSE chunk and once as a WebSocket frame and writes those bytes to
every reader, which is about the least work a Python server can do per delivery. The load
generator's ``--self-test`` drives it to show the generator outruns it, and it lets the bench
be developed before the real server exists.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import cast

from wire import (
    HEAD_END,
    OP_CLOSE,
    OP_TEXT,
    ws_accept,
    ws_server_frame,
)

SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


class Hub:
    def __init__(self) -> None:
        self.sse: dict[str, set[asyncio.Transport]] = {}
        self.ws: dict[str, set[asyncio.Transport]] = {}
        self.offsets: dict[str, int] = {}

    def publish(self, blog: str, entry: bytes) -> str:
        offset = self.offsets.get(blog, 0) + 1
        self.offsets[blog] = offset
        event_id = f"0-{offset}"
        event = b'{"id":"%s","type":"entry.created","blog":"%s","data":%s}' % (
            event_id.encode(),
            blog.encode(),
            entry,
        )
        sse = b"id: %s\nevent: entry.created\ndata: %s\n\n" % (event_id.encode(), event)
        chunk = b"%x\r\n%s\r\n" % (len(sse), sse)
        frame = ws_server_frame(OP_TEXT, event)
        for transport in self.sse.get(blog, ()):
            transport.write(chunk)
        for transport in self.ws.get(blog, ()):
            transport.write(frame)
        return event_id


def response(status: str, body: bytes, ctype: bytes = b"application/json") -> bytes:
    return b"HTTP/1.1 %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s" % (
        status.encode(),
        ctype,
        len(body),
        body,
    )


class Conn(asyncio.Protocol):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.stream: tuple[dict[str, set[asyncio.Transport]], str] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if self.stream is not None and self.transport is not None:
            table, blog = self.stream
            table.get(blog, set()).discard(self.transport)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        if self.stream is not None:
            # a WebSocket client speaks only to close; an SSE client not at all
            if self.stream[0] is self.hub.ws and data[:1] and data[0] & 0x0F == OP_CLOSE:
                self.transport.write(ws_server_frame(OP_CLOSE, b"\x03\xe8"))
                self.transport.close()
            return
        self.buf += data
        while self.stream is None:
            end = self.buf.find(HEAD_END)
            if end < 0:
                return
            lines = self.buf[:end].decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            self.route(method, path.split("?", 1)[0], headers, body)

    def route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        assert self.transport is not None
        parts = path.strip("/").split("/")
        if method == "GET" and path == "/healthz":
            self.transport.write(response("200 OK", b"ok", b"text/plain"))
        elif method == "POST" and parts == ["api", "blogs"]:
            slug = json.loads(body)["slug"]
            self.hub.offsets.setdefault(slug, 0)
            self.transport.write(response("201 Created", json.dumps({"slug": slug}).encode()))
        elif method == "POST" and len(parts) == 4 and parts[3] == "entries":
            event_id = self.hub.publish(parts[2], body)
            self.transport.write(response("201 Created", b'{"id":"%s"}' % event_id.encode()))
        elif method == "GET" and len(parts) == 3 and parts[2] == "events":
            self.transport.write(SSE_HEAD)
            self.stream = (self.hub.sse, parts[1])
            self.hub.sse.setdefault(parts[1], set()).add(self.transport)
        elif method == "GET" and len(parts) == 3 and parts[2] == "ws":
            accept = ws_accept(headers.get("sec-websocket-key", ""))
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n"
                b"connection: Upgrade\r\nsec-websocket-accept: %s\r\n\r\n" % accept.encode()
            )
            self.stream = (self.hub.ws, parts[1])
            self.hub.ws.setdefault(parts[1], set()).add(self.transport)
        else:
            self.transport.write(response("404 Not Found", b'{"title":"not found"}'))


async def serve(host: str, port: int) -> None:
    hub = Hub()
    server = await asyncio.get_running_loop().create_server(
        lambda: Conn(hub), host, port, backlog=8192
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    import uvloop

    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()

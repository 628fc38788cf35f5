"""Test clients that read the wire as a browser would: SSE over a raw socket, and WebSocket.

The SSE reader speaks HTTP/1.1 itself (chunked decoding included), so tests see exactly the
bytes the server framed. Asked to (``gzip=True``), it accepts gzip and inflates the body with
zlib's own gzip decoder; the WebSocket reader offers permessage-deflate with ``deflate=True`` and
lets the ``websockets`` library inflate: decoders the server does not share.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import websockets

from tests.support.servers import ADMIN_TOKEN


@dataclass
class Event:
    id: str
    type: str
    data: dict[str, Any]
    raw: str

    @property
    def offset(self) -> int:
        return int(self.id.rpartition("-")[2])

    @property
    def epoch(self) -> str:
        return self.id.rpartition("-")[0]


@dataclass
class SSEReader:
    """One EventSource-like reader. ``events`` fills as frames arrive."""

    base_url: str
    path: str
    last_event_id: str | None = None
    use_header: bool = True
    extra_headers: dict[str, str] = field(default_factory=dict)
    gzip: bool = False  # send Accept-Encoding: gzip (a gzip answer is inflated either way)
    events: list[Event] = field(default_factory=list)
    # Named events without an id: messages about the stream itself (why it ended).
    notices: list[dict[str, Any]] = field(default_factory=list)
    wire_bytes: int = 0  # body bytes as they came, before any inflating
    decoder: Any = None  # the gzip decoder, when the answer was gzip
    comments: int = 0
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    ended: bool = False
    clean_end: bool = False  # the server ended the response itself (final chunk)
    _task: asyncio.Task[None] | None = None
    _writer: asyncio.StreamWriter | None = None
    _connected: asyncio.Event = field(default_factory=asyncio.Event)

    async def connect(self, *, read: bool = True) -> SSEReader:
        """Open the stream and wait for the response headers. ``read=False`` never reads the
        body: a stalled reader, as a frozen browser tab would be."""
        parts = urlsplit(self.base_url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        self._writer = writer
        path = self.path
        headers = [f"Host: {parts.netloc}", "Accept: text/event-stream"]
        if self.gzip:
            headers.append("Accept-Encoding: gzip")
        headers += [f"{name}: {value}" for name, value in self.extra_headers.items()]
        if self.last_event_id is not None:
            if self.use_header:
                headers.append(f"Last-Event-ID: {self.last_event_id}")
            else:
                path += ("&" if "?" in path else "?") + f"last_event_id={self.last_event_id}"
        request = f"GET {path} HTTP/1.1\r\n" + "\r\n".join(headers) + "\r\n\r\n"
        writer.write(request.encode())
        if not read:
            return self
        status_line = await reader.readline()
        self.status = int(status_line.split()[1])
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self._task = asyncio.create_task(self._read(reader))
        return self

    async def _read(self, reader: asyncio.StreamReader) -> None:
        buffer = b""
        if self.headers.get("content-encoding") == "gzip":
            self.decoder = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip, header checked
        try:
            async for chunk in _chunks(reader, self.headers):
                if not chunk:
                    self.clean_end = True
                    break
                self.wire_bytes += len(chunk)
                if self.decoder is not None:
                    chunk = self.decoder.decompress(chunk)
                buffer += chunk
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    self._parse(block.decode())
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        self.ended = True
        if self._writer is not None:
            self._writer.close()

    def _parse(self, block: str) -> None:
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                self.comments += 1
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "data" in fields and "id" not in fields:
            notice = json.loads(fields["data"])
            assert notice["type"] == fields["event"], block
            self.notices.append(notice)
        elif "data" in fields:
            data = json.loads(fields["data"])
            assert data["id"] == fields["id"] and data["type"] == fields["event"], block
            self.events.append(Event(fields["id"], fields["event"], data, fields["data"]))
            self.last_event_id = fields["id"]

    async def wait_for(self, count: int, timeout: float = 20) -> list[Event]:
        async with asyncio.timeout(timeout):
            while len(self.events) < count:
                if self.ended:
                    raise AssertionError(f"stream ended after {len(self.events)} events")
                await asyncio.sleep(0.01)
        return self.events

    async def wait_ended(self, timeout: float = 20) -> None:
        async with asyncio.timeout(timeout):
            while not self.ended:
                await asyncio.sleep(0.01)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


async def _chunks(reader: asyncio.StreamReader, headers: dict[str, str]) -> Any:
    if headers.get("transfer-encoding") != "chunked":
        while data := await reader.read(65536):
            yield data
        return
    while True:
        size_line = await reader.readline()
        if not size_line:
            return
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            await reader.readline()
            yield b""  # the last chunk: the response ended cleanly
            return
        data = await reader.readexactly(size)
        assert await reader.readexactly(2) == b"\r\n", "chunk not terminated by CRLF"
        yield data


@dataclass
class WSReader:
    base_url: str
    path: str
    events: list[Event] = field(default_factory=list)
    others: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    ended: bool = False
    deflate: bool = False  # offer permessage-deflate (the websockets library's default offer)
    _ws: Any = None
    _task: asyncio.Task[None] | None = None

    async def connect(self) -> WSReader:
        url = "ws" + self.base_url.removeprefix("http") + self.path
        compression = "deflate" if self.deflate else None
        self._ws = await websockets.connect(url, max_size=2**22, compression=compression)
        self._task = asyncio.create_task(self._read())
        return self

    async def send(self, message: dict[str, Any]) -> None:
        await self._ws.send(json.dumps(message))

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                assert isinstance(message, str), "events are text frames"
                data = json.loads(message)
                if data.get("type") == "error" or "id" not in data:  # not an event
                    self.others.append(data)
                else:
                    self.events.append(Event(data["id"], data["type"], data, message))
        except websockets.ConnectionClosed:
            pass
        self.close_code = self._ws.close_code
        self.ended = True

    @property
    def last_event_id(self) -> str | None:
        return self.events[-1].id if self.events else None

    @property
    def extensions(self) -> str | None:
        """The Sec-WebSocket-Extensions the server answered."""
        return self._ws.response.headers.get("Sec-WebSocket-Extensions")

    wait_for = SSEReader.wait_for
    wait_ended = SSEReader.wait_ended

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            with contextlib.suppress(BaseException):
                await self._task


async def stalled_reader(
    base_url: str, path: str, headers: str = ""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A reader that asks for a stream and then reads nothing, with a tiny receive window:
    a frozen tab on a slow link. Its server-side buffer fills once more bytes are published
    than the kernel's socket buffers hold (4 MB at most here)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    parts = urlsplit(base_url)
    sock.connect((parts.hostname, parts.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{headers}\r\n".encode())
    await writer.drain()
    return reader, writer


BIG_BODY = "<p>" + "news " * 10_000 + "</p>"  # 50 KB: 160 of them outgrow any socket buffer


class Editor:
    """The editor API over HTTP, as a newsroom tool would call it."""

    def __init__(self, base_url: str, token: str = ADMIN_TOKEN) -> None:
        self.base_url = base_url
        self.http = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )

    async def create_blog(
        self, slug: str, title: str = "Test blog", **fields: Any
    ) -> dict[str, Any]:
        response = await self.http.post("/api/blogs", json={"slug": slug, "title": title, **fields})
        assert response.status_code == 201, response.text
        return response.json()

    blog = create_blog

    async def post(self, slug: str, **fields: Any) -> dict[str, Any]:
        fields.setdefault("body", "<p>An update.</p>")
        response = await self.http.post(f"/api/blogs/{slug}/entries", json=fields)
        assert response.status_code == 201, response.text
        return response.json()

    async def edit(self, slug: str, entry_id: str, **fields: Any) -> dict[str, Any]:
        response = await self.http.patch(f"/api/blogs/{slug}/entries/{entry_id}", json=fields)
        assert response.status_code == 200, response.text
        return response.json()

    async def delete(self, slug: str, entry_id: str) -> None:
        response = await self.http.delete(f"/api/blogs/{slug}/entries/{entry_id}")
        assert response.status_code == 204, response.text

    async def patch_blog(self, slug: str, **fields: Any) -> dict[str, Any]:
        response = await self.http.patch(f"/api/blogs/{slug}", json=fields)
        assert response.status_code == 200, response.text
        return response.json()

    async def close(self) -> None:
        await self.http.aclose()

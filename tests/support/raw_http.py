"""An HTTP/1.1 request written by hand over a socket: its head, then its body in whatever pieces
and at whatever pace a test chooses (a trickle, a pause, nothing at all); the answer read as
the server framed it, and the close seen when it comes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RawRequest:
    base_url: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None

    async def open(self, first_body_bytes: bytes = b"") -> RawRequest:
        """Connect and send the head (and these first bytes of the body with it)."""
        parts = urlsplit(self.base_url)
        self._reader, self._writer = await asyncio.open_connection(parts.hostname, parts.port)
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + first_body_bytes)
        await self._writer.drain()
        return self

    async def send(self, data: bytes) -> bool:
        """More of the body; False once the server has closed the connection."""
        assert self._writer is not None
        if self._writer.is_closing():
            return False
        try:
            self._writer.write(data)
            await self._writer.drain()
        except ConnectionError:
            return False
        return True

    async def trickle(self, data: bytes, *, every: float) -> None:
        """``data`` a byte at a time, one each ``every`` seconds, until sent or cut off."""
        for i in range(len(data)):
            if not await self.send(data[i : i + 1]):
                return
            await asyncio.sleep(every)

    async def paced(self, data: bytes, *, bytes_per_second: int, piece: int = 4096) -> bool:
        """``data`` at a steady rate, as a slow link would carry it."""
        for start in range(0, len(data), piece):
            if not await self.send(data[start : start + piece]):
                return False
            await asyncio.sleep(piece / bytes_per_second)
        return True

    async def answer(self) -> Answer:
        """The response's status, headers and body (Content-Length framed)."""
        assert self._reader is not None
        status_line = await self._reader.readline()
        if not status_line:
            raise ConnectionError("closed without an answer")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await self._reader.readexactly(int(headers.get("content-length", "0")))
        if status == 100:  # an interim answer: the real one follows
            return await self.answer()
        return Answer(status, headers, body)

    async def interim(self) -> int:
        """The status of the next response line (100 Continue), its empty head read too."""
        assert self._reader is not None
        status = int((await self._reader.readline()).split()[1])
        assert await self._reader.readline() == b"\r\n"
        return status

    async def closed(self) -> bool:
        """Wait for the server to close the connection (whatever it sends first is read);
        True once it has."""
        assert self._reader is not None
        with contextlib.suppress(ConnectionError):
            while await self._reader.read(65536):
                pass
        return True

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

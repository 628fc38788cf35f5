"""A WebSocket client that speaks RFC 6455 by hand, to send what no library would: unmasked
frames, reserved opcodes, invalid UTF-8, lengths that lie. It reads the server's close code."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import struct
from dataclasses import dataclass
from urllib.parse import urlsplit

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    length: int | None = None,
) -> bytes:
    """One frame; ``length`` overrides the length the header claims."""
    claimed = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if masked else 0
    if claimed < 126:
        head += bytes([mask_bit | claimed])
    elif claimed < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", claimed)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", claimed)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


@dataclass
class RawSocket:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    status: int

    @classmethod
    async def connect(cls, base_url: str, path: str, **headers: str) -> RawSocket:
        """Open a TCP connection and send an upgrade request; ``headers`` override the
        handshake's (an empty value leaves that header out)."""
        parts = urlsplit(base_url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        fields = {
            "Host": parts.netloc,
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
            "Sec-WebSocket-Version": "13",
        } | {name.replace("_", "-"): value for name, value in headers.items()}
        head = "".join(f"{name}: {value}\r\n" for name, value in fields.items() if value)
        writer.write(f"GET {path} HTTP/1.1\r\n{head}\r\n".encode())
        status = int((await reader.readline()).split()[1])
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        return cls(reader, writer, status)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def read_frame(self) -> tuple[int, bytes]:
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return first & 0x0F, await self.reader.readexactly(length)

    async def close_code(self, timeout: float = 10) -> int | None:
        """Read until the server's close frame; its code (None: the server sent no close
        frame before dropping the connection)."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    opcode, payload = await self.read_frame()
                except (asyncio.IncompleteReadError, ConnectionError):
                    return None
                if opcode == CLOSE:
                    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005

    async def wait_closed(self, timeout: float = 10) -> None:
        """Until the server closes the TCP connection."""
        async with asyncio.timeout(timeout):
            with contextlib.suppress(ConnectionError):
                while await self.reader.read(65536):
                    pass
        await self.close()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()

"""Minimal HTTP/1.1 and WebSocket wire helpers shared by the load generator and the stub.

Hand-written on purpose: the generator must cost far less per delivery than the server it
measures, so nothing here decodes JSON or builds objects per event.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CRLF = b"\r\n"
HEAD_END = b"\r\n\r\n"

# WebSocket opcodes
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def request(
    method: str,
    host: str,
    port: int,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> bytes:
    """Encode one HTTP/1.1 request (keep-alive)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class ResponseHead:
    """Status and headers of an HTTP/1.1 response (header names lower-cased)."""

    __slots__ = ("headers", "status")

    def __init__(self, raw: bytes) -> None:
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        self.headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                self.headers[name.strip().lower()] = value.strip()

    @property
    def chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("content-length")
        return int(value) if value is not None and value.isdigit() else None


class Dechunker:
    """Incremental ``Transfer-Encoding: chunked`` decoder.

    ``feed`` returns ``(start, end)`` spans of payload inside the buffer it returns, so the
    caller scans the original bytes without copying each chunk.
    """

    __slots__ = ("done", "line", "remaining", "skip")

    def __init__(self) -> None:
        self.remaining = 0  # payload bytes still due in the current chunk
        self.skip = 0  # CRLF bytes still to skip after a chunk
        self.line = b""  # partial chunk-size line
        self.done = False

    def feed(self, data: bytes) -> tuple[bytes, list[tuple[int, int]]]:
        if self.line:
            data = self.line + data
            self.line = b""
        spans: list[tuple[int, int]] = []
        pos = 0
        n = len(data)
        while pos < n and not self.done:
            if self.remaining:
                end = min(n, pos + self.remaining)
                spans.append((pos, end))
                self.remaining -= end - pos
                pos = end
                if not self.remaining:
                    self.skip = 2
            elif self.skip:
                take = min(self.skip, n - pos)
                self.skip -= take
                pos += take
            else:
                eol = data.find(CRLF, pos)
                if eol < 0:
                    self.line = data[pos:]
                    break
                size = int(data[pos:eol].split(b";", 1)[0], 16)
                pos = eol + 2
                if size == 0:
                    self.done = True
                else:
                    self.remaining = size
        return data, spans


def ws_key() -> str:
    return base64.b64encode(os.urandom(16)).decode()


def ws_accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()


def ws_upgrade_request(host: str, port: int, path: str, key: str, deflate: bool = False) -> bytes:
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": "13",
    }
    if deflate:  # what browsers offer
        headers["Sec-WebSocket-Extensions"] = "permessage-deflate; client_max_window_bits"
    return request("GET", host, port, path, headers)


def ws_client_frame(opcode: int, payload: bytes = b"") -> bytes:
    """A masked client frame (FIN set). Payloads here are tiny: pong and close."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
    return head + mask + masked


def ws_server_frame(opcode: int, payload: bytes) -> bytes:
    """An unmasked server frame (FIN set): the same bytes for every reader."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def ws_unmask(payload: bytes, mask: bytes) -> bytes:
    if not payload:
        return payload
    key = int.from_bytes((mask * (len(payload) // 4 + 1))[: len(payload)], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(len(payload), "big")

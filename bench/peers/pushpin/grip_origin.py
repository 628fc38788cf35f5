"""The origin behind Pushpin: answers every ``GET /sub/<blog>`` with GRIP instructions.

Pushpin's documented way to serve Server-Sent Events: the origin's response says, in headers,
to hold the request open as a stream on channel ``<blog>`` (``Grip-Hold: stream``,
``Grip-Channel``), with a keep-alive comment every 20 s; Pushpin then holds the reader and
writes what is published to the channel (``POST /publish/`` on its publish port). The origin
sees one request per reader and none per event. Listens on 127.0.0.1 only.

    python grip_origin.py PORT
"""

from __future__ import annotations

import asyncio
import re
import sys

_HOLD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/event-stream\r\n"
    b"Cache-Control: no-cache\r\n"
    b"Grip-Hold: stream\r\n"
    b"Grip-Channel: %s\r\n"
    b"Grip-Keep-Alive: :\\n\\n; format=cstring; timeout=20\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
MAX_HEAD = 16 * 1024
_CHANNEL = re.compile(rb"[a-z0-9-]{1,64}")


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > MAX_HEAD:
                break
            method, path, _ = head.split(b"\r\n", 1)[0].split(b" ", 2)
            channel = path.split(b"?", 1)[0].removeprefix(b"/sub/")
            ok = method == b"GET" and path.startswith(b"/sub/") and _CHANNEL.fullmatch(channel)
            writer.write(_HOLD % channel if ok else _NOT_FOUND)
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))

"""Hostile clients cannot exhaust the server: request heads are bounded in size, count and time,
live streams are capped per process (and per client address when asked), and WebSocket
handshakes come only from the allowed origins. Each limit answers a clear status."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import websockets

from liveblog.config import Settings
from liveblog.streams.admission import RESERVED_FILES, Admission
from tests.support.clients import Editor, SSEReader, WSReader
from tests.support.servers import ServerProcess, serve_in_process


def ws_url(base_url: str, path: str) -> str:
    return "ws" + base_url.removeprefix("http") + path


async def raw_request(base_url: str, request: bytes, *, read: bool = True) -> bytes:
    """Send bytes as they are; return what the server answered before it closed."""
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        with contextlib.suppress(ConnectionError):
            writer.write(request)
            await writer.drain()
        if not read:
            return b""
        async with asyncio.timeout(20):
            return await reader.read()
    finally:
        writer.close()


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def problem_of(answer: bytes) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in head.lower()
    return json.loads(body)


@pytest.fixture
async def server(settings_factory: Callable[..., Settings]) -> AsyncIterator[str]:
    settings = settings_factory(request_head_timeout_seconds=1.0, keepalive_timeout_seconds=1.0)
    async with serve_in_process(settings) as url:
        yield url


async def test_oversized_request_heads_get_431(server: str) -> None:
    host = urlsplit(server).netloc
    huge = b"GET /healthz HTTP/1.1\r\nHost: " + host.encode() + b"\r\nX-Big: " + b"a" * 100_000
    answer = await raw_request(server, huge + b"\r\n\r\n")
    assert status_of(answer) == 431
    assert "64" in str(problem_of(answer)["detail"]) or "65536" in str(problem_of(answer)["detail"])

    many = "".join(f"X-H{i}: {i}\r\n" for i in range(150))
    answer = await raw_request(server, f"GET /healthz HTTP/1.1\r\n{many}\r\n".encode())
    assert status_of(answer) == 431
    assert "100" in str(problem_of(answer)["detail"])

    # Just under the limits is fine, and so is a large body sent with its head in one write.
    async with httpx.AsyncClient(base_url=server) as client:
        fine = await client.get("/healthz", headers={"X-Big": "b" * 60_000})
        assert fine.status_code == 200
        headers = {f"X-H{i}": str(i) for i in range(90)}
        assert (await client.get("/healthz", headers=headers)).status_code == 200
    editor = Editor(server)
    await editor.create_blog("big")
    body = json.dumps({"body": "<p>" + "x" * 900_000 + "</p>"}).encode()
    request = (
        f"POST /api/blogs/big/entries HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: {editor.http.headers['authorization']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    answer = await raw_request(server, request + body)
    assert status_of(answer) == 422  # judged on its content (entry HTML over 64 KiB), not 431
    await editor.close()


async def test_slow_and_silent_sockets_are_let_go_while_others_are_served(server: str) -> None:
    parts = urlsplit(server)
    slow: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for batch in range(10):
        opened = await asyncio.gather(
            *(asyncio.open_connection(parts.hostname, parts.port) for _ in range(100))
        )
        for i, (_, writer) in enumerate(opened):
            if (batch + i) % 4:  # three in four send part of a head; the rest say nothing
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        slow.extend(opened)
    # A normal request is answered while 1,000 slow sockets hang.
    async with httpx.AsyncClient(base_url=server) as client:
        assert (await client.get("/healthz")).status_code == 200
    # Each slow socket is closed by the server, with 408 once the head's time is up.
    async with asyncio.timeout(30):
        answers = await asyncio.gather(*(reader.read() for reader, _ in slow))
    assert {status_of(a) for a in answers} == {408}
    for _, writer in slow:
        writer.close()


async def test_idle_keepalive_connections_are_closed(server: str) -> None:
    parts = urlsplit(server)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(f"GET /healthz HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
    async with asyncio.timeout(20):
        answer = await reader.read()  # the answer, then the close after the idle timeout
    assert status_of(answer) == 200
    writer.close()


async def test_streams_over_the_cap_get_503_and_open_ones_are_untouched(
    settings_factory: Callable[..., Settings],
) -> None:
    async with serve_in_process(settings_factory(max_connections=4)) as url:
        editor = Editor(url)
        await editor.create_blog("cap")
        readers: list[SSEReader | WSReader] = [
            *(SSEReader(url, "/blogs/cap/events") for _ in range(2)),
            *(WSReader(url, "/blogs/cap/ws") for _ in range(2)),
        ]
        for reader in readers:
            await reader.connect()
        async with httpx.AsyncClient(base_url=url) as client:
            refused = await client.get("/blogs/cap/events")
            assert refused.status_code == 503
            assert refused.headers["content-type"] == "application/problem+json"
            assert int(refused.headers["retry-after"]) >= 1
            with pytest.raises(websockets.InvalidStatus) as handshake:
                await websockets.connect(ws_url(url, "/ws"))
            assert handshake.value.response.status_code == 503
            # The rest of the server still answers.
            assert (await client.get("/metrics")).status_code == 200
            assert (await client.get("/readyz")).status_code == 200
            await editor.post("cap", headline="for those inside")
            for reader in readers:
                assert (await reader.wait_for(1))[0].data["data"]["headline"] == "for those inside"
            # One leaves: one more gets in.
            await readers.pop().close()
            async with asyncio.timeout(10):
                while True:
                    newcomer = await SSEReader(url, "/blogs/cap/events").connect()
                    if newcomer.status == 200:
                        break
                    await newcomer.close()
                    await asyncio.sleep(0.05)
            readers.append(newcomer)
        for reader in readers:
            await reader.close()
        await editor.close()


async def test_streams_per_client_address_can_be_capped(
    settings_factory: Callable[..., Settings],
) -> None:
    # Behind a proxy the client address is the forwarded one (uvicorn trusts 127.0.0.1).
    async with serve_in_process(settings_factory(max_streams_per_client=2)) as url:
        editor = Editor(url)
        await editor.create_blog("per")

        def reader(address: str) -> SSEReader:
            return SSEReader(url, "/blogs/per/events", extra_headers={"X-Forwarded-For": address})

        first = [await reader("192.0.2.1").connect() for _ in range(2)]
        assert [r.status for r in first] == [200, 200]
        third = await reader("192.0.2.1").connect()
        assert third.status == 503
        other = await reader("192.0.2.2").connect()
        assert other.status == 200
        for r in [*first, third, other]:
            await r.close()
        await editor.close()


async def test_websocket_handshakes_only_from_allowed_origins(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(allowed_origins="https://news.example, https://desk.example/")
    async with serve_in_process(settings) as url:
        editor = Editor(url)
        await editor.create_blog("orig")
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(
                ws_url(url, "/blogs/orig/ws"), origin=websockets.Origin("https://evil.example")
            )
        assert refused.value.response.status_code == 403
        for origin in ("https://news.example", "https://desk.example"):
            socket = await websockets.connect(ws_url(url, "/ws"), origin=websockets.Origin(origin))
            await socket.close()
        # No Origin at all: a script, not a browser page another site could abuse.
        socket = await websockets.connect(ws_url(url, "/blogs/orig/ws"))
        await socket.close()
        # SSE is not a WebSocket: EventSource follows CORS, and readers' pages embed anywhere.
        sse = await SSEReader(url, "/blogs/orig/events").connect()
        assert sse.status == 200
        await sse.close()
        await editor.close()


def test_the_default_stream_cap_follows_the_file_limit() -> None:
    assert Admission.from_settings(Settings(), 20_000).max_streams == 20_000 - RESERVED_FILES
    assert Admission.from_settings(Settings(max_connections=50), 20_000).max_streams == 50


@pytest.fixture
def memory_server() -> Iterator[ServerProcess]:
    process = ServerProcess({"LIVEBLOG_REDIS_URL": ""})
    process.start()
    yield process
    process.stop()


def _open_files_limits(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open-files limit")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_refused_heads_do_not_grow_the_servers_memory(memory_server: ServerProcess) -> None:
    """Six clients each try to send 50 MiB of headers: each is cut off after 64 KiB, and the
    server holds none of it (before the limit, this took the server to 2 GiB)."""
    assert memory_server.process is not None
    pid = memory_server.process.pid
    soft, hard = _open_files_limits(pid)
    assert soft == hard == resource.getrlimit(resource.RLIMIT_NOFILE)[1]  # raised at start

    before = _rss_kib(pid)
    chunk = b"X-Flood: " + b"f" * (1 << 20) + b"\r\n"

    async def flood() -> bytes:
        parts = urlsplit(memory_server.url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
        with contextlib.suppress(ConnectionError):
            for _ in range(50):
                writer.write(chunk)
                await writer.drain()
        answer = b""
        with contextlib.suppress(ConnectionError):  # cut off mid-write: a reset, not a read
            async with asyncio.timeout(20):
                answer = await reader.read()
        writer.close()
        return answer

    answers = await asyncio.gather(*(flood() for _ in range(6)))
    assert all(a == b"" or status_of(a) == 431 for a in answers)
    growth_mib = (_rss_kib(pid) - before) / 1024
    assert growth_mib < 16, f"RSS grew by {growth_mib:.1f} MiB"
    async with httpx.AsyncClient(base_url=memory_server.url) as client:
        assert (await client.get("/readyz")).status_code == 200

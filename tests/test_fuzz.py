"""Fuzzing: the API by its own OpenAPI document, and the streams by a corpus of what a hostile or
broken client can send. Every answer is clean (never a 5xx; problem+json for API errors; a
reset, an error message or a close code on the streams), and the server stays healthy after."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import websockets
from schemathesis import GenerationMode

from tests.conftest import make_settings
from tests.support import fuzzing, raw_ws
from tests.support.clients import Editor, SSEReader
from tests.support.metrics import scrape
from tests.support.servers import ADMIN_TOKEN, ServerProcess, serve_in_process

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
EXAMPLES = 25  # per operation, mode and set of path parameters: ~1,500 requests in all


def fuzz_api(base_url: str, known: dict[str, str]) -> fuzzing.Report:
    """Every operation: schemathesis's coverage cases, then generated valid and invalid
    requests, first with generated path parameters (mostly unknown blogs and entries), then
    with ``known`` ones (the seeded blog, entry and token), so bodies reach the store."""
    report = fuzzing.Report()
    fuzzer = fuzzing.Fuzzer(base_url, ADMIN_TOKEN, report)
    for op in fuzzing.operations(fuzzing.load(base_url)):
        fuzzer.coverage(op)
        fixed = {name: value for name, value in known.items() if f"{{{name}}}" in op.path}
        for mode in GenerationMode:
            fuzzer.generated(op, mode, EXAMPLES)
            if fixed:
                fuzzer.generated(op, mode, EXAMPLES, **fixed)
    return report


async def assert_healthy(client: httpx.AsyncClient) -> dict[str, float]:
    assert (await client.get("/readyz")).status_code == 200
    samples = await scrape(client)
    errors = {k: v for k, v in samples.items() if k.startswith("liveblog_task_errors_total")}
    assert not any(errors.values()), errors
    return samples


async def test_fuzzing_the_api_finds_no_server_error_and_only_problem_json(
    server_process: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    # `liveblog serve` on the suite's Redis; the photos it is sent go to a temporary folder
    server = server_process(LIVEBLOG_MEDIA_DIR=str(tmp_path))
    async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=10) as client:
        blog = await client.post("/api/blogs", json={"slug": "fuzz", "title": "Fuzz"})
        entry = await client.post("/api/blogs/fuzz/entries", json={"body": "<p>first</p>"})
        token = await client.post("/api/tokens", json={"name": "fuzz", "role": "editor"})
        assert [r.status_code for r in (blog, entry, token)] == [201, 201, 201]
        known = {"slug": "fuzz", "entry_id": entry.json()["id"], "token_id": token.json()["id"]}

        report = await asyncio.to_thread(fuzz_api, server.url, known)

        failures = "\n\n".join(f"{label}: {kind}\n{detail}" for (label, kind), detail in
                               sorted(report.failures.items()))  # fmt: skip
        assert not failures, failures
        spec = (await client.get("/api/openapi.json")).json()
        labels = {f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m in ops
                  if m != "parameters"}  # fmt: skip
        assert set(report.statuses) == labels
        # Each operation also succeeded: the fuzzing got past the token and reached the store.
        for label, statuses in report.statuses.items():
            assert any(200 <= status < 300 for status in statuses), (label, statuses)
        assert report.requests > 1000
    await assert_all_gone(server.url)  # the streams it opened and dropped left nothing


# --- what the fuzzing found in the API ------------------------------------------------------


@pytest.fixture
async def url(redis_url: str) -> AsyncIterator[str]:
    async with serve_in_process(make_settings(redis_url)) as base_url:
        yield base_url


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == fuzzing.PROBLEM
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


async def test_a_method_a_path_does_not_take_is_405_problem_json_with_every_allowed(
    url: str,
) -> None:
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as client:
        for method, path, allowed in [
            ("DELETE", "/api/blogs", {"GET", "HEAD", "POST"}),
            ("PUT", "/api/blogs/x", {"GET", "HEAD", "PATCH"}),
            ("POST", "/api/blogs/x/entries/y", {"GET", "HEAD", "PATCH", "DELETE"}),
            ("GET", "/api/tokens/x", {"PATCH", "DELETE"}),
        ]:
            response = await client.request(method, path)
            assert_problem(response, 405)
            assert set(response.headers["allow"].split(", ")) == allowed, path
        assert_problem(await client.get("/api/nothing-here"), 404)
        # Outside /api, Starlette's plain answers stay (pages have their own 404s).
        response = await client.delete("/healthz")
        assert response.status_code == 405 and response.headers["content-type"].startswith(
            "text/plain"
        )


async def test_a_garbled_if_match_on_a_missing_entry_is_404_not_412(url: str) -> None:
    editor = Editor(url)
    await editor.create_blog("ifm")
    entry = await editor.post("ifm")
    for value in ("", "garbage", '"²"'):
        headers = {"If-Match": value.encode()}
        missing = await editor.http.patch("/api/blogs/ifm/entries/nope", json={}, headers=headers)
        assert_problem(missing, 404)
        present = f"/api/blogs/ifm/entries/{entry['id']}"
        assert_problem(await editor.http.patch(present, json={}, headers=headers), 412)
    await editor.close()


# --- the streams: a corpus of hostile input ------------------------------------------------


@pytest.fixture(params=[True, False], ids=["fast-path", "plain"])
async def stream_url(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[str]:
    async with serve_in_process(make_settings(redis_url), fast_path=request.param) as base_url:
        yield base_url


def ws_url(base_url: str, path: str) -> str:
    return "ws" + base_url.removeprefix("http") + path


async def assert_all_gone(base_url: str) -> None:
    """Once the clients have left: no connection counted, no task failed, still ready."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        async with asyncio.timeout(10):
            while True:
                samples = await assert_healthy(client)
                open_ = {k: v for k, v in samples.items() if k.startswith("liveblog_connections{")}
                assert open_, "no liveblog_connections gauge"
                if not any(open_.values()):
                    return
                await asyncio.sleep(0.05)


def garbled_resume_ids(position: str) -> list[str]:
    """Resume ids a browser could send (any header byte but CR, LF and NUL): none names a
    point of the blog's history, so each must get a reset, then the live stream."""
    epoch, _, offset = position.rpartition("-")
    return [
        "-", "--", "0", "-1", "x-", "-x", "x--1", "x-+1", "x-1e3", "x-0x10", "x-1_0", "x-1.0",
        "null", "undefined", "[object Object]", "\u202e-1", "x-\u0661\u0662", "x-\uff11",
        "x-\u00b2", "é" * 2000, "9" * 16_000, f"x-{'9' * 16_000}", f"{epoch}--1",
        f"{epoch}-{int(offset) + 1}0000000", f"{epoch}-{'0' * 40}1", f"{epoch}-{'9' * 19}",
        f"{epoch}-\u0661", f"{epoch}x-{offset}", f"{epoch} - {offset}", f"{epoch}-{offset}-",
    ]  # fmt: skip


async def test_garbled_resume_ids_get_a_reset_then_the_live_stream(stream_url: str) -> None:
    editor = Editor(stream_url)
    position = (await editor.create_blog("resume"))["last_event_id"]
    garbled = garbled_resume_ids(position)
    readers = [
        *(SSEReader(stream_url, "/blogs/resume/events", last_event_id=i) for i in garbled),
        # The query is percent-encoded; a browser encodes NUL and newlines too, and may send
        # bytes that are no UTF-8 or a stray %.
        *(SSEReader(stream_url, f"/blogs/resume/events?last_event_id={quote(i)}") for i in
          [*garbled, "\x00", "1\n2", "\r\n"]),
        *(SSEReader(stream_url, f"/blogs/resume/events?last_event_id={raw}") for raw in
          ["%FF%FE", "%", "%zz", "%E2%80%AE-1", "x-%00"]),
    ]  # fmt: skip
    silent = [  # no resume id at all: live, no reset
        SSEReader(stream_url, "/blogs/resume/events", last_event_id=""),
        SSEReader(stream_url, "/blogs/resume/events?last_event_id="),
        SSEReader(stream_url, "/blogs/resume/events", last_event_id=" \t "),
    ]
    for reader in [*readers, *silent]:
        await reader.connect()
        assert reader.status == 200, (reader.path[:80], reader.last_event_id)

    entry = await editor.post("resume", headline="after the garbage")
    for reader in readers:
        events = await reader.wait_for(2)
        assert [e.type for e in events] == ["reset", "entry.created"], reader.path[:80]
        assert events[0].id == position and events[1].data["data"]["id"] == entry["id"]
    for reader in silent:
        assert [e.type for e in await reader.wait_for(1)] == ["entry.created"]
    for reader in [*readers, *silent]:
        await reader.close()
    await editor.close()
    await assert_all_gone(stream_url)


# Messages to /ws that must each be answered by one error message, the socket staying open.
BAD_OPS: list[str | bytes] = [
    "", " ", "{", "}", "null", "[]", "1", "1e400", '"subscribe"', "{}", "\x00", "\ufeff{}",
    '{"op": 1}', '{"op": null, "blog": "ops"}', '{"op": "subscribe"}',
    '{"op": "subscribe", "blog": 5}', '{"op": "subscribe", "blog": null}',
    '{"op": "subscribe", "blog": ["ops"]}', '{"op": "subscribe", "blog": {"$ne": 1}}',
    '{"op": "subscribe", "blog": "ops", "last_event_id": 5}',
    '{"op": "subscribe", "blog": "ops", "last_event_id": ["x"]}',
    '{"op": "publish", "blog": "ops"}', '{"op": "SUBSCRIBE", "blog": "ops"}',
    '{"op": "subscribe", "blog": "ops", "extra": true}', '{"op": "subscribe", "blog": "Ops"}',
    '{"op": "subscribe", "blog": "ops\\n"}', '{"op": "subscribe", "blog": "ops\\u0000"}',
    '{"op": "subscribe", "blog": "\\u0661"}', '{"op": "unsubscribe", "blog": 0}',
    '{"op": "subscribe", "blog": "nope"}',  # well formed, but no such blog
    '{"op": "subscribe", "blog": "' + "a" * 60_000 + '"}',
    "[" * 60_000, '{"op": "subscribe", "blog": "ops"' + " " * 60_000,
    b"\xff\xfe\x00", b'{"op": "subscribe", "blog": "nope"}', b"\x80" * 1000,
]  # fmt: skip
# Over 64 KiB a message is not read at all: the socket is closed with 1009 (message too big).
BIG_OPS: list[str | bytes] = [
    '{"op": "subscribe", "blog": "' + "a" * 100_000 + '"}',
    "[" * 100_000,
    '{"op": "subscribe", "blog": "ops"' + " " * 500_000,
    "x" * (1 << 20),  # 1 MiB of garbage
]


async def test_hostile_dashboard_messages_get_an_error_each_and_the_socket_stays_live(
    stream_url: str,
) -> None:
    editor = Editor(stream_url)
    position = (await editor.create_blog("ops"))["last_event_id"]
    async with websockets.connect(ws_url(stream_url, "/ws"), max_size=None) as socket:

        async def answer() -> dict[str, Any]:
            reply = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert set(reply) == {"type", "blog", "data"} and len(reply["data"]["message"]) < 500
            return reply

        for message in BAD_OPS:
            await socket.send(message)
            assert (await answer())["type"] == "error", message[:60]

        # 1,000 subscribes: to blogs that do not exist (an error each), to the same real
        # blog (it is subscribed once, silently), and as many unsubscribes.
        for i in range(1000):
            await socket.send(json.dumps({"op": "subscribe", "blog": f"nope-{i}"}))
            assert (await answer())["blog"] == f"nope-{i}"
        for _ in range(1000):
            await socket.send(json.dumps({"op": "subscribe", "blog": "ops"}))
            await socket.send(json.dumps({"op": "unsubscribe", "blog": "ops"}))
        # A garbled resume id is a reset for that blog, then live.
        await socket.send(json.dumps({"op": "subscribe", "blog": "ops", "last_event_id": "x"}))
        reset = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert (reset["type"], reset["blog"], reset["id"]) == ("reset", "ops", position)
        for _ in range(1000):
            await socket.send(json.dumps({"op": "subscribe", "blog": "ops"}))
        entry = await editor.post("ops", headline="still here")
        event = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert (event["type"], event["data"]["id"]) == ("entry.created", entry["id"])
    for message in BIG_OPS:
        async with websockets.connect(ws_url(stream_url, "/ws"), max_size=None) as socket:
            await socket.send(message)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    await editor.close()
    await assert_all_gone(stream_url)


# Raw frames to a reader's socket, and the close code each must get (RFC 6455 section 7.4).
BAD_FRAMES = {
    "unmasked": (raw_ws.frame(raw_ws.TEXT, b"hi", masked=False), 1002),
    "reserved opcode": (raw_ws.frame(0x3, b"x"), 1002),
    "reserved control opcode": (raw_ws.frame(0xB, b"x"), 1002),
    "RSV1 without an extension": (raw_ws.frame(raw_ws.TEXT, b"x", rsv=4), 1002),
    "fragmented ping": (raw_ws.frame(raw_ws.PING, b"x", fin=False), 1002),
    "ping over 125 bytes": (raw_ws.frame(raw_ws.PING, b"x" * 126), 1002),
    "continuation of nothing": (raw_ws.frame(0x0, b"x"), 1002),
    "text inside a fragmented text": (
        raw_ws.frame(raw_ws.TEXT, b"a", fin=False) + raw_ws.frame(raw_ws.TEXT, b"b"), 1002,
    ),
    "invalid UTF-8": (raw_ws.frame(raw_ws.TEXT, b"\xff\xfe"), 1007),
    "UTF-8 cut across fragments": (
        raw_ws.frame(raw_ws.TEXT, b"\xe2\x82", fin=False) + raw_ws.frame(0x0, b"("), 1007,
    ),
    "close code 999": (raw_ws.frame(raw_ws.CLOSE, struct.pack("!H", 999)), 1002),
    "close code 1005": (raw_ws.frame(raw_ws.CLOSE, struct.pack("!H", 1005)), 1002),
    "close of one byte": (raw_ws.frame(raw_ws.CLOSE, b"\x03"), 1002),
    "close reason not UTF-8": (raw_ws.frame(raw_ws.CLOSE, b"\x03\xe8\xff"), 1007),
    "length of 2**63": (raw_ws.frame(raw_ws.TEXT, length=1 << 63), 1009),
    "length of 100 MiB": (raw_ws.frame(raw_ws.TEXT, length=100 << 20), 1009),
    "a 1 MiB message": (raw_ws.frame(raw_ws.TEXT, b"x" * (1 << 20)), 1009),
    "close 1000": (raw_ws.frame(raw_ws.CLOSE, struct.pack("!H", 1000)), 1000),
    "close 4000": (raw_ws.frame(raw_ws.CLOSE, struct.pack("!H", 4000) + b"bye"), 4000),
    "empty close": (raw_ws.frame(raw_ws.CLOSE), 1005),
}  # fmt: skip


async def test_raw_frames_on_a_reader_socket_get_their_close_code(stream_url: str) -> None:
    editor = Editor(stream_url)
    await editor.create_blog("raw")
    # What a reader says on its own socket is ignored; pings are answered; it stays live.
    chatty = await raw_ws.RawSocket.connect(stream_url, "/blogs/raw/ws")
    assert chatty.status == 101
    for data in [b"hello", b"", b"\x00" * 100, b"x" * 60_000]:
        chatty.send(raw_ws.frame(raw_ws.TEXT, data) + raw_ws.frame(raw_ws.BINARY, data))
    chatty.send(raw_ws.frame(raw_ws.PING, b"are you there"))
    assert await chatty.read_frame() == (raw_ws.PONG, b"are you there")
    entry = await editor.post("raw")
    opcode, payload = await chatty.read_frame()
    assert opcode == raw_ws.TEXT and json.loads(payload)["data"]["id"] == entry["id"]

    for name, (data, code) in BAD_FRAMES.items():
        socket = await raw_ws.RawSocket.connect(stream_url, "/blogs/raw/ws")
        assert socket.status == 101
        socket.send(data)
        assert await socket.close_code() == code, name
        await socket.wait_closed()
    # Handshakes that are not WebSocket 13 get a plain HTTP refusal.
    for headers in [{"Sec_WebSocket_Version": "12"}, {"Sec_WebSocket_Key": ""},
                    {"Sec_WebSocket_Key": "short"}]:  # fmt: skip
        socket = await raw_ws.RawSocket.connect(stream_url, "/blogs/raw/ws", **headers)
        assert socket.status == 400, headers
        await socket.close()

    entry = await editor.post("raw")  # the reader that stayed is still served
    opcode, payload = await chatty.read_frame()
    assert opcode == raw_ws.TEXT and json.loads(payload)["data"]["id"] == entry["id"]
    await chatty.close()
    await editor.close()
    await assert_all_gone(stream_url)

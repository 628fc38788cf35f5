"""Bodies must keep coming (the protocols of `liveblog serve`, liveblog/delivery/guard.py): once
its head is in, a request body must average LIVEBLOG_REQUEST_BODY_MIN_RATE bytes a second
after the first LIVEBLOG_REQUEST_BODY_TIMEOUT_SECONDS, else 408 and the connection is closed;
connections in the middle of a body are capped per process. A slow but honest upload, and one
that waits for its turn, still succeed; streams are not bodies and live on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from PIL import Image

from liveblog.config import Settings
from tests.support.clients import Editor, SSEReader, WSReader
from tests.support.photos import encoded
from tests.support.raw_http import RawRequest
from tests.support.servers import ADMIN_TOKEN, serve_in_process

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PROBLEM = "application/problem+json"
pytestmark = pytest.mark.parametrize("engine_name", ["memory"])  # the HTTP layer is judged


def blog_request(url: str, *, token: bool = True, length: int = 1000) -> RawRequest:
    headers = {"Content-Type": "application/json", "Content-Length": str(length)}
    return RawRequest(url, "POST", "/api/blogs", {**(AUTH if token else {}), **headers})


def upload_request(url: str, length: int, **extra: str) -> RawRequest:
    headers = {**AUTH, "Content-Type": "image/jpeg", "Content-Length": str(length), **extra}
    return RawRequest(url, "POST", "/api/blogs/pace/media", headers)


def noisy_jpeg(side: int) -> bytes:
    return encoded(Image.effect_noise((side, side), 70).convert("RGB"), "JPEG", quality=95)


async def test_trickled_bodies_get_408_and_are_closed_once_their_time_is_up(
    settings_factory: Callable[..., Settings],
) -> None:
    """The defaults: 10 s, then 1 KiB/s on average. 50 bodies trickled at a byte every 3 s
    are each cut off by ~11 s; half of them were sent without a token (answered 401 at once,
    and held open by their trickle before: 35 s and more)."""
    settings = settings_factory()
    assert (settings.request_body_timeout_seconds, settings.request_body_min_rate) == (10, 1024)
    async with serve_in_process(settings) as url:
        loop = asyncio.get_running_loop()
        requests = [blog_request(url, token=i % 2 == 0) for i in range(50)]
        started = loop.time()
        for request in requests:
            await request.open(b"{")
        trickles = [asyncio.create_task(r.trickle(b" " * 999, every=3)) for r in requests]

        async def answer_and_close(request: RawRequest) -> tuple[int, str, float]:
            answer = await request.answer()
            await request.closed()
            return answer.status, answer.headers.get("content-type", ""), loop.time()

        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/healthz")).status_code == 200  # served meanwhile
        async with asyncio.timeout(60):
            results = await asyncio.gather(*(answer_and_close(r) for r in requests))
        for trickle in trickles:
            trickle.cancel()
        with_token, without = results[0::2], results[1::2]
        assert {(status, kind) for status, kind, _ in with_token} == {(408, PROBLEM)}
        assert {status for status, _, _ in without} == {401}
        # None was cut before its 10 s were up (the server's clock cannot run early).
        assert min(closed for _, _, closed in results) - started >= 10
        for request in requests:
            request.close()


async def test_connections_waiting_on_a_body_are_capped(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(max_request_bodies=3, request_body_timeout_seconds=60)
    async with serve_in_process(settings) as url:
        waiting = [await blog_request(url, length=20).open(b"{") for _ in range(3)]
        over = await blog_request(url, length=20).open(b"{")
        async with asyncio.timeout(20):
            answer = await over.answer()
        assert answer.status == 503
        assert answer.headers["content-type"] == PROBLEM
        assert int(answer.headers["retry-after"]) >= 1
        assert "most request bodies at once (3)" in answer.json()["detail"]
        async with asyncio.timeout(20):
            assert await over.closed()
        over.close()
        # A small body sent just after its head (as httpx writes it) is read as usual.
        async with httpx.AsyncClient(base_url=url, headers=AUTH) as client:
            whole = await client.post("/api/blogs", json={"slug": "whole", "title": "Whole"})
            assert whole.status_code == 201
        # One leaves: one more may wait, and its body is then read as usual.
        waiting.pop().close()
        body = b'{"slug": "late", "title": "Late"}'
        async with asyncio.timeout(20):
            while True:
                newcomer = await blog_request(url, length=len(body)).open(body[:10])
                if await newcomer.send(body[10:]):
                    answer = await newcomer.answer()
                    if answer.status != 503:
                        break
                newcomer.close()
                await asyncio.sleep(0.05)
        assert answer.status == 201, answer.body
        for request in [*waiting, newcomer]:
            request.close()


async def test_a_slow_but_honest_upload_succeeds(
    settings_factory: Callable[..., Settings], tmp_path: object
) -> None:
    """20 MiB at 1 Mbit/s (128 KiB/s: ~160 s, bench/slow_upload.py) scaled down: the first 10 s
    become 1 s, and 160 KiB is sent at 16 KiB/s over ~10 s: ten times the first window, at 16
    times the minimum rate (1 Mbit/s is 128 times it)."""
    settings = settings_factory(request_body_timeout_seconds=1.0, media_dir=str(tmp_path))
    async with serve_in_process(settings) as url:
        editor = Editor(url)
        await editor.create_blog("pace")
        await editor.close()
        photo = noisy_jpeg(400)
        assert 140_000 < len(photo) < 200_000
        request = await upload_request(url, len(photo)).open()
        assert await request.paced(photo, bytes_per_second=16 * 1024)
        async with asyncio.timeout(30):
            answer = await request.answer()
        assert answer.status == 201, answer.body
        request.close()


async def test_time_spent_waiting_for_the_server_is_not_the_clients(
    settings_factory: Callable[..., Settings], tmp_path: object
) -> None:
    """One upload slot, a 1 s body window: while one upload holds the slot for ~5 s, two others
    wait their turn, and neither is cut off for the body the server did not read meanwhile (one
    sent it all and was paused by the server; the other asked for 100 Continue and waited)."""
    settings = settings_factory(
        request_body_timeout_seconds=1.0,
        media_uploads_at_once=1,
        media_dir=str(tmp_path),
    )
    async with serve_in_process(settings) as url:
        editor = Editor(url)
        await editor.create_blog("pace")
        await editor.close()
        small, large = noisy_jpeg(100), noisy_jpeg(700)
        assert len(large) > 4 * 65536  # more than the server reads ahead before it pauses

        holder = await upload_request(url, len(small)).open()
        holding = asyncio.create_task(holder.paced(small, bytes_per_second=4 * 1024, piece=1024))
        await asyncio.sleep(0.5)  # (only so that the holder is first: it is the one paced)
        pushed = await upload_request(url, len(large)).open()
        sent = asyncio.create_task(pushed.send(large))
        patient = await upload_request(url, len(large), Expect="100-continue").open()

        async with asyncio.timeout(60):
            assert await holding
            assert (await holder.answer()).status == 201
            assert await patient.interim() == 100  # asked for its body once its turn came
            assert await patient.send(large)
            assert await sent
            statuses = [(await r.answer()).status for r in (pushed, patient)]
        assert statuses == [201, 201]
        for request in (holder, pushed, patient):
            request.close()


async def test_streams_and_sockets_outlive_the_body_window(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(request_body_timeout_seconds=0.5)
    async with serve_in_process(settings) as url:
        editor = Editor(url)
        await editor.create_blog("pace")
        sse = await SSEReader(url, "/blogs/pace/events").connect()
        ws = await WSReader(url, "/blogs/pace/ws").connect()
        await asyncio.sleep(2)  # four body windows
        await editor.post("pace", headline="still here")
        for reader in (sse, ws):
            assert (await reader.wait_for(1))[0].data["data"]["headline"] == "still here"
            await reader.close()
        await editor.close()

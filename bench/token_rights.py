"""Issue 17's token figures, on ``liveblog serve`` with a Redis of its own (free port):

- stream end: how long a newsroom stream (``GET /api/blogs/{slug}/newsroom/events``) stays open
  after its token is revoked (``DELETE /api/tokens/{id}``), loses the blog (``PATCH`` blogs) or
  expires, with the stream and the admin on one process, and on two processes (stream on the
  first, the admin's request through the second). Measured from the moment the admin's request
  was sent (for expiry: from ``expires_at``) to the end of the stream's response; a stream still
  open after ``--wait`` seconds counts as "never".
- races: ``--races`` tries of ``PATCH`` and ``DELETE`` of the same fresh token sent at once;
  how many tries left the revoked token answering ``GET /api/me`` with 200.

``--source DIR`` runs the server from another checkout (``/work/main`` for the figures before
a change); the measuring code is always this one's. Everything on 127.0.0.1, bounded loops.

    .venv/bin/python bench/token_rights.py [--repeat 10] [--races 40] [--source /work/main]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.redis_server import RedisServer, free_port  # noqa: E402

ADMIN = "bench-admin-token-0123456789abcdef0123456789"
CAUSES = ("revoked", "blogs", "expired")


@contextmanager
def servers(source: Path, redis_url: str, count: int) -> Iterator[list[str]]:
    env = {**os.environ, "LIVEBLOG_REDIS_URL": redis_url, "LIVEBLOG_ADMIN_TOKEN": ADMIN,
           "LIVEBLOG_DEMO": "false", "LIVEBLOG_RATE_LIMIT_PER_SECOND": "10000",
           "LIVEBLOG_RATE_LIMIT_BURST": "10000", "PYTHONPATH": str(source)}  # fmt: skip
    started: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for _ in range(count):
            port = free_port()
            cmd = [sys.executable, "-m", "liveblog", "serve", "--port", str(port)]
            process = subprocess.Popen(
                cmd, env=env, cwd=source, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            started.append((process, f"http://127.0.0.1:{port}"))
        for process, url in started:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"liveblog did not start on {url}")
                time.sleep(0.05)
        yield [url for _, url in started]
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


async def open_stream(url: str, secret: str, slug: str) -> tuple[asyncio.Task[float], Any]:
    """The stream's reader; its task ends (with the loop time of the end) when the response
    does. Returns once the response headers arrived."""
    client = httpx.AsyncClient(base_url=url, timeout=None)
    headers = {"Authorization": f"Bearer {secret}", "Accept": "text/event-stream"}
    request = client.build_request("GET", f"/api/blogs/{slug}/newsroom/events", headers=headers)
    response = await client.send(request, stream=True)
    assert response.status_code == 200, response.status_code

    async def read() -> float:
        try:
            async for _ in response.aiter_raw():
                pass
        except httpx.HTTPError:
            pass
        finally:
            await response.aclose()
            await client.aclose()
        return time.time()

    return asyncio.create_task(read()), client


async def one_end(stream_url: str, admin_url: str, cause: str, n: int, wait: float) -> float | None:
    """Seconds from the admin's request (or expires_at) to the stream's end; None: never."""
    async with httpx.AsyncClient(
        base_url=admin_url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10
    ) as admin:
        body: dict[str, Any] = {"name": f"bench {cause} {n}", "role": "editor", "blogs": ["desk"]}
        expires = datetime.now(UTC) + timedelta(seconds=2)
        if cause == "expired":
            body["expires_at"] = expires.isoformat()
        token = (await admin.post("/api/tokens", json=body)).json()
        reader, client = await open_stream(stream_url, token["token"], "desk")
        await asyncio.sleep(0.3)  # held, and its check at hold time done
        path = f"/api/tokens/{token['id']}"
        start = time.time()
        if cause == "revoked":
            assert (await admin.delete(path)).status_code == 204
        elif cause == "blogs":
            assert (await admin.patch(path, json={"blogs": ["other"]})).status_code == 200
        else:
            start = expires.timestamp()
        try:
            ended = await asyncio.wait_for(asyncio.shield(reader), timeout=wait + 3)
        except TimeoutError:
            reader.cancel()
            await client.aclose()
            return None
        return ended - start


async def ends(urls: list[str], repeat: int, wait: float) -> None:
    async with httpx.AsyncClient(
        base_url=urls[0], headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10
    ) as admin:
        for slug in ("desk", "other"):
            await admin.post("/api/blogs", json={"slug": slug, "title": slug})
    layouts = [("one process", urls[0], urls[0])]
    if len(urls) > 1:
        layouts.append(("two processes", urls[0], urls[1]))
    print("| cause | processes | ended | median | max |")
    print("|---|---|---|---|---|")
    for cause in CAUSES:
        for name, stream_url, admin_url in layouts:
            times = [await one_end(stream_url, admin_url, cause, n, wait) for n in range(repeat)]
            done = [t for t in times if t is not None]
            median = f"{statistics.median(done) * 1000:.1f} ms" if done else "-"
            worst = f"{max(done) * 1000:.1f} ms" if done else "-"
            print(f"| {cause} | {name} | {len(done)}/{repeat} | {median} | {worst} |")


async def races(url: str, tries: int) -> int:
    revived = 0
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10
    ) as admin:
        for n in range(tries):
            body = {"name": f"racer {n}", "role": "editor", "blogs": None}
            token = (await admin.post("/api/tokens", json=body)).json()
            path = f"/api/tokens/{token['id']}"
            await asyncio.gather(
                admin.patch(path, json={"name": f"racer {n}b"}), admin.delete(path)
            )
            async with httpx.AsyncClient(base_url=url) as person:
                headers = {"Authorization": f"Bearer {token['token']}"}
                if (await person.get("/api/me", headers=headers)).status_code == 200:
                    revived += 1
    return revived


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="stream ends per cause and layout")
    parser.add_argument("--races", type=int, default=40)
    parser.add_argument("--wait", type=float, default=10.0, help="seconds before 'never'")
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout to serve")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisServer(Path(tmp))
        redis.start()
        try:
            with servers(args.source.resolve(), redis.url, 2) as urls:
                print(f"source: {args.source}  (Redis on a free port, 2 processes)\n")
                asyncio.run(ends(urls, args.repeat, args.wait))
                revived = asyncio.run(races(urls[0], args.races))
                print(f"\nraces: {revived} of {args.races} revoked tokens answered 200 again")
        finally:
            redis.stop()


if __name__ == "__main__":
    main()

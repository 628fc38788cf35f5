"""What an ordinary write costs the store (issue 20): a POST of an entry by a person whose
token this process already read is ONE Redis command (the apply script): no read of the token
(kept until a change of it is heard), none of the blog (the write finds it missing itself).
Counted with Redis's own MONITOR, on the suite's Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import httpx
import redis.asyncio as aioredis

from tests.conftest import make_settings
from tests.support.clients import Editor
from tests.support.servers import ServerProcess, serve_in_process

POSTS = 20


class Monitor:
    """The commands clients send Redis (MONITOR; not those a script runs), by name."""

    def __init__(self, redis_url: str) -> None:
        self.client = aioredis.from_url(redis_url)
        self.seen: list[str] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Monitor:
        self._monitor = self.client.monitor()
        await self._monitor.connect()
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async with self._monitor as monitor:
            async for command in monitor.listen():
                if command["client_type"] != "lua":
                    self.seen.append(command["command"].split()[0].upper())

    def sent(self) -> list[str]:
        """What was sent so far, but the server's own housekeeping (its timers' calls)."""
        return [name for name in self.seen if name not in HOUSEKEEPING]

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        await self.client.aclose()


# What the server's timers send whatever the requests (the engine subscription's pings, the
# stats reporter's and the scheduler's scripts run as EVALSHA too: counted, and allowed for).
HOUSEKEEPING = {"PING", "INFO", "CONFIG", "CLIENT"}


async def test_a_post_with_a_known_token_is_one_redis_command(redis_url: str) -> None:
    async with serve_in_process(make_settings(redis_url)) as url:
        admin = Editor(url)
        await admin.create_blog("cost")
        issued = await admin.http.post("/api/tokens", json={"name": "Ann", "role": "editor"})
        person = httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {issued.json()['token']}"}
        )
        try:
            # The first post reads the token (and the blog's language, now and then).
            first = await person.post("/api/blogs/cost/entries", json={"body": "<p>0</p>"})
            assert first.status_code == 201
            async with Monitor(redis_url) as monitor:
                await asyncio.sleep(0.2)
                monitor.seen.clear()
                for n in range(POSTS):
                    entry = {"body": f"<p>{n}</p>"}
                    posted = await person.post("/api/blogs/cost/entries", json=entry)
                    assert posted.status_code == 201
                await asyncio.sleep(0.2)  # MONITOR's last lines arrive
            sent = monitor.sent()
            # One script per post; the server's own timers may have run one or two meanwhile.
            assert sent.count("EVALSHA") - POSTS in (0, 1, 2) and set(sent) == {"EVALSHA"}, sent

            # A revoke is heard at once: the kept token is forgotten, the next post refused.
            me = (await person.get("/api/me")).json()
            assert (await admin.http.delete(f"/api/tokens/{me['id']}")).status_code == 204
            refused = await person.post("/api/blogs/cost/entries", json={"body": "<p>x</p>"})
            assert refused.status_code == 401
        finally:
            await person.aclose()
            await admin.close()


async def test_a_missing_blog_is_answered_first_though_the_write_reads_nothing_before(
    redis_url: str,
) -> None:
    async with serve_in_process(make_settings(redis_url)) as url:
        admin = Editor(url)
        await admin.create_blog("mine")
        await admin.create_blog("theirs")
        issued = await admin.http.post(
            "/api/tokens", json={"name": "Bo", "role": "editor", "blogs": ["mine"]}
        )
        person = httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {issued.json()['token']}"}
        )
        entry = {"body": "<p>x</p>"}
        assert (await person.post("/api/blogs/mine/entries", json=entry)).status_code == 201
        assert (await person.post("/api/blogs/theirs/entries", json=entry)).status_code == 403
        assert (await person.post("/api/blogs/none/entries", json=entry)).status_code == 404
        # Whatever else is wrong with it, a write to a missing blog is a 404.
        bad = {"body": 3}
        assert (await person.post("/api/blogs/mine/entries", json=bad)).status_code == 422
        missing = await person.post("/api/blogs/none/entries", json=bad)
        assert missing.status_code == 404
        assert missing.json()["detail"] == "No blog 'none' exists."
        bad_key = {"Idempotency-Key": "k" * 300}
        refused = await person.post("/api/blogs/none/entries", json=entry, headers=bad_key)
        assert refused.status_code == 404
        await person.aclose()
        await admin.close()


async def test_a_token_kept_by_one_process_is_refused_there_once_another_revokes_it(
    server_process: Callable[..., ServerProcess],
) -> None:
    first, second = server_process(), server_process()
    admin = Editor(first.url)
    await admin.create_blog("kept")
    issued = (await admin.http.post("/api/tokens", json={"name": "Cy", "role": "editor"})).json()
    person = httpx.AsyncClient(
        base_url=second.url, headers={"Authorization": f"Bearer {issued['token']}"}
    )
    try:
        for n in range(3):  # the second process now keeps the token
            posted = await person.post("/api/blogs/kept/entries", json={"body": f"<p>{n}</p>"})
            assert posted.status_code == 201
        assert (await admin.http.delete(f"/api/tokens/{issued['id']}")).status_code == 204
        deadline = asyncio.get_running_loop().time() + 2.0
        while (await person.get("/api/me")).status_code != 401:
            assert asyncio.get_running_loop().time() < deadline, "the revoke went unheard"
            await asyncio.sleep(0.02)
        refused = await person.post("/api/blogs/kept/entries", json={"body": "<p>x</p>"})
        assert refused.status_code == 401
    finally:
        await person.aclose()
        await admin.close()

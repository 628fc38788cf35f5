"""docker-compose.yml runs as written: built and brought up by Podman here (Docker where a Docker
daemon answers; tests/support/compose.py), then used through its nginx as readers and editors
would. An app container and the Redis master container are killed under publishing: the
Sentinels promote the replica, the apps follow, nothing acknowledged is lost, readers get each
entry once (or ``reset``). ``down`` then leaves no container behind, in seconds.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.clients import Editor, Event
from tests.support.compose import Stack
from tests.support.resuming import ResumingReader, RetryingPublisher

# One compose project and one subnet: never on two pytest-xdist workers at once.
pytestmark = pytest.mark.xdist_group("compose")

SLUG = "compose"
MASTER, REPLICA = "172.30.80.20", "172.30.80.21"  # docker-compose.yml's Redis addresses
DOWN_SECONDS = 20  # "gone in seconds": the apps stop within their grace (5 s) plus 2 s


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    stack = Stack()
    stack.down()  # what an interrupted run may have left
    stack.build()
    yield stack
    if stack.containers():
        stack.down()


async def wait_ready(url: str, timeout: float = 90) -> None:
    """Through nginx: some app answers /readyz 200 (the apps wait for Redis by themselves)."""
    async with httpx.AsyncClient(base_url=url, timeout=5) as client, asyncio.timeout(timeout):
        while True:
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)


def replica_in_sync(stack: Stack) -> bool:
    """The master has its replica online: what a failover needs to lose nothing."""
    info = stack.execute("redis", "redis-cli", "info", "replication")
    return "connected_slaves:1" in info and "state=online" in info


def sentinel_master(stack: Stack) -> str:
    reply = stack.execute(
        "sentinel-1", "redis-cli", "-p", "26379", "sentinel", "get-master-addr-by-name", "mymaster"
    )
    return reply.split()[0]


def negotiated_protocol(port: int) -> str | None:
    """The protocol nginx picks by ALPN on its TLS port (h2: HTTP/2)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the stack's own self-signed certificate
    context.set_alpn_protocols(["h2", "http/1.1"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        return tls.selected_alpn_protocol()


def check_reader(events: list[Event], headlines: list[str]) -> None:
    created = [e.data["data"]["headline"] for e in events if e.type == "entry.created"]
    assert len(created) == len(set(created)), f"an entry was delivered twice: {created}"
    previous: Event | None = None
    for event in events:
        if previous is not None and event.type != "reset" and previous.type != "reset":
            assert event.offset == previous.offset + 1, f"gap: {previous.id} then {event.id}"
        previous = event
    if not any(e.type == "reset" for e in events):
        assert created == headlines


async def test_the_stack_serves_survives_crashes_and_goes_away(stack: Stack) -> None:
    stack.up()
    await wait_ready(stack.url)
    assert sentinel_master(stack) == MASTER

    editor = Editor(stack.url)
    await editor.create_blog(SLUG)
    readers = [await ResumingReader(stack.url, SLUG, t).start() for t in ("sse", "ws")]
    publisher = RetryingPublisher(stack.url, SLUG)
    try:
        for _ in range(3):
            await publisher.post()
        stack.kill("app1")  # its readers come back through nginx, to the others
        for _ in range(3):
            await publisher.post()
        async with asyncio.timeout(30):  # a replica to fail over to (the apps then WAIT for it)
            while not replica_in_sync(stack):
                await asyncio.sleep(0.2)
        stack.kill("redis")  # the master: the Sentinels promote the replica
        for _ in range(3):
            await publisher.post()  # retried (same key) until the apps follow the new master
        assert sentinel_master(stack) == REPLICA

        acknowledged = [entry["headline"] for entry in publisher.published]
        timeline = (await editor.http.get(f"/api/blogs/{SLUG}/entries?limit=100")).json()
        assert [e["headline"] for e in timeline["entries"]][::-1] == acknowledged
        for reader in readers:
            async with asyncio.timeout(60):
                while not any(
                    e.type == "entry.created" and e.data["data"]["headline"] == acknowledged[-1]
                    for e in reader.events
                ):
                    await asyncio.sleep(0.1)
            check_reader(reader.events, acknowledged)

        # nginx's request id reaches the app: the same id in the response and the app's log.
        response = await editor.http.get(f"/api/blogs/{SLUG}")
        request_id = response.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)
        logs = stack.logs("app2") + stack.logs("app3")
        assert f'"request_id":"{request_id}"' in logs
    finally:
        for reader in readers:
            await reader.stop()
        await publisher.close()
        await editor.close()

    assert negotiated_protocol(stack.https_port) == "h2"  # HTTP/2 to browsers, over TLS

    started = time.monotonic()
    stack.down()
    stack.wait_gone(DOWN_SECONDS - (time.monotonic() - started))
    assert time.monotonic() - started < DOWN_SECONDS

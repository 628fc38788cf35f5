"""SIGTERM always ends ``liveblog serve`` within LIVEBLOG_SHUTDOWN_GRACE_SECONDS plus 2 s, with
Redis up, down (killed), or hanging (SIGSTOP'd, or behind a network that drops everything), and
its readers are told to reconnect first: SSE streams end cleanly, WebSockets close with 1012.

And the stop that once hung a compose ``down``: the process is PID 1 of its container (so the
signal uvicorn raises again at its end does nothing), Redis has just gone, and a reconnect's DNS
lookup of the Redis host never returns. uvloop closes its loop only once that lookup has ended:
the process logged "Finished server process" and then waited until it was killed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.clients import Editor, SSEReader, WSReader
from tests.support.faultproxy import FaultProxy
from tests.support.redis_server import RedisServer
from tests.support.servers import ServerProcess

GRACE = 1.0  # LIVEBLOG_SHUTDOWN_GRACE_SECONDS
LIMIT = GRACE + 2  # the contract
# What a shared, loaded test machine may add to the moment the process is seen gone.
SLACK = 0.5


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own: it is killed and paused."""
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    server.start()
    yield server
    if server.process is not None:
        server.process.send_signal(signal.SIGCONT)
    server.kill()


@pytest.fixture
def started() -> Iterator[list[ServerProcess]]:
    processes: list[ServerProcess] = []
    yield processes
    for process in processes:
        if process.process is not None and process.process.poll() is None:
            process.process.kill()
            process.process.wait(5)


def serve(
    started: list[ServerProcess], redis_url: str, tmp_path: Path, **options: object
) -> ServerProcess:
    env = {"LIVEBLOG_REDIS_URL": redis_url, "LIVEBLOG_SHUTDOWN_GRACE_SECONDS": str(GRACE)}
    process = ServerProcess(env, log=tmp_path / "liveblog.log", **options)  # type: ignore[arg-type]
    started.append(process)
    process.start()
    return process


async def readers(url: str) -> tuple[SSEReader, WSReader]:
    editor = Editor(url)
    await editor.create_blog("stop")
    await editor.post("stop", headline="before")
    await editor.close()
    sse = await SSEReader(url, "/blogs/stop/events", last_event_id=None).connect()
    ws = await WSReader(url, "/blogs/stop/ws").connect()
    return sse, ws


async def stopped_within_limit(process: subprocess.Popen[bytes], pid: int | None = None) -> float:
    """SIGTERM, then the seconds until the process is gone (it must be, within the limit)."""
    started = time.monotonic()
    os.kill(pid or process.pid, signal.SIGTERM)
    try:
        await asyncio.to_thread(process.wait, LIMIT + SLACK)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {LIMIT + SLACK} s after SIGTERM") from None
    return time.monotonic() - started


async def told_to_reconnect(sse: SSEReader, ws: WSReader) -> None:
    await sse.wait_ended(5)
    await ws.wait_ended(5)
    assert sse.clean_end  # the server ended the stream: EventSource reconnects at once
    assert ws.close_code == 1012  # "service restart": come back and resume
    await sse.close()
    await ws.close()


async def test_stops_with_redis_up(
    redis: RedisServer, started: list[ServerProcess], tmp_path: Path
) -> None:
    app = serve(started, redis.url, tmp_path)
    sse, ws = await readers(app.url)
    assert app.process is not None
    await stopped_within_limit(app.process)
    await told_to_reconnect(sse, ws)


async def test_stops_with_redis_down(
    redis: RedisServer, started: list[ServerProcess], tmp_path: Path
) -> None:
    app = serve(started, redis.url, tmp_path)
    sse, ws = await readers(app.url)
    redis.kill()
    await asyncio.sleep(0.5)  # the subscription has noticed, and is reconnecting
    assert app.process is not None
    await stopped_within_limit(app.process)
    await told_to_reconnect(sse, ws)


async def test_stops_with_redis_hanging(
    redis: RedisServer, started: list[ServerProcess], tmp_path: Path
) -> None:
    app = serve(started, redis.url, tmp_path)
    sse, ws = await readers(app.url)
    assert redis.process is not None
    redis.process.send_signal(signal.SIGSTOP)  # there, answering nothing
    await asyncio.sleep(2.5)  # calls in flight, and the stats report, wait on it
    assert app.process is not None
    await stopped_within_limit(app.process)
    await told_to_reconnect(sse, ws)


async def test_stops_with_redis_behind_a_black_hole(
    redis: RedisServer, started: list[ServerProcess], tmp_path: Path
) -> None:
    proxy = FaultProxy(redis.port).start()
    try:
        app = serve(started, proxy.url, tmp_path)
        sse, ws = await readers(app.url)
        proxy.blackhole()
        await asyncio.sleep(2.5)
        assert app.process is not None
        await stopped_within_limit(app.process)
        await told_to_reconnect(sse, ws)
    finally:
        proxy.stop()


def child_of(pid: int) -> int:
    (child,) = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(child)


class SilentDns:
    """A name server on a loopback address of its own that never answers: a DNS lookup asked
    of it waits for the resolver's timeout (set to a minute here)."""

    ADDRESS = "127.77.0.53"

    def __init__(self, directory: Path) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind((self.ADDRESS, 53))
        self.resolv_conf = directory / "resolv.conf"
        self.resolv_conf.write_text(f"nameserver {self.ADDRESS}\noptions timeout:60 attempts:1\n")
        self.hosts = directory / "hosts"

    def close(self) -> None:
        self.socket.close()


async def test_stops_as_pid_1_while_a_dns_lookup_never_returns(
    redis: RedisServer, started: list[ServerProcess], tmp_path: Path
) -> None:
    dns = SilentDns(tmp_path)
    # The Redis host is named in /etc/hosts at first; then the name is removed, so each
    # reconnect asks the silent name server. Its own mount and PID namespaces: PID 1 there.
    dns.hosts.write_text("127.0.0.1 localhost\n127.0.0.1 redis.test\n")
    setup = (
        f"mount --bind {dns.resolv_conf} /etc/resolv.conf && "
        f'mount --bind {dns.hosts} /etc/hosts && exec "$@"'
    )
    wrapper = ["unshare", "--mount", "--pid", "--fork", "--kill-child", "sh", "-c", setup, "sh"]
    try:
        app = serve(started, f"redis://redis.test:{redis.port}/0", tmp_path, wrapper=wrapper)
        assert app.process is not None
        pid_1 = child_of(app.process.pid)
        sse, ws = await readers(app.url)
        dns.hosts.write_text("127.0.0.1 localhost\n")
        redis.kill()
        await asyncio.sleep(2.5)  # reconnects wait on lookups that never end
        await stopped_within_limit(app.process, pid=pid_1)
        await told_to_reconnect(sse, ws)
        log = (tmp_path / "liveblog.log").read_text()
        assert "Finished server process" in log
    finally:
        dns.close()

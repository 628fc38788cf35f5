"""No data lost by configuration: a Redis that may evict keys is refused.

``liveblog serve`` waits for Redis, then refuses to start, in one line, on a Redis whose
``maxmemory-policy`` is not ``noeviction``, unless LIVEBLOG_ALLOW_EVICTING_REDIS=1; where
``CONFIG GET`` is refused it warns and starts. A policy changed while the server runs makes
``/readyz`` fail and shows in the metrics, until it is changed back. On a cluster every master
is read; behind Sentinel, the master.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from liveblog.app import create_app
from liveblog.engine import make_engine
from liveblog.ops import eviction
from tests.conftest import make_settings
from tests.support.metrics import samples
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_sentinel import RedisSentinel
from tests.support.redis_server import RedisServer, free_port
from tests.support.servers import ServerProcess, serve_app


@pytest.fixture
def make_redis(tmp_path: Path) -> Iterator[list[RedisServer]]:
    """Start Redis servers of this test's own (with extra arguments); all stopped at the end."""
    servers: list[RedisServer] = []
    yield servers
    for server in servers:
        server.stop()


def own_redis(servers: list[RedisServer], tmp_path: Path, *extra: str) -> RedisServer:
    directory = tmp_path / f"redis-{len(servers)}"
    directory.mkdir()
    server = RedisServer(directory, extra=extra)
    servers.append(server)
    server.start()
    return server


def serve_once(redis_url: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``liveblog serve`` on that Redis, expected to stop by itself."""
    environ = ServerProcess({"LIVEBLOG_REDIS_URL": redis_url, **env}).env
    command = [sys.executable, "-m", "liveblog", "serve", "--port", str(free_port())]
    return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=30)


def test_serve_refuses_an_evicting_redis_in_one_line(
    make_redis: list[RedisServer], tmp_path: Path
) -> None:
    evicting = own_redis(make_redis, tmp_path, "--maxmemory-policy", "allkeys-lru")
    result = serve_once(evicting.url, tmp_path)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert f"Redis at 127.0.0.1:{evicting.port} may evict keys" in line
    assert "maxmemory-policy allkeys-lru" in line
    assert "LIVEBLOG_ALLOW_EVICTING_REDIS=1" in line


def test_an_evicting_redis_is_served_when_allowed(
    make_redis: list[RedisServer], tmp_path: Path
) -> None:
    evicting = own_redis(make_redis, tmp_path, "--maxmemory-policy", "volatile-lru")
    app = ServerProcess(
        {"LIVEBLOG_REDIS_URL": evicting.url, "LIVEBLOG_ALLOW_EVICTING_REDIS": "1"},
        log=tmp_path / "liveblog.log",
    )
    app.start()
    try:
        ready = httpx.get(f"{app.url}/readyz")
        assert ready.status_code == 200, ready.text
        metrics = samples(httpx.get(f"{app.url}/metrics").text)
        assert metrics["liveblog_redis_evicting"] == 1
        server = f"127.0.0.1:{evicting.port}"
        assert (
            metrics[f"liveblog_redis_maxmemory_policy{{policy=volatile-lru,server={server}}}"] == 1
        )
    finally:
        app.stop()
    log = (tmp_path / "liveblog.log").read_text()
    assert "may evict keys (maxmemory-policy volatile-lru" in log and "(allowed)" in log


def test_a_redis_that_refuses_config_get_is_served_with_a_warning(
    make_redis: list[RedisServer], tmp_path: Path
) -> None:
    managed = own_redis(make_redis, tmp_path, "--rename-command", "CONFIG", "")
    app = ServerProcess({"LIVEBLOG_REDIS_URL": managed.url}, log=tmp_path / "liveblog.log")
    app.start()
    try:
        assert httpx.get(f"{app.url}/readyz").status_code == 200
        metrics = samples(httpx.get(f"{app.url}/metrics").text)
        assert metrics["liveblog_redis_evicting"] == 0
        server = f"127.0.0.1:{managed.port}"
        assert metrics[f"liveblog_redis_maxmemory_policy{{policy=unknown,server={server}}}"] == 1
    finally:
        app.stop()
    log = (tmp_path / "liveblog.log").read_text()
    assert f"cannot read maxmemory-policy of {server} (CONFIG GET refused)" in log


def test_serve_waits_for_redis_to_come_up(make_redis: list[RedisServer], tmp_path: Path) -> None:
    """Compose starts everything at once (Podman's ignores health conditions): the app waits
    for Redis rather than crash, and serves once it answers."""
    port = free_port()
    app = ServerProcess(
        {"LIVEBLOG_REDIS_URL": f"redis://127.0.0.1:{port}/0"}, log=tmp_path / "liveblog.log"
    )
    app.start(wait=False)
    log = tmp_path / "liveblog.log"
    try:
        deadline = time.monotonic() + 20
        while f"waiting for Redis at 127.0.0.1:{port}" not in log.read_text():
            assert app.process is not None and app.process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "it never said it was waiting"
            time.sleep(0.05)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{app.url}/healthz")  # not serving while it waits
        directory = tmp_path / "late"
        directory.mkdir()
        late = RedisServer(directory, port=port)
        make_redis.append(late)
        late.start()
        app.wait_ready()
    finally:
        app.stop()


async def test_a_policy_changed_later_fails_readiness_until_changed_back(
    redis_url: str,
) -> None:
    app = create_app(make_settings(redis_url))
    app.state.eviction.interval = 0.1  # production looks every 30 s
    direct = redis.Redis.from_url(redis_url)
    try:
        async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
            async with asyncio.timeout(10):
                while (await client.get("/readyz")).status_code != 200:
                    await asyncio.sleep(0.05)
            direct.config_set("maxmemory-policy", "allkeys-lru")
            async with asyncio.timeout(10):
                while (ready := await client.get("/readyz")).status_code == 200:
                    await asyncio.sleep(0.05)
            assert ready.status_code == 503
            assert "allkeys-lru" in ready.json()["checks"]["eviction"]
            metrics = samples((await client.get("/metrics")).text)
            assert metrics["liveblog_redis_evicting"] == 1
            assert metrics["liveblog_ready"] == 0

            direct.config_set("maxmemory-policy", "noeviction")
            async with asyncio.timeout(10):
                while (await client.get("/readyz")).status_code != 200:
                    await asyncio.sleep(0.05)
            metrics = samples((await client.get("/metrics")).text)
            assert metrics["liveblog_redis_evicting"] == 0
    finally:
        direct.config_set("maxmemory-policy", "noeviction")
        direct.close()


async def test_every_master_of_a_cluster_is_read(
    cluster_url: str, redis_cluster: RedisCluster
) -> None:
    engine = make_engine(make_settings(cluster_url, redis_cluster=True))
    master = redis_cluster.masters()[-1]
    client = redis.Redis(port=master)
    try:
        client.config_set("maxmemory-policy", "allkeys-lfu")
        policies = await eviction.read(engine)
        assert len(policies.by_server) == 3  # one per master
        assert policies.evicting == {f"127.0.0.1:{master}": "allkeys-lfu"}
    finally:
        client.config_set("maxmemory-policy", "noeviction")
        client.close()
        await engine.close()


async def test_the_master_the_sentinels_name_is_read(
    sentinels: str, redis_sentinel: RedisSentinel
) -> None:
    engine = make_engine(make_settings(None, redis_sentinels=sentinels))
    master = redis_sentinel.master()
    client = redis.Redis(port=master)
    try:
        client.config_set("maxmemory-policy", "volatile-ttl")
        policies = await eviction.read(engine)
        assert policies.evicting == {f"127.0.0.1:{master}": "volatile-ttl"}
        assert "Sentinels" in policies.refusal(engine.describe())
    finally:
        client.config_set("maxmemory-policy", "noeviction")
        client.close()
        await engine.close()

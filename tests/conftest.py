"""Fixtures: the suite's own redis-server, the app on both engines, real server processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import uvloop

from liveblog.config import Settings
from tests.support.clients import Editor
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_sentinel import RedisSentinel
from tests.support.redis_server import RedisServer
from tests.support.servers import (
    ADMIN_TOKEN,
    SLOTS_DIR,
    ServerProcess,
    process_starter,
    serve_in_process,
)


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, object]:
    """Every async test runs on uvloop, the loop of ``liveblog serve``: a test on a friendlier
    loop proves nothing about the real one (uvloop's transports raise where asyncio's log)."""
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(Path(tmp_path_factory.mktemp("redis")))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A running, empty Redis of the suite's own."""
    if redis_server.process is None:  # a previous test killed it and failed before restarting
        redis_server.start()
    redis_server.flush()
    return redis_server.url


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """Three masters and three replicas of the suite's own, started once per session."""
    cluster = RedisCluster(Path(tmp_path_factory.mktemp("cluster")))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster_url(redis_cluster: RedisCluster) -> str:
    """A running, empty Redis Cluster (the URL names one of its nodes)."""
    redis_cluster.heal()  # a test that killed a node and failed before restarting it
    redis_cluster.flush()
    return redis_cluster.url


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisSentinel]:
    """A master, a replica and three Sentinels of the suite's own, started once per session."""
    sentinel = RedisSentinel(Path(tmp_path_factory.mktemp("sentinel")))
    sentinel.start()
    yield sentinel
    sentinel.stop()


@pytest.fixture
def sentinels(redis_sentinel: RedisSentinel) -> str:
    """LIVEBLOG_REDIS_SENTINELS of a healthy, empty Sentinel setup."""
    redis_sentinel.heal()  # a test that killed a node and failed before restarting it
    redis_sentinel.flush()
    return redis_sentinel.addresses


# Engine tests that also run on the cluster: @pytest.mark.parametrize("engine_name", ALL_ENGINES)
ALL_ENGINES = ["memory", "redis", "cluster"]


def make_settings(redis_url: str | None, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "redis_url": redis_url,
        "admin_token": ADMIN_TOKEN,
        "demo": False,
        "rate_limit_per_second": 10_000,
        "rate_limit_burst": 10_000,
        "media_slots_dir": SLOTS_DIR,
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "redis"])
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def settings_factory(engine_name: str, request: pytest.FixtureRequest) -> Callable[..., Settings]:
    if engine_name == "cluster":
        url = request.getfixturevalue("cluster_url")
        return lambda **overrides: make_settings(url, redis_cluster=True, **overrides)
    url = request.getfixturevalue("redis_url") if engine_name == "redis" else None
    return lambda **overrides: make_settings(url, **overrides)


@pytest.fixture
def fast_path() -> bool:
    """Streams on liveblog's fast path (as `liveblog serve` runs); a test parametrizes this
    to False to run the plain ASGI path too."""
    return True


@pytest.fixture
async def server(settings_factory: Callable[..., Settings], fast_path: bool) -> AsyncIterator[str]:
    """The app on a real socket, on each engine in turn; yields its base URL."""
    async with serve_in_process(settings_factory(), fast_path=fast_path) as url:
        yield url


@pytest.fixture
async def editor(server: str) -> AsyncIterator[Editor]:
    client = Editor(server)
    yield client
    await client.close()


@pytest.fixture
def server_process(redis_url: str) -> Iterator[Callable[..., ServerProcess]]:
    """Start ``liveblog serve`` processes on the suite's Redis; all are stopped at the end."""
    with process_starter({"LIVEBLOG_REDIS_URL": redis_url}) as start:
        yield start

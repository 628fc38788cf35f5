"""Behind nginx: the proxy of docker-compose (deploy/nginx.conf, unchanged) in front of three
``liveblog serve`` processes on one Redis, as the compose file runs them."""

from __future__ import annotations

import asyncio
import re
import shlex
import zlib
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import yaml

from liveblog.config import Settings
from liveblog.delivery.frames import GZIP_HEADER
from tests.support.clients import Editor, SSEReader, WSReader
from tests.support.nginx import CONFIG, DEPLOY, SERVER_PARAMETERS, Nginx, proxied
from tests.support.redis_server import RedisServer
from tests.support.servers import ServerProcess

ROOT = DEPLOY.parent
HEARTBEAT = 1.0  # seconds: short, so a test sees several pass through the proxy


@pytest.fixture(scope="module")
def topology(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Nginx, list[ServerProcess]]]:
    if redis_server.process is None:  # a previous test killed it and failed before restarting
        redis_server.start()
    redis_server.flush()
    env = {
        "LIVEBLOG_REDIS_URL": redis_server.url,
        "LIVEBLOG_HEARTBEAT_SECONDS": str(HEARTBEAT),
        "LIVEBLOG_ALLOWED_HOSTS": "127.0.0.1",  # pages build URLs from the Host nginx passes
    }
    processes = [ServerProcess(env) for _ in range(3)]
    try:
        with ThreadPoolExecutor(3) as pool:  # they start side by side
            list(pool.map(ServerProcess.start, processes))
        with proxied(tmp_path_factory.mktemp("nginx"), processes) as nginx:
            yield nginx, processes
    finally:
        for process in processes:
            process.stop()


@pytest.fixture
def proxy(topology: tuple[Nginx, list[ServerProcess]]) -> Nginx:
    return topology[0]


@pytest.fixture
async def newsroom(proxy: Nginx) -> AsyncIterator[Editor]:
    client = Editor(proxy.url)
    yield client
    await client.close()


async def test_events_pass_the_proxy_as_the_app_sends_them_at_once(
    topology: tuple[Nginx, list[ServerProcess]], newsroom: Editor
) -> None:
    proxy, processes = topology
    await newsroom.blog("bytes")
    path = "/blogs/bytes"
    readers = {
        "sse direct": SSEReader(processes[0].url, f"{path}/events"),
        "sse proxied": SSEReader(proxy.url, f"{path}/events"),
        "ws direct": WSReader(processes[0].url, f"{path}/ws"),
        "ws proxied": WSReader(proxy.url, f"{path}/ws"),
    }
    for reader in readers.values():
        await reader.connect()
    try:
        assert readers["sse proxied"].headers["content-type"].startswith("text/event-stream")
        for number in range(1, 4):
            await newsroom.post("bytes", headline=f"Number {number}")
            # Each event arrives on its own while the streams stay open: nothing waits in a
            # buffer for more bytes or for the response to end.
            for reader in readers.values():
                await reader.wait_for(number)
                assert not reader.ended
        direct = [(e.id, e.type, e.raw) for e in readers["sse direct"].events]
        assert len(direct) == 3
        for name in ("sse proxied", "ws direct", "ws proxied"):
            assert [(e.id, e.type, e.raw) for e in readers[name].events] == direct, name
    finally:
        for reader in readers.values():
            await reader.close()


async def test_any_process_resumes_from_the_last_event_id(proxy: Nginx, newsroom: Editor) -> None:
    await newsroom.blog("resume")
    first = await SSEReader(proxy.url, "/blogs/resume/events").connect()
    await newsroom.post("resume", headline="One")
    await newsroom.post("resume", headline="Two")
    seen = await first.wait_for(2)
    await first.close()
    missed = [await newsroom.post("resume", headline=f"Missed {n}") for n in range(2)]

    # Three readers come back from the same position at once: least_conn puts each on another
    # process, and every one of them fills the same gap, exactly.
    readers = []
    for use_header in (True, False, True):
        reader = SSEReader(proxy.url, "/blogs/resume/events", seen[-1].id, use_header=use_header)
        readers.append(await reader.connect())
    live = await newsroom.post("resume", headline="Live")
    try:
        for reader in readers:
            events = await reader.wait_for(3)
            assert [e.data["data"]["id"] for e in events] == [
                *(m["id"] for m in missed),
                live["id"],
            ]
            assert [e.offset for e in events] == [3, 4, 5]
    finally:
        for reader in readers:
            await reader.close()
    await asyncio.sleep(0.2)  # nginx logs a stream when it ends
    served = proxy.upstreams_of("/blogs/resume/events")
    assert len(served) == 4
    assert len(set(served[1:])) == 3, served


async def test_pages_and_streams_are_compressed_by_the_app_only(
    proxy: Nginx, newsroom: Editor
) -> None:
    await newsroom.blog("gzip", "Compressed pages")
    await newsroom.post("gzip", headline="An entry", body="<p>" + "words " * 500 + "</p>")
    gzip = {"Accept-Encoding": "gzip"}
    async with httpx.AsyncClient(base_url=proxy.url, headers=gzip) as client:
        for path in ("/blogs/gzip", "/blogs/gzip/feed.atom", "/api/blogs/gzip/entries"):
            response = await client.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-encoding"] == "gzip", path
            assert "Accept-Encoding" in response.headers["vary"], path
            assert "An entry" in response.text  # httpx undid the gzip
        # The event stream comes compressed by the app, once for every reader, and the proxy
        # passes it on as it is: not compressed again, not held back.
        async with client.stream("GET", "/blogs/gzip/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert stream.headers["content-encoding"] == "gzip"
            first = await anext(stream.aiter_raw())
            assert first.startswith(GZIP_HEADER)  # the app's own member header
            inflated = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(first)
            assert inflated.startswith(b"retry: ")
        # A client that asks for nothing gets plain text: the proxy compresses no stream.
        plain = {"Accept-Encoding": "identity"}
        async with client.stream("GET", "/blogs/gzip/events", headers=plain) as stream:
            assert "content-encoding" not in stream.headers
            assert (await anext(stream.aiter_raw())).startswith(b"retry: ")


async def test_streams_outlive_heartbeats_through_the_proxy(proxy: Nginx, newsroom: Editor) -> None:
    await newsroom.blog("quiet")
    ws = await WSReader(proxy.url, "/blogs/quiet/ws").connect()
    sse = await SSEReader(proxy.url, "/blogs/quiet/events").connect()
    try:
        # The app closes a WebSocket that answers no ping for a heartbeat: pings and pongs
        # cross the proxy; SSE heartbeats reach the reader as they are sent.
        await asyncio.sleep(HEARTBEAT * 3.5)
        assert not ws.ended and not sse.ended
        assert sse.comments >= 2
        entry = await newsroom.post("quiet", headline="After a quiet spell")
        for reader in (ws, sse):
            events = await reader.wait_for(1)
            assert events[0].data["data"]["id"] == entry["id"]
    finally:
        await ws.close()
        await sse.close()


async def test_a_process_back_from_a_restart_gets_readers_at_once(
    topology: tuple[Nginx, list[ServerProcess]], newsroom: Editor
) -> None:
    proxy, processes = topology
    restarted = processes[0]
    address = f"127.0.0.1:{restarted.port}"
    for slug in ("first-wave", "second-wave"):
        await newsroom.blog(slug)
    await asyncio.to_thread(restarted.stop)
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        for _ in range(6):  # nginx takes turns: some of these meet the stopped process
            assert (await client.get("/healthz")).status_code == 200
    assert f'upstream: "http://{address}/healthz"' in proxy.error_log.read_text()
    await asyncio.to_thread(restarted.start)

    # Two waves of three readers, the second while the first is still open: least_conn gives
    # each process one reader per wave. Had nginx marked the process down when it refused, it
    # would let one request through to test it and count it healthy only when that request
    # ended, a live stream hours later: the second wave would leave it out.
    readers = []
    try:
        for slug in ("first-wave", "second-wave"):
            for _ in range(3):
                readers.append(await SSEReader(proxy.url, f"/blogs/{slug}/events").connect())
    finally:
        for reader in readers:
            await reader.close()
    await asyncio.sleep(0.2)  # nginx logs a stream when it ends
    for slug in ("first-wave", "second-wave"):
        assert address in proxy.upstreams_of(f"/blogs/{slug}/events"), slug


def test_the_proxy_waits_several_heartbeats_before_giving_up_on_a_stream() -> None:
    stream_location = CONFIG.read_text().split("location ~ ^/(blogs/")[1]
    for directive in ("proxy_read_timeout", "proxy_send_timeout"):
        match = re.search(rf"{directive} (\d+)s;", stream_location)
        assert match, directive
        assert int(match[1]) >= 4 * Settings().heartbeat_seconds, directive
    assert re.search(r"proxy_buffering off;", stream_location)


async def test_pages_see_the_host_and_scheme_the_browser_used(
    proxy: Nginx, newsroom: Editor
) -> None:
    await newsroom.blog("hosts")
    # X-Forwarded-* from a client are replaced by the proxy's own, so nobody can make pages
    # link to https or another host by sending them.
    spoofed = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}
    async with httpx.AsyncClient(base_url=proxy.url, headers=spoofed) as client:
        page = (await client.get("/blogs/hosts")).text
        refused = await client.get("/blogs/hosts", headers={"Host": "evil.example"})
    canonical = re.search(r'<link rel="canonical" href="([^"]+)"', page)
    assert canonical and canonical[1] == f"{proxy.url}/blogs/hosts"
    assert refused.status_code == 400  # the Host the browser sent is the one the app judges


# --- the compose files run this proxy ------------------------------------------------------


def _compose(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


def _app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("command", [])[:2] == ["liveblog", "serve"]
    }


def _address(service: dict[str, Any]) -> str:
    return service["networks"]["backend"]["ipv4_address"]


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.cluster.yml"])
def test_compose_runs_the_proxy_config_of_the_suite(name: str) -> None:
    compose = _compose(name)
    proxy = compose["services"]["proxy"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in proxy["volumes"]}
    assert mounts["/etc/nginx/nginx.conf"] == "./deploy/nginx.conf"
    for part in ("upstreams.conf", "listen.conf"):  # next to it: nginx.conf includes them
        assert (ROOT / mounts[f"/etc/nginx/{part}"]).is_file()
    assert proxy["command"][:5] == [
        "nginx",
        "-p",
        "/var/cache/nginx/",
        "-c",
        "/etc/nginx/nginx.conf",
    ]

    # Every app process, and nothing else, behind the proxy, by its fixed address (no resolver:
    # any nginx from 1.22 on runs the file), with the suite's parameters.
    apps = _app_services(compose)
    assert len(apps) >= 2
    upstreams = (ROOT / mounts["/etc/nginx/upstreams.conf"]).read_text()
    directives = [line for line in upstreams.splitlines() if not line.startswith("#")]
    assert not any("resolve" in line for line in directives)
    servers = re.findall(r"^server (\S+) (.*);$", upstreams, re.MULTILINE)
    expected = set()
    for service in apps.values():
        port = service["command"][service["command"].index("--port") + 1]
        expected.add(f"{_address(service)}:{port}")
    assert {address for address, _ in servers} == expected
    for _, parameters in servers:
        assert parameters == SERVER_PARAMETERS
    fixed = [_address(s) for s in compose["services"].values() if isinstance(s["networks"], dict)]
    assert len(fixed) == len(set(fixed))  # no two services share an address

    # The proxy is the only address allowed to say who the client was.
    proxy_address = _address(proxy)
    for service in apps.values():
        assert service["environment"]["FORWARDED_ALLOW_IPS"] == proxy_address
        assert "ports" not in service  # readers come through the proxy
        # Docker's stop waits longer than the process can take to stop (grace plus 2 s).
        grace = float(service["environment"]["LIVEBLOG_SHUTDOWN_GRACE_SECONDS"])
        assert int(service["stop_grace_period"].removesuffix("s")) > grace + 2


def test_compose_keeps_redis_on_disk() -> None:
    compose = _compose("docker-compose.yml")
    single = compose["services"]
    for name in ("redis", "redis-replica"):
        command = single[name]["command"]
        assert command[command.index("--appendonly") + 1] == "yes"
        assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    replica = single["redis-replica"]["command"]
    master = _address(single["redis"])
    assert replica[replica.index("--replicaof") + 1 :][:2] == [master, "6379"]
    sentinels = [s for name, s in single.items() if name.startswith("sentinel-")]
    assert len(sentinels) == 3  # a majority survives one of them going
    for service in _app_services(compose).values():
        listed = service["environment"]["LIVEBLOG_REDIS_SENTINELS"].split(",")
        assert sorted(listed) == sorted(f"{_address(s)}:26379" for s in sentinels)
        assert f"monitor mymaster {master} 6379 2" in sentinels[0]["command"][-1]

    compose = _compose("docker-compose.cluster.yml")
    cluster = compose["services"]
    nodes = [s for name, s in cluster.items() if name.startswith("redis-")]
    assert len(nodes) == 6  # three masters, three replicas: the suite's cluster
    for node in nodes:
        assert node["command"][node["command"].index("--cluster-enabled") + 1] == "yes"
        assert node["command"][node["command"].index("--appendonly") + 1] == "yes"
    create = shlex.split(cluster["cluster"]["command"][-1])
    assert create[create.index("--cluster-replicas") + 1] == "1"
    for service in _app_services(compose).values():
        assert service["environment"]["LIVEBLOG_REDIS_CLUSTER"] == "1"

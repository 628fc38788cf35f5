"""Servers under test: liveblog, nginx + Nchan, the stub byte source, and a private Redis.

Every target starts pinned to the server core with ``taskset``, on a free loopback port, and is
stopped by its own process group id. ``start()`` returns the :class:`Endpoint` the load
generator drives.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from readers import raise_nofile

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PYTHON = str(REPO / ".venv/bin/python") if (REPO / ".venv/bin/python").exists() else sys.executable
HOST = "127.0.0.1"
SERVER_NOFILE = 200_000  # readers per server stay well below; nginx asks for this many
NCHAN_MODULES = (
    "/usr/lib/nginx/modules/ngx_nchan_module.so",
    "/usr/lib/*/nginx/modules/ngx_nchan_module.so",
    "/usr/share/nginx/modules/ngx_nchan_module.so",
)


@dataclass
class Endpoint:
    """What the load generator needs to know about a running target."""

    host: str
    port: int
    sse_path: str
    ws_path: str
    pub_path: str
    pub_headers: dict[str, str] = field(default_factory=dict)
    payload: str = "event"  # "entry": liveblog API body; "event": the whole event bytes;
    # "grip": the event as a Pushpin publish item
    blog: str = "bench"
    pub_port: int | None = None  # where events are posted, when not ``port`` (Pushpin)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout}s")


def http(
    method: str, url: str, body: object = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """One blocking request for setup steps; 4xx/5xx come back as a status, not an error."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Process:
    """A server process in its own session, stopped through its process group."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.cmd = cmd
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")[1])

    def start(self, cwd: Path = REPO) -> None:
        raise_nofile(SERVER_NOFILE)  # inherited by the server
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class RedisServer(Process):
    """A private, throw-away Redis (no persistence) for one benchmark run."""

    def __init__(self, cpus: str = "0") -> None:
        self.port = free_port()
        cmd = ["taskset", "-c", cpus, "redis-server", "--port", str(self.port), "--bind", HOST]
        cmd += ["--save", "", "--appendonly", "no", "--maxclients", "20000"]
        super().__init__("redis", cmd)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self, cwd: Path = REPO) -> None:
        if shutil.which("redis-server") is None:
            apt_install(["redis-server"])
        super().start(cwd)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"redis did not start: {self.log_tail()}")


def apt_install(packages: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    if subprocess.run(cmd, env=env, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(cmd, env=env, check=True)


def nchan_module() -> str | None:
    for pattern in NCHAN_MODULES:
        found = glob.glob(pattern)
        if found:
            return found[0]
    return None


def ensure_nchan() -> str:
    """Install Debian's nginx and Nchan module if missing; return the module path."""
    module = nchan_module()
    if shutil.which("nginx") is None or module is None:
        apt_install(["nginx", "libnginx-mod-nchan"])
        module = nchan_module()
    if module is None or shutil.which("nginx") is None:
        raise RuntimeError("nginx with the Nchan module is not installed")
    return module


class Target:
    """A server under test. Subclasses fill in ``start``."""

    name = "target"

    def __init__(self, cpus: str = "0") -> None:
        self.cpus = cpus
        self.server: Process | None = None
        self.redis: RedisServer | None = None

    @property
    def pid(self) -> int:
        assert self.server is not None
        return self.server.pid

    def start(self) -> Endpoint:
        raise NotImplementedError

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.redis is not None:
            self.redis.stop()

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


NGINX_CONF = """\
load_module {module};
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
worker_rlimit_nofile {nofile};
events {{
    worker_connections 100000;
    multi_accept on;
}}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    nchan_max_reserved_memory 256M;
    {redis_url}
    server {{
        listen {host}:{port} backlog=8192;
        location ~ ^/sub/([a-z0-9-]+)$ {{
            nchan_subscriber;
            nchan_channel_id $1;
            nchan_subscriber_first_message newest;
            {use_redis}
        }}
        location ~ ^/pub/([a-z0-9-]+)$ {{
            nchan_publisher;
            nchan_channel_id $1;
            # Each message deflated once at publish for every WebSocket reader that negotiated
            # permessage-deflate (Nchan's documented way; off by default, when it accepts the
            # offer and sends plain frames). Nchan has no compression for EventSource.
            nchan_deflate_message_for_websocket on;
            nchan_message_buffer_length 100;
            nchan_message_timeout 10m;
            {use_redis}
        }}
    }}
}}
"""


class NchanTarget(Target):
    """nginx + Nchan, one worker process; ``storage`` is ``memory`` or ``redis``."""

    def __init__(self, storage: str = "memory", cpus: str = "0") -> None:
        super().__init__(cpus)
        self.storage = storage
        self.name = f"nchan-{storage}"

    def start(self) -> Endpoint:
        module = ensure_nchan()
        workdir = Path(tempfile.mkdtemp(prefix="bench-nchan-"))
        port = free_port()
        redis_url = use_redis = ""
        if self.storage == "redis":
            self.redis = RedisServer(self.cpus)
            self.redis.start()
            redis_url = f'nchan_redis_url "redis://{HOST}:{self.redis.port}";'
            use_redis = "nchan_use_redis on;"
        conf = workdir / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                module=module,
                dir=workdir,
                host=HOST,
                port=port,
                redis_url=redis_url,
                use_redis=use_redis,
                nofile=SERVER_NOFILE,
            )
        )
        cmd = ["taskset", "-c", self.cpus, "nginx", "-p", str(workdir), "-c", str(conf)]
        cmd += ["-e", str(workdir / "error.log")]
        self.server = Process(self.name, cmd)
        self.server.start(cwd=workdir)
        try:
            wait_port(port, 15, self.server.proc)
        except (RuntimeError, TimeoutError) as exc:
            log = (workdir / "error.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{exc}\n{self.server.log_tail()}\n{log}") from exc
        time.sleep(0.3 if self.storage == "memory" else 1.0)  # redis: let workers connect
        blog = "bench-" + secrets.token_hex(3)
        return Endpoint(
            host=HOST,
            port=port,
            sse_path=f"/sub/{blog}",
            ws_path=f"/sub/{blog}",
            pub_path=f"/pub/{blog}",
            payload="event",
            blog=blog,
        )


class LiveblogTarget(Target):
    """``python -m liveblog serve`` with the memory or the redis engine."""

    def __init__(
        self,
        engine: str = "memory",
        workers: int = 1,
        cpus: str = "0",
        module: str = "liveblog",
        extra_env: dict[str, str] | None = None,
        cluster_url: str | None = None,
    ) -> None:
        super().__init__(cpus)
        self.engine = engine
        self.cluster_url = cluster_url  # engine "cluster": a node of a cluster started elsewhere
        self.workers = workers
        self.module = module
        self.extra_env = extra_env or {}
        suffix = f"-w{workers}" if workers > 1 else ""
        self.name = f"liveblog-{engine}{suffix}"
        self.token = "bench-" + secrets.token_hex(16)

    def command(self, port: int) -> list[str]:
        cmd = [PYTHON, "-m", self.module, "serve", "--host", HOST, "--port", str(port)]
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
        return cmd

    def start(self) -> Endpoint:
        port = free_port()
        env = {
            **os.environ,
            "LIVEBLOG_ADMIN_TOKEN": self.token,
            "LIVEBLOG_RATE_LIMIT_PER_SECOND": "100000",
            "LIVEBLOG_RATE_LIMIT_BURST": "100000",
            "LIVEBLOG_DEMO": "0",
            **self.extra_env,
        }
        env.pop("LIVEBLOG_REDIS_URL", None)
        if self.engine == "redis":
            self.redis = RedisServer(self.cpus)
            self.redis.start()
            env["LIVEBLOG_REDIS_URL"] = self.redis.url
        elif self.engine == "cluster":
            assert self.cluster_url is not None
            env["LIVEBLOG_REDIS_URL"] = self.cluster_url
            env["LIVEBLOG_REDIS_CLUSTER"] = "1"
        self.server = Process(self.name, ["taskset", "-c", self.cpus, *self.command(port)], env)
        self.server.start()
        base = f"http://{HOST}:{port}"
        deadline = time.monotonic() + 30
        while True:
            if not self.server.alive():
                raise RuntimeError(f"{self.name} exited:\n{self.server.log_tail()}")
            try:
                if http("GET", base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not healthy:\n{self.server.log_tail()}")
            time.sleep(0.2)
        auth = {"Authorization": f"Bearer {self.token}"}
        blog = "bench-" + secrets.token_hex(3)
        status, body = http("POST", base + "/api/blogs", {"slug": blog, "title": "Bench"}, auth)
        if status != 201:
            raise RuntimeError(f"POST /api/blogs answered {status}: {body[:300]!r}")
        return Endpoint(
            host=HOST,
            port=port,
            sse_path=f"/blogs/{blog}/events",
            ws_path=f"/blogs/{blog}/ws",
            pub_path=f"/api/blogs/{blog}/entries",
            pub_headers=auth,
            payload="entry",
            blog=blog,
        )


class StubTarget(LiveblogTarget):
    """The trivial fast byte source in ``stub_server.py``, speaking liveblog's URLs.

    For calibrating the generator and developing without the real server: its numbers are
    never liveblog's.
    """

    def __init__(self, cpus: str = "0") -> None:
        super().__init__("memory", 1, cpus)
        self.name = "stub"

    def command(self, port: int) -> list[str]:
        return [PYTHON, str(BENCH / "stub_server.py"), "--host", HOST, "--port", str(port)]


def liveblog_available() -> bool:
    """Whether ``python -m liveblog serve`` exists in this checkout yet."""
    probe = subprocess.run(
        [PYTHON, "-m", "liveblog", "serve", "--help"],
        cwd=REPO,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return probe.returncode == 0


def make_target(name: str, cpus: str = "0", workers: int = 1) -> Target:
    """``nchan-memory``, ``nchan-redis``, ``liveblog-memory``, ``liveblog-redis``, ``stub``, or
    a peer of ``peer_targets``: ``socketio`` (Redis adapter), ``pushpin``."""
    if name == "stub":
        return StubTarget(cpus)
    if name in ("socketio", "pushpin"):
        from peer_targets import PushpinTarget, SocketIOTarget

        return SocketIOTarget(cpus) if name == "socketio" else PushpinTarget(cpus)
    kind, _, storage = name.partition("-")
    storage = storage or "memory"
    if kind == "nchan":
        return NchanTarget(storage, cpus)
    if kind == "liveblog":
        return LiveblogTarget(storage, workers, cpus)
    raise ValueError(f"unknown target {name!r}")


TARGETS = (
    "nchan-memory", "nchan-redis", "liveblog-memory", "liveblog-redis", "stub", "socketio",
    "pushpin",
)  # fmt: skip

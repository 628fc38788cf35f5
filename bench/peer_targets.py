"""The two peers a newsroom would pick instead of liveblog, set up for broadcast as their
documentation recommends, each started like the targets in ``targets.py`` (pinned to the
server core, on free loopback ports, stopped by process group):

- ``socketio``: Socket.IO 4 on Node 20 with its Redis adapter (``peers/socketio/server.js``; a
  room per blog, ``io.to(room).emit``). Its packages are installed by ``npm ci`` from
  ``peers/socketio/package-lock.json`` into ``peers/socketio/node_modules`` on first use.
  Readers speak Engine.IO 4 over WebSocket (``readers.SIOReader``).
- ``pushpin``: Debian's Pushpin (installed with apt-get on first use) in front of a GRIP origin
  (``peers/pushpin/grip_origin.py``): readers get Server-Sent Events, events are published to
  Pushpin's HTTP publish endpoint as ``http-stream`` items.

Both are handed the very event bytes liveblog sends (``payload.event_builder``), as Nchan is.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from targets import (
    BENCH,
    HOST,
    PYTHON,
    Endpoint,
    Process,
    RedisServer,
    Target,
    apt_install,
    free_port,
    wait_port,
)

PEERS = BENCH / "peers"
SOCKETIO_DIR = PEERS / "socketio"
PUSHPIN_CONF = Path("/etc/pushpin/pushpin.conf")
PUSHPIN_INTERNAL = Path("/usr/lib/pushpin/internal.conf")


def ensure_socketio() -> Path:
    """``npm ci`` the exact versions of package-lock.json, once; returns the server script."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("Socket.IO needs Node 20 and npm on PATH")
    if not (SOCKETIO_DIR / "node_modules" / "socket.io").is_dir():
        cmd = ["npm", "ci", "--no-audit", "--no-fund", "--omit=dev"]
        if shutil.which("chrt"):
            # Not at the bench's real-time priority (--realtime): npm's busy threads would then
            # starve the ones it waits for, and it spins for minutes instead of ~15 s.
            cmd = ["chrt", "--other", "0", *cmd]
        subprocess.run(cmd, cwd=SOCKETIO_DIR, check=True, timeout=600)
    return SOCKETIO_DIR / "server.js"


class SocketIOTarget(Target):
    """Socket.IO 4 on Node with the Redis adapter and a private Redis."""

    name = "socketio"

    def start(self) -> Endpoint:
        script = ensure_socketio()
        self.redis = RedisServer(self.cpus)
        self.redis.start()
        port = free_port()
        env = {**os.environ, "PORT": str(port), "HOST": HOST, "REDIS_URL": self.redis.url}
        env["NODE_ENV"] = "production"
        cmd = ["taskset", "-c", self.cpus, "node", str(script)]
        self.server = Process(self.name, cmd, env)
        self.server.start(cwd=SOCKETIO_DIR)
        try:
            wait_port(port, 30, self.server.proc)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}\n{self.server.log_tail()}") from exc
        blog = "bench-" + secrets.token_hex(3)
        return Endpoint(
            host=HOST,
            port=port,
            sse_path="",
            ws_path="/socket.io/?EIO=4&transport=websocket",
            pub_path=f"/publish/{blog}",
            payload="event",
            blog=blog,
        )


def ensure_pushpin() -> None:
    if shutil.which("pushpin") is None or not PUSHPIN_CONF.exists():
        apt_install(["pushpin"])


def pushpin_config(workdir: Path, http_port: int, publish_port: int, origin_port: int) -> Path:
    """Debian's pushpin.conf with this run's directories and free ports; everything else
    (message rates, buffers, limits) as shipped. Debian's package expects zurl (Pushpin's
    outgoing HTTP, to the origin) to run as a system service of its own; here Pushpin's runner
    starts it, as upstream Pushpin does, on sockets in the run directory."""
    zmq = {name: free_port() for name in ("push_in_spec", "push_in_sub_specs", "command_spec")}
    (workdir / "run").mkdir()
    (workdir / "log").mkdir()
    routes = workdir / "routes"
    routes.write_text(f"* {HOST}:{origin_port}\n")
    internal = workdir / "internal.conf"
    internal.write_text(
        PUSHPIN_INTERNAL.read_text().replace("ipc:///var/run/zurl/", "ipc://{rundir}/{ipc_prefix}")
    )
    lines = []
    for line in PUSHPIN_CONF.read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        if key == "include":
            line = f"include={internal}"
        elif key == "services":
            line = "services=condure,zurl,pushpin-proxy,pushpin-handler"
        elif key == "rundir":
            line = f"rundir={workdir / 'run'}"
        elif key == "logdir":
            line = f"logdir={workdir / 'log'}"
        elif key == "http_port":
            line = f"http_port={HOST}:{http_port}"
        elif key == "routesfile":
            line = f"routesfile={routes}"
        elif key == "push_in_http_port":
            line = f"push_in_http_port={publish_port}"
        elif key in zmq:
            line = f"{key}=tcp://{HOST}:{zmq[key]}"
        lines.append(line)
    conf = workdir / "pushpin.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


class PushpinTarget(Target):
    """Pushpin holding SSE streams for a GRIP origin; events published over HTTP."""

    name = "pushpin"

    def __init__(self, cpus: str = "0") -> None:
        super().__init__(cpus)
        self.origin: Process | None = None

    def start(self) -> Endpoint:
        ensure_pushpin()
        workdir = Path(tempfile.mkdtemp(prefix="bench-pushpin-"))
        origin_port, http_port, publish_port = free_port(), free_port(), free_port()
        # The origin answers one request per reader, none per event: on the generator's core,
        # so the server core's CPU is Pushpin's alone.
        origin = [PYTHON, str(PEERS / "pushpin" / "grip_origin.py"), str(origin_port)]
        self.origin = Process("grip-origin", ["taskset", "-c", "1", *origin])
        self.origin.start()
        wait_port(origin_port, 15, self.origin.proc)
        conf = pushpin_config(workdir, http_port, publish_port, origin_port)
        cmd = ["taskset", "-c", self.cpus, "pushpin", "--config", str(conf), "--merge-output"]
        self.server = Process(self.name, cmd)
        self.server.start(cwd=workdir)
        try:
            wait_port(http_port, 30, self.server.proc)
            wait_port(publish_port, 30, self.server.proc)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}\n{self.server.log_tail()}") from exc
        time.sleep(0.5)  # the handler and proxy connect to each other
        blog = "bench-" + secrets.token_hex(3)
        return Endpoint(
            host=HOST,
            port=http_port,
            sse_path=f"/sub/{blog}",
            ws_path="",
            pub_path="/publish/",
            payload="grip",
            blog=blog,
            pub_port=publish_port,
        )

    def stop(self) -> None:
        super().stop()
        if self.origin is not None:
            self.origin.stop()

"""Debian's nginx in front of ``liveblog serve`` processes, with the proxy config of
docker-compose (``deploy/nginx.conf``) copied unchanged.

Only the two files that differ per deployment are written here: ``upstreams.conf`` (the app
processes, with the server parameters of ``deploy/compose/upstreams.conf``) and ``listen.conf``
(a free port on 127.0.0.1, plain HTTP/1.1: browsers need TLS for HTTP/2, compose has it, the
suite does not). Pid and temp files live in the test's directory, the nginx prefix.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.support.redis_server import free_port
from tests.support.servers import ServerProcess

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CONFIG = DEPLOY / "nginx.conf"
# As every server line of deploy/compose/upstreams.conf has them (test_proxy checks).
SERVER_PARAMETERS = "max_fails=0"


def nginx_binary() -> str:
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        raise RuntimeError(
            "nginx is not installed: run the test command from the README (scripts/test "
            "installs Debian's nginx), or apt-get install nginx"
        )
    return binary


class Nginx:
    """One nginx on a free port; ``url`` is what readers and editors talk to."""

    def __init__(self, directory: Path, upstreams: Sequence[str]) -> None:
        self.binary = nginx_binary()
        self.directory = directory
        self.upstreams = list(upstreams)  # "127.0.0.1:8001", ...
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def access_log(self) -> Path:
        return self.directory / "access.log"  # nginx.conf logs to /dev/stdout

    @property
    def error_log(self) -> Path:
        return self.directory / "error.log"  # and errors to stderr

    def write_config(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "nginx.conf"
        shutil.copyfile(CONFIG, config)
        servers = "".join(f"server {up} {SERVER_PARAMETERS};\n" for up in self.upstreams)
        (self.directory / "upstreams.conf").write_text(servers)
        (self.directory / "listen.conf").write_text(f"listen 127.0.0.1:{self.port};\n")
        return config

    def command(self, *extra: str) -> list[str]:
        globals_ = "daemon off;"
        if os.geteuid() == 0:
            # Workers would run as "nobody", which cannot enter pytest's private temp directory
            # (where request bodies and large responses are buffered).
            globals_ += f" user {pwd.getpwuid(os.getuid()).pw_name};"
        prefix = f"{self.directory}/"
        return [self.binary, "-p", prefix, "-c", str(self.directory / "nginx.conf"),
                "-g", globals_, *extra]  # fmt: skip

    def start(self) -> None:
        self.write_config()
        test = subprocess.run(self.command("-t", "-q"), capture_output=True, text=True)
        if test.returncode != 0:
            raise RuntimeError(f"nginx refused the config:\n{test.stderr}")
        with self.access_log.open("ab") as out, self.error_log.open("ab") as err:
            self.process = subprocess.Popen(self.command(), stdout=out, stderr=err)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start:\n{self.error_log.read_text()}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)  # fast shutdown: streams are cut
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None

    def upstreams_of(self, path: str) -> list[str]:
        """The app processes that served requests for ``path``, in log order (a stream is
        logged when it ends)."""
        served = []
        for line in self.access_log.read_text().splitlines():
            if f' "GET {path} ' in line or f' "GET {path}?' in line:
                served.append(line.rpartition("upstream=")[2].split()[0])
        return served


@contextlib.contextmanager
def proxied(directory: Path, processes: Sequence[ServerProcess]) -> Iterator[Nginx]:
    """nginx in front of ``processes`` (already started) for the duration of the block."""
    nginx = Nginx(directory, [f"127.0.0.1:{p.port}" for p in processes])
    nginx.start()
    try:
        yield nginx
    finally:
        nginx.stop()

"""docker-compose.yml, run for real: with Docker where a Docker daemon answers (the official
images the file names), else with Podman and podman-compose, every image built from Debian's
own packages (no registry needed).

On Podman the base image (Redis, Sentinel, nginx, Python from Debian bookworm) is built once by
scripts/base-image and kept in Podman's image store (as root: /var/lib/containers/storage),
made again only when that script changes; the app image is built with the Dockerfile, whose
dependency layer is cached there too, so a run after the first builds in seconds. What this
machine's Podman needs (runc, cgroupfs, open-file limits it can grant) is in a containers.conf
of the suite's own, passed with CONTAINERS_CONF, never in the system's files.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tests.support.servers import ADMIN_TOKEN

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "liveblog-suite"
BASE_IMAGE = "localhost/liveblog-debian:bookworm"
APP_IMAGE = "localhost/liveblog:suite"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "liveblog"
# The host's CA bundle: pip in a build trusts what the host trusts (a TLS-inspecting proxy's
# certificate included).
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")

PODMAN_CONF = """\
# Podman as this machine runs it (tests/support/compose.py): runc and cgroupfs (no systemd),
# and open-file and process limits within what the host grants.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


def _run(
    command: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(command), cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def docker_works() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        for check in (["docker", "info"], ["docker", "compose", "version"]):
            if subprocess.run(check, capture_output=True, timeout=15).returncode != 0:
                return False
    except subprocess.TimeoutExpired:
        return False
    return True


def _quiet_port() -> int:
    """A free port below the kernel's ephemeral range (32768 and up) and above the clusters'
    bands (20000-22600): minutes pass between choosing it and the proxy binding it (the images
    build first), and an ephemeral port may meanwhile be any test's outgoing connection."""
    rng = random.Random()
    while True:
        port = rng.randrange(23000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


class Stack:
    """The compose project ``PROJECT`` of docker-compose.yml, its proxy on free ports of
    127.0.0.1."""

    def __init__(self) -> None:
        self.docker = docker_works()
        self.http_port, self.https_port = _quiet_port(), _quiet_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.env = {
            **os.environ,
            "LIVEBLOG_ADMIN_TOKEN": ADMIN_TOKEN,
            "LIVEBLOG_BIND_ADDRESS": "127.0.0.1",
            "LIVEBLOG_HTTP_PORT": str(self.http_port),
            "LIVEBLOG_HTTPS_PORT": str(self.https_port),
            "LIVEBLOG_PUBLIC_URL": f"https://localhost:{self.https_port}",
        }
        if not self.docker:
            self._podman_setup()

    @property
    def engine(self) -> str:
        return "docker" if self.docker else "podman"

    def _podman_setup(self) -> None:
        for tool in ("podman", "mmdebstrap"):
            if shutil.which(tool) is None:
                raise RuntimeError(
                    f"{tool} is not installed and no Docker daemon answers: run the test "
                    "command from the README (scripts/test installs Debian's podman, buildah, "
                    "mmdebstrap, runc)"
                )
        CACHE.mkdir(parents=True, exist_ok=True)
        conf = CACHE / "containers.conf"
        if not conf.exists() or conf.read_text() != PODMAN_CONF:
            conf.write_text(PODMAN_CONF)
        self.env["CONTAINERS_CONF"] = str(conf)
        for role in ("REDIS", "NGINX", "CERTS", "PYTHON"):
            self.env[f"LIVEBLOG_{role}_IMAGE"] = BASE_IMAGE
        self.env["LIVEBLOG_IMAGE"] = APP_IMAGE

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        if self.docker:
            command = ["docker", "compose"]
        else:
            installed = Path(sys.executable).parent / "podman-compose"
            command = [str(installed) if installed.exists() else "podman-compose"]
        return _run([*command, "-p", PROJECT, "-f", "docker-compose.yml", *args],
                    env=self.env, timeout=timeout)  # fmt: skip

    def build(self) -> None:
        if self.docker:
            self.compose("build")
            return
        _run([str(ROOT / "scripts" / "base-image"), BASE_IMAGE], env=self.env, timeout=900)
        pip_conf = CACHE / "pip.conf"
        pip_conf.write_text(f"[global]\ncert = {HOST_CA}\n")
        mounts = ["-v", f"{pip_conf}:/etc/pip.conf:ro"]
        if HOST_CA.exists():
            mounts += ["-v", f"{HOST_CA}:{HOST_CA}:ro"]
        previous = self._image_id(APP_IMAGE)
        _run(
            ["podman", "build", "--quiet", "--format", "docker", "--tag", APP_IMAGE,
             "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", *mounts, str(ROOT)],
            env=self.env, timeout=900,
        )  # fmt: skip
        if previous is not None and previous != self._image_id(APP_IMAGE):
            # The image of the code before: no use any more (its layers below stay cached).
            subprocess.run(["podman", "rmi", previous], env=self.env, capture_output=True)

    def _image_id(self, image: str) -> str | None:
        result = subprocess.run(
            ["podman", "image", "inspect", "--format", "{{.Id}}", image],
            env=self.env, capture_output=True, text=True,
        )  # fmt: skip
        return result.stdout.strip() or None if result.returncode == 0 else None

    def up(self) -> None:
        self.compose("up", "-d", *([] if self.docker else ["--no-build"]))

    def down(self) -> None:
        """Stop and remove every container, the network and the volumes."""
        self.compose("down", "-v", timeout=120)

    def containers(self) -> list[str]:
        """Names of the project's containers, running or not."""
        result = _run(
            [self.engine, "ps", "-a", "--filter", f"label=com.docker.compose.project={PROJECT}",
             "--format", "{{.Names}}"],
            env=self.env,
        )  # fmt: skip
        return result.stdout.split()

    def container(self, service: str) -> str:
        result = _run(
            [self.engine, "ps", "-a", "--filter", f"label=com.docker.compose.project={PROJECT}",
             "--filter", f"label=com.docker.compose.service={service}", "--format", "{{.Names}}"],
            env=self.env,
        )  # fmt: skip
        (name,) = result.stdout.split()
        return name

    def kill(self, service: str) -> None:
        """SIGKILL the service's container: a crash, as the rest of the stack sees it."""
        _run([self.engine, "kill", self.container(service)], env=self.env)

    def execute(self, service: str, *command: str) -> str:
        return _run([self.engine, "exec", self.container(service), *command], env=self.env).stdout

    def logs(self, service: str) -> str:
        result = _run([self.engine, "logs", self.container(service)], env=self.env)
        return result.stdout + result.stderr

    def wait_gone(self, timeout: float) -> float:
        """Seconds until no container of the project is left (at most ``timeout``)."""
        started = time.monotonic()
        while self.containers():
            if time.monotonic() - started > timeout:
                raise AssertionError(f"containers left after {timeout} s: {self.containers()}")
            time.sleep(0.2)
        return time.monotonic() - started

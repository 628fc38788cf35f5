"""Running the server for tests: in the test's event loop, or as a real subprocess."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette

from liveblog import serving
from liveblog.app import create_app
from liveblog.config import Settings
from tests.support.redis_server import free_port

ADMIN_TOKEN = "test-admin-token-0123456789abcdef0123"  # at least 32 characters
# The upload slots of the suite's servers, shared by all of them (as processes on one host
# share theirs) and by no one else: not the machine's default directory.
SLOTS_DIR = tempfile.mkdtemp(prefix="liveblog-test-slots-")
atexit.register(shutil.rmtree, SLOTS_DIR, True)


@contextlib.asynccontextmanager
async def serve_in_process(settings: Settings, *, fast_path: bool = True) -> AsyncIterator[str]:
    """The app on a real socket in this event loop (uvloop: see conftest.py); yields its base
    URL. Uvicorn runs with the options of ``liveblog serve``; ``fast_path=False`` swaps in
    uvicorn's plain protocols, so the streams take the plain ASGI path."""
    async with serve_app(create_app(settings), fast_path=fast_path) as url:
        yield url


@contextlib.asynccontextmanager
async def serve_app(app: Starlette, *, fast_path: bool = True) -> AsyncIterator[str]:
    """``serve_in_process`` for an app the test built (to reach its parts while it runs)."""
    options = serving.options(app.state.settings, fast_path=fast_path)
    options["timeout_graceful_shutdown"] = 2
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **options)
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        app.state.hub.shutdown_readers()  # as LiveblogServer does on SIGTERM
        server.should_exit = True
        await task


class ServerProcess:
    """``python -m liveblog serve`` as a real process, restartable on the same port. ``log``:
    a file that gets its stderr (its log); ``wrapper``: a command it runs under, which ends
    with it (``process`` is then the wrapper's)."""

    def __init__(
        self,
        env: dict[str, str],
        workers: int = 1,
        *,
        log: Path | None = None,
        wrapper: Sequence[str] = (),
    ) -> None:
        self.log = log
        self.wrapper = list(wrapper)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_token = ADMIN_TOKEN
        self.workers = workers
        self.env = {
            **os.environ,
            "LIVEBLOG_ADMIN_TOKEN": ADMIN_TOKEN,
            "LIVEBLOG_DEMO": "false",
            "LIVEBLOG_RATE_LIMIT_PER_SECOND": "10000",
            "LIVEBLOG_RATE_LIMIT_BURST": "10000",
            "LIVEBLOG_MEDIA_SLOTS_DIR": SLOTS_DIR,
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def command(self) -> list[str]:
        serve = [sys.executable, "-m", "liveblog", "serve", "--port", str(self.port)]
        return [*self.wrapper, *serve, "--workers", str(self.workers)]

    def start(self, *, wait: bool = True) -> None:
        stderr = self.log.open("ab") if self.log is not None else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(self.command, env=self.env, stderr=stderr)
        finally:
            if self.log is not None:
                stderr.close()  # type: ignore[union-attr]
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 20) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"liveblog did not start on {self.url}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM, the way an orchestrator restarts it; waits for a clean exit."""
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None


@contextlib.contextmanager
def process_starter(base_env: dict[str, str]) -> Iterator[Callable[..., ServerProcess]]:
    """A ``start(workers=1, **env)`` that runs ``liveblog serve`` with ``base_env`` (and
    ``env`` on top); every process it started is stopped at the end."""
    started: list[ServerProcess] = []

    def start(workers: int = 1, **env: str) -> ServerProcess:
        process = ServerProcess({**base_env, **env}, workers=workers)
        process.start()
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.stop()

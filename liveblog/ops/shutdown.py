"""Graceful restarts, and a stop that always happens.

Uvicorn stops on SIGTERM/SIGINT by waiting for open responses to finish, and only then runs the
lifespan shutdown. A live stream never finishes by itself, so without ``on_uvicorn_exit`` a
restart would wait for its graceful timeout: the hub tells every reader to come back at once.
Chaining onto uvicorn's own signal handler works in every worker process, whatever supervisor
started it.

The same signal arms a deadline: the process is gone ``grace`` (LIVEBLOG_SHUTDOWN_GRACE_SECONDS)
plus 2 s after it, whatever it still waits on. Something can wait past the app's own shutdown:
uvloop closes its loop only once every request it started has ended, and a DNS lookup of the
Redis host (a reconnect in flight while the DNS server of a stopping compose network answers
nothing) does not end for as long as the resolver's timeouts say, which is how a container once
logged "Finished server process" and then hung until it was killed. So once the app has shut
down, the deadline comes closer: whatever is left gets a second.

The listening sockets are closed first, in the same loop turn: readers told to leave come back
at once (through a proxy, within their jitter), and a process that still accepted them would
hand them streams that die with it, a second storm for the others (bench/storm.py saw readers
displaced twice). Closed, the port refuses, and a proxy sends them on to another process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

import uvicorn

logger = logging.getLogger("liveblog.shutdown")

# The contract: gone within the grace plus 2 s. The deadline keeps a margin for the exit itself.
DEADLINE_AFTER_GRACE = 1.75
# Left to uvicorn and the interpreter once the app's own shutdown is done.
AFTER_APP = 1.0
# What the app's own shutdown (stats, hub, engine) may take in all.
CLEANUP_SECONDS = 1.5


class _Deadline:
    """Ends this process at a moment that can only come closer, from a daemon thread: it works
    while the event loop, or the interpreter's exit, waits on something that never ends."""

    def __init__(self) -> None:
        self._at: float | None = None
        self._status = 0
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    @property
    def armed(self) -> bool:
        return self._at is not None

    def arm(self, seconds: float, status: int) -> None:
        with self._changed:
            at = time.monotonic() + seconds
            if self._at is None or at < self._at:
                self._at, self._status = at, status
                self._changed.notify()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="shutdown-deadline", daemon=True
                )
                self._thread.start()

    def shorten(self, seconds: float) -> None:
        """Bring an armed deadline to at most ``seconds`` from now (no-op when not armed)."""
        if self._at is not None:
            self.arm(seconds, self._status)

    def _watch(self) -> None:
        with self._changed:
            while self._at is None or time.monotonic() < self._at:
                self._changed.wait(None if self._at is None else self._at - time.monotonic())
            status = self._status
        logger.warning("shutdown: still running at its deadline; exiting now")
        for handler in logging.getLogger().handlers + logging.getLogger("uvicorn").handlers:
            handler.flush()
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(status)


deadline = _Deadline()


def on_uvicorn_exit(callback: Callable[[], None], grace: float) -> None:
    """Run ``callback`` on the event loop when uvicorn is told to stop, and end the process
    ``grace`` plus 2 s later at the latest (no-op where uvicorn does not handle the signals)."""
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        server = getattr(previous, "__self__", None)
        if not isinstance(server, uvicorn.Server) or not callable(previous):
            continue  # not running under uvicorn's handlers (tests, other servers)

        def handler(
            signum: int,
            frame: FrameType | None,
            previous: Callable[[int, FrameType | None], Any] = previous,
            server: uvicorn.Server = server,
        ) -> None:
            # As a shell reports a process ended by this signal.
            deadline.arm(grace + DEADLINE_AFTER_GRACE, 128 + signum)
            loop.call_soon_threadsafe(_stop_accepting, server)
            loop.call_soon_threadsafe(callback)
            previous(signum, frame)

        signal.signal(sig, handler)


async def steps(seconds: float, *named: tuple[str, Callable[[], Awaitable[None]]]) -> None:
    """Run shutdown steps in order within ``seconds`` in all: a step that has not finished by
    then is left (logged), and each later one still gets a moment. Then the process has at
    most ``AFTER_APP`` more (when a signal started the shutdown)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    for name, step in named:
        try:
            async with asyncio.timeout_at(max(end, loop.time() + 0.05)):
                await step()
        except TimeoutError:
            logger.warning("shutdown: %s did not finish in time; going on", name)
    deadline.shorten(AFTER_APP)


def _stop_accepting(server: uvicorn.Server) -> None:
    """Close the server's listening sockets now rather than at its next tick (uvicorn closes
    them itself on shutdown; closing twice is harmless)."""
    for listener in getattr(server, "servers", ()):
        listener.close()

"""Graceful restarts: stop taking connections, then tell live readers to come back elsewhere.

Uvicorn stops on SIGTERM/SIGINT by waiting for open responses to finish, and only then runs the
lifespan shutdown. A live stream never finishes by itself, so without this a restart would wait
for its graceful timeout. Chaining onto uvicorn's own signal handler works in every worker
process, whatever supervisor started it.

The listening sockets are closed first, in the same loop turn: readers told to leave come back
at once (through a proxy, within their jitter), and a process that still accepted them would
hand them streams that die with it, a second storm for the others (bench/storm.py saw readers
displaced twice). Closed, the port refuses, and a proxy sends them on to another process.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType

import uvicorn


def on_uvicorn_exit(callback: Callable[[], None]) -> None:
    """Run ``callback`` on the event loop when uvicorn is told to stop (no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not isinstance(getattr(previous, "__self__", None), uvicorn.Server):
            continue  # not running under uvicorn's handlers (tests, other servers)

        def handler(signum: int, frame: FrameType | None, previous: Callable = previous) -> None:  # type: ignore[type-arg]
            loop.call_soon_threadsafe(_stop_accepting, previous.__self__)
            loop.call_soon_threadsafe(callback)
            previous(signum, frame)

        signal.signal(sig, handler)


def _stop_accepting(server: uvicorn.Server) -> None:
    """Close the server's listening sockets now rather than at its next tick (uvicorn closes
    them itself on shutdown; closing twice is harmless)."""
    for listener in getattr(server, "servers", ()):
        listener.close()

"""Photo work shared out between every process of a host: a fixed number of slots.

A slot is an exclusive ``flock`` on one of N lock files in a directory that every process on
the host uses (``LIVEBLOG_MEDIA_SLOTS_DIR``). So the bound holds however many processes serve
(``liveblog serve --workers``, or several servers), two coroutines of one process exclude each
other as two processes do (each acquisition opens its own file description), and the kernel
frees the slots of a process that dies with it: nothing to clean up, no daemon.

Waiting is polling with ``LOCK_NB`` (the event loop never blocks), for at most ``wait``
seconds; then :class:`SlotsBusy`, which the endpoint answers 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import random
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

_POLL_FIRST, _POLL_MAX = 0.01, 0.2  # seconds between tries, doubling


class SlotsBusy(Exception):
    """No slot freed within the wait."""


def default_directory() -> Path:
    """The host's temporary directory, one per user: every process a service runs shares it."""
    return Path(tempfile.gettempdir()) / f"liveblog-{os.getuid()}-slots"


class Slot:
    """A held slot; :meth:`release` (closing the lock file) gives it back, once."""

    __slots__ = ("_fd",)

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


class HostSlots:
    def __init__(self, directory: str | os.PathLike[str], kind: str, count: int, wait: float):
        self.directory = Path(directory)
        self.kind = kind
        self.count = count
        self.wait = wait
        self._ready = False

    def try_acquire(self) -> Slot | None:
        """A free slot now, or None. Starts at a random one: waiters spread over the files."""
        self._prepare()
        start = random.randrange(self.count)
        for i in range(self.count):
            path = self.directory / f"{self.kind}-{(start + i) % self.count}.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            except BaseException:
                os.close(fd)
                raise
            return Slot(fd)
        return None

    async def acquire(self) -> Slot:
        """A slot, waiting up to ``wait`` seconds for one; else :class:`SlotsBusy`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        pause = _POLL_FIRST
        while (slot := self.try_acquire()) is None:
            left = deadline - loop.time()
            if left <= 0:
                raise SlotsBusy(self.kind)
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, _POLL_MAX)
        return slot

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[Slot]:
        slot = await self.acquire()
        try:
            yield slot
        finally:
            slot.release()

    def _prepare(self) -> None:
        if not self._ready:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._ready = True

"""Background work that never dies silently.

Every loop and task the server runs in the background goes through a :class:`Supervisor`. An
unexpected exception is logged with its traceback and counted by task name (the metric
``liveblog_task_errors_total{task=...}``); a loop then backs off with jitter and runs again.
While a loop marked ``critical`` (one that delivery depends on) is not running, ``down`` names
it, and ``/readyz`` answers 503.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

logger = logging.getLogger("liveblog.tasks")

# Named here so that their error counters exist (at zero) before anything goes wrong.
_STEADY_SECONDS = 60.0

TASKS = (
    "subscription", "housekeeping", "fill", "deliver", "stats-reporter", "scheduler", "presence",
    "notice", "rights", "eviction-check",
)  # fmt: skip


class Supervisor:
    def __init__(self, *, first_delay: float = 0.05, max_delay: float = 5.0) -> None:
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.errors: collections.Counter[str] = collections.Counter(dict.fromkeys(TASKS, 0))
        self._down: set[str] = set()  # critical loops that are not running now
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def down(self) -> list[str]:
        return sorted(self._down)

    def failed(self, task: str, exc: BaseException) -> None:
        """Log and count one unexpected failure of ``task`` (which recovers by itself)."""
        self.errors[task] += 1
        logger.error("background task %r failed; it goes on", task, exc_info=exc)

    def backoff(self, delay: float) -> tuple[float, float]:
        """(seconds to sleep now, the next delay): exponential, with jitter so that many
        processes do not retry in lockstep."""
        return delay * (0.5 + random.random()), min(delay * 2, self.max_delay)

    def loop(
        self, name: str, body: Callable[[], Awaitable[None]], *, critical: bool = False
    ) -> asyncio.Task[None]:
        """Run ``body()`` until it returns; when it raises, log, count, back off, run again."""
        task = asyncio.create_task(self._run(name, body, critical), name=name)
        self._keep(task)
        return task

    async def _run(self, name: str, body: Callable[[], Awaitable[None]], critical: bool) -> None:
        loop = asyncio.get_running_loop()
        delay = self.first_delay
        while True:
            started = loop.time()
            try:
                await body()
                return
            except Exception as exc:
                self.failed(name, exc)
            if loop.time() - started > _STEADY_SECONDS:
                delay = self.first_delay  # it ran well for a while: a fresh failure
            if critical:
                self._down.add(name)
            pause, delay = self.backoff(delay)
            try:
                await asyncio.sleep(pause)
            finally:
                self._down.discard(name)

    def spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """A one-off task; should it raise, the error is logged and counted, not lost."""
        task = asyncio.create_task(coro, name=name)
        self._keep(task)
        task.add_done_callback(lambda done: self._report(name, done))
        return task

    def _report(self, name: str, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            self.failed(name, exc)

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)  # a strong reference: the loop keeps only weak ones
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

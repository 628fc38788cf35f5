"""Scheduled entries go out on time: a background loop in every server process.

Every process looks for due entries every ``scheduler_interval_seconds``; each publication is
claimed atomically in the engine (the entry must still be on its blog's schedule, at the version
read), so with several processes exactly one publishes it, and readers get one
``entry.created``. Nothing is held in memory: after a restart the schedule is where it was.
Finding due blogs is the engine's (Redis: an index of blogs by their earliest due time, mended
by a rescan of every blog at start-up and every ``scheduler_rescan_seconds``).
"""

from __future__ import annotations

import asyncio
import logging
import time

from liveblog.editorial import editing
from liveblog.engine.base import Engine, EngineError

logger = logging.getLogger("liveblog.editorial.scheduler")


class Scheduler:
    def __init__(self, engine: Engine, *, interval: float, rescan: float) -> None:
        self.engine = engine
        self.interval = interval
        self.rescan = rescan
        self.published = 0  # by this process
        self._next_rescan = 0.0  # at start: look at every blog once

    async def run(self) -> None:
        """The loop body the supervisor runs (and restarts after an unexpected error). A store
        that cannot be reached is expected (a Redis restart): said once per outage, not counted
        as a task error, and the next tick tries again."""
        failing = False
        while True:
            try:
                await self.tick()
                if failing:
                    logger.warning("scheduled entries: the store answers again")
                failing = False
            except EngineError as exc:
                if not failing:
                    logger.warning("scheduled entries wait: %s", exc)
                failing = True
            await asyncio.sleep(self.interval)

    async def tick(self) -> int:
        """Publish every entry due now; returns how many this process published."""
        now = time.time()
        rescan = time.monotonic() >= self._next_rescan
        due = await self.engine.due_blogs(now, rescan=rescan)
        if rescan:
            self._next_rescan = time.monotonic() + self.rescan
        count = 0
        for slug, mark in due:
            for entry_id in await self.engine.due_entries(slug, now):
                if await editing.publish_due(self.engine, slug, entry_id) is not None:
                    count += 1
                    logger.info("published scheduled entry %s of %s", entry_id, slug)
            await self.engine.settle_due(slug, mark)
        self.published += count
        return count

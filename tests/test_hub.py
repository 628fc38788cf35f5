"""The hub's process-wide work, on its own: housekeeping over many readers."""

from __future__ import annotations

import asyncio

from liveblog.delivery.connections import HEARTBEATS
from liveblog.delivery.hub import HEARTBEAT_SLICE, Hub
from liveblog.engine.memory import MemoryEngine


async def test_heartbeats_to_many_readers_let_the_loop_run_between_slices() -> None:
    """20,000 heartbeats in one go would hold up live events and requests for ~100 ms: they
    go out in slices, and other work runs in between. Every reader still gets one."""
    hub = Hub(MemoryEngine())
    readers = [hub.connection("sse") for _ in range(3 * HEARTBEAT_SLICE)]
    seen: list[int] = []

    async def meanwhile() -> None:
        await asyncio.sleep(0)
        seen.append(sum(1 for reader in readers if reader.pending))

    other_work = asyncio.create_task(meanwhile())
    await hub.housekeeping()
    await other_work
    assert 0 < seen[0] < len(readers)  # it ran while heartbeats were still going out
    assert all(reader.pending == [HEARTBEATS["sse"]] for reader in readers)

"""The dashboard's readers chart (`GET /api/stats`: `readers_last_hour`, `readers_peak`,
`readers_peak_at`): a point a minute for the last hour, summed over every server process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from liveblog.delivery.hub import Hub
from liveblog.engine.memory import MemoryEngine
from liveblog.ops import stats
from liveblog.supervisor import Supervisor
from tests.support.clients import Editor, SSEReader, WSReader
from tests.support.servers import ADMIN_TOKEN, ServerProcess


async def test_points_sum_processes_keep_the_hour_and_name_the_peak() -> None:
    engine = MemoryEngine()
    reporter = stats.Reporter(engine, Hub(engine), Supervisor())
    minute = int(time.time() // 60)
    # Two processes, three minutes ago and a minute ago; one long gone (two hours ago).
    await engine.record_readers(minute - 3, "p1", b'{"night":40,"day":1}')
    await engine.record_readers(minute - 3, "p2", b'{"night":25}')
    await engine.record_readers(minute - 1, "p1", b'{"night":10}')
    await engine.record_readers(minute - 120, "p1", b'{"night":999}')
    now, by_minute = await reporter.readers_by_minute()
    assert now == minute
    points, peak, at = stats._readers_chart("night", 7, now, by_minute)
    assert len(points) == stats.MINUTES
    assert points[-4:] == [65, 0, 10, 7]  # this minute: the readers there are now
    assert sum(points[:-4]) == 0  # the old record is outside the hour
    assert (peak, at) == (65, datetime.fromtimestamp((minute - 3) * 60, UTC))
    assert stats._readers_chart("quiet", 0, now, by_minute) == ([0] * stats.MINUTES, 0, None)


async def test_the_chart_counts_readers_on_every_process(
    server_process: Callable[..., ServerProcess],
) -> None:
    first, second = server_process(), server_process()
    admin = Editor(first.url, ADMIN_TOKEN)
    await admin.blog("night", "Election night")
    readers = [await SSEReader(first.url, "/blogs/night/events").connect() for _ in range(3)]
    readers += [await WSReader(second.url, "/blogs/night/ws").connect() for _ in range(2)]
    try:
        async with httpx.AsyncClient(base_url=first.url) as http:
            async with asyncio.timeout(20):
                while True:
                    [blog] = (await http.get("/api/stats")).json()["blogs"]
                    if blog["readers_last_hour"][-1] == 5:
                        break
                    await asyncio.sleep(0.2)
        assert len(blog["readers_last_hour"]) == 60
        assert blog["readers_peak"] == 5 and blog["readers_peak_at"].endswith(":00Z")
    finally:
        for reader in readers:
            await reader.close()
        await admin.close()

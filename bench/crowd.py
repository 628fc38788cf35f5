"""What the crowd benches share: browser worker processes, paced entries, the sums.

``Workers`` starts ``browsers.py`` processes (each from its own source address 127.0.0.<n>, so
no address runs out of client ports, all pinned to the generator's core), asks them how far
their browsers got, and merges what they recorded. ``Ticker`` posts an entry every interval in
the background and remembers when each went out. ``percentiles`` and ``lost`` do the sums.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from payload import BUILDERS
from publisher import Publisher
from targets import PYTHON, Endpoint

BENCH = Path(__file__).resolve().parent


class Workers:
    """Browser worker processes, driven by one-line JSON commands (see browsers.py)."""

    def __init__(self, procs: list[asyncio.subprocess.Process], tmpdir: str) -> None:
        self.procs = procs
        self.tmpdir = tmpdir

    @classmethod
    async def spawn(
        cls, base: dict[str, Any], total: int, procs: int, gen_cpus: str = "1"
    ) -> Workers:
        tmpdir = tempfile.mkdtemp(prefix="bench-crowd-")
        q, r = divmod(total, procs)
        started = []
        for i in range(procs):
            count = q + (i < r)
            if not count:
                continue
            cfg = {**base, "count": count, "source": f"127.0.0.{2 + i}", "tmpdir": tmpdir}
            cfg["seed"] = i
            proc = await asyncio.create_subprocess_exec(
                "taskset",
                "-c",
                gen_cpus,
                PYTHON,
                str(BENCH / "browsers.py"),
                json.dumps(cfg),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=1 << 24,
            )
            started.append(proc)
        workers = cls(started, tmpdir)
        await asyncio.gather(*(workers.read(p) for p in started))  # "started"
        return workers

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    async def read(self, proc: asyncio.subprocess.Process) -> dict[str, Any]:
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        if not line:
            raise RuntimeError(f"browser worker {proc.pid} exited ({proc.returncode})")
        doc: dict[str, Any] = json.loads(line)
        return doc

    async def ask(self, cmd: str) -> list[dict[str, Any]]:
        async def one(proc: asyncio.subprocess.Process) -> dict[str, Any]:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps({"cmd": cmd}).encode() + b"\n")
            await proc.stdin.drain()
            return await self.read(proc)

        return await asyncio.gather(*(one(p) for p in self.procs))

    async def status(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for doc in await self.ask("status"):
            for key, value in doc.items():
                total[key] = total.get(key, 0) + value
        return total

    async def collect(self) -> dict[str, Any]:
        """Every browser of every worker, the latencies, the errors, the bytes."""
        merged: dict[str, Any] = {
            "browsers": [],
            "live_lat": [],
            "catchup_lat": [],
            "errors": {},
            "wire": 0,
            "page_wire": 0,
        }
        for doc in await self.ask("collect"):
            part = json.loads(await asyncio.to_thread(Path(doc["file"]).read_text))
            os.unlink(doc["file"])
            merged["browsers"] += part["browsers"]
            merged["live_lat"] += part["live_lat"]
            merged["catchup_lat"] += part["catchup_lat"]
            merged["wire"] += part["wire"]
            merged["page_wire"] += part["page_wire"]
            for kind, n in part["errors"].items():
                merged["errors"][kind] = merged["errors"].get(kind, 0) + n
        return merged

    async def quit(self) -> None:
        for proc in self.procs:
            try:
                assert proc.stdin is not None
                proc.stdin.write(b'{"cmd": "quit"}\n')
                await proc.stdin.drain()
                await asyncio.wait_for(proc.wait(), 20)
            except (TimeoutError, BrokenPipeError, ConnectionError):
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()


class Ticker:
    """An entry every ``interval`` seconds until stopped; when each one was stamped."""

    def __init__(self, ep: Endpoint, interval: float, body_source: Path | None = None) -> None:
        build = BUILDERS[ep.payload](ep.blog, 600, body_source)
        self.stamps: list[int] = []  # time_ns stamped into entry seq, by seq

        def stamped(seq: int, t_ns: int) -> bytes:
            while len(self.stamps) <= seq:
                self.stamps.append(0)
            self.stamps[seq] = t_ns
            return build(seq, t_ns)

        # One connection: each POST waits for the one before, so the publisher's order is the
        # store's, and a reader's "out of order" is the server's doing, never two POSTs that
        # overlapped and were stored the other way round.
        self.publisher = Publisher(
            ep.host, ep.pub_port or ep.port, ep.pub_path, ep.pub_headers, stamped, conns=1
        )
        self.interval = interval
        self.task: asyncio.Task[None] | None = None
        self.stopping = False
        self.statuses: dict[int, int] = {}
        self.post_ms: list[float] = []

    async def start(self) -> None:
        await self.publisher.open()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        seq = 0
        per_batch = max(1, round(1.0 / self.interval))
        while not self.stopping:
            result = await self.publisher.run(seq, per_batch, 1.0 / self.interval)
            seq += per_batch
            for unacknowledged in result.unacknowledged:
                self.stamps[unacknowledged] = 0  # refused (a 503 under the crowd): not owed
            for status, n in result.statuses.items():
                self.statuses[status] = self.statuses.get(status, 0) + n
            self.post_ms += result.post_ms

    async def stop(self) -> None:
        self.stopping = True
        if self.task is not None:
            await self.task
        await self.publisher.close()

    @property
    def sent(self) -> int:
        """Entries the server acknowledged."""
        return sum(1 for t in self.stamps if t)


def redis_above_us(redis_pid: int) -> None:
    """Under SCHED_FIFO, a target's Redis one priority above its servers, on their shared core.

    Every process of the bench inherits SCHED_FIFO 1. At equal FIFO priority Redis runs only when
    the server blocks, and a server busy with a crowd never blocks: each of its Redis calls then
    waits until the crowd is served (at a16627b, pub/sub timed out for 19 s and the pool's 2 s
    wait ran out 11,000 times, with Redis at 0.3% CPU). A Redis of its own core, as deployed,
    answers at once; above the server on this one it does too, its CPU still counted. Every
    target, the same way."""
    if os.sched_getscheduler(0) != os.SCHED_FIFO:
        return
    priority = os.sched_getparam(0).sched_priority + 1
    os.sched_setscheduler(redis_pid, os.SCHED_FIFO, os.sched_param(priority))


def percentiles(values: list[float], scale: float = 1.0) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None, "n": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        idx = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
        return round(ordered[idx] * scale, 1)

    return {"p50": at(0.5), "p99": at(0.99), "max": at(1.0), "n": len(ordered)}


def lost(browser: dict[str, Any], stamps: list[int], owed_from_ns: int) -> int:
    """Entries stamped at or after ``owed_from_ns`` that the browser never received."""
    got = int(browser["seqs"] or "0", 16)
    return sum(
        1 for seq, t in enumerate(stamps) if t >= owed_from_ns and t and not (got >> seq) & 1
    )


def now_s() -> float:
    return time.time()

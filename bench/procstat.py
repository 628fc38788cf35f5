"""CPU time and resident memory of a process tree, read from /proc."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            raw = fh.read()
    except OSError:
        return None
    # the command name may hold spaces and parentheses: split after the last ')'
    return raw[raw.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (every thread's children file)."""
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                kids.extend(int(x) for x in fh.read().split())
        except OSError:
            pass
    return kids


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (uvicorn workers, nginx workers)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children(p))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes, in seconds."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            ticks += int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat
    return ticks / CLK_TCK


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except OSError:
            pass
    return total


def tcp_mem_bytes() -> int:
    """Kernel memory held by TCP sockets machine-wide (``/proc/net/sockstat``)."""
    with open("/proc/net/sockstat") as fh:
        for line in fh:
            if line.startswith("TCP:"):
                parts = line.split()
                return int(parts[parts.index("mem") + 1]) * PAGE
    return 0


@dataclass
class CpuMeter:
    """CPU use of a process tree over a window, as percent of one core."""

    pids: list[int]
    start_cpu: float = 0.0
    start_wall: float = 0.0

    def start(self) -> None:
        self.start_cpu = cpu_seconds(self.pids)
        self.start_wall = time.monotonic()

    def percent(self) -> float:
        wall = time.monotonic() - self.start_wall
        used = cpu_seconds(self.pids) - self.start_cpu
        return 100.0 * used / wall if wall > 0 else 0.0

    def seconds(self) -> float:
        return cpu_seconds(self.pids) - self.start_cpu


def core_times() -> dict[int, tuple[int, int]]:
    """Per core: (busy ticks, total ticks) from /proc/stat; busy counts irq and softirq."""
    out: dict[int, tuple[int, int]] = {}
    with open("/proc/stat") as fh:
        for line in fh:
            if line.startswith("cpu") and line[3].isdigit():
                name, *vals = line.split()
                ticks = [int(v) for v in vals[:8]]  # user nice system idle iowait irq softirq steal
                idle = ticks[3] + ticks[4]
                out[int(name[3:])] = (sum(ticks) - idle, sum(ticks))
    return out


@dataclass
class CoreMeter:
    """How busy each core was over a window (percent), softirq and irq included."""

    start_times: dict[int, tuple[int, int]] | None = None

    def start(self) -> None:
        self.start_times = core_times()

    def percent(self) -> dict[int, float]:
        assert self.start_times is not None
        now = core_times()
        busy: dict[int, float] = {}
        for core, (b1, t1) in now.items():
            b0, t0 = self.start_times.get(core, (0, 0))
            busy[core] = round(100.0 * (b1 - b0) / (t1 - t0), 1) if t1 > t0 else 0.0
        return busy


def all_user_cpu_ticks() -> dict[int, int]:
    """utime + stime of every user-space process (kernel threads left out)."""
    ticks: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat_fields(int(name))
        if fields is None or fields[1] == "2" or name == "2":  # ppid 2: kernel thread
            continue
        ticks[int(name)] = int(fields[11]) + int(fields[12])
    return ticks


@dataclass
class ForeignMeter:
    """CPU used by processes that are not part of the measurement (other people's tests)."""

    ours: set[int]
    start_ticks: dict[int, int] | None = None
    start_wall: float = 0.0

    def start(self) -> None:
        self.start_ticks = all_user_cpu_ticks()
        self.start_wall = time.monotonic()

    def percent(self) -> float:
        assert self.start_ticks is not None
        wall = time.monotonic() - self.start_wall
        used = 0
        for pid, ticks in all_user_cpu_ticks().items():
            if pid not in self.ours:
                used += ticks - self.start_ticks.get(pid, 0)
        return 100.0 * used / CLK_TCK / wall if wall > 0 else 0.0

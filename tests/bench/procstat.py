"""CPU time and memory of a process and its threads, read from /proc.

Linux only, like the lab. CPU is utime + stime of every thread; memory is the
resident set size, sampled, since a process's own peak (VmHWM) cannot be reset
between benchmark steps.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # after the command name: state is field 3, utime 14, stime 15 (1-based)
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_mb(pid: int) -> float:
    """Resident memory in MiB (0 when the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Usage:
    """What a process used over a measured span."""

    cpu_percent: float  # of one core: 100 = one core busy all the time
    peak_rss_mb: float
    rss_mb_end: float


class Sampler:
    """Measure one process's CPU and peak RSS from start() to stop().

    A daemon thread samples RSS every ``interval_s``; CPU is the difference of
    the process's CPU counters over the wall time in between.
    """

    def __init__(self, pid: int, interval_s: float = 0.25) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak = 0.0
        self._cpu0 = 0.0
        self._t0 = 0.0

    def start(self) -> Sampler:
        self._cpu0, self._t0 = cpu_seconds(self.pid), time.monotonic()
        self._peak = rss_mb(self.pid)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._peak = max(self._peak, rss_mb(self.pid))

    def stop(self) -> Usage:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        wall = max(time.monotonic() - self._t0, 1e-9)
        cpu = cpu_seconds(self.pid) - self._cpu0
        end = rss_mb(self.pid)
        return Usage(cpu_percent=100 * cpu / wall, peak_rss_mb=max(self._peak, end),
                     rss_mb_end=end)


class MachineCpu:
    """Busy share of all the machine's cores since creation, from /proc/stat.

    100 % means one core busy; a 2-core machine tops out at 200 %. Benchmark
    processes whose own counters are gone by the end (PostgreSQL backends of a
    closed pool) still show here.
    """

    def __init__(self) -> None:
        self._busy, self._total = self._read()

    @staticmethod
    def _read() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values) - idle, sum(values)

    def busy_percent(self) -> float:
        busy, total = self._read()
        span = max(total - self._total, 1)
        return 100 * (os.cpu_count() or 1) * (busy - self._busy) / span

"""Router memory and CPU while it holds many bridged calls at once.

One sipp caller places ``calls`` calls to the router's hotline at ``rate``
per second and holds each for long enough that all are up together; we wait
(bounded) until Asterisk shows them all bridged, then measure the router
over a steady window, and again after every call has ended.

Each call is two channels with an RTP port pair each, so the lab's RTP range
bounds what fits: 4,000 ports (1,000 calls) at LAB_PORT_OFFSET=0, 1,000 ports
(250 calls) at other offsets.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from router import db as router_db
from tests.bench import load, paths, procstat
from tests.bench.calls import asterisk_pid, wait_idle
from tests.lab import asterisk, database, ports
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess


def default_calls() -> int:
    start, end = ports.rtp(0)
    # two channels per call, two ports (RTP + RTCP) per channel, some slack
    return min(500, (end - start + 1) // 4 - 40)


@dataclass(frozen=True)
class ConcurrencyResult:
    calls: int
    bridged_peak: int
    ramp_s: float
    rss_idle_mb: float
    rss_held_mb: float
    peak_rss_mb: float
    rss_after_mb: float
    router_cpu_ramp_percent: float
    router_cpu_held_percent: float
    asterisk_cpu_held_percent: float
    answered: int


def bridges(lab: AsteriskLab) -> int:
    """Bridges with a call in them (an empty one left from earlier is not a call)."""
    found = asterisk.ari_get(lab, "/bridges", timeout_s=5)
    return sum(1 for b in found if b.get("channels")) if isinstance(found, list) else 0


async def run(lab: AsteriskLab, calls: int | None = None, rate: float = 25.0,
              steady_s: float = 10.0, phones: int = 20) -> ConcurrencyResult:
    calls = calls or default_calls()
    workdir = Path(tempfile.mkdtemp(prefix="bench-concurrency-"))
    url = await database.fresh(database.name("bench_concurrency"))
    pool = load.PhonePool(phones).start()
    db = await router_db.connect_pool(url, min_size=1, max_size=2)
    router = RouterProcess(lab, url, "hotline-router-bench", workdir / "router.log")
    ramp_budget_s = calls / rate + 30
    # every call stays up through the ramp, the steady window and some slack
    hold_ms = int((calls / rate + steady_s + 10) * 1000)
    try:
        await paths.install_router_hotline(db, pool.dial_strings())
        router.start()
        assert router.process is not None
        pid = router.process.pid
        paths.use_router_mode(lab, "broadcast", router.app)
        await wait_idle(lab)
        rss_idle = procstat.rss_mb(pid)
        whole = procstat.Sampler(pid).start()
        ramp = procstat.Sampler(pid).start()
        started = time.monotonic()
        placing = asyncio.create_task(load.place_calls(
            lab.sip_address, paths.ROUTER_NUMBER, "7", rate, calls, hold_ms,
            workdir=workdir / "callers"))
        peak = 0
        while time.monotonic() - started < ramp_budget_s and not placing.done():
            peak = max(peak, bridges(lab))
            if peak >= calls:
                break
            await asyncio.sleep(0.5)
        ramp_s = time.monotonic() - started
        ramp_use = ramp.stop()
        held = procstat.Sampler(pid).start()
        star = procstat.Sampler(asterisk_pid(lab)).start()
        await asyncio.sleep(steady_s)
        peak = max(peak, bridges(lab))
        held_use, star_use = held.stop(), star.stop()
        seen = await placing
        await wait_idle(lab, timeout_s=60)
        whole_use = whole.stop()
        await asyncio.sleep(1)
        return ConcurrencyResult(
            calls=calls, bridged_peak=peak, ramp_s=ramp_s, rss_idle_mb=rss_idle,
            rss_held_mb=held_use.rss_mb_end, peak_rss_mb=whole_use.peak_rss_mb,
            rss_after_mb=procstat.rss_mb(pid),
            router_cpu_ramp_percent=ramp_use.cpu_percent,
            router_cpu_held_percent=held_use.cpu_percent,
            asterisk_cpu_held_percent=star_use.cpu_percent, answered=len(seen.answered))
    finally:
        with contextlib.suppress(Exception):
            paths.use_router_mode(lab, "broadcast", None)
        router.stop()
        pool.stop()
        await db.close()

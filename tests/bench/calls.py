"""Calls per second through the router, app_queue and a plain Dial(), side by side.

One lab Asterisk, one pool of answering sipp phones, one router process; each
rate step runs the three paths one after another, so the machine's noise
falls on all three alike. Per step: calls attempted and answered, post-dial
delay (caller's INVITE to the phone's INVITE) p50/p99, Asterisk's CPU, and
the router's CPU and peak RSS.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from router import db as router_db
from tests.bench import load, paths, procstat
from tests.bench.stats import percentile
from tests.lab import asterisk, database
from tests.lab.asterisk import AsteriskLab
from tests.lab.engine import detect
from tests.lab.router import RouterProcess


@dataclass(frozen=True)
class StepResult:
    path: str
    rate: float
    attempted: int
    answered: int
    pdd_p50_s: float | None
    pdd_p99_s: float | None
    asterisk_cpu_percent: float
    router_cpu_percent: float
    router_peak_rss_mb: float
    seconds: float
    # What the router did for the step's calls (router paths; None otherwise):
    # ARI events it received, ARI requests it sent, log lines it wrote.
    ari_events: int | None = None
    ari_requests: int | None = None
    log_lines: int | None = None
    # The router's CPU seconds from before the step's first call to after its
    # last call's end (its last records included).
    router_cpu_s: float | None = None

    @property
    def success_percent(self) -> float:
        return 100 * self.answered / self.attempted if self.attempted else 0.0

    def per_answered(self, count: float | None) -> float | None:
        """A count of the step divided by its answered calls."""
        return None if count is None or not self.answered else count / self.answered

    @property
    def router_cpu_ms_per_call(self) -> float | None:
        """The router's CPU per answered call, in ms (see router_cpu_s)."""
        per_call = self.per_answered(self.router_cpu_s)
        return None if per_call is None else per_call * 1000


@dataclass(frozen=True)
class RouterCounts:
    """The router's running totals at one moment (see StepResult)."""

    ari_events: int
    ari_requests: int
    log_lines: int
    cpu_s: float

    @classmethod
    def read(cls, router: RouterProcess) -> RouterCounts:
        assert router.process is not None
        cpu_s = procstat.cpu_seconds(router.process.pid)
        scraped = router.metrics()
        events = sum(value for (name, _), value in scraped.samples.items()
                     if name == "hotline_router_ari_events_total")
        requests = sum(value for (name, _), value in scraped.samples.items()
                       if name == "hotline_router_ari_requests_total")
        with router.log_path.open("rb") as log:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: log.read(1 << 20), b""))
        return cls(int(events), int(requests), lines, cpu_s)


# Told (path, rate, router pid) as a step's calls start, e.g. to profile the router.
StepHook = Callable[[str, float, int], None]


@dataclass(frozen=True)
class CallsConfig:
    rates: Sequence[float] = (5, 10, 20, 40, 80)
    step_s: float = 15.0          # each step places rate * step_s calls
    hold_ms: int = 1000
    phones: int = 20
    paths: Sequence[str] = ("router", "router-stasis", "queue", "dial")
    min_calls: int = 10


def asterisk_pid(lab: AsteriskLab) -> int:
    """The Asterisk process of the lab container, as the host sees it."""
    out = detect().run("inspect", "--format", "{{.State.Pid}}", lab.container).stdout
    return int(out.strip())


def live_channels(lab: AsteriskLab) -> int:
    channels = asterisk.ari_get(lab, "/channels", timeout_s=5)
    return len(channels) if isinstance(channels, list) else 0


async def wait_idle(lab: AsteriskLab, timeout_s: float = 30.0) -> None:
    """Wait (bounded) until the previous step's calls have all hung up."""
    for _ in range(int(timeout_s / 0.25)):
        if live_channels(lab) == 0:
            return
        await asyncio.sleep(0.25)


async def run_step(lab: AsteriskLab, pool: load.PhonePool, router: RouterProcess,
                   path: str, rate: float, config: CallsConfig, prefix: str,
                   workdir: Path, on_start: StepHook | None = None) -> StepResult:
    assert router.process is not None
    calls = max(config.min_calls, round(rate * config.step_s))
    await wait_idle(lab)
    counts = RouterCounts.read(router)
    before = pool.invites()
    star = procstat.Sampler(asterisk_pid(lab)).start()
    rout = procstat.Sampler(router.process.pid).start()
    if on_start is not None:
        on_start(path, rate, router.process.pid)
    started = time.monotonic()
    seen = await load.place_calls(lab.sip_address, paths.PATHS[path], prefix, rate, calls,
                                  config.hold_ms, workdir=workdir / f"{path}-{rate:g}")
    seconds = time.monotonic() - started
    star_use, rout_use = star.stop(), rout.stop()
    reached = {k: v for k, v in pool.invites().items() if k not in before}
    delays = [reached[c] - t for c, t in seen.invites.items() if c in reached]
    routed = path.startswith("router")
    if routed:  # the calls' last events and records, before counting them
        await wait_idle(lab)
        await asyncio.sleep(0.5)
    after = RouterCounts.read(router)
    return StepResult(path=path, rate=rate, attempted=seen.attempted,
                      answered=len(seen.answered), pdd_p50_s=percentile(delays, 50),
                      pdd_p99_s=percentile(delays, 99),
                      asterisk_cpu_percent=star_use.cpu_percent,
                      router_cpu_percent=rout_use.cpu_percent,
                      router_peak_rss_mb=rout_use.peak_rss_mb, seconds=seconds,
                      ari_events=after.ari_events - counts.ari_events if routed else None,
                      ari_requests=after.ari_requests - counts.ari_requests if routed else None,
                      log_lines=after.log_lines - counts.log_lines if routed else None,
                      router_cpu_s=after.cpu_s - counts.cpu_s if routed else None)


async def run(config: CallsConfig, on_row: Callable[[StepResult], None] = print,
              lab: AsteriskLab | None = None,
              on_step: StepHook | None = None,
              database_name: str | None = None) -> list[StepResult]:
    """The whole stepped run; the lab must be up (see tests.bench.__main__)."""
    lab = lab or asterisk.instance()
    workdir = Path(tempfile.mkdtemp(prefix="bench-calls-"))
    url = await database.fresh(database_name or database.name("bench_calls"))
    pool = load.PhonePool(config.phones).start()
    db = await router_db.connect_pool(url, min_size=1, max_size=2)
    router = RouterProcess(lab, url, "hotline-router-bench", workdir / "router.log",
                           {"LOG_LEVEL": "info"})
    results: list[StepResult] = []
    try:
        await paths.install_router_hotline(db, pool.dial_strings())
        paths.install_native(lab, pool.dial_strings())
        router.start()
        mode = ""
        for step, rate in enumerate(config.rates):
            for n, path in enumerate(config.paths):
                prefix = f"8{step:02d}{n}"
                wanted = "stasis" if path == "router-stasis" else "broadcast"
                if wanted != mode:  # a dialplan change costs a CLI round trip: only when needed
                    paths.use_router_mode(lab, wanted, router.app)
                    mode = wanted
                result = await run_step(lab, pool, router, path, rate, config, prefix, workdir,
                                        on_step)
                results.append(result)
                on_row(result)
        await wait_idle(lab)  # let the router finish its calls before it stops
    finally:
        router.stop()
        pool.stop()
        paths.remove_native(lab)
        paths.use_router_mode(lab, "broadcast", None)
        await db.close()
    return results

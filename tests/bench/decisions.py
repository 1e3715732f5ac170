"""The decision core without ARI: what a router does for each call before it
dials, then the release, using the router's own functions. Two paths:

- ``one-statement`` (what router/call/first_claim.py does): the hotline and
  its strategy's order from the live configuration snapshot, then one
  statement claims the first idle phone in that order with the round-robin
  turn, the billing refusal and busy state (claims.claim_in_order);
- ``lookup-then-claim`` (the router before it, and still its path when a plan
  or a strategy needs busy state first): the phones' busy state and the turn
  in one query (directory.find_hotline with a fresh snapshot), the strategy's
  plan, then a claim per phone tried.

Workers are separate processes, as several routers would be, each with its
own connection pool and ``concurrency`` calls in flight; the parent sums what
they did.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import strategies
from router import claims, rotation, runner
from router import db as router_db
from router.directory import Lookup, PhoneState, Snapshot, find_hotline, load_snapshot
from tests.bench import procstat
from tests.bench.stats import percentile
from tests.lab import database

PHONES_PER_HOTLINE = 10
PATHS = ("one-statement", "lookup-then-claim")
# 100,000 phones take a while to insert on a busy machine (each gets its state row).
POPULATE_TIMEOUT_S = 600


async def populate(url: str, hotlines: int) -> None:
    """``hotlines`` round_robin hotlines with 10 bound phones each (their own)."""
    connection = await router_db.connect(url)
    try:
        async with connection.transaction():
            await connection.execute(
                """INSERT INTO hotlines (number, strategy, name)
                   SELECT '400' || lpad(i::text, 7, '0'), 'round_robin', 'bench'
                   FROM generate_series(1, $1) i""", hotlines, timeout=POPULATE_TIMEOUT_S)
            await connection.execute(
                """INSERT INTO phones (dial_string, capacity)
                   SELECT 'PJSIP/phones/sip:p' || i || '@127.0.0.1:5999', 1
                   FROM generate_series(1, $1) i""", hotlines * PHONES_PER_HOTLINE,
                timeout=POPULATE_TIMEOUT_S)
            await connection.execute(
                """INSERT INTO bound_phones (hotline_id, phone_id, position)
                   SELECT h.id, p.id, (p.id - 1) % $1 + 1
                   FROM phones p JOIN hotlines h ON h.id = (p.id - 1) / $1 + 1""",
                PHONES_PER_HOTLINE, timeout=POPULATE_TIMEOUT_S)
        await connection.execute("VACUUM ANALYZE", timeout=POPULATE_TIMEOUT_S)
    finally:
        await connection.close()


def hotline_number(n: int) -> str:
    return f"400{n:07d}"


async def decide_in_one(db: Any, number: str, router_id: str, rng: random.Random,
                        snapshot: Snapshot) -> bool:
    """One call's routing decision in one statement, then its release; False
    when no phone was free."""
    hotline = snapshot.hotlines[number]
    strategy = strategies.get(hotline.strategy)
    strategy.validate(hotline.strategy_options)
    members = Lookup(hotline, {p.phone_id: PhoneState() for p in hotline.phones}
                     ).idle_candidates(datetime.now(UTC))
    order: strategies.Order = strategy.order(  # type: ignore[attr-defined]
        members, strategies.Context(rng=rng, bound_count=len(members)),
        hotline.strategy_options)
    got = await claims.claim_in_order(
        db, [c.phone_id for c in order.phones], [uuid4() for _ in order.phones], uuid4(),
        router_id, len(order.phones) if order.together else 1, hotline.id,
        take_turn=order.rotate, check_refusal=True)
    for phone in got.claimed:
        assert phone.leg_id is not None
        await claims.release(db, phone.leg_id)
    return bool(got.claimed)


async def decide_in_steps(db: Any, number: str, router_id: str, rng: random.Random,
                          snapshot: Snapshot | None = None) -> bool:
    """One call's routing decision looked up, then claimed phone by phone, then
    its release; False when no phone was free."""
    lookup = await find_hotline(db, number, snapshot, new_call=True)
    if lookup is None:
        raise LookupError(number)
    hotline = lookup.hotline
    strategy = strategies.get(hotline.strategy)
    strategy.validate(hotline.strategy_options)
    call_number = lookup.call_number or 0
    if getattr(strategy, "uses_call_number", False) and lookup.call_number is None:
        call_number = await rotation.next_call_number(db, hotline.id)
    context = strategies.Context(rng=rng, call_number=call_number,
                                 bound_count=len(lookup.phones))
    plan = strategy.plan(lookup.idle_candidates(context.now), context,
                         hotline.strategy_options)
    call_id = uuid4()
    for wave in plan:
        for phone in wave.phones:
            leg_id = uuid4()
            if await claims.claim(db, phone.phone_id, leg_id, call_id, router_id):
                await claims.release(db, leg_id)
                return True
    return False


@dataclass(frozen=True)
class WorkerResult:
    decisions: int
    no_phone: int
    latencies_s: list[float]
    cpu_s: float
    wall_s: float


async def work(url: str, hotlines: int, seconds: float, concurrency: int,
               seed: int, path: str = PATHS[0]) -> WorkerResult:
    """Decide for random hotlines by ``path``, ``concurrency`` at a time, for ``seconds``."""
    db = await router_db.connect_pool(url, min_size=concurrency, max_size=concurrency)
    snapshot = await load_snapshot(db)  # a router keeps this, fresh, by LISTEN/NOTIFY
    decide = {"one-statement": decide_in_one, "lookup-then-claim": decide_in_steps}[path]
    rng = random.Random(seed)
    router_id = f"bench-{seed}"
    latencies: list[float] = []
    no_phone = 0
    # warm up: connections, prepared statements, caches
    for _ in range(20):
        await decide(db, hotline_number(rng.randint(1, hotlines)), router_id, rng, snapshot)
    cpu0, t0 = time.process_time(), time.monotonic()
    end = t0 + seconds

    async def loop() -> None:
        nonlocal no_phone
        while (started := time.monotonic()) < end:
            if not await decide(db, hotline_number(rng.randint(1, hotlines)), router_id, rng,
                                snapshot):
                no_phone += 1
            latencies.append(time.monotonic() - started)

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    wall = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    await db.close()
    return WorkerResult(decisions=len(latencies), no_phone=no_phone, latencies_s=latencies,
                        cpu_s=cpu, wall_s=wall)


def worker_main(argv: list[str]) -> int:
    """Entry of one worker process: writes its WorkerResult as JSON to a file."""
    url, hotlines, seconds, concurrency, seed, path, out = argv
    # the router's own event loop (uvloop where installed), as in production
    result = runner.run(work(url, int(hotlines), float(seconds), int(concurrency), int(seed),
                             path))
    Path(out).write_text(json.dumps(result.__dict__))
    return 0


@dataclass(frozen=True)
class DecisionResult:
    hotlines: int
    phones: int
    processes: int
    decisions_per_s: float
    p50_s: float | None
    p99_s: float | None
    worker_cpu_percent: float   # all workers together; 100 = one core
    machine_cpu_percent: float  # every core of the machine (PostgreSQL, others too)
    no_phone: int
    path: str = PATHS[0]

    @property
    def per_worker_core(self) -> float:
        """Decisions per CPU-second of the router processes."""
        busy = self.worker_cpu_percent / 100
        return self.decisions_per_s / busy if busy else 0.0


def measure(url: str, hotlines: int, processes: int, seconds: float,
            concurrency: int, path: str = PATHS[0]) -> DecisionResult:
    """Run ``processes`` workers at once, deciding by ``path``, and add up what they did."""
    machine = procstat.MachineCpu()
    folder = Path(tempfile.mkdtemp(prefix="hotline-bench-decisions-"))
    outputs = [folder / f"worker-{n + 1}.json" for n in range(processes)]
    workers = [subprocess.Popen([sys.executable, "-m", "tests.bench", "decision-worker", url,
                                 str(hotlines), str(seconds), str(concurrency), str(n + 1),
                                 path, str(out)])
               for n, out in enumerate(outputs)]
    results = []
    for worker, out in zip(workers, outputs, strict=True):
        worker.wait(timeout=seconds + 120)
        if worker.returncode != 0:
            raise RuntimeError(f"decision worker exited {worker.returncode}")
        results.append(WorkerResult(**json.loads(out.read_text())))
    shutil.rmtree(folder, ignore_errors=True)
    machine_percent = machine.busy_percent()
    latencies = [s for r in results for s in r.latencies_s]
    span = max(r.wall_s for r in results)
    return DecisionResult(
        hotlines=hotlines, phones=hotlines * PHONES_PER_HOTLINE, processes=processes,
        decisions_per_s=sum(r.decisions for r in results) / span,
        p50_s=percentile(latencies, 50), p99_s=percentile(latencies, 99),
        worker_cpu_percent=100 * sum(r.cpu_s for r in results) / span,
        # includes the workers' start and warm-up
        machine_cpu_percent=machine_percent,
        no_phone=sum(r.no_phone for r in results), path=path)


async def prepare(sizes: tuple[int, ...]) -> dict[int, str]:
    urls = {}
    for hotlines in sizes:
        urls[hotlines] = await database.fresh(database.name(f"bench_decisions_{hotlines}"))
        await populate(urls[hotlines], hotlines)
    return urls


def run(sizes: tuple[int, ...] = (100, 10_000), processes: tuple[int, ...] = (1, 2),
        seconds: float = 10.0, concurrency: int = 8,
        on_row: Any = print, paths: tuple[str, ...] = PATHS[:1]) -> list[DecisionResult]:
    """Each size, process count and path in turn (paths side by side, so a
    machine whose load changes meanwhile moves both alike)."""
    urls = asyncio.run(prepare(sizes))
    results = []
    for count in processes:
        for hotlines in sizes:
            for path in paths:
                result = measure(urls[hotlines], hotlines, count, seconds, concurrency, path)
                results.append(result)
                on_row(result)
    return results

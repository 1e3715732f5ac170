"""`python -m tests.bench history`: the call path's record writes and the
call log with a long call history (calls partitioned by month, 0025).

On a database of its own: the per-call record writes (CallStarted …
CallEnded, through router/records/sql.py's ``write``) and the call log's
first page for a hotline (router/call_log.py), first with an empty history,
then after seeding ``--calls`` ended calls (about 1.5 ring attempts each) over
the twelve UTC months up to now; then the same writes as records spooled
before the call's start was carried (the call_keys look-up), and the plans of
the writes (partitions read). Seeding is plain SQL (generate_series, one
month per statement, record triggers off as a bulk load would have them) and
stops at ``--max-seed-s``: the figures say how many calls were seeded.

``--before DIR`` measures the schema and statements before 0025 instead (one
unpartitioned ``calls`` and ``call_legs``): DIR holds an extract of that
version, ``git archive main migrations router/records/sql.py | tar -x -C DIR``;
the database is migrated with DIR/migrations and written with
DIR/router/records/sql.py's ``write``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import re
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from router import db as router_db
from router import migrate
from router.call_log import CallFilter, list_calls
from router.records import sql
from router.records.kinds import (
    AnyRecord,
    CallBridged,
    CallEnded,
    CallStarted,
    LegEnded,
    LegResult,
    LegStarted,
    Outcome,
    PlanDecided,
)
from tests.bench.stats import percentile
from tests.lab import database

HOTLINES = 100
PHONES = 1000
HOTLINE = "4009000001"  # the call log's hotline: one of the seeded ones
SEED_TIMEOUT_S = 7200.0  # one month's statement (asyncpg's default would be the connection's)


@dataclass(frozen=True)
class Writes:
    """Per-record write times (ms) and per-call totals (ms) of one measurement."""

    label: str
    record_ms: list[float]
    call_ms: list[float]


def months_back(now: datetime, n: int) -> list[date]:
    """The first days of the ``n`` UTC months up to and including ``now``'s, oldest first."""
    first = date(now.year, now.month, 1)
    out = [first]
    for _ in range(n - 1):
        previous = out[-1] - timedelta(days=1)
        out.append(date(previous.year, previous.month, 1))
    return out[::-1]


async def prepare(url: str) -> None:
    connection = await router_db.connect(url)
    try:
        await connection.execute(
            """INSERT INTO hotlines (number, name)
               SELECT '400' || (9000000 + i)::text, 'bench' FROM generate_series(1, $1) i""",
            HOTLINES)
        await connection.execute(
            """INSERT INTO phones (dial_string)
               SELECT 'PJSIP/phones/sip:h' || i || '@127.0.0.1:5999'
               FROM generate_series(1, $1) i""", PHONES)
    finally:
        await connection.close()


Write = Callable[[Any, AnyRecord], Awaitable[None]]


def before_write(folder: Path) -> Write:
    """``write`` of the records/sql.py extracted into ``folder`` (see --before)."""
    spec = importlib.util.spec_from_file_location(
        "records_sql_before", folder / "router" / "records" / "sql.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"--before {folder}: no router/records/sql.py in it")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    write: Write = module.write
    return write


async def fresh_database(name: str, before: Path | None) -> str:
    """A new database migrated with this version's migrations, or ``before``'s."""
    if before is None:
        return await database.fresh(name)
    url = await database.recreate(name)
    os.environ["HOTLINE_ROUTER_MIGRATIONS"] = str(before / "migrations")
    try:
        connection = await router_db.connect(url)
        try:
            await migrate.migrate(connection)
        finally:
            await connection.close()
    finally:
        del os.environ["HOTLINE_ROUTER_MIGRATIONS"]
    return url


async def seed(url: str, calls: int, months: Sequence[date], now: datetime, max_s: float,
               log: Any, partitioned: bool = True) -> int:
    """``calls`` ended calls spread over ``months`` (the last one up to ``now``),
    1 or 2 legs each; returns how many were seeded before ``max_s`` ran out."""
    connection = await router_db.connect(url)
    seeded = 0
    started = time.monotonic()
    try:
        # A bulk load: the record triggers (notifications, rating queue, web
        # NOTIFY) and foreign-key checks off for this session; call_keys filled here.
        await connection.execute("SET session_replication_role = replica")
        await connection.execute("SET synchronous_commit = off")
        for m in months if partitioned else ():
            await connection.execute("SELECT history_add_month('calls', $1)", m)
            await connection.execute("SELECT history_add_month('call_legs', $1)", m)
        keys = """INSERT INTO call_keys (id, started_at, caller_channel)
                  SELECT id, started_at, caller_channel FROM made""" if partitioned else (
            "SELECT count(*) FROM made")
        leg_month = "c.started_at" if partitioned else "NULL"
        per_month = calls // len(months)
        for n, m in enumerate(months):
            if time.monotonic() - started > max_s:
                log(f"seeding stopped at {max_s:.0f} s: {seeded} calls")
                break
            count = per_month + (calls - per_month * len(months) if n == len(months) - 1 else 0)
            lo = datetime(m.year, m.month, 1, tzinfo=UTC)
            end = datetime(m.year + (m.month == 12), m.month % 12 + 1, 1, tzinfo=UTC)
            hi = min(now - timedelta(minutes=10), end)
            step = time.monotonic()
            await connection.execute(
                """WITH made AS (
                       INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel,
                                          router_id, started_at, answered_at,
                                          caller_answered_at, ended_at, outcome,
                                          answered_phone_id, answered_dial_string,
                                          plan_result, plan_reason, caller_region, end_source)
                       SELECT g.id, 1 + g.i % $4, '400' || (9000001 + g.i % $4)::text,
                              '138' || lpad((g.i::bigint * 7919 % 100000000)::text, 8, '0'),
                              'seed-' || g.id, 'seed', g.s,
                              CASE WHEN g.i % 5 <> 0 THEN g.s + interval '6 s' END,
                              CASE WHEN g.i % 5 <> 0 THEN g.s + interval '6 s' END,
                              g.s + make_interval(secs => 20 + g.i % 280),
                              CASE WHEN g.i % 5 <> 0 THEN 'answered' ELSE 'no-answer' END,
                              CASE WHEN g.i % 5 <> 0 THEN 1 + g.i % $5 END,
                              CASE WHEN g.i % 5 <> 0
                                   THEN 'PJSIP/phones/sip:h' || (1 + g.i % $5) || '@127.0.0.1:5999'
                              END,
                              'default', 'bench', '北京', 'asterisk'
                       FROM (SELECT gen_random_uuid() AS id, i,
                                    $2::timestamptz + (($3::timestamptz - $2::timestamptz)
                                                       * random()) AS s
                             FROM generate_series(1, $1) i) g
                       RETURNING id, started_at, caller_channel)
                   """ + keys,
                count, lo, hi, HOTLINES, PHONES, timeout=SEED_TIMEOUT_S)
            into = "call_started_at, " if partitioned else ""
            await connection.execute(
                f"""INSERT INTO call_legs (id, call_id, {into}phone_id, dial_string,
                                          wave, dial_started_at, answered_at, ended_at, result,
                                          hangup_cause)
                   SELECT gen_random_uuid(), c.id, {leg_month + ", " if partitioned else ""}
                          1 + (w + abs(hashtext(c.caller)))
                          % $3, 'PJSIP/phones/sip:x@127.0.0.1:5999', w,
                          c.started_at + w * interval '1 s',
                          CASE WHEN w = 1 AND c.answered_at IS NOT NULL THEN c.answered_at END,
                          CASE WHEN w = 1 THEN c.ended_at ELSE c.started_at + interval '5 s' END,
                          CASE WHEN w = 1 AND c.answered_at IS NOT NULL THEN 'answered'
                               ELSE 'cancelled' END, 16
                   FROM calls c CROSS JOIN generate_series(1, 2) w
                   WHERE c.started_at >= $1 AND c.started_at < $2
                     AND c.router_id = 'seed'
                     AND (w = 1 OR abs(hashtext(c.caller_channel)) % 2 = 0)""",
                lo, end, PHONES, timeout=SEED_TIMEOUT_S)
            seeded += count
            log(f"seeded {m:%Y-%m}: {count} calls in {time.monotonic() - step:.0f} s "
                f"({seeded} so far, {time.monotonic() - started:.0f} s)")
        await connection.execute("RESET session_replication_role")
        step = time.monotonic()
        await connection.execute("VACUUM ANALYZE", timeout=SEED_TIMEOUT_S)
        log(f"vacuum analyze: {time.monotonic() - step:.0f} s")
    finally:
        await connection.close()
    return seeded


def call_records(now: datetime, carry: bool) -> list[AnyRecord]:
    """One call's writes in order, as a router makes them: started, plan, two
    legs (the second rung for half the calls), bridged, legs ended, ended."""
    call_id, first, second = uuid4(), uuid4(), uuid4()
    at = now if carry else None
    hotline = 1 + call_id.int % HOTLINES
    records: list[AnyRecord] = [
        CallStarted(call_id, hotline, HOTLINE, "13912345678", f"bench-{call_id}", "bench", now),
        PlanDecided(call_id, "default", "bench", None, None, "北京", at),
        LegStarted(first, call_id, 1, "PJSIP/a", 1, now, call_started_at=at)]
    two = call_id.int % 2 == 0
    if two:
        records.append(LegStarted(second, call_id, 2, "PJSIP/b", 1, now, call_started_at=at))
    answered = now + timedelta(seconds=4)
    records.append(CallBridged(call_id, first, answered, 1, "PJSIP/a", answered,
                               call_started_at=at))
    if two:
        records.append(LegEnded(second, answered, LegResult.CANCELLED, 16,
                                call_started_at=at))
    ended = now + timedelta(seconds=40)
    records.append(LegEnded(first, ended, LegResult.ANSWERED, 16, call_started_at=at))
    records.append(CallEnded(call_id, ended, Outcome.ANSWERED, call_started_at=at))
    return records


async def measure_writes(pool: Any, label: str, calls: int, carry: bool,
                         write: Write = sql.write) -> Writes:
    record_ms: list[float] = []
    call_ms: list[float] = []
    for _ in range(calls):
        started = time.perf_counter()
        for record in call_records(datetime.now(UTC), carry):
            at = time.perf_counter()
            await write(pool, record)
            record_ms.append((time.perf_counter() - at) * 1000)
        call_ms.append((time.perf_counter() - started) * 1000)
    return Writes(label, record_ms, call_ms)


async def interleaved(pools: Sequence[tuple[str, Any, Write]], calls: int,
                      carry: bool = True) -> list[Writes]:
    """The same writes on several databases, one call on each in turn, so a
    shared machine's load falls on all of them alike."""
    record_ms: list[list[float]] = [[] for _ in pools]
    call_ms: list[list[float]] = [[] for _ in pools]
    for _ in range(calls):
        for n, (_, pool, write) in enumerate(pools):
            started = time.perf_counter()
            for record in call_records(datetime.now(UTC), carry):
                at = time.perf_counter()
                await write(pool, record)
                record_ms[n].append((time.perf_counter() - at) * 1000)
            call_ms[n].append((time.perf_counter() - started) * 1000)
    return [Writes(label, record_ms[n], call_ms[n]) for n, (label, _, _) in enumerate(pools)]


async def measure_call_log(pool: Any, runs: int) -> list[float]:
    wanted = CallFilter(hotline=HOTLINE, limit=50)
    times = []
    for _ in range(runs):
        at = time.perf_counter()
        await list_calls(pool, wanted)
        times.append((time.perf_counter() - at) * 1000)
    return times


_SCAN = re.compile(r"Scan.* on ((?:calls|call_legs)(?:_y\d{4}m\d{2}|_default)?)\b")


class Captured:
    """Stands in for the pool: keeps each statement a write would send."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    async def execute(self, query: str, *args: Any) -> str:
        self.statements.append((query, args))
        return ""


async def write_plans(pool: Any, now: datetime, write: Write = sql.write,
                      carried: tuple[bool, ...] = (True, False)) -> list[str]:
    """Per write kind: partitions read, plan nodes and planning time (a generic plan)."""
    call_id, leg_id = uuid4(), uuid4()
    await write(pool, CallStarted(call_id, 1, HOTLINE, "1", f"plan-{call_id}", "bench", now))
    await write(pool, LegStarted(leg_id, call_id, 1, "PJSIP/a", 1, now, call_started_at=now))
    lines = []
    for carry in carried:
        captured = Captured()
        at = now if carry else None
        kinds = []
        for record in (PlanDecided(call_id, "default", "b", None, None, "北京", at),
                       CallBridged(call_id, leg_id, now, 1, "PJSIP/a", now, call_started_at=at),
                       LegEnded(leg_id, now, LegResult.ANSWERED, 16, call_started_at=at),
                       CallEnded(call_id, now, Outcome.ANSWERED, call_started_at=at)):
            await write(captured, record)
            kinds.append(type(record).__name__)
        async with pool.acquire() as connection:
            await connection.execute("SET plan_cache_mode = force_generic_plan")
            for kind, (query, args) in zip(kinds, captured.statements, strict=True):
                transaction = connection.transaction()
                await transaction.start()
                try:
                    plan = [r[0] for r in await connection.fetch(
                        "EXPLAIN (ANALYZE, TIMING OFF) " + query, *args)]
                finally:
                    await transaction.rollback()
                read = sorted({m[1] for line in plan if "never executed" not in line
                               for m in [_SCAN.search(line)] if m})
                planning = next((line.split(":")[1].strip() for line in plan
                                 if line.startswith("Planning Time")), "?")
                how = "before 0025" if write is not sql.write else (
                    "month carried" if carry else "month looked up")
                lines.append(f"{how}, {kind}: "
                             f"{len(plan)} plan lines, planning {planning}, "
                             f"reads {', '.join(read) or 'no partition of calls/call_legs'}")
            await connection.execute("RESET plan_cache_mode")
    return lines


def summary(writes: Writes) -> str:
    return (f"| {writes.label} | {statistics.median(writes.record_ms):.2f} | "
            f"{percentile(writes.record_ms, 99) or 0:.2f} | "
            f"{statistics.median(writes.call_ms):.2f} | "
            f"{percentile(writes.call_ms, 99) or 0:.2f} |")


def log_summary(label: str, times: list[float]) -> str:
    return (f"| {label} | {statistics.median(times):.2f} | "
            f"{percentile(times, 99) or 0:.2f} |")


async def run(args: argparse.Namespace) -> int:
    def log(text: str) -> None:
        print(text, flush=True)

    if args.interleave:
        return await run_interleaved(args)
    before: Path | None = args.before
    write = before_write(before) if before else sql.write
    schema = "before 0025 (unpartitioned)" if before else "0025 (by month)"
    now = datetime.now(UTC)
    name = args.database or database.name("bench_history")
    if args.seeded:  # measure again on what an earlier run seeded
        url = f"{database.SERVER_URL}/{name}"
    else:
        url = await fresh_database(name, before)
        await prepare(url)
    pool = await router_db.connect_pool(url, min_size=1, max_size=2)
    try:
        measured: list[Writes] = []
        empty_log: list[float] = []
        if not args.seeded:
            await measure_writes(pool, "warm-up", 50, True, write)
            measured.append(await measure_writes(pool, f"{schema}, empty history",
                                                 args.write_calls, True, write))
            empty_log = await measure_call_log(pool, args.log_runs)
            log(summary(measured[0]))
            await pool.expire_connections()
        step = time.monotonic()
        if args.seeded:
            seeded = await pool.fetchval("SELECT count(*) FROM calls WHERE router_id = 'seed'")
        else:
            seeded = await seed(url, args.calls, months_back(now, 12), now, args.max_seed_s,
                                log, partitioned=before is None)
        seed_s = time.monotonic() - step
        sizes = await pool.fetchrow(
            """SELECT (SELECT count(*) FROM calls) AS calls,
                      (SELECT count(*) FROM call_legs) AS legs,
                      pg_size_pretty(pg_database_size(current_database())) AS size""")
        await pool.expire_connections()
        await measure_writes(pool, "warm-up", 50, True, write)
        measured.append(await measure_writes(pool, f"{schema}, {seeded:,} calls",
                                             args.write_calls, True, write))
        if before is None:
            measured.append(await measure_writes(
                pool, f"{schema}, {seeded:,} calls, month looked up (records spooled "
                      "before 0025)", args.write_calls, False))
        full_log = await measure_call_log(pool, args.log_runs)
        plans = await write_plans(pool, datetime.now(UTC), write,
                                  (True,) if before else (True, False))
    finally:
        await pool.close()
    print()
    print(f"seeded {seeded:,} calls in {seed_s:.0f} s: {sizes['calls']:,} calls, "
          f"{sizes['legs']:,} ring attempts, database {sizes['size']}")
    print()
    print_writes(measured, "schema, history")
    if empty_log:
        print(log_summary(f"{schema}, empty history", empty_log))
    print(log_summary(f"{schema}, {seeded:,} calls", full_log))
    print()
    for line in plans:
        print(f"- {line}")
    return 0


def print_writes(measured: list[Any], first_column: str) -> None:
    """The writes' table, then the head of the call log's table."""
    print(f"| {first_column} | record write p50 ms | p99 ms | per call p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for writes in measured:
        print(summary(writes))
    print()
    print(f"| call log, first page of {HOTLINE} (50 calls) | p50 ms | p99 ms |")
    print("|---|---|---|")


async def run_interleaved(args: argparse.Namespace) -> int:
    """``--interleave NAME[:DIR],…``: databases seeded by earlier runs (DIR: the
    --before extract they were made with), their writes and call logs taken in turn."""
    pools = []
    for item in args.interleave.split(","):
        name, _, folder = item.partition(":")
        write = before_write(Path(folder)) if folder else sql.write
        pool = await router_db.connect_pool(f"{database.SERVER_URL}/{name}", min_size=1,
                                            max_size=2)
        calls = await pool.fetchval("SELECT count(*) FROM calls WHERE router_id = 'seed'")
        schema = "before 0025 (unpartitioned)" if folder else "0025 (by month)"
        pools.append((f"{schema}, {calls:,} calls", pool, write))
    try:
        await interleaved(pools, 50)  # warm-up
        measured = await interleaved(pools, args.write_calls)
        logs: list[list[float]] = [[] for _ in pools]
        for _ in range(args.log_runs):
            for n, (_, pool, _) in enumerate(pools):
                logs[n] += await measure_call_log(pool, 1)
    finally:
        for _, pool, _ in pools:
            await pool.close()
    print_writes(measured, "schema, history (interleaved)")
    for (label, _, _), times in zip(pools, logs, strict=True):
        print(log_summary(label, times))
    return 0


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.bench history",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000_000,
                        help="calls to seed over twelve months (default 10,000,000)")
    parser.add_argument("--write-calls", type=int, default=1000,
                        help="calls whose records are written per measurement (default 1000)")
    parser.add_argument("--log-runs", type=int, default=200,
                        help="call log first pages read per measurement (default 200)")
    parser.add_argument("--max-seed-s", type=float, default=3600.0,
                        help="stop seeding after this many seconds (default 3600)")
    parser.add_argument("--database", default=None, metavar="NAME",
                        help="the benchmark's database, dropped and made afresh "
                             "(default hotline_router_bench_history, per lab offset)")
    parser.add_argument("--interleave", default=None, metavar="NAME[:DIR],...",
                        help="compare databases earlier runs seeded, one call on each in turn "
                             "(DIR: the --before extract a database was made with)")
    parser.add_argument("--seeded", action="store_true",
                        help="measure on the database an earlier run seeded (--database), "
                             "without making it afresh")
    parser.add_argument("--before", type=Path, default=None, metavar="DIR",
                        help="measure the version extracted into DIR (unpartitioned), e.g. "
                             "git archive main migrations router/records/sql.py | tar -x -C DIR")
    return parser


def main(argv: list[str]) -> int:
    return asyncio.run(run(parser().parse_args(argv)))

"""The call history by month (migration 0025) against the real PostgreSQL:
partitions made ahead, a month without one kept in DEFAULT and moved in,
writes that touch one month, and the retention purge."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from router import db as router_db
from router import history
from router.admin import AdminError
from router.billing import rater, rerate, statements
from router.billing import reconcile as billing_reconcile
from router.billing.cdr import Cdr
from router.billing.months import Month
from router.records import sql
from router.records.kinds import (
    AnyRecord,
    CallBridged,
    CallEnded,
    CallerAnswered,
    CallOverflow,
    CallStarted,
    LegEnded,
    LegResult,
    LegStarted,
    MenuKeys,
    Outcome,
    OverflowTaken,
    PlanDecided,
    PlanRouted,
    TransferConnected,
)
from tests.bench.history import Captured
from tests.billing_helpers import add_call, new_hotline
from tests.conftest import TEST_DB, as_daemon
from tests.lab.database import SERVER_URL, fresh


def month_of(at: datetime) -> date:
    return date(at.year, at.month, 1)


def part(table: str, month: date) -> str:
    return f"{table}_y{month:%Y}m{month:%m}"


async def partitions(db: Any, table: str) -> set[str]:
    return {r["relname"] for r in await db.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = $1::regclass", table)}


async def test_this_month_and_three_ahead_have_partitions_and_a_default_catches_the_rest(
        db: Any) -> None:
    now = datetime.now(UTC)
    months = [month_of(now)]
    for _ in range(3):
        months.append(month_of(datetime.combine(months[-1], datetime.min.time())
                               + timedelta(days=32)))
    for table in ("calls", "call_legs"):
        found = await partitions(db, table)
        assert {part(table, m) for m in months} <= found
        assert f"{table}_default" in found
    # made already; what else it makes are the months of rows other tests left in DEFAULT
    assert all(m not in months for m in await history.prepare_months(db))
    assert await db.fetchval("SELECT count(*) FROM calls_default") == 0


async def test_a_call_of_a_month_without_partition_is_kept_in_default_then_moved_in(
        db: Any, database_url: str) -> None:
    started = datetime(2031, 5, 31, 23, 59, 59, 900_000, tzinfo=UTC)
    call_id, leg_id = uuid4(), uuid4()
    hotline = await new_hotline(db, "4000250001")
    await db.execute("DELETE FROM tariffs WHERE hotline_id = $1", hotline)  # stays unrated
    for record in (
            CallStarted(call_id, hotline, "4000250001", "13800138000", f"c-{call_id}", "r",
                        started),
            # dialled after midnight of the 1st: still the call's month
            LegStarted(leg_id, call_id, None, "PJSIP/a", 1, started + timedelta(seconds=1),
                       call_started_at=started),
            CallBridged(call_id, leg_id, started + timedelta(seconds=2), None, "PJSIP/a",
                        started + timedelta(seconds=2), call_started_at=started),
            LegEnded(leg_id, started + timedelta(seconds=9), LegResult.ANSWERED, 16,
                     call_started_at=started),
            CallEnded(call_id, started + timedelta(seconds=9), Outcome.ANSWERED,
                      call_started_at=started)):
        await sql.write(db, record)
    where = "SELECT tableoid::regclass::text FROM {} WHERE {} = $1"
    assert await db.fetchval(where.format("calls", "id"), call_id) == "calls_default"
    assert await db.fetchval(where.format("call_legs", "id"), leg_id) == "call_legs_default"
    queued = await db.fetchval("SELECT count(*) FROM rating_queue WHERE call_id = $1", call_id)
    notified = await db.fetchval("SELECT count(*) FROM notification_outbox WHERE call_id = $1",
                                 call_id)
    before = await db.fetchrow("SELECT to_jsonb(c) AS j FROM calls c WHERE id = $1", call_id)

    assert date(2031, 5, 1) in await history.prepare_months(db)

    assert await db.fetchval(where.format("calls", "id"), call_id) == "calls_y2031m05"
    assert await db.fetchval(where.format("call_legs", "id"), leg_id) == "call_legs_y2031m05"
    assert await db.fetchval("SELECT count(*) FROM calls_default WHERE id = $1", call_id) == 0
    after = await db.fetchrow("SELECT to_jsonb(c) AS j FROM calls c WHERE id = $1", call_id)
    assert after["j"] == before["j"]  # every column, billable_ms recomputed the same
    # moved, not re-inserted: no trigger ran again
    assert await db.fetchval("SELECT count(*) FROM rating_queue WHERE call_id = $1",
                             call_id) == queued == 1
    assert await db.fetchval("SELECT count(*) FROM notification_outbox WHERE call_id = $1",
                             call_id) == notified
    # the moved month's partitions took the parents' indexes and triggers
    assert await db.fetchval(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'calls_y2031m05'::regclass "
        "AND tgname = 'closed_call_is_final'") == 1
    daemon = await router_db.connect(await as_daemon(database_url))
    try:  # a closed call refuses a new end in its moved partition too
        with pytest.raises(asyncpg.CheckViolationError, match="closed call keeps its answer"):
            await daemon.execute("UPDATE calls SET ended_at = ended_at + interval '1 s' "
                                 "WHERE id = $1", call_id)
    finally:
        await daemon.close()


# --- writes touch one month -------------------------------------------------------


_SCAN = re.compile(r"Scan.* on (calls|call_legs)_(y\d{4}m\d{2}|default)\b")


async def scanned(connection: Any, query: str, args: tuple[Any, ...]) -> set[str]:
    """The partitions of calls and call_legs the statement's plan reads (rolled back).

    Through a prepared statement, as the routers run them: EXPLAIN of the query
    itself would plan with the arguments as constants, never with a generic plan
    (plan_cache_mode) that can only prune when it runs.
    """
    types = [t.name for t in (await connection.prepare(query)).get_parameters()]
    # EXECUTE takes no protocol parameters: the arguments go in as literals
    literals = await connection.fetchrow("SELECT " + ", ".join(
        f"quote_nullable((${n}::{t})::text) || '::{t}'"
        for n, t in enumerate(types, start=1)), *args) if types else []
    transaction = connection.transaction()
    await transaction.start()
    try:
        await connection.execute(f"PREPARE write_under_test ({', '.join(types)}) AS {query}")
        plan = [r[0] for r in await connection.fetch(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
            f"EXECUTE write_under_test ({', '.join(literals)})")]
    finally:
        await transaction.rollback()
        await connection.execute("DEALLOCATE write_under_test")  # not transactional
    return {f"{m[1]}_{m[2]}" for line in plan if "never executed" not in line
            for m in [_SCAN.search(line)] if m}


async def test_a_write_while_its_month_moves_out_of_default_finds_its_row(
        db: Any, database_url: str) -> None:
    # The write is planned while the call is still in DEFAULT; the move holds it
    # until done, then it is planned again and finds the row in its new month.
    started = datetime(2032, 7, 9, 10, tzinfo=UTC)
    call_id = uuid4()
    await sql.write(db, CallStarted(call_id, None, "4000250013", "13800138000",
                                    f"c-{call_id}", "r", started))
    ended = CallEnded(call_id, started + timedelta(seconds=30), Outcome.ANSWERED,
                      call_started_at=started)
    mover = await router_db.connect(database_url)
    writer = await router_db.connect(database_url)
    try:
        await writer.execute("SELECT 1 FROM calls WHERE id = $1 AND started_at = $2",
                             call_id, started)  # the writer has seen the old partitions
        async with mover.transaction():
            assert date(2032, 7, 1) in [r[0] for r in await mover.fetch(
                "SELECT history_prepare_months(NULL)")]
            write = asyncio.ensure_future(sql.write(writer, ended))
            await asyncio.sleep(1.0)
            assert not write.done()  # held by the move
        await asyncio.wait_for(write, 10)
    finally:
        await mover.close()
        await writer.close()
    row = await db.fetchrow("SELECT tableoid::regclass::text AS part, outcome FROM calls "
                            "WHERE id = $1", call_id)
    assert (row["part"], row["outcome"]) == ("calls_y2032m07", "answered")


@pytest.fixture
async def open_call(db: Any) -> tuple[UUID, UUID, datetime]:
    # microseconds, as a router's clock gives them: stored to the millisecond
    started = datetime.now(UTC).replace(microsecond=123_456)
    call_id, leg_id = uuid4(), uuid4()
    await sql.write(db, CallStarted(call_id, None, "4000250002", "13800138000", f"c-{call_id}",
                                    "r", started))
    await sql.write(db, LegStarted(leg_id, call_id, None, "PJSIP/a", 1, started,
                                   call_started_at=started))
    return call_id, leg_id, started


def writes(call_id: UUID, leg_id: UUID, started: datetime | None) -> list[AnyRecord]:
    at = (started or datetime.now(UTC)) + timedelta(seconds=3)
    return [PlanDecided(call_id, "group", "default", None, "g", "北京", started),
            PlanRouted(call_id, "group", "menu 1", "g", started),
            MenuKeys(call_id, "1", started),
            CallerAnswered(call_id, at, started),
            CallOverflow(call_id, OverflowTaken.BUSY, started),
            CallBridged(call_id, leg_id, at, None, "PJSIP/a", at, None, started),
            TransferConnected(call_id, leg_id, at, started),
            LegEnded(leg_id, at, LegResult.ANSWERED, 16, None, started),
            CallEnded(call_id, at, Outcome.ANSWERED, call_started_at=started)]


@pytest.mark.parametrize("plans", ["auto", "force_generic_plan"])
async def test_every_write_of_an_open_call_reads_only_its_month(
        db: Any, open_call: tuple[UUID, UUID, datetime], plans: str) -> None:
    call_id, leg_id, started = open_call
    month = month_of(started)
    captured = Captured()
    for record in writes(call_id, leg_id, started):
        await sql.write(captured, record)
    async with db.acquire() as connection:
        await connection.execute(f"SET plan_cache_mode = {plans}")
        try:
            for query, args in captured.statements:
                tables = {"calls"} if "UPDATE calls" in query else set()
                tables |= {"call_legs"} if "UPDATE call_legs" in query else set()
                assert await scanned(connection, query, args) == {
                    part(t, month) for t in tables}, query
        finally:
            await connection.execute("RESET plan_cache_mode")
    for record in writes(call_id, leg_id, started):  # and each finds its row
        await sql.write(db, record)
    row = await db.fetchrow("SELECT outcome, overflow, menu_keys, plan_group FROM calls "
                            "WHERE id = $1", call_id)
    assert tuple(row) == ("answered", "busy", "1", "g")
    assert await db.fetchval("SELECT result FROM call_legs WHERE id = $1", leg_id) == "answered"


async def test_a_record_spooled_before_months_finds_its_month_by_the_calls_key(
        db: Any, open_call: tuple[UUID, UUID, datetime]) -> None:
    call_id, leg_id, started = open_call
    month = month_of(started)
    captured = Captured()
    for record in writes(call_id, leg_id, None):
        if not isinstance(record, LegEnded):  # no call id to look up: every month's index
            await sql.write(captured, record)
    async with db.acquire() as connection:
        for query, args in captured.statements:
            tables = {"calls"} if "UPDATE calls" in query else set()
            tables |= {"call_legs"} if "UPDATE call_legs" in query else set()
            assert await scanned(connection, query, args) == {
                part(t, month) for t in tables}, query
    # and the writes themselves apply, to the one call
    for record in writes(call_id, leg_id, None):
        await sql.write(db, record)
    row = await db.fetchrow("SELECT outcome, overflow, menu_keys FROM calls WHERE id = $1",
                            call_id)
    assert (row["outcome"], row["overflow"], row["menu_keys"]) == ("answered", "busy", "1")
    assert await db.fetchval("SELECT result FROM call_legs WHERE id = $1", leg_id) == "answered"


async def test_a_leg_spooled_before_months_takes_its_calls_month(db: Any) -> None:
    started = datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)
    call_id, leg_id = uuid4(), uuid4()
    await sql.write(db, CallStarted(call_id, None, "4000250003", "1", f"c-{call_id}", "r",
                                    started))
    legacy = LegStarted(leg_id, call_id, None, "PJSIP/a", 1, started + timedelta(seconds=2))
    await sql.write(db, legacy)
    await sql.write(db, legacy)  # replayed: nothing new
    rows = await db.fetch("SELECT call_started_at, tableoid::regclass::text AS part "
                          "FROM call_legs WHERE id = $1", leg_id)
    assert [(r["call_started_at"], r["part"]) for r in rows] == [(started, "call_legs_y2026m11")]


# --- the retention purge ------------------------------------------------------------


@pytest.fixture
async def history_db() -> AsyncIterator[Any]:
    """A database of its own: the purge drops whole months."""
    url = await fresh(f"{TEST_DB}_history")
    pool = await router_db.connect_pool(url, min_size=1, max_size=4)
    yield pool
    await pool.close()


async def test_the_purge_drops_only_whole_months_older_than_kept_and_keeps_money(
        history_db: Any) -> None:
    db = history_db
    hotline = await new_hotline(db, "4000250009", price_fen=10)
    t = datetime(2031, 1, 10, 8, tzinfo=UTC)
    charged = await add_call(db, hotline, "4000250009", t, talk_ms=61_000)
    missed = await add_call(db, hotline, "4000250009", t + timedelta(hours=1), talk_ms=None)
    kept_leg = uuid4()
    await db.execute(
        "INSERT INTO call_legs (id, call_id, dial_string, wave, dial_started_at, call_started_at)"
        " SELECT $1, id, 'PJSIP/a', 1, started_at, started_at FROM calls WHERE id = $2",
        kept_leg, missed)
    recorded = await add_call(db, hotline, "4000250009", t + timedelta(hours=2), talk_ms=None)
    await db.execute(
        "INSERT INTO recordings (call_id, name, format, asterisk, started_at, duration_ms, "
        "size_bytes) VALUES ($1, 'rec-1', 'wav', '127.0.0.1:8088', $2, 1000, 100)",
        recorded, t)
    assert [set(h.calls) for h in await rater.rate_ready(db, delay_s=0)] == [{charged}]
    # February: one call still open; March: an answered call not rated yet
    await db.execute(
        "INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id, "
        "started_at) VALUES ($1, $2, '4000250009', '1', 'open-1', 'r', '2031-02-03')",
        uuid4(), hotline)
    await db.execute("DELETE FROM tariffs WHERE hotline_id = $1", hotline)
    await add_call(db, hotline, "4000250009", datetime(2031, 3, 3, tzinfo=UTC), talk_ms=5000)
    april = await add_call(db, hotline, "4000250009", datetime(2031, 4, 3, tzinfo=UTC),
                           talk_ms=None)
    ledger_before = await db.fetch("SELECT * FROM ledger ORDER BY id")
    as_of = datetime(2031, 6, 15, tzinfo=UTC)

    assert await history.purge(db, 0, as_of) == []  # keep forever
    # January's recording is still on Asterisk: its own purge needs the call
    first = await history.purge(db, 2, as_of)
    assert [m for m in first if m.month == date(2031, 1, 1)] == [history.MonthPurged(
        date(2031, 1, 1), 0, 0, "a recording of this month is not purged yet")]
    await db.execute("UPDATE recordings SET purged_at = $1 WHERE call_id = $2",
                     t + timedelta(days=40), recorded)
    done = await history.purge(db, 2, as_of)  # keeps April and May, before June

    # the empty months the migration made (this real month and three ahead) go too
    assert all(m.calls == 0 and m.kept_because is None for m in done if m.month.year < 2031)
    assert [m for m in done if m.month.year == 2031] == [
        history.MonthPurged(date(2031, 1, 1), 3, 1, None),
        history.MonthPurged(date(2031, 2, 1), 0, 0, "a call of this month is still open"),
        history.MonthPurged(date(2031, 3, 1), 0, 0, "a call of this month is not rated yet")]
    found = await partitions(db, "calls")
    assert "calls_y2031m01" not in found
    assert "call_legs_y2031m01" not in await partitions(db, "call_legs")
    assert {"calls_y2031m02", "calls_y2031m03", "calls_y2031m04"} <= found
    assert await db.fetchval("SELECT count(*) FROM calls WHERE started_at < '2031-02-01'") == 0
    assert await db.fetchval("SELECT count(*) FROM calls WHERE id = $1", april) == 1
    # money and recordings keep their call ids; the rest of January's keys go
    assert await db.fetch("SELECT * FROM ledger ORDER BY id") == ledger_before
    assert {r["id"] for r in await db.fetch(
        "SELECT id FROM call_keys WHERE started_at < '2031-02-01'")} == {charged, recorded}
    assert await history.purge(db, 2, as_of) == [
        history.MonthPurged(date(2031, 2, 1), 0, 0, "a call of this month is still open"),
        history.MonthPurged(date(2031, 3, 1), 0, 0, "a call of this month is not rated yet")]
    # January's statement keeps its charged call (its start, from call_keys); the
    # month cannot be re-rated: its package minutes were shared with purged calls
    january = await statements.load(db, "4000250009", Month(2031, 1))
    assert [(line.call.call_id, line.call.outcome) for line in january.calls] == [
        (charged, "history purged")]
    with pytest.raises(AdminError, match="history purge"):
        await rerate.rerate(db, Month(2031, 1), "4000250009")


async def test_only_the_admin_role_may_purge_and_the_daemon_may_make_months(
        database_url: str) -> None:
    daemon = await router_db.connect(await as_daemon(database_url))
    try:
        assert isinstance(await history.prepare_months(daemon), list)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="history_purge"):
            await history.purge(daemon, 1, datetime(2040, 1, 1, tzinfo=UTC))
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await daemon.execute("DELETE FROM call_keys")
    finally:
        await daemon.close()


async def test_billing_reconcile_finds_calls_by_channel_and_month_across_months(
        db: Any) -> None:
    """The CDRs' channels through call_keys, the month's answered calls through calls."""
    number = "4000250011"
    hotline = await new_hotline(db, number)
    october = await add_call(db, hotline, number, datetime(2026, 10, 31, 23, 59, tzinfo=UTC),
                             talk_ms=30_000)
    november = await add_call(db, hotline, number, datetime(2026, 11, 2, tzinfo=UTC),
                              talk_ms=12_000)

    def cdr(call_id: UUID, billsec: int) -> Cdr:
        return Cdr(f"test-{call_id}", "", "", "", "138", number, None, None, None,
                   Decimal(billsec), Decimal(billsec), "ANSWERED")

    by_channel = await billing_reconcile.reconcile(db, [cdr(october, 30), cdr(november, 12)],
                                                   number)
    assert sorted(p.ours.call_id for p in by_channel.pairs) == sorted([october, november])
    assert by_channel.agrees
    # November in the hotline's zone (Asia/Shanghai) begins in October's UTC partition
    month = await billing_reconcile.reconcile(db, [], number, Month(2026, 11))
    assert [c.call_id for c in month.missing_in_cdr] == [october, november]


async def test_history_purge_on_the_command_line(history_db: Any) -> None:
    url = f"{SERVER_URL}/{TEST_DB}_history"
    await history_db.execute(
        """INSERT INTO calls (id, dialled, caller, caller_channel, router_id, started_at,
                              ended_at, outcome)
           VALUES (gen_random_uuid(), '4000250012', '1', 'cli-1', 'r', '2031-01-09', NULL, NULL),
                  (gen_random_uuid(), '4000250012', '1', 'cli-2', 'r', '2031-02-09',
                   '2031-02-09 00:00:05', 'busy')""")

    def purge(*args: str, keep: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "HISTORY_KEEP_MONTHS"}
        env |= {"HISTORY_KEEP_MONTHS": keep} if keep is not None else {}
        return subprocess.run([sys.executable, "-m", "router", "--database-url", url,
                               "history", "purge", *args],
                              capture_output=True, text=True, timeout=60, env=env)

    forever = purge("--now", "2031-05-01T00:00:00Z")
    assert (forever.returncode, forever.stdout) == (
        0, "history_keep_months is 0: the call history is kept forever, nothing purged\n")
    done = purge("--now", "2031-05-01T00:00:00Z", keep="2")
    assert done.returncode == 1, done.stderr  # a month was kept
    assert "2031-01: kept, a call of this month is still open\n" in done.stdout
    assert "2031-02: dropped 1 calls, 0 ring attempts\n" in done.stdout
    assert "2031-03" not in done.stdout  # within the two months kept before May
    assert await history_db.fetchval("SELECT count(*) FROM calls") == 1

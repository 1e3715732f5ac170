"""The store while the database is away, and its recovery, against a stand-in
pool that refuses connections until told otherwise (no PostgreSQL needed)."""

from __future__ import annotations

import errno
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
import structlog
from structlog.testing import capture_logs

from router import logs, metrics
from router.ari import AriError
from router.directory import Snapshot
from router.quiet import QuietRetries
from router.records import CallStarted, ClaimReleased
from router.spool import Spool
from router.store import Store, unreachable
from tests.unit.call_harness import NUMBER, hotline

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


class Pool:
    """Refuses every statement while ``down``; records them once up."""

    def __init__(self) -> None:
        self.down = True
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    async def _run(self, sql: str, args: tuple[Any, ...]) -> Any:
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        self.statements.append((" ".join(sql.split()), args))
        return 1

    async def execute(self, sql: str, *args: Any) -> Any:
        return await self._run(sql, args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._run(sql, args)

    async def fetch(self, sql: str, *args: Any) -> Any:
        await self._run(sql, args)
        return []

    def ran(self, fragment: str) -> list[tuple[Any, ...]]:
        return [args for sql, args in self.statements if fragment in sql]


def store(tmp_path: Path, pool: Pool, routers: list[str] | None = None) -> Store:
    line = hotline([f"PJSIP/{n}" for n in range(1, 7)], capacity=2)
    made = Store(pool, "router-b", Spool(tmp_path, "router-b"),
                 snapshot=lambda: Snapshot({NUMBER: line}), fresh_snapshot=lambda: None)
    made.routers_alive = routers or ["router-a", "router-b"]
    return made


async def test_while_away_a_router_rings_only_its_share_up_to_capacity(tmp_path: Path) -> None:
    pool = Pool()
    away = store(tmp_path, pool)
    found = await away.find_hotline(NUMBER)
    assert not away.healthy
    assert metrics.DATABASE_DEGRADED._value.get() == 1
    assert found is not None
    # Two routers alive, sorted a, b: router-b takes the odd phone ids.
    assert [p.phone_id for p in found.phones] == [1, 3, 5]
    call = uuid4()
    assert await away.claim(1, 2, uuid4(), call)
    assert await away.claim(1, 2, uuid4(), call)
    assert not await away.claim(1, 2, uuid4(), call)  # capacity 2
    assert not await away.claim(2, 2, uuid4(), call)  # router-a's phone


async def test_records_wait_in_the_spool_and_replay_in_order_when_it_is_back(
        tmp_path: Path) -> None:
    pool = Pool()
    away = store(tmp_path, pool)
    calls = [uuid4() for _ in range(3)]
    for n, call_id in enumerate(calls):
        await away.write(CallStarted(call_id, 1, NUMBER, f"1380000000{n}", f"c{n}", "router-b",
                                     T0))
    assert away.spool.pending == 3
    assert pool.statements == []

    pool.down = False
    await away.watch_once()
    assert away.healthy
    assert away.spool.pending == 0
    assert [args[0] for args in pool.ran("INSERT INTO calls")] == calls


async def test_claims_taken_while_away_are_written_back_unless_released(
        tmp_path: Path) -> None:
    pool = Pool()
    away = store(tmp_path, pool, routers=["router-b"])
    kept, dropped, call = uuid4(), uuid4(), uuid4()
    assert await away.claim(3, 1, kept, call)
    assert await away.claim(4, 1, dropped, call)
    await away.release(dropped, None)  # taken and given back while away: nothing to undo
    assert away.spool.pending == 0

    pool.down = False
    await away.watch_once()
    written_back: list[UUID] = [args[0] for args in pool.ran("INSERT INTO phone_claims")]
    assert written_back == [kept]
    assert away.local == {}
    assert away.held == {kept: 3}


async def test_a_claim_that_may_have_landed_before_the_outage_is_released_later(
        tmp_path: Path) -> None:
    """The claim statement was sent, then the database went away: it may have
    committed. Phone 2 is not this router's share, so it is not taken locally,
    and an idempotent release waits in the spool."""
    pool = Pool()
    away = store(tmp_path, pool)
    away.healthy = True  # the outage starts with this claim
    leg = uuid4()
    assert not await away.claim(2, 1, leg, uuid4())
    spooled = [record for record, _, _ in away.spool._entries(away.spool.path)]
    assert spooled == [ClaimReleased(leg, None)]


@pytest.mark.parametrize(("error", "away"), [
    (ConnectionRefusedError(111, "refused"), True),
    (TimeoutError(), True),
    (asyncpg.exceptions.ConnectionDoesNotExistError("gone"), True),
    (asyncpg.exceptions.AdminShutdownError("shutting down"), True),
    (asyncpg.exceptions.InternalClientError("another operation is in progress"), True),
    (asyncpg.exceptions.UniqueViolationError("duplicate"), False),
    (asyncpg.exceptions.DataError("bad value"), False),
    # the client's own refusal of a value: an InterfaceError, but no outage
    (asyncpg.exceptions._base.DataError("invalid input for query argument $1"), False),
    (asyncpg.exceptions.InterfaceError("cannot perform operation: connection is closed"), True),
    # a switchover: no host takes writes yet, or this one is a standby now
    (asyncpg.exceptions._base.TargetServerAttributeNotMatched("none is read-write"), True),
    (asyncpg.exceptions.ReadOnlySQLTransactionError("read-only transaction"), True),
])
def test_what_counts_as_the_database_being_away(error: BaseException, away: bool) -> None:
    assert unreachable(error) is away


@pytest.mark.parametrize("error", [
    asyncpg.exceptions.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"),
    asyncpg.exceptions.ConnectionDoesNotExistError(
        "connection was closed in the middle of operation"),
    asyncpg.exceptions.AdminShutdownError(
        "terminating connection due to administrator command"),
    asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.InterfaceError("pool is closing"),
    ConnectionResetError(104, "Connection reset by peer"),
])
async def test_a_write_cut_by_a_connection_level_error_is_spooled_not_dropped(
        tmp_path: Path, error: BaseException) -> None:
    pool = Pool()
    pool.down = False
    cut = store(tmp_path, pool)

    async def fails(sql: str, *args: Any) -> Any:
        raise error

    pool.execute = fails  # type: ignore[method-assign]
    record = CallStarted(uuid4(), 1, NUMBER, "13800000000", "c0", "router-b", T0)
    await cut.write(record)
    assert not cut.healthy
    assert [r for r, _, _ in cut.spool._entries(cut.spool.path)] == [record]
    assert not cut.spool.rejected.exists()


async def test_records_neither_database_nor_spool_took_are_written_back_in_order(
        tmp_path: Path) -> None:
    pool = Pool()
    away = store(tmp_path, pool)
    calls = [uuid4() for _ in range(4)]
    await away.write(CallStarted(calls[0], 1, NUMBER, "13800000000", "c0", "router-b", T0))
    real_append = away.spool.append

    def refuse(record: Any) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    away.spool.append = refuse  # type: ignore[method-assign]
    for n, call_id in enumerate(calls[1:], start=1):
        await away.write(CallStarted(call_id, 1, NUMBER, f"1380000000{n}", f"c{n}",
                                     "router-b", T0))
    assert (away.spool.pending, len(away.unsaved), away.can_record) == (1, 3, False)
    assert metrics.CANNOT_RECORD._value.get() == 1

    away.spool.append = real_append  # type: ignore[method-assign]
    pool.down = False
    with capture_logs() as logs:
        await away.watch_once()
    assert away.healthy
    assert away.can_record
    assert away.unsaved == []
    assert metrics.CANNOT_RECORD._value.get() == 0
    assert [args[0] for args in pool.ran("INSERT INTO calls")] == calls
    back = [line for line in logs if line["event"].startswith("database is back")]
    assert [line["retried"] for line in back] == [4]


async def test_an_outage_is_said_once_when_it_starts_and_once_when_it_ends(
        tmp_path: Path) -> None:
    pool = Pool()
    away = store(tmp_path, pool)
    away.healthy = True
    with capture_logs() as logs:
        for n in range(40):
            await away.write(CallStarted(uuid4(), 1, NUMBER, f"1380000{n:04d}", f"c{n}",
                                         "router-b", T0))
            await away.next_call_number(1)
        pool.down = False
        await away.watch_once()
    assert [(line["log_level"], line["event"].split(":")[0]) for line in logs
            if line["log_level"] in ("warning", "error")] == [
        ("warning", "database unreachable"), ("warning", "database is back")]
    assert logs[-1]["retried"] == 40


async def test_a_retrying_loop_says_an_outage_once_and_other_errors_in_full() -> None:
    with capture_logs() as logs:
        quiet = QuietRetries(structlog.get_logger("test"), "rating pass")
        for _ in range(40):
            quiet.failed(ConnectionRefusedError(111, "Connection refused"))
        quiet.succeeded()
        quiet.succeeded()
        quiet.failed(ZeroDivisionError("a bug"))
    assert [(line["log_level"], line["event"]) for line in logs] == [
        ("warning", "rating pass paused: database unreachable"),
        ("warning", "rating pass resumed: database is back"),
        ("error", "rating pass failed")]
    assert logs[1]["failed_passes"] == 40
    assert isinstance(logs[2]["exc_info"], ZeroDivisionError)


async def test_an_error_that_repeats_every_pass_is_logged_once_until_it_changes() -> None:
    with capture_logs() as logs:
        quiet = QuietRetries(structlog.get_logger("test"), "heartbeat")
        for _ in range(30):  # an Asterisk that answers 404 to every request
            quiet.failed(AriError("GET", "/channels", 404, "Not found"))
        for _ in range(3):
            quiet.failed(ZeroDivisionError("a bug"))
        quiet.succeeded()
    assert [(line["log_level"], line["event"]) for line in logs] == [
        ("warning", "heartbeat failed"),
        ("warning", "heartbeat failed again"),
        ("error", "heartbeat failed"),
        ("warning", "heartbeat failed again"),
        ("info", "heartbeat resumed")]
    assert "exc_info" not in logs[0]  # Asterisk's answer needs no traceback
    assert logs[1]["times"] == 29
    assert isinstance(logs[2]["exc_info"], ZeroDivisionError)
    assert logs[3]["times"] == 2


def test_the_pools_retries_while_away_are_one_line_each_not_a_traceback() -> None:
    logs.configure("json", "info")
    try:
        raise ConnectionRefusedError(111, "Connection refused")
    except ConnectionRefusedError:
        record = logging.LogRecord("asyncpg.pool", logging.WARNING, __file__, 1,
                                   "Failed to restore the pool connection floor; retrying",
                                   None, sys.exc_info())
    assert logging.getLogger("asyncpg.pool").filter(record)
    assert record.exc_info is None
    assert record.getMessage() == ("Failed to restore the pool connection floor; retrying: "
                                   "ConnectionRefusedError: [Errno 111] Connection refused")


async def test_a_spool_the_disk_will_not_let_move_is_replayed_where_it_is(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records were spooled, then the disk turned read-only: when the database
    is back the journal is replayed in place, then what memory kept, in order."""
    pool = Pool()
    away = store(tmp_path, pool)
    calls = [uuid4() for _ in range(3)]
    for n, call_id in enumerate(calls[:2]):
        await away.write(CallStarted(call_id, 1, NUMBER, f"1380000000{n}", f"c{n}",
                                     "router-b", T0))

    def refuse(*args: Any) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "rename", refuse)
    monkeypatch.setattr(away.spool, "append", refuse)
    await away.write(CallStarted(calls[2], 1, NUMBER, "13800000002", "c2", "router-b", T0))
    assert (away.spool.pending, len(away.unsaved)) == (2, 1)

    pool.down = False
    await away.watch_once()
    assert away.healthy
    assert away.can_record
    assert (away.spool.pending, away.unsaved) == (0, [])
    assert [args[0] for args in pool.ran("INSERT INTO calls")] == calls


async def test_a_router_whose_lease_runs_out_while_away_claims_no_phone(
        tmp_path: Path) -> None:
    """Its peers count it dead once its lease is over and ring every phone: from
    four fifths of the lease on it takes no claim of its own; a heartbeat that
    reaches the database renews the lease."""
    pool = Pool()
    away = store(tmp_path, pool, routers=["router-b"])
    away.lease_s = 15.0
    now = [100.0]
    away.monotonic = lambda: now[0]
    away.renew_lease()
    assert not away.fenced  # healthy so far
    assert await away.claim(1, 2, uuid4(), uuid4())  # the outage starts: a local claim
    assert not away.healthy
    now[0] += 11.9
    assert not away.fenced
    assert await away.claim(2, 2, uuid4(), uuid4())
    now[0] += 0.1  # 12 s: four fifths of 15
    assert away.fenced
    assert not await away.claim(3, 2, uuid4(), uuid4())
    away.renew_lease()
    assert not away.fenced
    assert await away.claim(3, 2, uuid4(), uuid4())


async def test_while_a_peer_is_degraded_a_healthy_router_keeps_to_its_share(
        tmp_path: Path) -> None:
    """The degraded peer rings its share of the phones without the database
    seeing it: the healthy router must not ring those too."""
    pool = Pool()
    pool.down = False
    healthy = store(tmp_path, pool)  # router-b of a and b: the odd phone ids
    healthy.peers_degraded = {"router-a"}
    assert not await healthy.claim(2, 1, uuid4(), uuid4())
    assert await healthy.claim(3, 1, uuid4(), uuid4())
    healthy.peers_degraded = set()
    assert await healthy.claim(2, 1, uuid4(), uuid4())
    assert healthy.healthy


async def test_a_degraded_peer_past_its_database_lease_still_has_its_share(
        tmp_path: Path) -> None:
    """Cut off for longer than its lease, the degraded peer is no longer among
    the routers the database calls alive, but it still rings its share (its
    calls go on): the healthy router shares the phones as before, not all alone."""
    pool = Pool()
    pool.down = False
    healthy = store(tmp_path, pool)
    healthy.routers_alive = ["router-b"]  # router-a's database lease ran out
    healthy.peers_degraded = {"router-a"}  # … but it beats in Asterisk, degraded
    assert not await healthy.claim(2, 1, uuid4(), uuid4())
    assert await healthy.claim(3, 1, uuid4(), uuid4())


async def test_while_away_a_phone_another_router_has_on_the_line_is_busy(
        tmp_path: Path) -> None:
    """Asterisk shows every router's phone legs (channel variable
    HOTLINE_PHONE_ID): a claim another router took just before the outage,
    which the database can no longer tell, still counts."""
    pool = Pool()
    away = store(tmp_path, pool, routers=["router-b"])
    others = {"leg-of-router-a": 1}
    asked: list[int] = []

    async def live_legs() -> dict[str, int]:
        asked.append(1)
        return {**others, **{str(leg): phone for leg, phone in away.held.items()}}

    away.live_legs = live_legs
    mine = uuid4()
    assert await away.claim(1, 2, mine, uuid4())  # 1 of router a's, now 1 of ours: full
    assert not await away.claim(1, 2, uuid4(), uuid4())
    assert await away.claim(3, 1, uuid4(), uuid4())
    others.clear()  # router a's call on phone 1 ended
    assert await away.claim(1, 2, uuid4(), uuid4())
    assert asked


async def test_while_away_and_asterisk_is_silent_our_own_count_decides(
        tmp_path: Path) -> None:
    pool = Pool()
    away = store(tmp_path, pool, routers=["router-b"])

    async def silent() -> dict[str, int]:
        raise ConnectionRefusedError(111, "refused")

    away.live_legs = silent
    assert await away.claim(1, 1, uuid4(), uuid4())
    assert not await away.claim(1, 1, uuid4(), uuid4())


async def test_while_away_a_phone_last_seen_paused_is_not_offered(tmp_path: Path) -> None:
    pool = Pool()
    away = store(tmp_path, pool)
    away.presence_seen.update({1: "paused", 3: "signed_out"})
    found = await away.find_hotline(NUMBER)
    assert found is not None
    assert [c.phone_id for c in found.idle_candidates(T0)] == [5]


async def test_a_decision_cut_by_the_outage_releases_what_it_may_have_claimed(
        tmp_path: Path) -> None:
    """The one-statement decision was sent, then the database went away: any of
    its legs may have committed, so each gets an idempotent release in the
    spool, and the call claims phone by phone (None)."""
    pool = Pool()
    away = store(tmp_path, pool)
    away.healthy = True  # the outage starts with this statement
    assert await away.claim_in_order([(1, "PJSIP/1"), (2, "PJSIP/2")], uuid4(), 1) is None
    assert not away.healthy
    spooled = [record for record, _, _ in away.spool._entries(away.spool.path)]
    released = [r for r in spooled if isinstance(r, ClaimReleased)]
    assert len(released) == len(spooled) == 2
    assert len({r.leg_id for r in released}) == 2
    assert not away.held


async def test_a_decision_asks_only_for_phones_this_router_may_claim(tmp_path: Path) -> None:
    """While a peer is degraded, and for offline endpoints: listed without a leg."""

    class Nothing(Pool):
        """Claims nothing: the turn and refusal row alone."""

        async def fetch(self, sql: str, *args: Any) -> Any:
            await self._run(sql, args)
            return [{"call_number": None, "refuses": False, "phone_id": None}]

    pool = Nothing()
    pool.down = False
    healthy = store(tmp_path, pool)  # router-b of a and b: the odd phone ids
    healthy.peers_degraded = {"router-a"}
    healthy.offline_endpoints = lambda: frozenset({"PJSIP/3"})
    got = await healthy.claim_in_order([(2, "PJSIP/2"), (3, "PJSIP/3"), (5, "PJSIP/5")],
                                       uuid4(), 1)
    assert got is not None
    assert got.claimed == ()
    ((phones, legs, *_),) = pool.ran("claim_in_order(")
    assert phones == [2, 3, 5]
    assert [leg is None for leg in legs] == [True, True, False]


async def test_a_decision_that_met_a_deadlock_is_made_phone_by_phone(tmp_path: Path) -> None:
    """PostgreSQL rolled the statement back (nothing claimed): no outage, no call lost."""

    class Deadlocked(Pool):
        async def fetch(self, sql: str, *args: Any) -> Any:
            raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")

    pool = Deadlocked()
    pool.down = False
    healthy = store(tmp_path, pool)
    assert await healthy.claim_in_order([(1, "PJSIP/1")], uuid4(), 1) is None
    assert healthy.healthy
    assert not healthy.held


class Deadlocking(Pool):
    """Up, but rolls the first ``times`` statements back as deadlock victims."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.down = False
        self.times = times

    async def _run(self, sql: str, args: tuple[Any, ...]) -> Any:
        if self.times > 0:
            self.times -= 1
            raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
        return await super()._run(sql, args)


@pytest.mark.parametrize(("deadlocks", "written"), [(1, True), (3, True), (4, False)])
async def test_a_write_rolled_back_by_a_deadlock_is_tried_again(
        tmp_path: Path, deadlocks: int, written: bool) -> None:
    pool = Deadlocking(deadlocks)
    up = store(tmp_path, pool)
    up.healthy = True
    call_id = uuid4()
    await up.write(CallStarted(call_id, 1, NUMBER, "13800000000", "c0", "router-b", T0))
    assert ([args[0] for args in pool.ran("INSERT INTO calls")] == [call_id]) is written
    assert up.spool.rejected.exists() is not written
    assert up.healthy

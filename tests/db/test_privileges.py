"""The roles' rights: the router's reads configuration and writes records but changes
neither, nor writes money in, nor rewrites a closed call; and what each other role
(admin, customer, web) is refused."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from router import claims
from router import db as router_db
from router.billing import config, ledger, rater
from router.records import AnyRecord, CallEnded, CallStarted, LegResult, LegStarted, Outcome, sql
from router.records.kinds import CallBridged, LegEnded
from router.spool import Spool
from router.web import tokens
from tests.billing_helpers import add_call, charges, new_hotline

T0 = datetime(2025, 3, 10, 2, 0, 0, 123_000, tzinfo=UTC)


@pytest.fixture
async def as_daemon(daemon_database_url: str) -> AsyncIterator[Any]:
    connection = await router_db.connect(daemon_database_url)
    yield connection
    await connection.close()


async def test_the_daemon_reads_configuration_and_writes_records(db: Any, as_daemon: Any) -> None:
    await db.execute("INSERT INTO hotlines (number) VALUES ('4007770001')")
    assert await as_daemon.fetchval(
        "SELECT count(*) FROM hotlines WHERE number = '4007770001'") == 1
    call_id = uuid.uuid4()
    await as_daemon.execute(
        """INSERT INTO calls (id, dialled, caller, caller_channel, router_id, started_at)
           VALUES ($1, '4007770001', '1', random()::text, 'r', now())""", call_id)
    await as_daemon.execute("UPDATE calls SET ended_at = now(), outcome = 'busy' WHERE id = $1",
                            call_id)


@pytest.mark.parametrize("statement", [
    "UPDATE hotlines SET enabled = false",
    "INSERT INTO phones (dial_string) VALUES ('PJSIP/intruder')",
    "DELETE FROM bound_phones",
    "DELETE FROM calls",
    "DELETE FROM call_legs",
    "UPDATE tariffs SET price_per_unit_fen = 0",
    "DROP TABLE calls",
])
async def test_the_daemon_cannot_change_configuration_or_erase_records(
        as_daemon: Any, statement: str) -> None:
    with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError,
                       match=r"permission denied|must be owner"):
        await as_daemon.execute(statement)


@pytest.mark.parametrize(("table", "privilege"), [
    ("number_pool", "INSERT"),   # numbers import
    ("rating_queue", "DELETE"),  # billing rate
    ("ledger", "INSERT"),        # top-ups
    ("hotlines", "UPDATE"),
])
async def test_the_admin_role_can_do_what_the_admin_cli_does(
        db: Any, table: str, privilege: str) -> None:
    assert await db.fetchval("SELECT has_table_privilege('hotline_router_admin', $1, $2)",
                             table, privilege)


@pytest.mark.parametrize("table", ["calls", "call_legs", "phone_claims"])
async def test_the_admin_role_cannot_write_records(db: Any, table: str) -> None:
    assert not await db.fetchval(
        "SELECT has_table_privilege('hotline_router_admin', $1, 'INSERT')", table)


# --- What no role may do (issue: least privilege) -------------------------------
#
# Each forbidden act is tried as each role that could reach it: the daemon
# (what `run` logs in as), the admin (the CLI, and operator tokens), the
# customer (customer tokens, under row-level security) and the web login
# itself. The owner (migrations) may still repair rows by hand.


@pytest.fixture
async def closed_call(db: Any, hotline_number: str) -> dict[str, Any]:
    """A hotline with a customer token, and one answered call that has ended (with its leg)."""
    hotline = await new_hotline(db, hotline_number)
    customer = f"privileges {hotline_number}"
    await tokens.add_customer(db, customer)
    await tokens.assign(db, customer, [hotline_number])
    token = (await tokens.create(db, f"{customer} token", "customer", customer)).token
    call_id = await add_call(db, hotline, hotline_number, T0, talk_ms=30_000)
    leg_id = uuid.uuid4()
    await db.execute(
        """INSERT INTO call_legs (id, call_id, dial_string, wave, dial_started_at, answered_at,
                                  ended_at, result, call_started_at)
           SELECT $1, id, 'PJSIP/phones/sip:a@127.0.0.1:5', 1, started_at, answered_at,
                  ended_at, 'answered', started_at FROM calls WHERE id = $2""", leg_id, call_id)
    return {"hotline": hotline, "number": hotline_number, "call": call_id, "leg": leg_id,
            "token": token}


@asynccontextmanager
async def acting_as(db: Any, role: str, token: str = "") -> AsyncIterator[Any]:
    """A connection switched to ``role`` as the web process switches (SET LOCAL ROLE,
    and the customer's token for row-level security); rolled back afterwards."""
    async with db.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        try:
            await connection.execute(
                "SELECT set_config('role', $1, true), set_config('hotline_router.token', $2, true)",
                role, token)
            yield connection
        finally:
            await transaction.rollback()


DENIED = (asyncpg.exceptions.InsufficientPrivilegeError, "permission denied")
CLOSED = (asyncpg.exceptions.CheckViolationError,
          "is closed: its answer, end and outcome cannot change")
LEG_ENDED = (asyncpg.exceptions.CheckViolationError,
             "has ended: its answer, end and result cannot change")
ONLY_CHARGES = (asyncpg.exceptions.InsufficientPrivilegeError,
                "writes only charges to the ledger, not 'top-up'|not 'adjustment'")
UNCHARGED = (asyncpg.exceptions.CheckViolationError,
             "leaves the rating queue only once charged")

TOP_UP = ("INSERT INTO ledger (hotline_id, kind, amount_fen, note) "
          "VALUES ({hotline}, 'top-up', 100000, 'free credit')")
ADJUSTMENT = ("INSERT INTO ledger (hotline_id, kind, adjusts, amount_fen, note) "
              "VALUES ({hotline}, 'adjustment', 'balance', 100000, 'free credit')")
UNANSWER = "UPDATE calls SET answered_at = NULL, outcome = 'busy' WHERE id = '{call}'"
UNCHARGE = "DELETE FROM rating_queue WHERE call_id = '{call}'"

FORBIDDEN: list[tuple[str, str, tuple[type[Exception], str]]] = [
    # The daemon: no money in, no rewriting a finished call, no skipping its charge.
    ("hotline_router_daemon", TOP_UP, ONLY_CHARGES),
    ("hotline_router_daemon", ADJUSTMENT, ONLY_CHARGES),
    ("hotline_router_daemon", UNANSWER, CLOSED),
    ("hotline_router_daemon", "UPDATE calls SET ended_at = ended_at + interval '1 hour' "
                              "WHERE id = '{call}'", CLOSED),
    ("hotline_router_daemon", "UPDATE calls SET ended_at = NULL WHERE id = '{call}'", CLOSED),
    ("hotline_router_daemon", "UPDATE calls SET caller_answered_at = started_at "
                              "WHERE id = '{call}'", CLOSED),
    ("hotline_router_daemon", "UPDATE calls SET outcome = 'failed' WHERE id = '{call}'", CLOSED),
    ("hotline_router_daemon", "UPDATE calls SET hotline_id = NULL WHERE id = '{call}'", CLOSED),
    ("hotline_router_daemon", "UPDATE calls SET answered_dial_string = 'PJSIP/other' "
                              "WHERE id = '{call}'", CLOSED),
    ("hotline_router_daemon", "UPDATE call_legs SET answered_at = NULL WHERE id = '{leg}'",
     LEG_ENDED),
    ("hotline_router_daemon", "UPDATE call_legs SET result = 'busy' WHERE id = '{leg}'",
     LEG_ENDED),
    ("hotline_router_daemon", "UPDATE call_legs SET ended_at = ended_at + interval '1 hour' "
                              "WHERE id = '{leg}'", LEG_ENDED),
    ("hotline_router_daemon", UNCHARGE, UNCHARGED),
    ("hotline_router_daemon", "CREATE TABLE calls_copy (id int)", DENIED),
    # The admin (CLI, operator tokens): money in is its job; records and the queue are not.
    ("hotline_router_admin", UNANSWER, DENIED),
    ("hotline_router_admin", UNCHARGE, UNCHARGED),
    ("hotline_router_admin", "UPDATE ledger SET amount_fen = 0 WHERE hotline_id = {hotline}",
     DENIED),
    ("hotline_router_admin", "CREATE TABLE calls_copy (id int)", DENIED),
    # A customer token: everyday settings of its own hotlines only.
    ("hotline_router_customer", "UPDATE hotlines SET overflow_forward_to = "
                                "'PJSIP/trunk/0085212345678' WHERE id = {hotline}", DENIED),
    ("hotline_router_customer", "UPDATE hotlines SET number = '4009999990' WHERE id = {hotline}",
     DENIED),
    ("hotline_router_customer", "UPDATE phones SET dial_string = 'PJSIP/trunk/1'", DENIED),
    ("hotline_router_customer", TOP_UP, DENIED),
    ("hotline_router_customer", UNANSWER, DENIED),
    ("hotline_router_customer", UNCHARGE, DENIED),
    ("hotline_router_customer", "CREATE TABLE calls_copy (id int)", DENIED),
    # The web login before it switches: looks tokens up, nothing else.
    ("hotline_router_web", "SELECT count(*) FROM calls", DENIED),
    ("hotline_router_web", TOP_UP, DENIED),
    ("hotline_router_web", "UPDATE api_tokens SET token_sha256 = sha256('x')", DENIED),
    ("hotline_router_web", "UPDATE hotlines SET enabled = false", DENIED),
]


@pytest.mark.parametrize(("role", "statement", "refusal"), FORBIDDEN,
                         ids=[f"{r.removeprefix('hotline_router_')}-{n}"
                              for n, (r, _, _) in enumerate(FORBIDDEN)])
async def test_each_role_is_refused_what_it_must_not_do(
        db: Any, closed_call: dict[str, Any], role: str, statement: str,
        refusal: tuple[type[Exception], str]) -> None:
    error, message = refusal
    async with acting_as(db, role, closed_call["token"]) as connection:
        with pytest.raises(error, match=message):
            await connection.execute(statement.format(**closed_call))


@pytest.mark.parametrize("statement", [TOP_UP, ADJUSTMENT, UNANSWER, UNCHARGE])
async def test_the_daemons_own_login_is_refused_too(
        as_daemon: Any, closed_call: dict[str, Any], statement: str) -> None:
    """The same acts through a login in the role, as `hotline-router run` connects."""
    with pytest.raises((asyncpg.exceptions.InsufficientPrivilegeError,
                        asyncpg.exceptions.CheckViolationError),
                       match=r"writes only charges|is closed|only once charged"):
        await as_daemon.execute(statement.format(**closed_call))
    assert await as_daemon.fetchval(
        "SELECT answered_at IS NOT NULL FROM calls WHERE id = $1", closed_call["call"])


async def test_the_admin_still_tops_up_and_a_customer_still_edits_its_answering_rule(
        db: Any, closed_call: dict[str, Any]) -> None:
    async with acting_as(db, "hotline_router_admin") as connection:
        await connection.execute(TOP_UP.format(**closed_call))
        await connection.execute(ADJUSTMENT.format(**closed_call))
        assert await ledger.balance(connection, closed_call["hotline"]) == 200_000
    async with acting_as(db, "hotline_router_customer", closed_call["token"]) as connection:
        assert await connection.execute(
            "UPDATE hotlines SET strategy = 'round_robin', overflow = 'queue' WHERE id = $1",
            closed_call["hotline"]) == "UPDATE 1"


async def test_the_owner_may_still_repair_a_closed_call_by_hand(
        db: Any, closed_call: dict[str, Any]) -> None:
    await db.execute("UPDATE calls SET ended_at = ended_at - interval '1 second' WHERE id = $1",
                     closed_call["call"])
    assert await db.fetchval("SELECT billable_ms FROM calls WHERE id = $1",
                             closed_call["call"]) == 29_000


async def test_the_daemon_does_its_work_as_its_own_role(
        daemon_database_url: str, db: Any, hotline_number: str, tmp_path: Path) -> None:
    """Records through the spool (replayed twice, as after a replay cut short), a leg that
    answered after it ended, rating and the month's minimum spend, adoption and the close
    of interrupted calls: all as the daemon role, none refused."""
    hotline = await new_hotline(db, hotline_number, price_fen=12)
    await config.add_package(db, hotline_number, "2025-03-01", "2025-04-01",
                             monthly_minimum_fen=1000)
    pool = await router_db.connect_pool(daemon_database_url, min_size=1, max_size=4)
    try:
        call_id, leg_id, gone_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        answered = T0 + timedelta(seconds=2, microseconds=345_678)
        ended = answered + timedelta(seconds=61)
        spool = Spool(tmp_path, "privileges")
        first: list[AnyRecord] = [
            CallStarted(call_id, hotline, hotline_number, "13800138000", f"c-{call_id}",
                        "privileges", T0),
            LegStarted(gone_id, call_id, None, "PJSIP/gone", 1, T0),
            LegStarted(leg_id, call_id, None, "PJSIP/talks", 1, T0),
            LegEnded(gone_id, answered, LegResult.FAILED, 16),
            CallBridged(call_id, leg_id, answered, None, "PJSIP/talks", answered),
            LegEnded(leg_id, ended, LegResult.ANSWERED, 16),
            CallEnded(call_id, ended, Outcome.ANSWERED),
        ]
        for record in first:
            spool.append(record)
        assert await spool.replay(pool) == 7
        again: list[AnyRecord] = [
            CallBridged(call_id, leg_id, answered, None, "PJSIP/talks", answered),
            CallEnded(call_id, ended + timedelta(seconds=5), Outcome.ANSWERED)]
        for record in again:
            spool.append(record)
        assert await spool.replay(pool) == 2
        assert not spool.rejected.exists()
        # An answer that arrives after its leg ended is still kept.
        await pool.execute("UPDATE call_legs SET answered_at = $2 WHERE id = $1", gone_id,
                           answered)
        await pool.execute("UPDATE calls SET reconciled_at = now() WHERE id = $1", call_id)
        assert await db.fetchval("SELECT billable_ms FROM calls WHERE id = $1", call_id) == 61_000

        rated = [h for h in await rater.rate_ready(pool, delay_s=0) if h.hotline_id == hotline]
        assert [list(h.calls) for h in rated] == [[call_id]]
        settled = [s for s in await rater.settle_months(pool, delay_s=0)
                   if s.hotline_id == hotline]
        assert [(s.month.isoformat(), s.top_up_fen) for s in settled] == [("2025-03-01", 976)]

        # Adoption of a dead router's open call, then its close at shutdown.
        open_id = uuid.uuid4()
        await sql.write(pool, CallStarted(open_id, hotline, hotline_number, "13800138001",
                                          f"c-{open_id}", "privileges-dead", T0))
        assert [c.call_id for c in await sql.take_over(pool, "privileges-dead",
                                                       "privileges-heir")] == [open_id]
        assert await sql.close_interrupted(pool, "privileges-heir") == 1
    finally:
        await pool.close()
    assert [(r["kind"], r["amount_fen"]) for r in await charges(db, call_id)] == [
        ("call-charge", -24)]


async def test_the_daemon_decides_a_call_in_one_statement_as_its_own_role(
        as_daemon: Any, db: Any, hotline_number: str) -> None:
    """claim_in_order (migration 0024) runs with its caller's rights: the daemon's."""
    hotline = await new_hotline(db, hotline_number, price_fen=12)
    phone = await db.fetchval("INSERT INTO phones (dial_string) VALUES ($1) RETURNING id",
                              f"PJSIP/privileges-{uuid.uuid4().hex[:8]}")
    got = await claims.claim_in_order(as_daemon, [phone], [uuid.uuid4()], uuid.uuid4(),
                                      "privileges", 1, hotline, take_turn=True,
                                      check_refusal=True)
    assert [p.phone_id for p in got.claimed] == [phone]
    assert got.claimed[0].leg_id is not None
    assert await claims.release(as_daemon, got.claimed[0].leg_id)

"""The router's database sessions are killed every half second (issue 13, item 3).

``pg_terminate_backend`` cuts each of its connections, often mid-operation:
asyncpg raises "another operation is in progress", "connection was closed in
the middle of operation", admin shutdown… Every such error means "away": the
write is spooled and replayed, never dropped, and billing stays exact.
"""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from tests.chaos.support import assert_nothing_lost, prepare_private, tally
from tests.conftest import DAEMON_LOGIN, PhoneFactory, RouterFactory, dialplan_global
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.postgres import PrivatePostgres

pytestmark = [pytest.mark.lab, pytest.mark.chaos]

CALLS, HOLD_MS, EVERY_S = 25, 2000, 1.0
KILL_EVERY_S, KILLING_S = 0.5, 25.0
HOTLINE = "4006000014"


async def test_killed_sessions_lose_no_write(
        lab: AsteriskLab, routers: RouterFactory, phones: PhoneFactory,
        private_postgres: PrivatePostgres) -> None:
    bound = [phones(answer_after_ms=200) for _ in range(3)]
    pool = await prepare_private(private_postgres, HOTLINE, bound)
    router = routers("hotline-router-ka", {"DB_TIMEOUT_S": "0.5"},
                     database_url=private_postgres.url("hotline_router", DAEMON_LOGIN))

    async def caller(n: int) -> sipp.CallResult:
        await asyncio.sleep(n * EVERY_S)
        return await sipp.call(lab.sip_address, HOTLINE, caller=f"1371400{n:04d}",
                               hold_ms=HOLD_MS)

    killed = 0
    with dialplan_global(lab, "ROUTER_APPS", "^hotline-router-ka$"):
        placed = asyncio.ensure_future(asyncio.gather(*(caller(n) for n in range(CALLS))))
        started = time.monotonic()
        while time.monotonic() - started < KILLING_S:
            killed += await pool.fetchval(
                """SELECT count(*) FROM (
                       SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                       WHERE usename = $1 AND pid <> pg_backend_pid()) k""", DAEMON_LOGIN)
            await asyncio.sleep(KILL_EVERY_S)
        seen = await placed
        back = time.monotonic()
        while (router.metrics().value("hotline_router_records_spooled")
               or router.metrics().value("hotline_router_database_degraded")):
            if time.monotonic() - back > 30:
                break  # the figures below tell what was not written back
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)

    try:
        figures = await tally(pool, HOTLINE, seen)
        answered = sum(1 for s in seen if s.result == "answered")
        unbilled = await pool.fetchval(
            "SELECT count(*) FROM calls WHERE dialled = $1 AND outcome = 'answered' "
            "AND answered_at IS NULL", HOTLINE)
        print(figures.line("sessions killed every 0.5 s") +
              f", sessions killed {killed}, answered {answered}, "
              f"answered records without an answer time {unbilled}", file=sys.stderr)
        assert killed > 10
        assert_nothing_lost(figures)
        assert unbilled == 0
        assert await pool.fetchval("SELECT sum(active_calls) FROM phone_state") == 0
    finally:
        await pool.close()

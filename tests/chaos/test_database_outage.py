"""PostgreSQL goes away during 30 calls and comes back: calls go on, records survive."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from router import db as router_db
from tests.chaos.support import (
    nothing_left_open,
    peak_calls_per_phone,
    prepare_private,
    talked_in_full,
)
from tests.conftest import DAEMON_LOGIN, PhoneFactory, RouterFactory, dialplan_global
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.postgres import PrivatePostgres

pytestmark = [pytest.mark.lab, pytest.mark.chaos]

# Each call holds a phone about 2 s (ring 0.2 s, the seat guard 0.2 s, talk
# 1.5 s): 4 phones and a call every 0.8 s keep them about 60 % busy, so a
# caller finds a free phone; the outage, not the capacity, is under test.
CALLS, HOLD_MS, EVERY_S, PHONES = 30, 1500, 0.8, 4
HOTLINE = "4006000001"


async def test_calls_and_records_survive_a_database_outage(
        lab: AsteriskLab, routers: RouterFactory, phones: PhoneFactory,
        private_postgres: PrivatePostgres) -> None:
    bound = [phones(answer_after_ms=200) for _ in range(PHONES)]
    pool = await prepare_private(private_postgres, HOTLINE, bound)
    router = routers("hotline-router-pg", {"DB_TIMEOUT_S": "0.5"},
                     database_url=private_postgres.url("hotline_router", DAEMON_LOGIN))

    async def caller(n: int) -> sipp.CallResult:
        await asyncio.sleep(n * EVERY_S)
        return await sipp.call(lab.sip_address, HOTLINE, caller=f"1370000{n:04d}",
                               hold_ms=HOLD_MS)

    spooled_peak = degraded_seen = 0.0
    with dialplan_global(lab, "ROUTER_APPS", "^hotline-router-pg$"):
        placed = asyncio.ensure_future(asyncio.gather(*(caller(n) for n in range(CALLS))))
        await asyncio.sleep(5)
        await pool.close()
        down_at = time.monotonic()
        await asyncio.to_thread(private_postgres.stop)
        while time.monotonic() - down_at < 8:  # calls go on meanwhile
            scraped = router.metrics()
            spooled_peak = max(spooled_peak, scraped.value("hotline_router_records_spooled"))
            degraded_seen = max(degraded_seen, scraped.value("hotline_router_database_degraded"))
            await asyncio.sleep(0.25)
        await asyncio.to_thread(private_postgres.start)
        seen = await placed
        back = time.monotonic()
        while (router.metrics().value("hotline_router_records_spooled")
               or router.metrics().value("hotline_router_database_degraded")):
            assert time.monotonic() - back < 30, "the spool was not replayed"
            await asyncio.sleep(0.2)

    pool = await router_db.connect_pool(private_postgres.url("hotline_router"), min_size=1)
    try:
        records = await pool.fetch("SELECT * FROM calls WHERE dialled = $1 ORDER BY caller",
                                   HOTLINE)
        dropped = [n for n, s in enumerate(seen) if not talked_in_full(s, HOLD_MS)]
        off = max(abs(r["billable_ms"] / 1000 - s.talk_seconds)
                  for r, s in zip(records, seen, strict=True))
        print(f"\ndatabase outage: {CALLS} calls, database away 8 s, up to {spooled_peak:.0f} "
              f"writes spooled, dropped {len(dropped)}, records {len(records)}, "
              f"largest billing difference {off:.3f} s", file=sys.stderr)

        assert degraded_seen == 1
        assert spooled_peak > 0  # records were written to the spool, then replayed
        assert dropped == []
        assert len(records) == CALLS
        assert [r["caller"] for r in records] == [f"1370000{n:04d}" for n in range(CALLS)]
        assert all(r["outcome"] == "answered" and r["ended_at"] for r in records)
        assert off < 0.5
        assert await peak_calls_per_phone(pool, HOTLINE) == 1
        await nothing_left_open(pool, HOTLINE)
        assert await pool.fetchval("SELECT sum(active_calls) FROM phone_state") == 0
    finally:
        await pool.close()

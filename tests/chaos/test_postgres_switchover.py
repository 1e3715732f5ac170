"""A PostgreSQL switchover in mid-traffic: the primary stops, its streaming
replica is promoted, and the router, on a multi-host connection string with
``target_session_attrs=read-write``, finds the new primary by itself.

As in an outage, calls go on meanwhile (degraded, records spooled), the spool
is replayed into the new primary, and nothing is lost or doubled; the
configuration listener reconnects to the new primary, so an admin's change
made there reaches the next call.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from router import admin
from router import db as router_db
from tests.chaos.support import (
    inconsistent_records,
    nothing_left_open,
    peak_calls_per_phone,
    prepare_private,
    talked_in_full,
)
from tests.conftest import DAEMON_LOGIN, PhoneFactory, RouterFactory, dialplan_global
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.postgres import PrivatePostgres
from tests.lab.router import RouterProcess

pytestmark = [pytest.mark.lab, pytest.mark.chaos]

# As the database-outage test: 4 phones about 60 % busy, so the switchover,
# not the capacity, is under test.
CALLS, HOLD_MS, EVERY_S, PHONES = 30, 1500, 0.8, 4
HOTLINE = "4006000002"
# The primary stops this long after the first call, and the replica is
# promoted this long after that (an operator's or Patroni's reaction time).
STOP_AFTER_S, PROMOTE_AFTER_S = 5.0, 3.0


@pytest.fixture
def replica(private_postgres: PrivatePostgres) -> Iterator[PrivatePostgres]:
    standby = private_postgres.replica()
    yield standby
    standby.destroy()


def both(primary: PrivatePostgres, standby: PrivatePostgres, user: str) -> str:
    """A libpq-style multi-host URL that only ever connects to the one taking writes."""
    return (f"postgresql://{user}@127.0.0.1:{primary.port},127.0.0.1:{standby.port}"
            "/hotline_router?target_session_attrs=read-write")


async def streaming(primary: Any, timeout_s: float = 30.0) -> None:
    """Wait until the replica has replayed everything the primary wrote so far."""
    target = await primary.fetchval("SELECT pg_current_wal_lsn()")
    deadline = time.monotonic() + timeout_s
    while not await primary.fetchval(
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' "
            "AND replay_lsn >= $1::pg_lsn", target):
        assert time.monotonic() < deadline, "the replica never caught up"
        await asyncio.sleep(0.1)


def router_events(router: RouterProcess, event: str, reason: str) -> list[dict[str, Any]]:
    """The router's log lines of ``event`` for ``reason``."""
    found = []
    for text in router.log_path.read_text(errors="replace").splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("event") == event and line.get("reason") == reason:
            found.append(line)
    return found


async def test_calls_and_records_survive_a_switchover_to_the_replica(
        lab: AsteriskLab, routers: RouterFactory, phones: PhoneFactory,
        private_postgres: PrivatePostgres, replica: PrivatePostgres) -> None:
    bound = [phones(answer_after_ms=200) for _ in range(PHONES)]
    pool = await prepare_private(private_postgres, HOTLINE, bound)
    await streaming(pool)
    router = routers("hotline-router-ha", {"DB_TIMEOUT_S": "0.5"},
                     database_url=both(private_postgres, replica, DAEMON_LOGIN))

    async def caller(n: int) -> sipp.CallResult:
        await asyncio.sleep(n * EVERY_S)
        return await sipp.call(lab.sip_address, HOTLINE, caller=f"1370000{n:04d}",
                               hold_ms=HOLD_MS)

    spooled_peak = degraded_seen = 0.0
    with dialplan_global(lab, "ROUTER_APPS", "^hotline-router-ha$"):
        placed = asyncio.ensure_future(asyncio.gather(*(caller(n) for n in range(CALLS))))
        await asyncio.sleep(STOP_AFTER_S)
        await pool.close()
        stopped_at = time.monotonic()
        await asyncio.to_thread(private_postgres.stop)
        while time.monotonic() - stopped_at < PROMOTE_AFTER_S:  # calls go on meanwhile
            scraped = router.metrics()
            spooled_peak = max(spooled_peak, scraped.value("hotline_router_records_spooled"))
            degraded_seen = max(degraded_seen, scraped.value("hotline_router_database_degraded"))
            await asyncio.sleep(0.25)
        await asyncio.to_thread(replica.promote)
        promoted_at = time.monotonic()
        while router.metrics().value("hotline_router_database_degraded"):  # calls go on
            assert time.monotonic() - promoted_at < 30, "the new primary was never found"
            await asyncio.sleep(0.1)
        back_after = time.monotonic() - promoted_at
        seen = await placed
        while (router.metrics().value("hotline_router_records_spooled")
               or router.metrics().value("hotline_router_database_degraded")):
            assert time.monotonic() - promoted_at < 60, "the spool was not replayed"
            await asyncio.sleep(0.2)

        pool = await router_db.connect_pool(both(private_postgres, replica, "postgres"),
                                            min_size=1)
        try:
            await check(pool, router, seen, spooled_peak, degraded_seen, back_after)
            # An admin's change on the new primary reaches the router's next
            # call: only a newly bound phone may take it.
            newcomer = phones(answer_after_ms=200)
            heard = len(router_events(router, "configuration loaded", "notified"))
            await pool.execute(
                """UPDATE bound_phones SET enabled = false FROM hotlines h
                   WHERE h.id = bound_phones.hotline_id AND h.number = $1""", HOTLINE)
            new_id = (await admin.add_phone(pool, HOTLINE, newcomer.dial_string))["phone_id"]
            deadline = time.monotonic() + 30
            while len(router_events(router, "configuration loaded", "notified")) <= heard:
                assert time.monotonic() < deadline, "the change was not heard from the new primary"
                await asyncio.sleep(0.1)
            after = await sipp.call(lab.sip_address, HOTLINE, caller="13700009999", hold_ms=500)
            assert after.result == "answered"
            assert await pool.fetchval(
                "SELECT answered_phone_id FROM calls WHERE dialled = $1 AND caller = $2",
                HOTLINE, "13700009999") == new_id
        finally:
            await pool.close()


async def check(pool: Any, router: RouterProcess, seen: list[sipp.CallResult],
                spooled_peak: float, degraded_seen: float, back_after: float) -> None:
    """The records of the calls placed across the switchover, on the new primary."""
    assert not await pool.fetchval("SELECT pg_is_in_recovery()")  # the promoted replica
    records = await pool.fetch(
        "SELECT * FROM calls WHERE dialled = $1 ORDER BY caller", HOTLINE)
    dropped = [n for n, s in enumerate(seen) if not talked_in_full(s, HOLD_MS)]
    off = max(abs(r["billable_ms"] / 1000 - s.talk_seconds)
              for r, s in zip(records, seen, strict=True))
    print(f"\nswitchover: {CALLS} calls, primary stopped, replica promoted "
          f"{PROMOTE_AFTER_S:.0f} s later, up to {spooled_peak:.0f} writes spooled, "
          f"healthy again {back_after:.1f} s after the promotion, dropped {len(dropped)}, "
          f"records {len(records)}, largest billing difference {off:.3f} s", file=sys.stderr)

    assert degraded_seen == 1
    assert dropped == []
    assert len(records) == CALLS
    assert [r["caller"] for r in records] == [f"1370000{n:04d}" for n in range(CALLS)]
    assert all(r["outcome"] == "answered" and r["ended_at"] for r in records)
    assert await inconsistent_records(pool, HOTLINE) == []
    assert off < 0.5
    assert await peak_calls_per_phone(pool, HOTLINE) == 1
    await nothing_left_open(pool, HOTLINE)
    assert await pool.fetchval("SELECT sum(active_calls) FROM phone_state") == 0

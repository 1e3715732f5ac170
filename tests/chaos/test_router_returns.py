"""A router killed with bridged calls, whose peer adopted them, comes back:
it must leave the adopted calls to the peer, not hang them up or route them again."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import Any

import pytest

from tests.chaos.support import nothing_left_open, talked_in_full
from tests.conftest import PhoneFactory, RouterFactory, add_hotline, dialplan_global, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab

pytestmark = [pytest.mark.lab, pytest.mark.chaos]

CALLS, HOLD_MS = 5, 14_000
FAST_LEASE = {"HEARTBEAT_S": "0.5", "ROUTER_LEASE_S": "2"}


async def until_all_bridged_by(db: Any, dialled: str, app: str, timeout_s: float = 8) -> None:
    """Until every call to ``dialled`` is bridged and its record held by router ``app``."""
    deadline = time.monotonic() + timeout_s
    while await db.fetchval(
            "SELECT count(*) FROM calls WHERE dialled = $1 AND ended_at IS NULL "
            "AND answered_at IS NOT NULL AND router_id LIKE $2 || '@%'", dialled, app) < CALLS:
        assert time.monotonic() < deadline, f"{app} does not hold all calls within {timeout_s} s"
        await asyncio.sleep(0.1)


async def test_a_returning_router_leaves_the_calls_its_peer_adopted_alone(
        db: Any, lab: AsteriskLab, routers: RouterFactory, phones: PhoneFactory,
        hotline_number: str) -> None:
    bound = [phones(answer_after_ms=200) for _ in range(CALLS)]
    await add_hotline(db, hotline_number, bound, "round_robin")
    first = routers("hotline-router-ra", FAST_LEASE)
    routers("hotline-router-rb", FAST_LEASE)

    async def caller(n: int) -> sipp.CallResult:
        await asyncio.sleep(n * 0.1)
        return await sipp.call(lab.sip_address, hotline_number, caller=f"1330000{n:04d}",
                               hold_ms=HOLD_MS)

    with dialplan_global(lab, "ROUTER_APPS", "^hotline-router-ra$"):  # calls reach ra only
        placed = asyncio.ensure_future(asyncio.gather(*(caller(n) for n in range(CALLS))))
        await until_all_bridged_by(db, hotline_number, "hotline-router-ra")
        first.stop(signal.SIGKILL)
        await until_all_bridged_by(db, hotline_number, "hotline-router-rb")  # adopted
        routers("hotline-router-ra", FAST_LEASE)  # back, with the same app name
        seen = await placed
        records = await wait_for_call(db, hotline_number, count=CALLS)
        await asyncio.sleep(1)  # a call routed a second time would have a record by now
        all_records = await db.fetch("SELECT * FROM calls WHERE dialled = $1", hotline_number)

    dropped = [s for s in seen if not talked_in_full(s, HOLD_MS)]
    print(f"\nrouter back after adoption: {CALLS} bridged calls, dropped {len(dropped)}, "
          f"records {len(all_records)}", file=sys.stderr)
    assert dropped == [], [(s.result, s.talk_seconds, s.ended_by) for s in dropped]
    assert len(all_records) == len(records) == CALLS
    assert all(r["outcome"] == "answered" for r in records)
    assert {r["router_id"].split("@")[0] for r in records} == {"hotline-router-rb"}
    await nothing_left_open(db, hotline_number)

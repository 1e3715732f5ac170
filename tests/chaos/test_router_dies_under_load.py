"""Two routers share a burst of calls; one is killed; the other takes everything on."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import Counter
from typing import Any

import pytest

from tests.chaos.support import nothing_left_open, peak_calls_per_phone
from tests.conftest import PhoneFactory, RouterFactory, add_hotline, dialplan_global, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab

pytestmark = [pytest.mark.lab, pytest.mark.chaos]

CALLS, PHONES, HOLD_MS = 50, 10, 3000
# Short heartbeats so that the survivor notices the death within seconds.
FAST_LEASE = {"HEARTBEAT_S": "0.5", "ROUTER_LEASE_S": "2"}


async def test_killing_one_of_two_routers_mid_burst_loses_no_call(
        db: Any, lab: AsteriskLab, routers: RouterFactory, phones: PhoneFactory,
        hotline_number: str) -> None:
    bound = [phones(answer_after_ms=300) for _ in range(PHONES)]
    await add_hotline(db, hotline_number, bound, "random")
    victim = routers("hotline-router-ka", FAST_LEASE)
    routers("hotline-router-kb", FAST_LEASE)

    async def caller(n: int) -> sipp.CallResult:
        await asyncio.sleep(n * 0.12)
        return await sipp.call(lab.sip_address, hotline_number, caller=f"1310000{n:04d}",
                               hold_ms=HOLD_MS)

    with dialplan_global(lab, "ROUTER_APPS", "^hotline-router-k[ab]$"):
        placed = asyncio.ensure_future(asyncio.gather(*(caller(n) for n in range(CALLS))))
        await asyncio.sleep(CALLS * 0.12 / 2)  # halfway through the burst
        held_by_victim = await db.fetchval(
            "SELECT count(*) FROM calls WHERE dialled = $1 AND ended_at IS NULL "
            "AND router_id LIKE 'hotline-router-ka@%'", hotline_number)
        victim.stop(signal.SIGKILL)
        seen = await placed
        records = await wait_for_call(db, hotline_number, count=CALLS, timeout_s=60)

    outcomes = Counter(r["outcome"] for r in records)
    answered_by_sipp = [s for s in seen if s.result == "answered"]
    full = [s for s in answered_by_sipp if abs(s.talk_seconds - HOLD_MS / 1000) < 0.5]
    by_router = Counter(r["router_id"].split("@")[0] for r in records)
    print(f"\nrouter killed mid-burst: offered {CALLS}, live on the victim at the kill "
          f"{held_by_victim}, answered {outcomes['answered']} (sipp {len(answered_by_sipp)}, "
          f"all of them in full: {len(full) == len(answered_by_sipp)}), overflowed "
          f"{outcomes['busy']}, reconciled {sum(r['reconciled_at'] is not None for r in records)}, "
          f"records closed by {dict(by_router)}", file=sys.stderr)

    assert held_by_victim > 0
    assert all(s.result in ("answered", "rejected") for s in seen), [s.errors for s in seen]
    assert len(full) == len(answered_by_sipp)  # no bridged call was dropped
    assert len(records) == CALLS
    assert len({r["caller"] for r in records}) == CALLS  # none lost, none doubled
    assert outcomes["answered"] == len(answered_by_sipp)
    assert outcomes["answered"] + outcomes["busy"] == CALLS
    assert await peak_calls_per_phone(db, hotline_number) == 1
    await nothing_left_open(db, hotline_number)

"""Two routers on one Asterisk, calls offered by StasisBroadcast, phones shared."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter, defaultdict
from typing import Any

import pytest

from tests.chaos.support import max_concurrent, watch_capacity
from tests.conftest import PhoneFactory, RouterFactory, add_hotline, dialplan_global, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab

pytestmark = pytest.mark.lab

CALLS = 50
PHONES = 5


async def test_two_routers_route_a_burst_without_ever_exceeding_capacity(
        db: Any, lab: AsteriskLab, routers: RouterFactory, phones: PhoneFactory,
        hotline_number: str) -> None:
    bound = [phones(answer_after_ms=300) for _ in range(PHONES)]
    ids = list((await add_hotline(db, hotline_number, bound, "sequential")).values())
    routers("hotline-router-a")
    routers("hotline-router-b")

    async def caller(n: int) -> sipp.CallResult:
        await asyncio.sleep(n * 0.06)
        return await sipp.call(lab.sip_address, hotline_number, caller=f"1350000{n:04d}",
                               hold_ms=2000)

    stop = asyncio.Event()
    with dialplan_global(lab, "ROUTER_APPS", "^hotline-router-[ab]$"):
        watcher = asyncio.ensure_future(watch_capacity(db, ids, stop))
        seen = await asyncio.gather(*(caller(n) for n in range(CALLS)))
        calls = await wait_for_call(db, hotline_number, count=CALLS)
        stop.set()
        worst_excess = await watcher

    legs = await db.fetch(
        """SELECT l.phone_id, l.dial_started_at, l.ended_at FROM call_legs l
           JOIN calls c ON c.id = l.call_id WHERE c.dialled = $1""", hotline_number)
    per_phone: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
    for leg in legs:
        per_phone[leg["phone_id"]].append((leg["dial_started_at"], leg["ended_at"]))
    peak = {phone: max_concurrent(spans) for phone, spans in per_phone.items()}
    answered_by_sipp = sum(s.result == "answered" for s in seen)
    outcomes = Counter(c["outcome"] for c in calls)
    by_router = Counter(c["router_id"].split("@")[0] for c in calls)
    print(f"\nactive-active: offered {CALLS}, answered {outcomes['answered']} "
          f"(sipp saw {answered_by_sipp}), overflowed {outcomes['busy']}, "
          f"by router {dict(by_router)}, max concurrent per phone {max(peak.values())}, "
          f"worst sampled excess over capacity {worst_excess}", file=sys.stderr)

    assert len(calls) == CALLS
    assert set(by_router) == {"hotline-router-a", "hotline-router-b"}
    assert all(s.result in ("answered", "rejected") for s in seen), [s.errors for s in seen]
    assert answered_by_sipp == outcomes["answered"]
    assert outcomes["answered"] + outcomes["busy"] == CALLS
    assert outcomes["answered"] >= PHONES
    assert max(peak.values()) == 1  # zero over-capacity moments in the leg records
    assert worst_excess <= 0
    assert await db.fetchval("SELECT count(*) FROM phone_claims WHERE phone_id = ANY($1)",
                             ids) == 0

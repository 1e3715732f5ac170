"""The router's connection to ARI is cut with 10 live calls, then comes back."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.chaos.support import nothing_left_open, peak_calls_per_phone, talked_in_full
from tests.conftest import PhoneFactory, RouterFactory, add_hotline, dialplan_global, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.proxy import CuttableProxy

pytestmark = [pytest.mark.lab, pytest.mark.chaos]

CALLS = 10
SHORT_MS, LONG_MS = 5000, 12000  # half end during the cut, half after it
CUT_AT_S, CUT_FOR_S = 2.5, 5.0


@pytest.fixture
def proxy(lab: AsteriskLab) -> Iterator[CuttableProxy]:
    proxy = CuttableProxy("127.0.0.1", lab.http_port).start()
    yield proxy
    proxy.stop()


async def test_a_cut_websocket_loses_no_call_and_no_record(
        db: Any, lab: AsteriskLab, routers: RouterFactory, phones: PhoneFactory,
        proxy: CuttableProxy, hotline_number: str) -> None:
    bound = [phones(answer_after_ms=200) for _ in range(CALLS)]
    await add_hotline(db, hotline_number, bound, "sequential")
    router = routers("hotline-router-cut", {"ARI_URL": proxy.url})
    holds = [SHORT_MS if n % 2 == 0 else LONG_MS for n in range(CALLS)]

    async def caller(n: int) -> sipp.CallResult:
        await asyncio.sleep(n * 0.1)
        return await sipp.call(lab.sip_address, hotline_number, caller=f"1330000{n:04d}",
                               hold_ms=holds[n])

    with dialplan_global(lab, "ROUTER_APPS", "^hotline-router-cut$"):
        calls = asyncio.ensure_future(asyncio.gather(*(caller(n) for n in range(CALLS))))
        await asyncio.sleep(CUT_AT_S)
        cut_at = datetime.now(UTC)
        proxy.cut()
        await asyncio.sleep(CUT_FOR_S)
        proxy.restore()
        back = time.monotonic()
        while not router.ready():
            assert time.monotonic() - back < 15, "the router did not reconnect"
            await asyncio.sleep(0.1)
        reconnected_in = time.monotonic() - back
        seen = await calls
        records = await wait_for_call(db, hotline_number, count=CALLS)

    dropped = [n for n, s in enumerate(seen) if not talked_in_full(s, holds[n])]
    reconciled = [r for r in records if r["reconciled_at"] is not None]
    print(f"\nwebsocket cut: {CALLS} live calls, cut {CUT_FOR_S:.0f} s, reconnected "
          f"{reconnected_in:.1f} s after, dropped {len(dropped)}, records {len(records)}, "
          f"reconciled {len(reconciled)}", file=sys.stderr)

    assert dropped == []  # every bridged call went on, whole, through the cut
    assert len(records) == CALLS
    assert len({r["caller"] for r in records}) == CALLS  # none doubled
    assert all(r["outcome"] == "answered" for r in records)
    by_caller = {r["caller"]: r for r in records}
    for n, hold in enumerate(holds):
        record = by_caller[f"1330000{n:04d}"]
        if hold == SHORT_MS:  # ended while nobody watched: closed as of the cut
            assert record["reconciled_at"] is not None
            assert abs((record["ended_at"] - cut_at).total_seconds()) < 1.0
        else:  # ended after the router was back: exact
            assert record["reconciled_at"] is None
            assert abs(record["billable_ms"] / 1000 - seen[n].talk_seconds) < 0.5
    assert await peak_calls_per_phone(db, hotline_number) == 1
    await nothing_left_open(db, hotline_number)
    # The phones of the calls that ended during the cut were hung up on reconnect.
    assert all(phone.results() and phone.results()[0]["result"] == "answered"
               for phone in bound)

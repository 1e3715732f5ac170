"""Two routers take one hotline's calls; one loses only its database, not ARI.

Router A keeps driving its calls through Asterisk while it cannot reach the
database, longer than its lease. Its peer B must not adopt them (A still beats
in Asterisk), A must stop claiming phones and decline new calls once its lease
runs out, and A's claims written back afterwards must respect capacity. What
the phones saw decides: no phone ever in more calls than its capacity, every
caller one record, billing within 0.5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.chaos.support import inconsistent_records, max_concurrent, nothing_left_open
from tests.conftest import PhoneFactory, RouterFactory, add_hotline, dialplan_global, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.proxy import CuttableProxy

pytestmark = [pytest.mark.lab, pytest.mark.chaos]

CALLS, EVERY_S, HOLD_MS = 25, 0.8, 3000
LEASE_S, CUT_AT_S, CUT_FOR_S = 6, 2.0, 14.0
ROUTERS = {"HEARTBEAT_S": "0.5", "ROUTER_LEASE_S": str(LEASE_S), "DB_TIMEOUT_S": "0.5"}


@pytest.fixture
def database_proxy() -> Iterator[CuttableProxy]:
    proxy = CuttableProxy("127.0.0.1", 5432).start()
    yield proxy
    proxy.stop()


async def over_capacity_samples(db: Any, dialled: str, stop: asyncio.Event,
                                samples: list[int]) -> None:
    """Every 0.1 s: phones of ``dialled`` holding more claims than their capacity."""
    while not stop.is_set():
        samples.append(await db.fetchval(
            """SELECT count(*) FROM (
                   SELECT p.id FROM phones p
                   JOIN bound_phones b ON b.phone_id = p.id
                   JOIN hotlines h ON h.id = b.hotline_id
                   LEFT JOIN phone_claims k ON k.phone_id = p.id
                   WHERE h.number = $1
                   GROUP BY p.id, p.capacity HAVING count(k.leg_id) > p.capacity) o""",
            dialled))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def test_a_router_cut_off_from_its_database_is_fenced_not_doubled(
        db: Any, lab: AsteriskLab, routers: RouterFactory, phones: PhoneFactory,
        daemon_database_url: str, database_proxy: CuttableProxy, hotline_number: str) -> None:
    bound = [phones(answer_after_ms=200) for _ in range(2)]
    await add_hotline(db, hotline_number, bound, "sequential")
    through_proxy = daemon_database_url.replace("127.0.0.1:5432",
                                                f"127.0.0.1:{database_proxy.port}", 1)
    routers("hotline-router-splita", ROUTERS, database_url=through_proxy)
    routers("hotline-router-splitb", ROUTERS)

    async def caller(n: int) -> sipp.CallResult:
        await asyncio.sleep(n * EVERY_S)
        return await sipp.call(lab.sip_address, hotline_number, caller=f"1370000{n:04d}",
                               hold_ms=HOLD_MS, timeout_s=90)

    async def outage() -> None:
        await asyncio.sleep(CUT_AT_S)
        database_proxy.cut()
        await asyncio.sleep(CUT_FOR_S)
        database_proxy.restore()

    samples: list[int] = []
    stop = asyncio.Event()
    sampler = asyncio.ensure_future(over_capacity_samples(db, hotline_number, stop, samples))
    with dialplan_global(lab, "ROUTER_APPS", "^hotline-router-split[ab]$"):
        try:
            seen, _ = await asyncio.gather(
                asyncio.gather(*(caller(n) for n in range(CALLS))), outage())
            records = await wait_for_call(db, hotline_number, count=len(
                [s for s in seen if s.result != "error"]), timeout_s=60)
            await asyncio.sleep(2.0)  # A's spool replays; releases trail records
        finally:
            stop.set()
            await sampler

    by_caller: dict[str, list[Any]] = {}
    for record in records:
        by_caller.setdefault(record["caller"], []).append(record)
    doubled = [c for c, rows in by_caller.items() if len(rows) > 1]
    seen_by = {s.caller: s for s in seen}
    billing_off = max(abs(sum(r["billable_ms"] for r in rows) / 1000
                          - seen_by[c].talk_seconds) for c, rows in by_caller.items())
    # What the phones saw: calls each was in at once (its sipp log, answer to end).
    peaks = []
    for phone in bound:
        spans = [(float(r["t_answer"].split(".")[0]) + int(r["t_answer"].split(".")[2]) / 1e6,
                  float(r["t_end"].split(".")[0]) + int(r["t_end"].split(".")[2]) / 1e6)
                 for r in phone.results() if r.get("result") == "answered"
                 and "t_answer" in r and "t_end" in r]
        peaks.append(max_concurrent(spans))
    wrong = await inconsistent_records(db, hotline_number)
    conflicts = await db.fetchval(
        """SELECT count(*) FROM claim_conflicts k JOIN bound_phones b ON b.phone_id = k.phone_id
           JOIN hotlines h ON h.id = b.hotline_id WHERE h.number = $1""", hotline_number)
    results: dict[str, int] = {}
    for s in seen:
        results[s.result] = results.get(s.result, 0) + 1
    print(f"\nsplit brain: {CALLS} calls offered, {len(records)} records for "
          f"{len(by_caller)} callers, {len(doubled)} callers with two records, "
          f"{len(wrong)} inconsistent, callers saw {results}, "
          f"{sum(1 for s in samples if s)} of {len(samples)} samples over capacity, "
          f"most calls at once on a phone (its own log) {max(peaks)}, "
          f"claim conflicts {conflicts}, largest billing difference {billing_off:.3f} s",
          file=sys.stderr)

    assert results.get("error", 0) == 0
    assert doubled == []
    assert sorted(by_caller) == sorted(seen_by)
    assert wrong == []
    assert max(peaks) <= 1
    assert not any(samples)
    assert billing_off < 0.5
    await nothing_left_open(db, hotline_number)

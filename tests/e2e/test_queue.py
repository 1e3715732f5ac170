"""The hold queue end to end: real Asterisk, sipp callers and phone, two routers."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from typing import Any

import pytest

from tests.chaos.support import nothing_left_open, peak_calls_per_phone
from tests.conftest import PhoneFactory, RouterFactory, add_hotline, dialplan_global, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess

pytestmark = pytest.mark.lab

TWO_ROUTERS = "^hotline-router-q[ab]$"


async def queue_hotline(db: Any, number: str, phone: sipp.Phone, **queue: Any) -> int:
    """A hotline with one bound phone whose overflow is the queue; its id."""
    await add_hotline(db, number, [phone])
    settings = {"overflow": "queue", "overflow_max_wait_s": 120, **queue}
    columns = ", ".join(f"{name} = ${n}" for n, name in enumerate(settings, start=2))
    hotline_id: int = await db.fetchval(
        f"UPDATE hotlines SET {columns} WHERE number = $1 RETURNING id", number,
        *settings.values())
    return hotline_id


async def place(lab: AsteriskLab, number: str, caller: str, at_s: float,
                hold_ms: int) -> sipp.CallResult:
    await asyncio.sleep(at_s)
    return await sipp.call(lab.sip_address, number, caller=caller, hold_ms=hold_ms)


def announced(routers: list[RouterProcess], number: str) -> dict[str, list[int]]:
    """Each caller's position announcements, in order, from the routers' logs."""
    heard: dict[str, list[tuple[str, int]]] = {}
    for router in routers:
        for line in router.log_path.read_text(errors="replace").splitlines():
            if not line.startswith("{") or number not in line:
                continue
            entry = json.loads(line)
            # Asterisk played it: a refused or failed playback is logged as a warning.
            assert entry.get("event") != "position announcement failed", entry
            if entry.get("event") == "queue position announced":
                heard.setdefault(entry["caller"], []).append(
                    (entry["timestamp"], entry["position"]))
    return {caller: [p for _, p in sorted(said)] for caller, said in heard.items()}


async def answer_order(db: Any, number: str) -> list[str]:
    rows = await db.fetch("SELECT caller FROM calls WHERE dialled = $1 AND outcome = 'answered' "
                          "ORDER BY answered_at", number)
    return [r["caller"] for r in rows]


async def test_waiters_are_answered_in_arrival_order_across_two_routers_vip_first(
        db: Any, lab: AsteriskLab, routers: RouterFactory, phones: PhoneFactory,
        hotline_number: str) -> None:
    phone = phones(answer_after_ms=200)
    hotline_id = await queue_hotline(db, hotline_number, phone, queue_announce_position=True)
    blocker, vip = "13600000000", "13600000003"
    waiters = ["13600000001", "13600000002", vip, "13600000004", "13600000005"]
    await db.execute("INSERT INTO caller_lists (hotline_id, list, match, value) "
                     "VALUES ($1, 'vip', 'exact', $2)", hotline_id, vip)
    started = [routers("hotline-router-qa"), routers("hotline-router-qb")]
    with dialplan_global(lab, "ROUTER_APPS", TWO_ROUTERS):
        seen = await asyncio.gather(
            place(lab, hotline_number, blocker, 0.0, hold_ms=8000),
            *(place(lab, hotline_number, caller, 1.0 + 0.8 * n, hold_ms=1500)
              for n, caller in enumerate(waiters)))
        records = await wait_for_call(db, hotline_number, count=6)

    order = await answer_order(db, hotline_number)
    heard = announced(started, hotline_number)
    by_router = {r["caller"]: r["router_id"].split("@")[0] for r in records}
    print(f"\nqueue under two routers: arrival {waiters}, answered {order[1:]}, "
          f"routers {by_router}, positions heard {heard}", file=sys.stderr)
    assert all(s.result == "answered" for s in seen), [(s.caller, s.result) for s in seen]
    assert order == [blocker, vip, *[w for w in waiters if w != vip]]
    # On joining: the VIP is next; those after it are behind it.
    assert {caller: said[0] for caller, said in heard.items()} == {
        waiters[0]: 1, waiters[1]: 2, vip: 1, waiters[3]: 4, waiters[4]: 5}
    assert await peak_calls_per_phone(db, hotline_number) == 1
    await nothing_left_open(db, hotline_number)
    assert await db.fetchval("SELECT count(*) FROM queue_waiters WHERE hotline_id = $1",
                             hotline_id) == 0


async def test_callers_arriving_as_the_phone_frees_do_not_overtake_the_waiter(
        db: Any, lab: AsteriskLab, routers: RouterFactory, phones: PhoneFactory,
        hotline_number: str) -> None:
    phone = phones(answer_after_ms=200)
    await queue_hotline(db, hotline_number, phone)
    blocker, waiter = "13700000000", "13700000001"
    # The blocker's call frees the phone about 4.3 s in (answer, then 4 s of
    # talk): newcomers arrive around that moment, from 3.9 s to 4.7 s.
    newcomers = [f"1370000001{n}" for n in range(5)]
    routers("hotline-router-qa")
    routers("hotline-router-qb")
    with dialplan_global(lab, "ROUTER_APPS", TWO_ROUTERS):
        seen = await asyncio.gather(
            place(lab, hotline_number, blocker, 0.0, hold_ms=4000),
            place(lab, hotline_number, waiter, 1.0, hold_ms=1000),
            *(place(lab, hotline_number, caller, 3.9 + 0.2 * n, hold_ms=1000)
              for n, caller in enumerate(newcomers)))
        await wait_for_call(db, hotline_number, count=7)
    order = await answer_order(db, hotline_number)
    print(f"\narriving as the phone frees: answered {order}", file=sys.stderr)
    assert all(s.result == "answered" for s in seen), [(s.caller, s.result) for s in seen]
    assert order == [blocker, waiter, *newcomers]
    assert await peak_calls_per_phone(db, hotline_number) == 1
    await nothing_left_open(db, hotline_number)


async def test_the_fourth_caller_over_a_limit_of_three_gets_the_overflow(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    phone = phones(answer_after_ms=200)
    await queue_hotline(db, hotline_number, phone, queue_max_waiting=3)
    await asyncio.sleep(0.5)  # the session's router has the new hotline
    callers = [f"1380000000{n}" for n in range(5)]
    seen = await asyncio.gather(
        place(lab, hotline_number, callers[0], 0.0, hold_ms=5000),
        *(place(lab, hotline_number, caller, 1.0 + 0.5 * n, hold_ms=500)
          for n, caller in enumerate(callers[1:])))
    records = {r["caller"]: r for r in await wait_for_call(db, hotline_number, count=5)}
    fourth = records[callers[4]]
    assert (fourth["outcome"], fourth["overflow"]) == ("busy", "queue")
    assert fourth["answered_at"] is None
    assert fourth["ended_at"] < records[callers[0]]["ended_at"]  # at once, not after a wait
    assert [records[c]["outcome"] for c in callers[:4]] == ["answered"] * 4
    assert [s.result for s in seen[:4]] == ["answered"] * 4
    await nothing_left_open(db, hotline_number)


async def test_a_caller_who_waited_past_the_limit_gets_the_overflow(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    phone = phones(answer_after_ms=200)
    await queue_hotline(db, hotline_number, phone, overflow_max_wait_s=3)
    await asyncio.sleep(0.5)  # the session's router has the new hotline
    seen = await asyncio.gather(
        place(lab, hotline_number, "13900000100", 0.0, hold_ms=9000),
        place(lab, hotline_number, "13900000101", 1.0, hold_ms=500))
    records = {r["caller"]: r for r in await wait_for_call(db, hotline_number, count=2)}
    waited = records["13900000101"]
    assert (waited["outcome"], waited["overflow"]) == ("busy", "queue")
    assert waited["ended_at"] < records["13900000100"]["ended_at"]
    assert (waited["ended_at"] - waited["started_at"]).total_seconds() >= 3
    assert seen[0].result == "answered"
    assert seen[1].result != "answered"
    await nothing_left_open(db, hotline_number)


def percentile(values: list[float], share: float) -> float:
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, int(share * len(ranked)))]


async def test_fifty_frees_each_ring_for_the_head_in_arrival_order(
        db: Any, lab: AsteriskLab, routers: RouterFactory, phones: PhoneFactory,
        hotline_number: str) -> None:
    """50 callers wait for one phone under two routers. Prints the figure of the
    queue guide: a phone freeing (its leg's end, Asterisk's time) to the head's
    leg starting (its claim, the router's clock), p50/p99 over the 50 frees; and
    how the answer order compares with the arrival order."""
    waiters = 50
    phone = phones(answer_after_ms=100)
    await queue_hotline(db, hotline_number, phone)
    routers("hotline-router-qa")
    routers("hotline-router-qb")
    with dialplan_global(lab, "ROUTER_APPS", TWO_ROUTERS):
        seen = await asyncio.gather(
            place(lab, hotline_number, "13500000000", 0.0, hold_ms=9000),
            *(place(lab, hotline_number, f"135000{n:05d}", 1.0 + 0.15 * n, hold_ms=300)
              for n in range(1, waiters + 1)))
        assert all(s.result == "answered" for s in seen), [
            (s.caller, s.result, s.errors[-300:]) for s in seen if s.result != "answered"]
        records = await wait_for_call(db, hotline_number, count=waiters + 1, timeout_s=120)

    legs = await db.fetch(
        """SELECT c.caller, c.started_at, l.dial_started_at, l.ended_at, c.router_id
           FROM call_legs l JOIN calls c ON c.id = l.call_id
           WHERE c.dialled = $1 AND l.result = 'answered' ORDER BY l.dial_started_at""",
        hotline_number)
    gaps = [(later["dial_started_at"] - earlier["ended_at"]).total_seconds() * 1000
            for earlier, later in itertools.pairwise(legs)]
    arrival = [r["caller"] for r in sorted(records, key=lambda r: r["started_at"])]
    answered = [leg["caller"] for leg in legs]
    in_place = sum(a == b for a, b in zip(arrival, answered, strict=True))
    routers_used = {leg["router_id"].split("@")[0] for leg in legs}
    print(f"\nqueue wake-up over {len(gaps)} frees: phone freed -> head's leg started "
          f"p50 {percentile(gaps, 0.5):.0f} ms, p99 {percentile(gaps, 0.99):.0f} ms, "
          f"max {max(gaps):.0f} ms; answer order = arrival order for {in_place} of "
          f"{len(answered)} callers (routers {sorted(routers_used)})", file=sys.stderr)
    assert len(legs) == waiters + 1  # one answered leg each: no waiter rang twice
    assert answered == arrival
    assert await peak_calls_per_phone(db, hotline_number) == 1
    await nothing_left_open(db, hotline_number)

"""Routers killed with SIGKILL: bridged calls stay up and are adopted."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import Any

import pytest

from tests.chaos.support import nothing_left_open, peak_calls_per_phone, talked_in_full
from tests.conftest import PhoneFactory, RouterFactory, add_hotline, dialplan_global, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab

pytestmark = [pytest.mark.lab, pytest.mark.chaos]


async def test_a_restarted_router_adopts_the_20_calls_its_killed_run_bridged(
        db: Any, lab: AsteriskLab, routers: RouterFactory, phones: PhoneFactory,
        hotline_number: str) -> None:
    calls, hold_ms = 20, 9000
    bound = [phones(answer_after_ms=200) for _ in range(calls)]
    phone_ids = list((await add_hotline(db, hotline_number, bound, "round_robin")).values())
    first = routers("hotline-router-kill")

    async def caller(n: int) -> sipp.CallResult:
        await asyncio.sleep(n * 0.05)
        return await sipp.call(lab.sip_address, hotline_number, caller=f"1320000{n:04d}",
                               hold_ms=hold_ms)

    with dialplan_global(lab, "ROUTER_APPS", "^hotline-router-kill$"):
        placed = asyncio.ensure_future(asyncio.gather(*(caller(n) for n in range(calls))))
        bridged, deadline = 0, time.monotonic() + 6  # each call lasts 9 s: kill while all are up
        while bridged < calls and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            bridged = await db.fetchval(
                "SELECT count(*) FROM calls WHERE dialled = $1 AND answered_at IS NOT NULL",
                hotline_number)
        first.stop(signal.SIGKILL)
        await asyncio.sleep(1.5)  # nobody watches the calls now
        routers("hotline-router-kill")  # the same router, restarted
        seen = await placed
        records = await wait_for_call(db, hotline_number, count=calls)

    dropped = [n for n, s in enumerate(seen) if not talked_in_full(s, hold_ms)]
    off = max(abs(r["billable_ms"] / 1000 - s.talk_seconds)
              for r, s in zip(sorted(records, key=lambda r: r["caller"]), seen, strict=True))
    print(f"\nrouter SIGKILL: {bridged} bridged calls at the kill, dropped {len(dropped)}, "
          f"records {len(records)}, largest billing difference {off:.3f} s", file=sys.stderr)

    assert bridged == calls
    assert dropped == []
    assert len(records) == calls
    assert len({r["caller"] for r in records}) == calls
    assert all(r["outcome"] == "answered" and r["reconciled_at"] is None for r in records)
    assert off < 0.5  # they ended after the adoption: billed exactly
    assert {r["answered_phone_id"] for r in records} == set(phone_ids)
    assert await peak_calls_per_phone(db, hotline_number) == 1
    await nothing_left_open(db, hotline_number)


async def test_a_phone_that_answers_while_the_router_is_dead_is_bridged_on_restart(
        db: Any, lab: AsteriskLab, routers: RouterFactory, phones: PhoneFactory,
        hotline_number: str) -> None:
    calls, answer_ms, hold_ms = 6, 3000, 3000
    bound = [phones(answer_after_ms=answer_ms) for _ in range(calls)]
    phone_ids = list((await add_hotline(db, hotline_number, bound, "round_robin",
                                        ring_timeout_s=15)).values())
    first = routers("hotline-router-ringkill")

    async def caller(n: int) -> sipp.CallResult:
        await asyncio.sleep(n * 0.05)
        return await sipp.call(lab.sip_address, hotline_number, caller=f"1330000{n:04d}",
                               hold_ms=hold_ms)

    with dialplan_global(lab, "ROUTER_APPS", "^hotline-router-ringkill$"):
        placed = asyncio.ensure_future(asyncio.gather(*(caller(n) for n in range(calls))))
        ringing, deadline = 0, time.monotonic() + 2.5  # every phone rings before it answers
        while ringing < calls and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            ringing = await db.fetchval(
                """SELECT count(*) FROM call_legs l JOIN calls c ON c.id = l.call_id
                   WHERE c.dialled = $1""", hotline_number)
        first.stop(signal.SIGKILL)
        await asyncio.sleep(answer_ms / 1000 + 0.5)  # each phone answers while nobody watches
        routers("hotline-router-ringkill")  # the same router, restarted
        ready_at = time.time()
        seen = await placed
        records = await wait_for_call(db, hotline_number, count=calls)

    rung = {phone_id: phone.results() for phone, phone_id in zip(bound, phone_ids, strict=True)}
    # What each phone saw of the call it took last (its sipp log: answer to end).
    phone_view = {phone_id: sipp._result_from_row("", rows[-1], "")
                  for phone_id, rows in rung.items() if rows}
    waited_after_restart = [s.t_answer - ready_at for s in seen if s.t_answer is not None]
    # Billing starts at the caller's answer (one billable time, Asterisk's):
    # measured against what each caller's sipp saw from its answer to its end.
    caller_view = {f"1330000{n:04d}": s for n, s in enumerate(seen)}
    off = max(abs(r["billable_ms"] / 1000 - caller_view[r["caller"]].talk_seconds)
              if r["caller"] in caller_view else float("inf") for r in records)
    # The phone's own answer is Asterisk's (its CDR), as its sipp saw it.
    answer_off = max(abs(r["answered_at"].timestamp() - (phone_view[r["answered_phone_id"]]
                                                          .t_answer or float("inf")))
                     if r["answered_phone_id"] in phone_view else float("inf")
                     for r in records)
    legs = await db.fetch(
        """SELECT l.result, l.answered_at FROM call_legs l JOIN calls c ON c.id = l.call_id
           WHERE c.dialled = $1""", hotline_number)
    print(f"\nrouter SIGKILL while {ringing} phones rang: {calls} calls offered, "
          f"records {len(records)}, answered {sum(r['outcome'] == 'answered' for r in records)}, "
          f"legs {[leg['result'] for leg in legs]}, callers answered at most "
          f"{max(waited_after_restart, default=-1):.2f} s after the restart, "
          f"largest billing difference {off:.3f} s (callers' view), phones' answers "
          f"recorded within {answer_off:.3f} s, "
          f"phones rung twice {sum(len(rows) > 1 for rows in rung.values())}", file=sys.stderr)

    assert ringing == calls
    assert all(len(rows) == 1 for rows in rung.values())  # never hung up on and rung again
    assert [s.result for s in seen] == ["answered"] * calls
    assert all(talked_in_full(s, hold_ms) for s in seen)
    assert len(records) == calls
    assert all(r["outcome"] == "answered" for r in records)
    assert sorted(leg["result"] for leg in legs) == ["answered"] * calls  # one leg each
    assert all(leg["answered_at"] is not None for leg in legs)
    # Bridged with the phone that was up, not rung afresh (a new ring takes 3 s).
    assert max(waited_after_restart) < 2.0
    assert off < 0.5  # billed from the caller's answer, as Asterisk's CDR has it
    assert answer_off < 0.5  # the phone's answer from Asterisk's CDR, not the restart
    assert await peak_calls_per_phone(db, hotline_number) == 1
    await nothing_left_open(db, hotline_number)

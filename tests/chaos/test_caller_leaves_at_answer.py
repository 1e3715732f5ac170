"""Callers who hang up at the very moment a phone answers (jittered races).

Whichever comes first, the record agrees with itself: an abandoned call whose
phone answered keeps that answer time and bills nothing, and a phone counts in
``calls_today`` only the calls it talked in (``fewest_calls`` and
``least_talk_time`` read those).
"""

from __future__ import annotations

import asyncio
import random
import sys
from typing import Any

import pytest

from tests.chaos.support import inconsistent_records, nothing_left_open
from tests.conftest import PhoneFactory, add_hotline, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess

pytestmark = [pytest.mark.lab, pytest.mark.chaos]

CALLS, EVERY_S, ANSWER_MS, HOLD_MS = 30, 0.4, 600, 1000


async def test_a_caller_gone_as_the_phone_answers_leaves_a_consistent_record(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    bound = [phones(answer_after_ms=ANSWER_MS) for _ in range(3)]
    phone_ids = list((await add_hotline(db, hotline_number, bound, "round_robin")).values())
    rng = random.Random(13)
    # The caller's wait restarts at its ringback, which comes some 20 ms before the
    # phone is dialled (measured in the lab): cancels land around the phone's answer.
    cancels = [ANSWER_MS + 20 + rng.randint(-15, 15) for _ in range(CALLS)]

    async def caller(n: int) -> sipp.CallResult:
        await asyncio.sleep(n * EVERY_S)
        return await sipp.call(lab.sip_address, hotline_number, caller=f"1350000{n:04d}",
                               hold_ms=HOLD_MS, cancel_after_ms=cancels[n], timeout_s=30)

    seen = {s.caller: s for s in await asyncio.gather(*(caller(n) for n in range(CALLS)))}
    records = await wait_for_call(db, hotline_number, count=CALLS)
    await asyncio.sleep(1.0)  # releases trail the records by a round trip

    wrong = await inconsistent_records(db, hotline_number)
    legs = await db.fetch(
        """SELECT c.outcome, l.result, l.answered_at FROM call_legs l
           JOIN calls c ON c.id = l.call_id WHERE c.dialled = $1""", hotline_number)
    answered_then_left = sum(1 for leg in legs if leg["outcome"] == "abandoned"
                             and leg["answered_at"] is not None)
    counted = await db.fetchval(
        "SELECT coalesce(sum(calls_today), 0) FROM phone_state WHERE phone_id = ANY($1)",
        phone_ids)
    answered = [r for r in records if r["outcome"] == "answered"]
    billing_off = max((abs(r["billable_ms"] / 1000 - seen[r["caller"]].talk_seconds)
                       for r in answered if seen[r["caller"]].result == "answered"),
                      default=0.0)
    outcomes: dict[str, int] = {}
    for record in records:
        outcomes[record["outcome"]] = outcomes.get(record["outcome"], 0) + 1
    print(f"\ncallers leaving at the answer: {CALLS} calls offered, {len(records)} records, "
          f"{len(wrong)} inconsistent, outcomes {outcomes}, {answered_then_left} abandoned "
          f"after their phone answered, calls counted {counted} for {len(answered)} answered, "
          f"largest billing difference {billing_off:.3f} s", file=sys.stderr)

    assert wrong == []
    assert len(records) == CALLS
    assert sorted(r["caller"] for r in records) == sorted(seen)
    assert counted == len(answered)
    assert billing_off < 0.5
    await nothing_left_open(db, hotline_number)

"""A phone that answers and is gone a millisecond later, beside one that
answers late (tests/e2e/cases/, field cases).

The vanishing phone is a failed ring attempt that keeps its answer time; the
caller is never answered for it; under simultaneous ring the late phone keeps
ringing, under sequential it rings next; it gets the call, billed within 0.5 s
of what the caller saw, and nothing is left open.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.support import inconsistent_records, nothing_left_open
from tests.conftest import PhoneFactory, add_hotline, legs_of, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess

pytestmark = pytest.mark.lab

CASES = Path(__file__).parent / "cases"
HOLD_MS = 3000


@pytest.mark.parametrize("strategy", ["simultaneous", "sequential"])
async def test_a_phone_gone_at_its_answer_is_a_failed_attempt_and_the_late_one_talks(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str, strategy: str) -> None:
    vanishing = phones(scenario_file=CASES / "phone-answers-then-bye.xml")
    late = phones(scenario_file=CASES / "phone-answers-late.xml")
    await add_hotline(db, hotline_number, [vanishing, late], strategy)

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=HOLD_MS, timeout_s=30)
    (call,) = await wait_for_call(db, hotline_number)
    legs = {leg["dial_string"]: leg for leg in await legs_of(db, call["id"])}
    gone, talked = legs[vanishing.dial_string], legs[late.dial_string]
    billable_s = call["billable_ms"] / 1000
    print(f"\nfield phones ({strategy}): vanishing phone {gone['result']} "
          f"(answered, gone {(gone['ended_at'] - gone['answered_at']).total_seconds():.3f} s "
          f"later), late phone {talked['result']}; billable {billable_s:.3f} s vs the "
          f"caller's {seen.talk_seconds:.3f} s", file=sys.stderr)

    assert seen.result == "answered", seen.errors
    assert (call["outcome"], call["answered_dial_string"]) == ("answered", late.dial_string)
    assert (gone["result"], talked["result"]) == ("failed", "answered")
    assert gone["answered_at"] is not None  # its answer is kept, and billed to nobody
    # The caller was answered once, for the phone that talked: its whole hold.
    assert call["caller_answered_at"] >= talked["answered_at"]
    assert abs(billable_s - seen.talk_seconds) < 0.5
    assert seen.talk_seconds > HOLD_MS / 1000 - 0.5
    if strategy == "sequential":  # the next wave rang only after the first phone failed
        assert talked["dial_started_at"] >= gone["ended_at"]
    else:  # both rang at once, and the late one kept ringing
        assert talked["dial_started_at"] < gone["ended_at"]
    assert await inconsistent_records(db, hotline_number) == []
    await nothing_left_open(db, hotline_number)

"""Phones that do anything at random: busy, ring on, answer and hang up at once,
answer late and talk (tests/e2e/cases/randphone.xml, a field case).

sipp seeds its dice with the second it started in, so phones started together
roll the same numbers: each INVITE, all of them do the same thing. Here each
phone rolls its own dice instead (the test's, from a seed it prints), as
phones in the field do: one rings on while another answers and hangs up.

Every call leaves one record whose outcome agrees with its legs, a phone that
answered keeps its answer time even when it was gone before the bridge, no
claim is left and no phone carries more calls than its capacity; a call is
billed only for a phone that talked, within 0.5 s of what the caller saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.support import inconsistent_records, nothing_left_open
from tests.conftest import PhoneFactory, add_hotline, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess

pytestmark = [pytest.mark.lab, pytest.mark.chaos]

RANDPHONE = Path(__file__).parent.parent / "e2e" / "cases" / "randphone.xml"
CALLS, EVERY_S, HOLD_MS, PHONES = 100, 0.6, 2000, 3
# A phone that rings on would hold its slot for a lone phone's whole total timeout.
TOTAL_TIMEOUT_S = 6
# The field case's own dice, and what rolls them here: one number per INVITE
# from the phone's injection file.
SIPP_DICE = '<sample assign_to="r" distribution="uniform" min="0" max="100"/>'
OUR_DICE = '<assignstr assign_to="rolled" value="[field0]"/>' \
           '<todouble assign_to="r" variable="rolled"/>'


def phone_with_own_dice(directory: Path) -> Path:
    """The field case, its dice rolled from the phone's injection file."""
    text = RANDPHONE.read_text()
    assert text.count(SIPP_DICE) == 1, "the field case no longer rolls its dice this way"
    scenario = directory / "randphone-own-dice.xml"
    scenario.write_text(text.replace(SIPP_DICE, OUR_DICE))
    return scenario


def dice(rng: random.Random, rolls: int = 1000) -> tuple[str, ...]:
    """``rolls`` numbers uniform in [0, 100), as sipp's sample would give."""
    return tuple(f"{rng.uniform(0, 100):.6f}" for _ in range(rolls))


async def over_capacity_samples(db: Any, dialled: str, stop: asyncio.Event,
                                samples: list[int]) -> None:
    """Every 0.1 s: how many phones of ``dialled`` hold more claims than their capacity."""
    while not stop.is_set():
        over = await db.fetchval(
            """SELECT count(*) FROM (
                   SELECT p.id FROM phones p
                   JOIN bound_phones b ON b.phone_id = p.id
                   JOIN hotlines h ON h.id = b.hotline_id
                   LEFT JOIN phone_claims k ON k.phone_id = p.id
                   JOIN phone_state s ON s.phone_id = p.id
                   WHERE h.number = $1
                   GROUP BY p.id, p.capacity, s.active_calls
                   HAVING count(k.leg_id) > p.capacity OR s.active_calls > p.capacity) o""",
            dialled)
        samples.append(over)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


@pytest.mark.parametrize("strategy", ["simultaneous", "sequential"])
async def test_phones_that_answer_and_vanish_leave_consistent_records(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str, strategy: str, tmp_path: Path) -> None:
    seed = random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    scenario = phone_with_own_dice(tmp_path)
    bound = [phones(scenario_file=scenario, inject=dice(rng)) for _ in range(PHONES)]
    phone_ids = list((await add_hotline(db, hotline_number, bound, strategy)).values())
    await db.execute("UPDATE hotlines SET total_timeout_s = $2 WHERE number = $1",
                     hotline_number, TOTAL_TIMEOUT_S)

    async def caller(n: int) -> sipp.CallResult:
        await asyncio.sleep(n * EVERY_S)
        return await sipp.call(lab.sip_address, hotline_number, caller=f"1390000{n:04d}",
                               hold_ms=HOLD_MS, timeout_s=60)

    samples: list[int] = []
    stop = asyncio.Event()
    sampler = asyncio.ensure_future(over_capacity_samples(db, hotline_number, stop, samples))
    try:
        seen = {s.caller: s for s in await asyncio.gather(*(caller(n) for n in range(CALLS)))}
        # A sipp caller that could not even start (a port taken meanwhile on this
        # shared machine) placed no call: it is counted apart, never hidden.
        placed = {c: s for c, s in seen.items() if s.result != "error"}
        records = await wait_for_call(db, hotline_number, count=len(placed))
        await asyncio.sleep(1.0)  # the last releases trail the records by a round trip
    finally:
        stop.set()
        await sampler

    wrong = await inconsistent_records(db, hotline_number)
    by_caller: dict[str, list[Any]] = {}
    for record in records:
        by_caller.setdefault(record["caller"], []).append(record)
    # A phone can leave in the very instant its caller is answered (after it was
    # seen in the bridge): the caller waits on for another phone, and its clock
    # runs from that answer while the bill starts at the phone that talks.
    left_at_answer = {str(line["call_id"]) for line in router_log(router)
                      if line.get("event") == "phone left as the caller was answered"}
    plain = [r for r in records if str(r["id"]) not in left_at_answer]
    billing_off = [abs(r["billable_ms"] / 1000 - seen[r["caller"]].talk_seconds)
                   for r in plain]
    overbilled = [r["caller"] for r in records if str(r["id"]) in left_at_answer
                  and r["billable_ms"] / 1000 > seen[r["caller"]].talk_seconds + 0.5]
    # The caller got a 200 OK only for a call recorded answered (a phone talked).
    answered_for_nobody = [r["caller"] for r in plain if r["outcome"] != "answered"
                           and seen[r["caller"]].result == "answered"]
    vanished = await db.fetchval(
        """SELECT count(*) FROM call_legs l JOIN calls c ON c.id = l.call_id
           WHERE c.dialled = $1 AND l.result = 'failed' AND l.answered_at IS NOT NULL""",
        hotline_number)
    counted = await db.fetchval(
        "SELECT coalesce(sum(calls_today), 0) FROM phone_state WHERE phone_id = ANY($1)",
        phone_ids)
    outcomes: dict[str, int] = {}
    for record in records:
        outcomes[record["outcome"]] = outcomes.get(record["outcome"], 0) + 1
    not_placed = {c: s.errors.strip().splitlines()[-1:] for c, s in seen.items()
                  if c not in placed}
    print(f"\nrandom phones ({strategy}, dice seed {seed}): {CALLS} calls offered, "
          f"{len(placed)} placed "
          f"(sipp could not place {not_placed}), {len(records)} records "
          f"written ({len(by_caller)} callers), {len(wrong)} inconsistent, outcomes {outcomes}, "
          f"{vanished} phones answered and gone before the bridge, "
          f"{len(left_at_answer)} left as the caller was answered, "
          f"{len(answered_for_nobody)} other callers answered for nobody, "
          f"{sum(1 for s in samples if s)} of {len(samples)} samples over capacity, "
          f"largest billing difference {max(billing_off):.3f} s, calls counted {counted}",
          file=sys.stderr)

    assert wrong == []
    assert len(not_placed) <= CALLS // 20
    assert set(placed) <= set(by_caller) <= set(seen)
    assert all(len(r) == 1 for r in by_caller.values())
    assert max(billing_off) < 0.5
    assert overbilled == []
    assert answered_for_nobody == []
    assert samples
    assert not any(samples)
    assert counted == outcomes.get("answered", 0)  # a phone counts only calls it talked in
    assert vanished > 0  # the case this test is about did happen
    await nothing_left_open(db, hotline_number)


def router_log(router: RouterProcess) -> list[dict[str, Any]]:
    """The router's log lines (JSON), as far as they parse."""
    lines = []
    for text in router.log_path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            lines.append(json.loads(text))
    return [line for line in lines if isinstance(line, dict)]

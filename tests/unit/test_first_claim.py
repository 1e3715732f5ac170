"""A new call decided in one statement (router/call/first_claim.py), against the
scripted Asterisk and the in-memory store (its ``claim_in_order`` keeps the
rules of migrations/0024_claim_in_order.sql)."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.directory import Overflow
from router.plan import Plan, Sounds
from router.records import kinds
from tests.unit.call_harness import CallLab, hotline
from tests.unit.scripted_ari import Phone

pytestmark = pytest.mark.looptime

RINGS = Phone(answer_after_s=None)
DIALS = ["PJSIP/a", "PJSIP/b", "PJSIP/c"]


async def test_a_hunt_claims_in_one_statement_then_one_per_wave(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(DIALS, ring_timeout_s=5)],
                  {"PJSIP/a": RINGS, "PJSIP/b": Phone(answer_after_s=1.0, talk_s=2.0)})
    call = lab.place_call()
    await lab.all_ended()
    row = lab.row(call)
    assert (row.outcome, row.results(), row.answered_phone_id) == (
        "answered", ["no-answer", "answered"], 2)
    assert lab.store.in_order_calls == 2  # the call's decision, then the next wave's
    assert lab.store.most_calls == {1: 1, 2: 1}  # c never claimed
    assert lab.claims_held() == 0


async def test_a_busy_phone_is_passed_over_in_the_same_statement(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(DIALS)], {"PJSIP/a": RINGS,
                                               "PJSIP/b": Phone(answer_after_s=1.0, talk_s=2.0)})
    first = lab.place_call()  # takes a, which rings on
    second = lab.place_call()
    lab.ari.later(10.0, lambda: lab.ari.hang_up(first.caller.id))
    await lab.all_ended()
    assert lab.row(second).answered_phone_id == 2
    assert [r.phone_id for r in lab.store.written if isinstance(r, kinds.LegStarted)
            and r.call_id == second.id] == [2]
    assert lab.store.in_order_calls == 2
    assert lab.claims_held() == 0


async def test_round_robin_turns_come_with_the_claim(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(DIALS, strategy="round_robin")],
                  {dial: Phone(answer_after_s=0.5, talk_s=1.0) for dial in DIALS})
    answered = []
    for _ in range(4):
        call = lab.place_call()
        await lab.all_ended()
        answered.append(lab.row(call).answered_phone_id)
    assert answered == [1, 2, 3, 1]
    assert lab.store.in_order_calls == 4
    assert call.lookup is not None
    assert call.lookup.call_number == 3


async def test_simultaneous_claims_every_idle_phone_at_once(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(DIALS, strategy="simultaneous", max_attempts=2)],
                  {"PJSIP/a": RINGS, "PJSIP/b": Phone(answer_after_s=1.0, talk_s=2.0)})
    call = lab.place_call()
    await lab.all_ended()
    row = lab.row(call)
    assert row.results() == ["cancelled", "answered"]  # at most max_attempts phones
    assert lab.store.in_order_calls == 1
    assert lab.claims_held() == 0


async def test_a_lone_idle_phone_rings_for_the_whole_call(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(["PJSIP/a"], ring_timeout_s=5, total_timeout_s=30)],
                  {"PJSIP/a": RINGS})
    call = lab.place_call()
    await lab.all_ended()
    (leg,) = lab.row(call).legs.values()
    assert leg["result"] == "no-answer"
    assert (leg["ended_at"] - lab.row(call).started_at).total_seconds() == pytest.approx(30, abs=1)


@pytest.mark.parametrize("unlike", [
    {"overflow": Overflow.QUEUE},
    {"plan": Plan(sounds=Sounds(greeting=("hello-world",)))},
    {"strategy": "longest_idle"},
])
async def test_a_call_that_is_not_straight_to_phones_looks_the_hotline_up(
        tmp_path: Path, unlike: dict[str, object]) -> None:
    lab = CallLab(tmp_path, [hotline(DIALS, **unlike)],  # type: ignore[arg-type]
                  {"PJSIP/a": Phone(answer_after_s=1.0, talk_s=2.0)})
    call = lab.place_call()
    await lab.all_ended()
    assert lab.row(call).answered_phone_id == 1
    assert lab.store.in_order_calls == 0
    assert lab.claims_held() == 0


async def test_without_the_database_the_call_claims_phone_by_phone(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(DIALS, strategy="simultaneous")],
                  {"PJSIP/a": Phone(answer_after_s=1.0, talk_s=2.0), "PJSIP/b": RINGS,
                   "PJSIP/c": RINGS})
    lab.store.go_down()
    call = lab.place_call()
    await lab.all_ended()
    assert lab.store.in_order_calls == 0
    assert [r.outcome for r in lab.store.spooled() if isinstance(r, kinds.CallEnded)
            and r.call_id == call.id] == [kinds.Outcome.ANSWERED]
    assert lab.claims_held() == 0


async def test_a_phone_last_seen_paused_is_skipped_when_the_database_goes_away_mid_hunt(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(DIALS, ring_timeout_s=5)],
                  {"PJSIP/a": RINGS, "PJSIP/b": Phone(answer_after_s=1.0, talk_s=2.0),
                   "PJSIP/c": Phone(answer_after_s=1.0, talk_s=2.0)})
    lab.store.presence_seen[2] = "paused"  # as the last statement told of b
    call = lab.place_call()
    lab.ari.later(2.0, lab.store.go_down)  # a rings on; its next wave is claimed locally
    await lab.all_ended()
    assert [r.phone_id for r in [*lab.store.written, *lab.store.spooled()]
            if isinstance(r, kinds.LegStarted) and r.call_id == call.id] == [1, 3]
    # a's claim, taken by the statement, goes back when the database does (spooled).
    assert lab.store.local == {}
    assert list(lab.store.claims.values()) == [1]
    assert [r.leg_id for r in lab.store.spooled() if isinstance(r, kinds.ClaimReleased)] == [
        leg for leg, phone in lab.store.claims.items() if phone == 1]

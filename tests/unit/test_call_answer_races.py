"""A phone's answer is not a call until the phone is in the bridge: each ordering
of "a phone answers", "that phone hangs up" and "the caller hangs up".

A phone that answers and is gone before the bridge is a failed ring attempt
that keeps its answer time; the hunt goes on; the caller is answered only once
a phone is known to be in the bridge; a phone that never talked is neither
billed nor counted in its stats.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from router.call.states import State
from tests.unit.call_harness import CallLab, hotline
from tests.unit.scripted_ari import T0, Phone

pytestmark = pytest.mark.looptime

RINGS = Phone(answer_after_s=None)  # rings until hung up on
GONE_AT_ONCE = Phone(answer_after_s=1.0, talk_s=0)  # 200 OK, then BYE in the same instant


def answers_before(lab: CallLab, request: str, of: str) -> bool:
    """The caller was answered before the first request ``request`` naming channel ``of``."""
    names = [(r.name, r.args[0] if r.args else None, r.kwargs) for r in lab.ari.requests]
    answer = next(i for i, (name, _, _) in enumerate(names) if name == "answer")
    target = next(i for i, (name, _, kwargs) in enumerate(names)
                  if name == request and of in kwargs.get("channels", []))
    return answer < target


async def test_simultaneous_a_phone_gone_at_its_answer_leaves_the_others_ringing(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(strategy="simultaneous")],
                  {"PJSIP/a": GONE_AT_ONCE, "PJSIP/b": Phone(answer_after_s=3.0, talk_s=5.0)})
    call = lab.place_call()
    await lab.all_ended()

    row = lab.row(call)
    gone, good = row.legs.values()
    assert (row.outcome, row.answered_phone_id) == ("answered", 2)
    assert (gone["result"], gone["answered_at"]) == ("failed", T0 + timedelta(seconds=1))
    assert (good["result"], good["answered_at"]) == ("answered", T0 + timedelta(seconds=3))
    assert row.answered_at == row.caller_answered_at == T0 + timedelta(seconds=3)
    assert row.billable_ms == 5_000
    # Phone b was never hung up on for a's answer, and the caller was answered
    # once, after b was in the bridge.
    assert [r.args[0] for r in lab.ari.made("hangup")] == [call.caller.id]
    assert lab.ari.names().count("answer") == 1
    good_channel = next(leg.channel_id for leg in call.legs if leg.phone_id == 2)
    assert not answers_before(lab, "add_to_bridge", good_channel)
    # Only the phone that talked counts a call today.
    assert lab.talk_counted() == [None, 5_000]
    assert lab.claims_held() == 0


async def test_sequential_a_phone_gone_at_its_answer_hunts_on_to_the_next(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()],
                  {"PJSIP/a": GONE_AT_ONCE, "PJSIP/b": Phone(answer_after_s=2.0, talk_s=4.0)})
    call = lab.place_call()
    await lab.all_ended()

    row = lab.row(call)
    assert (row.outcome, row.results(), row.answered_phone_id) == (
        "answered", ["failed", "answered"], 2)
    first, second = row.legs.values()
    assert first["answered_at"] == T0 + timedelta(seconds=1)
    assert second["answered_at"] == T0 + timedelta(seconds=3)  # rung after a left, at 1 s
    assert row.caller_answered_at == T0 + timedelta(seconds=3)
    assert row.billable_ms == 4_000
    assert lab.talk_counted() == [None, 4_000]
    assert lab.claims_held() == 0


async def test_the_only_phone_gone_at_its_answer_is_no_call_and_no_bill(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(["PJSIP/a"])], {"PJSIP/a": GONE_AT_ONCE})
    call = lab.place_call()
    await lab.all_ended()

    row = lab.row(call)
    (leg,) = row.legs.values()
    assert (leg["result"], leg["answered_at"]) == ("failed", T0 + timedelta(seconds=1))
    assert row.outcome == "failed"
    assert (row.answered_at, row.caller_answered_at, row.billable_ms) == (None, None, 0)
    assert "answer" not in lab.ari.names()  # the caller got no 200 OK for it
    assert lab.talk_counted() == [None]
    assert lab.claims_held() == 0


async def test_a_phone_that_leaves_as_it_enters_the_bridge_is_a_failed_attempt(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()],
                  {"PJSIP/a": Phone(answer_after_s=1.0),
                   "PJSIP/b": Phone(answer_after_s=1.0, talk_s=3.0)})
    call = lab.place_call()
    # Phone a is put in the bridge, and hangs up before the caller is answered.
    lab.ari.when("add_to_bridge", lambda: lab.ari.hang_up(lab.ari.answered[0]))
    await lab.all_ended()

    row = lab.row(call)
    assert (row.outcome, row.results(), row.answered_phone_id) == (
        "answered", ["failed", "answered"], 2)
    assert next(iter(row.legs.values()))["answered_at"] == T0 + timedelta(seconds=1)
    assert row.caller_answered_at == row.answered_at == T0 + timedelta(seconds=2)
    assert row.billable_ms == 3_000
    first = next(iter(call.legs)).channel_id
    assert answers_before(lab, "add_to_bridge", call.caller.id)
    assert not answers_before(lab, "add_to_bridge", first)
    assert lab.talk_counted() == [None, 3_000]


async def test_a_phone_that_leaves_as_the_caller_is_answered_is_not_billed(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()],
                  {"PJSIP/a": Phone(answer_after_s=1.0),
                   "PJSIP/b": Phone(answer_after_s=2.0, talk_s=3.0)})
    call = lab.place_call()
    # The caller is answered for phone a, which hangs up in that instant.
    lab.ari.when("answer", lambda: lab.ari.hang_up(lab.ari.answered[0]))
    await lab.all_ended()

    row = lab.row(call)
    assert (row.outcome, row.results(), row.answered_phone_id) == (
        "answered", ["failed", "answered"], 2)
    # Billing starts at b's answer (3 s), not at the caller's answer for a (1 s).
    assert row.answered_at == row.caller_answered_at == T0 + timedelta(seconds=3)
    assert row.billable_ms == 3_000
    assert "remove_from_bridge" in lab.ari.names()  # the caller waits outside the bridge
    assert lab.ari.names().count("ring") == 2  # and hears ringing again
    assert lab.talk_counted() == [None, 3_000]


async def test_the_caller_hangs_up_as_the_phone_answers(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=1.0)})
    call = lab.place_call()
    lab.ari.when("phone_answered", lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()

    row = lab.row(call)
    (leg,) = row.legs.values()
    assert row.outcome == "abandoned"
    assert (leg["result"], leg["answered_at"]) == ("answered", T0 + timedelta(seconds=1))
    assert (row.answered_at, row.caller_answered_at, row.billable_ms) == (None, None, 0)
    assert "answer" not in lab.ari.names()
    assert lab.talk_counted() == [None]  # the phone had no call today
    assert lab.claims_held() == 0
    assert call.state.current is State.ENDED


async def test_the_caller_hangs_up_as_the_phone_enters_the_bridge(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=1.0)})
    call = lab.place_call()
    lab.ari.when("add_to_bridge", lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()

    row = lab.row(call)
    (leg,) = row.legs.values()
    assert row.outcome == "abandoned"
    assert (leg["result"], leg["answered_at"]) == ("answered", T0 + timedelta(seconds=1))
    assert row.billable_ms == 0
    assert "answer" not in lab.ari.names()
    assert lab.talk_counted() == [None]
    assert all(not channel.up for channel in lab.ari.channels.values())
    assert not lab.ari.bridges  # the bridge made for the phone is taken down


async def test_the_caller_hangs_up_as_it_is_answered(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=1.0)})
    call = lab.place_call()
    lab.ari.when("answer", lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()

    row = lab.row(call)
    (leg,) = row.legs.values()
    assert row.outcome == "abandoned"
    assert (leg["result"], leg["answered_at"]) == ("answered", T0 + timedelta(seconds=1))
    assert row.billable_ms == 0
    assert lab.talk_counted() == [None]
    assert lab.claims_held() == 0


@pytest.mark.parametrize("strategy", ["simultaneous", "sequential"])
async def test_a_phone_that_hangs_up_just_after_it_enters_the_bridge_is_not_answered_for(
        tmp_path: Path, strategy: str) -> None:
    # Phone a answers at 1 s and hangs up 50 ms later, after it was put in the
    # bridge (tests/e2e/cases/phone-answers-then-bye.xml): within the seat guard.
    lab = CallLab(tmp_path, [hotline(strategy=strategy)],
                  {"PJSIP/a": Phone(answer_after_s=1.0, talk_s=0.05),
                   "PJSIP/b": Phone(answer_after_s=2.0, talk_s=3.0)},
                  seat_guard_s=0.2)
    call = lab.place_call()
    await lab.all_ended()

    row = lab.row(call)
    assert (row.outcome, row.results(), row.answered_phone_id) == (
        "answered", ["failed", "answered"], 2)
    assert lab.ari.names().count("answer") == 1  # the caller, once: for phone b
    assert "remove_from_bridge" not in lab.ari.names()
    assert row.caller_answered_at is not None
    assert row.answered_at is not None
    assert row.caller_answered_at >= row.answered_at  # b's answer, then the guard
    assert row.billable_ms == 3_000 - 200
    assert lab.talk_counted() == [None, 3_000]
    assert lab.claims_held() == 0

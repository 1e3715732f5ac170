"""Calls taken back after a gap: adopted bridged or ringing, and caught up after
the event websocket came back."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from router.call import Call, Reconcile
from router.call.states import State
from router.records import CallBridged, ClaimReleased, LegPurpose, LegResult
from router.records.sql import OpenLeg
from tests.unit.call_harness import NUMBER, CallLab, hotline
from tests.unit.scripted_ari import T0, Phone

pytestmark = pytest.mark.looptime


def adopted_call(lab: CallLab, legs: list[OpenLeg], channels: dict[str, str],
                 lost_at_s: float = 0.0) -> Call:
    """A call recorded by a previous run, adopted as reconciliation does."""
    caller = lab.ari.add_caller("1764468000.99", "13800138000", NUMBER)
    call = Call(lab, caller, NUMBER, started_at=T0, adopted=True)
    for channel_id in (caller.id, *(str(leg.leg_id) for leg in legs)):
        lab.registry.own(channel_id, call)
    lab.registry.start(call, call.adopt(legs, {caller.id: "Up", **channels},
                                        T0 + timedelta(seconds=lost_at_s)), "adopted")
    return call


def open_leg(phone_id: int, answered: bool) -> OpenLeg:
    return OpenLeg(leg_id=uuid4(), phone_id=phone_id, dial_string=f"PJSIP/{phone_id}", wave=1,
                   dial_started_at=T0, answered_at=T0 if answered else None, result=None,
                   purpose=LegPurpose.PHONE, claimed=True)


async def test_a_bridged_call_stays_bridged_until_a_side_hangs_up(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()])
    leg = open_leg(1, answered=True)
    lab.ari.add_channel(str(leg.leg_id), "PJSIP/1", state="Up")
    call = adopted_call(lab, [leg], {str(leg.leg_id): "Up"})
    lab.ari.later(20.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    assert call.state.current is State.ENDED
    assert call.outcome == "answered"
    assert [leg.result for leg in call.legs] == [LegResult.ANSWERED]
    assert call.ended_at == T0 + timedelta(seconds=20)
    assert [r.args[0] for r in lab.ari.made("hangup")] == [str(leg.leg_id)]
    # The leg held a claim in the database: released with the talk time.
    assert [r.talk_ms for r in lab.store.written if isinstance(r, ClaimReleased)] == [20_000]


async def test_a_ringing_call_is_hung_up_on_its_old_legs_and_routed_afresh(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=1.0, talk_s=3.0)})
    old = open_leg(2, answered=False)
    call = adopted_call(lab, [old], {str(old.leg_id): "Ring"})
    await lab.all_ended()
    old_leg, new_leg = list(call.legs)
    assert old_leg.result is LegResult.CANCELLED
    assert new_leg.result is LegResult.ANSWERED
    assert new_leg.phone_id == 1
    assert call.outcome == "answered"
    assert lab.ari.made("hangup")[0].args[0] == str(old.leg_id)


async def test_a_caller_gone_while_nobody_watched_ends_at_the_last_moment_known(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()])
    leg = open_leg(1, answered=True)
    caller = lab.ari.add_caller("1764468000.98", "13800138000", NUMBER)
    lab.ari.channels.pop(caller.id)  # the caller hung up during the gap
    call = Call(lab, caller, NUMBER, started_at=T0, adopted=True)
    lab.registry.own(caller.id, call)
    lab.registry.start(call, call.adopt([leg], {str(leg.leg_id): "Up"},
                                        T0 + timedelta(seconds=7)), "adopted")
    await lab.all_ended()
    assert call.outcome == "answered"
    assert call.reconciled
    assert call.ended_at == T0 + timedelta(seconds=7)


async def test_after_a_reconnect_a_live_call_learns_its_caller_left(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=1.0)})
    call = lab.place_call()
    lost = T0 + timedelta(seconds=5)
    # While the websocket was down the caller hung up; the router's catch-up
    # finds only the phone's channel left.
    lab.ari.later(10.0, lambda: call.deliver(Reconcile(
        {leg.channel_id: "Up" for leg in call.legs}, lost)))
    await lab.all_ended()
    row = lab.row(call)
    assert (row.outcome, row.reconciled, row.ended_at) == ("answered", True, lost)
    assert row.billable_ms == 4_000


async def test_a_phone_that_answered_while_nobody_watched_is_bridged_with_its_caller(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()])
    rang, other = open_leg(1, answered=False), open_leg(2, answered=False)
    # The router died at 1 s while both rang; phone 1 answered at 2 s, phone 2 rings on.
    lab.ari.add_channel(str(rang.leg_id), "PJSIP/1", state="Up",
                        answered_at=T0 + timedelta(seconds=2))
    lab.ari.add_channel(str(other.leg_id), "PJSIP/2", state="Ringing")
    call = adopted_call(lab, [rang, other], {str(rang.leg_id): "Up",
                                             str(other.leg_id): "Ringing"}, lost_at_s=1.0)
    lab.ari.later(20.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()

    assert call.outcome == "answered"
    assert [leg.result for leg in call.legs] == [LegResult.ANSWERED, LegResult.CANCELLED]
    answered = next(iter(call.legs))
    assert answered.answered_at == T0 + timedelta(seconds=2)  # Asterisk's, not ours
    assert call.legs.winner is answered
    # Bridged, not hung up on: the phone first, then the answered caller.
    assert [r.args[0] for r in lab.ari.made("hangup")] == [str(other.leg_id), str(rang.leg_id)]
    assert [r["channels"] for r in lab.ari.made("add_to_bridge")] == [[str(rang.leg_id)],
                                                                     [call.caller.id]]
    assert lab.talk_counted() == [None, 18_000]
    written = [r for r in lab.store.written if isinstance(r, CallBridged)]
    assert [(r.answered_at, r.phone_id) for r in written] == [(T0 + timedelta(seconds=2), 1)]
    assert call.state.current is State.ENDED


async def test_a_phone_up_after_the_gap_whose_caller_left_is_not_bridged(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()])
    leg = open_leg(1, answered=False)
    lab.ari.add_channel(str(leg.leg_id), "PJSIP/1", state="Up",
                        answered_at=T0 + timedelta(seconds=2))
    caller = lab.ari.add_caller("1764468000.97", "13800138000", NUMBER)
    lab.ari.channels.pop(caller.id)  # the caller hung up during the gap
    call = Call(lab, caller, NUMBER, started_at=T0, adopted=True)
    lab.registry.own(caller.id, call)
    lab.registry.start(call, call.adopt([leg], {str(leg.leg_id): "Up"},
                                        T0 + timedelta(seconds=1)), "adopted")
    await lab.all_ended()
    assert call.outcome == "abandoned"
    assert "add_to_bridge" not in lab.ari.names()
    assert lab.talk_counted() == [None]

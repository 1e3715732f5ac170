"""Transfers by the agent (SIP REFER carried out by the router), against a scripted Asterisk.

The phone talking with the caller sends a REFER; Asterisk, with ARI transfer
handling, raises ChannelTransfer and the call carries it out
(router/call/transfer.py). Each test checks the one record (legs, results,
purposes), the billing (the caller's answer to the caller's end), the claims
and what the transferring phone was told (NOTIFY 200 / 503 / 603).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from router.ari import events as ev
from router.call.states import State
from router.plan import Group, Member, Plan
from router.records import kinds
from router.transfer_rules import TransferRules
from tests.unit.call_harness import CallLab, hotline
from tests.unit.scripted_ari import T0, Phone

pytestmark = pytest.mark.looptime

AGENT = "PJSIP/phones/sip:8001@127.0.0.1:5071"
OTHER = "PJSIP/phones/sip:8002@127.0.0.1:5072"
RINGS = Phone(answer_after_s=None)


def lab_with(tmp_path: Path, other: Phone, *, agent: Phone | None = None,
             rules: TransferRules | None = None, plan: Plan | None = None,
             ring_timeout_s: int = 15, total_timeout_s: int = 20) -> CallLab:
    lab = CallLab(tmp_path, [hotline((AGENT, OTHER), plan=plan, ring_timeout_s=ring_timeout_s,
                                     total_timeout_s=total_timeout_s)],
                  {AGENT: agent or Phone(answer_after_s=1.0), OTHER: other})
    if rules is not None:
        lab.store.transfers[1] = rules
    return lab


def agent_channel(lab: CallLab) -> str:
    """The first phone's channel: the first to answer."""
    first: str = lab.ari.answered[0]
    return first


def transfer_at(lab: CallLab, at_s: float, destination: str,
                replaces: str | None = None) -> None:
    lab.ari.later(at_s, lambda: lab.ari.refer(agent_channel(lab), destination, replaces))


def legs(lab: CallLab, call: object) -> list[dict[str, object]]:
    return list(lab.row(call).legs.values())  # type: ignore[arg-type]


async def test_a_blind_transfer_to_another_phone_by_its_extension(tmp_path: Path) -> None:
    lab = lab_with(tmp_path, Phone(answer_after_s=2.0))
    call = lab.place_call()
    transfer_at(lab, 5.0, "8002")  # the SIP user part of the other phone
    lab.ari.later(30.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()

    row = lab.row(call)
    first, second = legs(lab, call)
    assert row.outcome == "answered"
    assert (first["phone_id"], first["purpose"], first["result"]) == (1, "phone", "transferred")
    assert (second["phone_id"], second["purpose"], second["result"]) == (2, "transfer",
                                                                         "answered")
    assert second["answered_at"] == T0 + timedelta(seconds=7)
    # One call: billed from the caller's answer (the first phone's) to the caller's end.
    assert row.answered_phone_id == 1
    assert row.caller_answered_at == T0 + timedelta(seconds=1)
    assert row.ended_at == T0 + timedelta(seconds=30)
    assert row.billable_ms == 29_000
    # The agent heard the transfer succeed, then was hung up; the caller talks
    # with the second phone in the call's bridge.
    agent = agent_channel(lab)
    assert lab.ari.progress_told(agent) == ["channel_answered"]
    assert agent in [r.args[0] for r in lab.ari.made("hangup")]
    assert lab.ari.made("add_to_bridge")[-1]["channels"] == [call.caller.id]
    assert first["ended_at"] == T0 + timedelta(seconds=7)
    # Claims: each phone held one slot at most, all released; the agent's talk
    # counted to the transfer, the second phone's to the end.
    assert lab.claims_held() == 0
    assert max(lab.store.most_calls.values()) == 1
    assert lab.talk_counted() == [6_000, 23_000]
    assert call.state.current is State.ENDED


async def test_a_blind_transfer_by_label_the_agent_hanging_up_at_once(tmp_path: Path) -> None:
    """Many phones send BYE right after the REFER's 202: the caller waits for the target."""
    lab = lab_with(tmp_path, Phone(answer_after_s=3.0), rules=TransferRules(labels={"sales": 2}))
    call = lab.place_call()
    transfer_at(lab, 4.0, "Sales")
    lab.ari.later(4.5, lambda: lab.ari.hang_up(agent_channel(lab)))
    lab.ari.later(20.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()

    row = lab.row(call)
    first, second = legs(lab, call)
    assert (first["result"], second["result"], second["purpose"]) == (
        "transferred", "answered", "transfer")
    assert first["ended_at"] == T0 + timedelta(seconds=4.5)  # its claim released as it left
    assert lab.talk_counted()[0] == 3_500
    assert (row.outcome, row.ended_at) == ("answered", T0 + timedelta(seconds=20))
    assert row.billable_ms == 19_000
    assert lab.claims_held() == 0


async def test_the_second_phone_hanging_up_ends_the_call(tmp_path: Path) -> None:
    lab = lab_with(tmp_path, Phone(answer_after_s=1.0, talk_s=10.0))
    call = lab.place_call()
    transfer_at(lab, 3.0, "8002")
    await lab.all_ended()
    row = lab.row(call)
    assert row.ended_at == T0 + timedelta(seconds=14)  # answered at 4, talked 10 s
    assert row.billable_ms == 13_000
    assert lab.ari.made("hangup")[-1].args[0] == call.caller.id
    assert lab.claims_held() == 0


async def test_a_transfer_to_a_group_hunts_it_by_its_rule(tmp_path: Path) -> None:
    third = "PJSIP/phones/sip:8003@127.0.0.1:5073"
    group = Group(id=7, name="support", strategy="sequential", strategy_options={},
                  members=(Member(phone_id=3, position=1, weight=1),
                           Member(phone_id=2, position=2, weight=1)))
    lab = CallLab(tmp_path, [hotline((AGENT, OTHER, third), plan=Plan(groups={7: group}))],
                  {AGENT: Phone(answer_after_s=1.0), third: Phone(busy=True),
                   OTHER: Phone(answer_after_s=2.0)})
    call = lab.place_call()
    transfer_at(lab, 5.0, "support")
    lab.ari.later(30.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    rows = legs(lab, call)
    assert [(leg["phone_id"], leg["purpose"], leg["result"]) for leg in rows] == [
        (1, "phone", "transferred"), (3, "transfer", "busy"), (2, "transfer", "answered")]
    assert lab.row(call).billable_ms == 29_000
    assert lab.claims_held() == 0


async def test_an_allowed_outside_number_is_dialled_through_the_hotline_s_dial_string(
        tmp_path: Path) -> None:
    rules = TransferRules(prefixes=("139",), dial="PJSIP/carrier/sip:{number}@10.0.0.1")
    lab = lab_with(tmp_path, RINGS, rules=rules)
    lab.ari.phones["PJSIP/carrier/sip:13900001111@10.0.0.1"] = Phone(answer_after_s=2.0)
    call = lab.place_call()
    transfer_at(lab, 5.0, "13900001111")
    lab.ari.later(30.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    first, second = legs(lab, call)
    assert first["result"] == "transferred"
    assert (second["phone_id"], second["purpose"], second["result"]) == (None, "transfer",
                                                                         "answered")
    assert lab.ari.made("create_channel")[-1].args[0] == "PJSIP/carrier/sip:13900001111@10.0.0.1"
    assert lab.row(call).billable_ms == 29_000


@pytest.mark.parametrize(("destination", "rules", "replaces"), [
    ("13800001111", TransferRules(prefixes=("139",), dial="PJSIP/carrier/sip:{number}@h"),
     None),  # an outside number the hotline does not allow
    ("9999", None, None),  # no phone, group or number
    ("8002", None, "a84b4c76e66710@pc33"),  # attended (REFER with Replaces)
])
async def test_a_refused_transfer_leaves_the_call_as_it_was(
        tmp_path: Path, destination: str, rules: TransferRules | None,
        replaces: str | None) -> None:
    lab = lab_with(tmp_path, Phone(answer_after_s=1.0), rules=rules)
    call = lab.place_call()
    transfer_at(lab, 5.0, destination, replaces)
    lab.ari.later(30.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    assert lab.ari.progress_told(agent_channel(lab)) == ["channel_declined"]
    assert [(leg["purpose"], leg["result"]) for leg in legs(lab, call)] == [
        ("phone", "answered")]
    assert "remove_from_bridge" not in lab.ari.names()
    assert lab.row(call).billable_ms == 29_000
    assert lab.claims_held() == 0


async def test_a_transfer_whose_target_cannot_be_looked_up_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault looking the target up (not the database being away) refuses the
    transfer: the live call goes on, it is never ended for it."""
    lab = lab_with(tmp_path, Phone(answer_after_s=1.0), rules=TransferRules())

    async def broken(hotline_id: int) -> TransferRules:
        raise RuntimeError("the rules could not be read")

    monkeypatch.setattr(lab.store, "transfer_rules", broken)
    call = lab.place_call()
    transfer_at(lab, 5.0, "13800000000")
    lab.ari.later(30.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    assert lab.ari.progress_told(agent_channel(lab)) == ["channel_declined"]
    assert [(leg["purpose"], leg["result"]) for leg in legs(lab, call)] == [
        ("phone", "answered")]
    assert lab.row(call).billable_ms == 29_000
    assert lab.claims_held() == 0


async def test_an_unanswered_transfer_comes_back_to_the_agent(tmp_path: Path) -> None:
    lab = lab_with(tmp_path, RINGS, total_timeout_s=10)
    call = lab.place_call()
    transfer_at(lab, 5.0, "8002")
    lab.ari.later(40.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    agent = agent_channel(lab)
    assert lab.ari.progress_told(agent) == ["channel_unavailable"]
    assert lab.ari.made("add_to_bridge")[-1]["channels"] == [agent, call.caller.id]
    assert [(leg["purpose"], leg["result"]) for leg in legs(lab, call)] == [
        ("phone", "answered"), ("transfer", "no-answer")]
    row = lab.row(call)
    assert (row.outcome, row.billable_ms) == ("answered", 39_000)
    assert lab.claims_held() == 0


async def test_a_transfer_to_the_agent_itself_finds_it_busy_and_comes_back(
        tmp_path: Path) -> None:
    lab = lab_with(tmp_path, RINGS)
    call = lab.place_call()
    transfer_at(lab, 5.0, "8001")
    lab.ari.later(30.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    assert lab.ari.progress_told(agent_channel(lab)) == ["channel_unavailable"]
    assert [leg["result"] for leg in legs(lab, call)] == ["answered"]
    assert max(lab.store.most_calls.values()) == 1  # never above capacity
    assert lab.claims_held() == 0


async def test_unanswered_after_the_agent_left_ends_the_call(tmp_path: Path) -> None:
    lab = lab_with(tmp_path, RINGS, total_timeout_s=10)
    call = lab.place_call()
    transfer_at(lab, 5.0, "8002")
    lab.ari.later(5.5, lambda: lab.ari.hang_up(agent_channel(lab)))
    await lab.all_ended()
    row = lab.row(call)
    assert [(leg["purpose"], leg["result"]) for leg in legs(lab, call)] == [
        ("phone", "transferred"), ("transfer", "no-answer")]
    # The caller waited for the target: billed to its end, when the router hung it up.
    assert row.outcome == "answered"
    assert row.ended_at == T0 + timedelta(seconds=15)
    assert row.billable_ms == 14_000
    assert lab.ari.made("hangup")[-1].args[0] == call.caller.id
    assert lab.claims_held() == 0


async def test_the_caller_hanging_up_during_the_transfer(tmp_path: Path) -> None:
    lab = lab_with(tmp_path, RINGS)
    call = lab.place_call()
    transfer_at(lab, 5.0, "8002")
    lab.ari.later(8.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    row = lab.row(call)
    assert [(leg["purpose"], leg["result"]) for leg in legs(lab, call)] == [
        ("phone", "transferred"), ("transfer", "cancelled")]
    assert (row.outcome, row.ended_at) == ("answered", T0 + timedelta(seconds=8))
    assert row.billable_ms == 7_000
    assert lab.claims_held() == 0


async def test_only_the_phone_talking_with_the_caller_may_transfer(tmp_path: Path) -> None:
    lab = lab_with(tmp_path, Phone(answer_after_s=2.0))
    call = lab.place_call()
    transfer_at(lab, 5.0, "8002")
    # The new phone, once it has the caller, transfers back to the first.
    lab.ari.later(12.0, lambda: lab.ari.refer(lab.ari.answered[1], "8001"))
    lab.ari.later(30.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    assert [(leg["phone_id"], leg["result"]) for leg in legs(lab, call)] == [
        (1, "transferred"), (2, "transferred"), (1, "answered")]
    assert lab.row(call).billable_ms == 29_000
    assert lab.claims_held() == 0
    assert not [r for r in lab.store.written if isinstance(r, kinds.CallBridged)][1:]


def test_asterisk_s_channel_transfer_event_is_read_and_routed_to_the_phone_s_channel() -> None:
    """The event's shape as main/stasis_channels.c builds it (no top-level channel)."""
    raw = ('{"type": "ChannelTransfer", "timestamp": "2026-11-30T02:00:05.250+0000",'
           ' "application": "hotline-router",'
           ' "refer_to": {"requested_destination": {"destination": "8002"}},'
           ' "referred_by": {"source_channel": {"id": "leg-1", "name": "PJSIP/phones-0001",'
           ' "state": "Up"}, "connected_channel": {"id": "caller-1"},'
           ' "bridge": {"id": "call-1", "technology": "simple_bridge"}}}')
    event = ev.decode(raw)
    assert isinstance(event, ev.ChannelTransfer)
    assert (event.refer_to.requested_destination.destination, event.state) == ("8002", None)
    assert ev.channel_of(event) == "leg-1"
    assert event.at == T0 + timedelta(seconds=5.25)
    told = ev.decode(raw.replace('"type": "ChannelTransfer",',
                                 '"type": "ChannelTransfer", "state": "channel_answered",'))
    assert isinstance(told, ev.ChannelTransfer)
    assert told.state == "channel_answered"
    assert "ChannelTransfer" in ev.ROUTED_TYPES  # asked of Asterisk with the others

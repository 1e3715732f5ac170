"""Consultation calls and attended transfers by the agent, against a scripted Asterisk.

The phone talking with the caller dials a colleague (its consultation call
enters the application from [phone-consult]); the call rings the target as a
``consult`` leg, bridges it with the consultation call, and on a REFER with
Replaces (or the agent hanging up the caller's call) joins the caller with it
(router/call/consultation.py). Each test checks the one record (legs,
results, purposes), the billing (the caller's answer to the caller's end),
the claims, what the agent's phone was told and which channels were hung up.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from router import metrics
from router.call.events import Reconcile
from router.call.states import State
from router.plan import Group, Member, Plan
from router.records import kinds
from router.transfer_rules import TransferRules
from tests.unit.call_harness import CallLab, hotline
from tests.unit.scripted_ari import T0, Phone

pytestmark = pytest.mark.looptime

AGENT = "PJSIP/phones/sip:8001@127.0.0.1:5071"
AGENT_AT = "127.0.0.1:5071"
OTHER = "PJSIP/phones/sip:8002@127.0.0.1:5072"
RINGS = Phone(answer_after_s=None)
CONSULT_CALL_ID = "consult-1"


def lab_with(tmp_path: Path, other: Phone, *, rules: TransferRules | None = None,
             total_timeout_s: int = 20) -> CallLab:
    lab = CallLab(tmp_path, [hotline((AGENT, OTHER), total_timeout_s=total_timeout_s)],
                  {AGENT: Phone(answer_after_s=1.0), OTHER: other})
    if rules is not None:
        lab.store.transfers[1] = rules
    return lab


class Script:
    """A call whose agent (answers at 1 s) consults at ``consult_at`` s."""

    def __init__(self, lab: CallLab, consult_at: float = 5.0, destination: str = "8002",
                 caller_leaves_at: float | None = 30.0) -> None:
        self.lab = lab
        self.call = lab.place_call()
        self.channel = ""
        lab.ari.later(consult_at, self._consult(destination))
        if caller_leaves_at is not None:
            lab.ari.later(caller_leaves_at, lambda: lab.ari.hang_up(self.call.caller.id))

    def _consult(self, destination: str) -> object:
        def place() -> None:
            self.channel = self.lab.consult(AGENT_AT, destination, CONSULT_CALL_ID)
        return place

    @property
    def agent(self) -> str:
        first: str = self.lab.ari.answered[0]
        return first

    @property
    def target(self) -> str:
        second: str = self.lab.ari.answered[1]
        return second

    def refer_at(self, at_s: float, on_consultation: bool = False,
                 found: bool = True) -> None:
        """The agent transfers (REFER with Replaces) on its caller's call, or on
        the consultation call; ``found``: Asterisk found the replaced call."""
        def refer() -> None:
            if on_consultation:
                self.lab.ari.refer(self.channel, "", "agent-call-id",
                                   self.agent if found else None)
            else:
                self.lab.ari.refer(self.agent, "", CONSULT_CALL_ID,
                                   self.channel if found else None)
        self.lab.ari.later(at_s, refer)

    def legs(self) -> list[tuple[object, ...]]:
        return [(leg["phone_id"], leg["purpose"], leg["result"])
                for leg in self.lab.row(self.call).legs.values()]

    def leg(self, n: int) -> dict[str, object]:
        return list(self.lab.row(self.call).legs.values())[n]

    def hung_up(self) -> list[str]:
        return [r.args[0] for r in self.lab.ari.made("hangup")]


def assert_clean(lab: CallLab, script: Script) -> None:
    assert lab.claims_held() == 0
    assert max(lab.store.most_calls.values()) == 1  # never above capacity
    assert script.call.state.current is State.ENDED
    assert script.call.consultation is None
    assert script.channel not in lab.registry
    assert not [b for b, members in lab.ari.bridges.items() if members]


@pytest.mark.parametrize(("on_consultation", "found"), [
    (False, True),   # REFER on the caller's call, Replaces naming the consultation
    (True, True),    # REFER on the consultation call, naming the caller's call
    (False, False),  # the replaced call matched by its SIP Call-ID alone
])
async def test_an_attended_transfer_joins_the_caller_with_the_consulted_phone(
        tmp_path: Path, on_consultation: bool, found: bool) -> None:
    lab = lab_with(tmp_path, Phone(answer_after_s=2.0))
    script = Script(lab)
    script.refer_at(10.0, on_consultation, found)
    await lab.all_ended()

    call, row = script.call, lab.row(script.call)
    assert script.legs() == [(1, "phone", "transferred"), (2, "consult", "answered")]
    # The target answered the consultation at 7, the caller joined it at 10.
    assert script.leg(1)["answered_at"] == T0 + timedelta(seconds=7)
    assert script.leg(0)["ended_at"] == T0 + timedelta(seconds=10)
    # One call, billed from the caller's answer (the agent's) to the caller's end.
    assert (row.outcome, row.answered_phone_id) == ("answered", 1)
    assert row.caller_answered_at == T0 + timedelta(seconds=1)
    assert row.ended_at == T0 + timedelta(seconds=30)
    assert row.billable_ms == 29_000
    # The consultation: rung, answered and bridged with the target; the caller
    # then joined the target in the call's bridge; the phone was told 200 and
    # both its calls were hung up.
    referrer = script.channel if on_consultation else script.agent
    assert lab.ari.progress_told(referrer) == ["channel_answered"]
    assert script.channel in [r.args[0] for r in lab.ari.made("ring")]
    assert script.channel in [r.args[0] for r in lab.ari.made("answer")]
    consult_bridge, joined = lab.ari.made("add_to_bridge")[-2:]
    assert set(consult_bridge["channels"]) == {script.channel, script.target}
    assert (joined.args[0], joined["channels"]) == (str(call.id), [script.target])
    assert {script.agent, script.channel} <= set(script.hung_up())
    assert consult_bridge.args[0] in [r.args[0] for r in lab.ari.made("destroy_bridge")]
    assert [r for r in lab.store.written if isinstance(r, kinds.TransferConnected)]
    # The agent's talk counted to the join, the target's from its answer to the end.
    assert lab.talk_counted() == [9_000, 23_000]
    assert_clean(lab, script)


async def test_a_transfer_asked_while_the_target_rings_joins_when_it_answers(
        tmp_path: Path) -> None:
    lab = lab_with(tmp_path, Phone(answer_after_s=6.0))
    script = Script(lab)
    script.refer_at(7.0)  # semi-attended: it answers at 11
    await lab.all_ended()
    assert script.legs() == [(1, "phone", "transferred"), (2, "consult", "answered")]
    assert script.leg(0)["ended_at"] == T0 + timedelta(seconds=11)
    assert lab.ari.progress_told(script.agent) == ["channel_answered"]
    assert "create_bridge" in lab.ari.names()  # the call's own; the consultation had none
    assert len(lab.ari.made("create_bridge")) == 1
    assert lab.row(script.call).billable_ms == 29_000
    assert_clean(lab, script)


async def test_the_agent_hanging_up_after_its_refer_while_the_target_rings(
        tmp_path: Path) -> None:
    """A REFER while the target rings (7 s), then the phone hangs up the
    caller's call after the 202 (8 s), the target answers at 11 s: the caller
    waits with music and talks with the target; one record, billed to its end."""
    lab = lab_with(tmp_path, Phone(answer_after_s=6.0))
    script = Script(lab)
    script.refer_at(7.0)
    lab.ari.later(8.0, lambda: lab.ari.hang_up(script.agent))
    await lab.all_ended()
    caller = script.call.caller.id
    assert script.legs() == [(1, "phone", "transferred"), (2, "consult", "answered")]
    assert script.leg(0)["ended_at"] == T0 + timedelta(seconds=8)
    assert script.leg(1)["answered_at"] == T0 + timedelta(seconds=11)
    assert script.leg(1)["ended_at"] == T0 + timedelta(seconds=30)
    assert caller in [r.args[0] for r in lab.ari.made("start_moh")]
    assert lab.ari.made("add_to_bridge")[-1]["channels"] == [script.target, caller]
    assert lab.ari.progress_told(script.agent) == ["channel_answered"]
    assert len(lab.store.rows()) == 1
    row = lab.row(script.call)
    assert (row.outcome, row.ended_at, row.billable_ms) == (
        "answered", T0 + timedelta(seconds=30), 29_000)
    assert_clean(lab, script)


async def test_a_transfer_asked_while_the_target_rings_that_nobody_answers(
        tmp_path: Path) -> None:
    lab = lab_with(tmp_path, RINGS, total_timeout_s=10)
    script = Script(lab, caller_leaves_at=40.0)
    script.refer_at(7.0)
    await lab.all_ended()
    # NOTIFY 503: the agent keeps the caller, the consultation call is hung up.
    assert lab.ari.progress_told(script.agent) == ["channel_unavailable"]
    assert script.legs() == [(1, "phone", "answered"), (2, "consult", "no-answer")]
    assert script.channel in script.hung_up()
    assert lab.row(script.call).billable_ms == 39_000
    assert_clean(lab, script)


async def test_the_consulted_phone_hanging_up_gives_the_caller_back_to_the_agent(
        tmp_path: Path) -> None:
    lab = lab_with(tmp_path, Phone(answer_after_s=2.0, talk_s=4.0))
    script = Script(lab)
    await lab.all_ended()
    assert script.legs() == [(1, "phone", "answered"), (2, "consult", "answered")]
    assert script.leg(1)["ended_at"] == T0 + timedelta(seconds=11)
    assert script.channel in script.hung_up()  # the agent's consultation call ends too
    row = lab.row(script.call)
    assert (row.outcome, row.ended_at, row.billable_ms) == (
        "answered", T0 + timedelta(seconds=30), 29_000)
    assert lab.talk_counted() == [None, 29_000]  # the target never talked with the caller
    assert_clean(lab, script)


@pytest.mark.parametrize("hang_up_at", [6.0, 9.0])  # while the target rings; talks
async def test_the_agent_hanging_up_the_consultation_ends_only_it(
        tmp_path: Path, hang_up_at: float) -> None:
    lab = lab_with(tmp_path, Phone(answer_after_s=2.0))
    script = Script(lab)
    lab.ari.later(hang_up_at, lambda: lab.ari.hang_up(script.channel))
    await lab.all_ended()
    target = "cancelled" if hang_up_at < 7 else "answered"
    assert script.legs() == [(1, "phone", "answered"), (2, "consult", target)]
    assert script.leg(1)["ended_at"] == T0 + timedelta(seconds=hang_up_at)
    assert lab.row(script.call).billable_ms == 29_000
    assert_clean(lab, script)


async def test_the_caller_hanging_up_mid_consultation_ends_the_call_and_the_consultation(
        tmp_path: Path) -> None:
    lab = lab_with(tmp_path, Phone(answer_after_s=2.0))
    script = Script(lab, caller_leaves_at=12.0)
    await lab.all_ended()
    row = lab.row(script.call)
    assert (row.outcome, row.ended_at, row.billable_ms) == (
        "answered", T0 + timedelta(seconds=12), 11_000)
    assert script.legs() == [(1, "phone", "answered"), (2, "consult", "answered")]
    assert {script.agent, script.channel, script.target} <= set(script.hung_up())
    assert_clean(lab, script)


async def test_the_caller_hanging_up_while_the_target_rings(tmp_path: Path) -> None:
    lab = lab_with(tmp_path, RINGS)
    script = Script(lab, caller_leaves_at=8.0)
    await lab.all_ended()
    assert script.legs() == [(1, "phone", "answered"), (2, "consult", "cancelled")]
    assert lab.row(script.call).billable_ms == 7_000
    assert script.channel in script.hung_up()
    assert_clean(lab, script)


async def test_the_agent_hanging_up_the_caller_s_call_while_consulting_hands_it_over(
        tmp_path: Path) -> None:
    """Transfer on hangup: the target talks with the agent, the agent hangs up
    the caller's call (no REFER): the caller goes to the target."""
    lab = lab_with(tmp_path, Phone(answer_after_s=2.0))
    script = Script(lab)
    lab.ari.later(10.0, lambda: lab.ari.hang_up(script.agent))
    await lab.all_ended()
    assert script.legs() == [(1, "phone", "transferred"), (2, "consult", "answered")]
    assert script.leg(0)["ended_at"] == T0 + timedelta(seconds=10)
    assert lab.ari.made("add_to_bridge")[-1]["channels"] == [script.target]
    assert script.channel in script.hung_up()
    assert lab.row(script.call).billable_ms == 29_000
    assert_clean(lab, script)


@pytest.mark.parametrize("answers", [True, False])
async def test_the_agent_hanging_up_while_the_target_rings(tmp_path: Path,
                                                           answers: bool) -> None:
    """The caller waits with music for the target: joined when it answers; no
    one answers: the call ends (the agent is gone)."""
    lab = lab_with(tmp_path, Phone(answer_after_s=6.0) if answers else RINGS,
                   total_timeout_s=10)
    script = Script(lab, caller_leaves_at=30.0)
    lab.ari.later(7.0, lambda: lab.ari.hang_up(script.agent))
    await lab.all_ended()
    caller = script.call.caller.id
    assert caller in [r.args[0] for r in lab.ari.made("start_moh")]
    row = lab.row(script.call)
    if answers:
        assert script.legs() == [(1, "phone", "transferred"), (2, "consult", "answered")]
        assert lab.ari.made("add_to_bridge")[-1]["channels"] == [script.target, caller]
        assert (row.ended_at, row.billable_ms) == (T0 + timedelta(seconds=30), 29_000)
    else:
        assert script.legs() == [(1, "phone", "transferred"), (2, "consult", "no-answer")]
        assert (row.ended_at, row.billable_ms) == (T0 + timedelta(seconds=15), 14_000)
        assert lab.ari.made("hangup")[-1].args[0] == caller
    assert row.outcome == "answered"
    assert_clean(lab, script)


async def test_an_unanswered_consultation_leaves_the_agent_with_the_caller(
        tmp_path: Path) -> None:
    lab = lab_with(tmp_path, RINGS, total_timeout_s=10)
    script = Script(lab, caller_leaves_at=40.0)
    await lab.all_ended()
    assert script.legs() == [(1, "phone", "answered"), (2, "consult", "no-answer")]
    assert [r["reason"] for r in lab.ari.made("hangup") if r.args[0] == script.channel] == [
        "busy"]
    assert lab.row(script.call).billable_ms == 39_000
    assert_clean(lab, script)


async def test_a_consultation_of_the_agent_itself_is_refused(tmp_path: Path) -> None:
    lab = lab_with(tmp_path, RINGS)
    script = Script(lab, destination="8001")
    await lab.all_ended()
    assert script.legs() == [(1, "phone", "answered")]  # never claimed twice
    (refused,) = lab.ari.made("continue_in_dialplan")
    assert (refused.args[0], refused["context"]) == (script.channel, "phone-consult-refused")
    assert_clean(lab, script)


async def test_a_group_consultation_never_rings_the_phone_that_consults(
        tmp_path: Path) -> None:
    """The agent (capacity 2, free for another call) is the group's first phone."""
    group = Group(id=7, name="support", strategy="sequential", strategy_options={},
                  members=(Member(phone_id=1, position=1, weight=1),
                           Member(phone_id=2, position=2, weight=1)))
    lab = CallLab(tmp_path, [hotline((AGENT, OTHER), capacity=2,
                                     plan=Plan(groups={7: group}))],
                  {AGENT: Phone(answer_after_s=1.0), OTHER: Phone(answer_after_s=2.0)})
    script = Script(lab, destination="support")
    lab.ari.later(10.0, lambda: lab.ari.hang_up(script.channel))
    await lab.all_ended()
    assert script.legs() == [(1, "phone", "answered"), (2, "consult", "answered")]
    assert [r.args[0] for r in lab.ari.made("create_channel")].count(AGENT) == 1
    assert lab.claims_held() == 0


async def test_a_phone_in_two_calls_is_refused_a_consultation(tmp_path: Path) -> None:
    """A phone of capacity 2 talks in two calls: which one it holds is unknown."""
    lab = CallLab(tmp_path, [hotline((AGENT, OTHER), capacity=2)],
                  {AGENT: Phone(answer_after_s=1.0), OTHER: Phone(answer_after_s=2.0)})
    calls = [lab.place_call(), lab.place_call(caller="13900139000")]
    channel: list[str] = []
    lab.ari.later(5.0, lambda: channel.append(lab.consult(AGENT_AT, "8002")))
    for call in calls:
        lab.ari.later(30.0, lambda call=call: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    (refused,) = lab.ari.made("continue_in_dialplan")
    assert (refused.args[0], refused["context"]) == (channel[0], "phone-consult-refused")
    for call in calls:
        assert [(leg["phone_id"], leg["purpose"]) for leg in lab.row(call).legs.values()] == [
            (1, "phone")]
        assert lab.row(call).billable_ms == 29_000
    assert lab.claims_held() == 0


@pytest.mark.parametrize(("destination", "rules"), [
    ("9999", None),  # no phone, group or number of the hotline
    ("13800001111", TransferRules(prefixes=("139",), dial="PJSIP/carrier/sip:{number}@h")),
])
async def test_a_consultation_to_an_unknown_target_is_refused_with_the_error_tone(
        tmp_path: Path, destination: str, rules: TransferRules | None) -> None:
    lab = lab_with(tmp_path, Phone(answer_after_s=1.0), rules=rules)
    script = Script(lab, destination=destination)
    await lab.all_ended()
    (refused,) = lab.ari.made("continue_in_dialplan")
    assert (refused.args[0], refused["context"], refused["exten"]) == (
        script.channel, "phone-consult-refused", "refused")
    assert script.legs() == [(1, "phone", "answered")]
    assert lab.row(script.call).billable_ms == 29_000
    assert_clean(lab, script)


async def test_a_consultation_from_a_phone_in_no_call_is_refused(tmp_path: Path) -> None:
    lab = lab_with(tmp_path, Phone(answer_after_s=1.0))
    channel = lab.consult("127.0.0.1:5099", "8002")
    await lab.all_ended()
    (refused,) = lab.ari.made("continue_in_dialplan")
    assert (refused.args[0], refused["context"]) == (channel, "phone-consult-refused")
    assert channel not in lab.registry
    assert lab.store.written == []


async def test_a_second_consultation_is_refused(tmp_path: Path) -> None:
    lab = lab_with(tmp_path, Phone(answer_after_s=2.0))
    script = Script(lab)
    second: list[str] = []
    lab.ari.later(9.0, lambda: second.append(lab.consult(AGENT_AT, "8002", "consult-2")))
    script.refer_at(12.0)
    await lab.all_ended()
    assert [r.args[0] for r in lab.ari.made("continue_in_dialplan")] == second
    assert script.legs() == [(1, "phone", "transferred"), (2, "consult", "answered")]
    assert_clean(lab, script)


@pytest.mark.parametrize("replaces", ["someone-else", ""])
async def test_a_refer_that_names_no_consultation_of_the_phone_is_refused(
        tmp_path: Path, replaces: str) -> None:
    """A REFER with Replaces naming another call (or a blind REFER on the
    consultation call): NOTIFY 603, the consultation goes on."""
    lab = lab_with(tmp_path, Phone(answer_after_s=2.0))
    script = Script(lab)
    if replaces:
        lab.ari.later(10.0, lambda: lab.ari.refer(script.agent, "", replaces))
    else:
        lab.ari.later(10.0, lambda: lab.ari.refer(script.channel, "8003"))
    lab.ari.later(15.0, lambda: lab.ari.hang_up(script.channel))
    await lab.all_ended()
    told = script.agent if replaces else script.channel
    assert lab.ari.progress_told(told) == ["channel_declined"]
    assert script.legs() == [(1, "phone", "answered"), (2, "consult", "answered")]
    assert script.leg(1)["ended_at"] == T0 + timedelta(seconds=15)
    assert lab.row(script.call).billable_ms == 29_000
    assert_clean(lab, script)


async def test_an_attended_refer_without_a_consultation_is_refused(tmp_path: Path) -> None:
    lab = lab_with(tmp_path, Phone(answer_after_s=1.0))
    call = lab.place_call()
    lab.ari.later(5.0, lambda: lab.ari.refer(lab.ari.answered[0], "", "a84b4c76e66710@pc33"))
    lab.ari.later(30.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    assert lab.ari.progress_told(lab.ari.answered[0]) == ["channel_declined"]
    assert lab.row(call).billable_ms == 29_000
    assert lab.claims_held() == 0


async def test_a_consultation_call_a_stopped_router_left_is_hung_up_not_routed() -> None:
    """After a restart, a channel of the application no call owns is a caller
    whose start was missed (routed) or debris (hung up): a consultation call,
    whose extension is digits too, is debris (router/reconcile.py)."""
    from types import SimpleNamespace

    from router import reconcile

    hung_up: list[str] = []

    async def hangup(channel_id: str, reason: str = "normal") -> bool:
        hung_up.append(channel_id)
        return True

    services: Any = SimpleNamespace(ari=SimpleNamespace(hangup=hangup))
    snapshot = {"id": "1764468100.7", "name": "PJSIP/phones-00000007", "state": "Up",
                "dialplan": {"context": "phone-consult", "exten": "8002", "priority": 5}}
    await reconcile._stray(services, snapshot, "1764468100.7", T0)
    assert hung_up == ["1764468100.7"]


@pytest.mark.parametrize("after_s", [0.0, 0.05])
async def test_a_consultation_as_the_call_ends_is_refused_not_left_in_the_application(
        tmp_path: Path, after_s: float) -> None:
    lab = lab_with(tmp_path, Phone(answer_after_s=1.0))
    call = lab.place_call()
    channels: list[str] = []
    lab.ari.later(10.0, lambda: lab.ari.hang_up(call.caller.id))
    lab.ari.later(10.0 + after_s, lambda: channels.append(lab.consult(AGENT_AT, "8002")))
    await asyncio.sleep(11.0)  # the call ends at 10, the consultation comes at 10 or after
    await lab.all_ended()
    (refused,) = lab.ari.made("continue_in_dialplan")
    assert (refused.args[0], refused["context"]) == (channels[0], "phone-consult-refused")
    assert channels[0] not in lab.registry
    assert [leg["result"] for leg in lab.row(call).legs.values()] == ["answered"]
    assert lab.claims_held() == 0


@pytest.mark.parametrize("lost", ["consultation", "target"])
async def test_a_consultation_whose_hangup_was_lost_ends_at_the_catch_up(
        tmp_path: Path, lost: str) -> None:
    """The target answered at 7; at 10 the consultation call (or the target)
    ends in a websocket gap; the catch-up at 12 ends the consultation: the
    agent has the caller again, the target's claim is released, its leg
    'answered' (it talked, with the agent)."""
    lab = lab_with(tmp_path, Phone(answer_after_s=2.0))
    script = Script(lab)
    lost_at = T0 + timedelta(seconds=10)
    seen: list[tuple[object, int]] = []
    lab.ari.later(10.0, lambda: lab.ari.vanish(
        script.channel if lost == "consultation" else script.target))
    lab.ari.later(12.0, lambda: script.call.deliver(Reconcile(lab.ari.up_channels(), lost_at)))
    lab.ari.later(13.0, lambda: seen.append((script.call.state.current, lab.claims_held())))
    await lab.all_ended()
    assert seen == [(State.BRIDGED, 1)]  # the agent's claim only
    assert script.legs() == [(1, "phone", "answered"), (2, "consult", "answered")]
    target_ended = lost_at if lost == "target" else T0 + timedelta(seconds=12)
    assert script.leg(1)["ended_at"] == target_ended
    assert (script.target if lost == "consultation" else script.channel) in script.hung_up()
    assert lab.row(script.call).billable_ms == 29_000
    assert_clean(lab, script)


@pytest.mark.parametrize("hung_up_after", [1, 2])  # the remote address, or the Call-ID
async def test_a_consultation_call_hung_up_as_it_is_handed_over_ends_there(
        tmp_path: Path, hung_up_after: int) -> None:
    """The phone hangs up its consultation call as the router looks it up:
    its hangup is never lost (the target is not rung, the agent keeps the caller)."""
    lab = lab_with(tmp_path, Phone(answer_after_s=2.0))
    script = Script(lab)
    for n in range(1, 3):
        lab.ari.when("get_variable", (lambda: lab.ari.hang_up(script.channel))
                     if n == hung_up_after else (lambda: None))
    seen: list[tuple[object, int]] = []
    lab.ari.later(6.0, lambda: seen.append((script.call.state.current, lab.claims_held())))
    await lab.all_ended()
    assert seen == [(State.BRIDGED, 1)]
    assert script.legs() == [(1, "phone", "answered")]  # nobody rung
    assert lab.row(script.call).billable_ms == 29_000
    assert_clean(lab, script)


async def test_a_consultation_not_bridged_is_over(tmp_path: Path) -> None:
    """Asterisk refuses to answer the consultation call as the target answers
    (it is gone, its hangup lost): the consultation ends there."""
    lab = lab_with(tmp_path, Phone(answer_after_s=2.0))
    script = Script(lab)
    lab.ari.later(6.0, lambda: lab.ari.vanish(script.channel))
    seen: list[tuple[object, int]] = []
    lab.ari.later(8.0, lambda: seen.append((script.call.state.current, lab.claims_held())))
    await lab.all_ended()
    assert seen == [(State.BRIDGED, 1)]
    assert script.legs() == [(1, "phone", "answered"), (2, "consult", "answered")]
    assert script.leg(1)["ended_at"] == T0 + timedelta(seconds=7)
    assert lab.row(script.call).billable_ms == 29_000
    assert_clean(lab, script)


def consultations_counted() -> dict[str, float]:
    return {result: metrics.CONSULTATIONS.labels(result=result)._value.get()
            for result in ("answered", "unanswered", "ended", "refused")}


@pytest.mark.parametrize(("target", "how"), [
    (Phone(answer_after_s=2.0), "refer"),           # answered, then transferred
    (Phone(answer_after_s=2.0), "hang_up"),         # answered, then ended by the agent
    (Phone(answer_after_s=2.0), "caller"),          # answered, the caller leaves
    (RINGS, "hang_up"),                             # ended while it rang
    (RINGS, "none"),                                # nobody answered
])
async def test_one_consultation_counts_one_result(tmp_path: Path, target: Phone,
                                                  how: str) -> None:
    lab = lab_with(tmp_path, target, total_timeout_s=10)
    script = Script(lab, caller_leaves_at=12.0 if how == "caller" else 30.0)
    if how == "refer":
        script.refer_at(9.0)
    elif how == "hang_up":
        lab.ari.later(9.0, lambda: lab.ari.hang_up(script.channel))
    before = consultations_counted()
    await lab.all_ended()
    after = consultations_counted()
    counted = {k: after[k] - before[k] for k in after if after[k] != before[k]}
    expected = "answered" if target is not RINGS else "ended" if how == "hang_up" \
        else "unanswered"
    assert counted == {expected: 1}
    assert_clean(lab, script)

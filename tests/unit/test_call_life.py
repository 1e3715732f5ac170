"""The life of a call, path by path, against a scripted Asterisk (no lab needed).

Each test places real calls through the real call core; the scripted phones
answer, refuse or ring on as told, on a fast-forwarded clock. Times in the
records are the scripted Asterisk's, so they are checked exactly.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from router.call.states import State
from router.directory import Overflow
from router.menu import Menu, MenuKey
from router.plan import Group, Member, Plan, Rule, Sounds
from router.records import kinds
from tests.unit.call_harness import CallLab, hotline
from tests.unit.scripted_ari import T0, Phone

pytestmark = pytest.mark.looptime

RINGS = Phone(answer_after_s=None)  # rings until hung up on


async def test_the_first_phone_answers_and_the_caller_hangs_up(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=2.0)})
    call = lab.place_call()
    lab.ari.later(32.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()

    row = lab.row(call)
    assert (row.outcome, row.results(), row.answered_phone_id) == ("answered", ["answered"], 1)
    assert row.answered_at == T0 + timedelta(seconds=2)
    assert row.ended_at == T0 + timedelta(seconds=32)
    assert row.billable_ms == 30_000
    assert call.state.current is State.ENDED
    assert lab.claims_held() == 0
    # Ringback alongside the first channel; the caller is answered only once the
    # phone that answered is in the bridge.
    assert lab.ari.names()[:7] == ["create_channel", "ring", "dial", "create_bridge",
                                   "add_to_bridge", "answer", "add_to_bridge"]
    assert lab.ari.made("create_channel")[0]["variables"] == {
        "CALLERID(num)": "13800138000", "CALLERID(name)": "4001234567",
        "HOTLINE_PHONE_ID": "1", "PJSIP_TRANSFER_HANDLING()": "ari-only"}


async def test_the_phone_hangs_up_first(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=1.0, talk_s=10.0)})
    call = lab.place_call()
    await lab.all_ended()
    row = lab.row(call)
    assert row.outcome == "answered"
    assert row.ended_at == T0 + timedelta(seconds=11)
    assert row.billable_ms == 10_000
    # The router hangs up the caller and takes the bridge down.
    assert [r.args[0] for r in lab.ari.made("hangup")] == [call.caller.id]
    assert lab.ari.made("destroy_bridge")
    assert lab.store.states[1].active_calls == 0


async def test_busy_phones_are_hunted_then_the_caller_hears_busy(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(busy=True),
                                          "PJSIP/b": Phone(busy=True)})
    call = lab.place_call()
    await lab.all_ended()
    row = lab.row(call)
    assert (row.outcome, row.results()) == ("busy", ["busy", "busy"])
    assert row.answered_at is None
    assert row.billable_ms == 0
    assert "answer" not in lab.ari.names()  # an announcement is early media
    assert lab.ari.made("play")[0]["media"] == ["sound:all-circuits-busy-now"]
    assert lab.ari.made("hangup")[-1]["reason"] == "busy"
    assert lab.claims_held() == 0


async def test_no_answer_rings_each_phone_its_ring_timeout(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(ring_timeout_s=5)], {"PJSIP/a": RINGS, "PJSIP/b": RINGS})
    call = lab.place_call()
    await lab.all_ended()
    row = lab.row(call)
    assert (row.outcome, row.results()) == ("no-answer", ["no-answer", "no-answer"])
    ends = [leg["ended_at"] for leg in row.legs.values()]
    assert ends == [T0 + timedelta(seconds=5), T0 + timedelta(seconds=10)]
    assert [r["reason"] for r in lab.ari.made("hangup")] == ["no_answer", "no_answer",
                                                              "no_answer"]
    assert lab.claims_held() == 0


async def test_a_lone_phone_rings_the_whole_total_timeout(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(["PJSIP/a"], ring_timeout_s=5, total_timeout_s=40)],
                  {"PJSIP/a": RINGS})
    call = lab.place_call()
    await lab.all_ended()
    (leg,) = lab.row(call).legs.values()
    assert leg["ended_at"] == T0 + timedelta(seconds=40)


async def test_the_caller_hangs_up_while_phones_ring(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(strategy="simultaneous")],
                  {"PJSIP/a": RINGS, "PJSIP/b": RINGS})
    call = lab.place_call()
    lab.ari.later(3.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    row = lab.row(call)
    assert (row.outcome, row.results()) == ("abandoned", ["cancelled", "cancelled"])
    assert row.ended_at == T0 + timedelta(seconds=3)
    assert all(not channel.up for channel in lab.ari.channels.values())  # no phone rings on
    assert lab.claims_held() == 0


async def test_simultaneous_ring_the_first_to_answer_wins(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(strategy="simultaneous")],
                  {"PJSIP/a": Phone(answer_after_s=3.0), "PJSIP/b": Phone(answer_after_s=1.5,
                                                                          talk_s=5.0)})
    call = lab.place_call()
    await lab.all_ended()
    row = lab.row(call)
    assert row.answered_phone_id == 2
    assert row.results() == ["cancelled", "answered"]
    assert lab.ari.made("hangup")[0]["reason"] == "answered_elsewhere"
    assert lab.store.most_calls == {1: 1, 2: 1}


async def test_ring_progressively_adds_a_phone_while_the_first_keeps_ringing(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(["PJSIP/a", "PJSIP/b", "PJSIP/c"],
                                     strategy="ring_progressively", options={"interval_s": 4})],
                  {"PJSIP/a": RINGS, "PJSIP/b": RINGS, "PJSIP/c": Phone(answer_after_s=1.0,
                                                                       talk_s=2.0)})
    call = lab.place_call()
    await lab.all_ended()
    row = lab.row(call)
    starts = [r.dial_started_at for r in lab.store.written if isinstance(r, kinds.LegStarted)]
    assert starts == [T0, T0 + timedelta(seconds=4), T0 + timedelta(seconds=8)]
    assert row.results() == ["cancelled", "cancelled", "answered"]
    assert row.answered_at == T0 + timedelta(seconds=9)


async def test_a_greeting_is_early_media_and_billing_starts_at_the_phones_answer(
        tmp_path: Path) -> None:
    plan = Plan(sounds=Sounds(greeting=("welcome",)))
    lab = CallLab(tmp_path, [hotline(plan=plan)],
                  {"PJSIP/a": Phone(answer_after_s=1.0, talk_s=5.0)})
    call = lab.place_call()
    await lab.all_ended()
    names = lab.ari.names()
    assert names[:3] == ["progress", "play", "create_channel"]  # 183, never a 200
    assert names.index("answer") > names.index("dial")  # answered only for the phone
    row = lab.row(call)
    assert row.answered_at == T0 + timedelta(seconds=3)  # the 2 s greeting, then 1 s ring
    assert row.caller_answered_at == row.answered_at  # billing starts at the phone's answer
    assert row.billable_ms == 5_000


MENU_PLAN = Plan(
    groups={7: Group(id=7, name="sales", strategy="sequential", strategy_options={},
                     members=(Member(phone_id=2, position=1, weight=1),))},
    rules=(Rule(id=1, position=1, name="ivr", action="menu", menu_id=3),),
    menus={3: Menu(id=3, name="main", prompt=("press-1-for-sales",), timeout_s=5,
                   keys={"1": MenuKey(key="1", action="group", group_id=7)})})


async def test_menu_keys_lead_to_their_group(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(plan=MENU_PLAN)],
                  {"PJSIP/b": Phone(answer_after_s=1.0, talk_s=4.0)})
    call = lab.place_call()
    lab.ari.later(0.5, lambda: lab.ari.press(call.caller.id, "1"))
    await lab.all_ended()
    row = lab.row(call)
    assert (row.menu_keys, row.plan_result, row.answered_phone_id) == ("1", "group", 2)
    assert lab.ari.made("stop_playback")  # the key cut the prompt short
    assert row.caller_answered_at == T0
    assert row.answered_at == T0 + timedelta(seconds=1.5)


async def test_a_caller_who_leaves_in_the_menu_is_abandoned_with_its_keys(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(plan=MENU_PLAN)])
    call = lab.place_call()
    lab.ari.later(0.5, lambda: lab.ari.press(call.caller.id, "9"))
    lab.ari.later(4.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    row = lab.row(call)
    assert (row.outcome, row.menu_keys, row.legs) == ("abandoned", "9", {})
    assert row.caller_answered_at == T0
    assert row.ended_at == T0 + timedelta(seconds=4)
    # Billed from the menu's answer, as the statement and Asterisk's CDR count it.
    assert row.billable_ms == 4_000


async def test_after_a_menu_billing_runs_from_the_menu_answer_not_the_phone(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(plan=MENU_PLAN)],
                  {"PJSIP/b": Phone(answer_after_s=1.0, talk_s=4.0)})
    call = lab.place_call()
    lab.ari.later(0.5, lambda: lab.ari.press(call.caller.id, "1"))
    await lab.all_ended()
    row = lab.row(call)
    assert row.answered_at == T0 + timedelta(seconds=1.5)  # the phone's own answer, kept
    assert row.billable_ms == 5_500  # menu answer at T0 to the end at 5.5 s


async def test_forward_overflow_rings_the_forward_number(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(overflow=Overflow.FORWARD, forward_to="PJSIP/fwd")],
                  {"PJSIP/a": Phone(busy=True), "PJSIP/b": Phone(busy=True),
                   "PJSIP/fwd": Phone(answer_after_s=2.0, talk_s=3.0)})
    call = lab.place_call()
    await lab.all_ended()
    row = lab.row(call)
    assert (row.outcome, row.overflow) == ("answered", "forward")
    assert [leg["purpose"] for leg in row.legs.values()] == ["phone", "phone",
                                                            "overflow-forward"]
    assert row.results() == ["busy", "busy", "answered"]


async def test_a_queued_caller_rings_the_phone_that_frees(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(["PJSIP/a"], overflow=Overflow.QUEUE,
                                     overflow_max_wait_s=60)],
                  {"PJSIP/a": Phone(answer_after_s=1.0, talk_s=10.0)})
    first = lab.place_call()
    seen: list[State] = []
    second_at = 2.0

    def second() -> None:
        call = lab.place_call(caller="13900139000")
        seen.append(call.state.current)
        original = call.state.to

        def to(new: State, **context: object) -> None:
            original(new, **context)
            seen.append(new)
        call.state.to = to  # type: ignore[method-assign]
        calls.append(call)

    calls: list[object] = []
    lab.ari.later(second_at, second)
    await lab.all_ended()
    waiting = calls[0]
    row = lab.store.rows()[waiting.id]  # type: ignore[attr-defined]
    assert lab.row(first).outcome == "answered"
    assert (row.outcome, row.overflow) == ("answered", "queue")
    assert seen == [State.ROUTING, State.QUEUED, State.RINGING, State.BRIDGED, State.ENDED]
    # The phone freed at 11 s; the queue looks once a second, then the phone answers in 1 s.
    assert row.answered_at is not None
    assert T0 + timedelta(seconds=12) <= row.answered_at <= T0 + timedelta(seconds=13)
    assert "start_moh" in lab.ari.names()
    assert "stop_moh" in lab.ari.names()
    assert lab.store.most_calls == {1: 1}


async def test_the_queue_wait_ends_in_the_busy_announcement(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(["PJSIP/a"], overflow=Overflow.QUEUE,
                                     overflow_max_wait_s=5)],
                  {"PJSIP/a": Phone(answer_after_s=0.5, talk_s=100.0)})
    lab.place_call()  # takes the only phone
    waiting = lab.place_call(caller="13900139000")
    await lab.all_ended()
    row = lab.row(waiting)
    assert (row.outcome, row.overflow, row.legs) == ("busy", "queue", {})
    # Five seconds of music, then the announcement (2 s), then the hangup.
    assert row.ended_at == T0 + timedelta(seconds=7)


async def test_an_unknown_number_hears_not_in_service(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()])
    call = lab.place_call(number="4009999999")
    await lab.all_ended()
    row = lab.row(call)
    assert row.outcome == "unknown-number"
    assert lab.ari.names() == ["progress", "play", "hangup"]
    assert lab.ari.made("hangup")[0]["reason"] == "unallocated"


async def test_the_longest_call_allowed_is_ended_by_the_router(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=1.0)},
                  max_call_s=120)
    call = lab.place_call()
    await lab.all_ended()
    row = lab.row(call)
    assert row.outcome == "answered"
    assert row.ended_at is not None
    assert 120 <= (row.ended_at - T0).total_seconds() <= 122
    assert lab.claims_held() == 0


async def test_while_the_database_is_away_records_are_spooled_in_order(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=1.0, talk_s=4.0)})
    lab.store.go_down()
    call = lab.place_call()
    await lab.all_ended()
    assert lab.store.written == []
    spooled = lab.store.spooled()
    assert [type(r).__name__ for r in spooled] == [
        "CallStarted", "PlanDecided", "LegStarted", "CallBridged", "LegEnded", "CallEnded"]
    row = lab.store.rows(spooled)[call.id]
    assert (row.outcome, row.billable_ms) == ("answered", 4_000)
    # The claim was this router's own (taken while away): released in memory.
    assert lab.store.local == {}
    assert lab.store.held == {}

"""The hold queue with the scripted Asterisk: order, wake-up, limits, announcements."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from router.call import Call
from router.call.queue import position_media
from router.directory import Overflow, QueueRules
from router.plan import ListEntry, Plan
from tests.unit.call_harness import CallLab, hotline
from tests.unit.scripted_ari import T0, Phone

pytestmark = pytest.mark.looptime

VIP = "13900000003"


def one_phone_queue(tmp_path: Path, rules: QueueRules | None = None, talk_s: float = 10.0,
                    max_wait_s: int = 600, plan: Plan | None = None,
                    forward_to: str | None = None) -> CallLab:
    """A hotline with one phone that answers in 1 s and talks ``talk_s``."""
    phones = {"PJSIP/a": Phone(answer_after_s=1.0, talk_s=talk_s)}
    if forward_to:
        phones[forward_to] = Phone(answer_after_s=1.0, talk_s=1.0)
    return CallLab(tmp_path, [hotline(["PJSIP/a"], overflow=Overflow.QUEUE,
                                      overflow_max_wait_s=max_wait_s, queue=rules,
                                      plan=plan, forward_to=forward_to)], phones)


def place_at(lab: CallLab, at_s: float, caller: str, calls: dict[str, Call]) -> None:
    def place() -> None:
        calls[caller] = lab.place_call(caller=caller)
    lab.ari.later(at_s, place)


async def all_ended(lab: CallLab, last_placed_s: float) -> None:
    await asyncio.sleep(last_placed_s + 0.01)  # every call placed (the loop's clock is faked)
    await lab.all_ended()


def answered_order(lab: CallLab, calls: dict[str, Call]) -> list[str]:
    rows = {caller: lab.row(call) for caller, call in calls.items()}
    assert all(row.outcome == "answered" for row in rows.values())
    return sorted(rows, key=lambda caller: rows[caller].answered_at)  # type: ignore[arg-type,return-value]


async def test_waiters_are_answered_in_arrival_order_with_the_vip_first(tmp_path: Path) -> None:
    vip_list = Plan(lists=(ListEntry("vip", "exact", VIP, None),))
    lab = one_phone_queue(tmp_path, plan=vip_list)
    calls: dict[str, Call] = {}
    callers = ["13900000000", "13900000001", "13900000002", VIP, "13900000004",
               "13900000005"]
    for n, caller in enumerate(callers):  # the first takes the phone, five wait
        place_at(lab, n * 0.5, caller, calls)
    await all_ended(lab, 2.5)
    assert answered_order(lab, calls) == [callers[0], VIP, callers[1], callers[2],
                                          callers[4], callers[5]]
    assert lab.store.most_calls == {1: 1}
    assert lab.claims_held() == 0
    assert lab.store.waiters == {}


async def test_a_freed_phone_rings_for_the_head_at_once(tmp_path: Path) -> None:
    lab = one_phone_queue(tmp_path)
    first = lab.place_call()
    waiting = lab.place_call(caller="13900139000")
    await lab.all_ended()
    # The phone is free again at 11 s (answered at 1 s, 10 s of talk); the
    # waiter's leg is dialled in that instant and answered 1 s later.
    assert lab.row(first).ended_at == T0 + timedelta(seconds=11)
    assert lab.row(waiting).answered_at == T0 + timedelta(seconds=12)


async def test_a_caller_arriving_as_the_phone_frees_does_not_overtake(tmp_path: Path) -> None:
    lab = one_phone_queue(tmp_path)
    calls: dict[str, Call] = {}
    place_at(lab, 0.0, "13900000000", calls)
    place_at(lab, 2.0, "13900000001", calls)  # waits
    place_at(lab, 11.0, "13900000002", calls)  # arrives as the phone frees
    await all_ended(lab, 11.0)
    assert answered_order(lab, calls) == ["13900000000", "13900000001", "13900000002"]
    late = lab.row(calls["13900000002"])
    assert late.answered_at == T0 + timedelta(seconds=23)  # after the waiter's 10 s talk


async def test_the_caller_over_the_limit_gets_the_overflow(tmp_path: Path) -> None:
    lab = one_phone_queue(tmp_path, QueueRules(max_waiting=3), talk_s=5.0)
    calls: dict[str, Call] = {}
    for n in range(5):  # one talks, three wait, the fifth is the 4th to wait
        place_at(lab, n * 0.5, f"1390000000{n}", calls)
    await all_ended(lab, 2.0)
    fourth = lab.row(calls["13900000004"])
    assert (fourth.outcome, fourth.overflow, fourth.legs) == ("busy", "queue", {})
    assert fourth.ended_at is not None
    assert fourth.ended_at < T0 + timedelta(seconds=6)
    assert [lab.row(calls[f"1390000000{n}"]).outcome for n in range(4)] == ["answered"] * 4


async def test_a_caller_who_waited_past_the_limit_is_forwarded(tmp_path: Path) -> None:
    lab = one_phone_queue(tmp_path, QueueRules(overflow="forward"), talk_s=100.0,
                          max_wait_s=5, forward_to="PJSIP/desk")
    lab.place_call()
    waiting = lab.place_call(caller="13900139000")
    await lab.all_ended()
    row = lab.row(waiting)
    assert (row.outcome, row.overflow) == ("answered", "queue")
    assert [leg["purpose"] for leg in row.legs.values()] == ["overflow-forward"]
    # Five seconds in the queue, then the forward number answers in 1 s.
    assert row.answered_at == T0 + timedelta(seconds=6)


async def test_a_caller_who_waited_past_the_limit_leaves_a_message(tmp_path: Path) -> None:
    lab = one_phone_queue(tmp_path, QueueRules(overflow="voicemail"), talk_s=100.0,
                          max_wait_s=5)
    lab.place_call()
    waiting = lab.place_call(caller="13900139000")
    await lab.all_ended()
    row = lab.row(waiting)
    assert (row.outcome, row.overflow) == ("busy", "queue")
    assert [r["recording"] for r in lab.ari.made("record_channel")] == [f"vm-{waiting.id}"]
    # Answered for the message after five seconds in the queue: billed from there.
    assert row.caller_answered_at == T0 + timedelta(seconds=5)
    assert lab.claims_held() == 0


async def test_each_waiter_hears_its_position_and_the_music_class(tmp_path: Path) -> None:
    lab = one_phone_queue(tmp_path, QueueRules(announce_position=True, announce_every_s=20,
                                               music_class="calm"), talk_s=30.0)
    calls: dict[str, Call] = {}
    for n in range(3):
        place_at(lab, n * 0.5, f"1390000000{n}", calls)
    await all_ended(lab, 1.0)
    heard = {caller: [r["media"] for r in lab.ari.made("play")
                      if r.args[0] == call.caller.id]
             for caller, call in calls.items()}
    assert heard["13900000000"] == []  # answered at once
    # On joining, then every 20 s while waiting: the second waits 0.5 s to
    # 31 s, the third 1 s to 61 s (second in line until the second's answer at 32 s).
    assert heard["13900000001"] == [position_media(1, None)] * 2
    assert heard["13900000002"] == [position_media(2, None)] * 2 + [position_media(1, None)] * 2
    assert {r["moh_class"] for r in lab.ari.made("start_moh")} == {"calm"}


async def test_the_expected_wait_is_told_when_known(tmp_path: Path) -> None:
    lab = one_phone_queue(tmp_path, QueueRules(announce_position=True, announce_hold=True))
    lab.store.hold_ms = 150_000
    lab.place_call()
    waiting = lab.place_call(caller="13900139000")
    await lab.all_ended()
    played = [r["media"] for r in lab.ari.made("play") if r.args[0] == waiting.caller.id]
    assert played == [["sound:queue-youarenext", "sound:queue-holdtime", "number:3",
                       "sound:queue-minutes"]]


def test_position_media_follows_app_queue() -> None:
    assert position_media(1, None) == ["sound:queue-youarenext"]
    assert position_media(4, None) == ["sound:queue-thereare", "number:4",
                                       "sound:queue-callswaiting"]
    assert position_media(2, 20_000)[-3:] == ["sound:queue-holdtime", "number:1",
                                              "sound:queue-minutes"]


async def test_the_turn_does_not_wait_for_the_announcement(tmp_path: Path) -> None:
    lab = one_phone_queue(tmp_path, QueueRules(announce_position=True), talk_s=1.0)
    lab.place_call()  # answered at 1 s, the phone frees at 2 s
    waiting = lab.place_call(caller="13900139000")  # hears its place from 0 s to 2 s+
    lab.ari.sound_s = 5.0
    await lab.all_ended()
    assert lab.row(waiting).answered_at == T0 + timedelta(seconds=3)
    assert len(lab.ari.made("stop_playback")) == 1


async def test_without_the_database_a_waiter_still_gets_the_freed_phone(tmp_path: Path) -> None:
    lab = one_phone_queue(tmp_path)
    lab.store.go_down()  # no order across routers: it looks for an idle phone every second
    lab.place_call()
    lab.place_call(caller="13900139000")
    await lab.all_ended()
    rows = list(lab.store.rows(lab.store.spooled()).values())
    assert [(r.outcome, r.overflow) for r in rows] == [("answered", None),
                                                      ("answered", "queue")]
    assert lab.store.waiters == {}

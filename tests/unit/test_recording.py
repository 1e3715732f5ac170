"""Call recording against a scripted Asterisk: which calls are recorded, the
row each one leaves, and a recording that fails never failing the call."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

from router.ari import AriError
from router.call import Call, recording
from router.call.states import State
from router.directory import Overflow, Voicemail
from router.plan import Group, Member, Plan, Rule
from router.recordings import audio, orphans
from router.recordings.policy import RecordingPolicy
from router.records import kinds
from tests.unit.call_harness import CallLab, hotline
from tests.unit.scripted_ari import T0, Phone
from tests.unit.test_call_adoption import adopted_call, open_leg
from tests.unit.test_call_life import MENU_PLAN

pytestmark = pytest.mark.looptime

RECORD_ALL = RecordingPolicy(percent=100)


def stored(lab: CallLab) -> list[kinds.RecordingStored]:
    return [r for r in lab.store.written if isinstance(r, kinds.RecordingStored)]


async def answered_call(lab: CallLab, talk_s: float = 30.0) -> Call:
    call = lab.place_call()
    lab.ari.later(2.0 + talk_s, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    await recording.settle(10.0)
    return call


async def test_a_recorded_call_records_its_bridge_and_stores_a_row(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(recording=RECORD_ALL)], {"PJSIP/a": Phone(2.0)})
    call = await answered_call(lab, talk_s=30.0)

    # Recorded right after the caller joined the phone in the bridge.
    names = lab.ari.names()
    assert names.index("record_bridge") == names.index("add_to_bridge", 5) + 1
    request = lab.ari.made("record_bridge")[0]
    assert request.args[0] == str(call.id)
    assert (request["recording"], request["format"]) == (str(call.id), "wav")
    [row] = stored(lab)
    assert (row.call_id, row.name, row.format, row.asterisk) == (
        call.id, str(call.id), "wav", "asterisk.test:8088")
    assert row.started_at == T0 + timedelta(seconds=2)
    assert row.duration_ms == 30_000
    assert row.size_bytes == 44 + 30 * 16_000
    assert lab.row(call).outcome == "answered"


async def test_a_hotline_that_records_nothing_never_asks_asterisk(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(2.0)})
    await answered_call(lab)
    assert "record_bridge" not in lab.ari.names()
    assert stored(lab) == []


async def test_a_recording_asterisk_refuses_leaves_the_call_as_it_was(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(recording=RECORD_ALL)], {"PJSIP/a": Phone(2.0)})
    lab.ari.failures["record_bridge"] = AriError("POST", "/bridges/x/record", 500,
                                                 "Internal Server Error")
    call = await answered_call(lab, talk_s=30.0)

    row = lab.row(call)
    assert (row.outcome, row.billable_ms) == ("answered", 30_000)
    assert row.ended_at == T0 + timedelta(seconds=32)  # not a moment later
    assert stored(lab) == []
    assert lab.claims_held() == 0
    # Nothing is on its way: the call's end is told at once, not held for a recording.
    [ended] = [r for r in lab.store.written if isinstance(r, kinds.CallEnded)]
    assert not ended.recorded


async def test_a_recording_whose_file_never_appears_is_dropped_after_the_call(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(recording=RECORD_ALL)], {"PJSIP/a": Phone(2.0)})
    lab.ari.failures["recording_head"] = AriError("GET", "/recordings/stored/x/file", 404,
                                                  "Recording not found")
    call = await answered_call(lab, talk_s=5.0)
    assert lab.row(call).outcome == "answered"
    assert stored(lab) == []


async def test_the_notice_is_early_media_before_the_phones_ring(tmp_path: Path) -> None:
    policy = RecordingPolicy(percent=100, notice=("custom/may-be-recorded",))
    lab = CallLab(tmp_path, [hotline(recording=policy)], {"PJSIP/a": Phone(2.0)})
    call = await answered_call(lab)
    names = lab.ari.names()
    assert lab.ari.made("play")[0]["media"] == ["sound:custom/may-be-recorded"]
    # heard before the first phone is dialled, and without answering the caller
    assert names.index("play") < names.index("create_channel")
    assert "answer" not in names[:names.index("create_channel")]
    # Billed from the caller's answer in the bridge, not from the notice: the
    # notice plays 2 s, the phone answers 2 s after its dial, the caller hangs up at 32 s.
    row = lab.row(call)
    assert row.answered_at == T0 + timedelta(seconds=4)
    assert row.billable_ms == 28_000


def group_plan(record_percent: int | None) -> Plan:
    """Every caller goes to group "sales" (phone 2), which records ``record_percent``."""
    sales = Group(id=7, name="sales", strategy="sequential", strategy_options={},
                  members=(Member(phone_id=2, position=1, weight=1),),
                  record_percent=record_percent)
    return Plan(groups={7: sales},
                rules=(Rule(id=1, position=1, name="all", action="group", group_id=7),))


@pytest.mark.parametrize(("hotline_share", "group_share", "recorded"), [
    (0, 100, True),      # the group records though its hotline does not
    (100, 0, False),     # the group records nothing though its hotline records all
    (100, None, True),   # no share of its own: the hotline's
    (0, None, False)])
async def test_a_group_may_record_a_share_of_its_own(
        tmp_path: Path, hotline_share: int, group_share: int | None, recorded: bool) -> None:
    policy = RecordingPolicy(percent=hotline_share, notice=("custom/may-be-recorded",))
    lab = CallLab(tmp_path, [hotline(recording=policy, plan=group_plan(group_share))],
                  {"PJSIP/b": Phone(2.0)})
    call = await answered_call(lab)
    assert lab.row(call).answered_phone_id == 2
    assert ("record_bridge" in lab.ari.names()) is recorded
    assert len(stored(lab)) == int(recorded)
    # The notice tells only callers of a group that may record them.
    heard = [p["media"] for p in lab.ari.made("play")]
    assert (["sound:custom/may-be-recorded"] in heard) is recorded
    # The call's end says whether a recording is on its way (its notification waits).
    [ended] = [r for r in lab.store.written if isinstance(r, kinds.CallEnded)]
    assert ended.recorded is recorded


async def test_before_a_menu_the_notice_plays_when_any_group_may_record(
        tmp_path: Path) -> None:
    groups = {7: Group(id=7, name="sales", strategy="sequential", strategy_options={},
                       members=(Member(phone_id=2, position=1, weight=1),),
                       record_percent=100)}
    menu_plan = Plan(groups=groups, rules=(Rule(id=1, position=1, name="ivr", action="menu",
                                                  menu_id=3),),
                     menus=MENU_PLAN.menus)
    policy = RecordingPolicy(percent=0, notice=("custom/may-be-recorded",))
    lab = CallLab(tmp_path, [hotline(recording=policy, plan=menu_plan)], {"PJSIP/b": Phone(2.0)})
    call = lab.place_call()
    lab.ari.later(0.5, lambda: lab.ari.press(call.caller.id, "1"))
    lab.ari.later(20.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    await recording.settle(10.0)
    assert lab.ari.made("play")[0]["media"] == ["sound:custom/may-be-recorded"]
    assert len(stored(lab)) == 1  # the key led to the recording group


def test_only_names_the_router_gives_are_taken_for_a_call() -> None:
    call_id = "0b6f4c1e-8a7d-4f3e-9c2b-5d1a6e7f8a9b"
    assert orphans.call_of(call_id) == (UUID(call_id), "call")
    assert orphans.call_of(f"vm-{call_id}") == (UUID(call_id), "voicemail")
    for other in ("", "greeting", f"x-{call_id}", f"{call_id}-2", call_id.upper(),
                  f"vm-{call_id}.wav"):
        assert orphans.call_of(other) is None, other


def test_a_share_records_about_that_share_of_calls() -> None:
    rng = random.Random(7)
    share = RecordingPolicy(percent=25)
    recorded = sum(share.records(rng) for _ in range(10_000))
    assert 2_300 < recorded < 2_700
    assert not RecordingPolicy(percent=0).records(rng)
    assert all(RecordingPolicy(percent=100).records(rng) for _ in range(100))


def test_durations_come_from_the_formats_byte_rates() -> None:
    assert audio.duration_ms("ulaw", 8_000 * 3, b"") == 3_000
    assert audio.duration_ms("gsm", 1_650 * 2, b"") == 2_000
    assert audio.duration_ms("sln", 16_000, b"") == 1_000
    with pytest.raises(audio.NotAudio):
        audio.duration_ms("wav", 100, b"not a wav file at all")


async def test_an_adopted_bridged_call_keeps_its_recording(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(recording=RECORD_ALL)])
    leg = open_leg(1, answered=True)
    lab.ari.add_channel(str(leg.leg_id), "PJSIP/1", state="Up")
    call = adopted_call(lab, [leg], {str(leg.leg_id): "Up"})
    lab.ari.recording(str(call.id), str(call.id), "gsm")  # the stopped router started it
    lab.ari.later(20.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    await recording.settle(10.0)
    [row] = stored(lab)
    assert (row.name, row.format, row.started_at) == (str(call.id), "gsm", T0)
    assert "record_bridge" not in lab.ari.names()  # not a second recording


CLOSED_PLAN = Plan(rules=(Rule(id=1, position=1, name="night", action="closed"),))


async def test_after_hours_the_caller_leaves_a_message(tmp_path: Path) -> None:
    voice = Voicemail(when_closed=True, max_s=30, prompt=("vm-intro",))
    lab = CallLab(tmp_path, [hotline(plan=CLOSED_PLAN, voicemail=voice)])
    call = lab.place_call()
    # prompt 2 s (answered at once), then 8 s of message, then the caller hangs up
    lab.ari.later(10.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    names = lab.ari.names()
    assert names.index("answer") < names.index("play") < names.index("record_channel")
    assert "create_channel" not in names  # no phone rang
    request = lab.ari.made("record_channel")[0]
    assert (request["recording"], request["max_duration_s"]) == (f"vm-{call.id}", 30)
    [message] = stored(lab)
    assert (message.recording_kind, message.name, message.duration_ms) == (
        "voicemail", f"vm-{call.id}", 8_000)
    row = lab.row(call)
    assert row.outcome == "closed"
    assert row.billable_ms == 10_000  # from the caller's answer, the one rule


async def test_a_message_survives_answers_lost_while_it_is_recorded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ARI answers lost meanwhile (the websocket dropped, Asterisk's 5xx): the
    message is followed on and stored, its row written."""
    voice = Voicemail(when_closed=True, max_s=30, prompt=("vm-intro",))
    lab = CallLab(tmp_path, [hotline(plan=CLOSED_PLAN, voicemail=voice)])
    asked = 0
    live = lab.ari.live_recording

    async def flaky(name: str) -> object:
        nonlocal asked
        asked += 1
        if asked % 3 == 1:  # every third answer lost, the first ones included
            raise AriError("GET", f"/recordings/live/{name}", 0, "unreachable")
        return await live(name)

    monkeypatch.setattr(lab.ari, "live_recording", flaky)
    call = lab.place_call()
    lab.ari.later(10.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    [message] = stored(lab)
    assert (message.recording_kind, message.duration_ms) == ("voicemail", 8_000)
    assert lab.row(call).billable_ms == 10_000


async def test_when_no_phone_answers_the_overflow_takes_a_message(tmp_path: Path) -> None:
    voice = Voicemail(max_s=20)
    lab = CallLab(tmp_path, [hotline(("PJSIP/a",), overflow=Overflow.VOICEMAIL,
                                     total_timeout_s=5, voicemail=voice)],
                  {"PJSIP/a": Phone(answer_after_s=None)})
    call = lab.place_call()
    await lab.all_ended()  # the message runs to its longest, then the call ends
    row = lab.row(call)
    assert (row.outcome, row.overflow) == ("no-answer", "voicemail")
    [message] = stored(lab)
    assert (message.recording_kind, message.duration_ms) == ("voicemail", 20_000)
    assert call.state.current is State.ENDED
    assert lab.claims_held() == 0


async def test_a_caller_gone_before_the_beep_leaves_no_message(tmp_path: Path) -> None:
    voice = Voicemail(when_closed=True)
    lab = CallLab(tmp_path, [hotline(plan=CLOSED_PLAN, voicemail=voice)])
    call = lab.place_call()
    lab.ari.later(1.0, lambda: lab.ari.hang_up(call.caller.id))  # during the prompt
    await lab.all_ended()
    assert "record_channel" not in lab.ari.names()
    assert stored(lab) == []
    assert lab.row(call).outcome == "closed"

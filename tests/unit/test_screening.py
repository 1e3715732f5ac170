"""Answer screening, the whisper and the caller id shown, against a scripted Asterisk.

A screened phone that answers hears the whisper and the prompt on its own
channel; the caller stays unanswered until a phone presses the confirm key.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from router.ari import AriError
from router.call import Call
from router.call.legs import Leg
from router.call.screening import Screen, caller_id_for, explain, screen_for
from router.directory import Hotline, Screening
from router.plan import Group
from tests.unit.call_harness import CallLab, hotline
from tests.unit.scripted_ari import T0, Phone

pytestmark = pytest.mark.looptime

RINGS = Phone(answer_after_s=None)
SCREENED = Screening(confirm_key="1", confirm_timeout_s=10, confirm_prompt=("beep",),
                     whisper=("call-from-400",))


def group(**overrides: object) -> Group:
    return Group(id=7, name="sales", strategy="sequential", strategy_options={},
                 **overrides)  # type: ignore[arg-type]


def test_the_binding_overrides_the_group_which_overrides_the_hotline() -> None:
    assert screen_for(Screening(), None, None) is None
    assert screen_for(SCREENED, None, None) == Screen("1", 10.0, ("call-from-400", "beep"))
    assert screen_for(SCREENED, group(confirm_key="#"), None) == Screen(
        "#", 10.0, ("call-from-400", "beep"))
    assert screen_for(SCREENED, group(confirm_key="#"), "none") == Screen(
        None, 10.0, ("call-from-400",))  # no key, the whisper still plays
    assert screen_for(Screening(), group(confirm_key="5"), None) == Screen("5", 10.0, ("beep",))
    assert screen_for(Screening(whisper=("w",)), group(confirm_key="none"), None) == Screen(
        None, 10.0, ("w",))
    assert screen_for(Screening(confirm_key="1"), None, "none") is None


def test_the_caller_id_shown_is_the_callers_the_hotlines_or_prefixed() -> None:
    assert caller_id_for(Screening(), None, "13800138000", "4001234567") == (
        "13800138000", "4001234567")
    assert caller_id_for(Screening(), None, "", "4001234567") == ("anonymous", "4001234567")
    assert caller_id_for(Screening(caller_id_shown="hotline"), None, "13800138000",
                         "4001234567") == ("4001234567", "4001234567")
    assert caller_id_for(Screening(caller_id_shown="prefix", caller_id_prefix="400-"), None,
                         "13800138000", "4001234567") == ("400-13800138000", "400-13800138000")
    assert caller_id_for(Screening(caller_id_shown="hotline"), group(caller_id_prefix="sales-"),
                         "13800138000", "4001234567") == ("sales-13800138000",
                                                          "sales-13800138000")


def leg(call: Call, n: int) -> Leg:
    """The call's ``n``-th leg, in the order it was rung."""
    return list(call.legs)[n]


def screened(dials: tuple[str, ...] = ("PJSIP/a", "PJSIP/b"), strategy: str = "sequential",
             screening: Screening = SCREENED) -> Hotline:
    return hotline(dials, strategy=strategy, ring_timeout_s=15, screening=screening)


async def test_a_phone_that_answers_and_never_confirms_is_skipped_and_the_next_one_confirms(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [screened()],
                  {"PJSIP/a": Phone(answer_after_s=0.5), "PJSIP/b": Phone(answer_after_s=1.0)},
                  sound_s=1.0)
    call = lab.place_call()

    def confirm_b() -> None:
        lab.ari.press(leg(call, 1).channel_id, "1")

    # a answers at 0.5 s, whisper+prompt play 2 s, then 10 s: unconfirmed at 12.5 s;
    # b rings from 12.5 s, answers at 13.5 s, confirms 3 s later.
    lab.ari.later(16.5, confirm_b)
    lab.ari.later(30.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()

    row = lab.row(call)
    assert (row.outcome, row.results(), row.answered_phone_id) == (
        "answered", ["unconfirmed", "answered"], 2)
    first, _ = row.legs.values()
    assert first["answered_at"] == T0 + timedelta(seconds=0.5)  # its own answer, kept
    assert first["ended_at"] == T0 + timedelta(seconds=12.5)
    assert row.answered_at == T0 + timedelta(seconds=13.5)  # b's own answer
    assert row.caller_answered_at == T0 + timedelta(seconds=16.5)  # its confirmation
    assert row.billable_ms == 13_500
    assert lab.store.most_calls == {1: 1, 2: 1}
    assert lab.claims_held() == 0
    # The whisper and the prompt went to the phones' channels, never the caller's.
    plays = lab.ari.made("play")
    assert [p.args[0] for p in plays] == [leg.channel_id for leg in call.legs]
    assert all(p["media"] == ["sound:call-from-400", "sound:beep"] for p in plays)
    names = lab.ari.names()
    assert names.index("answer") > names.index("stop_playback")  # answered after the key


async def test_a_wrong_key_or_a_hangup_ends_the_leg_unconfirmed_at_once(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [screened(("PJSIP/a", "PJSIP/b", "PJSIP/c"))],
                  {"PJSIP/a": Phone(answer_after_s=0.5), "PJSIP/b": Phone(answer_after_s=0.5),
                   "PJSIP/c": RINGS}, sound_s=1.0)
    call = lab.place_call()
    lab.ari.later(1.0, lambda: lab.ari.press(leg(call, 0).channel_id, "2"))
    lab.ari.later(2.0, lambda: lab.ari.hang_up(leg(call, 1).channel_id))
    lab.ari.later(4.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    row = lab.row(call)
    assert row.outcome == "abandoned"
    assert row.results() == ["unconfirmed", "unconfirmed", "cancelled"]
    ends = [leg["ended_at"] for leg in row.legs.values()]
    assert ends == [T0 + timedelta(seconds=1), T0 + timedelta(seconds=2),
                    T0 + timedelta(seconds=4)]
    assert "answer" not in lab.ari.names()  # the caller was never answered
    assert row.billable_ms == 0
    assert lab.claims_held() == 0


async def test_under_simultaneous_ring_the_first_to_confirm_wins(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [screened(("PJSIP/a", "PJSIP/b"), strategy="simultaneous")],
                  {"PJSIP/a": Phone(answer_after_s=0.5), "PJSIP/b": Phone(answer_after_s=1.0)},
                  sound_s=1.0)
    call = lab.place_call()
    lab.ari.later(4.0, lambda: lab.ari.press(leg(call, 1).channel_id, "1"))
    lab.ari.later(10.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    row = lab.row(call)
    assert (row.results(), row.answered_phone_id) == (["cancelled", "answered"], 2)
    assert row.caller_answered_at == T0 + timedelta(seconds=4)
    assert row.billable_ms == 6_000
    first = lab.ari.made("hangup")[0]
    assert (first.args[0], first["reason"]) == (leg(call, 0).channel_id,
                                                "answered_elsewhere")
    assert lab.claims_held() == 0


async def test_a_whisper_alone_plays_to_the_phone_then_bridges(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [screened(("PJSIP/a",), screening=Screening(whisper=("w1", "w2")))],
                  {"PJSIP/a": Phone(answer_after_s=1.0)}, sound_s=1.0)
    call = lab.place_call()
    lab.ari.later(10.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    row = lab.row(call)
    assert row.results() == ["answered"]
    (play,) = lab.ari.made("play")
    assert (play.args[0], play["media"]) == (leg(call, 0).channel_id,
                                             ["sound:w1", "sound:w2"])
    assert row.answered_at == T0 + timedelta(seconds=1)
    assert row.caller_answered_at == T0 + timedelta(seconds=3)  # after the 2 s whisper
    assert row.billable_ms == 7_000


async def test_a_ringback_sound_loops_as_early_media_and_an_unanswered_call_bills_nothing(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(("PJSIP/a",), total_timeout_s=9,
                                     screening=Screening(ringback=("my-ringback",)))],
                  {"PJSIP/a": RINGS}, sound_s=2.0)
    call = lab.place_call()
    await lab.all_ended()
    row = lab.row(call)
    assert (row.outcome, row.results(), row.billable_ms) == ("no-answer", ["no-answer"], 0)
    assert row.caller_answered_at is None
    names = lab.ari.names()
    assert "answer" not in names
    assert names.index("progress") < names.index("play")
    rounds = [p for p in lab.ari.made("play") if p["media"] == ["sound:my-ringback"]]
    assert len(rounds) >= 4  # 2 s a round, looped for the 9 s the phone rang
    assert all(p.args[0] == call.caller.id for p in rounds)
    assert lab.ari.made("stop_playback")  # stopped before the busy announcement


async def test_the_ringback_sound_stops_when_the_phone_is_bridged(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline(("PJSIP/a",),
                                     screening=Screening(ringback=("my-ringback",)))],
                  {"PJSIP/a": Phone(answer_after_s=3.0, talk_s=4.0)}, sound_s=2.0)
    call = lab.place_call()
    await lab.all_ended()
    names = lab.ari.names()
    assert names.index("stop_playback") < names.index("answer") < names.index("add_to_bridge")
    row = lab.row(call)
    assert (row.outcome, row.billable_ms) == ("answered", 4_000)


def test_plan_explain_says_what_is_heard_shown_and_billed() -> None:
    lab_hotline = hotline(("PJSIP/a", "PJSIP/b"), screening=Screening(
        confirm_key="1", confirm_timeout_s=8, confirm_prompt=("beep",), whisper=("w",),
        ringback=("my-ringback",), caller_id_shown="hotline"))
    said = explain(lab_hotline, lab_hotline.default_group(), "13800138000", menu=False)
    assert said == {
        "screening": "confirm key 1 within 8 s after 'beep'; no key: unconfirmed, "
                     "the hunt goes on",
        "whisper": "w",
        "ringback": "'my-ringback' looped as early media (企业彩铃, not billed)",
        "caller_id_shown": "4001234567 (4001234567)",
        "billing_starts": "at the phone's confirm key"}
    plain = hotline(("PJSIP/a",))
    said = explain(plain, plain.default_group(), "13800138000", menu=True)
    assert (said["screening"], said["ringback"], said["billing_starts"]) == (
        "off: the first phone to answer takes the call", "the ring tone",
        "at the voice menu's answer")


async def test_a_prompt_that_cannot_play_still_gives_the_phone_its_timeout(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [screened(("PJSIP/a",))], {"PJSIP/a": Phone(answer_after_s=1.0)})
    lab.ari.failures["play"] = AriError("POST", "/channels/x/play", 500, "no such sound")
    call = lab.place_call()
    await lab.all_ended()
    row = lab.row(call)
    assert row.results() == ["unconfirmed"]
    (ended,) = [leg["ended_at"] for leg in row.legs.values()]
    assert ended == T0 + timedelta(seconds=11)  # answered at 1 s, then its 10 s
    assert row.outcome == "no-answer"
    assert lab.claims_held() == 0

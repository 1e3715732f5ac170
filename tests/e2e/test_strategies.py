"""Every built-in answering rule with real sipp phones: the leg records show the rule."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.conftest import PhoneFactory, add_hotline, legs_of, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess

pytestmark = pytest.mark.lab


async def call_in_turn(lab: AsteriskLab, db: Any, number: str, calls: int,
                       hold_ms: int = 300) -> list[list[Any]]:
    """Place ``calls`` calls one after another; the legs of each, in ring order."""
    for n in range(calls):
        seen = await sipp.call(lab.sip_address, number, caller=f"1380000{n:04d}",
                               hold_ms=hold_ms)
        assert seen.result == "answered", seen.errors
        await wait_for_call(db, number, count=n + 1)
    rows = await wait_for_call(db, number, count=calls)
    return [await legs_of(db, row["id"]) for row in rows]


def first_phone(legs: list[Any]) -> int:
    return int(legs[0]["phone_id"])


def answered_phone(legs: list[Any]) -> int:
    (answered,) = [leg for leg in legs if leg["result"] == "answered"]
    return int(answered["phone_id"])


async def test_sequential_starts_at_the_top_and_hunts_past_a_busy_phone(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    bound = [phones(reject_code=486), phones(), phones()]
    ids = list((await add_hotline(db, hotline_number, bound, "sequential")).values())

    per_call = await call_in_turn(lab, db, hotline_number, 3)

    for legs in per_call:
        assert [(leg["phone_id"], leg["result"]) for leg in legs] == [
            (ids[0], "busy"), (ids[1], "answered")]


async def test_random_spreads_first_rings_over_the_phones(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    ids = list((await add_hotline(db, hotline_number, [phones() for _ in range(4)],
                                  "random")).values())

    per_call = await call_in_turn(lab, db, hotline_number, 12)

    firsts = Counter(first_phone(legs) for legs in per_call)
    assert set(firsts) <= set(ids)
    assert len(firsts) >= 3  # all 12 on two phones or fewer: p < 0.002


async def test_round_robin_gives_three_phones_three_calls_each_of_nine(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    ids = list((await add_hotline(db, hotline_number, [phones() for _ in range(3)],
                                  "round_robin")).values())

    per_call = await call_in_turn(lab, db, hotline_number, 9)

    assert [first_phone(legs) for legs in per_call] == ids * 3
    assert Counter(answered_phone(legs) for legs in per_call) == {i: 3 for i in ids}


async def test_simultaneous_rings_all_and_bridges_the_first_to_answer(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    slow, quick, slower = (phones(answer_after_ms=2500), phones(answer_after_ms=500),
                           phones(answer_after_ms=4000))
    ids = await add_hotline(db, hotline_number, [slow, quick, slower], "simultaneous",
                            ring_timeout_s=10)

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=1000)

    assert seen.result == "answered", seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert call["answered_dial_string"] == quick.dial_string
    legs = await legs_of(db, call["id"])
    assert {leg["wave"] for leg in legs} == {1}
    starts = [leg["dial_started_at"] for leg in legs]
    assert (max(starts) - min(starts)).total_seconds() < 0.5  # rung together
    assert {leg["phone_id"]: leg["result"] for leg in legs} == {
        ids[slow.dial_string]: "cancelled", ids[quick.dial_string]: "answered",
        ids[slower.dial_string]: "cancelled"}
    assert [r["result"] for r in slow.results()] == ["cancelled"]
    assert [r["result"] for r in slower.results()] == ["cancelled"]


async def test_weighted_never_starts_at_a_phone_with_no_share(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    ids = list((await add_hotline(db, hotline_number, [phones(), phones()],
                                  "weighted")).values())
    await db.execute("UPDATE bound_phones SET weight = 0 WHERE phone_id = $1", ids[0])

    per_call = await call_in_turn(lab, db, hotline_number, 5)

    assert [first_phone(legs) for legs in per_call] == [ids[1]] * 5


async def test_longest_idle_rotates_to_the_phone_idle_longest(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    ids = list((await add_hotline(db, hotline_number, [phones() for _ in range(3)],
                                  "longest_idle")).values())

    per_call = await call_in_turn(lab, db, hotline_number, 4)

    # never-used phones first (in admin order), then the one idle longest
    assert [answered_phone(legs) for legs in per_call] == [ids[0], ids[1], ids[2], ids[0]]


async def test_fewest_calls_today_goes_to_the_least_loaded_phone(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    ids = list((await add_hotline(db, hotline_number, [phones() for _ in range(3)],
                                  "fewest_calls")).values())
    for phone_id, calls in zip(ids, [2, 0, 1], strict=True):
        await db.execute("UPDATE phone_state SET calls_today = $2, stats_day = stats_today() "
                         "WHERE phone_id = $1", phone_id, calls)

    per_call = await call_in_turn(lab, db, hotline_number, 4)

    # counts go 2,0,1 -> 2,1,1 -> 2,2,1 -> 2,2,2 -> 3,2,2
    assert [answered_phone(legs) for legs in per_call] == [ids[1], ids[1], ids[2], ids[0]]


async def test_least_talk_time_today_goes_to_the_phone_that_talked_least(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    ids = list((await add_hotline(db, hotline_number, [phones() for _ in range(3)],
                                  "least_talk_time")).values())
    for phone_id, talk_ms in zip(ids, [60_000, 0, 1_000], strict=True):
        await db.execute("UPDATE phone_state SET talk_ms_today = $2, stats_day = stats_today() "
                         "WHERE phone_id = $1", phone_id, talk_ms)

    per_call = await call_in_turn(lab, db, hotline_number, 3, hold_ms=2000)

    # talk goes 60,0,1 s -> 60,2,1 -> 60,2,3 -> 60,4,3
    assert [answered_phone(legs) for legs in per_call] == [ids[1], ids[2], ids[1]]
    talk = await db.fetchval("SELECT talk_ms_today FROM phone_state WHERE phone_id = $1", ids[1])
    assert 3500 < talk < 5000


async def test_ring_progressively_adds_a_phone_while_the_first_keeps_ringing(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    silent, answers = phones(answer_after_ms=None), phones(answer_after_ms=1000)
    ids = await add_hotline(db, hotline_number, [silent, answers], "ring_progressively",
                            ring_timeout_s=20)
    await db.execute("UPDATE hotlines SET strategy_options = '{\"interval_s\": 2}' "
                     "WHERE number = $1", hotline_number)

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=1000)

    assert seen.result == "answered", seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    first, second = await legs_of(db, call["id"])
    assert first["phone_id"] == ids[silent.dial_string]
    assert second["phone_id"] == ids[answers.dial_string]
    added_after = (second["dial_started_at"] - first["dial_started_at"]).total_seconds()
    assert 1.8 < added_after < 2.8
    assert first["result"] == "cancelled"  # still ringing when the second answered
    assert first["ended_at"] >= second["answered_at"]
    assert second["result"] == "answered"

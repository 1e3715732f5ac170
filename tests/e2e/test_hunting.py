"""Hunting limits, busy state and overflow, with real calls through the lab."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import PhoneFactory, add_hotline, legs_of, wait_for_call, wait_until_answered
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess

pytestmark = pytest.mark.lab


async def configure(db: Any, number: str, **columns: Any) -> None:
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(columns, start=2))
    await db.execute(f"UPDATE hotlines SET {assignments} WHERE number = $1", number,
                     *columns.values())


async def test_total_timeout_stops_the_hunt(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    silent = [phones(answer_after_ms=None) for _ in range(3)]
    ids = list((await add_hotline(db, hotline_number, silent, ring_timeout_s=2)).values())
    await configure(db, hotline_number, total_timeout_s=3)

    seen = await sipp.call(lab.sip_address, hotline_number)

    assert (seen.result, seen.status) == ("rejected", 480), seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert call["outcome"] == "no-answer"
    legs = await legs_of(db, call["id"])
    assert [leg["phone_id"] for leg in legs] == ids[:2]  # the third never rang
    hunted_for = (legs[-1]["ended_at"] - legs[0]["dial_started_at"]).total_seconds()
    assert 2.8 < hunted_for < 3.8


async def test_max_attempts_caps_the_phones_rung(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    await add_hotline(db, hotline_number, [phones(reject_code=486) for _ in range(3)])
    await configure(db, hotline_number, max_attempts=2)

    seen = await sipp.call(lab.sip_address, hotline_number)

    assert (seen.result, seen.status) == ("rejected", 486), seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert len(await legs_of(db, call["id"])) == 2


async def test_a_phone_in_wrap_up_is_not_idle(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    first, second = phones(), phones()
    ids = list((await add_hotline(db, hotline_number, [first, second])).values())
    await db.execute("UPDATE phones SET wrap_up_s = 30 WHERE id = $1", ids[0])

    for n in range(2):
        seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=300)
        assert seen.result == "answered", seen.errors
        await wait_for_call(db, hotline_number, count=n + 1)

    calls = await wait_for_call(db, hotline_number, count=2)
    assert [c["answered_phone_id"] for c in calls] == ids  # the second skipped wrap-up
    assert [len(await legs_of(db, c["id"])) for c in calls] == [1, 1]


async def test_a_phone_takes_as_many_calls_as_its_capacity(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    shared, spare = phones(), phones()
    ids = list((await add_hotline(db, hotline_number, [shared, spare])).values())
    await db.execute("UPDATE phones SET capacity = 2 WHERE id = $1", ids[0])

    async def caller(delay_s: float, n: int) -> sipp.CallResult:
        await asyncio.sleep(delay_s)
        return await sipp.call(lab.sip_address, hotline_number, caller=f"1390000000{n}",
                               hold_ms=3000)

    seen = await asyncio.gather(caller(0, 1), caller(0.7, 2), caller(1.4, 3))

    assert [s.result for s in seen] == ["answered"] * 3, [s.errors for s in seen]
    calls = await wait_for_call(db, hotline_number, count=3)
    assert [c["answered_phone_id"] for c in calls] == [ids[0], ids[0], ids[1]]


async def hold_the_only_phone(db: Any, lab: AsteriskLab, number: str,
                              hold_ms: int) -> asyncio.Task[Any]:
    """A first caller takes the hotline's only phone for ``hold_ms``."""
    task = asyncio.ensure_future(sipp.call(lab.sip_address, number, caller="13911110000",
                                           hold_ms=hold_ms))
    await wait_until_answered(db, number, "13911110000")
    return task


async def test_queue_overflow_plays_music_then_rings_the_phone_once_it_frees(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    phone = phones(answer_after_ms=300)
    await add_hotline(db, hotline_number, [phone])
    await configure(db, hotline_number, overflow="queue", overflow_max_wait_s=20)
    first = await hold_the_only_phone(db, lab, hotline_number, hold_ms=3000)

    waiting = await sipp.call(lab.sip_address, hotline_number, caller="13922220000",
                              hold_ms=1000)

    assert (await first).result == "answered"
    assert waiting.result == "answered", waiting.errors
    calls = await wait_for_call(db, hotline_number, count=2)
    queued = next(c for c in calls if c["caller"] == "13922220000")
    assert (queued["outcome"], queued["overflow"]) == ("answered", "queue")
    (leg,) = await legs_of(db, queued["id"])
    waited = (leg["dial_started_at"] - queued["started_at"]).total_seconds()
    assert 1.0 < waited < 4.0  # rang as soon as the first call freed the phone
    assert queued["billable_ms"] < 1500  # the wait with music is not billable


async def test_queue_overflow_gives_up_after_the_maximum_wait(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    await add_hotline(db, hotline_number, [phones()])
    await configure(db, hotline_number, overflow="queue", overflow_max_wait_s=2)
    first = await hold_the_only_phone(db, lab, hotline_number, hold_ms=8000)

    waiting = await sipp.call(lab.sip_address, hotline_number, caller="13933330000")

    assert (waiting.result, waiting.status) == ("rejected", 486), waiting.errors
    assert waiting.t_end is not None
    assert waiting.t_invite is not None
    assert waiting.t_end - waiting.t_invite > 2.0
    await first
    calls = await wait_for_call(db, hotline_number, count=2)
    gave_up = next(c for c in calls if c["caller"] == "13933330000")
    assert (gave_up["outcome"], gave_up["overflow"], gave_up["billable_ms"]) == (
        "busy", "queue", 0)


async def test_forward_overflow_rings_the_fallback_number(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    fallback = phones(answer_after_ms=300)
    await add_hotline(db, hotline_number, [phones(reject_code=486), phones(reject_code=486)])
    await configure(db, hotline_number, overflow="forward",
                    overflow_forward_to=fallback.dial_string)

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=1500)

    assert seen.result == "answered", seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert (call["outcome"], call["overflow"], call["answered_dial_string"]) == (
        "answered", "forward", fallback.dial_string)
    assert call["answered_phone_id"] is None
    assert abs(call["billable_ms"] / 1000 - 1.5) < 0.5
    legs = await legs_of(db, call["id"])
    assert [(leg["purpose"], leg["result"]) for leg in legs] == [
        ("phone", "busy"), ("phone", "busy"), ("overflow-forward", "answered")]


async def test_busy_overflow_is_recorded(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    await add_hotline(db, hotline_number, [phones(reject_code=486)])

    seen = await sipp.call(lab.sip_address, hotline_number)

    assert (seen.result, seen.status) == ("rejected", 486), seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert (call["outcome"], call["overflow"]) == ("busy", "busy")

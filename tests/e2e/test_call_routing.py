"""A real 400 call, end to end: sipp caller -> lab Asterisk -> router -> sipp phones.

Each test asserts on what the SIP peers saw and on the records the router wrote.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import PhoneFactory, add_hotline, legs_of, wait_for_call
from tests.lab import asterisk, sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess

pytestmark = pytest.mark.lab


async def no_claims_left(db: Any, phone_ids: Any) -> None:
    rows = await db.fetch("SELECT phone_id, active_calls FROM phone_state WHERE phone_id = ANY($1)",
                          list(phone_ids))
    assert {r["phone_id"]: r["active_calls"] for r in rows} == {p: 0 for p in phone_ids}
    assert await db.fetchval("SELECT count(*) FROM phone_claims WHERE phone_id = ANY($1)",
                             list(phone_ids)) == 0


async def test_bridged_call_bills_the_callers_talk_time(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    phone = phones(answer_after_ms=300)
    ids = await add_hotline(db, hotline_number, [phone])

    seen = await sipp.call(lab.sip_address, hotline_number, caller="13912345678", hold_ms=3000)

    assert seen.result == "answered", seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert call["outcome"] == "answered"
    assert call["caller"] == "13912345678"
    assert call["answered_dial_string"] == phone.dial_string
    assert abs(call["billable_ms"] / 1000 - seen.talk_seconds) < 0.5
    assert abs(call["billable_ms"] / 1000 - 3.0) < 0.5
    for stamp in ("started_at", "answered_at", "ended_at"):
        assert call[stamp].utcoffset().total_seconds() == 0
        assert call[stamp].microsecond % 1000 == 0  # stored to the millisecond
    (leg,) = await legs_of(db, call["id"])
    assert leg["result"] == "answered"
    assert leg["answered_at"] == call["answered_at"]
    await no_claims_left(db, ids.values())


async def test_busy_first_phone_hunts_to_the_second(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    busy, answers = phones(reject_code=486), phones(answer_after_ms=200)
    ids = await add_hotline(db, hotline_number, [busy, answers])

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=1000)

    assert seen.result == "answered", seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert call["answered_dial_string"] == answers.dial_string
    legs = await legs_of(db, call["id"])
    assert [(leg["dial_string"], leg["result"]) for leg in legs] == [
        (busy.dial_string, "busy"), (answers.dial_string, "answered")]
    assert [r["status"] for r in busy.results()] == ["486"]
    await no_claims_left(db, ids.values())


async def test_unanswered_phone_times_out_and_the_next_one_rings(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    silent, answers = phones(answer_after_ms=None), phones(answer_after_ms=200)
    ids = await add_hotline(db, hotline_number, [silent, answers], ring_timeout_s=2)

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=1000)

    assert seen.result == "answered", seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    first, second = await legs_of(db, call["id"])
    assert (first["dial_string"], first["result"]) == (silent.dial_string, "no-answer")
    rang_for = (first["ended_at"] - first["dial_started_at"]).total_seconds()
    assert 1.8 < rang_for < 3.0
    assert (second["dial_string"], second["result"]) == (answers.dial_string, "answered")
    assert [r["result"] for r in silent.results()] == ["cancelled"]
    await no_claims_left(db, ids.values())


async def test_every_phone_busy_gives_a_busy_outcome_and_bills_nothing(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    bound = [phones(reject_code=486), phones(reject_code=486)]
    ids = await add_hotline(db, hotline_number, bound)

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=1000)

    assert (seen.result, seen.status) == ("rejected", 486), seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert call["outcome"] == "busy"
    assert call["answered_at"] is None
    assert call["billable_ms"] == 0
    assert [leg["result"] for leg in await legs_of(db, call["id"])] == ["busy", "busy"]
    await no_claims_left(db, ids.values())


async def test_no_idle_phone_gives_busy_without_ringing_anyone(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    phone = phones(answer_after_ms=200)
    ids = await add_hotline(db, hotline_number, [phone])
    (phone_id,) = ids.values()
    # Another call (of another router) holds the phone's only slot.
    await db.execute("UPDATE phone_state SET active_calls = 1 WHERE phone_id = $1", phone_id)
    try:
        seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=1000)
    finally:
        await db.execute("UPDATE phone_state SET active_calls = 0 WHERE phone_id = $1", phone_id)

    assert (seen.result, seen.status) == ("rejected", 486), seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert call["outcome"] == "busy"
    assert await legs_of(db, call["id"]) == []
    assert phone.results() == []


async def test_unknown_number_is_announced_and_refused(
        db: Any, lab: AsteriskLab, router: RouterProcess) -> None:
    seen = await sipp.call(lab.sip_address, "4009999999", hold_ms=1000)

    assert (seen.result, seen.status) == ("rejected", 404), seen.errors
    assert seen.t_end is not None
    assert seen.t_invite is not None
    assert seen.t_end - seen.t_invite > 1.0  # the announcement played first
    (call,) = await wait_for_call(db, "4009999999")
    assert call["outcome"] == "unknown-number"
    assert call["hotline_id"] is None
    assert call["billable_ms"] == 0


async def test_caller_hanging_up_while_ringing_cancels_the_legs(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    phone = phones(answer_after_ms=None)
    ids = await add_hotline(db, hotline_number, [phone], ring_timeout_s=10)

    seen = await sipp.call(lab.sip_address, hotline_number, cancel_after_ms=1500)

    assert seen.result == "cancelled", seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert call["outcome"] == "abandoned"
    assert call["answered_at"] is None
    assert call["billable_ms"] == 0
    (leg,) = await legs_of(db, call["id"])
    assert leg["result"] == "cancelled"
    await no_claims_left(db, ids.values())
    await asyncio.sleep(0.5)
    assert [r["result"] for r in phone.results()] == ["cancelled"]  # it stopped ringing


async def test_phone_hanging_up_first_ends_the_call(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    phone = phones(answer_after_ms=200, hangup_after_ms=1500)
    ids = await add_hotline(db, hotline_number, [phone])

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=20_000)

    assert (seen.result, seen.ended_by) == ("answered", "remote"), seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert call["outcome"] == "answered"
    assert abs(call["billable_ms"] / 1000 - 1.5) < 0.5
    assert abs(call["billable_ms"] / 1000 - seen.talk_seconds) < 0.5
    await no_claims_left(db, ids.values())


async def test_plain_stasis_mode_routes_the_same_way(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    phone = phones(answer_after_ms=200)
    await add_hotline(db, hotline_number, [phone])
    asterisk.set_global(lab, "ROUTER_MODE", "stasis")
    try:
        assert "ROUTER_MODE=stasis" in asterisk.cli(lab, "dialplan show globals")
        seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=1000)
    finally:
        asterisk.set_global(lab, "ROUTER_MODE", "broadcast")

    assert seen.result == "answered", seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert (call["outcome"], call["answered_dial_string"]) == ("answered", phone.dial_string)

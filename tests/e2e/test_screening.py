"""Answer screening, the whisper and 企业彩铃 on real calls: sipp caller -> lab
Asterisk -> router -> sipp phones.

A voicemail stand-in is a phone that answers at once and never presses a key;
a person is a phone that answers and presses RFC 2833 ``1`` (sip-tester's
recording). The caller's own log says whether, and when, it got 180/183 and
200 OK; the phones' logs say when they answered and pressed the key.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from router import admin
from tests.conftest import PhoneFactory, legs_of, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess

pytestmark = pytest.mark.lab

KEY_1 = "/usr/share/sip-tester/dtmf_2833_1.pcap"


def seconds(value: str) -> float:
    """A sipp time as the scenarios log it: '<s>.000000.<us>.000000'."""
    parts = value.split(".")
    return int(parts[0]) + int(parts[2]) / 1e6


async def screened_hotline(db: Any, number: str, bound: list[sipp.Phone],
                           strategy: str = "sequential", ring_timeout_s: int = 8,
                           **settings: Any) -> dict[str, int]:
    """A hotline with these screening settings (columns of ``hotlines``), then its phones."""
    await admin.add_hotline(db, number, strategy, ring_timeout_s=ring_timeout_s)
    if settings:  # column names from this file only; one statement, as the CHECKs read it
        columns = ", ".join(f"{column} = ${n}" for n, column in enumerate(settings, start=2))
        await db.execute(f"UPDATE hotlines SET {columns} WHERE number = $1", number,
                         *settings.values())
    ids = {}
    for phone in bound:
        row = await admin.add_phone(db, number, phone.dial_string)
        ids[phone.dial_string] = row["phone_id"]
    return ids


async def wait_for_leg_result(db: Any, number: str, result: str,
                              timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        leg = await db.fetchrow(
            """SELECT l.* FROM call_legs l JOIN calls c ON c.id = l.call_id
               WHERE c.dialled = $1 AND l.result = $2""", number, result)
        if leg is not None:
            return leg
        assert time.monotonic() < deadline, f"no {result} leg within {timeout_s} s"
        await asyncio.sleep(0.05)


async def test_voicemail_is_skipped_unconfirmed_and_the_next_phone_confirms(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str, capsys: pytest.CaptureFixture[str]) -> None:
    voicemail = phones(answer_after_ms=100)
    person = phones(answer_after_ms=300, key_pcap=(1500, KEY_1))
    await screened_hotline(db, hotline_number, [voicemail, person], confirm_key="1",
                           confirm_timeout_s=2, whisper_sound="hello-world")
    before = router.metrics()

    placed = asyncio.ensure_future(sipp.call(lab.sip_address, hotline_number, hold_ms=12_000))
    skipped = await wait_for_leg_result(db, hotline_number, "unconfirmed")
    # Its claim went back with its leg, while the call goes on.
    held = await db.fetchval("SELECT count(*) FROM phone_claims WHERE leg_id = $1", skipped["id"])
    still_open = await db.fetchval("SELECT ended_at IS NULL FROM calls WHERE id = $1",
                                   skipped["call_id"])
    seen = await placed

    assert (held, still_open) == (0, True)
    assert seen.result == "answered", seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    legs = await legs_of(db, call["id"])
    assert [(leg["dial_string"], leg["result"]) for leg in legs] == [
        (voicemail.dial_string, "unconfirmed"), (person.dial_string, "answered")]
    assert call["answered_dial_string"] == person.dial_string
    (vm_seen,) = voicemail.results()
    (person_seen,) = person.results()
    assert vm_seen["ended_by"] == "remote"  # the router hung up on the machine
    confirmed = await db.fetchval("SELECT confirmed_at FROM call_legs WHERE id = $1",
                                  legs[1]["id"])
    assert confirmed is not None
    assert confirmed > legs[1]["answered_at"]
    assert call["caller_answered_at"] == confirmed  # billing starts at the key
    key_at, caller_answer = seconds(person_seen["t_key"]), seen.t_answer
    assert caller_answer is not None
    assert caller_answer > key_at  # no 200 before the key
    billable_s = call["billable_ms"] / 1000
    after = router.metrics()
    unconfirmed = (after.value("hotline_router_ring_attempts_total", result="unconfirmed")
                   - before.value("hotline_router_ring_attempts_total", result="unconfirmed"))
    vm_leg_s = (legs[0]["ended_at"] - legs[0]["answered_at"]).total_seconds()
    with capsys.disabled():
        key_after_s = key_at - seconds(person_seen["t_answer"])
        print(f"\nscreening: voicemail answered and was dropped unconfirmed after "
              f"{vm_leg_s:.3f} s (whisper+prompt, then 2 s); key {key_after_s:.3f}"
              f" s after the person's answer, caller's 200 {1000 * (caller_answer - key_at):.0f} ms"
              f" after the key; billable {billable_s:.3f} s vs sipp hold "
              f"{seen.talk_seconds:.3f} s; unconfirmed counter +{unconfirmed:.0f}")
    assert abs(billable_s - seen.talk_seconds) < 0.5
    assert unconfirmed == 1


async def test_simultaneous_ring_the_second_confirms_and_wins_the_first_is_cancelled(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str, capsys: pytest.CaptureFixture[str]) -> None:
    silent = phones(answer_after_ms=200)
    person = phones(answer_after_ms=600, key_pcap=(1000, KEY_1))
    await screened_hotline(db, hotline_number, [silent, person], strategy="simultaneous",
                           confirm_key="1", confirm_timeout_s=10)

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=4000)

    assert seen.result == "answered", seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    legs = {leg["dial_string"]: leg for leg in await legs_of(db, call["id"])}
    assert legs[silent.dial_string]["result"] == "cancelled"  # still confirming, then cancelled
    assert legs[silent.dial_string]["answered_at"] is not None
    assert legs[person.dial_string]["result"] == "answered"
    assert call["answered_dial_string"] == person.dial_string
    (person_seen,) = person.results()
    assert seen.t_answer is not None
    assert seen.t_answer > seconds(person_seen["t_key"])
    with capsys.disabled():
        ahead = legs[person.dial_string]["answered_at"] - legs[silent.dial_string]["answered_at"]
        print(f"\nsimultaneous screening: first phone answered "
              f"{ahead.total_seconds():.3f} s before the second, second confirmed and won; "
              f"billable "
              f"{call['billable_ms'] / 1000:.3f} s vs sipp hold {seen.talk_seconds:.3f} s")
    assert abs(call["billable_ms"] / 1000 - seen.talk_seconds) < 0.5


async def test_a_ringback_sound_with_nobody_answering_bills_nothing_and_never_answers(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str, capsys: pytest.CaptureFixture[str]) -> None:
    phone = phones(answer_after_ms=None)
    await screened_hotline(db, hotline_number, [phone], ring_timeout_s=3,
                           ringback_sound="hello-world")
    await db.execute("UPDATE hotlines SET total_timeout_s = 4 WHERE number = $1",
                     hotline_number)

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=1000)

    assert seen.result == "rejected", seen.errors  # a final error response, never a 200
    assert seen.t_ring is not None
    assert seen.t_answer is None
    (call,) = await wait_for_call(db, hotline_number)
    assert (call["outcome"], call["billable_ms"], call["caller_answered_at"]) == (
        "no-answer", 0, None)
    with capsys.disabled():
        print(f"\nringback sound: caller got 180/183 after "
              f"{1000 * (seen.t_ring - (seen.t_invite or 0)):.0f} ms, final {seen.status} "
              f"after {(seen.t_end or 0) - (seen.t_invite or 0):.3f} s, no 200; billable 0")


async def test_a_phone_sending_183_early_media_is_screened_from_its_answer(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str, capsys: pytest.CaptureFixture[str]) -> None:
    # A carrier trunk's 183 with SDP (its own ringback) before the answer.
    trunk = phones(answer_after_ms=800, early_media=True, key_pcap=(800, KEY_1))
    await screened_hotline(db, hotline_number, [trunk], confirm_key="1", confirm_timeout_s=5)

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=3000)

    assert seen.result == "answered", seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    (leg,) = await legs_of(db, call["id"])
    (trunk_seen,) = trunk.results()
    assert leg["result"] == "answered"
    # The 183 decided nothing: the leg answered with the 200, and the caller
    # was answered only after the key.
    answered = leg["answered_at"].timestamp()
    off_ms = 1000 * (answered - seconds(trunk_seen["t_answer"]))
    after_key_ms = 1000 * ((seen.t_answer or 0) - seconds(trunk_seen["t_key"]))
    with capsys.disabled():
        print(f"\n183 trunk: leg answered {off_ms:+.0f} ms from the trunk's 200 (its 183 came "
              f"{trunk.answer_after_ms} ms before); caller's 200 {after_key_ms:.0f} ms after "
              "the key")
    assert abs(answered - seconds(trunk_seen["t_answer"])) < 0.2
    assert seen.t_answer is not None
    assert seen.t_answer > seconds(trunk_seen["t_key"])


async def test_the_phone_is_shown_the_prefixed_caller_or_the_400_number(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    phone = phones(answer_after_ms=100)
    await screened_hotline(db, hotline_number, [phone], caller_id_shown="prefix",
                           caller_id_prefix="400-")

    prefixed = await sipp.call(lab.sip_address, hotline_number, caller="13912345678",
                               hold_ms=500)
    await db.execute("UPDATE hotlines SET caller_id_shown = 'hotline' WHERE number = $1",
                     hotline_number)
    await asyncio.sleep(1.5)  # the router reloads on the change's NOTIFY
    as_hotline = await sipp.call(lab.sip_address, hotline_number, caller="13912345678",
                                 hold_ms=500)

    assert (prefixed.result, as_hotline.result) == ("answered", "answered")
    await wait_for_call(db, hotline_number, count=2)
    for _ in range(50):  # the phone logs its call once its BYE is answered
        if len(phone.results()) == 2:
            break
        await asyncio.sleep(0.1)
    assert [r["cid"] for r in phone.results()] == ["400-13912345678", hotline_number]

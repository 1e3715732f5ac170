"""A bound phone blind-transfers the caller to another bound phone (SIP REFER),
with the field case tests/e2e/cases/phone-blind-transfer.xml as it was received;
and the same for an attended transfer (a consultation call, then REFER with
Replaces: tests/lab/scenarios.py ``attended_transferer``).

The transferring phone answers, talks 1 s, and sends a REFER naming the other
phone by its label (given to the case with sipp -inf). Asterisk hands the
REFER to the router (ARI transfer handling); the router rings the other phone,
seats it with the caller, tells the first phone NOTIFY 200 and hangs it up.
The caller talks with the second phone until it hangs up; the record is one
call with both legs, billed once for the caller's whole answered time.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from router import admin
from tests.chaos.support import inconsistent_records, nothing_left_open
from tests.conftest import PhoneFactory, legs_of, wait_for_call
from tests.e2e.test_field_phones import CASES
from tests.lab import asterisk, scenarios, sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess

pytestmark = pytest.mark.lab

HOLD_MS = 6000
TARGET_LABEL = "8002"


async def test_a_phone_blind_transfers_the_caller_to_another_bound_phone(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    agent = phones(scenario_file=CASES / "phone-blind-transfer.xml", inject=(TARGET_LABEL,),
                   trace_messages=True)
    other = phones(answer_after_ms=300)
    await admin.add_hotline(db, hotline_number, "sequential", ring_timeout_s=10)
    await admin.add_phone(db, hotline_number, agent.dial_string, label="agent 1")
    await admin.add_phone(db, hotline_number, other.dial_string, label=TARGET_LABEL)

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=HOLD_MS, timeout_s=40)
    (call,) = await wait_for_call(db, hotline_number)
    first, second = await legs_of(db, call["id"])
    billable_s = call["billable_ms"] / 1000
    print(f"\nblind transfer: agent leg {first['result']} after "
          f"{(first['ended_at'] - first['answered_at']).total_seconds():.3f} s, target leg "
          f"{second['result']} ({second['purpose']}); billable {billable_s:.3f} s vs the "
          f"caller's {seen.talk_seconds:.3f} s", file=sys.stderr)

    # The transferring phone: REFER accepted (202), told the transfer succeeded
    # (NOTIFY with sipfrag 200), then hung up (BYE). Read from the messages it
    # received: the case's scenario does not always follow its own loop back
    # after the first NOTIFY (it then logs what came after as unexpected).
    assert agent.results()[0]["result"] == "refer-accepted"
    received = agent.received()
    notified = [m for m in received if m.startswith("NOTIFY ") and "Event: refer" in m]
    assert any(m.endswith("SIP/2.0 200 OK") for m in notified), notified
    assert any(m.startswith("BYE ") for m in received)
    assert seen.result == "answered", seen.errors
    assert seen.ended_by == "local"  # the caller talked to the end of its hold, then hung up
    # The second phone got the caller and talked until the caller's end.
    (talked,) = other.results()
    assert (talked["result"], talked["ended_by"]) == ("answered", "remote")
    # One record: the first phone's leg transferred, the target's a transfer leg.
    assert (first["dial_string"], first["purpose"], first["result"]) == (
        agent.dial_string, "phone", "transferred")
    assert (second["dial_string"], second["purpose"], second["result"]) == (
        other.dial_string, "transfer", "answered")
    assert second["answered_at"] is not None
    assert first["ended_at"] >= second["answered_at"]  # hung up once the target had the caller
    assert (call["outcome"], call["answered_dial_string"]) == ("answered", agent.dial_string)
    # Billed once, for the caller's whole answered time, from its answer by the
    # first phone to its own hangup.
    assert abs(billable_s - seen.talk_seconds) < 0.5
    assert seen.talk_seconds > HOLD_MS / 1000 - 0.5
    # The first phone's claim went with it, before the call ended (its talk
    # counted to the transfer); the second's with the call's end.
    agent_state = await db.fetchrow(
        "SELECT active_calls, last_call_ended_at, talk_ms_today FROM phone_state s "
        "JOIN phones p ON p.id = s.phone_id WHERE p.dial_string = $1", agent.dial_string)
    assert agent_state["active_calls"] == 0
    assert agent_state["last_call_ended_at"] < call["ended_at"]
    assert agent_state["talk_ms_today"] < call["billable_ms"]
    await nothing_left_open(db, hotline_number)
    assert await inconsistent_records(db, hotline_number) == []


async def test_a_transfer_nobody_answers_comes_back_to_the_agent(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    agent = phones(scenario_file=CASES / "phone-blind-transfer.xml", inject=(TARGET_LABEL,))
    other = phones(answer_after_ms=None)  # rings until it is cancelled
    await admin.add_hotline(db, hotline_number, "sequential", ring_timeout_s=2)
    await db.execute("UPDATE hotlines SET total_timeout_s = 3 WHERE number = $1",
                     hotline_number)
    await admin.add_phone(db, hotline_number, agent.dial_string, label="agent 1")
    await admin.add_phone(db, hotline_number, other.dial_string, label=TARGET_LABEL)

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=HOLD_MS, timeout_s=40)
    (call,) = await wait_for_call(db, hotline_number)
    first, second = await legs_of(db, call["id"])

    assert seen.result == "answered", seen.errors
    assert seen.ended_by == "local"
    assert [r["result"] for r in other.results()] == ["cancelled"]
    # The agent kept the caller: its leg answered (to the caller's end), the
    # transfer's a ring attempt nobody took.
    assert (first["purpose"], first["result"]) == ("phone", "answered")
    assert (second["purpose"], second["result"]) == ("transfer", "no-answer")
    assert first["ended_at"] > second["ended_at"]
    assert abs(call["billable_ms"] / 1000 - seen.talk_seconds) < 0.5
    await nothing_left_open(db, hotline_number)
    assert await inconsistent_records(db, hotline_number) == []


@pytest.mark.parametrize("allowed", [True, False])
async def test_an_outside_number_is_rung_only_when_the_hotline_allows_it(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str, allowed: bool) -> None:
    outside_number = "13900001111"
    agent = phones(scenario_file=CASES / "phone-blind-transfer.xml", inject=(outside_number,))
    outside = phones(answer_after_ms=300)  # a mobile reached through the carrier
    await admin.add_hotline(db, hotline_number, "sequential", ring_timeout_s=10)
    await admin.add_phone(db, hotline_number, agent.dial_string, label="agent 1")
    await db.execute(
        "UPDATE hotlines SET transfer_dial = $2, transfer_numbers = $3 WHERE number = $1",
        hotline_number, f"PJSIP/phones/sip:{{number}}@127.0.0.1:{outside.port}",
        "139,010" if allowed else "138")

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=HOLD_MS, timeout_s=40)
    (call,) = await wait_for_call(db, hotline_number)
    legs = await legs_of(db, call["id"])

    assert seen.result == "answered", seen.errors
    assert abs(call["billable_ms"] / 1000 - seen.talk_seconds) < 0.5
    if allowed:
        first, second = legs
        assert (first["result"], second["purpose"], second["result"], second["phone_id"]) == (
            "transferred", "transfer", "answered", None)
        assert second["dial_string"] == (
            f"PJSIP/phones/sip:{outside_number}@127.0.0.1:{outside.port}")
        assert [r["result"] for r in outside.results()] == ["answered"]
    else:  # refused (NOTIFY 603): the caller stays with the agent, nothing else rang
        (only,) = legs
        assert (only["purpose"], only["result"]) == ("phone", "answered")
        assert outside.results() == []
        refusals = [line for line in router.log_path.read_text().splitlines()
                    if "transfer refused" in line and hotline_number in line]
        assert len(refusals) == 1, refusals
        assert "nor an outside number it allows" in refusals[0]
    await nothing_left_open(db, hotline_number)
    assert await inconsistent_records(db, hotline_number) == []


def _at(result: dict[str, str], key: str) -> datetime:
    """A time a sipp scenario logged (seconds.microseconds), in UTC."""
    seconds, micros = result[key].split(".")[0], result[key].split(".")[2]
    return datetime.fromtimestamp(int(seconds) + int(micros) / 1e6, UTC)


@pytest.mark.parametrize("refer_on_consultation", [False, True],
                         ids=["refer-on-the-callers-call", "refer-on-the-consultation"])
async def test_a_phone_consults_another_bound_phone_then_transfers_the_caller_to_it(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str, tmp_path: Path, refer_on_consultation: bool) -> None:
    """The agent answers, talks 1 s, dials the other phone by its label (a
    consultation call from the agent's own address), talks with it 1 s once it
    answers, then sends REFER with Replaces on the caller's call (or on the
    consultation, naming the caller's call): the caller talks with the other
    phone until it hangs up; one record, billed once."""
    scenario = tmp_path / "attended-transferer.xml"
    scenario.write_text(scenarios.attended_transferer(
        talk_ms=1000, consult_ms=1000, refer_on_consultation=refer_on_consultation))
    agent = phones(scenario_file=scenario, inject=(f"{TARGET_LABEL};{lab.sip_address}",),
                   trace_messages=True, auto_answer=True, host=asterisk.PHONES_HOST)
    other = phones(answer_after_ms=300)
    await admin.add_hotline(db, hotline_number, "sequential", ring_timeout_s=10)
    await admin.add_phone(db, hotline_number, agent.dial_string, label="agent 1")
    await admin.add_phone(db, hotline_number, other.dial_string, label=TARGET_LABEL)

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=HOLD_MS, timeout_s=40)
    (call,) = await wait_for_call(db, hotline_number)
    first, second = await legs_of(db, call["id"])
    (transferred,) = agent.results()
    (talked,) = other.results()
    joined = [json.loads(line) for line in router.log_path.read_text().splitlines()
              if "attended transfer connected" in line and str(call["id"]) in line]
    refer_to_joined_s = (first["ended_at"] - _at(transferred, "t_refer")).total_seconds()
    other_talk_s = (_at(talked, "t_end") - _at(talked, "t_answer")).total_seconds()
    billable_s = call["billable_ms"] / 1000
    where = "on the consultation" if refer_on_consultation else "on the caller's call"
    print(f"\nattended transfer (REFER {where}): REFER to joined {refer_to_joined_s * 1000:.1f} ms "
          f"(the router's: {joined[0]['asked_to_joined_ms']} ms); billable {billable_s:.3f} s "
          f"vs the caller's {seen.talk_seconds:.3f} s; "
          f"the other phone talked {other_talk_s:.3f} s", file=sys.stderr)

    # The agent: its consultation answered, its REFER accepted (202), told the
    # transfer succeeded (NOTIFY sipfrag 200), both its calls hung up (BYE x2).
    assert transferred["result"] == "refer-accepted", agent.received()[-3:]
    received = agent.received()
    notified = [m for m in received if m.startswith("NOTIFY ") and "Event: refer" in m]
    assert any(m.endswith("SIP/2.0 200 OK") for m in notified), notified
    # One BYE on each of its two calls (the consultation's names the phone's
    # tag of it in its To), each answered at once: no retransmission.
    byes = [m for m in received if m.startswith("BYE ")]
    to_tags = [next(line for line in m.splitlines() if line.startswith("To:")) for m in byes]
    assert sorted("consult" in to for to in to_tags) == [False, True], byes
    assert seen.result == "answered", seen.errors
    assert seen.ended_by == "local"  # the caller talked to the end of its hold, then hung up
    # The other phone answered the consultation, then had the caller until the
    # caller hung up: its one call lasted from before the REFER to the caller's end.
    assert (talked["result"], talked["ended_by"]) == ("answered", "remote")
    assert _at(talked, "t_answer") < _at(transferred, "t_refer")
    assert abs((_at(talked, "t_end") - call["ended_at"]).total_seconds()) < 0.5
    # One record: the agent's leg transferred, the other phone's a consult leg
    # that became the talking one.
    assert (first["dial_string"], first["purpose"], first["result"]) == (
        agent.dial_string, "phone", "transferred")
    assert (second["dial_string"], second["purpose"], second["result"]) == (
        other.dial_string, "consult", "answered")
    assert second["answered_at"] < first["ended_at"] <= second["ended_at"]
    assert 0 <= refer_to_joined_s < 0.5
    assert len(joined) == 1
    assert (call["outcome"], call["answered_dial_string"]) == ("answered", agent.dial_string)
    # Billed once, for the caller's whole answered time.
    assert abs(billable_s - seen.talk_seconds) < 0.5
    assert seen.talk_seconds > HOLD_MS / 1000 - 0.5
    agent_state = await db.fetchrow(
        "SELECT active_calls, talk_ms_today FROM phone_state s "
        "JOIN phones p ON p.id = s.phone_id WHERE p.dial_string = $1", agent.dial_string)
    assert agent_state["active_calls"] == 0
    assert agent_state["talk_ms_today"] < call["billable_ms"]
    await nothing_left_open(db, hotline_number)
    assert await inconsistent_records(db, hotline_number) == []


@pytest.mark.parametrize("mode", ["broadcast", "stasis"])
async def test_a_consultation_from_a_phone_in_no_call_hears_the_error_tone(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str, mode: str) -> None:
    """Broadcast: no router claims it and the dialplan refuses it; Stasis: the
    router takes it, finds no call of the phone, and sends it to the tone."""
    agent, other = phones(host=asterisk.PHONES_HOST), phones()
    await admin.add_hotline(db, hotline_number, "sequential", ring_timeout_s=10)
    await admin.add_phone(db, hotline_number, agent.dial_string, label="agent 1")
    await admin.add_phone(db, hotline_number, other.dial_string, label=TARGET_LABEL)

    logged_before = len(router.log_path.read_text().splitlines())
    asterisk.set_global(lab, "ROUTER_MODE", mode)
    try:
        heard = await agent.dial(lab.sip_address, TARGET_LABEL, hold_ms=3000)
    finally:
        asterisk.set_global(lab, "ROUTER_MODE", "broadcast")

    # Early media (the error tone), then "unallocated number": never answered.
    # The router did not take it (it holds no call of this phone), and says why.
    assert heard.result == "rejected", heard
    assert heard.status == 404
    assert heard.t_ring is not None  # the tone's 183
    assert other.results() == []
    logged = router.log_path.read_text().splitlines()[logged_before:]
    reasons = [json.loads(line)["reason"] for line in logged
               if '"consultation not claimed"' in line or '"consultation refused"' in line]
    assert len(reasons) == 1, reasons
    assert "the phone talks with no hotline caller" in reasons[0]


async def test_the_caller_hanging_up_mid_consultation_ends_both_calls_cleanly(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str, tmp_path: Path) -> None:
    """The caller leaves while the agent talks with the consulted phone: the
    call ends, the consultation with it (both hung up), no claim is held."""
    scenario = tmp_path / "attended-transferer.xml"
    scenario.write_text(scenarios.attended_transferer(talk_ms=500, consult_ms=6000))
    agent = phones(scenario_file=scenario, inject=(f"{TARGET_LABEL};{lab.sip_address}",),
                   auto_answer=True, host=asterisk.PHONES_HOST)
    other = phones(answer_after_ms=300)
    await admin.add_hotline(db, hotline_number, "sequential", ring_timeout_s=10)
    await admin.add_phone(db, hotline_number, agent.dial_string, label="agent 1")
    await admin.add_phone(db, hotline_number, other.dial_string, label=TARGET_LABEL)

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=2500, timeout_s=40)
    (call,) = await wait_for_call(db, hotline_number)
    first, second = await legs_of(db, call["id"])

    assert seen.result == "answered", seen.errors
    assert seen.ended_by == "local"
    # The consulted phone answered, then was hung up with the call.
    (talked,) = other.results()
    assert (talked["result"], talked["ended_by"]) == ("answered", "remote")
    assert abs((_at(talked, "t_end") - call["ended_at"]).total_seconds()) < 0.5
    assert (first["purpose"], first["result"]) == ("phone", "answered")
    assert (second["purpose"], second["result"]) == ("consult", "answered")
    assert (call["outcome"], call["answered_dial_string"]) == ("answered", agent.dial_string)
    assert abs(call["billable_ms"] / 1000 - seen.talk_seconds) < 0.5
    await nothing_left_open(db, hotline_number)
    assert await inconsistent_records(db, hotline_number) == []
    # No consultation call left in Asterisk.
    assert "phone-consult" not in asterisk.cli(lab, "core show channels concise")


async def test_the_agent_hanging_up_the_caller_s_call_while_consulting_hands_the_caller_over(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str, tmp_path: Path) -> None:
    """Transfer on hangup without a REFER: the agent talks with the consulted
    phone, then hangs up the caller's call; the caller goes to that phone."""
    scenario = tmp_path / "hang-up-transferer.xml"
    scenario.write_text(scenarios.attended_transferer(talk_ms=1000, consult_ms=1000,
                                                      hang_up=True))
    agent = phones(scenario_file=scenario, inject=(f"{TARGET_LABEL};{lab.sip_address}",),
                   auto_answer=True, host=asterisk.PHONES_HOST)
    other = phones(answer_after_ms=300)
    await admin.add_hotline(db, hotline_number, "sequential", ring_timeout_s=10)
    await admin.add_phone(db, hotline_number, agent.dial_string, label="agent 1")
    await admin.add_phone(db, hotline_number, other.dial_string, label=TARGET_LABEL)

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=HOLD_MS, timeout_s=40)
    (call,) = await wait_for_call(db, hotline_number)
    first, second = await legs_of(db, call["id"])
    (hung_up,) = agent.results()
    (talked,) = other.results()
    joined = [json.loads(line) for line in router.log_path.read_text().splitlines()
              if "attended transfer connected" in line and str(call["id"]) in line]
    print(f"\ntransfer on hangup: the agent's hangup to joined (the router's) "
          f"{joined[0]['asked_to_joined_ms'] if joined else '?'} ms; billable "
          f"{call['billable_ms'] / 1000:.3f} s vs the caller's {seen.talk_seconds:.3f} s",
          file=sys.stderr)

    assert hung_up["result"] == "hung-up"
    assert [entry["by"] for entry in joined] == ["hangup"]
    assert first["ended_at"] <= second["ended_at"]
    assert seen.result == "answered", seen.errors
    assert seen.ended_by == "local"  # the caller talked on with the other phone
    assert (talked["result"], talked["ended_by"]) == ("answered", "remote")
    assert abs((_at(talked, "t_end") - call["ended_at"]).total_seconds()) < 0.5
    assert (first["purpose"], first["result"]) == ("phone", "transferred")
    assert (second["purpose"], second["result"]) == ("consult", "answered")
    assert abs(call["billable_ms"] / 1000 - seen.talk_seconds) < 0.5
    assert seen.talk_seconds > HOLD_MS / 1000 - 0.5
    await nothing_left_open(db, hotline_number)
    assert await inconsistent_records(db, hotline_number) == []


async def test_a_number_no_hotline_has_from_the_carrier_is_refused_at_once(
        lab: AsteriskLab, router: RouterProcess) -> None:
    """From the carrier trunk, a number that is no 400/800 hotline is hung up
    by the dialplan (unallocated number, no early media): no router sees it,
    not even as a consultation call, whoever the caller's address is."""
    logged_before = len(router.log_path.read_text().splitlines())
    heard = await sipp.call(lab.sip_address, TARGET_LABEL, hold_ms=2000, timeout_s=20)
    assert heard.result == "rejected", heard
    assert heard.status == 404
    assert heard.t_ring is None  # no 183: nothing played
    logged = router.log_path.read_text().splitlines()[logged_before:]
    assert [line for line in logged if "consultation" in line] == []


async def test_a_phone_that_hangs_up_after_its_refer_while_the_target_rings(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str, tmp_path: Path) -> None:
    """The agent consults the other phone and, while it still rings, sends
    REFER with Replaces naming the ringing consultation, then hangs up the
    caller's call right after the 202; the other phone answers later: the
    caller (music meanwhile) talks with it to the end; one record, billed once."""
    scenario = tmp_path / "refer-while-ringing.xml"
    scenario.write_text(scenarios.refer_while_ringing_transferer(
        talk_ms=1000, ring_ms=500, hang_up_after_ms=300))
    agent = phones(scenario_file=scenario, inject=(f"{TARGET_LABEL};{lab.sip_address}",),
                   auto_answer=True, host=asterisk.PHONES_HOST)
    other = phones(answer_after_ms=3000)
    await admin.add_hotline(db, hotline_number, "sequential", ring_timeout_s=10)
    await admin.add_phone(db, hotline_number, agent.dial_string, label="agent 1")
    await admin.add_phone(db, hotline_number, other.dial_string, label=TARGET_LABEL)

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=HOLD_MS, timeout_s=40)
    (call,) = await wait_for_call(db, hotline_number)
    first, second = await legs_of(db, call["id"])
    (transferred,) = agent.results()
    (talked,) = other.results()
    print(f"\nREFER while ringing, then hung up: billable {call['billable_ms'] / 1000:.3f} s "
          f"vs the caller's {seen.talk_seconds:.3f} s; the other phone talked "
          f"{(_at(talked, 't_end') - _at(talked, 't_answer')).total_seconds():.3f} s",
          file=sys.stderr)

    assert transferred["result"] == "refer-then-hung-up", transferred
    assert seen.result == "answered", seen.errors
    assert seen.ended_by == "local"  # the caller talked on with the other phone to its end
    # The other phone answered after the agent had hung up, then had the caller.
    assert _at(transferred, "t_bye") < _at(talked, "t_answer")
    assert (talked["result"], talked["ended_by"]) == ("answered", "remote")
    assert abs((_at(talked, "t_end") - call["ended_at"]).total_seconds()) < 0.5
    assert (first["purpose"], first["result"]) == ("phone", "transferred")
    assert (second["purpose"], second["result"]) == ("consult", "answered")
    assert abs((first["ended_at"] - _at(transferred, "t_bye")).total_seconds()) < 0.5
    assert first["ended_at"] < second["answered_at"]
    assert (call["outcome"], call["answered_dial_string"]) == ("answered", agent.dial_string)
    assert abs(call["billable_ms"] / 1000 - seen.talk_seconds) < 0.5
    assert seen.talk_seconds > HOLD_MS / 1000 - 0.5
    await nothing_left_open(db, hotline_number)
    assert await inconsistent_records(db, hotline_number) == []

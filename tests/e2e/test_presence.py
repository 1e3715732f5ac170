"""Agents' presence with real calls: feature codes dialled on a sipp phone, and
auto-pause after missed calls (docs/presence.md)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import PhoneFactory, add_hotline, legs_of, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AGENT_HOST, AGENT_PASSWORD, AsteriskLab
from tests.lab.router import RouterProcess

pytestmark = pytest.mark.lab


def invites(phone: sipp.Phone) -> int:
    """INVITEs the phone's answering side has seen (one RESULT line each)."""
    return len(phone.results())


async def metric_reaches(router: RouterProcess, name: str, at_least: float, timeout_s: float = 10,
                         **labels: str) -> None:
    """Until the router's /metrics shows ``name`` at ``at_least`` or more."""
    deadline = time.monotonic() + timeout_s
    while router.metrics().value(name, **labels) < at_least:
        assert time.monotonic() < deadline, f"{name}{labels} stayed below {at_least}"
        await asyncio.sleep(0.2)


async def presence_of(db: Any, phone_id: int) -> tuple[str, str | None]:
    row = await db.fetchrow(
        "SELECT presence, presence_reason FROM phone_state WHERE phone_id = $1", phone_id)
    return row["presence"], row["presence_reason"]


async def test_an_agent_pauses_from_the_phone_and_gets_no_call_until_resume(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    agent, colleague = phones(), phones()
    ids = await add_hotline(db, hotline_number, [agent, colleague])
    agent_id, colleague_id = ids[agent.dial_string], ids[colleague.dial_string]

    heard = await agent.dial(lab.sip_address, "*7305")

    # Asterisk answered to play the confirmation, then hung up on the agent.
    assert (heard.result, heard.ended_by) == ("answered", "remote"), heard.errors
    assert await presence_of(db, agent_id) == ("paused", "05")
    await metric_reaches(router, "hotline_router_presence_codes_total", 1, outcome="paused")
    await metric_reaches(router, "hotline_router_phones_by_presence", 1, presence="paused")
    rung_before = invites(agent)
    for n in range(3):
        seen = await sipp.call(lab.sip_address, hotline_number, caller=f"1390000000{n}",
                               hold_ms=300)
        assert seen.result == "answered", seen.errors
    calls = await wait_for_call(db, hotline_number, count=3)
    assert [c["answered_phone_id"] for c in calls] == [colleague_id] * 3
    for call in calls:  # the paused agent was never even tried
        assert [leg["phone_id"] for leg in await legs_of(db, call["id"])] == [colleague_id]
    assert invites(agent) == rung_before

    heard = await agent.dial(lab.sip_address, "*74")

    assert heard.result == "answered", heard.errors
    assert await presence_of(db, agent_id) == ("signed_in", None)
    seen = await sipp.call(lab.sip_address, hotline_number, caller="13900000009", hold_ms=300)
    assert seen.result == "answered", seen.errors
    calls = await wait_for_call(db, hotline_number, count=4)
    assert calls[-1]["answered_phone_id"] == agent_id  # first in the hunt again
    history = await db.fetch(
        "SELECT presence, reason, source, who FROM presence_history WHERE phone_id = $1 "
        "ORDER BY id", agent_id)
    assert [(r["presence"], r["reason"], r["source"]) for r in history] == [
        ("paused", "05", "phone"), ("signed_in", None, "phone")]
    assert all(r["who"].endswith(f"127.0.0.1:{agent.port}") for r in history)


async def test_a_code_from_an_unknown_phone_or_an_unknown_code_is_refused(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    agent, stranger = phones(), phones()
    ids = await add_hotline(db, hotline_number, [agent])

    unknown_phone = await stranger.dial(lab.sip_address, "*72")
    unknown_code = await agent.dial(lab.sip_address, "*79")
    not_paused = await agent.dial(lab.sip_address, "*74")

    for heard in (unknown_phone, unknown_code, not_paused):
        assert (heard.result, heard.ended_by) == ("answered", "remote"), heard.errors
    assert await presence_of(db, ids[agent.dial_string]) == ("signed_in", None)
    assert await db.fetchval("SELECT count(*) FROM presence_history WHERE phone_id = $1",
                             ids[agent.dial_string]) == 0
    assert "feature code refused" in router.log_path.read_text()


async def test_three_unanswered_legs_pause_the_phone_and_the_fourth_call_skips_it(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    silent, answering = phones(answer_after_ms=None), phones()
    ids = await add_hotline(db, hotline_number, [silent, answering], ring_timeout_s=1)
    silent_id, answering_id = ids[silent.dial_string], ids[answering.dial_string]
    await db.execute("UPDATE hotlines SET auto_pause_after = 3 WHERE number = $1",
                     hotline_number)

    for n in range(3):
        seen = await sipp.call(lab.sip_address, hotline_number, caller=f"1370000000{n}",
                               hold_ms=200)
        assert seen.result == "answered", seen.errors
        await wait_for_call(db, hotline_number, count=n + 1)
    assert await presence_of(db, silent_id) == ("paused", "no-answer")
    rung_before = invites(silent)

    seen = await sipp.call(lab.sip_address, hotline_number, caller="13700000009", hold_ms=200)

    assert seen.result == "answered", seen.errors
    calls = await wait_for_call(db, hotline_number, count=4)
    first_three = [[leg["phone_id"] for leg in await legs_of(db, c["id"])] for c in calls[:3]]
    assert first_three == [[silent_id, answering_id]] * 3
    assert [leg["phone_id"] for leg in await legs_of(db, calls[3]["id"])] == [answering_id]
    assert invites(silent) == rung_before
    (change,) = await db.fetch("SELECT * FROM presence_history WHERE phone_id = $1", silent_id)
    assert (change["presence"], change["reason"], change["source"]) == (
        "paused", "no-answer", "auto")


@pytest.fixture
def desk_phone() -> Iterator[sipp.Phone]:
    """A desk phone with its own endpoint (agent1), registering from its own address."""
    phone = sipp.Phone(endpoint="agent1", host=AGENT_HOST).start()
    yield phone
    phone.stop()


def changes_seen(router: RouterProcess, endpoint: str, state: str) -> int:
    """How often the router has logged the endpoint's change to ``state``."""
    return sum(1 for line in router.log_tail(chars=10**9).splitlines()
               if "endpoint reachability changed" in line and f'"{endpoint}"' in line
               and f'"state": "{state}"' in line)


async def follows(router: RouterProcess, endpoint: str, timeout_s: float = 15.0) -> None:
    """Until the router follows the endpoint's state (it does for bound phones)."""
    deadline = time.monotonic() + timeout_s
    while not any("following an endpoint's state" in line and f'"{endpoint}"' in line
                  for line in router.log_tail(chars=10**9).splitlines()):
        assert time.monotonic() < deadline, f"the router never followed {endpoint}"
        await asyncio.sleep(0.1)


async def router_sees(router: RouterProcess, endpoint: str, state: str, seen_before: int,
                      timeout_s: float = 15.0) -> int:
    """Wait until the router has logged the endpoint's change to ``state`` once more
    than ``seen_before`` times; returns the new count."""
    deadline = time.monotonic() + timeout_s
    while True:
        count = changes_seen(router, endpoint, state)
        if count > seen_before:
            return count
        assert time.monotonic() < deadline, f"the router never saw {endpoint} {state}"
        await asyncio.sleep(0.1)


async def test_an_unregistered_desk_phone_is_skipped_without_a_ring_attempt(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        desk_phone: sipp.Phone, hotline_number: str) -> None:
    backup = phones()
    ids = await add_hotline(db, hotline_number, [desk_phone, backup])
    desk_id, backup_id = ids["PJSIP/agent1"], ids[backup.dial_string]
    await follows(router, "PJSIP/agent1")  # the router watches the phone it now has bound
    online = changes_seen(router, "PJSIP/agent1", "online")

    await desk_phone.register(lab.sip_address, AGENT_PASSWORD, expires_s=60)
    online = await router_sees(router, "PJSIP/agent1", "online", online)
    seen = await sipp.call(lab.sip_address, hotline_number, caller="13600000001", hold_ms=200)
    assert seen.result == "answered", seen.errors
    (first,) = await wait_for_call(db, hotline_number)
    assert first["answered_phone_id"] == desk_id  # registered: it rings and answers

    # Registered again for one second only: the registration lapses.
    offline = changes_seen(router, "PJSIP/agent1", "offline")
    await desk_phone.register(lab.sip_address, AGENT_PASSWORD, expires_s=1)
    offline = await router_sees(router, "PJSIP/agent1", "offline", offline)
    rung_before = invites(desk_phone)
    seen = await sipp.call(lab.sip_address, hotline_number, caller="13600000002", hold_ms=200)

    assert seen.result == "answered", seen.errors
    second = (await wait_for_call(db, hotline_number, count=2))[-1]
    assert [leg["phone_id"] for leg in await legs_of(db, second["id"])] == [backup_id]
    assert invites(desk_phone) == rung_before

    # Back: offered again.
    await desk_phone.register(lab.sip_address, AGENT_PASSWORD, expires_s=60)
    await router_sees(router, "PJSIP/agent1", "online", online)
    seen = await sipp.call(lab.sip_address, hotline_number, caller="13600000003", hold_ms=200)
    assert seen.result == "answered", seen.errors
    third = (await wait_for_call(db, hotline_number, count=3))[-1]
    assert third["answered_phone_id"] == desk_id
    await desk_phone.register(lab.sip_address, AGENT_PASSWORD, expires_s=0)

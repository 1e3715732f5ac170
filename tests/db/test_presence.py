"""Presence against the real PostgreSQL: who is offered calls, the history of every
change, the refusals an admin sees, auto-pause after missed calls and the delays
after a reject or a no-answer (migrations/0020_presence.sql)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from router import claims, presence
from router import db as router_db
from router.presence import Presence, PresenceError, Source


async def new_phone(db: Any, **columns: Any) -> int:
    names = ", ".join(["dial_string", *columns])
    places = ", ".join(f"${n}" for n in range(1, len(columns) + 2))
    phone_id: int = await db.fetchval(
        f"INSERT INTO phones ({names}) VALUES ({places}) RETURNING id",
        f"PJSIP/phones/sip:presence-{uuid4().hex[:12]}@127.0.0.1:5999", *columns.values())
    return phone_id


async def state(db: Any, phone_id: int) -> Any:
    return await db.fetchrow("SELECT * FROM phone_state WHERE phone_id = $1", phone_id)


async def history(db: Any, phone_id: int) -> list[Any]:
    return list(await db.fetch(
        "SELECT presence, reason, source, who FROM presence_history WHERE phone_id = $1 "
        "ORDER BY id", phone_id))


async def test_a_new_phone_is_signed_in_and_offered_calls(db: Any) -> None:
    phone = await new_phone(db)
    row = await state(db, phone)
    assert (row["presence"], row["presence_reason"]) == ("signed_in", None)
    assert await claims.claim(db, phone, uuid4(), uuid4(), "r1")


@pytest.mark.parametrize("presence_", [Presence.SIGNED_OUT, Presence.PAUSED])
async def test_signed_out_and_paused_phones_are_never_claimed(db: Any, presence_: Presence) -> None:
    phone = await new_phone(db)
    reason = "lunch" if presence_ is Presence.PAUSED else None
    assert await presence.change(db, phone, presence_, reason, Source.CLI, "alice")
    assert not await claims.claim(db, phone, uuid4(), uuid4(), "r1")
    assert (await state(db, phone))["active_calls"] == 0
    assert await presence.change(db, phone, Presence.SIGNED_IN, None, Source.CLI, "alice")
    assert await claims.claim(db, phone, uuid4(), uuid4(), "r1")


async def test_every_change_is_logged_with_its_source_reason_and_who(db: Any) -> None:
    phone = await new_phone(db)
    await presence.change(db, phone, Presence.PAUSED, "lunch", Source.PHONE,
                          "callers 10.0.0.5:5060")
    assert not await presence.change(db, phone, Presence.PAUSED, "lunch", Source.CLI, "bob")
    assert await presence.resume(db, phone, Source.CLI, "bob")
    await presence.change(db, phone, Presence.SIGNED_OUT, None, Source.CLI, "bob")
    await db.execute("UPDATE phone_state SET presence = 'signed_in' WHERE phone_id = $1", phone)
    login = await db.fetchval("SELECT session_user")
    assert [tuple(r) for r in await history(db, phone)] == [
        ("paused", "lunch", "phone", "callers 10.0.0.5:5060"),
        ("signed_in", None, "cli", "bob"),
        ("signed_out", None, "cli", "bob"),
        ("signed_in", None, "sql", login),  # a plain UPDATE: the database login
    ]
    stamps = await db.fetch("SELECT at FROM presence_history WHERE phone_id = $1", phone)
    assert all(r["at"].microsecond % 1000 == 0 for r in stamps)  # stored to the ms


async def test_the_since_time_moves_only_when_the_presence_changes(db: Any) -> None:
    phone = await new_phone(db)
    before = (await state(db, phone))["presence_since"]
    await db.execute("UPDATE phone_state SET active_calls = 0 WHERE phone_id = $1", phone)
    assert (await state(db, phone))["presence_since"] == before
    await presence.change(db, phone, Presence.SIGNED_OUT, None, Source.SQL, "x")
    assert (await state(db, phone))["presence_since"] >= before


@pytest.mark.parametrize(("statement", "message"), [
    ("SELECT set_presence({phone}, 'paused')", "a pause needs a reason"),
    ("SELECT set_presence({phone}, 'signed_out', 'lunch')", "only a pause has a reason"),
    ("SELECT set_presence({phone}, 'away')", "presence must be signed_in, signed_out or paused"),
    ("SELECT set_presence(0, 'signed_out')", "no phone with id 0"),
    ("UPDATE phone_state SET presence = 'paused' WHERE phone_id = {phone}",
     "phone_pause_needs_a_reason_and_only_a_pause_has_one"),
    ("UPDATE phone_state SET presence = 'away' WHERE phone_id = {phone}",
     "phone_presence_must_be_signed_in_signed_out_or_paused"),
    ("UPDATE phone_state SET presence = 'paused', presence_reason = repeat('x', 41) "
     "WHERE phone_id = {phone}", "phone_pause_reason_must_be_1_to_40_printable_characters"),
    ("UPDATE phones SET auto_pause_after = 0 WHERE id = {phone}",
     "phone_auto_pause_after_must_be_1_to_100_missed_calls_or_empty"),
    ("UPDATE phones SET reject_delay_s = -1 WHERE id = {phone}",
     "phone_reject_and_no_answer_delays_must_be_0_to_3600_seconds"),
])
async def test_bad_rows_are_refused_with_a_readable_message(
        db: Any, statement: str, message: str) -> None:
    phone = await new_phone(db)
    with pytest.raises(asyncpg.PostgresError, match=message):
        await db.execute(statement.format(phone=phone))


async def test_resume_is_only_for_a_pause(db: Any) -> None:
    phone = await new_phone(db)
    await presence.change(db, phone, Presence.SIGNED_OUT, None, Source.CLI, "x")
    with pytest.raises(PresenceError, match="signed out, not paused"):
        await presence.resume(db, phone, Source.CLI, "x")
    assert (await state(db, phone))["presence"] == "signed_out"


async def test_the_admin_and_the_daemon_roles_may_change_presence(
        db: Any, daemon_database_url: str) -> None:
    phone = await new_phone(db)
    daemon = await router_db.connect(daemon_database_url)
    try:
        assert await presence.change(daemon, phone, Presence.PAUSED, "1", Source.PHONE, "p")
    finally:
        await daemon.close()
    async with db.acquire() as connection, connection.transaction():
        await connection.execute("SET LOCAL ROLE hotline_router_admin")
        assert await presence.resume(connection, phone, Source.CLI, "admin")
    assert [r["source"] for r in await history(db, phone)] == ["phone", "cli"]


# --- auto-pause and the delays ----------------------------------------------------


async def new_hotline(db: Any, auto_pause_after: int | None = None) -> int:
    hotline_id: int = await db.fetchval(
        "INSERT INTO hotlines (number, auto_pause_after) VALUES ($1, $2) RETURNING id",
        f"400{uuid4().int % 10**7:07d}", auto_pause_after)
    return hotline_id


async def leg(db: Any, hotline_id: int, phone_id: int, result: str) -> UUID:
    """One call with one leg to the phone, ended with ``result``."""
    call_id, leg_id, now = uuid4(), uuid4(), datetime.now(UTC)
    await db.execute(
        """INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id,
                              started_at)
           VALUES ($1, $2, '4000000000', '13800138000', $3, 'r1', $4)""",
        call_id, hotline_id, f"chan-{call_id}", now)
    await db.execute(
        """INSERT INTO call_legs (id, call_id, phone_id, dial_string, wave, dial_started_at,
                                  call_started_at)
           VALUES ($1, $2, $3, 'PJSIP/x', 0, $4,
                   (SELECT started_at FROM call_keys WHERE id = $2))""",
        leg_id, call_id, phone_id, now)
    await db.execute("UPDATE call_legs SET ended_at = $2, result = $3 WHERE id = $1",
                     leg_id, now, result)
    return leg_id


async def test_three_missed_legs_in_a_row_pause_the_phone_for_no_answer(db: Any) -> None:
    hotline = await new_hotline(db, auto_pause_after=3)
    phone = await new_phone(db)
    for result in ("no-answer", "busy"):
        await leg(db, hotline, phone, result)
    assert (await state(db, phone))["presence"] == "signed_in"
    await leg(db, hotline, phone, "no-answer")
    row = await state(db, phone)
    assert (row["presence"], row["presence_reason"], row["missed_in_a_row"]) == (
        "paused", "no-answer", 0)
    assert [tuple(r) for r in await history(db, phone)] == [
        ("paused", "no-answer", "auto", "3 missed calls in a row")]
    assert not await claims.claim(db, phone, uuid4(), uuid4(), "r1")


async def test_an_answer_or_a_resume_starts_the_count_afresh(db: Any) -> None:
    hotline = await new_hotline(db, auto_pause_after=2)
    phone = await new_phone(db)
    for result in ("no-answer", "answered", "no-answer", "cancelled", "failed"):
        await leg(db, hotline, phone, result)
    assert (await state(db, phone))["presence"] == "signed_in"
    await leg(db, hotline, phone, "busy")
    assert (await state(db, phone))["presence"] == "paused"
    await presence.resume(db, phone, Source.CLI, "x")
    await leg(db, hotline, phone, "no-answer")
    assert (await state(db, phone))["presence"] == "signed_in"


async def test_a_call_the_agent_answered_and_passed_on_starts_the_count_afresh(
        db: Any) -> None:
    """A leg that ends 'transferred' (0021) was answered: not a miss."""
    hotline = await new_hotline(db, auto_pause_after=2)
    phone = await new_phone(db)
    for result in ("no-answer", "transferred", "no-answer", "transferred", "no-answer"):
        await leg(db, hotline, phone, result)
    assert (await state(db, phone))["presence"] == "signed_in"


async def test_auto_pause_is_off_by_default_and_a_phone_overrides_its_hotline(db: Any) -> None:
    off, on = await new_hotline(db), await new_hotline(db, auto_pause_after=1)
    plain, strict, lenient = (await new_phone(db), await new_phone(db, auto_pause_after=2),
                              await new_phone(db, auto_pause_after=5))
    for _ in range(4):
        await leg(db, off, plain, "no-answer")
    assert (await state(db, plain))["presence"] == "signed_in"
    await leg(db, off, strict, "no-answer")
    await leg(db, off, strict, "no-answer")
    assert (await state(db, strict))["presence"] == "paused"
    await leg(db, on, lenient, "no-answer")
    assert (await state(db, lenient))["presence"] == "signed_in"


async def test_a_signed_out_phone_is_not_paused_by_misses(db: Any) -> None:
    hotline = await new_hotline(db, auto_pause_after=1)
    phone = await new_phone(db)
    await presence.change(db, phone, Presence.SIGNED_OUT, None, Source.CLI, "x")
    await leg(db, hotline, phone, "no-answer")
    assert (await state(db, phone))["presence"] == "signed_out"


async def test_a_reject_or_no_answer_delay_keeps_the_phone_from_the_next_offer(db: Any) -> None:
    hotline = await new_hotline(db)
    phone = await new_phone(db, reject_delay_s=600, no_answer_delay_s=0)
    await leg(db, hotline, phone, "no-answer")
    assert (await state(db, phone))["offer_after"] is None
    taken = uuid4()
    assert await claims.claim(db, phone, taken, uuid4(), "r1")
    await claims.release(db, taken)
    await leg(db, hotline, phone, "busy")
    assert (await state(db, phone))["offer_after"] is not None
    assert not await claims.claim(db, phone, uuid4(), uuid4(), "r1")
    # Signing in again (an admin's decision) lifts the delay.
    await presence.change(db, phone, Presence.SIGNED_OUT, None, Source.CLI, "x")
    await presence.change(db, phone, Presence.SIGNED_IN, None, Source.CLI, "x")
    assert await claims.claim(db, phone, uuid4(), uuid4(), "r1")


async def test_the_daemon_role_writes_the_leg_that_pauses_a_phone(
        db: Any, daemon_database_url: str) -> None:
    hotline = await new_hotline(db, auto_pause_after=1)
    phone = await new_phone(db)
    call_id, leg_id, now = uuid4(), uuid4(), datetime.now(UTC)
    await db.execute(
        """INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id,
                              started_at) VALUES ($1, $2, '4000000000', '1', $3, 'r1', $4)""",
        call_id, hotline, f"chan-{call_id}", now)
    await db.execute(
        """INSERT INTO call_legs (id, call_id, phone_id, dial_string, wave, dial_started_at,
                                  call_started_at)
           VALUES ($1, $2, $3, 'PJSIP/x', 0, $4,
                   (SELECT started_at FROM call_keys WHERE id = $2))""",
        leg_id, call_id, phone, now)
    daemon = await router_db.connect(daemon_database_url)
    try:
        await daemon.execute("UPDATE call_legs SET ended_at = $2, result = 'no-answer' "
                             "WHERE id = $1", leg_id, now)
    finally:
        await daemon.close()
    assert (await state(db, phone))["presence"] == "paused"


# --- recognising the phone that dialled a feature code ---------------------------


async def test_a_phone_is_recognised_by_its_endpoint_or_its_address(db: Any) -> None:
    port = 20000 + uuid4().int % 20000
    at_address = await db.fetchval(
        "INSERT INTO phones (dial_string) VALUES ($1) RETURNING id",
        f"PJSIP/phones/sip:8001@127.0.0.2:{port}")
    second_line = await db.fetchval(
        "INSERT INTO phones (dial_string) VALUES ($1) RETURNING id",
        f"PJSIP/phones/sip:8002@127.0.0.2:{port};transport=udp")
    endpoint = f"agent{port}"
    registered = await db.fetchval(
        "INSERT INTO phones (dial_string) VALUES ($1) RETURNING id", f"PJSIP/{endpoint}")
    trunk = await db.fetchval(
        "INSERT INTO phones (dial_string) VALUES ($1) RETURNING id",
        f"PJSIP/carrier/sip:13800138000@127.0.0.3:{port}")
    assert await presence.identify(db, "callers", f"127.0.0.2:{port}") == [at_address,
                                                                           second_line]
    assert await presence.identify(db, endpoint, "10.9.9.9:5060") == [registered]
    # A trunk's address is shared by all its callers: never a phone's identity.
    assert await presence.identify(db, "callers", f"127.0.0.3:{port}") == []
    assert trunk
    default_port = await db.fetchval(
        "INSERT INTO phones (dial_string) VALUES ($1) RETURNING id",
        f"PJSIP/phones/sip:9{port}@127.0.0.4")
    assert await presence.identify(db, "callers", "127.0.0.4:5060") == [default_port]


async def test_status_shows_the_derived_state(db: Any) -> None:
    hotline = await new_hotline(db)
    idle, paused, busy = await new_phone(db), await new_phone(db), await new_phone(db)
    for phone in (idle, paused, busy):
        await db.execute("INSERT INTO bound_phones (hotline_id, phone_id, position) "
                         "VALUES ($1, $2, $3)", hotline, phone, phone % 100000)
    await presence.change(db, paused, Presence.PAUSED, "lunch", Source.CLI, "x")
    await claims.claim(db, busy, uuid4(), uuid4(), "r1")
    rows = {r["phone"]: r for r in await presence.status(db, hotline)}
    assert {p: rows[p]["state"] for p in rows} == {idle: "idle", paused: "paused", busy: "busy"}
    assert rows[paused]["reason"] == "lunch"

"""How calls and routers end in the database: a record interrupted by its
router's stop is closed at the last moment known, every end says where its
time came from, and a router that stopped cleanly is no longer alive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from router import admin, claims, heartbeat
from router.records import sql
from router.records.kinds import (
    CallBridged,
    CallEnded,
    CallStarted,
    EndSource,
    LegEnded,
    LegPurpose,
    LegResult,
    LegStarted,
    Outcome,
)

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


async def test_an_interrupted_call_closes_at_the_last_moment_its_records_know(
        db: Any) -> None:
    router_id = f"router-ends-{uuid4().hex[:8]}"
    await heartbeat.beat(db, router_id, "hotline-router-ends", "http://127.0.0.1:1")
    call, talked, rang = uuid4(), uuid4(), uuid4()
    for record in (
            CallStarted(call, None, "4009990001", "13800000000", f"c-{call}", router_id, T0),
            LegStarted(talked, call, None, "PJSIP/a", 0, T0 + timedelta(seconds=1),
                       LegPurpose.PHONE),
            LegStarted(rang, call, None, "PJSIP/b", 0, T0 + timedelta(seconds=1),
                       LegPurpose.PHONE),
            CallBridged(call, talked, T0 + timedelta(seconds=3), None, "PJSIP/a",
                        T0 + timedelta(seconds=3)),
            # The phone's end was written; the call's end was lost with the router.
            LegEnded(talked, T0 + timedelta(seconds=5), LegResult.ANSWERED, 16)):
        await sql.write(db, record)

    assert await sql.close_interrupted(db, router_id) == 1
    row = await db.fetchrow("SELECT * FROM calls WHERE id = $1", call)
    assert row["ended_at"] == T0 + timedelta(seconds=5)  # not now(): 2 s billed, not hours
    assert row["billable_ms"] == 2_000
    assert row["outcome"] == "interrupted"
    assert row["end_source"] == "last-known"
    assert row["reconciled_at"] is not None
    legs = {leg["id"]: leg for leg in await sql.legs_of(db, call)}
    assert legs[rang]["ended_at"] == T0 + timedelta(seconds=5)
    assert legs[rang]["result"] == "cancelled"
    assert legs[talked]["ended_at"] == T0 + timedelta(seconds=5)
    assert await sql.close_interrupted(db, router_id) == 0


async def test_a_calls_end_says_where_its_time_came_from(db: Any) -> None:
    sources = {}
    for source in (EndSource.ASTERISK, EndSource.ROUTER_CLOCK, None):
        call = uuid4()
        await sql.write(db, CallStarted(call, None, "4009990002", "13800000000", f"c-{call}",
                                        "router-ends", T0))
        await sql.write(db, CallEnded(call, T0 + timedelta(seconds=9), Outcome.FAILED,
                                      end_source=source))
        sources[source] = await db.fetchval("SELECT end_source FROM calls WHERE id = $1", call)
    assert sources == {EndSource.ASTERISK: "asterisk", EndSource.ROUTER_CLOCK: "router-clock",
                       None: None}


async def test_a_router_that_stopped_cleanly_is_not_alive_until_it_beats_again(
        db: Any) -> None:
    staying, stopping = (f"router-lease-{uuid4().hex[:8]}-{n}" for n in ("a", "b"))
    for router_id in (staying, stopping):
        await heartbeat.beat(db, router_id, "hotline-router-lease", "http://127.0.0.1:2")
    alive = set(await heartbeat.alive(db, 15))
    assert {staying, stopping} <= alive

    await heartbeat.end_lease(db, stopping)
    alive = set(await heartbeat.alive(db, 15))
    assert staying in alive
    assert stopping not in alive

    await heartbeat.beat(db, stopping, "hotline-router-lease", "http://127.0.0.1:2")
    assert stopping in set(await heartbeat.alive(db, 15))


async def test_the_claims_other_routers_hold_are_counted_by_phone(
        db: Any, hotline_number: str) -> None:
    await admin.add_hotline(db, hotline_number)
    first = (await admin.add_phone(db, hotline_number, f"PJSIP/{hotline_number}-1"))["phone_id"]
    second = (await admin.add_phone(db, hotline_number, f"PJSIP/{hotline_number}-2",
                                    capacity=2))["phone_id"]
    me, peer = f"router-me-{hotline_number}", f"router-peer-{hotline_number}"
    assert await claims.claim(db, first, uuid4(), uuid4(), me)
    assert await claims.claim(db, second, uuid4(), uuid4(), peer)
    assert await claims.claim(db, second, uuid4(), uuid4(), peer)
    try:
        others = await claims.held_by_others(db, me)
        assert others.get(first, 0) == 0
        assert others[second] == 2
    finally:
        for router_id in (me, peer):
            await claims.release_all(db, router_id)

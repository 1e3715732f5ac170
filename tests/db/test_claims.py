"""Busy state against the real PostgreSQL: no phone ever exceeds its capacity."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

from router import claims


async def new_phone(db: Any, capacity: int = 1) -> int:
    phone_id: int = await db.fetchval(
        "INSERT INTO phones (dial_string, capacity) VALUES ($1, $2) RETURNING id",
        f"PJSIP/phones/sip:claims-{uuid4().hex[:12]}@127.0.0.1:5999", capacity)
    return phone_id


async def active(db: Any, phone_id: int) -> int:
    count: int = await db.fetchval(
        "SELECT active_calls FROM phone_state WHERE phone_id = $1", phone_id)
    return count


async def test_a_phone_at_capacity_cannot_be_claimed(db: Any) -> None:
    phone = await new_phone(db, capacity=1)
    first, second = uuid4(), uuid4()
    assert await claims.claim(db, phone, first, uuid4(), "r1")
    assert not await claims.claim(db, phone, second, uuid4(), "r2")
    assert await active(db, phone) == 1
    assert await claims.release(db, first)
    assert await claims.claim(db, phone, second, uuid4(), "r2")
    assert await active(db, phone) == 1


async def test_release_is_idempotent(db: Any) -> None:
    phone = await new_phone(db)
    leg = uuid4()
    assert await claims.claim(db, phone, leg, uuid4(), "r1")
    assert await claims.release(db, leg, talk_ms=65_000)
    assert not await claims.release(db, leg, talk_ms=65_000)
    assert await active(db, phone) == 0
    assert await db.fetchval(
        "SELECT last_call_ended_at IS NOT NULL FROM phone_state WHERE phone_id = $1", phone)


async def test_concurrent_claims_never_exceed_capacity(db: Any) -> None:
    phone = await new_phone(db, capacity=3)
    results = await asyncio.gather(
        *(claims.claim(db, phone, uuid4(), uuid4(), f"router-{i % 2}") for i in range(40)))
    assert sum(results) == 3
    assert await active(db, phone) == 3
    assert await db.fetchval("SELECT count(*) FROM phone_claims WHERE phone_id = $1", phone) == 3


async def test_disabled_phone_is_never_claimed(db: Any) -> None:
    phone = await new_phone(db)
    await db.execute("UPDATE phones SET enabled = false WHERE id = $1", phone)
    assert not await claims.claim(db, phone, uuid4(), uuid4(), "r1")


async def test_release_all_frees_only_that_routers_claims(db: Any) -> None:
    phone = await new_phone(db, capacity=3)
    for router_id in ("dead-router", "dead-router", "live-router"):
        assert await claims.claim(db, phone, uuid4(), uuid4(), router_id)
    assert await claims.release_all(db, "dead-router") == 2
    assert await active(db, phone) == 1
    assert await db.fetchval(
        "SELECT router_id FROM phone_claims WHERE phone_id = $1", phone) == "live-router"


async def test_a_claim_written_back_after_an_outage_respects_capacity(db: Any) -> None:
    phone = await new_phone(db, capacity=1)
    # While router r1 could not reach the database it took the phone on its own;
    # router r2 claimed it meanwhile.
    assert await claims.claim(db, phone, uuid4(), uuid4(), "r2")
    local_leg, local_call = uuid4(), uuid4()
    assert not await claims.adopt(db, phone, local_leg, local_call, "r1")
    assert await active(db, phone) == 1
    assert await db.fetchval("SELECT count(*) FROM phone_claims WHERE phone_id = $1", phone) == 1
    conflict = await db.fetchrow("SELECT * FROM claim_conflicts WHERE leg_id = $1", local_leg)
    assert (conflict["phone_id"], conflict["call_id"], conflict["router_id"],
            conflict["active_calls"], conflict["capacity"]) == (phone, local_call, "r1", 1, 1)
    # A second replay changes nothing; releasing the claim never written frees nothing.
    assert not await claims.adopt(db, phone, local_leg, local_call, "r1")
    assert not await claims.release(db, local_leg)
    assert await active(db, phone) == 1


async def test_a_claim_written_back_below_capacity_is_inserted_once(db: Any) -> None:
    phone = await new_phone(db, capacity=2)
    leg = uuid4()
    assert await claims.adopt(db, phone, leg, uuid4(), "r1")
    assert await claims.adopt(db, phone, leg, uuid4(), "r1")  # replayed: already there
    assert await active(db, phone) == 1
    assert await db.fetchval("SELECT count(*) FROM claim_conflicts WHERE leg_id = $1", leg) == 0


async def test_concurrent_write_backs_never_exceed_capacity(db: Any) -> None:
    phone = await new_phone(db, capacity=2)
    results = await asyncio.gather(
        *(claims.adopt(db, phone, uuid4(), uuid4(), f"router-{i}") for i in range(10)))
    assert sum(results) == 2
    assert await active(db, phone) == 2
    assert await db.fetchval(
        "SELECT count(*) FROM claim_conflicts WHERE phone_id = $1", phone) == 8

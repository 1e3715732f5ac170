"""The hold queue's SQL against the real PostgreSQL: order, turns, races, limits, wake-ups."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from router import admin, claims, waiting
from router import db as router_db

LEASE_S = 15.0
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
_numbers = itertools.count(1)


async def queued_hotline(db: Any, phones: int = 1, capacity: int = 1) -> tuple[int, list[int]]:
    """A hotline with ``phones`` bound phones: (hotline id, phone ids)."""
    number = f"40078{next(_numbers):05d}"
    hotline = await admin.add_hotline(db, number)
    phone_ids = []
    for _ in range(phones):
        row = await admin.add_phone(db, number, f"PJSIP/phones/sip:q-{uuid4().hex[:10]}"
                                                f"@127.0.0.1:5999", capacity=capacity)
        phone_ids.append(row["phone_id"])
    return hotline["id"], phone_ids


async def alive(db: Any, *router_ids: str) -> None:
    for router_id in router_ids:
        await db.execute(
            "INSERT INTO routers (router_id, app, ari_url) VALUES ($1, 'app', 'http://ari') "
            "ON CONFLICT (router_id) DO UPDATE SET last_seen_at = now(), stopped_at = NULL",
            router_id)


async def join(db: Any, hotline_id: int, router_id: str = "r1", vip: bool = False,
               arrived_s: float = 0.0, max_waiting: int | None = None,
               call_id: UUID | None = None) -> tuple[UUID, int | None]:
    call = call_id or uuid4()
    place = await waiting.join(db, call, hotline_id, 0, router_id, vip,
                               T0 + timedelta(seconds=arrived_s), max_waiting, LEASE_S)
    return call, place


async def busy(db: Any, phone_id: int) -> UUID:
    """Take the phone's slot for some call; the leg id."""
    leg = uuid4()
    assert await claims.claim(db, phone_id, leg, uuid4(), "r1")
    return leg


async def test_vip_first_then_arrival_order(db: Any) -> None:
    hotline, _ = await queued_hotline(db)
    await alive(db, "r1", "r2")
    a, place_a = await join(db, hotline, "r1", arrived_s=1)
    b, place_b = await join(db, hotline, "r2", arrived_s=2)
    v, place_v = await join(db, hotline, "r1", vip=True, arrived_s=3)
    # A caller whose first hunt took longer joins later but arrived earlier.
    early, place_early = await join(db, hotline, "r2", arrived_s=1.5)
    assert (place_a, place_b, place_v, place_early) == (1, 2, 1, 3)  # behind the VIP
    assert [w.call_id for w in await waiting.waiters(db)
            if w.call_id in {a, b, v, early}] == [v, a, early, b]
    assert [await waiting.position(db, c) for c in (v, a, early, b)] == [1, 2, 3, 4]


async def test_only_the_head_takes_the_one_freed_phone(db: Any) -> None:
    """Five waiters of two routers all ask at once when the one phone frees:
    exactly one offer, to the head; nobody is skipped."""
    hotline, (phone,) = await queued_hotline(db)
    await alive(db, "r1", "r2")
    leg = await busy(db, phone)
    calls = [(await join(db, hotline, f"r{i % 2 + 1}", arrived_s=i))[0] for i in range(5)]
    assert not any(await asyncio.gather(
        *(waiting.offer(db, c, hotline, [phone], LEASE_S) for c in calls)))
    await claims.release(db, leg)
    for head in calls:
        granted = await asyncio.gather(
            *(waiting.offer(db, c, hotline, [phone], LEASE_S) for c in reversed(calls)))
        assert list(reversed(granted)) == [c == head for c in calls]
        # Before its claim, the offer holds the slot: nobody else is let in.
        assert not any(await asyncio.gather(
            *(waiting.offer(db, c, hotline, [phone], LEASE_S) for c in calls if c != head)))
        taken = uuid4()
        assert await claims.claim(db, phone, taken, head, "r1")
        await waiting.leave(db, head, answered=True)
        calls_left = [c for c in calls if c != head]
        assert not any(await asyncio.gather(
            *(waiting.offer(db, c, hotline, [phone], LEASE_S) for c in calls_left)))
        await claims.release(db, taken, talk_ms=1000)
        calls = calls_left
    assert calls == []


async def test_two_freed_phones_let_in_the_first_two(db: Any) -> None:
    hotline, phones = await queued_hotline(db, phones=2)
    await alive(db, "r1")
    calls = [(await join(db, hotline, arrived_s=i))[0] for i in range(4)]
    granted = await asyncio.gather(*(waiting.offer(db, c, hotline, phones, LEASE_S)
                                     for c in calls))
    assert granted == [True, True, False, False]


async def test_a_waiter_that_gives_its_turn_back_keeps_its_place(db: Any) -> None:
    hotline, (phone,) = await queued_hotline(db)
    await alive(db, "r1")
    first, _ = await join(db, hotline, arrived_s=1)
    second, _ = await join(db, hotline, arrived_s=2)
    assert await waiting.offer(db, first, hotline, [phone], LEASE_S)
    await waiting.give_back(db, first)  # its phone did not answer
    assert not await waiting.offer(db, second, hotline, [phone], LEASE_S)
    assert await waiting.offer(db, first, hotline, [phone], LEASE_S)


async def test_concurrent_joins_respect_the_limit(db: Any) -> None:
    hotline, _ = await queued_hotline(db)
    await alive(db, "r1", "r2")
    places = await asyncio.gather(*(join(db, hotline, f"r{i % 2 + 1}", arrived_s=i,
                                         max_waiting=3) for i in range(12)))
    joined = [call for call, place in places if place is not None]
    assert len(joined) == 3
    # Their places now (one that arrived earlier may have joined later, ahead).
    assert sorted([await waiting.position(db, call) or 0 for call in joined]) == [1, 2, 3]
    assert await db.fetchval("SELECT count(*) FROM queue_waiters WHERE hotline_id = $1",
                             hotline) == 3


async def test_waiters_of_a_dead_router_or_an_ended_call_are_cleared(db: Any) -> None:
    hotline, (phone,) = await queued_hotline(db)
    await alive(db, "r1", "gone")
    dead, _ = await join(db, hotline, "gone", arrived_s=1)
    mine, _ = await join(db, hotline, "r1", arrived_s=2)
    await db.execute("UPDATE routers SET stopped_at = now() WHERE router_id = 'gone'")
    assert await waiting.offer(db, mine, hotline, [phone], LEASE_S)
    assert await waiting.position(db, dead) is None


async def test_a_freed_phone_notifies_the_hotline_only_while_callers_wait(
        db: Any, database_url: str) -> None:
    hotline, (phone,) = await queued_hotline(db)
    await alive(db, "r1")
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await router_db.connect(database_url)
    try:
        await listener.add_listener(waiting.CHANNEL, lambda *a: heard.put_nowait(a[3]))
        leg = await busy(db, phone)
        await claims.release(db, leg)
        with pytest.raises(TimeoutError):  # nobody waits: no notification
            await asyncio.wait_for(heard.get(), 0.3)
        leg = await busy(db, phone)
        call, _ = await join(db, hotline)
        await claims.release(db, leg)
        assert await asyncio.wait_for(heard.get(), 2) == str(hotline)
        assert await waiting.offer(db, call, hotline, [phone], LEASE_S)
        await waiting.give_back(db, call)  # the next in line may look
        assert await asyncio.wait_for(heard.get(), 2) == str(hotline)
        await waiting.leave(db, call, answered=False)
        assert await asyncio.wait_for(heard.get(), 2) == str(hotline)
    finally:
        await listener.close()


async def test_answered_waits_make_the_expected_wait(db: Any) -> None:
    hotline, _ = await queued_hotline(db)
    await alive(db, "r1")
    # No hotline_state row yet (a sequential hotline takes no round-robin number).
    assert await waiting.hold_ms(db, hotline) is None
    for waited_s in (40, 80):
        call, _ = await join(db, hotline)
        await db.execute("UPDATE queue_waiters SET joined_at = now() - make_interval(secs => $2)"
                         " WHERE call_id = $1", call, waited_s)
        await waiting.leave(db, call, answered=True)
    hold = await waiting.hold_ms(db, hotline)
    assert hold is not None
    assert 49_000 <= hold <= 51_000  # (3 * 40 s + 80 s) / 4


async def test_the_database_refuses_bad_queue_settings(db: Any) -> None:
    hotline, _ = await queued_hotline(db)
    for column, value, constraint in [
            ("queue_max_waiting", 0, "hotline_queue_max_waiting_must_be_1_to_1000"),
            ("queue_announce_every_s", 5,
             "hotline_queue_announce_every_must_be_0_or_10_to_600_seconds"),
            ("queue_music_class", "a b",
             "hotline_queue_music_class_must_be_a_music_on_hold_class"),
            ("queue_overflow", "forward",
             "hotline_queue_overflow_forward_needs_overflow_forward_to")]:
        with pytest.raises(asyncpg.CheckViolationError) as refused:
            await db.execute(f"UPDATE hotlines SET {column} = $2 WHERE id = $1", hotline, value)
        assert refused.value.constraint_name == constraint


async def test_a_paused_phone_is_no_free_slot(db: Any) -> None:
    """A paused or signed-out phone (0020) takes no claim: counted free, it would
    hand the head a turn nobody can serve, and the next free phone to a caller
    further back."""
    hotline, (paused, other) = await queued_hotline(db, phones=2)
    await alive(db, "r1")
    await db.execute("SELECT set_presence($1, 'paused', 'lunch')", paused)
    leg = await busy(db, other)
    head, _ = await join(db, hotline, arrived_s=1)
    assert not await waiting.offer(db, head, hotline, [paused, other], LEASE_S)
    await claims.release(db, leg, None)
    assert await waiting.offer(db, head, hotline, [paused, other], LEASE_S)


async def test_a_call_joining_again_after_its_router_restarted_gets_a_turn_again(
        db: Any) -> None:
    """Its router died while its turn rang a phone; routed afresh by the same
    router id, the call keeps its place and may be offered again."""
    hotline, (phone,) = await queued_hotline(db)
    await alive(db, "r1")
    call, place = await join(db, hotline, arrived_s=1)
    assert await waiting.offer(db, call, hotline, [phone], LEASE_S)
    again, place_again = await join(db, hotline, arrived_s=1, call_id=call)
    assert (again, place_again) == (call, place)
    assert await waiting.offer(db, call, hotline, [phone], LEASE_S)

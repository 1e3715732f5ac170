"""A routing decision in one statement (migrations/0024_claim_in_order.sql), against
the real PostgreSQL: order kept, every rule of a single claim kept, capacity never
exceeded however many calls claim at once, round-robin's turn and the billing
refusal taken with it."""

from __future__ import annotations

import asyncio
import random
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from router import claims
from tests.db.test_claims import active, new_phone


async def new_hotline(db: Any) -> int:
    hotline_id: int = await db.fetchval(
        "INSERT INTO hotlines (number, strategy, name) VALUES ($1, 'round_robin', 'in order') "
        "RETURNING id", "4008" + str(uuid4().int % 10**6).zfill(6))
    return hotline_id


async def take(db: Any, phones: list[int], wanted: int, hotline_id: int | None = None,
               take_turn: bool = False, check_refusal: bool = False,
               skip: frozenset[int] = frozenset(), router_id: str = "r1") -> claims.InOrder:
    legs: list[UUID | None] = [None if p in skip else uuid4() for p in phones]
    return await claims.claim_in_order(db, phones, legs, uuid4(), router_id, wanted,
                                       hotline_id, take_turn, check_refusal)


def ids(got: claims.InOrder) -> list[int]:
    return [p.phone_id for p in got.claimed]


async def test_the_first_idle_phone_in_the_given_order_is_claimed(db: Any) -> None:
    a, b, c = [await new_phone(db) for _ in range(3)]
    assert await claims.claim(db, b, uuid4(), uuid4(), "other")  # b is busy
    got = await take(db, [b, c, a], wanted=1)
    assert ids(got) == [c]
    assert [p.phone_id for p in got.listed] == [b, c, a]  # every listed phone, in order
    assert [(p.active_calls, p.claimed) for p in got.listed] == [(1, False), (1, True),
                                                                 (0, False)]
    claimed = got.claimed[0]
    assert await db.fetchval("SELECT phone_id FROM phone_claims WHERE leg_id = $1",
                             claimed.leg_id) == c
    assert got.call_number is None
    assert not got.refuses


async def test_wanted_all_claims_every_idle_phone_and_none_above_capacity(db: Any) -> None:
    a, b, c = [await new_phone(db) for _ in range(3)]
    two = await new_phone(db, capacity=2)
    assert await claims.claim(db, a, uuid4(), uuid4(), "other")
    got = await take(db, [a, b, two, c], wanted=4)
    assert ids(got) == [b, two, c]
    assert await active(db, two) == 1  # one slot per call, not its whole capacity
    assert ids(await take(db, [a, b, two, c], wanted=4)) == [two]
    assert [await active(db, p) for p in (a, b, two, c)] == [1, 1, 2, 1]


async def test_a_phone_without_a_leg_is_listed_but_never_claimed(db: Any) -> None:
    a, b = await new_phone(db), await new_phone(db)
    got = await take(db, [a, b], wanted=1, skip=frozenset({a}))
    assert ids(got) == [b]
    assert [p.leg_id is None for p in got.listed] == [True, False]
    assert await active(db, a) == 0


@pytest.mark.parametrize("unfit", [
    "SELECT set_presence({phone}, 'signed_out')",
    "SELECT set_presence({phone}, 'paused', 'lunch')",
    "UPDATE phone_state SET offer_after = now() + interval '1 minute' WHERE phone_id = {phone}",
    "UPDATE phones SET enabled = false WHERE id = {phone}",
    "UPDATE phones SET wrap_up_s = 60 WHERE id = {phone}; "
    "UPDATE phone_state SET last_call_ended_at = now() WHERE phone_id = {phone}",
])
async def test_every_rule_of_a_single_claim_holds(db: Any, unfit: str) -> None:
    """Presence, the reject / no-answer delay (migration 0020), a disabled phone,
    wrap-up: the phone is passed over, as router/claims.py's claim passes it."""
    phone, next_one = await new_phone(db), await new_phone(db)
    await db.execute(unfit.format(phone=phone))
    assert not await claims.claim(db, phone, uuid4(), uuid4(), "r1")
    got = await take(db, [phone, next_one], wanted=2)
    assert ids(got) == [next_one]
    assert await active(db, phone) == 0
    assert await db.fetchval("SELECT count(*) FROM phone_claims WHERE phone_id = $1",
                             phone) == 0


async def test_the_round_robin_turn_begins_the_list_and_advances(db: Any) -> None:
    hotline = await new_hotline(db)
    phones = [await new_phone(db) for _ in range(3)]
    firsts = []
    for _ in range(4):
        got = await take(db, phones, wanted=1, hotline_id=hotline, take_turn=True)
        firsts.append((got.call_number, ids(got)))
        assert got.claimed[0].leg_id is not None
        await claims.release(db, got.claimed[0].leg_id)
    assert firsts == [(0, [phones[0]]), (1, [phones[1]]), (2, [phones[2]]), (3, [phones[0]])]
    assert await db.fetchval("SELECT calls_routed FROM hotline_state WHERE hotline_id = $1",
                             hotline) == 4
    # The turn's phone busy: on from it, around to the start.
    assert await claims.claim(db, phones[1], uuid4(), uuid4(), "other")
    assert await claims.claim(db, phones[2], uuid4(), uuid4(), "other")
    got = await take(db, phones, wanted=1, hotline_id=hotline, take_turn=True)
    assert (got.call_number, ids(got)) == (4, [phones[0]])


async def test_a_hotline_billing_refuses_claims_nothing(db: Any) -> None:
    hotline = await new_hotline(db)
    phone = await new_phone(db)
    got = await take(db, [phone], wanted=1, hotline_id=hotline, check_refusal=True)
    assert not got.refuses
    assert ids(got) == [phone]
    await db.execute("INSERT INTO hotline_billing (hotline_id, at_zero_balance) "
                     "VALUES ($1, 'refuse')", hotline)  # no top-up: a balance of 0
    other = await new_phone(db)
    got = await take(db, [other], wanted=1, hotline_id=hotline, take_turn=True,
                     check_refusal=True)
    assert got.refuses
    assert ids(got) == []
    assert [p.phone_id for p in got.listed] == [other]  # busy state still read
    assert await active(db, other) == 0


async def test_an_empty_list_still_answers_the_turn_and_the_refusal(db: Any) -> None:
    hotline = await new_hotline(db)
    got = await take(db, [], wanted=1, hotline_id=hotline, take_turn=True, check_refusal=True)
    assert (got.claimed, got.listed, got.call_number, got.refuses) == ((), (), 0, False)


async def test_a_leg_list_that_does_not_match_the_phones_is_refused(db: Any) -> None:
    phone = await new_phone(db)
    with pytest.raises(asyncpg.InvalidParameterValueError):
        await claims.claim_in_order(db, [phone], [uuid4(), uuid4()], uuid4(), "r1", 1)


async def test_concurrent_decisions_never_exceed_capacity_nor_deadlock(db: Any) -> None:
    """Many calls at once over several connections, hunting and ringing all,
    over overlapping lists in different orders (two groups sharing phones)."""
    phones = [await new_phone(db, capacity=c) for c in (1, 2, 1, 3, 1, 2)]
    capacity = {p: c for p, c in zip(phones, (1, 2, 1, 3, 1, 2), strict=True)}
    rng = random.Random(18)

    async def one(n: int) -> claims.InOrder:
        order = rng.sample(phones, k=rng.randint(2, len(phones)))
        return await take(db, order, wanted=1 if n % 2 else len(order),
                          router_id=f"router-{n % 3}")

    results = await asyncio.gather(*(one(n) for n in range(60)))
    claimed = [p.phone_id for got in results for p in got.claimed]
    assert len(claimed) == sum(capacity.values())  # every slot taken once, no more
    for phone in phones:
        assert claimed.count(phone) == capacity[phone]
        assert await active(db, phone) == capacity[phone]
        assert await db.fetchval("SELECT count(*) FROM phone_claims WHERE phone_id = $1",
                                 phone) == capacity[phone]

"""Busy state shared by every router: claiming and releasing a phone.

A claim is one statement: increment the phone's live-call count only while it
is below capacity, signed in and past any reject / no-answer delay
(migrations/0020_presence.sql), and record the claim in the same statement. PostgreSQL
re-evaluates the WHERE clause on the newest row version when two routers race,
so a phone never carries more calls than its capacity.

:func:`claim_in_order` is a whole routing decision in one statement: the first
idle phones of a strategy's order claimed by the same rules
(migrations/0024_claim_in_order.sql), with the listed phones' busy state,
the hotline's billing refusal and round-robin turn read or taken alongside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from router.billing.balance import refusal_sql

_CLAIM = """
WITH taken AS (
    UPDATE phone_state s SET active_calls = s.active_calls + 1
    FROM phones p
    WHERE s.phone_id = $1 AND p.id = s.phone_id AND p.enabled
      AND s.active_calls < p.capacity
      AND s.presence = 'signed_in' AND (s.offer_after IS NULL OR s.offer_after <= now())
      AND (p.wrap_up_s = 0 OR s.last_call_ended_at IS NULL
           OR s.last_call_ended_at + p.wrap_up_s * interval '1 second' <= now())
    RETURNING s.phone_id)
INSERT INTO phone_claims (leg_id, phone_id, call_id, router_id)
SELECT $2, phone_id, $3, $4 FROM taken
RETURNING leg_id
"""

# $2 is the talk time of a call the phone answered, NULL for a ring attempt
# that was not answered; talk counts toward today's stats and starts wrap-up.
_RELEASE = """
WITH released AS (DELETE FROM phone_claims WHERE leg_id = $1 RETURNING phone_id)
UPDATE phone_state s
SET active_calls = s.active_calls - 1,
    last_call_ended_at = CASE WHEN $2::bigint IS NULL THEN s.last_call_ended_at ELSE now() END,
    calls_today = CASE WHEN s.stats_day = stats_today() THEN s.calls_today ELSE 0 END
                  + CASE WHEN $2::bigint IS NULL THEN 0 ELSE 1 END,
    talk_ms_today = CASE WHEN s.stats_day = stats_today() THEN s.talk_ms_today ELSE 0 END
                    + coalesce($2::bigint, 0),
    stats_day = stats_today()
FROM released WHERE s.phone_id = released.phone_id
RETURNING s.phone_id
"""

# The bulk releases lock their phones' busy state in phone id order before
# anything else, as claim_in_order (0024) does: two statements over many
# phones then never wait on each other in a cycle (no deadlock to lose either).
_RELEASE_ROUTER = """
WITH locked AS (
    SELECT s.phone_id FROM phone_state s
    WHERE s.phone_id IN (SELECT phone_id FROM phone_claims WHERE router_id = $1)
    ORDER BY s.phone_id FOR UPDATE OF s),
     released AS (DELETE FROM phone_claims
                  WHERE router_id = $1 AND phone_id IN (SELECT phone_id FROM locked)
                  RETURNING phone_id),
     counts AS (SELECT phone_id, count(*) AS n FROM released GROUP BY phone_id)
UPDATE phone_state s SET active_calls = s.active_calls - counts.n
FROM counts WHERE s.phone_id = counts.phone_id
RETURNING counts.n
"""


# A claim taken while the database was away, written back: inserted only while
# the phone is below capacity (another router may have filled it meanwhile);
# otherwise kept in claim_conflicts, so no phone is counted above its capacity.
# A claim already written back (a second replay) changes nothing.
_ADOPT = """
WITH phone AS (
    SELECT s.phone_id, s.active_calls, p.capacity FROM phone_state s
    JOIN phones p ON p.id = s.phone_id
    WHERE s.phone_id = $2 AND NOT EXISTS (SELECT 1 FROM phone_claims WHERE leg_id = $1)
    FOR UPDATE OF s),
inserted AS (
    INSERT INTO phone_claims (leg_id, phone_id, call_id, router_id)
    SELECT $1, phone_id, $3, $4 FROM phone WHERE active_calls < capacity
    ON CONFLICT (leg_id) DO NOTHING
    RETURNING phone_id),
counted AS (
    UPDATE phone_state s SET active_calls = s.active_calls + 1
    FROM inserted WHERE s.phone_id = inserted.phone_id
    RETURNING s.phone_id),
conflict AS (
    INSERT INTO claim_conflicts (leg_id, phone_id, call_id, router_id, active_calls, capacity)
    SELECT $1, phone_id, $3, $4, active_calls, capacity FROM phone
    WHERE active_calls >= capacity
    ON CONFLICT (leg_id) DO NOTHING
    RETURNING leg_id)
SELECT EXISTS (SELECT 1 FROM inserted) OR EXISTS (SELECT 1 FROM phone_claims WHERE leg_id = $1)
"""


async def claim(db: Any, phone_id: int, leg_id: UUID, call_id: UUID, router_id: str) -> bool:
    """Take one call slot on the phone for this leg; False when it is busy."""
    return await db.fetchval(_CLAIM, phone_id, leg_id, call_id, router_id) is not None


async def adopt(db: Any, phone_id: int, leg_id: UUID, call_id: UUID, router_id: str) -> bool:
    """Write back a claim taken while the database was away (idempotent).

    True when the claim is in ``phone_claims`` (now or from an earlier
    replay); False when the phone was at capacity (the claim is recorded in
    ``claim_conflicts`` instead) or is gone.
    """
    return bool(await db.fetchval(_ADOPT, leg_id, phone_id, call_id, router_id))


async def release(db: Any, leg_id: UUID, talk_ms: int | None = None) -> bool:
    """Give the leg's slot back (idempotent); ``talk_ms`` for a call it answered."""
    return await db.fetchval(_RELEASE, leg_id, talk_ms) is not None


async def release_all(db: Any, router_id: str) -> int:
    """Release every claim a router holds (used when it starts afresh)."""
    return sum(row["n"] for row in await db.fetch(_RELEASE_ROUTER, router_id))


_RELEASE_STALE = """
WITH locked AS (
    SELECT s.phone_id FROM phone_state s
    WHERE s.phone_id IN (SELECT phone_id FROM phone_claims
                         WHERE (router_id = $1 AND leg_id <> ALL($2::uuid[]))
                            OR claimed_at < now() - make_interval(secs => $3))
    ORDER BY s.phone_id FOR UPDATE OF s),
     released AS (
    DELETE FROM phone_claims
    WHERE ((router_id = $1 AND leg_id <> ALL($2::uuid[]))
           OR claimed_at < now() - make_interval(secs => $3))
      AND phone_id IN (SELECT phone_id FROM locked)
    RETURNING phone_id),
     counts AS (SELECT phone_id, count(*) AS n FROM released GROUP BY phone_id)
UPDATE phone_state s SET active_calls = greatest(0, s.active_calls - counts.n)
FROM counts WHERE s.phone_id = counts.phone_id
RETURNING counts.n
"""


async def release_stale(db: Any, router_id: str, keep: list[UUID], older_than_s: float) -> int:
    """Release this router's claims that no live call holds, and anyone's claim
    older than the longest call allowed (its router is surely gone)."""
    return sum(row["n"] for row in await db.fetch(_RELEASE_STALE, router_id, keep, older_than_s))


# $5 wanted; $6 the hotline whose round-robin turn is taken when $7 (the list
# then starts at the turn's phone) and whose billing refusal is read when $8
# (nothing is claimed when it refuses). One row at least, for the turn and the
# refusal; then one per listed phone that has a busy state, in the list's order.
_CLAIM_IN_ORDER = f"""
WITH turn AS (
    INSERT INTO hotline_state (hotline_id, calls_routed) SELECT $6, 1 WHERE $7
    ON CONFLICT (hotline_id) DO UPDATE SET calls_routed = hotline_state.calls_routed + 1
    RETURNING calls_routed - 1 AS call_number),
asked AS (
    SELECT (SELECT call_number FROM turn) AS call_number,
           CASE WHEN $8 THEN {refusal_sql('$6')} ELSE false END AS refuses)
SELECT a.call_number, a.refuses, c.*
FROM asked a LEFT JOIN LATERAL claim_in_order(
    $1::bigint[], $2::uuid[], $3::uuid, $4::text, CASE WHEN a.refuses THEN 0 ELSE $5::int END,
    (coalesce(a.call_number, 0) % greatest(cardinality($1::bigint[]), 1))::int) c ON true
"""


@dataclass(frozen=True)
class ListedPhone:
    """A listed phone's busy state after the claims (``phone_state``, today's stats)."""

    phone_id: int
    leg_id: UUID | None   # the leg that holds it, when ``claimed``
    claimed: bool
    active_calls: int
    last_call_ended_at: datetime | None
    presence: str
    offer_after: datetime | None
    calls_today: int
    talk_ms_today: int


@dataclass(frozen=True)
class InOrder:
    """What :func:`claim_in_order` got: the phones claimed in the order tried,
    every listed phone's state (a phone without a state row is missing), the
    round-robin number taken (None: not asked) and the billing refusal."""

    claimed: tuple[ListedPhone, ...]
    listed: tuple[ListedPhone, ...]
    call_number: int | None
    refuses: bool


async def claim_in_order(db: Any, phone_ids: Sequence[int], leg_ids: Sequence[UUID | None],
                         call_id: UUID, router_id: str, wanted: int,
                         hotline_id: int | None = None, take_turn: bool = False,
                         check_refusal: bool = False) -> InOrder:
    """Claim at most ``wanted`` of the first idle phones of ``phone_ids`` (in
    that order), each for its leg in ``leg_ids`` (None: skip it), in one statement.

    ``take_turn``: take the hotline's next round-robin number n and begin at
    the phone n modulo the list's length, on around to the start (the list is
    then the hotline's or group's phones in the admin's order). ``check_refusal``:
    claim nothing when billing refuses the hotline's calls (docs/billing.md).
    Raises what asyncpg raises (the store tells "away" from "refused").
    """
    if take_turn or check_refusal:
        assert hotline_id is not None, "a turn or a refusal belongs to a hotline"
    rows = await db.fetch(_CLAIM_IN_ORDER, list(phone_ids), list(leg_ids), call_id, router_id,
                          wanted, hotline_id, take_turn, check_refusal)
    listed = tuple(ListedPhone(phone_id=r["phone_id"], leg_id=r["leg_id"], claimed=r["claimed"],
                               active_calls=r["active_calls"],
                               last_call_ended_at=r["last_call_ended_at"],
                               presence=r["presence"], offer_after=r["offer_after"],
                               calls_today=r["calls_today"], talk_ms_today=r["talk_ms_today"])
                   for r in rows if r["phone_id"] is not None)
    # The order tried: from the turn's phone on, around to the start.
    start = (rows[0]["call_number"] or 0) % max(len(phone_ids), 1)
    place = {phone: (index - start) % max(len(phone_ids), 1)
             for index, phone in enumerate(phone_ids)}
    claimed = tuple(sorted((p for p in listed if p.claimed), key=lambda p: place[p.phone_id]))
    return InOrder(claimed=claimed, listed=listed, call_number=rows[0]["call_number"],
                   refuses=bool(rows[0]["refuses"]))

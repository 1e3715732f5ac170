"""Busy state shared by every router: claiming and releasing a phone.

A claim is one statement: increment the phone's live-call count only while it
is below capacity, and record the claim in the same statement. PostgreSQL
re-evaluates the WHERE clause on the newest row version when two routers race,
so a phone never carries more calls than its capacity.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

_CLAIM = """
WITH taken AS (
    UPDATE phone_state s SET active_calls = s.active_calls + 1
    FROM phones p
    WHERE s.phone_id = $1 AND p.id = s.phone_id AND p.enabled
      AND s.active_calls < p.capacity
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

_RELEASE_ROUTER = """
WITH released AS (DELETE FROM phone_claims WHERE router_id = $1 RETURNING phone_id),
     counts AS (SELECT phone_id, count(*) AS n FROM released GROUP BY phone_id)
UPDATE phone_state s SET active_calls = s.active_calls - counts.n
FROM counts WHERE s.phone_id = counts.phone_id
RETURNING counts.n
"""


# A claim taken while the database was away, written back: the phone is in use
# whatever its count says, so this one does not check capacity.
_ADOPT = """
WITH inserted AS (
    INSERT INTO phone_claims (leg_id, phone_id, call_id, router_id) VALUES ($1, $2, $3, $4)
    ON CONFLICT (leg_id) DO NOTHING
    RETURNING phone_id)
UPDATE phone_state s SET active_calls = s.active_calls + 1
FROM inserted WHERE s.phone_id = inserted.phone_id
"""


async def claim(db: Any, phone_id: int, leg_id: UUID, call_id: UUID, router_id: str) -> bool:
    """Take one call slot on the phone for this leg; False when it is busy."""
    return await db.fetchval(_CLAIM, phone_id, leg_id, call_id, router_id) is not None


async def adopt(db: Any, phone_id: int, leg_id: UUID, call_id: UUID, router_id: str) -> None:
    """Record a claim that is already in use (idempotent)."""
    await db.execute(_ADOPT, leg_id, phone_id, call_id, router_id)


async def release(db: Any, leg_id: UUID, talk_ms: int | None = None) -> bool:
    """Give the leg's slot back (idempotent); ``talk_ms`` for a call it answered."""
    return await db.fetchval(_RELEASE, leg_id, talk_ms) is not None


async def held_by_others(db: Any, router_id: str) -> dict[int, int]:
    """Live claims of routers other than ``router_id``, by phone: {phone_id: claims}."""
    return {r["phone_id"]: r["n"] for r in await db.fetch(
        "SELECT phone_id, count(*) AS n FROM phone_claims WHERE router_id <> $1 "
        "GROUP BY phone_id", router_id)}


async def release_all(db: Any, router_id: str) -> int:
    """Release every claim a router holds (used when it starts afresh)."""
    return sum(row["n"] for row in await db.fetch(_RELEASE_ROUTER, router_id))


_RELEASE_STALE = """
WITH released AS (
    DELETE FROM phone_claims
    WHERE (router_id = $1 AND leg_id <> ALL($2::uuid[]))
       OR claimed_at < now() - make_interval(secs => $3)
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

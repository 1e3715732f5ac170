"""Rating in the database: charge each answered call once, settle each month once.

Exactly once comes from the schema, not from care: an answered call's end
puts it on `rating_queue` (a trigger, in the same transaction as the record),
and one transaction here charges it and takes it off the queue, under a
unique index that allows one charge per call. A router killed at any point
leaves either the queue row or the charge, never neither and never both.

All rating of one hotline runs under one advisory lock, so several routers
can rate side by side and included minutes are shared out in one order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import structlog

from router.billing import ledger, terms
from router.billing.rating import CallTimes, Rating, minimum_spend_top_up, rate_call

log = structlog.get_logger("router.billing")

# pg_advisory_xact_lock(class, hotline id): "rating hotline N". Any constant
# the project uses for nothing else.
LOCK_CLASS = 0x400B111


async def lock_hotline(connection: Any, hotline_id: int) -> None:
    """Hold the hotline's rating lock until the transaction ends."""
    await connection.execute("SELECT pg_advisory_xact_lock($1, $2::integer)",
                             LOCK_CLASS, hotline_id)


@dataclass
class HotlineRated:
    """What one rating pass did to one hotline."""

    hotline_id: int
    number: str
    low_balance_fen: int
    refuses_at_zero: bool
    calls: dict[UUID, Rating] = field(default_factory=dict)
    balance_fen: int = 0


async def rate_ready(db: Any, delay_s: float, limit: int = 200) -> list[HotlineRated]:
    """Rate every queued call that ended at least ``delay_s`` ago."""
    hotline_ids = await db.fetch(
        """SELECT DISTINCT c.hotline_id FROM rating_queue q JOIN calls c ON c.id = q.call_id
           WHERE q.queued_at <= now() - make_interval(secs => $1) + interval '1 millisecond'
             AND EXISTS (SELECT 1 FROM tariffs t
                         WHERE t.hotline_id = c.hotline_id AND t.valid_from <= c.started_at)""",
        delay_s)
    done = []
    for row in hotline_ids:
        try:
            rated = await rate_hotline(db, row["hotline_id"], delay_s, limit)
        except (asyncpg.PostgresError, ValueError) as exc:
            # One hotline's bad data must not hold up the others; it is retried next pass.
            log.error("rating a hotline failed", hotline_id=row["hotline_id"], error=str(exc))
            continue
        if rated.calls:
            done.append(rated)
    return done


_READY = """
SELECT c.id AS call_id, c.started_at, c.answered_at, c.caller_answered_at, c.ended_at,
       date_trunc('month', c.started_at AT TIME ZONE $3)::date AS month
FROM rating_queue q JOIN calls c ON c.id = q.call_id
-- queued_at is kept to the millisecond, rounded: a call queued just before this
-- transaction began may carry a time up to half a millisecond after its start
WHERE c.hotline_id = $1
  AND q.queued_at <= now() - make_interval(secs => $2) + interval '1 millisecond'
  -- calls from before the hotline's first tariff wait without taking a batch's place
  AND EXISTS (SELECT FROM tariffs t WHERE t.hotline_id = c.hotline_id
                                      AND t.valid_from <= c.started_at)
ORDER BY c.ended_at, c.id
LIMIT $4
"""


async def rate_hotline(db: Any, hotline_id: int, delay_s: float = 0.0,
                       limit: int = 200) -> HotlineRated:
    """Rate one hotline's ready calls, in the order they ended, in one transaction."""
    async with db.acquire() as connection, connection.transaction():
        await lock_hotline(connection, hotline_id)
        billing = await terms.load(connection, hotline_id)
        rated = HotlineRated(hotline_id, billing.number, billing.low_balance_fen,
                             billing.at_zero_balance == "refuse")
        used_s: dict[tuple[date, int], int] = {}
        for row in await connection.fetch(_READY, hotline_id, delay_s, billing.time_zone, limit):
            call = CallTimes(call_id=row["call_id"], started_at=row["started_at"],
                             ended_at=row["ended_at"], answered_at=row["answered_at"],
                             caller_answered_at=row["caller_answered_at"])
            if await ledger.is_charged(connection, call.call_id):
                await _dequeue(connection, call.call_id)  # queued again by a later edit
                continue
            tariff = billing.terms.tariff_at(call.started_at)
            if tariff is None:
                continue  # stays queued until the hotline has a tariff for it
            package = billing.terms.package_at(call.started_at)
            used = 0
            if package is not None:
                key = (row["month"], package.id)
                if key not in used_s:
                    used_s[key] = await ledger.included_used_s(connection, hotline_id,
                                                               row["month"], package.id)
                used = used_s[key]
            rating = rate_call(call.billable_ms, tariff, package, used)
            if package is not None:
                used_s[(row["month"], package.id)] = used + rating.included_s
            await ledger.charge_call(connection, hotline_id, call.call_id, row["month"], rating)
            await _dequeue(connection, call.call_id)
            rated.calls[call.call_id] = rating
        rated.balance_fen = await ledger.balance(connection, hotline_id)
    return rated


async def _dequeue(connection: Any, call_id: UUID) -> None:
    await connection.execute("DELETE FROM rating_queue WHERE call_id = $1", call_id)


async def waiting(db: Any, hotline_id: int) -> int:
    """Calls of the hotline waiting to be rated (a tariff missing, or not yet due)."""
    count: int = await db.fetchval(
        """SELECT count(*) FROM rating_queue q JOIN calls c ON c.id = q.call_id
           WHERE c.hotline_id = $1""", hotline_id)
    return count


@dataclass(frozen=True)
class WaitingForTariff:
    """Answered calls the router cannot rate: they started before any tariff."""

    calls: int
    earliest: datetime | None  # UTC

    def earliest_local_day(self, time_zone: str) -> str:
        """The day the first of them started, in the billing zone: a tariff's --from."""
        assert self.earliest is not None
        return self.earliest.astimezone(ZoneInfo(time_zone)).date().isoformat()


async def waiting_for_tariff(db: Any, hotline_id: int) -> WaitingForTariff:
    """Queued calls of the hotline with no tariff for their start (they wait for one)."""
    row = await db.fetchrow(
        """SELECT count(*) AS calls, min(c.started_at) AS earliest
           FROM rating_queue q JOIN calls c ON c.id = q.call_id
           WHERE c.hotline_id = $1
             AND NOT EXISTS (SELECT 1 FROM tariffs t WHERE t.hotline_id = c.hotline_id
                                                       AND t.valid_from <= c.started_at)""",
        hotline_id)
    return WaitingForTariff(int(row["calls"]), row["earliest"])


# Months that started inside a package with a minimum spend, have ended (and
# the rating delay passed), and are not settled yet. A month waits for its
# calls that are still going on or not rated yet, but at most a day.
_UNSETTLED = """
SELECT p.hotline_id, h.number, m::date AS month, p.monthly_minimum_fen
FROM packages p
JOIN hotlines h ON h.id = p.hotline_id
LEFT JOIN hotline_billing b ON b.hotline_id = p.hotline_id
CROSS JOIN LATERAL (SELECT coalesce(b.time_zone, $2) AS zone) z
CROSS JOIN LATERAL generate_series(
    date_trunc('month', p.valid_from AT TIME ZONE z.zone),
    date_trunc('month', least(p.valid_until, now()) AT TIME ZONE z.zone),
    interval '1 month') AS m
WHERE p.monthly_minimum_fen > 0
  AND m AT TIME ZONE z.zone >= p.valid_from AND m AT TIME ZONE z.zone < p.valid_until
  AND (m + interval '1 month') AT TIME ZONE z.zone <= now() - make_interval(secs => $1)
  AND NOT EXISTS (SELECT 1 FROM ledger l WHERE l.hotline_id = p.hotline_id
                  AND l.month = m::date AND l.kind = 'minimum-spend')
  AND (NOT EXISTS (SELECT 1 FROM calls c LEFT JOIN rating_queue q ON q.call_id = c.id
                   WHERE c.hotline_id = p.hotline_id
                     AND c.started_at >= m AT TIME ZONE z.zone
                     AND c.started_at < (m + interval '1 month') AT TIME ZONE z.zone
                     AND (c.ended_at IS NULL OR q.call_id IS NOT NULL))
       OR (m + interval '1 month 1 day') AT TIME ZONE z.zone <= now())
ORDER BY p.hotline_id, m
"""


@dataclass(frozen=True)
class Settled:
    hotline_id: int
    number: str
    month: date
    minimum_fen: int
    top_up_fen: int


async def settle_months(db: Any, delay_s: float) -> list[Settled]:
    """Charge each ended month's minimum-spend top-up, once."""
    settled = []
    for row in await db.fetch(_UNSETTLED, delay_s, terms.DEFAULT_TIME_ZONE):
        async with db.acquire() as connection, connection.transaction():
            await lock_hotline(connection, row["hotline_id"])
            if await ledger.minimum_spend(connection, row["hotline_id"], row["month"]) is not None:
                continue  # another router settled it meanwhile
            charged = sum(c.charged_fen for c in (await ledger.charged_calls(
                connection, row["hotline_id"], row["month"])).values())
            top_up = minimum_spend_top_up(row["monthly_minimum_fen"], charged)
            await ledger.settle_minimum_spend(
                connection, row["hotline_id"], row["month"], top_up,
                f"minimum spend {row['monthly_minimum_fen']} fen, calls {charged} fen")
        settled.append(Settled(row["hotline_id"], row["number"], row["month"],
                               row["monthly_minimum_fen"], top_up))
    return settled

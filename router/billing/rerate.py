"""`billing rerate`: re-derive a month's charges after a tariff or package fix.

Nothing is edited: each call whose charge the derivation changes gets an
adjustment in the ledger carrying its new rating and the difference in fen,
and so does a settled minimum spend. A second rerate of the same month finds
nothing to change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from router.admin import AdminError
from router.billing import ledger, terms
from router.billing.months import Month
from router.billing.rater import lock_hotline
from router.billing.rating import (
    CallTimes,
    Correction,
    apply,
    corrections,
    minimum_spend_top_up,
    rate_month,
)


@dataclass(frozen=True)
class MinimumChange:
    before_fen: int
    after_fen: int


@dataclass
class Rerated:
    """What a rerate changed for one hotline and month."""

    number: str
    month: Month
    calls: list[Correction] = field(default_factory=list)
    started_at: dict[Any, datetime] = field(default_factory=dict)
    minimum: MinimumChange | None = None

    @property
    def delta_fen(self) -> int:
        """How much more (or, negative, less) the month now charges."""
        minimum = self.minimum.after_fen - self.minimum.before_fen if self.minimum else 0
        return sum(c.delta_fen for c in self.calls) + minimum


async def rerate(db: Any, month: Month, number: str | None = None) -> list[Rerated]:
    """Re-derive ``month`` for one hotline, or for every hotline charged that month."""
    if number is not None:
        found = await terms.find(db, number)
        if found is None:
            raise LookupError(f"no hotline {number}")
        hotline_ids = [found.hotline_id]
    else:
        hotline_ids = [r["hotline_id"] for r in await db.fetch(
            "SELECT DISTINCT hotline_id FROM ledger WHERE month = $1 ORDER BY hotline_id",
            month.first_day)]
    return [await rerate_hotline(db, hotline_id, month) for hotline_id in hotline_ids]


async def rerate_hotline(db: Any, hotline_id: int, month: Month) -> Rerated:
    async with db.acquire() as connection, connection.transaction():
        await lock_hotline(connection, hotline_id)
        return await rerate_locked(connection, hotline_id, month)


async def months_charged_since(connection: Any, hotline_id: int, start: datetime | None,
                               end: datetime | None = None) -> list[Month]:
    """Months with calls already charged that started in [start, end) (None: open)."""
    rows = await connection.fetch(
        """SELECT DISTINCT l.month FROM ledger l JOIN calls c ON c.id = l.call_id
           WHERE l.hotline_id = $1 AND l.kind = 'call-charge'
             AND c.started_at >= coalesce($2, '-infinity'::timestamptz)
             AND c.started_at < coalesce($3, 'infinity'::timestamptz)
           ORDER BY l.month""", hotline_id, start, end)
    return [Month.of(row["month"]) for row in rows]


async def rerate_locked(connection: Any, hotline_id: int, month: Month,
                        note: str = "") -> Rerated:
    """:func:`rerate_hotline` inside the caller's transaction, its rating lock held.

    A change of terms (a tariff, a package) re-derives the months it touches
    in the same transaction, so what a hotline is charged never depends on
    the order its terms were entered in (router/billing/config.py).
    """
    note = note or f"rerate {month}"
    billing = await terms.load(connection, hotline_id)
    result = Rerated(billing.number, month)
    charged = await ledger.charged_calls(connection, hotline_id, month.first_day)
    rows = await connection.fetch(
        """SELECT id, started_at, answered_at, caller_answered_at, ended_at
           FROM calls WHERE id = ANY($1::uuid[])""", list(charged))
    if len(rows) < len(charged):
        # The month's charges share its package minutes: rating part of it
        # again would hand the purged calls' minutes to the others.
        raise AdminError(
            f"{billing.number} {month}: {len(charged) - len(rows)} charged calls of the month "
            "were dropped by the history purge (history_keep_months); a month whose calls "
            "are gone keeps its charges and cannot be re-rated")
    calls = [CallTimes(call_id=r["id"], started_at=r["started_at"], ended_at=r["ended_at"],
                       answered_at=r["answered_at"],
                       caller_answered_at=r["caller_answered_at"]) for r in rows]
    result.started_at = {c.call_id: c.started_at for c in calls}
    result.calls = corrections(charged, rate_month(calls, billing.terms))
    for change in result.calls:
        await ledger.correct_call(connection, hotline_id, month.first_day, change, note)

    settled = await ledger.minimum_spend(connection, hotline_id, month.first_day)
    if settled is not None:
        month_start = await connection.fetchval(
            "SELECT $1::timestamp AT TIME ZONE $2",
            datetime(month.year, month.month, 1), billing.time_zone)
        package = billing.terms.package_at(month_start)
        minimum = package.monthly_minimum_fen if package else 0
        charged_now = sum(c.charged_fen for c in apply(charged, result.calls).values())
        owed = minimum_spend_top_up(minimum, charged_now)
        if owed != settled:
            await ledger.correct_minimum_spend(connection, hotline_id, month.first_day,
                                               owed - settled, note)
            result.minimum = MinimumChange(settled, owed)
    return result

"""Monthly statements: what a hotline owes for one month, line by line.

A statement is read from the ledger alone (plus the calls' times and callers
for display), so its total is what the ledger charged that month: the sum of
its call lines, the minimum-spend top-up, and any adjustments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from router.billing import ledger, terms
from router.billing.months import Month
from router.billing.rating import Rating, minimum_spend_top_up


@dataclass(frozen=True)
class CallInfo:
    call_id: UUID
    started_at: datetime       # UTC
    started_local: datetime    # the same instant in the statement's time zone
    caller: str
    outcome: str | None


@dataclass(frozen=True)
class Entry:
    """A ledger row of the month, as a statement reads it."""

    id: int
    kind: str
    adjusts: str | None
    amount_fen: int
    call_id: UUID | None = None
    rating: Rating | None = None
    note: str = ""


@dataclass(frozen=True)
class CallLine:
    call: CallInfo
    rating: Rating
    charge_fen: int   # net of the call's charge and its adjustments


@dataclass(frozen=True)
class OtherLine:
    what: str         # "minimum-spend top-up" or "adjustment"
    charge_fen: int
    note: str = ""


@dataclass(frozen=True)
class Statement:
    number: str
    month: Month
    time_zone: str
    period_start: datetime
    period_end: datetime
    calls: tuple[CallLine, ...]
    others: tuple[OtherLine, ...]
    included_minutes: int = 0     # the month's allowance of the packages in force
    unrated_calls: int = 0        # answered calls of the month not charged yet
    # The month's minimum spend (fen) under the package in force at its start,
    # and, while the month is not settled, the top-up it would take if it
    # ended now (None once settled, or without a minimum).
    monthly_minimum_fen: int = 0
    minimum_preview_fen: int | None = None

    @property
    def included_used_s(self) -> int:
        return sum(line.rating.included_s for line in self.calls)

    @property
    def overage_units(self) -> int:
        """Units charged beyond the included minutes, on calls under a package."""
        return sum(line.rating.charged_units for line in self.calls
                   if line.rating.package_id is not None)

    @property
    def overage_fen(self) -> int:
        return sum(line.charge_fen for line in self.calls if line.rating.package_id is not None)

    @property
    def calls_fen(self) -> int:
        return sum(line.charge_fen for line in self.calls)

    @property
    def minimum_spend_fen(self) -> int:
        return sum(o.charge_fen for o in self.others if o.what == MINIMUM)

    @property
    def total_fen(self) -> int:
        return self.calls_fen + sum(o.charge_fen for o in self.others)


MINIMUM = "minimum-spend top-up"


def build(number: str, month: Month, time_zone: str, period: tuple[datetime, datetime],
          entries: Sequence[Entry], calls: Mapping[UUID, CallInfo], included_minutes: int = 0,
          unrated_calls: int = 0, monthly_minimum_fen: int = 0) -> Statement:
    """A statement from the month's ledger entries; lines ordered by call start."""
    newest: dict[UUID, Rating] = {}
    charged: dict[UUID, int] = {}
    minimum: int | None = None
    others = []
    for entry in sorted(entries, key=lambda e: e.id):
        if entry.kind == "top-up":
            continue  # money in, not a charge of the month
        if entry.call_id is not None and entry.rating is not None:
            newest[entry.call_id] = entry.rating
            charged[entry.call_id] = charged.get(entry.call_id, 0) - entry.amount_fen
        elif entry.kind == "minimum-spend" or entry.adjusts == "minimum-spend":
            minimum = (minimum or 0) - entry.amount_fen
        else:
            others.append(OtherLine("adjustment", -entry.amount_fen, entry.note))
    lines = sorted((CallLine(calls[call_id], rating, charged[call_id])
                    for call_id, rating in newest.items()),
                   key=lambda line: (line.call.started_at, line.call.call_id))
    if minimum is not None:
        others.insert(0, OtherLine(MINIMUM, minimum))
    preview = None
    if minimum is None and monthly_minimum_fen > 0:
        preview = minimum_spend_top_up(monthly_minimum_fen,
                                       sum(line.charge_fen for line in lines))
    return Statement(number, month, time_zone, period[0], period[1], tuple(lines),
                     tuple(others), included_minutes, unrated_calls, monthly_minimum_fen,
                     preview)


async def load(db: Any, number: str, month: Month) -> Statement:
    billing = await terms.find(db, number)
    if billing is None:
        raise LookupError(f"no hotline {number}")
    start, end = await db.fetchrow(
        """SELECT $1::timestamp AT TIME ZONE $2,
                  ($1::timestamp + interval '1 month') AT TIME ZONE $2""",
        datetime(month.year, month.month, 1), billing.time_zone)
    rows = await ledger.month_entries(db, billing.hotline_id, month.first_day)
    entries = [Entry(id=r["id"], kind=r["kind"], adjusts=r["adjusts"], amount_fen=r["amount_fen"],
                     call_id=r["call_id"],
                     rating=ledger.rating_of(r) if r["units"] is not None else None,
                     note=r["note"]) for r in rows]
    # A call whose month the history purge dropped keeps its key (call_keys,
    # while the ledger names it): its line keeps its start, not its caller.
    call_rows = await db.fetch(
        """SELECT k.id, k.started_at, k.started_at AT TIME ZONE $2 AS local,
                  coalesce(c.caller, '') AS caller,
                  coalesce(c.outcome, 'history purged') AS outcome
           FROM call_keys k
           LEFT JOIN calls c ON c.id = k.id AND c.started_at = k.started_at
           WHERE k.id = ANY($1::uuid[])""",
        list({e.call_id for e in entries if e.call_id}), billing.time_zone)
    calls = {r["id"]: CallInfo(r["id"], r["started_at"], _local(r["started_at"], r["local"]),
                               r["caller"], r["outcome"]) for r in call_rows}
    packages = {e.rating.package_id for e in entries if e.rating and e.rating.package_id}
    at_start = billing.terms.package_at(start)
    if at_start is not None:
        packages.add(at_start.id)
    included = sum(p.included_minutes for p in billing.terms.packages if p.id in packages)
    unrated = await db.fetchval(
        """SELECT count(*) FROM calls c
           WHERE c.hotline_id = $1 AND c.started_at >= $2 AND c.started_at < $3
             AND c.ended_at IS NOT NULL
             AND (c.answered_at IS NOT NULL OR c.caller_answered_at IS NOT NULL)
             AND NOT EXISTS (SELECT 1 FROM ledger l
                             WHERE l.call_id = c.id AND l.kind = 'call-charge')""",
        billing.hotline_id, start, end)
    return build(number, month, billing.time_zone, (start, end), entries, calls, included,
                 unrated, at_start.monthly_minimum_fen if at_start is not None else 0)


async def billed_hotlines(db: Any, month: Month) -> list[str]:
    """Every hotline a clerk sends a statement for ``month``: charged that month, or
    with a tariff or package (a customer with no calls still gets a ¥0.00 statement)."""
    rows = await db.fetch(
        """SELECT h.number FROM hotlines h
           WHERE EXISTS (SELECT 1 FROM ledger l WHERE l.hotline_id = h.id AND l.month = $1)
              OR EXISTS (SELECT 1 FROM tariffs t WHERE t.hotline_id = h.id)
              OR EXISTS (SELECT 1 FROM packages p WHERE p.hotline_id = h.id)
           ORDER BY h.number""", month.first_day)
    return [row["number"] for row in rows]


def _local(utc: datetime, local_naive: datetime) -> datetime:
    """``local_naive`` with its UTC offset attached, e.g. 2026-11-29 00:47:25+08:00."""
    return local_naive.replace(tzinfo=timezone(local_naive - utc.replace(tzinfo=None)))

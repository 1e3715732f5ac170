"""`billing reconcile`: our billable seconds against Asterisk's CDR billsec.

Calls are matched on the caller channel's uniqueid (our `calls.caller_channel`).
Asterisk counts from its answer of the caller channel; we count from the one
stored billing start (``calls.caller_answered_at``: a voice menu's answer, the
connecting phone's answer or its confirmation): the two differ by the moment
it takes to answer the caller and bridge, a few milliseconds, never seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from router.billing import terms
from router.billing.cdr import Cdr
from router.billing.money import seconds
from router.billing.months import Month
from router.billing.rating import CallTimes


@dataclass(frozen=True)
class OurCall:
    call_id: UUID
    hotline: str
    caller_channel: str
    started_at: datetime
    billable_ms: int
    rated: bool   # billable_ms is what the ledger charged (else derived from the record)


@dataclass(frozen=True)
class Asterisk:
    """The CDRs of one caller channel, taken together."""

    uniqueid: str
    dst: str
    start: datetime | None
    billsec_s: Decimal


@dataclass(frozen=True)
class Pair:
    ours: OurCall
    asterisk: Asterisk

    @property
    def difference_s(self) -> Decimal:
        """Ours minus Asterisk's, in seconds."""
        return seconds(self.ours.billable_ms) - self.asterisk.billsec_s


@dataclass
class Reconciliation:
    tolerance_s: Decimal
    pairs: list[Pair] = field(default_factory=list)
    missing_in_cdr: list[OurCall] = field(default_factory=list)
    unknown_to_us: list[Asterisk] = field(default_factory=list)

    @property
    def disagreements(self) -> list[Pair]:
        return [p for p in self.pairs if abs(p.difference_s) > self.tolerance_s]

    @property
    def largest_difference_s(self) -> Decimal:
        return max((abs(p.difference_s) for p in self.pairs), default=Decimal(0))

    @property
    def agrees(self) -> bool:
        return not (self.disagreements or self.missing_in_cdr or self.unknown_to_us)


def group(cdrs: Iterable[Cdr]) -> dict[str, Asterisk]:
    """One entry per caller channel; a channel with several CDRs bills their sum."""
    grouped: dict[str, Asterisk] = {}
    for cdr in cdrs:
        seen = grouped.get(cdr.uniqueid)
        if seen is None:
            grouped[cdr.uniqueid] = Asterisk(cdr.uniqueid, cdr.dst, cdr.start, cdr.billsec_s)
        else:
            grouped[cdr.uniqueid] = Asterisk(seen.uniqueid, seen.dst, seen.start,
                                             seen.billsec_s + cdr.billsec_s)
    return grouped


def compare(ours: Iterable[OurCall], asterisk: dict[str, Asterisk],
            tolerance_s: Decimal = Decimal(1)) -> Reconciliation:
    result = Reconciliation(tolerance_s)
    matched = set()
    for call in sorted(ours, key=lambda c: (c.started_at, c.call_id)):
        theirs = asterisk.get(call.caller_channel)
        if theirs is None:
            if call.billable_ms > 0:
                result.missing_in_cdr.append(call)
            continue
        matched.add(call.caller_channel)
        result.pairs.append(Pair(call, theirs))
    result.unknown_to_us = [a for uid, a in asterisk.items()
                            if uid not in matched and a.billsec_s > 0]
    return result


# The CDRs' channels are found through call_keys (their unique index; calls is
# partitioned by month since 0025 and has none on caller_channel), the month's
# answered calls through calls_by_start; each call then in its month.
_OURS = """
WITH picked AS (
    SELECT k.id, k.started_at FROM call_keys k WHERE k.caller_channel = ANY($1::text[])
    UNION
    SELECT c.id, c.started_at FROM calls c
    WHERE c.started_at >= $2 AND c.started_at < $3
      AND (c.answered_at IS NOT NULL OR c.caller_answered_at IS NOT NULL))
SELECT c.id, coalesce(h.number, c.dialled) AS hotline, c.caller_channel, c.started_at,
       c.answered_at, c.caller_answered_at, c.ended_at, r.billable_ms AS rated_ms
FROM picked p
JOIN calls c ON c.id = p.id AND c.started_at = p.started_at
LEFT JOIN hotlines h ON h.id = c.hotline_id
LEFT JOIN LATERAL (SELECT l.billable_ms FROM ledger l
                   WHERE l.call_id = c.id AND (l.kind = 'call-charge' OR l.adjusts = 'call-charge')
                   ORDER BY l.id DESC LIMIT 1) r ON true
WHERE c.ended_at IS NOT NULL
  AND ($4::text IS NULL OR coalesce(h.number, c.dialled) = $4)
"""


async def reconcile(db: Any, cdrs: Sequence[Cdr], number: str | None = None,
                    month: Month | None = None,
                    tolerance_s: Decimal = Decimal(1)) -> Reconciliation:
    """Compare the calls in ``cdrs`` (and, given a month, every answered call of it)."""
    start = end = None
    if month is not None:
        zone = terms.DEFAULT_TIME_ZONE
        if number is not None:
            found = await terms.find(db, number)
            if found is None:
                raise LookupError(f"no hotline {number}")
            zone = found.time_zone
        start, end = await db.fetchrow(
            """SELECT $1::timestamp AT TIME ZONE $2,
                      ($1::timestamp + interval '1 month') AT TIME ZONE $2""",
            datetime(month.year, month.month, 1), zone)
    considered = [c for c in cdrs
                  if (number is None or c.dst == number) and _within(c.start, start, end)]
    asterisk = group(considered)
    rows = await db.fetch(_OURS, list(asterisk), start, end, number)
    ours = []
    for row in rows:
        times = CallTimes(call_id=row["id"], started_at=row["started_at"],
                          ended_at=row["ended_at"], answered_at=row["answered_at"],
                          caller_answered_at=row["caller_answered_at"])
        rated = row["rated_ms"] is not None
        ours.append(OurCall(row["id"], row["hotline"], row["caller_channel"], row["started_at"],
                            row["rated_ms"] if rated else times.billable_ms, rated))
    return compare(ours, asterisk, tolerance_s)


def _within(at: datetime | None, start: datetime | None, end: datetime | None) -> bool:
    if start is None or end is None:
        return True
    return at is not None and start <= at < end

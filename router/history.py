"""The call history's months: partitions made ahead, and the retention purge.

``calls`` and ``call_legs`` are partitioned by the UTC month of the call's
start (migration 0025). Each router makes sure this month and the next
``AHEAD_MONTHS`` have their partitions, at its start and every
``PREPARE_INTERVAL_S``; a record of a month without one lands in the DEFAULT
partition and is moved into its month when that month is made. The purge
(``hotline-router history purge``) drops whole months older than the
``history_keep_months`` setting; the ledger and the statements stay, and a
month whose recordings are not purged yet is kept.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import structlog

log = structlog.get_logger("router.history")

# Three months ahead: a router stopped for a quarter still finds its month;
# months are made hourly, so one missed pass costs nothing.
AHEAD_MONTHS = 3
PREPARE_INTERVAL_S = 3600.0


@dataclass(frozen=True)
class MonthPurged:
    """One month the purge looked at: its first day (UTC), the calls and legs
    dropped, and why it was kept instead (None: it was dropped)."""

    month: date
    calls: int
    legs: int
    kept_because: str | None


async def prepare_months(db: Any, ahead: int = AHEAD_MONTHS) -> list[date]:
    """Make the partitions of this UTC month, ``ahead`` more, and of every month
    with rows in DEFAULT (moving them in); returns the months made now (first
    days). Two routers at once take turns (history_prepare_months, 0025)."""
    return [row[0] for row in await db.fetch("SELECT history_prepare_months($1)", ahead)]


async def purge(db: Any, keep_months: int, as_of: datetime) -> list[MonthPurged]:
    """Drop the months of call history that started before the first day of
    ``as_of``'s UTC month minus ``keep_months`` months (0: keep forever, nothing
    is looked at). A month with an open call, a call not rated yet or a
    recording not purged yet is kept.
    Needs the admin role (history_purge is granted to it alone)."""
    if keep_months <= 0:
        return []
    return [MonthPurged(month=r["month"], calls=r["calls_dropped"], legs=r["legs_dropped"],
                        kept_because=r["kept_because"])
            for r in await db.fetch("SELECT * FROM history_purge($1, $2)", keep_months, as_of)]


async def run_forever(db: Any, interval_s: float = PREPARE_INTERVAL_S) -> None:
    """Prepare the months now, then every ``interval_s`` seconds, until
    cancelled; a failed pass (the database away) is logged and the next one
    retries."""
    while True:
        try:
            made = await prepare_months(db)
            if made:
                log.info("call history months made", months=[m.isoformat() for m in made])
        except Exception as exc:
            log.warning("call history months not made", error=str(exc) or type(exc).__name__)
        await asyncio.sleep(interval_s)

"""Gauges read from the database now and then, rather than counted in process.

Busy phones and presence are shared by every router, so only the database knows them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from router import metrics
from router.quiet import QuietRetries

log = structlog.get_logger("router.gauges")

_BUSY_PHONES = """
SELECT count(*) FROM phone_state s JOIN phones p ON p.id = s.phone_id
WHERE s.active_calls >= p.capacity
"""

# Every hotline with its waiting callers (0 when none), so a gauge drops back.
_QUEUES = """
SELECT h.number, count(w.call_id) AS waiting,
       coalesce(extract(epoch FROM now() - min(w.joined_at)), 0) AS longest_s
FROM hotlines h LEFT JOIN queue_waiters w ON w.hotline_id = h.id
WHERE h.overflow = 'queue' OR w.call_id IS NOT NULL
GROUP BY h.number
"""


_PRESENCE = """
SELECT s.presence, count(*) AS n FROM phone_state s JOIN phones p ON p.id = s.phone_id
WHERE p.enabled GROUP BY s.presence
"""
PRESENCES = ("signed_in", "signed_out", "paused")


async def refresh_once(db: Any) -> None:
    metrics.BUSY_PHONES.set(await db.fetchval(_BUSY_PHONES))
    counts = {row["presence"]: row["n"] for row in await db.fetch(_PRESENCE)}
    for presence in PRESENCES:
        metrics.PHONES_BY_PRESENCE.labels(presence=presence).set(counts.get(presence, 0))
    for row in await db.fetch(_QUEUES):
        metrics.QUEUE_WAITING.labels(hotline=row["number"]).set(row["waiting"])
        metrics.QUEUE_LONGEST_WAIT.labels(hotline=row["number"]).set(float(row["longest_s"]))


async def refresh_forever(db: Any, every_s: float) -> None:
    """Refresh the database gauges every ``every_s`` seconds until cancelled."""
    quiet = QuietRetries(log, "gauge refresh")
    while True:
        try:
            await refresh_once(db)
            quiet.succeeded()
        except Exception as exc:  # a gauge must never take the router down
            metrics.DATABASE_ERRORS.labels(operation="refresh_gauges").inc()
            quiet.failed(exc)
        await asyncio.sleep(every_s)

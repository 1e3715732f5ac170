"""Deleting recordings past their hotline's retention, from Asterisk's
storage (ARI DELETE /recordings/stored/{name}) and marking their rows.

A file Asterisk no longer has (404) counts as deleted; any other ARI error
leaves the row for the next pass. Several routers may purge at once: the
deletes and the marks are idempotent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from router import metrics
from router.ari import AriError
from router.recordings import orphans, rows

log = structlog.get_logger("router.recordings")


class Storage(Protocol):
    """Where the files are: Asterisk, through ARI (router/ari/client.py)."""

    async def delete_recording(self, name: str) -> bool:
        """Delete the stored recording; False when there was none. Raises AriError."""
        ...


@dataclass(frozen=True)
class Purged:
    """What one purge did: files deleted, files already gone, deletes that failed."""

    deleted: int = 0
    missing: int = 0
    failed: int = 0


async def purge(db: Any, ari: Storage, asterisk: str, now: datetime) -> Purged:
    """Delete every recording of ``asterisk`` past its retention as of ``now``.

    Raises whatever asyncpg raises when the database is away.
    """
    deleted = missing = failed = 0
    while due := await rows.past_retention(db, asterisk, now):
        for row in due:
            try:
                found = await ari.delete_recording(row["name"])
            except AriError as exc:
                failed += 1
                metrics.RECORDINGS_FAILED.labels(stage="purge").inc()
                log.warning("recording not purged", name=row["name"], error=str(exc))
                continue
            await rows.mark_purged(db, row["id"], now)
            deleted, missing = deleted + found, missing + (not found)
        if failed:
            break  # the rest waits for the next pass rather than hammering Asterisk
    if deleted or missing:
        metrics.RECORDINGS_PURGED.inc(deleted + missing)
        log.info("recordings purged", deleted=deleted, missing=missing, failed=failed)
    return Purged(deleted, missing, failed)


async def run_forever(db: Any, ari: Any, asterisk: str, interval_s: float,
                      clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
    """Every ``interval_s`` seconds, first one interval after the start: give rows
    to files that lack one (router/recordings/orphans.py), then purge. ``ari``
    is both a Storage and an orphans.Storage. Runs until cancelled; a failed
    pass is logged and the next one runs."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await orphans.sweep(db, ari, asterisk, clock())
        except Exception as exc:  # the database or Asterisk away: the next pass retries
            log.warning("recording sweep failed", error=str(exc) or type(exc).__name__)
        try:
            await purge(db, ari, asterisk, clock())
        except Exception as exc:
            log.warning("recording purge failed", error=str(exc) or type(exc).__name__)

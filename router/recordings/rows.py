"""Reading the ``recordings`` table and marking rows purged (migration 0018).

The rows are written by the call's records (router/records/sql.py), so a
database outage spools them instead of losing them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from router.recordings.policy import DEFAULT_RETENTION_DAYS
from router.zones import HOTLINE_ZONE_SQL

_COLUMNS = f"""r.id, r.call_id, r.kind, r.name, r.format, r.asterisk, r.started_at,
              r.duration_ms, r.size_bytes, r.purged_at, h.number AS hotline, c.caller,
              {HOTLINE_ZONE_SQL} AS time_zone"""

_FROM = """FROM recordings r JOIN calls c ON c.id = r.call_id
           LEFT JOIN hotlines h ON h.id = c.hotline_id
           LEFT JOIN plan_settings ps ON ps.hotline_id = c.hotline_id"""


async def list_recordings(db: Any, hotline: str | None = None, since: datetime | None = None,
                          limit: int = 100) -> list[Any]:
    """The newest recordings first, of one hotline (its number) and started at or
    after ``since`` when given."""
    return list(await db.fetch(
        f"""SELECT {_COLUMNS} {_FROM}
            WHERE ($1::text IS NULL OR h.number = $1)
              AND ($2::timestamptz IS NULL OR r.started_at >= $2)
            ORDER BY r.started_at DESC, r.id DESC LIMIT $3""", hotline, since, limit))


async def find(db: Any, key: str) -> Any | None:
    """One recording by its id or its call's id; None when there is none."""
    if key.isdigit():
        return await db.fetchrow(f"SELECT {_COLUMNS} {_FROM} WHERE r.id = $1", int(key))
    try:
        call_id = UUID(key)
    except ValueError:
        return None
    return await db.fetchrow(f"SELECT {_COLUMNS} {_FROM} WHERE r.call_id = $1 "
                             "ORDER BY r.id LIMIT 1", call_id)


async def past_retention(db: Any, asterisk: str, now: datetime, limit: int = 500) -> list[Any]:
    """Unpurged recordings held by ``asterisk`` that started longer ago than
    their hotline's retention (``hotlines.record_retention_days``, or
    DEFAULT_RETENTION_DAYS), oldest first."""
    return list(await db.fetch(
        f"""SELECT r.id, r.name, r.started_at {_FROM}
            WHERE r.purged_at IS NULL AND r.asterisk = $1
              AND r.started_at < $2::timestamptz - make_interval(
                      days => coalesce(h.record_retention_days, $3))
            ORDER BY r.started_at LIMIT $4""", asterisk, now, DEFAULT_RETENTION_DAYS, limit))


async def mark_purged(db: Any, recording_id: int, at: datetime) -> None:
    await db.execute("UPDATE recordings SET purged_at = greatest($2::timestamptz, started_at) "
                     "WHERE id = $1 AND purged_at IS NULL", recording_id, at)

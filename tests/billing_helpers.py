"""Call records and hotlines for billing tests, written straight to PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from router import admin


async def new_hotline(db: Any, number: str, price_fen: int = 12, unit_s: int = 60,
                      valid_from: str = "2000-01-01T00:00:00+00:00") -> int:
    """A hotline with one tariff in force since ``valid_from``; returns its id."""
    row = await admin.add_hotline(db, number)
    await db.execute(
        """INSERT INTO tariffs (hotline_id, valid_from, unit_s, price_per_unit_fen)
           VALUES ($1, $2::text::timestamptz, $3, $4)""", row["id"], valid_from, unit_s, price_fen)
    hotline_id: int = row["id"]
    return hotline_id


async def add_call(db: Any, hotline_id: int, number: str, started_at: datetime,
                   talk_ms: int | None, ring_ms: int = 2000,
                   greeting_ms: int | None = None, caller: str = "13800138000") -> uuid.UUID:
    """An ended call: the phone answered after ``ring_ms`` and talked ``talk_ms``
    (None: nobody answered); a greeting answered the caller after ``greeting_ms``."""
    call_id = uuid.uuid4()
    answered = started_at + timedelta(milliseconds=ring_ms) if talk_ms is not None else None
    greeted = started_at + timedelta(milliseconds=greeting_ms) if greeting_ms is not None else None
    ended = (answered + timedelta(milliseconds=talk_ms) if answered and talk_ms is not None
             else started_at + timedelta(milliseconds=ring_ms))
    await db.execute(
        """INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id,
                              started_at, answered_at, caller_answered_at, ended_at, outcome)
           VALUES ($1, $2, $3, $10, $4, 'test', $5, $6, $7, $8, $9)""",
        call_id, hotline_id, number, f"test-{call_id}", started_at, answered, greeted, ended,
        "answered" if answered else "no-answer", caller)
    return call_id


async def charges(db: Any, call_id: uuid.UUID) -> list[Any]:
    return list(await db.fetch(
        "SELECT * FROM ledger WHERE call_id = $1 ORDER BY id", call_id))

"""What admins set for billing: tariffs, packages, settings, and top-ups.

Like router/admin.py, the database judges what is valid; a refusal reaches
the admin as the sentence its constraint is named after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from router import admin
from router.admin import AdminError
from router.billing import ledger, rater, rerate, terms


def explain(exc: Exception) -> str:
    """admin.explain, plus the exclusion constraint on package periods."""
    if isinstance(exc, asyncpg.exceptions.ExclusionViolationError):
        name = getattr(exc, "constraint_name", None) or ""
        if name:
            return name.replace("_", " ")
    return admin.explain(exc)


async def hotline(db: Any, number: str) -> terms.HotlineBilling:
    found = await terms.find(db, number)
    if found is None:
        raise AdminError(f"no hotline {number}; add it first with "
                         f"'hotline-router hotline add {number}'")
    return found


async def instant(db: Any, text: str | None, time_zone: str) -> datetime | None:
    """'2026-12-01' or '2026-12-01T08:00' in ``time_zone``; an ISO time with an offset as is."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise AdminError(f"not a date or time: {text!r} (e.g. 2026-12-01 or "
                         "2026-12-01T08:00:00+08:00)") from None
    if value.tzinfo is not None:
        return value
    result: datetime = await db.fetchval("SELECT $1::timestamp AT TIME ZONE $2", value, time_zone)
    return result


@dataclass(frozen=True)
class Changed:
    """A change of terms: the row as stored, and the months it re-derived."""

    row: Any
    rerated: list[rerate.Rerated]


async def set_tariff(db: Any, number: str, price_per_unit_fen: int, unit_s: int = 60,
                     valid_from: str | None = None, note: str = "") -> Changed:
    """Add the tariff that applies from ``valid_from`` (default: now), or fix the one there.

    Calls already charged from then on are re-derived in the same transaction
    (as adjustments), so the result never depends on the order of commands.
    """
    found = await hotline(db, number)
    start = await instant(db, valid_from, found.time_zone)
    try:
        async with db.acquire() as connection, connection.transaction():
            await rater.lock_hotline(connection, found.hotline_id)
            row = await connection.fetchrow(
                """INSERT INTO tariffs (hotline_id, valid_from, unit_s, price_per_unit_fen, note)
                   VALUES ($1, coalesce($2, now()), $3, $4, $5)
                   ON CONFLICT (hotline_id, valid_from) DO UPDATE
                       SET unit_s = EXCLUDED.unit_s,
                           price_per_unit_fen = EXCLUDED.price_per_unit_fen,
                           note = EXCLUDED.note
                   RETURNING valid_from, unit_s, price_per_unit_fen, note""",
                found.hotline_id, start, unit_s, price_per_unit_fen, note)
            done = await _rerate_from(connection, found.hotline_id, row["valid_from"], None,
                                      "tariff changed")
            return Changed(row, done)
    except asyncpg.exceptions.PostgresError as exc:
        raise AdminError(explain(exc)) from None


async def _rerate_from(connection: Any, hotline_id: int, start: datetime,
                       end: datetime | None, why: str) -> list[rerate.Rerated]:
    """Re-derive every month with calls charged in [start, end): they may rate otherwise now."""
    done = []
    for month in await rerate.months_charged_since(connection, hotline_id, start, end):
        result = await rerate.rerate_locked(connection, hotline_id, month, f"{why}: rerate {month}")
        if result.calls or result.minimum:
            done.append(result)
    return done


async def tariffs(db: Any, number: str) -> list[Any]:
    found = await hotline(db, number)
    return list(await db.fetch(
        """SELECT valid_from, unit_s, price_per_unit_fen, note FROM tariffs
           WHERE hotline_id = $1 ORDER BY valid_from""", found.hotline_id))


async def add_package(db: Any, number: str, valid_from: str, valid_until: str,
                      included_minutes: int = 0, overage_per_unit_fen: int | None = None,
                       monthly_minimum_fen: int = 0, prepaid_fen: int = 0,
                      name: str = "") -> Changed:
    """Add a package; its prepaid amount, if any, is topped up in the same transaction,
    and calls of its period charged before it existed are re-derived (see set_tariff)."""
    found = await hotline(db, number)
    start = await instant(db, valid_from, found.time_zone)
    until = await instant(db, valid_until, found.time_zone)
    try:
        async with db.acquire() as connection, connection.transaction():
            await rater.lock_hotline(connection, found.hotline_id)
            row = await connection.fetchrow(
                """INSERT INTO packages (hotline_id, name, valid_from, valid_until,
                                         included_minutes, overage_per_unit_fen,
                                         monthly_minimum_fen)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   RETURNING id, name, valid_from, valid_until, included_minutes,
                             overage_per_unit_fen, monthly_minimum_fen""",
                found.hotline_id, name, start, until, included_minutes, overage_per_unit_fen,
                monthly_minimum_fen)
            if prepaid_fen:
                await ledger.top_up(connection, found.hotline_id, prepaid_fen,
                                    f"prepaid with package {row['id']} {name}".rstrip())
            done = await _rerate_from(connection, found.hotline_id, row["valid_from"],
                                      row["valid_until"], f"package {row['id']} added")
            return Changed(row, done)
    except asyncpg.exceptions.PostgresError as exc:
        raise AdminError(explain(exc)) from None


async def packages(db: Any, number: str) -> list[Any]:
    found = await hotline(db, number)
    return list(await db.fetch(
        """SELECT id, name, valid_from, valid_until, included_minutes, overage_per_unit_fen,
                  monthly_minimum_fen
           FROM packages WHERE hotline_id = $1 ORDER BY valid_from""", found.hotline_id))


async def set_settings(db: Any, number: str, time_zone: str | None = None,
                       low_balance_fen: int | None = None,
                       at_zero_balance: str | None = None) -> Any:
    """Change what is given; the rest keeps its value (or default)."""
    found = await hotline(db, number)
    try:
        return await db.fetchrow(
            """INSERT INTO hotline_billing (hotline_id, time_zone, low_balance_fen, at_zero_balance)
               VALUES ($1, coalesce($2, $5), coalesce($3, 0), coalesce($4, 'keep-routing'))
               ON CONFLICT (hotline_id) DO UPDATE SET
                   time_zone = coalesce($2, hotline_billing.time_zone),
                   low_balance_fen = coalesce($3, hotline_billing.low_balance_fen),
                   at_zero_balance = coalesce($4, hotline_billing.at_zero_balance)
               RETURNING time_zone, low_balance_fen, at_zero_balance""",
            found.hotline_id, time_zone, low_balance_fen, at_zero_balance,
            terms.DEFAULT_TIME_ZONE)
    except asyncpg.exceptions.PostgresError as exc:
        raise AdminError(explain(exc)) from None


async def top_up(db: Any, number: str, amount_fen: int, note: str = "") -> int:
    """Credit the hotline; returns its balance after."""
    found = await hotline(db, number)
    try:
        async with db.acquire() as connection, connection.transaction():
            await ledger.top_up(connection, found.hotline_id, amount_fen, note)
            return await ledger.balance(connection, found.hotline_id)
    except asyncpg.exceptions.PostgresError as exc:
        raise AdminError(explain(exc)) from None


async def adjust(db: Any, number: str, amount_fen: int, note: str,
                 month: date | None = None) -> int:
    """A balance adjustment (negative: a charge, positive: a credit); returns the balance.

    ``month`` (its first day) puts it on that month's statement. The ledger
    refuses an adjustment that does not say what it adjusts.
    """
    if not note.strip():
        raise AdminError("an adjustment needs --note saying why (it stays in the ledger)")
    if amount_fen == 0:
        raise AdminError("an adjustment of 0 fen changes nothing")
    found = await hotline(db, number)
    try:
        async with db.acquire() as connection, connection.transaction():
            await connection.execute(
                """INSERT INTO ledger (hotline_id, kind, adjusts, amount_fen, month, note)
                   VALUES ($1, 'adjustment', 'balance', $2, $3, $4)""",
                found.hotline_id, amount_fen, month, note)
            return await ledger.balance(connection, found.hotline_id)
    except asyncpg.exceptions.PostgresError as exc:
        raise AdminError(explain(exc)) from None

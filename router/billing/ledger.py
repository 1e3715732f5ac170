"""The ledger: every movement of a hotline's prepaid money, append-only.

Amounts are what an entry does to the balance (a top-up is positive, a
charge negative), so a balance is a plain sum. Nothing here updates or
deletes; the database refuses it anyway (migrations/0003_billing.sql).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from router.billing.rating import Charged, Correction, Rating

# The rows that make up a call's charge: the charge and its corrections.
_CALL_ROWS = "(kind = 'call-charge' OR adjusts = 'call-charge')"
_MINIMUM_ROWS = "(kind = 'minimum-spend' OR adjusts = 'minimum-spend')"


async def balance(db: Any, hotline_id: int) -> int:
    """The hotline's prepaid balance in fen."""
    value = await db.fetchval(
        "SELECT coalesce(sum(amount_fen), 0) FROM ledger WHERE hotline_id = $1", hotline_id)
    return int(value)


async def top_up(db: Any, hotline_id: int, amount_fen: int, note: str = "") -> int:
    """Credit ``amount_fen``; returns the ledger entry's id."""
    entry_id: int = await db.fetchval(
        """INSERT INTO ledger (hotline_id, kind, amount_fen, note)
           VALUES ($1, 'top-up', $2, $3) RETURNING id""", hotline_id, amount_fen, note)
    return entry_id


async def charge_call(db: Any, hotline_id: int, call_id: UUID, month: date,
                      rating: Rating) -> None:
    await db.execute(
        f"""INSERT INTO ledger (hotline_id, kind, amount_fen, month, call_id, {_RATING_COLUMNS})
            VALUES ($1, 'call-charge', $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
        hotline_id, -rating.charge_fen, month, call_id, *_rating_values(rating))


async def correct_call(db: Any, hotline_id: int, month: date, correction: Correction,
                       note: str) -> None:
    await db.execute(
        f"""INSERT INTO ledger (hotline_id, kind, adjusts, amount_fen, month, call_id,
                                {_RATING_COLUMNS}, note)
            VALUES ($1, 'adjustment', 'call-charge', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
        hotline_id, -correction.delta_fen, month, correction.call_id,
        *_rating_values(correction.after), note)


async def settle_minimum_spend(db: Any, hotline_id: int, month: date, top_up_fen: int,
                               note: str) -> None:
    """The month's minimum-spend charge (0 when the month's calls reached it)."""
    await db.execute(
        """INSERT INTO ledger (hotline_id, kind, amount_fen, month, note)
           VALUES ($1, 'minimum-spend', $2, $3, $4)""", hotline_id, -top_up_fen, month, note)


async def correct_minimum_spend(db: Any, hotline_id: int, month: date, delta_fen: int,
                                note: str) -> None:
    await db.execute(
        """INSERT INTO ledger (hotline_id, kind, adjusts, amount_fen, month, note)
           VALUES ($1, 'adjustment', 'minimum-spend', $2, $3, $4)""",
        hotline_id, -delta_fen, month, note)


async def is_charged(db: Any, call_id: UUID) -> bool:
    return bool(await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM ledger WHERE call_id = $1 AND kind = 'call-charge')",
        call_id))


async def charged_calls(db: Any, hotline_id: int, month: date) -> dict[UUID, Charged]:
    """Every call charged in ``month``: its newest rating and its net charge."""
    rows = await db.fetch(
        f"""SELECT DISTINCT ON (call_id) call_id, {_RATING_COLUMNS},
                   -sum(amount_fen) OVER (PARTITION BY call_id) AS charged_fen
            FROM ledger
            WHERE hotline_id = $1 AND month = $2 AND {_CALL_ROWS}
            ORDER BY call_id, id DESC""", hotline_id, month)
    return {row["call_id"]: Charged(rating_of(row), int(row["charged_fen"])) for row in rows}


async def included_used_s(db: Any, hotline_id: int, month: date, package_id: int) -> int:
    """Included seconds of ``package_id`` that the month's charged calls used up."""
    value = await db.fetchval(
        f"""SELECT coalesce(sum(included_units * unit_s), 0) FROM (
                SELECT DISTINCT ON (call_id) included_units, unit_s, package_id
                FROM ledger
                WHERE hotline_id = $1 AND month = $2 AND {_CALL_ROWS}
                ORDER BY call_id, id DESC) newest
            WHERE package_id = $3""", hotline_id, month, package_id)
    return int(value)


async def minimum_spend(db: Any, hotline_id: int, month: date) -> int | None:
    """The month's net minimum-spend charge, or None while the month is not settled."""
    value = await db.fetchval(
        f"""SELECT -sum(amount_fen) FROM ledger
            WHERE hotline_id = $1 AND month = $2 AND {_MINIMUM_ROWS}""", hotline_id, month)
    return None if value is None else int(value)


async def month_entries(db: Any, hotline_id: int, month: date) -> list[Any]:
    """The month's charges and adjustments, oldest first (top-ups have no month)."""
    return list(await db.fetch(
        f"""SELECT id, entered_at, kind, adjusts, amount_fen, call_id, {_RATING_COLUMNS}, note
            FROM ledger WHERE hotline_id = $1 AND month = $2 ORDER BY id""", hotline_id, month))


async def recent(db: Any, hotline_id: int, limit: int = 20) -> list[Any]:
    """The newest ``limit`` entries, newest first."""
    return list(await db.fetch(
        """SELECT id, entered_at, kind, adjusts, amount_fen, month, call_id, note
           FROM ledger WHERE hotline_id = $1 ORDER BY id DESC LIMIT $2""", hotline_id, limit))


_RATING_COLUMNS = "billable_ms, unit_s, units, included_units, price_per_unit_fen, package_id"


def _rating_values(rating: Rating) -> tuple[int, int, int, int, int, int | None]:
    return (rating.billable_ms, rating.unit_s, rating.units, rating.included_units,
            rating.price_per_unit_fen, rating.package_id)


def rating_of(row: Any) -> Rating:
    """The rating a ledger row records."""
    return Rating(billable_ms=row["billable_ms"], unit_s=row["unit_s"], units=row["units"],
                  included_units=row["included_units"],
                  price_per_unit_fen=row["price_per_unit_fen"], package_id=row["package_id"])

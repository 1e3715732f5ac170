"""A hotline's billing settings and price list, read from the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from router.billing.rating import Package, Tariff, Terms

DEFAULT_TIME_ZONE = "Asia/Shanghai"  # the DDL default of hotline_billing.time_zone


@dataclass(frozen=True)
class HotlineBilling:
    hotline_id: int
    number: str
    time_zone: str
    low_balance_fen: int
    at_zero_balance: str  # keep-routing | refuse
    terms: Terms


_SETTINGS = """
SELECT h.id, h.number,
       coalesce(b.time_zone, $2) AS time_zone,
       coalesce(b.low_balance_fen, 0) AS low_balance_fen,
       coalesce(b.at_zero_balance, 'keep-routing') AS at_zero_balance
FROM hotlines h LEFT JOIN hotline_billing b ON b.hotline_id = h.id
WHERE {where}
"""


async def load(db: Any, hotline_id: int) -> HotlineBilling:
    row = await db.fetchrow(_SETTINGS.format(where="h.id = $1"), hotline_id, DEFAULT_TIME_ZONE)
    if row is None:
        raise LookupError(f"no hotline with id {hotline_id}")
    return await _with_terms(db, row)


async def find(db: Any, number: str) -> HotlineBilling | None:
    """The billing of the hotline ``number``, or None when there is no such hotline."""
    row = await db.fetchrow(_SETTINGS.format(where="h.number = $1"), number, DEFAULT_TIME_ZONE)
    return None if row is None else await _with_terms(db, row)


async def _with_terms(db: Any, row: Any) -> HotlineBilling:
    tariffs = await db.fetch(
        """SELECT valid_from, unit_s, price_per_unit_fen FROM tariffs
           WHERE hotline_id = $1 ORDER BY valid_from""", row["id"])
    packages = await db.fetch(
        """SELECT id, valid_from, valid_until, included_minutes, overage_per_unit_fen,
                  monthly_minimum_fen
           FROM packages WHERE hotline_id = $1 ORDER BY valid_from""", row["id"])
    terms = Terms(tariffs=tuple(Tariff(**dict(t)) for t in tariffs),
                  packages=tuple(Package(**dict(p)) for p in packages))
    return HotlineBilling(hotline_id=row["id"], number=row["number"], time_zone=row["time_zone"],
                          low_balance_fen=row["low_balance_fen"],
                          at_zero_balance=row["at_zero_balance"], terms=terms)

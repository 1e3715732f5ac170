"""What terms.py asks the database and what it makes of the rows.

The queries themselves run against PostgreSQL in tests/db/test_ledger.py; here a
recorded connection answers them, so that every field of a hotline's billing is
pinned in the fast tests: the zone, the low-balance threshold, the zero-balance
setting, each tariff and each package.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from router.billing import terms
from router.billing.rating import Package, Tariff, Terms

JAN = datetime(2026, 1, 1, tzinfo=UTC)
JUL = datetime(2026, 7, 1, tzinfo=UTC)
SETTINGS = {"id": 7, "number": "4008001234", "time_zone": "Asia/Urumqi",
            "low_balance_fen": 5_000, "at_zero_balance": "refuse"}
TARIFFS = [{"valid_from": JAN, "unit_s": 60, "price_per_unit_fen": 12},
           {"valid_from": JUL, "unit_s": 6, "price_per_unit_fen": 2}]
PACKAGES = [{"id": 3, "valid_from": JAN, "valid_until": JUL, "included_minutes": 500,
             "overage_per_unit_fen": 10, "monthly_minimum_fen": 10_000}]


class RecordedConnection:
    """Answers terms.py's three queries as PostgreSQL would for one hotline.

    Identifiers are compared in lower case, as PostgreSQL folds unquoted ones.
    """

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[Any, ...]]] = []

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        self.asked.append(("settings", args))
        where = sql.lower().split("where")[-1].strip()
        assert args[1:] == ("Asia/Shanghai",)  # the zone of a hotline without settings
        assert len(args) == 2
        if where == "h.id = $1":
            return dict(SETTINGS) if args[0] == SETTINGS["id"] else None
        assert where == "h.number = $1", sql
        return dict(SETTINGS) if args[0] == SETTINGS["number"] else None

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        assert args == (SETTINGS["id"],), args
        table = sql.lower().split(" from ")[1].split()[0]
        self.asked.append((table, args))
        return [dict(row) for row in {"tariffs": TARIFFS, "packages": PACKAGES}[table]]


EXPECTED = terms.HotlineBilling(
    hotline_id=7, number="4008001234", time_zone="Asia/Urumqi", low_balance_fen=5_000,
    at_zero_balance="refuse",
    terms=Terms(tariffs=(Tariff(JAN, 60, 12), Tariff(JUL, 6, 2)),
                packages=(Package(3, JAN, JUL, 500, 10, 10_000),)))


async def test_load_reads_every_setting_and_the_whole_price_list() -> None:
    db = RecordedConnection()
    assert await terms.load(db, 7) == EXPECTED
    assert db.asked == [("settings", (7, "Asia/Shanghai")), ("tariffs", (7,)),
                        ("packages", (7,))]


async def test_find_by_number_reads_the_same() -> None:
    db = RecordedConnection()
    assert await terms.find(db, "4008001234") == EXPECTED
    assert db.asked[0] == ("settings", ("4008001234", "Asia/Shanghai"))


async def test_find_of_an_unknown_number_is_none() -> None:
    db = RecordedConnection()
    assert await terms.find(db, "4009999999") is None
    assert db.asked == [("settings", ("4009999999", "Asia/Shanghai"))]


async def test_load_of_an_unknown_hotline_says_which() -> None:
    with pytest.raises(LookupError, match=r"^no hotline with id 8$"):
        await terms.load(RecordedConnection(), 8)

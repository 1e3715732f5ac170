"""The ledger and the price list refuse what would corrupt money, with a reason."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from router.billing import config, terms
from tests.billing_helpers import add_call, new_hotline
from tests.db.test_cli import cli

T = "2026-06-10T10:00:00+00:00"


@pytest.fixture
async def hotline(db: Any, hotline_number: str) -> int:
    return await new_hotline(db, hotline_number)


async def test_ledger_entries_can_be_neither_changed_nor_removed(db: Any, hotline: int) -> None:
    entry = await db.fetchval(
        """INSERT INTO ledger (hotline_id, kind, amount_fen) VALUES ($1, 'top-up', 1000)
           RETURNING id""", hotline)
    for statement in ("UPDATE ledger SET amount_fen = 1 WHERE id = $1",
                      "DELETE FROM ledger WHERE id = $1"):
        with pytest.raises(asyncpg.exceptions.RestrictViolationError,
                           match="the ledger is append-only"):
            await db.execute(statement, entry)
    with pytest.raises(asyncpg.exceptions.RestrictViolationError,
                       match="TRUNCATE refused; correct an entry by adding an adjustment"):
        await db.execute("TRUNCATE ledger")
    assert await db.fetchval("SELECT amount_fen FROM ledger WHERE id = $1", entry) == 1000


@pytest.mark.parametrize(("values", "reason"), [
    ("'top-up', -5, NULL, NULL, NULL", "ledger top up must be a positive amount"),
    ("'refund', 5, NULL, NULL, NULL",
     "ledger kind is top up call charge minimum spend or adjustment"),
    ("'minimum-spend', 5, '2026-06-01', NULL, NULL", "ledger charge cannot credit the balance"),
    ("'minimum-spend', -5, NULL, NULL, NULL",
     "ledger minimum spend must name its month and no call"),
    ("'minimum-spend', -5, '2026-06-15', NULL, NULL",
     "ledger month must be the first day of a month"),
    ("'adjustment', 5, '2026-06-01', NULL, NULL", "ledger adjustment must say what it adjusts"),
    ("'adjustment', 5, '2026-06-01', NULL, 'bonus'",
     "ledger adjustment is of a call charge minimum spend or balance"),
    ("'adjustment', 5, '2026-06-01', NULL, 'call-charge'",
     "ledger call rows must name the call its month and its rating"),
])
async def test_ledger_rows_that_make_no_sense_are_refused(db: Any, hotline: int, values: str,
                                                          reason: str) -> None:
    with pytest.raises(asyncpg.exceptions.CheckViolationError) as refused:
        await db.execute(
            f"""INSERT INTO ledger (hotline_id, kind, amount_fen, month, call_id, adjusts)
                VALUES ($1, {values})""", hotline)
    assert config.explain(refused.value) == reason


async def test_a_call_charge_must_match_its_rating_and_is_taken_once(
        db: Any, hotline: int, hotline_number: str) -> None:
    from datetime import datetime
    call_id = await add_call(db, hotline, hotline_number, datetime.fromisoformat(T), 61_000)
    insert = """INSERT INTO ledger (hotline_id, kind, amount_fen, month, call_id, billable_ms,
                                    unit_s, units, included_units, price_per_unit_fen)
                VALUES ($1, 'call-charge', $2, '2026-06-01', $3, 61000, 60, 2, 0, 12)"""
    with pytest.raises(asyncpg.exceptions.CheckViolationError) as refused:
        await db.execute(insert, hotline, -23, call_id)
    assert config.explain(refused.value) == (
        "ledger call charge must be its charged units times the price")
    await db.execute(insert, hotline, -24, call_id)
    with pytest.raises(asyncpg.exceptions.UniqueViolationError) as twice:
        await db.execute(insert, hotline, -24, call_id)
    assert config.explain(twice.value) == "ledger charges each call once"


@pytest.mark.parametrize(("sql", "reason"), [
    ("INSERT INTO tariffs (hotline_id, valid_from, unit_s, price_per_unit_fen) "
     "VALUES ($1, now(), 7, 12)", "tariff unit must divide 60 seconds"),
    ("INSERT INTO tariffs (hotline_id, valid_from, price_per_unit_fen) VALUES ($1, now(), -1)",
     "tariff price must be 0 to 1000 fen per unit"),
    ("INSERT INTO tariffs (hotline_id, valid_from, price_per_unit_fen) VALUES ($1, now(), 1200)",
     "tariff price must be 0 to 1000 fen per unit"),
    ("INSERT INTO packages (hotline_id, valid_from, valid_until) VALUES ($1, now(), now())",
     "package must end after it starts"),
    ("INSERT INTO packages (hotline_id, valid_from, valid_until, included_minutes) "
     "VALUES ($1, now(), now() + interval '1 day', -1)",
     "package included minutes cannot be negative"),
    ("INSERT INTO packages (hotline_id, valid_from, valid_until, monthly_minimum_fen) "
     "VALUES ($1, now(), now() + interval '1 day', -1)",
     "package monthly minimum cannot be negative"),
    ("INSERT INTO hotline_billing (hotline_id, time_zone) VALUES ($1, 'Asia/Beijing')",
     "billing time zone must be a known zone"),
    # PostgreSQL reads these as US Central and UTC-8: refused, not misread
    ("INSERT INTO hotline_billing (hotline_id, time_zone) VALUES ($1, 'CST')",
     "billing time zone must be a known zone"),
    ("INSERT INTO hotline_billing (hotline_id, time_zone) VALUES ($1, 'UTC+8')",
     "billing time zone must be a known zone"),
    ("INSERT INTO hotline_billing (hotline_id, at_zero_balance) VALUES ($1, 'hang-up')",
     "billing at zero balance must be keep routing or refuse"),
])
async def test_price_list_rows_that_cannot_work_are_refused(db: Any, hotline: int, sql: str,
                                                            reason: str) -> None:
    with pytest.raises(asyncpg.exceptions.CheckViolationError) as refused:
        await db.execute(sql, hotline)
    assert config.explain(refused.value) == reason


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC", "Asia/Hong_Kong", "Etc/GMT-8"])
async def test_time_zones_by_name_are_taken(db: Any, hotline: int, zone: str) -> None:
    await db.execute("INSERT INTO hotline_billing (hotline_id, time_zone) VALUES ($1, $2)",
                     hotline, zone)
    assert (await terms.load(db, hotline)).time_zone == zone


async def test_the_rater_reads_every_billing_setting_and_the_price_list(
        db: Any, hotline: int, hotline_number: str) -> None:
    fresh = await terms.load(db, hotline)  # no settings row: the DDL's defaults
    assert (fresh.time_zone, fresh.low_balance_fen, fresh.at_zero_balance) == (
        "Asia/Shanghai", 0, "keep-routing")
    await config.set_settings(db, hotline_number, time_zone="Asia/Urumqi",
                              low_balance_fen=5_000, at_zero_balance="refuse")
    await config.set_tariff(db, hotline_number, 2, unit_s=6, valid_from="2026-07-01")
    await config.add_package(db, hotline_number, "2026-01-01", "2026-07-01",
                             included_minutes=500, overage_per_unit_fen=10,
                             monthly_minimum_fen=10_000)
    loaded = await terms.load(db, hotline)
    assert loaded == await terms.find(db, hotline_number)
    assert (loaded.hotline_id, loaded.number, loaded.time_zone, loaded.low_balance_fen,
            loaded.at_zero_balance) == (hotline, hotline_number, "Asia/Urumqi", 5_000, "refuse")
    july = datetime(2026, 7, 1, tzinfo=ZoneInfo("Asia/Urumqi"))
    assert [(t.valid_from, t.unit_s, t.price_per_unit_fen) for t in loaded.terms.tariffs] == [
        (datetime(2000, 1, 1, tzinfo=UTC), 60, 12), (july, 6, 2)]
    (package,) = loaded.terms.packages
    assert (package.valid_from, package.valid_until, package.included_minutes,
            package.overage_per_unit_fen, package.monthly_minimum_fen) == (
        datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Urumqi")), july, 500, 10, 10_000)


async def test_billing_of_an_unknown_number_is_none(db: Any) -> None:
    assert await terms.find(db, "8009876501") is None  # no test adds it
    with pytest.raises(LookupError, match="no hotline with id -1"):
        await terms.load(db, -1)


async def test_packages_of_a_hotline_cannot_overlap(db: Any, hotline: int) -> None:
    add = """INSERT INTO packages (hotline_id, valid_from, valid_until)
             VALUES ($1, $2::text::timestamptz, $3::text::timestamptz)"""
    await db.execute(add, hotline, "2026-01-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00")
    await db.execute(add, hotline, "2027-01-01T00:00:00+08:00", "2028-01-01T00:00:00+08:00")
    with pytest.raises(asyncpg.exceptions.ExclusionViolationError) as refused:
        await db.execute(add, hotline, "2026-12-01T00:00:00+08:00", "2027-02-01T00:00:00+08:00")
    assert config.explain(refused.value) == "package periods of a hotline cannot overlap"


async def test_a_hotline_with_money_on_its_ledger_cannot_be_deleted(db: Any,
                                                                    hotline: int) -> None:
    await db.execute("INSERT INTO ledger (hotline_id, kind, amount_fen) VALUES ($1, 'top-up', 1)",
                     hotline)
    with pytest.raises(asyncpg.exceptions.ForeignKeyViolationError):
        await db.execute("DELETE FROM hotlines WHERE id = $1", hotline)


def test_the_cli_refuses_with_the_constraint_as_a_sentence(database_url: str) -> None:
    number = f"400{uuid.uuid4().int % 10**7:07d}"
    assert cli(database_url, "hotline", "add", number).returncode == 0
    cases = [
        (["billing", "tariff", "set", number, "--price-fen", "12", "--unit-s", "45"],
         "tariff unit must divide 60 seconds"),
        (["billing", "settings", number, "--time-zone", "Beijing"],
         "billing time zone must be a known zone"),
        (["billing", "topup", number, "--fen", "-100"], "a top-up must be a positive amount"),
        (["billing", "tariff", "set", "4009999990", "--price-fen", "12"], "no hotline 4009999990"),
        (["billing", "package", "add", number, "--from", "2026-12-01", "--until", "2026-11-01"],
         "package must end after it starts"),
        (["billing", "statement", "--hotline", number, "--month", "2026-13"],
         "a month is YYYY-MM"),
    ]
    for args, reason in cases:
        refused = cli(database_url, *args)
        assert refused.returncode == 2, (args, refused.stdout)
        assert reason in refused.stderr, (args, refused.stderr)


def test_admin_commands_set_the_price_list_and_the_balance(database_url: str) -> None:
    number = f"400{uuid.uuid4().int % 10**7:07d}"
    assert cli(database_url, "hotline", "add", number).returncode == 0
    steps = [
        (["billing", "settings", number, "--low-balance-fen", "5000",
          "--at-zero-balance", "refuse"], "low balance below ¥50.00, at zero balance: refuse"),
        (["billing", "tariff", "set", number, "--price-fen", "12", "--from", "2026-11-01"],
         "from 2026-11-01 00:00:00+08:00: 12 fen per 60 s"),   # midnight, in Shanghai
        (["billing", "package", "add", number, "--from", "2026-11-01", "--until", "2027-11-01",
          "--included-minutes", "100", "--minimum-fen", "10000", "--prepaid-fen", "300000"],
         "100 min a month included"),
        (["billing", "topup", number, "--fen", "2500", "--note", "cheque 12"],
         "topped up ¥25.00; balance ¥3,025.00"),
        (["billing", "balance", number], "balance ¥3,025.00 (ok; low below ¥50.00"),
        (["billing", "tariff", "list", "--hotline", number],
         "2026-11-01 00:00:00+08:00   60 s      12 fen"),
    ]
    for args, expected in steps:
        done = cli(database_url, *args)
        assert done.returncode == 0, (args, done.stderr)
        assert expected in done.stdout, (args, done.stdout)

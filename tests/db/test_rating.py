"""Rating against the real database: exactly once, in order, re-ratable, settled monthly."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import structlog

from router import db as router_db
from router import metrics, migrate
from router.billing import balance, config, ledger, loop, rater, rerate, statements
from router.billing.months import Month
from tests.billing_helpers import add_call, charges, new_hotline
from tests.conftest import TEST_DB
from tests.lab.database import recreate

MARCH = Month(2025, 3)
T = datetime.fromisoformat("2025-03-10T02:00:00+00:00")  # 10:00 in Shanghai


async def queued(db: Any, call_id: Any) -> bool:
    return bool(await db.fetchval("SELECT EXISTS (SELECT 1 FROM rating_queue WHERE call_id = $1)",
                                  call_id))


async def test_answered_calls_are_queued_when_they_end_and_others_never(
        db: Any, hotline_number: str) -> None:
    hotline = await new_hotline(db, hotline_number)
    unanswered = await add_call(db, hotline, hotline_number, T, talk_ms=None)
    assert not await queued(db, unanswered)
    answered = await add_call(db, hotline, hotline_number, T, talk_ms=5000)
    assert await queued(db, answered)
    # A call in progress is queued by the update that records its end.
    await db.execute("UPDATE calls SET ended_at = NULL WHERE id = $1", answered)
    await db.execute("DELETE FROM rating_queue WHERE call_id = $1", answered)
    await db.execute("UPDATE calls SET ended_at = answered_at + interval '5 s' WHERE id = $1",
                     answered)
    assert await queued(db, answered)


async def test_concurrent_raters_charge_each_call_exactly_once(
        db: Any, hotline_number: str) -> None:
    hotline = await new_hotline(db, hotline_number, price_fen=12)
    calls = [await add_call(db, hotline, hotline_number, T + timedelta(minutes=i),
                            talk_ms=30_000 + 7_000 * i) for i in range(12)]

    await asyncio.gather(*(rater.rate_ready(db, delay_s=0) for _ in range(4)),
                         *(rater.rate_hotline(db, hotline) for _ in range(2)))

    for call_id in calls:
        (charge,) = await charges(db, call_id)
        assert charge["kind"] == "call-charge"
        assert not await queued(db, call_id)
    expected = sum(12 * -(-(30_000 + 7_000 * i) // 60_000) for i in range(12))
    assert await ledger.balance(db, hotline) == -expected
    # Rating again finds nothing to do.
    again = await rater.rate_hotline(db, hotline)
    assert again.calls == {}


async def test_a_call_waits_out_the_rating_delay(db: Any, hotline_number: str) -> None:
    hotline = await new_hotline(db, hotline_number)
    call_id = await add_call(db, hotline, hotline_number, T, talk_ms=1000)
    assert (await rater.rate_hotline(db, hotline, delay_s=60)).calls == {}
    assert await charges(db, call_id) == []
    assert call_id in (await rater.rate_hotline(db, hotline, delay_s=0)).calls


async def test_a_call_without_a_tariff_waits_until_one_is_set(db: Any,
                                                             hotline_number: str) -> None:
    hotline = await new_hotline(db, hotline_number, valid_from="2030-01-01T00:00:00+00:00")
    call_id = await add_call(db, hotline, hotline_number, T, talk_ms=90_000)
    await rater.rate_ready(db, delay_s=0)
    assert await charges(db, call_id) == []
    assert await queued(db, call_id)

    await config.set_tariff(db, hotline_number, 10, 60, "2025-03-01")
    await rater.rate_ready(db, delay_s=0)
    (charge,) = await charges(db, call_id)
    assert (charge["units"], charge["amount_fen"]) == (2, -20)


async def test_calls_from_before_the_first_tariff_do_not_hold_up_later_ones(
        db: Any, hotline_number: str) -> None:
    hotline = await new_hotline(db, hotline_number, valid_from="2025-03-10T00:00:00+00:00")
    older = [await add_call(db, hotline, hotline_number, T - timedelta(days=30 + n),
                            talk_ms=60_000) for n in range(3)]
    priced = await add_call(db, hotline, hotline_number, T, talk_ms=60_000)
    # a batch smaller than the calls waiting without a tariff
    rated = await rater.rate_hotline(db, hotline, limit=2)
    assert list(rated.calls) == [priced]
    assert all([await queued(db, call_id) for call_id in older])


async def test_a_menu_starts_billing_at_its_answer(db: Any, hotline_number: str) -> None:
    hotline = await new_hotline(db, hotline_number, unit_s=6, price_fen=1)
    call_id = await add_call(db, hotline, hotline_number, T, talk_ms=4000, ring_ms=5000,
                             greeting_ms=500)
    await rater.rate_hotline(db, hotline)
    (charge,) = await charges(db, call_id)
    assert charge["billable_ms"] == 8500  # from the menu's answer at 0.5 s to the end at 9 s
    assert charge["units"] == 2
    row = await db.fetchrow("SELECT billable_ms FROM calls WHERE id = $1", call_id)
    assert row["billable_ms"] == 8500  # `calls` shows the number the ledger charged


async def test_a_caller_who_leaves_in_the_menu_is_billed_the_same_everywhere(
        db: Any, hotline_number: str) -> None:
    hotline = await new_hotline(db, hotline_number, unit_s=6, price_fen=1)
    call_id = await add_call(db, hotline, hotline_number, T, talk_ms=None, ring_ms=12_013,
                             greeting_ms=0)
    await rater.rate_hotline(db, hotline)
    (charge,) = await charges(db, call_id)
    row = await db.fetchrow("SELECT billable_ms, outcome FROM calls WHERE id = $1", call_id)
    assert (row["outcome"], row["billable_ms"], charge["billable_ms"]) == (
        "no-answer", 12_013, 12_013)


async def test_a_screened_call_bills_from_the_confirmation_not_the_phones_answer(
        db: Any, hotline_number: str) -> None:
    hotline = await new_hotline(db, hotline_number, unit_s=6, price_fen=1)
    call_id = await add_call(db, hotline, hotline_number, T, talk_ms=10_000, ring_ms=2000)
    confirmed = T + timedelta(milliseconds=4750)
    await db.execute("UPDATE calls SET caller_answered_at = $2 WHERE id = $1", call_id,
                     confirmed)
    await rater.rate_hotline(db, hotline)
    (charge,) = await charges(db, call_id)
    row = await db.fetchrow("SELECT billable_ms FROM calls WHERE id = $1", call_id)
    assert row["billable_ms"] == charge["billable_ms"] == 7250


async def test_included_minutes_go_to_calls_in_the_order_they_ended(
        db: Any, hotline_number: str) -> None:
    hotline = await new_hotline(db, hotline_number, unit_s=6, price_fen=2)
    await config.add_package(db, hotline_number, "2025-01-01", "2026-01-01",
                             included_minutes=1, overage_per_unit_fen=1)
    # 40 s (7 units), then 30 s (5 units): the second gets the 3 units left.
    first = await add_call(db, hotline, hotline_number, T, talk_ms=40_000)
    second = await add_call(db, hotline, hotline_number, T + timedelta(seconds=50),
                            talk_ms=30_000)
    await rater.rate_hotline(db, hotline)
    assert [(c["units"], c["included_units"], c["amount_fen"])
            for c in [*await charges(db, first), *await charges(db, second)]] == [
        (7, 7, 0), (5, 3, -2)]
    assert (await rerate.rerate(db, MARCH, hotline_number))[0].calls == []


async def test_rerate_after_a_tariff_fix_adjusts_and_a_second_changes_nothing(
        db: Any, hotline_number: str) -> None:
    hotline = await new_hotline(db, hotline_number, price_fen=36)  # should have been 12
    calls = [await add_call(db, hotline, hotline_number, T + timedelta(hours=i),
                            talk_ms=61_000 * (i + 1)) for i in range(3)]
    await rater.rate_hotline(db, hotline)
    assert await ledger.balance(db, hotline) == -36 * (2 + 3 + 4)

    await db.execute("UPDATE tariffs SET price_per_unit_fen = 12 WHERE hotline_id = $1", hotline)
    (first,) = await rerate.rerate(db, MARCH, hotline_number)
    assert sorted(c.delta_fen for c in first.calls) == [-96, -72, -48]
    assert first.delta_fen == -24 * (2 + 3 + 4)
    for call_id in calls:
        kinds = [(c["kind"], c["adjusts"], c["price_per_unit_fen"])
                 for c in await charges(db, call_id)]
        assert kinds == [("call-charge", None, 36), ("adjustment", "call-charge", 12)]
    entries = await db.fetchval("SELECT count(*) FROM ledger WHERE hotline_id = $1", hotline)

    (second,) = await rerate.rerate(db, MARCH, hotline_number)
    assert second.calls == []
    assert second.minimum is None
    assert await db.fetchval("SELECT count(*) FROM ledger WHERE hotline_id = $1",
                             hotline) == entries
    statement = await statements.load(db, hotline_number, MARCH)
    assert statement.total_fen == 12 * (2 + 3 + 4) == -await ledger.balance(db, hotline)
    assert [line.charge_fen for line in statement.calls] == [24, 36, 48]


async def test_a_months_minimum_spend_is_settled_once_and_follows_a_rerate(
        db: Any, hotline_number: str) -> None:
    hotline = await new_hotline(db, hotline_number, price_fen=12)
    await config.add_package(db, hotline_number, "2025-03-01", "2025-06-01",
                             monthly_minimum_fen=1000)
    await add_call(db, hotline, hotline_number, T, talk_ms=61_000)  # 24 fen
    await rater.rate_hotline(db, hotline)

    await asyncio.gather(*(rater.settle_months(db, delay_s=0) for _ in range(3)))
    rows = await db.fetch(
        "SELECT month, amount_fen FROM ledger WHERE hotline_id = $1 AND kind = 'minimum-spend' "
        "ORDER BY month", hotline)
    # March tops up 1000 - 24; April and May had no calls and owe the whole minimum.
    assert [(r["month"].isoformat(), r["amount_fen"]) for r in rows] == [
        ("2025-03-01", -976), ("2025-04-01", -1000), ("2025-05-01", -1000)]
    march = await statements.load(db, hotline_number, MARCH)
    assert (march.calls_fen, march.minimum_spend_fen, march.total_fen) == (24, 976, 1000)

    await db.execute("UPDATE tariffs SET price_per_unit_fen = 0 WHERE hotline_id = $1", hotline)
    (fixed,) = await rerate.rerate(db, MARCH, hotline_number)
    assert [c.delta_fen for c in fixed.calls] == [-24]
    assert fixed.minimum is not None
    assert (fixed.minimum.before_fen, fixed.minimum.after_fen) == (976, 1000)
    march = await statements.load(db, hotline_number, MARCH)
    assert (march.calls_fen, march.minimum_spend_fen, march.total_fen) == (0, 1000, 1000)
    (again,) = await rerate.rerate(db, MARCH, hotline_number)
    assert again.calls == []
    assert again.minimum is None


async def test_zero_balance_refuses_calls_only_where_the_owner_chose_it(
        db: Any, hotline_number: str) -> None:
    hotline = await new_hotline(db, hotline_number)
    assert not await balance.refuses_calls(db, hotline)        # no settings: keep routing
    await config.set_settings(db, hotline_number, at_zero_balance="refuse")
    assert await balance.refuses_calls(db, hotline)            # nothing prepaid yet
    await config.top_up(db, hotline_number, 100)
    assert not await balance.refuses_calls(db, hotline)
    await add_call(db, hotline, hotline_number, T, talk_ms=600_000)  # 120 fen
    await rater.rate_hotline(db, hotline)
    assert await balance.refuses_calls(db, hotline)
    await config.set_settings(db, hotline_number, at_zero_balance="keep-routing")
    assert not await balance.refuses_calls(db, hotline)


async def test_the_zero_balance_check_lets_calls_through_when_billing_fails() -> None:
    class Broken:
        async def fetchval(self, *args: Any) -> Any:
            raise asyncpg.exceptions.UndefinedTableError("relation does not exist")

    assert await balance.refuses_calls(Broken(), 1) is False


async def test_a_low_balance_is_logged_once_and_shown_as_a_metric(
        db: Any, hotline_number: str) -> None:
    hotline = await new_hotline(db, hotline_number, price_fen=12)
    await config.set_settings(db, hotline_number, low_balance_fen=1000)
    await config.top_up(db, hotline_number, 1010)
    first = await add_call(db, hotline, hotline_number, T, talk_ms=30_000)
    second = await add_call(db, hotline, hotline_number, T + timedelta(minutes=5),
                            talk_ms=30_000)
    registry = metrics.REGISTRY

    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(loop.run(db, loop.RatingSettings(delay_s=0, interval_s=0.05)))
        deadline = time.monotonic() + 10
        while not (await charges(db, first) and await charges(db, second)):
            assert time.monotonic() < deadline, "the rating loop did not rate the calls"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # a few more passes: the event must not repeat
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    low = [e for e in logs if e["event"] == "balance low" and e["hotline"] == hotline_number]
    assert len(low) == 1
    assert (low[0]["balance_fen"], low[0]["threshold_fen"]) == (986, 1000)
    labels = {"hotline": hotline_number}
    assert registry.get_sample_value("hotline_router_balance_fen", labels) == 986
    assert registry.get_sample_value("hotline_router_balance_low", labels) == 1


async def test_the_outcome_list_keeps_what_another_migration_added(tmp_path: Path,
                                                                   monkeypatch: Any) -> None:
    """0003 extends call_outcome_is_known as it finds it, whatever 0002 did to it, and
    0009 carries every value it allows by then into the call_outcomes table."""
    for migration in migrate.available():
        if migration.version != 2:
            (tmp_path / f"{migration.version:04d}_{migration.name}.sql").write_text(migration.sql)
        else:  # 0002 as it is (later migrations build on it), and a change to the outcomes
            (tmp_path / "0002_other.sql").write_text(
                migration.sql + "\nALTER TABLE calls DROP CONSTRAINT call_outcome_is_known, "
                "ADD CONSTRAINT call_outcome_is_known CHECK (outcome IN ('answered', 'busy', "
                "'no-answer', 'failed', 'abandoned', 'unknown-number', 'not-in-service', "
                "'interrupted', 'blacklisted'));")
    monkeypatch.setenv("HOTLINE_ROUTER_MIGRATIONS", str(tmp_path))
    url = await recreate(f"{TEST_DB}_outcomes")
    connection = await router_db.connect(url)
    try:
        await migrate.migrate(connection)
        insert = """INSERT INTO calls (id, dialled, caller, caller_channel, router_id, started_at,
                                       ended_at, outcome)
                    VALUES (gen_random_uuid(), '4000000000', '1', 'c', 'r', now(), now(), $1)"""
        for outcome in ("blacklisted", "refused-no-balance", "answered"):
            await connection.execute(insert, outcome)
        with pytest.raises(asyncpg.exceptions.ForeignKeyViolationError,
                           match="call_outcome_is_known"):
            await connection.execute(insert, "lost")
        assert await connection.fetchval(
            "SELECT meaning FROM call_outcomes WHERE outcome = 'blacklisted'") == (
            "added by an earlier migration")
    finally:
        await connection.close()

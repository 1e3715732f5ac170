"""A new call's lookup: busy state, the billing refusal and the round-robin
number in one query, read as the router's own database role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from router import db as router_db
from router import rotation
from router.billing import balance, config
from router.directory import find_hotline, load_snapshot
from tests.conftest import DAEMON_LOGIN, TEST_DB
from tests.lab import database


@pytest.fixture(scope="module")
async def lookup_url() -> str:
    """A database of its own: another test's global blacklist would change the answers.

    Named after this run's test database, so it carries the lab offset (or the name
    TEST_DATABASE_NAME gives) and two runs on one machine never share it.
    """
    return await database.fresh(f"{TEST_DB}_lookup")


@pytest.fixture
async def db(lookup_url: str) -> AsyncIterator[Any]:
    pool = await router_db.connect_pool(lookup_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


@pytest.fixture
async def daemon_db(lookup_url: str, daemon_database_url: str) -> AsyncIterator[Any]:
    """As the router's role (the login daemon_database_url made)."""
    pool = await router_db.connect_pool(
        lookup_url.replace("//postgres@", f"//{DAEMON_LOGIN}@", 1), min_size=1, max_size=2)
    yield pool
    await pool.close()


async def hotline(db: Any, number: str, strategy: str, phones: int = 2) -> int:
    hotline_id: int = await db.fetchval(
        "INSERT INTO hotlines (number, strategy) VALUES ($1, $2) RETURNING id", number, strategy)
    for position in range(1, phones + 1):
        phone_id = await db.fetchval("INSERT INTO phones (dial_string) VALUES ($1) RETURNING id",
                                     f"PJSIP/{number}-{position}")
        await db.execute("INSERT INTO bound_phones (hotline_id, phone_id, position) "
                         "VALUES ($1, $2, $3)", hotline_id, phone_id, position)
    return hotline_id


async def test_a_round_robin_hotline_without_a_plan_takes_its_turn_with_the_lookup(
        db: Any, daemon_db: Any, hotline_number: str) -> None:
    hotline_id = await hotline(db, hotline_number, "round_robin")
    snapshot = await load_snapshot(db)
    turns = []
    for _ in range(3):
        found = await find_hotline(daemon_db, hotline_number, snapshot, new_call=True)
        assert found is not None
        assert len(found.phones) == 2
        turns.append(found.call_number)
    assert turns == [0, 1, 2]
    # a lookup for anything but a new call takes no turn; the counter is the shared one
    looked = await find_hotline(daemon_db, hotline_number, snapshot)
    assert looked is not None
    assert looked.call_number is None
    assert await rotation.next_call_number(daemon_db, hotline_id) == 3


@pytest.mark.parametrize("setup", ["sequential", "blacklist", "plan rule", "disabled"])
async def test_no_turn_is_taken_where_the_call_may_not_reach_the_rule(
        db: Any, daemon_db: Any, hotline_number: str, setup: str) -> None:
    strategy = "sequential" if setup == "sequential" else "round_robin"
    hotline_id = await hotline(db, hotline_number, strategy)
    if setup == "blacklist":
        await db.execute("INSERT INTO caller_lists (hotline_id, list, value) "
                         "VALUES ($1, 'blacklist', '13800000000')", hotline_id)
    elif setup == "plan rule":
        await db.execute("INSERT INTO plan_rules (hotline_id, position, action) "
                         "VALUES ($1, 1, 'closed')", hotline_id)
    elif setup == "disabled":
        await db.execute("UPDATE hotlines SET enabled = false WHERE id = $1", hotline_id)
    snapshot = await load_snapshot(db)
    found = await find_hotline(daemon_db, hotline_number, snapshot, new_call=True)
    assert found is not None
    assert found.call_number is None
    assert await rotation.next_call_number(daemon_db, hotline_id) == 0


async def test_the_lookup_says_whether_billing_refuses_the_call(
        db: Any, daemon_db: Any, hotline_number: str) -> None:
    hotline_id = await hotline(db, hotline_number, "round_robin", phones=0)
    snapshot = await load_snapshot(db)

    async def refuses() -> bool | None:
        found = await find_hotline(daemon_db, hotline_number, snapshot, new_call=True)
        assert found is not None
        assert found.phones == ()
        assert found.refuses_calls == await balance.refuses_calls(daemon_db, hotline_id)
        return found.refuses_calls

    assert await refuses() is False                  # no billing settings: keep routing
    await config.set_settings(db, hotline_number, at_zero_balance="refuse")
    assert await refuses() is True                   # nothing prepaid
    await config.top_up(db, hotline_number, 100)
    assert await refuses() is False

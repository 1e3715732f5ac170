"""The router's database role: reads configuration, writes records, changes neither."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from router import db as router_db


@pytest.fixture
async def as_daemon(daemon_database_url: str) -> AsyncIterator[Any]:
    connection = await router_db.connect(daemon_database_url)
    yield connection
    await connection.close()


async def test_the_daemon_reads_configuration_and_writes_records(db: Any, as_daemon: Any) -> None:
    await db.execute("INSERT INTO hotlines (number) VALUES ('4007770001')")
    assert await as_daemon.fetchval(
        "SELECT count(*) FROM hotlines WHERE number = '4007770001'") == 1
    call_id = uuid.uuid4()
    await as_daemon.execute(
        """INSERT INTO calls (id, dialled, caller, caller_channel, router_id, started_at)
           VALUES ($1, '4007770001', '1', random()::text, 'r', now())""", call_id)
    await as_daemon.execute("UPDATE calls SET ended_at = now(), outcome = 'busy' WHERE id = $1",
                            call_id)


@pytest.mark.parametrize("statement", [
    "UPDATE hotlines SET enabled = false",
    "INSERT INTO phones (dial_string) VALUES ('PJSIP/intruder')",
    "DELETE FROM bound_phones",
    "DELETE FROM calls",
    "DELETE FROM call_legs",
    "UPDATE tariffs SET price_per_unit_fen = 0",
    "DROP TABLE calls",
])
async def test_the_daemon_cannot_change_configuration_or_erase_records(
        as_daemon: Any, statement: str) -> None:
    with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError,
                       match=r"permission denied|must be owner"):
        await as_daemon.execute(statement)


@pytest.mark.parametrize(("table", "privilege"), [
    ("number_pool", "INSERT"),   # numbers import
    ("rating_queue", "DELETE"),  # billing rate
    ("ledger", "INSERT"),        # top-ups
    ("hotlines", "UPDATE"),
])
async def test_the_admin_role_can_do_what_the_admin_cli_does(
        db: Any, table: str, privilege: str) -> None:
    assert await db.fetchval("SELECT has_table_privilege('hotline_router_admin', $1, $2)",
                             table, privilege)


@pytest.mark.parametrize("table", ["calls", "call_legs", "phone_claims"])
async def test_the_admin_role_cannot_write_records(db: Any, table: str) -> None:
    assert not await db.fetchval(
        "SELECT has_table_privilege('hotline_router_admin', $1, 'INSERT')", table)

"""Call records as the database keeps them: the shared vocabularies, and a
record the database refuses while it is up."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from router import db as router_db
from router.records import LegResult, Outcome, check_vocabulary
from router.records.kinds import CallStarted, LegPurpose, LegStarted
from router.spool import Spool
from router.store import Store
from tests.lab.database import fresh

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


async def test_the_routers_outcomes_and_leg_results_are_the_databases(db: Any) -> None:
    assert await check_vocabulary(db) == []
    outcomes = {row["outcome"] for row in await db.fetch("SELECT outcome FROM call_outcomes")}
    results = {row["result"] for row in await db.fetch("SELECT result FROM leg_results")}
    assert outcomes == {o.value for o in Outcome}
    assert results == {r.value for r in LegResult}


async def test_an_outcome_the_database_lacks_is_named_with_what_to_do(
        database_url: str) -> None:
    url = await fresh(database_url.rsplit("/", 1)[1] + "_vocabulary")
    connection = await router_db.connect(url)
    try:
        await connection.execute("DELETE FROM call_outcomes WHERE outcome = 'interrupted'")
        assert await check_vocabulary(connection) == [
            "outcome 'interrupted' is not in table call_outcomes: run hotline-router migrate"]
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="call_outcome_is_known"):
            await connection.execute(
                "INSERT INTO calls (id, dialled, caller, caller_channel, router_id, started_at, "
                "ended_at, outcome) VALUES ($1, '4000000000', '1', random()::text, 'r', now(), "
                "now(), "
                "'interrupted')", uuid4())
    finally:
        await connection.close()


async def test_a_record_refused_while_the_database_is_up_is_kept_aside(
        db: Any, tmp_path: Path) -> None:
    spool = Spool(tmp_path, "router-refused")
    store = Store(db, "router-refused", spool, snapshot=lambda: None,
                  fresh_snapshot=lambda: None)
    orphan = LegStarted(uuid4(), uuid4(), None, "PJSIP/x", 1, T0)  # no such call
    await store.write(orphan)
    assert store.healthy  # a refusal is not an outage
    assert spool.pending == 0
    kept = [json.loads(line) for line in spool.rejected.read_text().splitlines()]
    assert [(k["kind"], k["leg_id"]) for k in kept] == [("leg_started", str(orphan.leg_id))]


async def test_a_second_record_for_one_caller_channel_is_refused_by_name(
        db: Any, tmp_path: Path) -> None:
    spool = Spool(tmp_path, "router-second")
    store = Store(db, "router-second", spool, snapshot=lambda: None,
                  fresh_snapshot=lambda: None)
    channel = f"1764468000.{uuid4().int % 10**6}"
    first = CallStarted(uuid4(), None, "4000000000", "13800138000", channel, "router-a", T0)
    second = CallStarted(uuid4(), None, "4000000000", "13800138000", channel, "router-b", T0)
    await store.write(first)
    await store.write(first)  # the same record replayed: nothing new
    await store.write(second)  # another router routed the same caller
    assert await db.fetchval("SELECT count(*) FROM calls WHERE caller_channel = $1",
                             channel) == 1
    kept = [json.loads(line) for line in spool.rejected.read_text().splitlines()]
    assert [k["call_id"] for k in kept] == [str(second.call_id)]
    with pytest.raises(asyncpg.UniqueViolationError,
                       match="one_call_record_per_caller_channel"):
        await db.execute(
            "INSERT INTO calls (id, dialled, caller, caller_channel, router_id, started_at) "
            "VALUES ($1, '4000000000', '1', $2, 'r', now())", uuid4(), channel)


async def test_every_leg_purpose_the_router_writes_is_one_the_database_keeps(db: Any) -> None:
    """'consult' (0022): a consultation's target is a leg of the call too."""
    call_id = uuid4()
    await db.execute(
        "INSERT INTO calls (id, dialled, caller, caller_channel, router_id, started_at) "
        "VALUES ($1, '4000000000', '1', $2, 'r', $3)", call_id, str(call_id), T0)
    for purpose in LegPurpose:
        await db.execute(
            "INSERT INTO call_legs (id, call_id, dial_string, wave, dial_started_at, purpose, "
            "call_started_at) VALUES ($1, $2, 'PJSIP/x', 1, $3, $4, $3)", uuid4(), call_id, T0,
            purpose.value)
    with pytest.raises(asyncpg.CheckViolationError, match="call_leg_purpose_is_known"):
        await db.execute(
            "INSERT INTO call_legs (id, call_id, dial_string, wave, dial_started_at, purpose, "
            "call_started_at) VALUES ($1, $2, 'PJSIP/x', 1, $3, 'consultation', $3)", uuid4(),
            call_id, T0)

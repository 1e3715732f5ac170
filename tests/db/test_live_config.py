"""The live configuration snapshot: changes by plain SQL arrive within a second."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from router.directory import find_hotline
from router.live_config import ConfigWatcher
from tests.db.conftest import until


async def test_an_sql_edit_reaches_the_snapshot_within_a_second(
        db: Any, watcher: ConfigWatcher) -> None:
    latency = await _insert_and_wait(db, watcher, "4002000001")
    assert latency < 1.0
    await db.execute("UPDATE hotlines SET ring_timeout_s = 42 WHERE number = '4002000001'")
    await until(lambda: watcher.snapshot is not None
                and watcher.snapshot.hotlines["4002000001"].ring_timeout_s == 42, 1.0)


async def _insert_and_wait(db: Any, watcher: ConfigWatcher, number: str) -> float:
    async with db.acquire() as connection, connection.transaction():
        hotline_id = await connection.fetchval(
            "INSERT INTO hotlines (number) VALUES ($1) RETURNING id", number)
        phone_id = await connection.fetchval(
            "INSERT INTO phones (dial_string) VALUES ($1) RETURNING id", f"PJSIP/{number}")
        await connection.execute(
            "INSERT INTO bound_phones (hotline_id, phone_id, position) VALUES ($1, $2, 1)",
            hotline_id, phone_id)
    return await until(lambda: watcher.snapshot is not None
                       and number in watcher.snapshot.hotlines
                       and len(watcher.snapshot.hotlines[number].phones) == 1)


async def test_a_burst_of_edits_reloads_a_few_times_not_once_per_row(
        db: Any, watcher: ConfigWatcher) -> None:
    before = watcher.reloads
    for n in range(20):
        await db.execute("INSERT INTO hotlines (number) VALUES ($1)", f"40021000{n:02d}")
    await until(lambda: watcher.snapshot is not None
                and "4002100019" in watcher.snapshot.hotlines)
    await asyncio.sleep(0.2)
    assert 1 <= watcher.reloads - before < 20


async def test_the_listener_reconnects_and_reloads_after_losing_its_connection(
        db: Any, watcher: ConfigWatcher) -> None:
    old_pid = watcher.backend_pid
    assert await db.fetchval("SELECT pg_terminate_backend($1)", old_pid)
    await until(lambda: watcher.backend_pid != old_pid)
    assert await _insert_and_wait(db, watcher, "4002000002") < 1.0


async def test_busy_state_comes_fresh_from_the_database(db: Any, watcher: ConfigWatcher) -> None:
    await _insert_and_wait(db, watcher, "4002000003")
    snapshot = watcher.snapshot
    assert snapshot is not None
    (phone,) = snapshot.hotlines["4002000003"].phones
    hotline = await find_hotline(db, "4002000003", snapshot)
    assert hotline is not None
    assert [hotline.states[p.phone_id].active_calls for p in hotline.phones] == [0]
    await db.execute("UPDATE phone_state SET active_calls = 1 WHERE phone_id = $1",
                     phone.phone_id)
    try:
        busy = await find_hotline(db, "4002000003", snapshot)  # same snapshot, no reload
        assert busy is not None
        assert busy.idle_candidates(datetime.now(UTC)) == []
    finally:
        await db.execute("UPDATE phone_state SET active_calls = 0 WHERE phone_id = $1",
                         phone.phone_id)
    assert await find_hotline(db, "4009999990", snapshot) is None
    assert await find_hotline(db, "4002000003", snapshot) == await find_hotline(
        db, "4002000003")  # the snapshot reads the same as the tables

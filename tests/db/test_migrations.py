"""Migrations against the real PostgreSQL: in order, once each, never racing."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from router import db as router_db
from router import migrate
from router.callers import sanitise
from tests.conftest import TEST_DB
from tests.lab.database import recreate


@pytest.fixture
async def empty_database_url() -> str:
    return await recreate(f"{TEST_DB}_migrate")


async def applied_versions(url: str) -> list[int]:
    connection = await router_db.connect(url)
    try:
        return [r["version"] for r in await connection.fetch(
            "SELECT version FROM schema_migrations ORDER BY version")]
    finally:
        await connection.close()


async def test_migrate_applies_every_migration_once(empty_database_url: str) -> None:
    expected = [m.version for m in migrate.available()]
    assert expected, "no migrations found"
    connection = await router_db.connect(empty_database_url)
    try:
        first = await migrate.migrate(connection)
        second = await migrate.migrate(connection)
    finally:
        await connection.close()
    assert [m.version for m in first] == expected
    assert second == []
    assert await applied_versions(empty_database_url) == expected


async def test_two_routers_migrating_together_do_not_race(empty_database_url: str) -> None:
    connections = [await router_db.connect(empty_database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate.migrate(c) for c in connections))
    finally:
        for connection in connections:
            await connection.close()
    applied = sorted(m.version for result in results for m in result)
    assert applied == [m.version for m in migrate.available()]  # each exactly once
    assert await applied_versions(empty_database_url) == applied


async def test_an_edited_migration_is_refused(empty_database_url: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    connection = await router_db.connect(empty_database_url)
    try:
        await migrate.migrate(connection)
        for migration in migrate.available():
            text = migration.sql + ("\n-- edited\n" if migration.version == 1 else "")
            (tmp_path / f"{migration.version:04d}_{migration.name}.sql").write_text(text)
        monkeypatch.setenv("HOTLINE_ROUTER_MIGRATIONS", str(tmp_path))
        with pytest.raises(migrate.MigrationError, match="changed after it was applied"):
            await migrate.migrate(connection)
    finally:
        await connection.close()


async def test_migration_numbers_must_be_unique(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 1;")
    monkeypatch.setenv("HOTLINE_ROUTER_MIGRATIONS", str(tmp_path))
    with pytest.raises(migrate.MigrationError, match="share a number"):
        migrate.available()


async def test_0010_cleans_caller_ids_recorded_before_it_and_keeps_them_raw(
        empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for path in migrate.migrations_dir().glob("*.sql"):
        # grants.sql names later migrations' tables: the earlier schema goes without it
        if path.name != migrate.GRANTS and int(path.name[:4]) < 10:
            shutil.copy(path, before / path.name)
    connection = await router_db.connect(empty_database_url)
    try:
        monkeypatch.setenv("HOTLINE_ROUTER_MIGRATIONS", str(before))
        await migrate.migrate(connection)
        dirty = ["13800000001\r\n2026-11-29  4000000116  answered", "1380\x1b[2J\x1b[31m",
                 "138\u202e0001", "13800138000"]
        for n, caller in enumerate(dirty):
            await connection.execute(
                """INSERT INTO calls (id, dialled, caller, caller_channel, router_id, started_at)
                   VALUES (gen_random_uuid(), '4000000001', $1, $2, 'r', now())""",
                caller, f"c{n}")
        monkeypatch.delenv("HOTLINE_ROUTER_MIGRATIONS")
        await migrate.migrate(connection)
        rows = await connection.fetch(
            "SELECT caller, caller_raw FROM calls ORDER BY caller_channel")
    finally:
        await connection.close()
    assert [(r["caller"], r["caller_raw"]) for r in rows] == [
        (sanitise(dirty[0]), dirty[0]), (sanitise(dirty[1]), dirty[1]),
        (sanitise(dirty[2]), dirty[2]), ("13800138000", None)]


async def test_0013_keeps_every_earlier_calls_billable_time_and_rates_nothing_again(
        empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for path in migrate.migrations_dir().glob("*.sql"):
        if path.name != migrate.GRANTS and int(path.name[:4]) < 13:
            shutil.copy(path, before / path.name)
    connection = await router_db.connect(empty_database_url)
    try:
        monkeypatch.setenv("HOTLINE_ROUTER_MIGRATIONS", str(before))
        await migrate.migrate(connection)
        hotline = await connection.fetchval(
            "INSERT INTO hotlines (number) VALUES ('4000000013') RETURNING id")
        # (phone's answer, router's answer of the caller) in ms after the start, end at 10 s:
        # bridged (ours a few ms after the phone's), a greeting first, the phone only.
        answers = [(2000, 2040), (6000, 1000), (2000, None)]
        for n, (phone, ours) in enumerate(answers):
            await connection.execute(
                """INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id,
                                      started_at, answered_at, caller_answered_at, ended_at,
                                      outcome)
                   VALUES (gen_random_uuid(), $1, '4000000013', '138', $2, 'r',
                           '2026-11-01', '2026-11-01'::timestamptz + $3 * interval '1 ms',
                           '2026-11-01'::timestamptz + $4 * interval '1 ms',
                           '2026-11-01'::timestamptz + interval '10 s', 'answered')""",
                hotline, f"c{n}", phone, ours)
        await connection.execute("DELETE FROM rating_queue")  # as if rated already
        monkeypatch.delenv("HOTLINE_ROUTER_MIGRATIONS")
        await migrate.migrate(connection)
        rows = await connection.fetch("SELECT billable_ms FROM calls ORDER BY caller_channel")
        requeued = await connection.fetchval("SELECT count(*) FROM rating_queue")
    finally:
        await connection.close()
    # As rated before 0013: from the earlier of the two answers.
    assert [r["billable_ms"] for r in rows] == [8000, 9000, 8000]
    assert requeued == 0

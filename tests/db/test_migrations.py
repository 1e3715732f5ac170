"""Migrations against the real PostgreSQL: in order, once each, never racing."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import asyncpg
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


async def test_0014_names_the_caller_channels_recorded_twice_before_it(
        empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for path in migrate.migrations_dir().glob("*.sql"):
        if path.name != migrate.GRANTS and int(path.name[:4]) < 14:
            shutil.copy(path, before / path.name)
    connection = await router_db.connect(empty_database_url)
    try:
        monkeypatch.setenv("HOTLINE_ROUTER_MIGRATIONS", str(before))
        await migrate.migrate(connection)
        for channel in ("1764468000.7", "1764468000.7", "1764468000.8"):
            await connection.execute(
                """INSERT INTO calls (id, dialled, caller, caller_channel, router_id, started_at)
                   VALUES (gen_random_uuid(), '4000000001', '13800138000', $1, 'r', now())""",
                channel)
        monkeypatch.delenv("HOTLINE_ROUTER_MIGRATIONS")
        with pytest.raises(asyncpg.RaiseError,
                           match=r"caller channel 1764468000\.7\nHINT:  Keep one record"):
            await migrate.migrate(connection)
        await connection.execute(
            "DELETE FROM calls WHERE id = (SELECT id FROM calls "
            "WHERE caller_channel = '1764468000.7' LIMIT 1)")
        assert [m.version for m in await migrate.migrate(connection)][-1] >= 14
    finally:
        await connection.close()


async def _shape(connection: Any) -> dict[str, set[str]]:
    """The triggers, policies and indexes of calls and call_legs, and what
    refers to a call's id."""
    tables = ("calls", "call_legs")
    return {
        "triggers": {f"{r['tgrelid']}.{r['tgname']}" for r in await connection.fetch(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
            "WHERE tgrelid = ANY($1::regclass[]) AND NOT tgisinternal", tables)},
        "policies": {f"{r['tablename']}.{r['policyname']}" for r in await connection.fetch(
            "SELECT tablename, policyname FROM pg_policies WHERE tablename = ANY($1)", tables)},
        "indexes": {r["indexname"] for r in await connection.fetch(
            "SELECT indexname FROM pg_indexes WHERE tablename = ANY($1)", tables)},
        "references": {f"{r['conrelid']}->{r['confrelid']}" for r in await connection.fetch(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND confrelid::regclass::text IN ('calls', 'call_keys') "
            "AND conparentid = 0")},  # not the copies on each partition
    }


async def test_0025_moves_every_call_and_leg_into_its_month_and_keeps_every_trigger(
        empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for path in migrate.migrations_dir().glob("*.sql"):
        if path.name != migrate.GRANTS and int(path.name[:4]) < 25:
            shutil.copy(path, before / path.name)
    connection = await router_db.connect(empty_database_url)
    try:
        monkeypatch.setenv("HOTLINE_ROUTER_MIGRATIONS", str(before))
        await migrate.migrate(connection)
        hotline = await connection.fetchval(
            "INSERT INTO hotlines (number) VALUES ('4000000025') RETURNING id")
        # Two months, one call still open, one leg dialled after midnight of the 1st.
        starts = ["2026-09-30 23:59:58+00", "2026-10-05 10:00:00+00", "2026-10-31 23:59:59+00"]
        for n, start in enumerate(starts):
            await connection.execute(
                """INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id,
                                      started_at, answered_at, ended_at, outcome)
                   VALUES (gen_random_uuid(), $1, '4000000025', '138', $2, 'r',
                           $3::text::timestamptz, $3::text::timestamptz + interval '1 s',
                           CASE WHEN $4 THEN $3::text::timestamptz + interval '9 s' END,
                           CASE WHEN $4 THEN 'answered' END)""",
                hotline, f"c{n}", start, n < 2)
        await connection.execute(
            """INSERT INTO call_legs (id, call_id, dial_string, wave, dial_started_at)
               SELECT gen_random_uuid(), id, 'PJSIP/' || w, w, started_at + w * interval '1 s'
               FROM calls, generate_series(1, 2) w""")
        await connection.execute(
            "INSERT INTO recordings (call_id, name, format, asterisk, started_at, duration_ms, "
            "size_bytes) SELECT id, 'r0', 'wav', 'a:8088', started_at, 1, 1 FROM calls "
            "WHERE caller_channel = 'c0'")
        shape = await _shape(connection)
        calls = await connection.fetch("SELECT to_jsonb(c) AS j FROM calls c ORDER BY id")
        legs = await connection.fetch("SELECT to_jsonb(l) AS j FROM call_legs l ORDER BY id")
        queued = await connection.fetch("SELECT call_id FROM rating_queue ORDER BY call_id")

        monkeypatch.delenv("HOTLINE_ROUTER_MIGRATIONS")
        assert [m.version for m in await migrate.migrate(connection)] == [25]

        assert await connection.fetch("SELECT to_jsonb(c) AS j FROM calls c ORDER BY id") == calls
        moved = await connection.fetch(
            "SELECT to_jsonb(l) - 'call_started_at' AS j FROM call_legs l ORDER BY id")
        assert [r["j"] for r in moved] == [r["j"] for r in legs]
        assert await connection.fetch(
            "SELECT call_id FROM rating_queue ORDER BY call_id") == queued
        places = await connection.fetch(
            """SELECT c.tableoid::regclass::text AS call_part,
                      l.tableoid::regclass::text AS leg_part,
                      l.call_started_at = c.started_at AS same_start
               FROM call_legs l JOIN calls c ON c.id = l.call_id ORDER BY c.started_at""")
        assert [(p["call_part"], p["leg_part"], p["same_start"]) for p in places] == (
            [("calls_y2026m09", "call_legs_y2026m09", True)] * 2
            + [("calls_y2026m10", "call_legs_y2026m10", True)] * 4)
        assert await connection.fetchval(
            "SELECT count(*) FROM call_keys k JOIN calls c USING (id, started_at)") == 3
        after = await _shape(connection)
        assert after["triggers"] == shape["triggers"] | {"calls.calls_keep_key"}
        assert after["policies"] == shape["policies"]
        assert after["indexes"] == shape["indexes"] - {"one_call_record_per_caller_channel"}
        assert {r.replace("->calls", "->call_keys") for r in shape["references"]} == (
            after["references"])
        # the triggers still act: the open call's end queues it for rating
        await connection.execute("UPDATE calls SET ended_at = started_at + interval '5 s', "
                                 "outcome = 'answered' WHERE ended_at IS NULL")
        assert await connection.fetchval("SELECT count(*) FROM rating_queue") == 3
        with pytest.raises(asyncpg.UniqueViolationError,
                           match="one_call_record_per_caller_channel"):
            await connection.execute(
                "INSERT INTO calls (id, dialled, caller, caller_channel, router_id, started_at) "
                "VALUES (gen_random_uuid(), '4000000025', '1', 'c1', 'r', now())")
    finally:
        await connection.close()

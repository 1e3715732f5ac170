"""Migrations against the real PostgreSQL: in order, once each, never racing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from router import db as router_db
from router import migrate
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

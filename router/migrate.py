"""Apply the numbered SQL files in migrations/, in order, once each.

Two routers starting together take turns on an advisory lock; a migration that
was changed after it was applied is refused, not re-run. After them,
``grants.sql`` (the roles' privileges) is applied every time: it is idempotent
and must cover tables that later migrations add.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger("router.migrate")

# Any constant unique to this project; pg_advisory_lock takes a bigint.
ADVISORY_LOCK_KEY = 0x400_800_2026
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
GRANTS = "grants.sql"


class MigrationError(RuntimeError):
    pass


class NotMigrated(RuntimeError):
    """The database lacks migrations this version needs; the message names the first."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_dir() -> Path:
    """Where the SQL files are: $HOTLINE_ROUTER_MIGRATIONS, the source tree, or the install."""
    candidates = [Path(os.environ["HOTLINE_ROUTER_MIGRATIONS"])] if (
        "HOTLINE_ROUTER_MIGRATIONS" in os.environ) else []
    candidates += [Path(__file__).resolve().parent.parent / "migrations",
                   Path(sys.prefix) / "share" / "hotline-router" / "migrations"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise MigrationError("migrations not found; set HOTLINE_ROUTER_MIGRATIONS to their folder")


def available() -> list[Migration]:
    """The migrations shipped with this version, in order."""
    found = []
    for entry in migrations_dir().iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a number: {versions}")
    return found


async def migrate(connection: Any) -> list[Migration]:
    """Apply what is missing; returns the migrations applied now."""
    await connection.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
    try:
        await connection.execute("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz(3) NOT NULL DEFAULT now())""")
        applied = {r["version"]: r for r in await connection.fetch(
            "SELECT version, name, checksum FROM schema_migrations")}
        done = []
        for migration in available():
            row = applied.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} changed after it "
                        "was applied; add a new migration instead of editing an applied one")
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version, migration.name, migration.checksum)
            log.info("migration applied", version=migration.version, name=migration.name)
            done.append(migration)
        grants = migrations_dir() / GRANTS
        if grants.exists():
            async with connection.transaction():
                await connection.execute(grants.read_text(encoding="utf-8"))
        return done
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)


async def require_current(connection: Any) -> None:
    """Raise NotMigrated unless every migration shipped with this version is applied.

    What `run` and `web` check before serving, so an unmigrated database stops
    them at once with one line instead of failing request by request. Any login
    of the project's roles may read ``schema_migrations`` (grants.sql).
    """
    if not await connection.fetchval("SELECT to_regclass('public.schema_migrations') IS NOT NULL"):
        raise NotMigrated("the database has no migrations applied")
    try:
        applied = {r["version"] for r in await connection.fetch(
            "SELECT version FROM schema_migrations")}
    except asyncpg.exceptions.InsufficientPrivilegeError:
        # grants.sql of this version lets every role read it: older grants
        raise NotMigrated("the database's grants are older than this version") from None
    missing = [m for m in available() if m.version not in applied]
    if missing:
        first = missing[0]
        raise NotMigrated(f"migration {first.version:04d}_{first.name} is not applied"
                          + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))

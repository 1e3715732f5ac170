"""What every CLI topic needs: the database, and printing rows."""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from router import db, migrate, settings
from router.cli import errors, output


def database_url(args: argparse.Namespace) -> str:
    return settings.from_env(database_url=getattr(args, "database_url", None)).database_url


@asynccontextmanager
async def pool(args: argparse.Namespace) -> AsyncIterator[Any]:
    """A small pool for one CLI command; a connection failure is one line naming the setting."""
    url = database_url(args)
    async with errors.database(url):
        connections = await db.connect_pool(url, min_size=1, max_size=2)
    try:
        yield connections
    finally:
        await connections.close()


@asynccontextmanager
async def migrated(url: str) -> AsyncIterator[Any]:
    """One connection to a database with every migration of this version applied.

    What a long-running process (`run`, `web`) checks before it serves: an
    unreachable database raises errors.CliError, an unmigrated one
    migrate.NotMigrated (both one line, exit 3, telling what to do).
    """
    async with errors.database(url):
        connection = await db.connect(url)
    try:
        await migrate.require_current(connection)
        yield connection
    finally:
        await connection.close()


def plain(value: Any) -> Any:
    """A JSON-friendly value: ISO times in UTC with milliseconds, str for ids."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    return value


def print_json_lines(rows: Iterable[Mapping[str, Any]], fields: Sequence[str]) -> None:
    for row in rows:
        print(json.dumps({name: plain(row[name]) for name in fields}, ensure_ascii=False))


def as_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: plain(value) for name, value in dict(row).items()}


def display_zone() -> str:
    """The operator's zone for times not tied to one hotline (setting display_time_zone)."""
    return settings.from_env().display_time_zone


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Rows as aligned columns under a header; times in the row's ``time_zone`` column
    (a hotline's), else the operator's display zone."""
    output.print_table(rows, columns, output.zone_of_row(display_zone()))


def print_record(row: Mapping[str, Any]) -> None:
    """One row as 'name  value' lines; times in its ``time_zone``, else the display zone."""
    output.print_record(row, str(row.get("time_zone") or display_zone()))

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

from router import db, settings


def database_url(args: argparse.Namespace) -> str:
    return settings.from_env(database_url=getattr(args, "database_url", None)).database_url


@asynccontextmanager
async def pool(args: argparse.Namespace) -> AsyncIterator[Any]:
    """A small pool for one CLI command."""
    connections = await db.connect_pool(database_url(args), min_size=1, max_size=2)
    try:
        yield connections
    finally:
        await connections.close()


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


def _cell(value: Any) -> str:
    value = plain(value)
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Rows as aligned columns under a header."""
    cells = [[_cell(row[c]) for c in columns] for row in rows]
    widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for line in cells:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def print_record(row: Mapping[str, Any]) -> None:
    """One row as 'name  value' lines."""
    fields = dict(row)
    width = max(len(name) for name in fields)
    for name, value in fields.items():
        print(f"{name:<{width}}  {_cell(value)}")

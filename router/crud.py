"""Generic list, show, add, update and delete over one configuration table.

A configuration table is described once by a :class:`TableSpec` (how the
admin names a row, which columns may change, how rows are shown); these
functions run plain parameterised SQL from it, and the CLI builds its
subcommands from the same spec (router/cli/crud.py). The database judges every
change: a refusal reaches the admin as the sentence its constraint is named
after (router/admin.py). Table and column names come only from specs in code,
never from user input.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from router.admin import AdminError, refusals


@dataclass(frozen=True)
class Key:
    """One part of how the admin names a row, e.g. a hotline's number."""

    column: str   # the table's column that identifies the row
    metavar: str  # how the CLI shows the argument: NUMBER, PHONE
    noun: str     # for "no hotline 4001234567"
    help: str = ""
    # SQL turning the admin's text ($1) into the column's value; None: used as given.
    lookup: str | None = None


@dataclass(frozen=True)
class Field:
    """A column the admin may set with ``--flag VALUE``."""

    column: str
    flag: str
    parse: Callable[[str], Any]
    help: str
    metavar: str = "VALUE"


Details = Callable[[Any, Mapping[str, Any]], Awaitable[dict[str, list[dict[str, Any]]]]]


@dataclass(frozen=True)
class TableSpec:
    noun: str                # CLI topic and messages: "hotline"
    table: str               # the table written: "hotlines"
    keys: tuple[Key, ...]
    fields: tuple[Field, ...]
    # What list/show read: a SELECT whose columns include every key column.
    select: str
    order_by: str
    list_columns: tuple[str, ...]
    # Checks the database cannot make (e.g. the strategy is installed), given
    # the row as it would be after the change.
    validate: Callable[[Mapping[str, Any]], None] | None = None
    # Rows related to one row, shown by `show` (e.g. a hotline's bound phones).
    details: Details | None = None
    has_enabled: bool = True
    filter_key: Key | None = None  # `list KEY` narrows the list by this key

    @property
    def nouns(self) -> str:
        """The plural, for messages: "hotlines", "entries", "days"."""
        if self.noun.endswith("y") and self.noun[-2:-1] not in tuple("aeiou"):
            return self.noun[:-1] + "ies"
        return self.noun + "s"

    @property
    def a_noun(self) -> str:
        """With its article: "a hotline", "an entry"."""
        return ("an " if self.noun[0] in "aeiou" else "a ") + self.noun


def json_object(text: str) -> dict[str, Any]:
    """Parse a flag's value as a JSON object."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise AdminError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise AdminError("must be a JSON object, e.g. '{\"key\": 1}'")
    return value


def optional_int(text: str) -> int | None:
    """An integer, or 'none' for no value (NULL)."""
    return None if text.strip().lower() in ("", "none") else int(text)


def optional_text(text: str) -> str | None:
    """Text, or 'none' for no value (NULL)."""
    return None if text.strip().lower() in ("", "none") else text


def confirm_key(text: str) -> str:
    """A confirm key as the database keeps it: 'none' or one key (the database
    refuses anything else, naming what it takes)."""
    text = text.strip()
    return "none" if text.lower() in ("", "none", "off") else text


def override_key(text: str) -> str | None:
    """A group's or binding's confirm key: 'inherit' (NULL: the level above's),
    'none' (no screening here) or one key."""
    return None if text.strip().lower() == "inherit" else confirm_key(text)


async def resolve(db: Any, spec: TableSpec, texts: Sequence[str],
                  keys: Sequence[Key] | None = None) -> dict[str, Any]:
    """The admin's names for a row -> {key column: value}; unknown names are refused."""
    keys = spec.keys if keys is None else keys
    where: dict[str, Any] = {}
    for key, text in zip(keys, texts, strict=True):
        if key.lookup is None:
            where[key.column] = text
            continue
        value = await db.fetchval(key.lookup, text)
        if value is None:
            raise AdminError(f"no {key.noun} {text}")
        where[key.column] = value
    return where


def _conditions(where: Mapping[str, Any], first: int = 1) -> tuple[str, list[Any]]:
    parts = [f"{column} = ${n}" for n, column in enumerate(where, start=first)]
    return " AND ".join(parts) or "true", list(where.values())


async def list_rows(db: Any, spec: TableSpec, where: Mapping[str, Any] | None = None) -> list[Any]:
    condition, args = _conditions(where or {})
    return list(await db.fetch(
        f"SELECT * FROM ({spec.select}) AS t WHERE {condition} ORDER BY {spec.order_by}", *args))


async def get_row(db: Any, spec: TableSpec, where: Mapping[str, Any],
                  named: str = "") -> Any:
    rows = await list_rows(db, spec, where)
    if not rows:
        raise AdminError(f"no {spec.noun} {named or ' '.join(map(str, where.values()))}")
    return rows[0]


async def insert_row(db: Any, spec: TableSpec, values: Mapping[str, Any]) -> Any:
    """Insert one row; the database fills what ``values`` leaves out."""
    if spec.validate is not None:
        spec.validate(values)
    columns = ", ".join(values)
    placeholders = ", ".join(f"${n}" for n in range(1, len(values) + 1))
    returning = ", ".join(key.column for key in spec.keys)
    with refusals():
        row = await db.fetchrow(
            f"INSERT INTO {spec.table} ({columns}) VALUES ({placeholders}) "
            f"RETURNING {returning}", *values.values())
    return await get_row(db, spec, dict(row))


async def update_row(db: Any, spec: TableSpec, where: Mapping[str, Any],
                     changes: Mapping[str, Any], named: str = "") -> Any:
    """Change some columns of one row; returns the row as shown after the change."""
    if not changes:
        flags = ", ".join(f.flag for f in spec.fields)
        raise AdminError(f"nothing to change: give at least one of {flags}")
    current = await get_row(db, spec, where, named)
    if spec.validate is not None:
        spec.validate({**dict(current), **changes})
    assignments = ", ".join(f"{column} = ${n}" for n, column in enumerate(changes, start=1))
    condition, args = _conditions(where, first=len(changes) + 1)
    returning = ", ".join(key.column for key in spec.keys)
    with refusals():
        row = await db.fetchrow(
            f"UPDATE {spec.table} SET {assignments} WHERE {condition} RETURNING {returning}",
            *changes.values(), *args)
    if row is None:  # deleted meanwhile
        raise AdminError(f"no {spec.noun} {named}")
    return await get_row(db, spec, dict(row))


async def delete_row(db: Any, spec: TableSpec, where: Mapping[str, Any], named: str = "") -> None:
    condition, args = _conditions(where)
    with refusals():
        deleted = await db.fetchval(
            f"WITH gone AS (DELETE FROM {spec.table} WHERE {condition} RETURNING 1) "
            "SELECT count(*) FROM gone", *args)
    if not deleted:
        raise AdminError(f"no {spec.noun} {named}")

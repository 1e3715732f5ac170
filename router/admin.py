"""What the admin CLI does to the configuration tables.

The database is the source of truth and the judge of what is valid: these
functions run plain SQL, and a refusal from a constraint reaches the admin as
a sentence (the constraints are named as sentences).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import asyncpg

import strategies


class AdminError(Exception):
    """A request the configuration refuses; the message says why."""


def explain(exc: Exception) -> str:
    """A readable sentence for a database refusal."""
    refusals = asyncpg.exceptions.CheckViolationError | asyncpg.exceptions.UniqueViolationError
    if isinstance(exc, refusals):
        name = getattr(exc, "constraint_name", None) or ""
        if name:
            return name.replace("_", " ")
    if isinstance(exc, asyncpg.exceptions.ForeignKeyViolationError):
        name = getattr(exc, "constraint_name", None) or ""
        if name and not name.endswith("_fkey"):  # named as a sentence
            return name.replace("_", " ")
        detail = getattr(exc, "detail", "") or ""
        return f"refused: rows elsewhere depend on this one ({detail})"
    if isinstance(exc, asyncpg.exceptions.NotNullViolationError):
        return f"{getattr(exc, 'column_name', None) or 'a column'} must be given"
    if isinstance(exc, asyncpg.exceptions.RaiseError):
        return str(exc)
    if isinstance(exc, asyncpg.exceptions.PostgresError):
        return getattr(exc, "message", str(exc))
    return str(exc)


@contextmanager
def refusals() -> Iterator[None]:
    """Turn a database refusal inside the block into an AdminError with a sentence."""
    try:
        yield
    except asyncpg.exceptions.PostgresError as exc:
        raise AdminError(explain(exc)) from None


def check_strategy(hotline: Mapping[str, Any]) -> None:
    """The strategy must be installed and accept the hotline's options."""
    name = hotline.get("strategy", "sequential")
    options = hotline.get("strategy_options") or {}
    try:
        strategies.get(name).validate(options)
    except (strategies.UnknownStrategy, strategies.OptionError) as exc:
        raise AdminError(str(exc)) from None


async def add_hotline(db: Any, number: str, strategy: str = "sequential", name: str = "",
                      ring_timeout_s: int = 15) -> Any:
    check_strategy({"strategy": strategy})
    with refusals():
        return await db.fetchrow(
            """INSERT INTO hotlines (number, strategy, name, ring_timeout_s)
               VALUES ($1, $2, $3, $4) RETURNING id, number, strategy, name, ring_timeout_s""",
            number, strategy, name, ring_timeout_s)


async def add_phone(db: Any, hotline_number: str, dial_string: str, position: int | None = None,
                    capacity: int = 1, label: str = "") -> Any:
    """Bind a phone (created if new) to a hotline, last in order unless ``position``."""
    async with db.acquire() as connection, connection.transaction():
        hotline_id = await connection.fetchval(
            "SELECT id FROM hotlines WHERE number = $1", hotline_number)
        if hotline_id is None:
            raise AdminError(f"no hotline {hotline_number}; add it first with "
                             f"'hotline-router hotline add {hotline_number}'")
        try:
            phone_id = await connection.fetchval(
                """INSERT INTO phones (dial_string, capacity, label) VALUES ($1, $2, $3)
                   ON CONFLICT (dial_string) DO UPDATE SET label = phones.label
                   RETURNING id""",
                dial_string, capacity, label)
            if position is None:
                position = await connection.fetchval(
                    "SELECT coalesce(max(position), 0) + 1 FROM bound_phones WHERE hotline_id = $1",
                    hotline_id)
            return await connection.fetchrow(
                """INSERT INTO bound_phones (hotline_id, phone_id, position) VALUES ($1, $2, $3)
                   ON CONFLICT (hotline_id, phone_id) DO UPDATE SET position = EXCLUDED.position
                   RETURNING hotline_id, phone_id, position""",
                hotline_id, phone_id, position)
        except asyncpg.exceptions.PostgresError as exc:
            raise AdminError(explain(exc)) from None


async def bind(db: Any, hotline_id: int, phone_id: int, position: int | None = None) -> Any:
    """Bind an existing phone to a hotline, last in order unless ``position``."""
    async with db.acquire() as connection, connection.transaction():
        if position is None:
            position = await connection.fetchval(
                "SELECT coalesce(max(position), 0) + 1 FROM bound_phones WHERE hotline_id = $1",
                hotline_id)
        with refusals():
            return await connection.fetchrow(
                """INSERT INTO bound_phones (hotline_id, phone_id, position) VALUES ($1, $2, $3)
                   RETURNING hotline_id, phone_id, position""",
                hotline_id, phone_id, position)

"""Plan objects are named per hotline: resolving ``NUMBER NAME`` to rows."""

from __future__ import annotations

from typing import Any

from router.admin import AdminError

# Table -> how the admin calls its rows; table names never come from input.
_NOUNS = {"phone_groups": "group", "schedules": "schedule", "voice_menus": "voice menu"}


async def hotline_id(db: Any, number: str) -> int:
    found: int | None = await db.fetchval("SELECT id FROM hotlines WHERE number = $1", number)
    if found is None:
        raise AdminError(f"no hotline {number}")
    return found


async def named_id(db: Any, table: str, hotline: int, name: str) -> int:
    """The id of the hotline's group, schedule or menu called ``name``."""
    found: int | None = await db.fetchval(
        f"SELECT id FROM {table} WHERE hotline_id = $1 AND name = $2", hotline, name)
    if found is None:
        number = await db.fetchval("SELECT number FROM hotlines WHERE id = $1", hotline)
        raise AdminError(f"no {_NOUNS[table]} {name!r} on hotline {number}")
    return found


async def phone_id(db: Any, text: str) -> int:
    """A phone by id or dial string."""
    found: int | None = await db.fetchval(
        "SELECT id FROM phones WHERE id::text = $1 OR dial_string = $1", text)
    if found is None:
        raise AdminError(f"no phone {text}")
    return found

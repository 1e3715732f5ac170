"""Plan configuration for tests, written as an admin would with psql."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


async def hotline_id(db: Any, number: str) -> int:
    found: int = await db.fetchval("SELECT id FROM hotlines WHERE number = $1", number)
    return found


async def add_group(db: Any, number: str, name: str, phone_ids: Sequence[int],
                    strategy: str = "sequential") -> int:
    group_id: int = await db.fetchval(
        """INSERT INTO phone_groups (hotline_id, name, strategy)
           SELECT id, $2, $3 FROM hotlines WHERE number = $1 RETURNING id""",
        number, name, strategy)
    for position, phone_id in enumerate(phone_ids, start=1):
        await db.execute(
            "INSERT INTO group_members (group_id, phone_id, position) VALUES ($1, $2, $3)",
            group_id, phone_id, position)
    return group_id


async def add_rule(db: Any, number: str, position: int, action: str, **columns: Any) -> int:
    names = ["hotline_id", "position", "action", *columns]
    values = [await hotline_id(db, number), position, action, *columns.values()]
    placeholders = ", ".join(f"${n}" for n in range(1, len(values) + 1))
    rule_id: int = await db.fetchval(
        f"INSERT INTO plan_rules ({', '.join(names)}) VALUES ({placeholders}) RETURNING id",
        *values)
    return rule_id


async def add_schedule(db: Any, number: str, name: str,
                       windows: Sequence[tuple[Sequence[str], str, str]],
                       **columns: Any) -> int:
    names = ["hotline_id", "name", *columns]
    values = [await hotline_id(db, number), name, *columns.values()]
    placeholders = ", ".join(f"${n}" for n in range(1, len(values) + 1))
    schedule_id: int = await db.fetchval(
        f"INSERT INTO schedules ({', '.join(names)}) VALUES ({placeholders}) RETURNING id",
        *values)
    for days, opens, closes in windows:
        await db.execute(
            """INSERT INTO schedule_windows (schedule_id, days, opens, closes)
               VALUES ($1, $2, $3::text::time, $4::text::time)""",
            schedule_id, list(days), opens, closes)
    return schedule_id


async def add_menu(db: Any, number: str, name: str, prompt: str, **columns: Any) -> int:
    names = ["hotline_id", "name", "prompt", *columns]
    values = [await hotline_id(db, number), name, prompt, *columns.values()]
    placeholders = ", ".join(f"${n}" for n in range(1, len(values) + 1))
    menu_id: int = await db.fetchval(
        f"INSERT INTO voice_menus ({', '.join(names)}) VALUES ({placeholders}) RETURNING id",
        *values)
    return menu_id


async def add_key(db: Any, menu_id: int, key: str, action: str, group_id: int | None = None,
                  submenu_id: int | None = None) -> None:
    await db.execute(
        """INSERT INTO menu_keys (menu_id, key, action, group_id, submenu_id)
           VALUES ($1, $2, $3, $4, $5)""", menu_id, key, action, group_id, submenu_id)


async def add_to_list(db: Any, number: str | None, list_name: str, match: str,
                      value: str) -> int:
    """A caller list entry; ``number`` None: a global entry."""
    entry_id: int = await db.fetchval(
        """INSERT INTO caller_lists (hotline_id, list, match, value)
           VALUES ((SELECT id FROM hotlines WHERE number = $1), $2, $3, $4) RETURNING id""",
        number, list_name, match, value)
    return entry_id

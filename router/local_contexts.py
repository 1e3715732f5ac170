"""Dialplan contexts that `Local/<extension>@<context>` dial strings may enter.

A bound phone or an overflow target can be a Local channel into the
operator's own dialplan (an IVR, a queue, a voicemail box). The database
accepts one only into a context listed here, never into the router's own
contexts (migrations/0012_guards.sql refuses those, so a hotline cannot call
itself). Nothing here judges: the database does, and its refusals reach the
admin as sentences (router/admin.py).
"""

from __future__ import annotations

from typing import Any

from router.admin import AdminError, refusals


async def add(db: Any, context: str, note: str = "") -> Any:
    """List ``context``; returns the row (context, note, added_at).

    Raises AdminError when it is malformed, already listed or the router's own.
    """
    with refusals():
        row = await db.fetchrow(
            """INSERT INTO local_contexts (context, note) VALUES ($1, $2)
               ON CONFLICT (context) DO NOTHING RETURNING context, note, added_at""",
            context, note)
    if row is None:
        raise AdminError(f"context {context} is already listed")
    return row


async def remove(db: Any, context: str) -> None:
    """Unlist ``context``. Raises AdminError when it is not listed or still dialled."""
    with refusals():
        deleted = await db.execute("DELETE FROM local_contexts WHERE context = $1", context)
    if deleted == "DELETE 0":
        raise AdminError(f"context {context} is not listed; see hotline-router local-context list")


async def list_all(db: Any) -> list[Any]:
    """Every listed context with the dial strings that use it, by name."""
    return list(await db.fetch(
        f"""SELECT l.context, l.note, l.added_at,
                   (SELECT count(*) FROM phones p
                    WHERE substring(p.dial_string FROM {_CONTEXT}) = l.context) AS phones,
                   (SELECT count(*) FROM hotlines h
                    WHERE substring(h.overflow_forward_to FROM {_CONTEXT}) = l.context)
                       AS overflow_targets
            FROM local_contexts l ORDER BY l.context"""))


# The context of a Local/ dial string (as migrations/0012_guards.sql reads it).
_CONTEXT = "'^Local/[^@/]+@([A-Za-z0-9_-]+)'"

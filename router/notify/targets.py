"""What the admin CLI does with notification targets and the outbox.

The database judges the rows (migrations/0017_notifications.sql: URL shape,
secret length, known events and outcomes); its refusals reach the admin as
sentences (router/admin.py). Only the sender's name is checked here, against
the plug-ins installed on this machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from router.admin import AdminError, refusals
from router.notify.senders import installed

_TARGET_COLUMNS = """t.id, h.number AS hotline, t.name, t.sender, t.address,
    array_to_string(t.events, ',') AS events,
    array_to_string(t.missed_outcomes, ',') AS missed_outcomes, t.fold_minutes, t.enabled,
    t.created_at"""


async def _hotline_id(db: Any, number: str) -> int:
    hotline_id = await db.fetchval("SELECT id FROM hotlines WHERE number = $1", number)
    if hotline_id is None:
        raise AdminError(f"hotline {number} does not exist; see hotline-router hotlines list")
    return int(hotline_id)


async def add(db: Any, number: str, name: str, address: str, *, sender: str = "webhook",
              secret: str = "", events: Sequence[str] = ("call.missed",),
              missed_outcomes: Sequence[str] | None = None, fold_minutes: int = 0) -> Any:
    """Give hotline ``number`` a target; returns its row as listed.

    Raises AdminError for an unknown hotline or sender, or a row the database refuses.
    """
    senders = installed()
    if sender not in senders:
        raise AdminError(f"sender {sender} is not installed: use one of "
                         f"{', '.join(senders) or 'none'} (or install its plug-in)")
    hotline_id = await _hotline_id(db, number)
    with refusals():
        target_id = await db.fetchval(
            """INSERT INTO notify_targets (hotline_id, name, sender, address, secret, events,
                                           missed_outcomes, fold_minutes)
               VALUES ($1, $2, $3, $4, $5, $6,
                       coalesce($7::text[], '{abandoned,busy,no-answer,closed}'),
                       $8)
               RETURNING id""",
            hotline_id, name, sender, address, secret, list(events),
            None if missed_outcomes is None else list(missed_outcomes), fold_minutes)
    return await db.fetchrow(f"SELECT {_TARGET_COLUMNS} FROM notify_targets t "
                             "JOIN hotlines h ON h.id = t.hotline_id WHERE t.id = $1", target_id)


async def list_targets(db: Any, number: str | None = None) -> list[Any]:
    """Every target (of one hotline when ``number``), secrets left out."""
    return list(await db.fetch(
        f"""SELECT {_TARGET_COLUMNS} FROM notify_targets t JOIN hotlines h ON h.id = t.hotline_id
            WHERE $1::text IS NULL OR h.number = $1 ORDER BY h.number, t.name""", number))


async def set_enabled(db: Any, number: str, name: str, enabled: bool) -> None:
    """Turn a target on or off. Raises AdminError when there is no such target."""
    done = await db.execute(
        """UPDATE notify_targets t SET enabled = $3 FROM hotlines h
           WHERE h.id = t.hotline_id AND h.number = $1 AND t.name = $2""", number, name, enabled)
    if done == "UPDATE 0":
        raise AdminError(f"hotline {number} has no notification target {name}; see "
                         "hotline-router notify-target list")


async def remove(db: Any, number: str, name: str) -> None:
    """Remove a target and its queued notifications. Raises AdminError when absent."""
    with refusals():
        done = await db.execute(
            """DELETE FROM notify_targets t USING hotlines h
               WHERE h.id = t.hotline_id AND h.number = $1 AND t.name = $2""", number, name)
    if done == "DELETE 0":
        raise AdminError(f"hotline {number} has no notification target {name}; see "
                         "hotline-router notify-target list")


async def list_outbox(db: Any, *, dead: bool = False, number: str | None = None,
                      limit: int = 50) -> list[Any]:
    """The newest notifications first (dead ones only when ``dead``)."""
    return list(await db.fetch(
        """SELECT o.id, h.number AS hotline, t.name AS target, o.event, o.state, o.attempts,
                  o.caller, o.call_id, o.event_at, o.due_at, o.sent_at, o.last_error,
                  o.folded_into
           FROM notification_outbox o
           JOIN notify_targets t ON t.id = o.target_id
           JOIN hotlines h ON h.id = o.hotline_id
           WHERE (NOT $1 OR o.state = 'dead') AND ($2::text IS NULL OR h.number = $2)
           ORDER BY o.id DESC LIMIT $3""", dead, number, limit))


async def retry(db: Any, ids: Sequence[int] = (), all_dead: bool = False) -> int:
    """Make dead notifications due now, their tries counted afresh; how many.

    Raises AdminError when given an id that does not exist or is not dead.
    """
    if not all_dead:
        rows = await db.fetch("SELECT id, state FROM notification_outbox WHERE id = ANY($1)",
                              list(ids))
        found = {row["id"]: row["state"] for row in rows}
        for wanted in ids:
            if wanted not in found:
                raise AdminError(f"notification {wanted} does not exist; see "
                                 "hotline-router notifications list --dead")
            if found[wanted] != "dead":
                raise AdminError(f"notification {wanted} is {found[wanted]}, not dead: only "
                                 "dead notifications are retried")
    done = await db.execute(
        """UPDATE notification_outbox SET state = 'pending', attempts = 0, due_at = now(),
                  last_error = 'retried by hand after: ' || coalesce(last_error, '')
           WHERE state = 'dead' AND ($1 OR id = ANY($2))""", all_dead, list(ids))
    await db.execute("SELECT pg_notify('hotline_router_notifications', 'retry')")
    return int(done.split()[-1])

"""Call and leg records: written as the call happens, read by the CLI."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID


async def call_started(db: Any, call_id: UUID, hotline_id: int | None, dialled: str,
                       caller: str, caller_channel: str, router_id: str,
                       started_at: datetime, caller_raw: str | None = None) -> None:
    """``caller`` is the cleaned caller id (router/callers.py sanitise); ``caller_raw``
    the id as delivered when it had to be cleaned (else None)."""
    await db.execute(
        """INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id,
                              started_at, caller_raw)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING""",
        call_id, hotline_id, dialled, caller, caller_channel, router_id, started_at, caller_raw)


async def call_bridged(db: Any, call_id: UUID, leg_id: UUID, answered_at: datetime,
                       phone_id: int | None, dial_string: str,
                       caller_answered_at: datetime) -> None:
    """A phone answered and was bridged: the leg's answer, the call's answer and
    when we answered the caller, in one statement (one round trip, not three)."""
    await db.execute(
        """WITH leg AS (UPDATE call_legs SET answered_at = $3 WHERE id = $2)
           UPDATE calls SET answered_at = $3, answered_phone_id = $4,
                            answered_dial_string = $5,
                            caller_answered_at = coalesce(caller_answered_at, $6)
           WHERE id = $1""",
        call_id, leg_id, answered_at, phone_id, dial_string, caller_answered_at)


async def call_overflow(db: Any, call_id: UUID, overflow: str) -> None:
    await db.execute("UPDATE calls SET overflow = $2 WHERE id = $1", call_id, overflow)


async def caller_answered(db: Any, call_id: UUID, answered_at: datetime) -> None:
    """When the router answered the caller (billing starts at the earlier answer)."""
    # The caller is answered once: a greeting before the bridge keeps its time.
    await db.execute("UPDATE calls SET caller_answered_at = coalesce(caller_answered_at, $2) "
                     "WHERE id = $1",
                     call_id, answered_at)


async def plan_decided(db: Any, call_id: UUID, result: str, reason: str, rule_id: int | None,
                       group: str | None, caller_region: str) -> None:
    """What the hotline's plan decided, and why (see calls.plan_result)."""
    await db.execute(
        """UPDATE calls SET plan_result = $2, plan_reason = $3, plan_rule_id = $4,
                            plan_group = $5, caller_region = $6
           WHERE id = $1""",
        call_id, result, reason, rule_id, group, caller_region)


async def plan_routed(db: Any, call_id: UUID, result: str, reason: str,
                      group: str | None) -> None:
    """Where a voice menu led: the plan's final word."""
    await db.execute(
        "UPDATE calls SET plan_result = $2, plan_reason = $3, plan_group = $4 WHERE id = $1",
        call_id, result, reason, group)


async def menu_keys(db: Any, call_id: UUID, keys: str) -> None:
    await db.execute("UPDATE calls SET menu_keys = $2 WHERE id = $1", call_id, keys)


async def call_ended(db: Any, call_id: UUID, ended_at: datetime, outcome: str,
                     reconciled: bool = False) -> None:
    """Close the record (idempotent: a second close changes nothing)."""
    # A clock step must not make a record impossible: never end before the start.
    await db.execute(
        """UPDATE calls SET ended_at = greatest($2, started_at, answered_at), outcome = $3,
                            reconciled_at = CASE WHEN $4 THEN now() END
           WHERE id = $1 AND ended_at IS NULL""",
        call_id, ended_at, outcome, reconciled)


async def leg_started(db: Any, leg_id: UUID, call_id: UUID, phone_id: int | None,
                      dial_string: str, wave: int, dial_started_at: datetime,
                      purpose: str = "phone") -> None:
    await db.execute(
        """INSERT INTO call_legs (id, call_id, phone_id, dial_string, wave, dial_started_at,
                                  purpose)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING""",
        leg_id, call_id, phone_id, dial_string, wave, dial_started_at, purpose)


async def leg_ended(db: Any, leg_id: UUID, ended_at: datetime, result: str,
                    hangup_cause: int | None) -> None:
    await db.execute(
        """UPDATE call_legs SET ended_at = greatest($2, dial_started_at), result = $3,
                                hangup_cause = $4
           WHERE id = $1 AND ended_at IS NULL""",
        leg_id, ended_at, result, hangup_cause)


async def close_interrupted(db: Any, router_id: str) -> int:
    """Close records a previous run of this router left open (it died mid-call)."""
    async with db.acquire() as connection, connection.transaction():
        await connection.execute(
            """UPDATE call_legs l SET ended_at = greatest(now(), l.dial_started_at),
                      result = coalesce(l.result, CASE WHEN l.answered_at IS NULL
                                                       THEN 'cancelled' ELSE 'answered' END)
               FROM calls c
               WHERE l.call_id = c.id AND c.router_id = $1 AND c.ended_at IS NULL
                 AND l.ended_at IS NULL""", router_id)
        closed = await connection.fetch(
            """UPDATE calls SET ended_at = greatest(now(), started_at, answered_at),
                                outcome = 'interrupted'
               WHERE router_id = $1 AND ended_at IS NULL RETURNING id""", router_id)
    return len(closed)


async def list_calls(db: Any, since: datetime | None = None, limit: int = 1000) -> list[Any]:
    """The newest ``limit`` calls (started at or after ``since``), oldest first."""
    return list(await db.fetch(
        """SELECT * FROM (
               SELECT c.id, h.number AS hotline, c.dialled, c.caller, c.started_at,
                      c.answered_at, c.ended_at, c.outcome,
                      c.answered_dial_string AS answered_by, c.billable_ms
               FROM calls c LEFT JOIN hotlines h ON h.id = c.hotline_id
               WHERE $1::timestamptz IS NULL OR c.started_at >= $1
               ORDER BY c.started_at DESC, c.id DESC
               LIMIT $2) newest
           ORDER BY started_at, id""", since, limit))


async def legs_of(db: Any, call_id: UUID) -> list[Any]:
    return list(await db.fetch(
        """SELECT id, phone_id, dial_string, wave, dial_started_at, answered_at, ended_at,
                  result, hangup_cause
           FROM call_legs WHERE call_id = $1 ORDER BY dial_started_at, id""", call_id))

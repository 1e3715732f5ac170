"""Every statement about call records: the writes a call makes, and the reads
of open records that reconciliation, shutdown and the CLI need.

Each write is idempotent (inserts ignore an existing id, closes only close
what is open), so a spooled write replayed twice after a crash changes nothing
the second time (router/spool.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from router import claims
from router.records.kinds import (
    AnyRecord,
    CallBridged,
    CallEnded,
    CallerAnswered,
    CallOverflow,
    CallStarted,
    ClaimReleased,
    LegEnded,
    LegPurpose,
    LegResult,
    LegStarted,
    MenuKeys,
    Outcome,
    PlanDecided,
    PlanRouted,
    RecordingStored,
    TransferConnected,
)

# --- writes ------------------------------------------------------------------
#
# calls and call_legs are partitioned by the month of the call's start (0025):
# every write names it (calls.started_at, call_legs.call_started_at), so
# PostgreSQL plans and touches one month's partition, not every month kept.


def _month(column: str, call: int, at: int, known: bool) -> str:
    """The condition that finds a call's month: ``column = $at`` when the
    record carries the call's start (``known``); else, for a record spooled
    before it was carried, the start from call_keys by the call's id in
    parameter ``call`` (PostgreSQL prunes at execution from that value; 0 when
    the statement has no call id: every month is searched). ``$at`` is named
    either way, so both variants take the same arguments."""
    if known:
        # rounded as the column stores it (milliseconds): a clock's microseconds
        # must not make the write match nothing
        return f"{column} = ${at}::timestamptz(3)"
    looked_up = (f"{column} = (SELECT k.started_at FROM call_keys k WHERE k.id = ${call}) AND "
                 if call else "")
    return f"{looked_up}${at}::timestamptz IS NULL"


async def _call_started(db: Any, r: CallStarted) -> None:
    await db.execute(
        """INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id,
                              started_at, caller_raw)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id, started_at) DO NOTHING""",
        r.call_id, r.hotline_id, r.dialled, r.caller, r.caller_channel, r.router_id,
        r.started_at, r.caller_raw)


async def _call_bridged(db: Any, r: CallBridged) -> None:
    # The leg's answer (and confirmation), the call's answer and when billing
    # starts, in one statement (one round trip, not three). A voice menu's
    # earlier answer of the caller is kept: billing started there.
    known = r.call_started_at is not None
    await db.execute(
        f"""WITH leg AS (UPDATE call_legs SET answered_at = $3, confirmed_at = $7
                         WHERE id = $2 AND {_month("call_started_at", 1, 8, known)})
            UPDATE calls SET answered_at = $3, answered_phone_id = $4,
                             answered_dial_string = $5,
                             caller_answered_at = coalesce(caller_answered_at, $6)
            WHERE id = $1 AND {_month("started_at", 1, 8, known)}""",
        r.call_id, r.leg_id, r.answered_at, r.phone_id, r.dial_string, r.caller_answered_at,
        r.confirmed_at, r.call_started_at)


async def _call_overflow(db: Any, r: CallOverflow) -> None:
    month = _month("started_at", 1, 3, r.call_started_at is not None)
    await db.execute(f"UPDATE calls SET overflow = $2 WHERE id = $1 AND {month}", r.call_id,
                     r.overflow.value, r.call_started_at)


async def _caller_answered(db: Any, r: CallerAnswered) -> None:
    # The caller is answered once: a voice menu before the bridge keeps its time.
    month = _month("started_at", 1, 3, r.call_started_at is not None)
    await db.execute("UPDATE calls SET caller_answered_at = coalesce(caller_answered_at, $2) "
                     f"WHERE id = $1 AND {month}", r.call_id, r.answered_at, r.call_started_at)


async def _plan_decided(db: Any, r: PlanDecided) -> None:
    month = _month("started_at", 1, 7, r.call_started_at is not None)
    await db.execute(
        f"""UPDATE calls SET plan_result = $2, plan_reason = $3, plan_rule_id = $4,
                             plan_group = $5, caller_region = $6
            WHERE id = $1 AND {month}""",
        r.call_id, r.result, r.reason, r.rule_id, r.group, r.caller_region, r.call_started_at)


async def _plan_routed(db: Any, r: PlanRouted) -> None:
    month = _month("started_at", 1, 5, r.call_started_at is not None)
    await db.execute(
        "UPDATE calls SET plan_result = $2, plan_reason = $3, plan_group = $4 "
        f"WHERE id = $1 AND {month}", r.call_id, r.result, r.reason, r.group, r.call_started_at)


async def _menu_keys(db: Any, r: MenuKeys) -> None:
    month = _month("started_at", 1, 3, r.call_started_at is not None)
    await db.execute(f"UPDATE calls SET menu_keys = $2 WHERE id = $1 AND {month}", r.call_id,
                     r.keys, r.call_started_at)


async def _call_ended(db: Any, r: CallEnded) -> None:
    # A clock step must not make a record impossible: never end before the start.
    month = _month("started_at", 1, 7, r.call_started_at is not None)
    await db.execute(
        f"""UPDATE calls SET ended_at = greatest($2, started_at, answered_at), outcome = $3,
                             reconciled_at = CASE WHEN $4 THEN now() END, end_source = $5,
                             recorded = $6
            WHERE id = $1 AND ended_at IS NULL AND {month}""",
        r.call_id, r.ended_at, r.outcome.value, r.reconciled,
        r.end_source.value if r.end_source else None, r.recorded, r.call_started_at)


async def _leg_started(db: Any, r: LegStarted) -> None:
    # A record spooled before the call's start was carried: its call's key says
    # (none: the call does not exist, and the NOT NULL refuses the leg).
    await db.execute(
        """INSERT INTO call_legs (id, call_id, phone_id, dial_string, wave, dial_started_at,
                                  purpose, call_started_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7,
                   coalesce($8, (SELECT k.started_at FROM call_keys k WHERE k.id = $2)))
           ON CONFLICT (id, call_started_at) DO NOTHING""",
        r.leg_id, r.call_id, r.phone_id, r.dial_string, r.wave, r.dial_started_at,
        r.purpose.value, r.call_started_at)


async def _leg_ended(db: Any, r: LegEnded) -> None:
    month = _month("call_started_at", 0, 6, r.call_started_at is not None)
    await db.execute(
        f"""UPDATE call_legs SET ended_at = greatest($2, dial_started_at), result = $3,
                                 hangup_cause = $4, answered_at = coalesce(answered_at, $5)
            WHERE id = $1 AND ended_at IS NULL AND {month}""",
        r.leg_id, r.ended_at, r.result.value, r.hangup_cause, r.answered_at, r.call_started_at)


async def _transfer_connected(db: Any, r: TransferConnected) -> None:
    # Only the leg: the call keeps the first phone's answer, and billing its start.
    month = _month("call_started_at", 1, 4, r.call_started_at is not None)
    await db.execute("UPDATE call_legs SET answered_at = coalesce(answered_at, $3) "
                     f"WHERE id = $2 AND call_id = $1 AND {month}",
                     r.call_id, r.leg_id, r.answered_at, r.call_started_at)


async def _claim_released(db: Any, r: ClaimReleased) -> None:
    await claims.release(db, r.leg_id, r.talk_ms)


async def _recording_stored(db: Any, r: RecordingStored) -> None:
    await db.execute(
        """INSERT INTO recordings (call_id, kind, name, format, asterisk, started_at,
                                   duration_ms, size_bytes)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT ON CONSTRAINT recording_name_is_unique_per_asterisk DO NOTHING""",
        r.call_id, r.recording_kind, r.name, r.format, r.asterisk, r.started_at, r.duration_ms,
        r.size_bytes)


_WRITES: dict[type, Callable[[Any, Any], Awaitable[None]]] = {
    CallStarted: _call_started, PlanDecided: _plan_decided, PlanRouted: _plan_routed,
    MenuKeys: _menu_keys, CallerAnswered: _caller_answered, LegStarted: _leg_started,
    LegEnded: _leg_ended, CallBridged: _call_bridged, CallOverflow: _call_overflow,
    CallEnded: _call_ended, ClaimReleased: _claim_released,
    TransferConnected: _transfer_connected, RecordingStored: _recording_stored,
}


async def write(db: Any, record: AnyRecord) -> None:
    """Apply one record to the database (idempotent).

    Raises whatever asyncpg raises: the caller tells "away" from "refused".
    """
    await _WRITES[type(record)](db, record)


# --- reads for reconciliation and shutdown ----------------------------------------


@dataclass(frozen=True)
class OpenCall:
    """A call record not yet closed."""

    call_id: UUID
    dialled: str
    caller: str
    caller_channel: str
    started_at: datetime


@dataclass(frozen=True)
class OpenLeg:
    """A ring attempt of an open call, as recorded; ``claimed`` while it holds its phone."""

    leg_id: UUID
    phone_id: int | None
    dial_string: str
    wave: int
    dial_started_at: datetime
    answered_at: datetime | None
    result: LegResult | None
    purpose: LegPurpose
    claimed: bool


_OPEN = """
SELECT id, dialled, caller, caller_channel, started_at FROM calls
WHERE router_id = $1 AND ended_at IS NULL ORDER BY started_at
"""

_TAKE_OVER = """
UPDATE calls SET router_id = $2 WHERE router_id = $1 AND ended_at IS NULL
RETURNING id, dialled, caller, caller_channel, started_at
"""

_OPEN_CHANNELS = """
SELECT caller_channel AS channel FROM calls WHERE ended_at IS NULL
UNION ALL
SELECT l.id::text FROM call_legs l
JOIN calls c ON c.id = l.call_id AND c.started_at = l.call_started_at
WHERE c.ended_at IS NULL
"""

_LEGS_OF_OPEN = """
SELECT l.id, l.phone_id, l.dial_string, l.wave, l.dial_started_at, l.answered_at, l.result,
       l.purpose, (c.leg_id IS NOT NULL) AS claimed
FROM call_legs l LEFT JOIN phone_claims c ON c.leg_id = l.id
WHERE l.call_id = $1 ORDER BY l.dial_started_at
"""


def _open_call(row: Any) -> OpenCall:
    return OpenCall(call_id=row["id"], dialled=row["dialled"], caller=row["caller"],
                    caller_channel=row["caller_channel"], started_at=row["started_at"])


async def open_calls(db: Any, router_id: str) -> list[OpenCall]:
    """The open records of ``router_id``, oldest first."""
    return [_open_call(row) for row in await db.fetch(_OPEN, router_id)]


async def take_over(db: Any, previous: str, router_id: str) -> list[OpenCall]:
    """Move the open records and the claims of router ``previous`` to ``router_id``."""
    async with db.acquire() as connection, connection.transaction():
        rows = await connection.fetch(_TAKE_OVER, previous, router_id)
        await connection.execute("UPDATE phone_claims SET router_id = $2 WHERE router_id = $1",
                                 previous, router_id)
    return [_open_call(row) for row in rows]


async def open_channels(db: Any) -> set[str]:
    """The channels of every open call record (callers and legs), whichever router holds it."""
    return {row["channel"] for row in await db.fetch(_OPEN_CHANNELS)}


async def legs_of_open_call(db: Any, call_id: UUID) -> list[OpenLeg]:
    """The ring attempts of an open call, in the order they were dialled."""
    return [OpenLeg(leg_id=r["id"], phone_id=r["phone_id"], dial_string=r["dial_string"],
                    wave=r["wave"], dial_started_at=r["dial_started_at"],
                    answered_at=r["answered_at"],
                    result=LegResult(r["result"]) if r["result"] else None,
                    purpose=LegPurpose(r["purpose"]), claimed=r["claimed"])
            for r in await db.fetch(_LEGS_OF_OPEN, call_id)]


async def close_interrupted(db: Any, router_id: str) -> int:
    """Close records a run of this router left open (it stopped mid-call); how many.

    Each is closed at the last moment its records know of (Asterisk's times:
    start, answers, its legs' ends), never at the time of closing, which would
    bill the time the router was away; it is marked reconciled, its end
    ``last-known``.
    """
    async with db.acquire() as connection, connection.transaction():
        closed = await connection.fetch(
            """WITH known AS (
                   SELECT c.id, c.started_at,
                          greatest(c.started_at, c.answered_at, c.caller_answered_at,
                                   max(l.dial_started_at), max(l.answered_at),
                                   max(l.ended_at)) AS last_known
                   FROM calls c
                   LEFT JOIN call_legs l ON l.call_id = c.id AND l.call_started_at = c.started_at
                   WHERE c.router_id = $1 AND c.ended_at IS NULL
                   GROUP BY c.id, c.started_at),
               legs AS (
                   UPDATE call_legs l
                   SET ended_at = greatest(k.last_known, l.dial_started_at, l.answered_at),
                       result = coalesce(l.result, CASE WHEN l.answered_at IS NULL
                                                        THEN 'cancelled' ELSE 'answered' END)
                   FROM known k WHERE l.call_id = k.id AND l.call_started_at = k.started_at
                                  AND l.ended_at IS NULL)
               UPDATE calls c SET ended_at = k.last_known, outcome = $2,
                                  reconciled_at = now(), end_source = 'last-known'
               FROM known k WHERE c.id = k.id AND c.started_at = k.started_at
               RETURNING c.id""",
            router_id, Outcome.INTERRUPTED.value)
    return len(closed)


# --- reads for people -----------------------------------------------------------


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


# --- the vocabularies ---------------------------------------------------------------

VOCABULARIES: dict[str, tuple[str, type[Any]]] = {
    "call_outcomes": ("outcome", Outcome),
    "leg_results": ("result", LegResult),
}


async def check_vocabulary(db: Any) -> list[str]:
    """The values this router writes that the database does not know (empty:
    none), each as one sentence, e.g. ``outcome 'x' is not in table
    call_outcomes: run hotline-router migrate``. Values only the database
    knows (added for a newer router) are fine: this one never writes them."""
    problems = []
    for table, (column, enum) in VOCABULARIES.items():
        known = {row[column] for row in await db.fetch(f"SELECT {column} FROM {table}")}
        problems += [f"{column} {member.value!r} is not in table {table}: "
                     "run hotline-router migrate" for member in enum if member.value not in known]
    return problems

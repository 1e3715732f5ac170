"""The hold queue in PostgreSQL: who waits, in what order, and whose turn it is.

One row per waiting call in ``queue_waiters`` (migrations/0019_queue.sql).
The order is VIP first (priority 1), then arrival (the call's StasisStart
time: every router reads the one Asterisk's clock), then the order of
joining. Every change to the waiters of a hotline runs under one
transaction-scoped advisory lock for that hotline, so across routers:

- a join counts the waiters and inserts in one step (a limit of 3 admits 3);
- an offer ("may I ring the free phones now?") is granted to a waiter only
  while it is among the first N not yet offered, N being the free call slots
  of its group less the offers granted but not yet turned into a claim
  (``phone_claims`` rows of the offered call). Two routers asking for one
  freed phone are serialised: the first waiter in order gets the offer, the
  other sees the slot taken by a pending offer. The claim itself (router/claims.py)
  still guards capacity, and a waiter that could not claim gives the offer back.

Waiters of routers that stopped or missed their lease, and of calls whose
record is closed, are cleared by the next join or offer of their hotline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

CHANNEL = "hotline_router_queue"

# pg_advisory_xact_lock(class, hotline id): "the queue of hotline N". Any
# constant the project uses for nothing else (rating uses 0x400B111).
LOCK_CLASS = 0x400C015

_LOCK = "SELECT pg_advisory_xact_lock($1, $2::integer)"

# Waiters nobody serves any more: their router stopped or is silent past its
# lease ($2 seconds), or their call's record is closed.
_CLEAR_GONE = """
DELETE FROM queue_waiters w
WHERE w.hotline_id = $1
  AND (NOT EXISTS (SELECT 1 FROM routers r WHERE r.router_id = w.router_id
                     AND r.stopped_at IS NULL
                     AND r.last_seen_at > now() - make_interval(secs => $2))
       OR EXISTS (SELECT 1 FROM calls c WHERE c.id = w.call_id AND c.ended_at IS NOT NULL))
"""

_JOIN = """
INSERT INTO queue_waiters (call_id, hotline_id, group_id, router_id, priority, arrived_at)
SELECT $1, $2, $3, $4, $5, $6
WHERE $7::integer IS NULL
   OR (SELECT count(*) FROM queue_waiters WHERE hotline_id = $2) < $7
-- The same call again (routed afresh after its router restarted): its place
-- stays, a turn it held when its router stopped is handed back.
ON CONFLICT (call_id) DO UPDATE SET offered_at = NULL, router_id = EXCLUDED.router_id
RETURNING call_id
"""

# 1 + the waiters ahead of the call in its own queue (offered or not).
_POSITION = """
SELECT 1 + count(*) FROM queue_waiters w, queue_waiters me
WHERE me.call_id = $1 AND w.hotline_id = me.hotline_id AND w.group_id = me.group_id
  AND w.call_id <> me.call_id
  AND (w.priority > me.priority
       OR (w.priority = me.priority AND (w.arrived_at, w.seq) < (me.arrived_at, me.seq)))
"""

# A waiter someone still serves: its router is alive ($3: the lease in
# seconds) and its call's record is not closed.
_SERVED = """
EXISTS (SELECT 1 FROM routers r WHERE r.router_id = w.router_id AND r.stopped_at IS NULL
          AND r.last_seen_at > now() - make_interval(secs => $3))
AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.id = w.call_id AND c.ended_at IS NOT NULL)
"""

# $1 call, $2 the group's phone ids (enabled bound members Asterisk does not
# report offline), $3 the lease. Free slots count only the phones the claim
# would take (router/claims.py): signed in, past any reject or no-answer delay,
# out of wrap-up. A paused phone counted free would hand turns out that no
# claim can serve, and the next free phone to a caller further back.
_TURN = f"""
WITH me AS (SELECT * FROM queue_waiters WHERE call_id = $1 AND offered_at IS NULL),
free AS (
    SELECT coalesce(sum(greatest(0, p.capacity - s.active_calls)), 0) AS slots
    FROM phone_state s JOIN phones p ON p.id = s.phone_id
    WHERE s.phone_id = ANY($2::bigint[]) AND p.enabled
      AND s.presence = 'signed_in' AND (s.offer_after IS NULL OR s.offer_after <= now())
      AND (p.wrap_up_s = 0 OR s.last_call_ended_at IS NULL
           OR s.last_call_ended_at + p.wrap_up_s * interval '1 second' <= now())),
pending AS (
    SELECT count(*) AS n FROM queue_waiters w, me
    WHERE w.hotline_id = me.hotline_id AND w.group_id = me.group_id
      AND w.offered_at IS NOT NULL AND {_SERVED}
      AND NOT EXISTS (SELECT 1 FROM phone_claims c WHERE c.call_id = w.call_id)),
ahead AS (
    SELECT count(*) AS n FROM queue_waiters w, me
    WHERE w.hotline_id = me.hotline_id AND w.group_id = me.group_id
      AND w.offered_at IS NULL AND w.call_id <> me.call_id AND {_SERVED}
      AND (w.priority > me.priority
           OR (w.priority = me.priority AND (w.arrived_at, w.seq) < (me.arrived_at, me.seq))))
"""

# Without the lock: whether it may be the call's turn. A "no" read here that
# a concurrent change makes wrong is followed by that change's notification.
_MAY_BE_TURN = _TURN + """
SELECT ahead.n < free.slots - pending.n FROM me, free, pending, ahead
"""

_OFFER = _TURN + """
UPDATE queue_waiters q SET offered_at = now()
FROM me, free, pending, ahead
WHERE q.call_id = me.call_id AND ahead.n < free.slots - pending.n
RETURNING q.call_id
"""

_GIVE_BACK = "UPDATE queue_waiters SET offered_at = NULL WHERE call_id = $1"

# The waited time of an answered caller goes into the hotline's running
# average (app_queue's holdtime: (3 * old + new) / 4).
_LEAVE = """
WITH gone AS (DELETE FROM queue_waiters WHERE call_id = $1 RETURNING hotline_id, joined_at)
INSERT INTO hotline_state (hotline_id, queue_hold_ms)
SELECT hotline_id, (extract(epoch FROM now() - joined_at) * 1000)::bigint FROM gone WHERE $2
ON CONFLICT (hotline_id) DO UPDATE
SET queue_hold_ms = CASE WHEN hotline_state.queue_hold_ms IS NULL THEN EXCLUDED.queue_hold_ms
                         ELSE (3 * hotline_state.queue_hold_ms + EXCLUDED.queue_hold_ms) / 4 END
RETURNING queue_hold_ms
"""

_FORGET = "DELETE FROM queue_waiters WHERE call_id = $1"

_ANY_WAITING = """
SELECT EXISTS (SELECT 1 FROM queue_waiters WHERE hotline_id = $1 AND group_id = $2)
"""

_HOLD_MS = "SELECT queue_hold_ms FROM hotline_state WHERE hotline_id = $1"


@dataclass(frozen=True)
class Waiter:
    """One waiting caller, as ``hotline-router queue`` shows it."""

    hotline: str
    group: str | None  # the group's name; None: the hotline's own phones
    position: int
    call_id: UUID
    caller: str
    vip: bool
    arrived_at: datetime
    joined_at: datetime
    offered: bool
    router_id: str


_LIST = """
SELECT h.number AS hotline, g.name AS group_name, w.call_id, c.caller, w.priority,
       w.arrived_at, w.joined_at, w.offered_at IS NOT NULL AS offered, w.router_id,
       row_number() OVER (PARTITION BY w.hotline_id, w.group_id
                          ORDER BY w.priority DESC, w.arrived_at, w.seq) AS position
FROM queue_waiters w
JOIN hotlines h ON h.id = w.hotline_id
LEFT JOIN phone_groups g ON g.id = w.group_id
LEFT JOIN calls c ON c.id = w.call_id
WHERE $1::text IS NULL OR h.number = $1
ORDER BY h.number, w.group_id, position
"""


async def _locked(connection: Any, hotline_id: int, lease_s: float) -> None:
    await connection.execute(_LOCK, LOCK_CLASS, hotline_id)
    await connection.execute(_CLEAR_GONE, hotline_id, lease_s)


async def join(db: Any, call_id: UUID, hotline_id: int, group_id: int, router_id: str,
               vip: bool, arrived_at: datetime, max_waiting: int | None,
               lease_s: float) -> int | None:
    """Put the call in its queue; its position (1 = next), or None when the
    hotline already has ``max_waiting`` callers waiting (over all its groups).
    Joining again (the same call) keeps its place."""
    async with db.acquire() as connection, connection.transaction():
        await _locked(connection, hotline_id, lease_s)
        await connection.fetchval(_JOIN, call_id, hotline_id, group_id, router_id,
                                  1 if vip else 0, arrived_at, max_waiting)
        if not await connection.fetchval("SELECT true FROM queue_waiters WHERE call_id = $1",
                                         call_id):
            return None
        position: int = await connection.fetchval(_POSITION, call_id)
        return position


async def offer(db: Any, call_id: UUID, hotline_id: int, phone_ids: list[int],
                lease_s: float) -> bool:
    """Whether the call may ring its group's free phones now (its turn), and
    if so it holds the offer until :func:`give_back` or :func:`leave`."""
    # Most woken waiters are not next: they learn it without queueing for the lock.
    if not await db.fetchval(_MAY_BE_TURN, call_id, phone_ids, lease_s):
        return False
    async with db.acquire() as connection, connection.transaction():
        await _locked(connection, hotline_id, lease_s)
        return await connection.fetchval(_OFFER, call_id, phone_ids, lease_s) is not None


async def give_back(db: Any, call_id: UUID) -> None:
    """The offered call rang no phone that took it: it waits again, in its place."""
    await db.execute(_GIVE_BACK, call_id)


async def leave(db: Any, call_id: UUID, answered: bool) -> None:
    """The call is out of the queue (idempotent); ``answered``: its wait
    counts toward the hotline's expected wait."""
    if answered:
        await db.fetchval(_LEAVE, call_id, True)
    else:
        await db.execute(_FORGET, call_id)


async def position(db: Any, call_id: UUID) -> int | None:
    """The call's place in its queue now (1 = next); None when not queued."""
    if not await db.fetchval("SELECT true FROM queue_waiters WHERE call_id = $1", call_id):
        return None
    found: int = await db.fetchval(_POSITION, call_id)
    return found


async def anyone_waiting(db: Any, hotline_id: int, group_id: int) -> bool:
    """Whether callers wait for this hotline's group (a new caller joins behind them)."""
    return bool(await db.fetchval(_ANY_WAITING, hotline_id, group_id))


async def hold_ms(db: Any, hotline_id: int) -> int | None:
    """The hotline's recent wait of answered queued callers, in ms; None: none yet."""
    found: int | None = await db.fetchval(_HOLD_MS, hotline_id)
    return found


async def waiters(db: Any, hotline: str | None = None) -> list[Waiter]:
    """Everyone waiting (of one hotline number, or all), in queue order."""
    return [Waiter(hotline=r["hotline"], group=r["group_name"], position=r["position"],
                   call_id=r["call_id"], caller=r["caller"] or "", vip=r["priority"] > 0,
                   arrived_at=r["arrived_at"], joined_at=r["joined_at"], offered=r["offered"],
                   router_id=r["router_id"])
            for r in await db.fetch(_LIST, hotline)]

"""The wallboard's live view: calls in progress, phones by state, today's figures, pushed.

Every statement that writes a call or a leg NOTIFYs ``hotline_router_calls``
(migration 0011) and every configuration change ``hotline_router_config``.
One LISTEN connection per web process wakes the :class:`LiveHub`, which
gathers a burst for ``burst_s``, reads the live view once per distinct token
among the subscribers (each under that token's row-level security) and hands
each subscriber the new view when it changed. A subscriber's queue keeps only
the newest view: a slow browser skips views, it never holds the hub back.
Every ``refresh_s`` the view is read anyway (wrap-up ends, today's figures).

Phone states, in order of precedence (the first that holds): ``disabled``,
``talking``, ``ringing``, the agent's presence ``paused`` or ``signed-out``
(docs/presence.md; a paused agent still on a call shows the call), ``busy``
(no free slot: claimed by a call being set up), ``wrap-up``, ``idle``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog

from router import db as router_db
from router.call_log import OFFERED_OUTCOMES
from router.web import auth
from router.web.present import iso_utc, shown
from router.zones import HOTLINE_ZONE_SQL

log = structlog.get_logger("router.web.live")

CHANNELS = ("hotline_router_calls", "hotline_router_config")
PHONE_STATES = ("disabled", "talking", "ringing", "paused", "signed-out", "busy", "wrap-up",
                "idle")

_CALLS = """
SELECT c.id, coalesce(h.number, c.dialled) AS hotline, coalesce(h.name, '') AS hotline_name,
       c.caller, c.started_at, c.answered_at, coalesce(ap.label, '') AS answered_label,
       c.answered_dial_string,
       CASE WHEN c.answered_at IS NOT NULL THEN 'talking'
            WHEN legs.open > 0 THEN 'ringing'
            WHEN c.overflow = 'queue' THEN 'queued'
            WHEN c.caller_answered_at IS NOT NULL AND c.plan_result IS NULL THEN 'menu'
            ELSE 'routing' END AS state,
       legs.ringing_labels
FROM calls c
LEFT JOIN hotlines h ON h.id = c.hotline_id
LEFT JOIN phones ap ON ap.id = c.answered_phone_id
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE l.ended_at IS NULL) AS open,
           coalesce(array_agg(coalesce(nullif(p.label, ''), l.dial_string)
                              ORDER BY l.dial_started_at)
                    FILTER (WHERE l.ended_at IS NULL AND l.answered_at IS NULL), '{}')
               AS ringing_labels
    FROM call_legs l LEFT JOIN phones p ON p.id = l.phone_id
    WHERE l.call_id = c.id AND l.call_started_at = c.started_at) legs ON true
WHERE c.ended_at IS NULL
ORDER BY c.started_at, c.id
"""

_PHONES = """
SELECT p.id, p.label, p.dial_string, p.enabled, p.capacity, p.wrap_up_s,
       coalesce(s.active_calls, 0) AS active_calls, s.last_call_ended_at,
       coalesce(s.presence, 'signed_in') AS presence, s.presence_reason,
       coalesce(open.ringing, 0) AS ringing, coalesce(open.talking, 0) AS talking,
       (SELECT coalesce(array_agg(h.number ORDER BY h.number), '{}')
        FROM bound_phones b JOIN hotlines h ON h.id = b.hotline_id
        WHERE b.phone_id = p.id) AS hotlines
FROM phones p
LEFT JOIN phone_state s ON s.phone_id = p.id
LEFT JOIN (SELECT phone_id, count(*) FILTER (WHERE answered_at IS NULL) AS ringing,
                  count(*) FILTER (WHERE answered_at IS NOT NULL) AS talking
           FROM call_legs WHERE ended_at IS NULL AND phone_id IS NOT NULL
           GROUP BY phone_id) open ON open.phone_id = p.id
ORDER BY p.label, p.id
"""

# Hotlines with calls today only: an operator's thousands of quiet hotlines
# would cost every push and say nothing. "Today" is each hotline's own, from
# midnight in its zone; every zone's midnight is less than a day ago, which
# bounds the scan.
_TODAY = f"""
SELECT h.number, h.name,
       count(*) AS calls,
       count(*) FILTER (WHERE c.answered_at IS NOT NULL) AS answered,
       count(*) FILTER (WHERE c.answered_at IS NULL AND c.outcome = ANY ($1::text[])) AS missed
FROM calls c JOIN hotlines h ON h.id = c.hotline_id
LEFT JOIN plan_settings ps ON ps.hotline_id = h.id
WHERE c.started_at > now() - interval '1 day' AND c.ended_at IS NOT NULL
  AND c.started_at >= date_trunc('day', now() AT TIME ZONE {HOTLINE_ZONE_SQL})
                      AT TIME ZONE {HOTLINE_ZONE_SQL}
GROUP BY h.id ORDER BY h.number
"""


def phone_state(row: Mapping[str, Any], now: datetime) -> str:
    """One of PHONE_STATES for a row of _PHONES, by precedence."""
    if not row["enabled"]:
        return "disabled"
    if row["talking"]:
        return "talking"
    if row["ringing"]:
        return "ringing"
    if row["presence"] == "paused":
        return "paused"
    if row["presence"] == "signed_out":
        return "signed-out"
    if row["active_calls"] >= row["capacity"]:
        return "busy"
    ended = row["last_call_ended_at"]
    if row["wrap_up_s"] and ended is not None and ended + timedelta(
            seconds=row["wrap_up_s"]) > now:
        return "wrap-up"
    return "idle"


async def read_view(db: Any, today: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The live view as JSON-ready data, read through ``db`` (already scoped).

    ``{"at": UTC ISO, "calls": [...], "phones": [...], "today": [...]}``; pass
    ``today`` to reuse figures read a moment ago.
    """
    now = datetime.now(UTC)
    calls = await db.fetch(_CALLS)
    phones = await db.fetch(_PHONES)
    if today is None:
        today = await read_today(db)
    return {
        "at": iso_utc(now),
        "calls": [{
            "id": str(c["id"]), "hotline": c["hotline"], "hotline_name": shown(c["hotline_name"]),
            "caller": shown(c["caller"]), "state": c["state"],
            "started_at": iso_utc(c["started_at"]),
            "answered_at": iso_utc(c["answered_at"]) if c["answered_at"] else None,
            "answered_by": shown(c["answered_label"] or c["answered_dial_string"] or ""),
            "ringing": [shown(label) for label in c["ringing_labels"]],
        } for c in calls],
        "phones": [{
            "id": p["id"], "label": shown(p["label"]), "dial_string": shown(p["dial_string"]),
            "state": phone_state(p, now), "hotlines": list(p["hotlines"]),
            "active_calls": p["active_calls"], "capacity": p["capacity"],
            "pause_reason": shown(p["presence_reason"]) if p["presence_reason"] else None,
        } for p in phones],
        "today": today,
    }


async def read_today(db: Any) -> list[dict[str, Any]]:
    """Today's calls (from midnight in each hotline's zone), answered and missed, per
    visible hotline with calls."""
    rows = await db.fetch(_TODAY, list(OFFERED_OUTCOMES))
    return [{"hotline": r["number"], "name": shown(r["name"]), "calls": r["calls"],
             "answered": r["answered"], "missed": r["missed"]} for r in rows]


@dataclass(eq=False)
class Subscriber:
    who: auth.Principal
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(maxsize=1))

    def offer(self, view: str) -> None:
        """Keep only the newest view."""
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(view)


class LiveHub:
    """Reads the live view when calls change and pushes it to the subscribers."""

    def __init__(self, pool: Any, database_url: str, burst_s: float = 0.02,
                 refresh_s: float = 5.0, today_every_s: float = 1.0) -> None:
        self.pool = pool
        self.database_url = database_url
        self.burst_s = burst_s
        self.refresh_s = refresh_s
        self.today_every_s = today_every_s
        self.subscribers: set[Subscriber] = set()
        self._changed = asyncio.Event()
        self._last: dict[int, str] = {}          # token id -> last view sent
        self._today: dict[int, tuple[float, list[dict[str, Any]]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._listen()), loop.create_task(self._push())]

    async def stop(self) -> None:
        """Stop listening and pushing. A cancellation can be lost inside
        ``asyncio.wait_for`` on Python 3.11 (when what it waits for completes
        at the same moment; CPython gh-86296), so the tasks also look at
        ``_stopping``, and are asked again, a bounded number of times."""
        self._stopping = True
        pending = set(self._tasks)
        for _ in range(50):
            if not pending:
                return
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.2)
        log.warning("live view tasks did not stop", tasks=len(pending))

    async def subscribe(self, who: auth.Principal) -> Subscriber:
        """A new subscriber, given the current view at once."""
        subscriber = Subscriber(who)
        subscriber.offer((await self.view_for(who, fresh_today=True))[0])
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    async def view_for(self, who: auth.Principal, fresh_today: bool = False) -> tuple[str, str]:
        """The view as JSON text, and the same without its time (to tell a change)."""
        cached = self._today.get(who.token_id)
        today = None
        if cached is not None and not fresh_today and time.monotonic() - cached[0] < (
                self.today_every_s):
            today = cached[1]
        async with auth.scoped(self.pool, who) as db:
            view = await read_view(db, today)
        if today is None:
            self._today[who.token_id] = (time.monotonic(), view["today"])
        text = json.dumps(view, ensure_ascii=False)
        return text, text[text.index(",") + 1:]  # "at" is the first key

    async def _listen(self) -> None:
        """LISTEN on its own connection; reconnect with backoff when it drops."""
        backoff = 0.2
        while not self._stopping:
            connection = None
            try:
                connection = await router_db.connect(self.database_url)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _, lost=lost: lost.set())
                for channel in CHANNELS:
                    await connection.add_listener(channel, self._notified)
                backoff = 0.2
                self._changed.set()  # catch up with what happened while away
                while not lost.is_set() and not self._stopping:
                    try:
                        await asyncio.wait_for(lost.wait(), 10)
                    except TimeoutError:
                        await connection.fetchval("SELECT 1", timeout=2)  # keepalive
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("live listener lost the database", error=str(exc))
            finally:
                if connection is not None and not connection.is_closed():
                    connection.terminate()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    def _notified(self, *_: Any) -> None:
        self._changed.set()

    async def _push(self) -> None:
        while not self._stopping:
            try:
                await asyncio.wait_for(self._changed.wait(), self.refresh_s)
                await asyncio.sleep(self.burst_s)  # a call's writes come in bursts
            except TimeoutError:
                pass
            self._changed.clear()
            if not self.subscribers:
                continue
            by_token: dict[int, list[Subscriber]] = {}
            for subscriber in list(self.subscribers):
                by_token.setdefault(subscriber.who.token_id, []).append(subscriber)
            for token_id, group in by_token.items():
                try:
                    view, unchanged_key = await self.view_for(group[0].who)
                except (OSError, asyncpg.PostgresError) as exc:
                    log.warning("live view not read", error=str(exc))
                    continue
                if unchanged_key == self._last.get(token_id):
                    continue
                self._last[token_id] = unchanged_key
                for subscriber in group:
                    subscriber.offer(view)

"""Sends the outbox: claim a due row, send it, mark it — one transaction each.

A worker takes one row with ``FOR UPDATE SKIP LOCKED`` and keeps the row lock
while it sends: another dispatcher (another router, a ``notifications
dispatch`` process) skips the row, so two never send it at once; when the
worker's process dies mid-send, its transaction rolls back and the row is due
again. So a notification is sent once, except when a process dies after the
receiver has it and before the commit: then it is sent again with the same
``X-Hotline-Delivery`` id, by which a receiver tells a repeat.

A failed try is retried after ``backoff_s * 2**(tries-1)`` (capped at
``backoff_max_s``); after ``max_attempts`` tries, or at once when the sender
says no retry can help (senders.Undeliverable), the row is ``dead``: listed by
``hotline-router notifications list --dead``, sent again by ``notifications
retry``. A best-effort row (call.ringing) not sent by its ``expires_at`` is
``expired`` instead of sent late.

The call path never waits on any of this: the rows are written by triggers in
the record's own transaction, and the sending runs in its own tasks on its own
connections, with a time limit per try and at most ``workers`` tries at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiohttp
import structlog

from router import db as router_db
from router import metrics
from router.notify import payload
from router.notify.senders import (
    Delivery,
    SendContext,
    Sender,
    SendError,
    Target,
    Undeliverable,
    installed,
)

log = structlog.get_logger("router.notify")

CHANNEL = "hotline_router_notifications"  # pg_notify'd by the outbox triggers at commit

Result = Literal["sent", "failed", "dead", "expired"]


@dataclass(frozen=True)
class DispatchSettings:
    workers: int = 4              # tries in flight at once (connections held while sending)
    timeout_s: float = 5.0        # one try's limit (notify_timeout_s)
    max_attempts: int = 8         # tries before a row is dead
    backoff_s: float = 2.0        # wait before the first retry; doubles each try
    backoff_max_s: float = 600.0  # longest wait between tries
    poll_s: float = 1.0           # look for due rows at least this often (retries fall due)
    keep_days: float = 30.0       # sent and expired rows are deleted after this many days
    purge_every_s: float = 3600.0


def backoff_s(attempts: int, settings: DispatchSettings) -> float:
    """Seconds to wait after the ``attempts``-th failed try (1, 2, …)."""
    return float(min(settings.backoff_max_s, settings.backoff_s * 2 ** (attempts - 1)))


_CLAIM = """
SELECT o.id, o.event, o.hotline_id, o.call_id, o.leg_id, o.caller, o.event_at, o.expires_at,
       o.attempts, t.id AS target_id, t.name, t.sender, t.address, t.secret
FROM notification_outbox o JOIN notify_targets t ON t.id = o.target_id
WHERE o.state = 'pending' AND o.due_at <= $1 AND t.enabled
ORDER BY o.due_at, o.id
LIMIT 1
FOR UPDATE OF o SKIP LOCKED
"""

_SENT = """UPDATE notification_outbox SET state = 'sent', sent_at = $2, attempts = attempts + 1,
           last_error = NULL WHERE id = $1"""
_RETRY = """UPDATE notification_outbox SET attempts = attempts + 1, last_error = $2, due_at = $3
            WHERE id = $1"""
_DEAD = """UPDATE notification_outbox SET state = 'dead', attempts = attempts + 1, last_error = $2
           WHERE id = $1"""
_EXPIRED = "UPDATE notification_outbox SET state = 'expired' WHERE id = $1"
# Folded rows go with the row they were folded into (ON DELETE CASCADE); dead
# ones stay until an admin retries them.
_PURGE = """DELETE FROM notification_outbox
            WHERE state IN ('sent', 'expired') AND created_at < $1"""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    """Sends due outbox rows through ``pool``.

    ``clock`` gives the time that decides what is due and when a retry falls due
    (UTC; injectable for tests); ``senders`` defaults to the installed plug-ins.
    """

    def __init__(self, pool: Any, settings: DispatchSettings | None = None,
                 senders: dict[str, Sender] | None = None,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self.pool = pool
        self.settings = settings or DispatchSettings()
        self.senders = installed() if senders is None else senders
        self.clock = clock
        self.wake = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Dispatcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=max(1, self.settings.workers)))
        return self._http

    async def send_one(self) -> Result | None:
        """Claim one due row, send it, mark it; what became of it, or None when
        nothing is due. Raises only for a database fault (nothing is marked)."""
        now = self.clock()
        async with self.pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(_CLAIM, now)
            if row is None:
                return None
            event = row["event"]
            if row["expires_at"] is not None and row["expires_at"] <= now:
                await connection.execute(_EXPIRED, row["id"])
                metrics.NOTIFICATIONS.labels(event=event, result="expired").inc()
                log.info("notification expired", id=row["id"], event_name=event)
                return "expired"
            attempt = row["attempts"] + 1
            try:
                await self._send(connection, row, attempt, now)
            except Exception as exc:
                error = str(exc) or type(exc).__name__
                permanent = isinstance(exc, Undeliverable)
                if permanent or attempt >= self.settings.max_attempts:
                    await connection.execute(_DEAD, row["id"], error[:500])
                    metrics.NOTIFICATIONS.labels(event=event, result="dead").inc()
                    log.warning("notification dead", id=row["id"], event_name=event,
                                target=row["name"], attempts=attempt, error=error)
                    return "dead"
                due = now + timedelta(seconds=backoff_s(attempt, self.settings))
                await connection.execute(_RETRY, row["id"], error[:500], due)
                metrics.NOTIFICATIONS.labels(event=event, result="failed").inc()
                log.info("notification failed, will retry", id=row["id"], event_name=event,
                         target=row["name"], attempts=attempt, due_at=due.isoformat(),
                         error=error)
                return "failed"
            sent_at = self.clock()
            await connection.execute(_SENT, row["id"], sent_at)
            metrics.NOTIFICATIONS.labels(event=event, result="sent").inc()
            metrics.NOTIFICATION_DELAY_SECONDS.labels(event=event).observe(
                max(0.0, (sent_at - row["event_at"]).total_seconds()))
            return "sent"

    async def _send(self, connection: Any, row: Any, attempt: int, now: datetime) -> None:
        sender = self.senders.get(row["sender"])
        if sender is None:
            raise SendError(f"no sender named {row['sender']} is installed "
                            "(hotline-router notifications senders)")
        doc, text = await payload.build(connection, row)
        delivery = Delivery(
            id=row["id"], event=row["event"], payload=doc, body=payload.encode(doc), text=text,
            attempt=attempt,
            target=Target(id=row["target_id"], name=row["name"], sender=row["sender"],
                          address=row["address"], secret=row["secret"]))
        context = SendContext(http=self.http(), timeout_s=self.settings.timeout_s, now=now)
        # The sender's own limit, and ours over it: a plug-in that hangs still ends.
        try:
            await asyncio.wait_for(sender.send(delivery, context), self.settings.timeout_s + 1)
        except TimeoutError:
            raise SendError(f"sender {sender.name} took over {self.settings.timeout_s:g} s"
                            ) from None

    async def purge(self) -> int:
        """Delete sent and expired rows older than ``keep_days``; how many (folded ones
        go with theirs and are not counted)."""
        cutoff = self.clock() - timedelta(days=self.settings.keep_days)
        done = await self.pool.execute(_PURGE, cutoff)
        return int(done.split()[-1])

    async def drain(self, limit: int = 10_000) -> list[Result]:
        """Send until nothing is due (at most ``limit`` rows); what became of each."""
        results: list[Result] = []
        while len(results) < limit:
            result = await self.send_one()
            if result is None:
                break
            results.append(result)
        return results

    async def _worker(self, index: int) -> None:
        pause = self.settings.poll_s
        next_purge = 0.0
        while True:
            self.wake.clear()
            try:
                if index == 0 and time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + self.settings.purge_every_s
                    purged = await self.purge()
                    if purged:
                        log.info("old notifications deleted", rows=purged,
                                 keep_days=self.settings.keep_days)
                while await self.send_one() is not None:
                    pass
                pause = self.settings.poll_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: wait longer, never spin
                log.warning("notification dispatch failed", worker=index, error=str(exc))
                pause = min(30.0, pause * 2)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), pause)

    async def _listen(self, database_url: str) -> None:
        """Wake the workers when a trigger queues a row (else they poll)."""
        pause = 1.0
        while True:
            connection = None
            try:
                lost = asyncio.Event()
                connection = await router_db.connect(database_url)
                connection.add_termination_listener(lambda *_, gone=lost: gone.set())
                await connection.add_listener(CHANNEL, lambda *_: self.wake.set())
                pause = 1.0
                self.wake.set()  # rows queued while we were not listening
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("notification listener lost", error=str(exc))
            finally:
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(connection.close(), 2)
            await asyncio.sleep(pause)
            pause = min(30.0, pause * 2)

    async def run(self, database_url: str) -> None:
        """Dispatch until cancelled: ``workers`` workers and one listener."""
        log.info("notification dispatch started", workers=self.settings.workers,
                 senders=sorted(self.senders), timeout_s=self.settings.timeout_s)
        tasks = [asyncio.ensure_future(self._listen(database_url))]
        tasks += [asyncio.ensure_future(self._worker(i)) for i in range(self.settings.workers)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.close()


async def run_forever(database_url: str, settings: DispatchSettings) -> None:
    """A dispatcher on its own pool (never the call path's), until cancelled.
    Waits for the database when it is away."""
    pause = 1.0
    while True:
        try:
            pool = await router_db.connect_pool(database_url, min_size=1,
                                                max_size=settings.workers + 1)
            break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("notification dispatch waits for the database", error=str(exc))
            await asyncio.sleep(pause)
            pause = min(30.0, pause * 2)
    try:
        await Dispatcher(pool, settings).run(database_url)
    finally:
        await pool.close()

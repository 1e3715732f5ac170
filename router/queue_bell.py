"""The queue's bell: LISTEN for freed phones, wake this router's waiting callers.

The database NOTIFYs ``hotline_router_queue`` with a hotline's id when one of
its phones frees or one of its waiters leaves or gives back its turn
(migrations/0019_queue.sql). This watcher holds one dedicated connection
that LISTENs and rings the bells of this router's callers waiting for that
hotline (router/call/registry.py), so the head of the queue rings a freed
phone at once. When the connection is lost it reconnects with backoff and
rings every bell: what was notified meanwhile is gone, and each waiter looks
for its turn again (a waiter also looks every QUEUE_FALLBACK_S on its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from functools import partial
from typing import Any

import structlog

from router import db as router_db
from router import metrics
from router.call.registry import CallRegistry
from router.quiet import QuietRetries
from router.waiting import CHANNEL

log = structlog.get_logger("router.queue")

# A silent network loss shows no termination: ask the server now and then.
KEEPALIVE_S = 10.0
KEEPALIVE_TIMEOUT_S = 2.0


class QueueBell:
    def __init__(self, database_url: str, registry: CallRegistry,
                 backoff_initial_s: float = 0.2, backoff_max_s: float = 10.0) -> None:
        self._database_url = database_url
        self._registry = registry
        self._backoff_initial = backoff_initial_s
        self._backoff_max = backoff_max_s
        self.listening = False

    async def run(self) -> None:
        """Listen and wake waiters; reconnect when the connection drops. Runs until cancelled."""
        delay = self._backoff_initial
        quiet = QuietRetries(log, "queue listener")
        while True:
            connection = None
            try:
                connection = await router_db.connect(self._database_url)
                lost = asyncio.Event()
                connection.add_termination_listener(partial(_set_event, lost))
                await connection.add_listener(CHANNEL, self._notified)
                self.listening = True
                self._registry.wake_queue()  # whatever moved while nobody listened
                delay = self._backoff_initial
                quiet.succeeded()
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), KEEPALIVE_S)
                    if not lost.is_set():
                        await asyncio.wait_for(connection.fetchval("SELECT 1"),
                                               KEEPALIVE_TIMEOUT_S)
                log.warning("queue listener connection lost")
            except Exception as exc:  # any failure: reconnect, never give up
                metrics.DATABASE_ERRORS.labels(operation="queue_listen").inc()
                quiet.failed(exc)
            finally:
                self.listening = False
                if connection is not None and not connection.is_closed():
                    connection.terminate()
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, self._backoff_max)

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            hotline_id = int(payload)
        except ValueError:
            log.warning("queue notification without a hotline id", payload=payload)
            return
        self._registry.wake_queue(hotline_id)


def _set_event(event: asyncio.Event, *_: Any) -> None:
    event.set()


"""Live configuration: LISTEN for changes, keep an in-memory snapshot fresh.

A trigger on every configuration table (migrations/0004_ops.sql) sends
NOTIFY on ``hotline_router_config`` at each change, from the CLI or psql.
The watcher holds one dedicated connection that LISTENs; a burst of changes
is gathered for :data:`DEBOUNCE_S` and reloaded once. If the connection is
lost, it reconnects with backoff and reloads in full, because notifications
sent while it was away are gone.

While a reload is due (a change was announced, or the listener is down) the
snapshot is not offered to calls: they read the tables directly until it is
fresh again, so a call never uses a configuration older than the last
announced change.
"""

from __future__ import annotations

import asyncio
import random
import time
from functools import partial
from typing import Any

import structlog

from router import db as router_db
from router import metrics
from router.directory import Snapshot, load_snapshot
from router.quiet import QuietRetries

log = structlog.get_logger("router.config")

CHANNEL = "hotline_router_config"
# Long enough to gather one admin's multi-statement edit, short enough that a
# change reaches calls well within a second.
DEBOUNCE_S = 0.05
# A silent network loss shows no termination: ask the server now and then.
KEEPALIVE_S = 10.0
# A network that drops packets silently would otherwise hold the probe for the
# connection's command timeout (30 s) while the snapshot counts as fresh.
KEEPALIVE_TIMEOUT_S = 2.0


class ConfigWatcher:
    def __init__(self, database_url: str, backoff_initial_s: float = 0.2,
                 backoff_max_s: float = 10.0) -> None:
        self._database_url = database_url
        self._backoff_initial = backoff_initial_s
        self._backoff_max = backoff_max_s
        self._changed = asyncio.Event()
        self.snapshot: Snapshot | None = None
        self.loaded = asyncio.Event()  # set once the first snapshot is in
        self.reloads = 0
        self.backend_pid: int | None = None  # the listening connection's, for operators
        self._listening = False

    @property
    def fresh_snapshot(self) -> Snapshot | None:
        """The snapshot, unless a change may not be in it yet."""
        if self._listening and not self._changed.is_set():
            return self.snapshot
        return None

    async def run(self) -> None:
        """Listen, reload on change, reconnect when the connection drops. Runs until cancelled."""
        delay = self._backoff_initial
        quiet = QuietRetries(log, "configuration listener")
        while True:
            connection = None
            try:
                connection = await router_db.connect(self._database_url)
                self.backend_pid = connection.get_server_pid()
                lost = asyncio.Event()
                connection.add_termination_listener(partial(_set_event, lost))
                await connection.add_listener(CHANNEL, self._notified)
                await self._reload(connection, "listening")
                self._listening = True
                delay = self._backoff_initial
                quiet.succeeded()
                await self._serve(connection, lost)
                log.warning("configuration listener connection lost")
            except Exception as exc:  # any failure: reconnect and reload, never give up
                metrics.DATABASE_ERRORS.labels(operation="config_listen").inc()
                quiet.failed(exc)  # an outage once, not at every reconnect
            finally:
                self._listening = False
                if connection is not None and not connection.is_closed():
                    connection.terminate()
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, self._backoff_max)

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        log.debug("configuration changed", table=payload)
        self._changed.set()

    async def _serve(self, connection: Any, lost: asyncio.Event) -> None:
        """Reload after each burst of notifications until the connection is lost."""
        while not lost.is_set():
            changed = asyncio.ensure_future(self._changed.wait())
            gone = asyncio.ensure_future(lost.wait())
            try:
                done, _ = await asyncio.wait({changed, gone}, timeout=KEEPALIVE_S,
                                             return_when=asyncio.FIRST_COMPLETED)
            finally:
                changed.cancel()
                gone.cancel()
            if lost.is_set():
                return
            if not done:  # quiet: is the connection (and so LISTEN) still there?
                await asyncio.wait_for(connection.fetchval("SELECT 1"), KEEPALIVE_TIMEOUT_S)
                continue
            await asyncio.sleep(DEBOUNCE_S)
            self._changed.clear()
            try:
                await self._reload(connection, "notified")
            except BaseException:
                self._changed.set()  # still due
                raise

    async def _reload(self, connection: Any, reason: str) -> None:
        started = time.perf_counter()
        snapshot = await load_snapshot(connection)
        self.snapshot = snapshot
        self.reloads += 1
        self.loaded.set()
        took = time.perf_counter() - started
        metrics.CONFIG_RELOADS.inc()
        metrics.CONFIG_HOTLINES.set(len(snapshot.hotlines))
        log.info("configuration loaded", reason=reason, hotlines=len(snapshot.hotlines),
                 phones=snapshot.phone_count, took_ms=round(took * 1000, 1))


def _set_event(event: asyncio.Event, *_: Any) -> None:
    event.set()

"""The daemon: one ARI connection, one database pool, a Call per inbound call.

ARI intake here only maps each event to the call that owns its channel; what
the call does about it is decided in router/call.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

import structlog

from router import claims, db, http, metrics, records
from router.ari import AriClient, AriError, EventStream
from router.ari import events as ev
from router.billing import loop as rating
from router.call import Call
from router.settings import Settings

log = structlog.get_logger("router.service")

_DIALLED = re.compile(r"^[0-9]{3,20}$")


class Router:
    def __init__(self, settings: Settings, pool: Any, ari: AriClient) -> None:
        self.settings = settings
        self.db = pool
        self.ari = ari
        self.app = settings.ari_app
        self.router_id = settings.effective_router_id
        self.calls: dict[str, Call] = {}  # channel id -> the call that owns it
        self.tasks: set[asyncio.Task[None]] = set()
        # While draining, the router takes no new calls; live ones finish.
        self.draining = False
        self.stream = EventStream(settings.ari_url, settings.ari_user, settings.ari_password,
                                  [self.app], self.on_event)

    # --- Services, as seen by a Call ----------------------------------------

    def register(self, channel_id: str, call: Call) -> None:
        self.calls[channel_id] = call

    def unregister(self, channel_id: str) -> None:
        self.calls.pop(channel_id, None)

    # --- intake ---------------------------------------------------------------

    def on_event(self, event: ev.AnyEvent | ev.OtherEvent) -> None:
        """Hand an event to the call that owns its channel (never blocks)."""
        if isinstance(event, ev.StasisStart) and event.channel.id not in self.calls:
            self._start_call(event)
            return
        if isinstance(event, ev.CallBroadcast):
            self._consider_broadcast(event)
            return
        if isinstance(event, ev.ApplicationReplaced):
            log.error("another connection took over this ARI application", app=self.app)
            return
        channel_id = _channel_of(event)
        call = self.calls.get(channel_id) if channel_id else None
        if call is not None:
            call.deliver(event)

    def _consider_broadcast(self, event: ev.CallBroadcast) -> None:
        """StasisBroadcast offers a call to every router: try to take it.

        The first claim wins; the call then arrives here as a StasisStart.
        """
        if self.draining:
            metrics.BROADCASTS.labels(result="declined").inc()
            return
        self._spawn(self._claim(event.channel.id), f"claim-{event.channel.id}")

    async def _claim(self, channel_id: str) -> None:
        try:
            won = await self.ari.claim(channel_id, self.app)
        except (TimeoutError, AriError, OSError) as exc:
            log.warning("broadcast claim failed", channel=channel_id, error=str(exc))
            metrics.BROADCASTS.labels(result="error").inc()
            return
        metrics.BROADCASTS.labels(result="won" if won else "lost").inc()

    def _spawn(self, coroutine: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _start_call(self, event: ev.StasisStart) -> None:
        channel = event.channel
        exten = channel.dialplan.exten if channel.dialplan else ""
        dialled = event.args[0] if event.args else exten
        if not _DIALLED.match(dialled):
            log.warning("dialled number is not a number", dialled=dialled[:40],
                        channel=channel.id)
            dialled = dialled[:20]
        call = Call(self, channel, dialled, started_at=event.at)
        self._spawn(call.run(), f"call-{call.id}")

    # --- lifecycle --------------------------------------------------------------

    async def recover(self) -> None:
        """Close what a previous run of this router left behind."""
        closed = await records.close_interrupted(self.db, self.router_id)
        released = await claims.release_all(self.db, self.router_id)
        if closed or released:
            log.warning("recovered from an earlier run", calls_closed=closed,
                        claims_released=released)

    async def readiness(self) -> dict[str, bool]:
        """Ready means: ARI events flow and the database answers."""
        try:
            database = await self.db.fetchval("SELECT true") is True
        except Exception:
            database = False
        return {"ari_connected": self.stream.connected.is_set(), "database": database}

    async def run(self) -> None:
        await self.recover()
        runner = await http.start(self.settings.http_listen, self.readiness)
        rater = asyncio.get_running_loop().create_task(
            rating.run(self.db, rating.RatingSettings.from_env()), name="rating")
        log.info("router started", router_id=self.router_id, app=self.app,
                 ari_url=self.settings.ari_url, http_listen=self.settings.http_listen)
        try:
            await self.stream.run()
        finally:
            rater.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rater
            await runner.cleanup()


def _channel_of(event: ev.AnyEvent | ev.OtherEvent) -> str | None:
    if isinstance(event, ev.Dial):
        return event.peer.id
    if isinstance(event, ev.PlaybackStarted | ev.PlaybackFinished):
        target = event.playback.target_uri
        return target.split(":", 1)[1] if target.startswith("channel:") else None
    channel = getattr(event, "channel", None)
    return channel.id if isinstance(channel, ev.Channel) else None


async def serve(settings: Settings) -> None:
    """Run the router until cancelled."""
    pool = await db.connect_pool(settings.database_url)
    ari = AriClient(settings.ari_url, settings.ari_user, settings.ari_password)
    router = Router(settings, pool, ari)
    try:
        await router.run()
    finally:
        for task in list(router.tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*router.tasks, return_exceptions=True)
        await ari.close()
        await pool.close()

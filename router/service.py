"""The daemon: one ARI connection, one database pool, a Call per inbound call.

ARI intake here only maps each event to the call that owns its channel (the
call registry); what the call does about it is decided in router/call/.

Shutdown (SIGTERM or SIGINT) drains: the router stops claiming broadcast
calls (other routers take them), hands calls that still reach it by plain
Stasis() back to the dialplan ([router-reoffer]), lets live calls finish for
up to ``drain_timeout_s``, then hangs up the rest through their own call
state machines so their records close normally, releases its claims and
exits. A second signal skips the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from router import (
    asterisk_lease,
    db,
    gauges,
    heartbeat,
    history,
    http,
    metrics,
    reconcile,
    records,
    region,
)
from router.ari import AriClient, AriError, EventStream
from router.ari import events as ev
from router.ari.websocket_rest import WebSocketRest
from router.billing import loop as rating
from router.call import CallRegistry, consultation, recording, start_call
from router.call.legs import PHONE_VARIABLE
from router.call.recording import asterisk_of
from router.endpoints import EndpointStates
from router.live_config import ConfigWatcher
from router.notify import dispatcher as notify_dispatcher
from router.presence import feature_call
from router.queue_bell import QueueBell
from router.quiet import QuietRetries
from router.recordings import purge as recording_purge
from router.settings import Settings
from router.spool import Spool
from router.store import Store

log = structlog.get_logger("router.service")

_DIALLED = re.compile(r"^[0-9]{3,20}$")
# Where a draining router sends calls back to (dialplan/extensions.conf).
REOFFER_CONTEXT = "router-reoffer"
# After the drain limit, how long hung-up calls get to close their records.
HANGUP_GRACE_S = 10.0


class Router:
    """The daemon; to its calls, the services they need (router/call/services.py)."""

    def __init__(self, settings: Settings, pool: Any, ari: AriClient) -> None:
        self.settings = settings
        self.db = pool
        self.ari = ari
        self.app = settings.ari_app
        self.router_id = settings.effective_router_id
        self.registry = CallRegistry()
        self.tasks: set[asyncio.Task[None]] = set()  # the router's own background work
        # While draining, the router takes no new calls; live ones finish.
        self.draining = False
        self._stop = asyncio.Event()   # first signal: drain
        self._hurry = asyncio.Event()  # second signal: end live calls now
        self.max_call_s = settings.max_call_s
        self.seat_guard_s = settings.seat_guard_s
        rest = WebSocketRest() if settings.ari_transport == "auto" else None
        ari.websocket = rest
        self.stream = EventStream(settings.ari_url, settings.ari_user, settings.ari_password,
                                  [self.app], self.on_event, self._connected, rest=rest)
        self.config = ConfigWatcher(settings.database_url)
        self.queue_bell = QueueBell(settings.database_url, self.registry)
        self.store = Store(pool, self.router_id, Spool(Path(settings.spool_dir), self.router_id),
                           snapshot=lambda: self.config.snapshot,
                           fresh_snapshot=lambda: self.config.fresh_snapshot,
                           timeout_s=settings.db_timeout_s,
                           lease_s=settings.router_lease_s)
        self.store.live_legs = self._live_legs
        # Registering phones Asterisk reports unreachable are not rung.
        self.endpoints = EndpointStates()
        self.store.offline_endpoints = lambda: self.endpoints.offline
        # The last heartbeat of this router's previous run: its calls were known
        # to be up until then.
        self._previous_seen: datetime | None = None
        self._previous_run_adopted = False
        self._adopting = asyncio.Lock()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def live_bridges(self) -> set[str]:
        """The bridges of this router's live calls (a call's bridge is named
        after it), and of their consultations."""
        calls = self.registry.owning_calls()
        return {str(call.id) for call in calls} | {
            call.consultation.bridge_id for call in calls if call.consultation is not None}

    def plan_now(self) -> datetime:
        """The time plans read schedules by: real, unless settings pin it (plan_clock)."""
        return self.settings.pinned_plan_time or datetime.now(UTC)

    # --- intake ---------------------------------------------------------------

    def on_event(self, event: ev.AnyEvent | ev.OtherEvent) -> None:
        """Hand an event to the call that owns its channel (never blocks)."""
        if isinstance(event, ev.StasisStart) and event.channel.id not in self.registry:
            self._start_call(event)
            return
        if isinstance(event, ev.CallBroadcast):
            self._consider_broadcast(event)
            return
        if isinstance(event, ev.EndpointStateChange):
            self.endpoints.note(event.endpoint.technology, event.endpoint.resource,
                                event.endpoint.state)
            return
        if isinstance(event, ev.ApplicationReplaced):
            log.error("another connection took over this ARI application", app=self.app)
            return
        channel_id = ev.channel_of(event)
        call = self.registry.find(channel_id) if channel_id else None
        if call is not None:
            call.deliver(event)

    def _consider_broadcast(self, event: ev.CallBroadcast) -> None:
        """StasisBroadcast offers a call to every router: try to take it.

        The first claim wins; the call then arrives here as a StasisStart.
        """
        dialplan = event.channel.dialplan
        if dialplan is not None and dialplan.context == consultation.CONTEXT:
            # A phone's consultation call: only the router of the call it talks in takes it.
            self._spawn(self._claim_consultation(event.channel),
                        f"claim-{event.channel.id}")
            return
        if not self.takes_calls:  # a peer, or the dialplan's fallback, takes it
            metrics.BROADCASTS.labels(result="declined").inc()
            return
        self._spawn(self._claim(event.channel.id), f"claim-{event.channel.id}")

    async def _claim_consultation(self, channel: ev.Channel) -> None:
        try:
            ours = await consultation.wanted(self.ari, self.registry, channel)
        except (TimeoutError, AriError, OSError) as exc:
            log.warning("consultation not looked at", channel=channel.id, error=str(exc))
            return
        if not ours:  # another router's call, or none: [phone-consult] refuses it
            log.info("consultation not claimed", channel=channel.id,
                     reason="the phone talks with no hotline caller of this router")
            metrics.BROADCASTS.labels(result="declined").inc()
            return
        await self._claim(channel.id)

    async def _claim(self, channel_id: str) -> None:
        try:
            won = await self.ari.claim(channel_id, self.app)
        except (TimeoutError, AriError, OSError) as exc:
            log.warning("broadcast claim failed", channel=channel_id, error=str(exc))
            metrics.BROADCASTS.labels(result="error").inc()
            return
        metrics.BROADCASTS.labels(result="won" if won else "lost").inc()

    def _spawn(self, coroutine: Any, name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def _start_call(self, event: ev.StasisStart) -> None:
        channel = event.channel
        if reconcile.is_router_id(channel.id):
            # One of our phone legs, late, after its call ended: not a caller.
            log.warning("hanging up a phone leg whose call is over", channel=channel.id)
            self._spawn(self._hang_up_leg(channel.id), f"hangup-{channel.id}")
            return
        exten = channel.dialplan.exten if channel.dialplan else ""
        dialled = event.args[0] if event.args else exten
        if consultation.is_consultation(event):  # the talking phone dialled a colleague
            self._spawn(consultation.offer(self.ari, self.registry, channel,
                                           consultation.destination_of(event), event.at),
                        f"consult-{channel.id}")
            return
        if dialled.startswith("*"):  # a feature code dialled on a bound phone
            self._spawn(feature_call(self.ari, self.db, self.settings, channel.id, channel.name,
                                     dialled), f"feature-{channel.id}")
            return
        if not _DIALLED.match(dialled):
            log.warning("dialled number is not a number", dialled=dialled[:40],
                        channel=channel.id)
            dialled = dialled[:20]
        if not self.takes_calls:
            if self.store.fenced:
                log.warning("call declined: lease running out without the database",
                            channel=channel.id)
            elif not self.draining:
                log.warning("call declined: it could not be recorded", channel=channel.id)
            self._spawn(self._hand_back(channel.id, dialled), f"hand-back-{channel.id}")
            return
        start_call(self, channel, dialled, event.at)

    async def _hang_up_leg(self, channel_id: str) -> None:
        try:
            await self.ari.hangup(channel_id, "normal")
        except (TimeoutError, AriError, OSError) as exc:
            log.warning("could not hang up a phone leg", channel=channel_id, error=str(exc))

    async def _hand_back(self, channel_id: str, dialled: str) -> None:
        """A call reached us by plain Stasis() while draining: let other routers take it."""
        try:
            await self.ari.continue_in_dialplan(channel_id, REOFFER_CONTEXT, dialled)
        except (TimeoutError, AriError, OSError) as exc:
            log.warning("hand back failed", channel=channel_id, error=str(exc))
            return
        metrics.CALLS_HANDED_BACK.inc()
        log.info("call handed back to the dialplan", channel=channel_id, dialled=dialled)

    # --- lifecycle --------------------------------------------------------------

    async def _connected(self) -> None:
        """Each time the event websocket (re)connects: catch up with Asterisk."""
        try:
            await self.ari.allow_events(self.app, ev.ALLOWED_TYPES)
        except AriError as exc:  # an older Asterisk: all events come, the extra are ignored
            log.warning("could not filter ARI events", error=str(exc))
        if self.ari.websocket is not None:
            # After the filter: what the probe proves is what requests will get.
            await self.ari.websocket.probe()
        try:
            await self.endpoints.follow(self.ari, self.app, self._bound_dial_strings(),
                                        afresh=True)
        except AriError as exc:  # endpoints then count as reachable; a reconnect retries
            log.warning("could not follow endpoint states", error=str(exc))
        try:
            if not self._previous_run_adopted:
                await self._adopt_previous_run()
            else:
                await reconcile.after_reconnect(self, self.stream.lost_at or datetime.now(UTC))
            await reconcile.sweep_bridges(self.ari, self.live_bridges())
        except AriError as exc:  # the next reconnect or heartbeat tries again
            log.warning("reconciliation failed", error=str(exc))
        except Exception:
            log.exception("reconciliation failed")
            metrics.DATABASE_ERRORS.labels(operation="reconcile").inc()

    async def _adopt_previous_run(self) -> None:
        """Take back the calls this router's previous run left in Asterisk, and
        free the claims no live call holds. Until it has worked once, every
        reconnect and every heartbeat tries again (calls already adopted are
        skipped)."""
        async with self._adopting:
            if self._previous_run_adopted:
                return
            lost_at = self._previous_seen or datetime.now(UTC)
            await reconcile.adopt(self, self.router_id, self.app, lost_at)
            released = await self.store.release_stale(self.max_call_s + 600)
            if released:
                log.warning("released claims no live call holds", claims=released)
            self._previous_run_adopted = True

    def _bound_dial_strings(self) -> set[str]:
        """Every enabled bound phone's dial string, as configured now."""
        snapshot = self.config.snapshot
        if snapshot is None:
            return set()
        return {p.dial_string for h in snapshot.hotlines.values() for p in h.phones}

    async def _follow_endpoints(self) -> None:
        """Keep following the endpoints of the bound phones as the configuration
        changes (router/endpoints.py); the first follow is made on connecting."""
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            bound = self._bound_dial_strings()
            if self.stream.connected.is_set() and self.endpoints.wants(bound):
                try:
                    await self.endpoints.follow(self.ari, self.app, bound)
                except (TimeoutError, AriError, OSError) as exc:
                    log.warning("could not follow endpoint states", error=str(exc))

    async def _heartbeats(self) -> None:
        """Say we are alive; learn who else is; adopt the calls of routers that died."""
        beats = 0
        quiet = QuietRetries(log, "heartbeat")
        while True:
            if self.stream.connected.is_set():  # the lease in Asterisk, database or not
                try:
                    await asyncio.wait_for(
                        asterisk_lease.beat(self.ari, self.app, time.time(),
                                            degraded=not self.store.healthy),
                        self.settings.heartbeat_s)
                except (TimeoutError, AriError, OSError) as exc:
                    log.warning("lease in Asterisk not renewed", error=str(exc))
            try:
                await asyncio.wait_for(heartbeat.beat(self.db, self.router_id, self.app,
                                                      self.settings.ari_url),
                                       self.settings.db_timeout_s)
                self.store.renew_lease()
                self.store.routers_alive = await asyncio.wait_for(
                    heartbeat.alive(self.db, self.settings.router_lease_s),
                    self.settings.db_timeout_s)
                if self.stream.connected.is_set():
                    await self._note_degraded_peers()
                if self.stream.connected.is_set() and not self.draining:
                    if not self._previous_run_adopted:  # it failed on connecting
                        await self._adopt_previous_run()
                    for dead in await heartbeat.dead_on(self.db, self.settings.ari_url,
                                                        self.settings.router_lease_s,
                                                        self.router_id):
                        if await asterisk_lease.still_alive(
                                self.ari, dead["app"], self.settings.router_lease_s,
                                time.time()):
                            # Only its database is gone: it still drives its calls.
                            log.warning("peer missed its lease but still beats in Asterisk: "
                                        "its calls stay its own", router=dead["router_id"])
                            continue
                        await reconcile.adopt(self, dead["router_id"], dead["app"],
                                              dead["last_seen_at"])
                beats += 1
                if beats % 60 == 0:  # about a minute: debris older than any call
                    await self.store.release_stale(self.max_call_s + 600, mine=False)
                    if self.stream.connected.is_set():
                        await reconcile.sweep_bridges(self.ari, self.live_bridges())
                quiet.succeeded()
            except Exception as exc:  # the store notices outages; keep beating
                quiet.failed(exc)
            await asyncio.sleep(self.settings.heartbeat_s)

    async def _live_legs(self) -> dict[str, int]:
        """Every phone leg Asterisk has now, any router's: channel id -> phone id."""
        legs = {}
        for channel in await self.ari.list_channels():
            phone = (channel.get("channelvars") or {}).get(PHONE_VARIABLE, "")
            if str(phone).isdigit():
                legs[str(channel["id"])] = int(phone)
        return legs

    async def _note_degraded_peers(self) -> None:
        """Which peers on this Asterisk say they cannot reach the database. A peer
        cut off for longer than its lease is no longer alive in the database but
        still drives its calls (its lease in Asterisk runs on): it counts until it
        stops beating there. Its calls last at most max_call_s."""
        degraded = set()
        for peer in await heartbeat.peers_on(self.db, self.settings.ari_url,
                                             self.settings.max_call_s, self.router_id):
            if await asterisk_lease.degraded(self.ari, peer["app"],
                                             self.settings.router_lease_s, time.time()):
                degraded.add(peer["router_id"])
        if degraded != self.store.peers_degraded:
            log.warning("peers without the database (while any: this router rings only "
                        "its share of the phones)", peers=sorted(degraded))
        self.store.peers_degraded = degraded

    async def readiness(self) -> dict[str, bool]:
        """Ready means: ARI events flow, the database answers, calls can be
        recorded (the database or the spool takes records), and we take calls."""
        try:
            database = await self.db.fetchval("SELECT true") is True
        except Exception:
            database = False
        return {"ari_connected": self.stream.connected.is_set(), "database": database,
                "recording": self.store.can_record, "accepting_calls": self.takes_calls}

    @property
    def takes_calls(self) -> bool:
        """Whether a new call is ours to take: not while draining, nor while it
        could not be recorded (neither the database nor the spool takes records),
        nor while fenced (most of its lease run out without the database)."""
        return not self.draining and self.store.can_record and not self.store.fenced

    def request_stop(self) -> None:
        """First call: drain. Second: end live calls now."""
        if self._stop.is_set():
            log.warning("second stop signal: ending live calls now")
            self._hurry.set()
        self._stop.set()

    async def run(self) -> None:
        problems = await records.check_vocabulary(self.db)
        if problems:
            raise RuntimeError("; ".join(problems))
        self._previous_seen = await heartbeat.last_seen(self.db, self.router_id)
        if self.store.spool.pending:  # a previous run died while the database was away
            await self.store.watch_once()
        await heartbeat.beat(self.db, self.router_id, self.app, self.settings.ari_url)
        runner = await http.start(self.settings.http_listen, self.readiness)
        background = [
            self._spawn(self._heartbeats(), "heartbeats"),
            self._spawn(self._follow_endpoints(), "endpoint-states"),
            self._spawn(self.store.watch(), "database-watch"),
            self._spawn(self.config.run(), "config-watcher"),
            self._spawn(self.queue_bell.run(), "queue-bell"),
            self._spawn(gauges.refresh_forever(self.db, self.settings.metrics_refresh_s),
                        "gauges"),
            # This month's partition of the call history and the next ones (0025).
            self._spawn(history.run_forever(self.db), "history-months"),
            self._spawn(rating.run(self.db, rating.RatingSettings(
                delay_s=self.settings.rating_delay_s,
                interval_s=self.settings.rating_interval_s)), "rating")]
        if self.settings.recording_purge_interval_s:
            background.append(self._spawn(recording_purge.run_forever(
                self.db, self.ari, asterisk_of(self.ari),
                self.settings.recording_purge_interval_s), "recording-purge"))
        if self.settings.notify_dispatch == "daemon":  # its own pool, not the call path's
            sending = notify_dispatcher.DispatchSettings(timeout_s=self.settings.notify_timeout_s)
            background.append(self._spawn(notify_dispatcher.run_forever(
                self.settings.database_url, sending), "notifications"))
        # Calls need the configuration; without it they read the tables directly.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.config.loaded.wait(), timeout=5)
        # The caller-region data takes a moment to load: not on a call's time.
        cities = await asyncio.to_thread(region.warm_up)
        if self.settings.plan_clock:
            log.warning("plan clock pinned: schedules read this time, not the real one",
                        plan_clock=self.settings.plan_clock)
        stream = self._spawn(self.stream.run(), "ari-events")
        log.info("router started", router_id=self.router_id, app=self.app,
                 ari_url=self.settings.ari_url, http_listen=self.settings.http_listen,
                 region_cities=cities)
        try:
            stopping = asyncio.ensure_future(self._stop.wait())
            await asyncio.wait({stopping, stream}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if stream.done():
                stream.result()  # the event stream never ends by itself: raise its error
            await self.drain()
        finally:
            for task in (stream, *background):
                task.cancel()
            await asyncio.gather(stream, *background, return_exceptions=True)
            await self.close_out()
            await runner.cleanup()

    async def drain(self) -> None:
        """Take no new calls; let live ones finish, up to the drain limit."""
        self.draining = True
        metrics.DRAINING.set(1)
        limit = self.settings.drain_timeout_s
        log.info("draining", live_calls=len(self.registry), limit_s=limit)
        await _first_of(self.registry.all_ended(), self._hurry.wait(), timeout_s=limit)
        remaining = self.registry.live()
        if remaining:
            log.warning("drain limit reached: hanging up live calls", live_calls=len(remaining))
            for call in remaining:
                with contextlib.suppress(TimeoutError, AriError, OSError):
                    await self.ari.hangup(call.caller.id, "normal")
            await _first_of(self.registry.all_ended(), timeout_s=HANGUP_GRACE_S)
        log.info("drained", live_calls=len(self.registry))

    async def close_out(self) -> None:
        """Last words: stop calls that would not end, free claims, close records,
        and end this router's leases so that peers stop counting it at once.

        When the records cannot all be written (the database away, records
        waiting in the spool), the leases are left to run out: a peer that
        adopted these calls at once would close them before this router's
        next start replays what they really did.
        """
        await self.registry.cancel_all()
        await recording.settle(HANGUP_GRACE_S)  # rows of recordings still being collected
        try:
            released, closed = await self.store.close_out()
        except Exception as exc:  # the next start recovers the same way
            metrics.DATABASE_ERRORS.labels(operation="close_out").inc()
            log.error("could not release claims on exit; the lease runs out by itself",
                      error=str(exc) or type(exc).__name__)
            log.info("router stopped", claims_released=None, calls_closed=None)
            return
        with contextlib.suppress(TimeoutError, AriError, OSError):  # else it runs out
            await asyncio.wait_for(asterisk_lease.end(self.ari, self.app), 1.0)
        try:  # peers stop counting this router at once, not at the end of its lease
            await asyncio.wait_for(heartbeat.end_lease(self.db, self.router_id),
                                   self.settings.db_timeout_s)
        except Exception as exc:  # its lease runs out by itself
            log.warning("could not end the lease on exit", error=str(exc) or type(exc).__name__)
        log.info("router stopped", claims_released=released, calls_closed=closed)


async def _first_of(*awaitables: Any, timeout_s: float | None = None) -> None:
    """Wait until the first of ``awaitables`` is done, or ``timeout_s``."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(tasks, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def serve(settings: Settings) -> None:
    """Run the router until SIGTERM or SIGINT (then drain and return) or cancelled."""
    pool = await db.connect_pool(settings.database_url)
    ari = AriClient(settings.ari_url, settings.ari_user, settings.ari_password)
    router = Router(settings, pool, ari)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, router.request_stop)
    try:
        await router.run()
    finally:
        for task in list(router.tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*router.tasks, return_exceptions=True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await ari.close()
        await pool.close()

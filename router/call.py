"""The life of one inbound hotline call, decided in this one file.

A :class:`Call` is fed the ARI events of its own channels, in order, through
its queue; it reads them one at a time, so nothing else ever changes its state.
Its life: look the number up, pick idle phones with the hotline's strategy,
ring them wave by wave while the caller hears ringback, bridge the first phone
to answer, and end everything when either side hangs up. When no phone takes
the call, the hotline's overflow decides: a busy announcement, music while
waiting for a phone to free, or a forward number. Every phone claim is
released on every path, and the records say what happened, with Asterisk's
own timestamps.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Any, Protocol
from uuid import UUID, uuid4

import structlog

import strategies
from router import billing, claims, metrics, records, rotation
from router.ari import AriClient, AriError
from router.ari import events as ev
from router.directory import Hotline, find_hotline


class State(StrEnum):
    ROUTING = "routing"
    RINGING = "ringing"
    QUEUED = "queued"          # overflow: music while waiting for a phone to free
    BRIDGED = "bridged"
    ANNOUNCING = "announcing"
    ENDED = "ended"


class Outcome(StrEnum):
    ANSWERED = "answered"
    BUSY = "busy"              # no idle phone, or every phone rung was busy
    NO_ANSWER = "no-answer"    # phones rang, none answered in time
    FAILED = "failed"          # phones unreachable, or an error on our side
    ABANDONED = "abandoned"    # the caller hung up before a phone answered
    UNKNOWN_NUMBER = "unknown-number"
    NOT_IN_SERVICE = "not-in-service"
    REFUSED_NO_BALANCE = "refused-no-balance"  # prepaid balance used up (billing)


class LegResult(StrEnum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELLED = "cancelled"


# What the caller hears, and the hangup reason Asterisk signals, per outcome.
ANNOUNCEMENTS: dict[Outcome, tuple[str, str]] = {
    Outcome.UNKNOWN_NUMBER: ("ss-noservice", "unallocated"),
    Outcome.NOT_IN_SERVICE: ("ss-noservice", "unallocated"),
    Outcome.REFUSED_NO_BALANCE: ("ss-noservice", "rejected"),
    Outcome.BUSY: ("all-circuits-busy-now", "busy"),
    Outcome.NO_ANSWER: ("all-circuits-busy-now", "no_answer"),
    Outcome.FAILED: ("all-circuits-busy-now", "congestion"),
}

# Dial event statuses, and Q.850 causes when a leg ends with no Dial status.
_DIALSTATUS = {"BUSY": LegResult.BUSY, "NOANSWER": LegResult.NO_ANSWER,
               "CHANUNAVAIL": LegResult.FAILED, "CONGESTION": LegResult.FAILED,
               "CANCEL": LegResult.CANCELLED, "DONTCALL": LegResult.FAILED,
               "TORTURE": LegResult.FAILED, "INVALIDARGS": LegResult.FAILED}
_CAUSES = {17: LegResult.BUSY, 18: LegResult.NO_ANSWER, 19: LegResult.NO_ANSWER}

_CALLER_GONE = (ev.ChannelHangupRequest, ev.ChannelDestroyed, ev.StasisEnd)

# While queued, how often to look for a phone that has freed.
QUEUE_POLL_S = 1.0


# Events the call's own timers post into its queue. ``hunt`` ties the last two
# to one hunting pass, so a late timer of an earlier pass changes nothing.
@dataclass(frozen=True)
class RingTimeout:
    leg_id: UUID


@dataclass(frozen=True)
class WaveDue:
    hunt: int


@dataclass(frozen=True)
class HuntTimeout:
    hunt: int


CallEvent = ev.AnyEvent | ev.OtherEvent | RingTimeout | WaveDue | HuntTimeout


class CallerLeft(Exception):
    """The caller hung up; the call winds down."""


class Services(Protocol):
    """What a call needs from the router around it."""

    ari: AriClient
    db: Any
    app: str
    router_id: str

    def register(self, channel_id: str, call: Call) -> None: ...
    def unregister(self, channel_id: str) -> None: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Leg:
    """One ring attempt: a channel to one phone (or to the overflow number)."""

    id: UUID
    phone_id: int | None
    dial_string: str
    wave: int
    dial_started_at: datetime
    purpose: str = "phone"  # phone | overflow-forward
    claimed: bool = False
    in_stasis: bool = False
    answered_at: datetime | None = None
    result: LegResult | None = None
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    @property
    def channel_id(self) -> str:
        return str(self.id)

    @property
    def ringing(self) -> bool:
        return self.result is None and self.answered_at is None


class Call:
    def __init__(self, services: Services, caller: ev.Channel, dialled: str,
                 started_at: datetime, clock: Callable[[], datetime] = utcnow,
                 rng: random.Random | None = None) -> None:
        self.id = uuid4()
        self.services = services
        self.caller = caller
        self.dialled = dialled
        self.started_at = started_at
        self.clock = clock
        self.rng = rng or random.Random()
        self.state = State.ROUTING
        self.outcome: Outcome | None = None
        self.hotline: Hotline | None = None
        self.legs: dict[str, Leg] = {}
        self.winner: Leg | None = None
        self.bridge_id: str | None = None
        self.caller_gone = False
        self.phone_gone = False
        self.early_media = False  # progress sent: the caller hears our audio unanswered
        self.music = False
        self.ended_at: datetime | None = None
        self.finished_playbacks: set[str] = set()
        self._waves = 0
        self._hunt = 0
        self._wave_due = False
        self._hunt_over = False
        self._loop = asyncio.get_running_loop()
        self._created = self._loop.time()
        self._first_dial_observed = False
        self._queue: asyncio.Queue[CallEvent] = asyncio.Queue()
        # Record writes, in order, written by one task beside the call (see _record).
        self._records: asyncio.Queue[tuple[Callable[..., Awaitable[Any]], tuple[Any, ...]]
                                     | None] = asyncio.Queue()
        self._recorder: asyncio.Task[None] | None = None
        self.log = structlog.get_logger("router.call").bind(
            call_id=str(self.id), dialled=dialled, caller=caller.caller.number)

    # --- the router feeds events in ---------------------------------------

    def deliver(self, event: CallEvent) -> None:
        """Queue an event for this call (never blocks)."""
        self._queue.put_nowait(event)

    # --- the life of the call ---------------------------------------------

    async def run(self) -> None:
        self.services.register(self.caller.id, self)
        metrics.LIVE_CALLS.inc()
        self.log.info("call started", state=self.state)
        try:
            await self._route()
        except CallerLeft:
            if self.outcome is None:
                self.outcome = Outcome.ABANDONED
        except Exception:
            self.log.exception("call failed")
            if self.outcome is None:
                self.outcome = Outcome.FAILED
        finally:
            await self._finish()

    async def _route(self) -> None:
        self.hotline = hotline = await find_hotline(self.services.db, self.dialled)
        self._record(records.call_started, self.id, hotline.id if hotline else None,
                     self.dialled, self.caller.caller.number, self.caller.id,
                     self.services.router_id, self.started_at)
        if hotline is None:
            self.log.warning("unknown hotline number")
            return await self._announce(Outcome.UNKNOWN_NUMBER)
        if not hotline.enabled:
            self.log.warning("hotline is disabled")
            return await self._announce(Outcome.NOT_IN_SERVICE)
        # Two independent reads, side by side: one round trip of waiting, not two.
        refused, call_number = await asyncio.gather(
            billing.refuses_calls(self.services.db, hotline.id), self._call_number(hotline))
        if refused:
            self.log.warning("hotline balance used up, call refused")
            return await self._announce(Outcome.REFUSED_NO_BALANCE)
        winner = await self._hunt_phones(hotline, self._loop.time() + hotline.total_timeout_s,
                                         call_number)
        if winner is None:
            winner = await self._overflow(hotline)
        if winner is None:
            return await self._announce(self._unanswered_outcome())
        await self._connect(winner)
        await self._until(lambda: self.caller_gone or self.phone_gone)
        self.outcome = Outcome.ANSWERED

    # --- hunting ------------------------------------------------------------

    async def _hunt_phones(self, hotline: Hotline, deadline: float,
                           call_number: int | None = None) -> Leg | None:
        """One hunting pass over the strategy's ring plan; the leg that answered."""
        plan = await self._plan(hotline, call_number)
        if not plan:
            return None
        lone = sum(len(wave.phones) for wave in plan) == 1
        ring_s = hotline.total_timeout_s if lone else hotline.ring_timeout_s
        targets = deque([[(p.phone_id, p.dial_string) for p in w.phones], w.delay_s]
                        for w in plan)
        return await self._ring(targets, ring_s, deadline, hotline.max_attempts)

    async def _call_number(self, hotline: Hotline) -> int | None:
        """The hotline's next call number when its rule uses one, else None.

        Taken before the balance check is known, beside it: a refused call
        still advances the rotation, which moves no call to a wrong phone.
        """
        try:
            strategy = strategies.get(hotline.strategy)
        except strategies.UnknownStrategy:
            return None  # _strategy() logs it and rings in admin order
        if not getattr(strategy, "uses_call_number", False):
            return None
        return await rotation.next_call_number(self.services.db, hotline.id)

    async def _plan(self, hotline: Hotline, call_number: int | None = None) -> strategies.RingPlan:
        """The ring plan; ``call_number`` when already taken for this pass."""
        strategy, options = self._strategy(hotline)
        candidates = hotline.idle_candidates(self.clock())
        if call_number is None and getattr(strategy, "uses_call_number", False):
            call_number = await rotation.next_call_number(self.services.db, hotline.id)
        context = strategies.Context(rng=self.rng, now=self.clock(), call_number=call_number or 0,
                                     bound_count=len(hotline.phones))
        plan = strategy.plan(candidates, context, options)
        self.log.info("ring plan", strategy=strategy.name, idle=len(candidates),
                      waves=[[p.phone_id for p in w.phones] for w in plan])
        return plan

    def _strategy(self, hotline: Hotline) -> tuple[strategies.Strategy, dict[str, Any]]:
        """The hotline's rule; sequential when it is missing or misconfigured."""
        try:
            strategy = strategies.get(hotline.strategy)
            strategy.validate(hotline.strategy_options)
        except (strategies.UnknownStrategy, strategies.OptionError) as exc:
            self.log.error("strategy unusable, ringing in admin order", error=str(exc))
            return strategies.get("sequential"), {}
        return strategy, hotline.strategy_options

    async def _ring(self, waves: deque[Any], ring_s: int, deadline: float,
                    max_attempts: int | None, purpose: str = "phone") -> Leg | None:
        """Ring ``waves`` of (phone id, dial string) targets until one answers.

        A wave without delay starts when nothing of the earlier waves still
        rings; a wave with a delay starts that long after the previous one,
        while earlier phones keep ringing. Nothing rings past ``deadline``.
        """
        self._hunt += 1
        hunt, self._wave_due, self._hunt_over = self._hunt, False, False
        timers = [self._loop.call_at(deadline, self.deliver, HuntTimeout(hunt))]
        legs: list[Leg] = []
        try:
            while True:
                answered = [leg for leg in legs if leg.answered_at and leg.result is None]
                if answered:
                    winner = min(answered, key=lambda leg: leg.answered_at or leg.dial_started_at)
                    await self._cancel_ringing(legs, LegResult.CANCELLED, "answered_elsewhere",
                                               keep=winner)
                    return winner
                starting = self._wave_due or not any(leg.ringing for leg in legs)
                if waves and starting and not self._hunt_over:
                    self._wave_due = False
                    targets, _ = waves.popleft()
                    if max_attempts is not None:
                        targets = targets[:max(0, max_attempts - len(legs))]
                    if not targets:
                        waves.clear()
                        continue
                    ring_for = max(1.0, min(ring_s, deadline - self._loop.time()))
                    legs += await self._ring_wave(targets, ring_for, purpose)
                    if waves and waves[0][1] is not None:
                        timers.append(self._loop.call_later(waves[0][1], self.deliver,
                                                            WaveDue(hunt)))
                    continue
                if not any(leg.ringing for leg in legs) or self._hunt_over:
                    await self._cancel_ringing(legs, LegResult.NO_ANSWER, "no_answer")
                    return None
                await self._until(partial(self._hunt_should_act, legs))
        finally:
            for timer in timers:
                timer.cancel()

    def _hunt_should_act(self, legs: Sequence[Leg]) -> bool:
        """A phone answered, all stopped ringing, a wave is due, or time is up."""
        return (self._wave_due or self._hunt_over or any(leg.answered_at for leg in legs)
                or not any(leg.ringing for leg in legs))

    async def _cancel_ringing(self, legs: Sequence[Leg], result: LegResult, reason: str,
                              keep: Leg | None = None) -> None:
        for leg in legs:
            if leg is not keep and leg.result is None:
                await self._end_leg(leg, result, self.clock(), None, hangup=reason)

    async def _ring_wave(self, targets: Sequence[tuple[int | None, str]], ring_s: float,
                         purpose: str = "phone") -> list[Leg]:
        """Claim, create and dial one leg per target; phones found busy are skipped.

        A created channel accepts /dial only after its own StasisStart, so the
        wave's channels are created first, awaited into Stasis, then dialled.
        """
        self._waves += 1
        legs = [leg for phone_id, dial_string in targets
                if (leg := await self._create_leg(phone_id, dial_string, purpose))]
        created = [leg for leg in legs if leg.result is None]
        with contextlib.suppress(TimeoutError):
            await self._until(lambda: all(leg.in_stasis or leg.result for leg in created),
                              timeout_s=5)
        for leg in created:
            if leg.result is not None:
                continue
            if not leg.in_stasis:
                self.log.warning("leg channel never entered Stasis", phone_id=leg.phone_id)
                await self._end_leg(leg, LegResult.FAILED, self.clock(), None, hangup="normal")
                continue
            try:
                await self.services.ari.dial(leg.channel_id, caller=self.caller.id,
                                             timeout_s=int(ring_s) + 5)
            except AriError as exc:
                self.log.warning("dial failed", phone_id=leg.phone_id, error=str(exc))
                await self._end_leg(leg, LegResult.FAILED, self.clock(), None, hangup="normal")
                continue
            leg.timer = self._loop.call_later(ring_s, self.deliver, RingTimeout(leg.id))
            if not self._first_dial_observed:
                self._first_dial_observed = True
                metrics.ROUTING_SECONDS.observe(self._loop.time() - self._created)
            self.log.info("leg dialled", phone_id=leg.phone_id, wave=leg.wave,
                          leg_id=str(leg.id), ring_s=ring_s)
        return legs

    async def _create_leg(self, phone_id: int | None, dial_string: str,
                          purpose: str) -> Leg | None:
        """A leg with its channel created (not dialled); None when the phone is busy."""
        leg_id = uuid4()
        if phone_id is not None and not await claims.claim(
                self.services.db, phone_id, leg_id, self.id, self.services.router_id):
            self.log.info("phone busy, skipped", phone_id=phone_id)
            return None
        leg = Leg(id=leg_id, phone_id=phone_id, dial_string=dial_string, wave=self._waves,
                  dial_started_at=self.clock(), purpose=purpose, claimed=phone_id is not None)
        self.legs[leg.channel_id] = leg
        self.services.register(leg.channel_id, self)
        self._record(records.leg_started, leg.id, self.id, phone_id, dial_string,
                     leg.wave, leg.dial_started_at, purpose)
        ringback = None
        if self.state is State.ROUTING:
            self.state = State.RINGING
            # The caller hears ringback; asked for alongside the channel, not before it.
            ringback = self._loop.create_task(self._ari(self.services.ari.ring(self.caller.id)))
            self.log.info("call ringing", state=self.state)
        try:
            await self.services.ari.create_channel(
                dial_string, self.services.app, leg.channel_id, originator=self.caller.id,
                variables={"CALLERID(num)": self.caller.caller.number or "anonymous",
                           "CALLERID(name)": self.dialled})
        except AriError as exc:
            self.log.warning("channel create failed", phone_id=phone_id, error=str(exc))
            await self._end_leg(leg, LegResult.FAILED, self.clock(), None)
        finally:
            if ringback is not None:
                await ringback
        return leg

    # --- when no phone takes the call ---------------------------------------

    async def _overflow(self, hotline: Hotline) -> Leg | None:
        if hotline.overflow == "forward" and hotline.overflow_forward_to:
            self._record(records.call_overflow, self.id, "forward")
            self.log.info("overflow: forwarding", to=hotline.overflow_forward_to)
            deadline = self._loop.time() + hotline.total_timeout_s
            return await self._ring(deque([[[(None, hotline.overflow_forward_to)], None]]),
                                    hotline.total_timeout_s, deadline, None,
                                    purpose="overflow-forward")
        if hotline.overflow == "queue":
            self._record(records.call_overflow, self.id, "queue")
            return await self._wait_for_a_phone(hotline)
        self._record(records.call_overflow, self.id, "busy")
        return None

    async def _wait_for_a_phone(self, hotline: Hotline) -> Leg | None:
        """Music on hold (early media); ring again as soon as a phone frees."""
        end = self._loop.time() + hotline.overflow_max_wait_s
        self.state = State.QUEUED
        self.log.info("call queued", state=self.state, max_wait_s=hotline.overflow_max_wait_s)
        await self._start_music()
        while (remaining := end - self._loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await self._until(lambda: False, timeout_s=min(QUEUE_POLL_S, remaining))
            fresh = await find_hotline(self.services.db, hotline.number)
            if fresh is None or not fresh.enabled or not fresh.idle_candidates(self.clock()):
                continue
            deadline = min(end, self._loop.time() + fresh.total_timeout_s)
            winner = await self._hunt_phones(fresh, deadline)
            if winner is not None:
                return winner
        self.log.info("queue wait over")
        return None

    async def _start_music(self) -> None:
        await self._open_early_media()
        try:
            await self.services.ari.start_moh(self.caller.id)
            self.music = True
        except AriError as exc:
            self.log.warning("music on hold failed", error=str(exc))

    async def _open_early_media(self) -> None:
        if not self.early_media:
            await self.services.ari.progress(self.caller.id)
            self.early_media = True

    # --- talking ------------------------------------------------------------

    async def _connect(self, leg: Leg) -> None:
        """Answer the caller and bridge it with the phone that answered."""
        assert leg.answered_at is not None
        self.winner = leg
        if leg.timer:
            leg.timer.cancel()
        await self._until(lambda: leg.in_stasis)
        try:
            if self.music:
                await self._ari(self.services.ari.stop_moh(self.caller.id))
                self.music = False
            await self.services.ari.answer(self.caller.id)
            # Billing starts at the earlier answer; ours cannot precede the phone's.
            caller_answered_at = max(self.clock(), leg.answered_at)
            self.bridge_id = str(self.id)
            await self.services.ari.create_bridge(self.bridge_id)
            await self.services.ari.add_to_bridge(self.bridge_id, [self.caller.id, leg.channel_id])
        except AriError as exc:
            await self._drain()  # learn whether a side hung up meanwhile
            if self.caller_gone:
                raise CallerLeft from exc
            raise
        self.state = State.BRIDGED
        self._record(records.call_bridged, self.id, leg.id, leg.answered_at, leg.phone_id,
                     leg.dial_string, caller_answered_at)
        self.log.info("call bridged", state=self.state, phone_id=leg.phone_id,
                      dial_string=leg.dial_string)

    async def _announce(self, outcome: Outcome) -> None:
        """Tell the unanswered caller why (early media), then hang up."""
        self.outcome = outcome
        self.state = State.ANNOUNCING
        sound, _ = ANNOUNCEMENTS[outcome]
        self.log.info("call announcing", state=self.state, outcome=outcome, sound=sound)
        playback_id = str(uuid4())
        try:
            if self.music:
                await self._ari(self.services.ari.stop_moh(self.caller.id))
                self.music = False
            await self._open_early_media()
            await self.services.ari.play(self.caller.id, f"sound:{sound}", playback_id)
        except AriError as exc:
            self.log.warning("announcement failed", error=str(exc))
            return
        try:
            await self._until(lambda: playback_id in self.finished_playbacks, timeout_s=60)
        except TimeoutError:
            self.log.warning("announcement did not finish", sound=sound)

    async def _finish(self) -> None:
        """Hang up what is left, release every claim, and close the records."""
        end = self.ended_at or self.clock()
        outcome = self.outcome or Outcome.FAILED
        for leg in list(self.legs.values()):
            if leg.timer:
                leg.timer.cancel()
            if leg is self.winner:
                await self._end_leg(leg, LegResult.ANSWERED, end, None, hangup="normal")
            elif leg.result is None:
                # Still ringing (or created, not yet dialled): hang it up, or the
                # phone rings on and its channel outlives the call in Asterisk.
                await self._end_leg(leg, LegResult.CANCELLED, end, None, hangup="normal")
        if self.bridge_id:
            await self._ari(self.services.ari.destroy_bridge(self.bridge_id))
        if not self.caller_gone:
            reason = ANNOUNCEMENTS[outcome][1] if outcome in ANNOUNCEMENTS else "normal"
            await self._ari(self.services.ari.hangup(self.caller.id, reason))
        self._record(records.call_ended, self.id, end, outcome.value)
        await self._records_written()
        for channel_id in [self.caller.id, *self.legs]:
            self.services.unregister(channel_id)
        self.state = State.ENDED
        metrics.LIVE_CALLS.dec()
        metrics.CALLS.labels(hotline=self.hotline.number if self.hotline else "unknown",
                             outcome=outcome.value).inc()
        self.log.info("call ended", state=self.state, outcome=outcome,
                      answered_by=self.winner.dial_string if self.winner else None)

    # --- events -------------------------------------------------------------

    async def _until(self, done: Callable[[], bool], timeout_s: float | None = None) -> None:
        """Apply events until ``done()``; raise CallerLeft if the caller goes."""
        deadline = None if timeout_s is None else self._loop.time() + timeout_s
        while not done():
            if self.caller_gone:
                raise CallerLeft
            remaining = None if deadline is None else max(0.0, deadline - self._loop.time())
            event = await asyncio.wait_for(self._queue.get(), remaining)
            await self._apply(event)
        if self.caller_gone and self.state is not State.BRIDGED:
            raise CallerLeft

    async def _drain(self) -> None:
        while not self._queue.empty():
            await self._apply(self._queue.get_nowait())

    async def _apply(self, event: CallEvent) -> None:
        if isinstance(event, RingTimeout):
            leg = self.legs.get(str(event.leg_id))
            if leg is not None and leg.ringing:
                self.log.info("ring timeout", phone_id=leg.phone_id)
                await self._end_leg(leg, LegResult.NO_ANSWER, self.clock(), None,
                                    hangup="no_answer")
            return
        if isinstance(event, WaveDue | HuntTimeout):
            if event.hunt == self._hunt:
                if isinstance(event, WaveDue):
                    self._wave_due = True
                else:
                    self._hunt_over = True
            return
        if isinstance(event, ev.PlaybackFinished):
            self.finished_playbacks.add(event.playback.id)
            return
        channel = event.peer if isinstance(event, ev.Dial) else getattr(event, "channel", None)
        if not isinstance(channel, ev.Channel):
            return
        if channel.id == self.caller.id:
            if isinstance(event, _CALLER_GONE) and not self.caller_gone:
                self.caller_gone = True
                self._mark_end(event.at)
                self.log.info("caller hung up", state=self.state)
            return
        leg = self.legs.get(channel.id)
        if leg is not None:
            await self._apply_to_leg(leg, event)

    async def _apply_to_leg(self, leg: Leg, event: ev.AnyEvent | ev.OtherEvent) -> None:
        if isinstance(event, ev.StasisStart):
            leg.in_stasis = True
        elif isinstance(event, ev.Dial):
            if event.dialstatus == "ANSWER":
                self._leg_answered(leg, event.at)
            elif event.dialstatus in _DIALSTATUS and leg.ringing:
                await self._end_leg(leg, _DIALSTATUS[event.dialstatus], event.at, None)
        elif isinstance(event, ev.ChannelStateChange):
            if event.channel.state == "Up":
                self._leg_answered(leg, event.at)
        elif isinstance(event, ev.ChannelHangupRequest | ev.ChannelDestroyed):
            if leg is self.winner:
                if not self.phone_gone:
                    self.phone_gone = True
                    self._mark_end(event.at)
                    self.log.info("phone hung up", phone_id=leg.phone_id)
            elif leg.ringing:
                await self._end_leg(leg, _CAUSES.get(event.cause, LegResult.FAILED), event.at,
                                    event.cause)

    def _leg_answered(self, leg: Leg, at: datetime) -> None:
        if leg.result is None and leg.answered_at is None:
            leg.answered_at = at
            self.log.info("phone answered", phone_id=leg.phone_id)

    async def _end_leg(self, leg: Leg, result: LegResult, at: datetime, cause: int | None,
                       hangup: str | None = None) -> None:
        """Close one ring attempt: hang it up if asked, free the phone, record it."""
        if leg.result is not None:
            return
        leg.result = result
        if leg.timer:
            leg.timer.cancel()
        if hangup is not None:
            await self._ari(self.services.ari.hangup(leg.channel_id, hangup))
        if leg.claimed:
            leg.claimed = False
            talk_ms = None
            if result is LegResult.ANSWERED and leg.answered_at is not None:
                talk_ms = max(0, int((at - leg.answered_at).total_seconds() * 1000))
            await self._write(claims.release, leg.id, talk_ms)
        self._record(records.leg_ended, leg.id, at, result.value, cause)
        metrics.RING_ATTEMPTS.labels(result=result.value).inc()
        self.log.info("leg ended", phone_id=leg.phone_id, result=result)

    def _mark_end(self, at: datetime) -> None:
        if self.ended_at is None or at < self.ended_at:
            self.ended_at = at

    def _unanswered_outcome(self) -> Outcome:
        results = {leg.result for leg in self.legs.values()}
        if not results or results <= {LegResult.BUSY}:
            return Outcome.BUSY
        if LegResult.NO_ANSWER in results:
            return Outcome.NO_ANSWER
        if LegResult.BUSY in results:
            return Outcome.BUSY
        return Outcome.FAILED

    # --- side effects that must not end the call ---------------------------

    def _record(self, write: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Write a call or leg record soon, without waiting for it here.

        Records trail the call by a round trip instead of delaying it: the
        caller's phone rings without waiting for our INSERTs. One task per call
        writes them in the order they were made (a leg after its call), and
        the call does not finish before its last record is written.
        """
        if self._recorder is None:
            self._recorder = self._loop.create_task(self._write_records(),
                                                    name=f"records-{self.id}")
        self._records.put_nowait((write, args))

    async def _write_records(self) -> None:
        while (item := await self._records.get()) is not None:
            write, args = item
            await self._write(write, *args)

    async def _records_written(self) -> None:
        if self._recorder is not None:
            self._records.put_nowait(None)
            await self._recorder


    async def _write(self, write: Callable[..., Awaitable[Any]], *args: Any) -> None:
        try:
            await write(self.services.db, *args)
        except Exception as exc:
            metrics.DATABASE_ERRORS.labels(operation=write.__name__).inc()
            self.log.error("record write failed", write=write.__name__, error=str(exc))

    async def _ari(self, request: Awaitable[Any]) -> None:
        try:
            await request
        except AriError as exc:
            if exc.status not in (404, 409, 422):
                self.log.warning("ari request failed", error=str(exc))

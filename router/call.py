"""The life of one inbound hotline call, decided in this one file.

A :class:`Call` is fed the ARI events of its own channels, in order, through
its queue; it reads them one at a time, so nothing else ever changes its state.
Its life: look the number up, let the hotline's plan decide (refuse, closed,
a group of phones, or a voice menu that leads to one), pick idle phones of
that group with its strategy, ring them wave by wave while the caller hears
ringback, bridge the first phone to answer, and end everything when either
side hangs up. When no phone takes the call, the hotline's overflow decides:
a busy announcement, music while waiting for a phone to free, or a forward
number. Every phone claim is released on every path, and the records say
what happened, with Asterisk's own timestamps. A call that outlived the
router watching it is adopted (``adopt``) and ends the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Any, Protocol
from uuid import UUID, uuid4

import structlog

import strategies
from router import callers, menu, metrics, plan, region
from router.ari import AriClient, AriError
from router.ari import events as ev
from router.directory import Hotline
from router.store import Store, Unavailable


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
    REFUSED = "refused"        # the plan refused the caller (blacklist, a refuse rule)
    CLOSED = "closed"          # outside business hours, or closed by override
    MOBILE_ON_800 = "mobile-on-800"  # 800 numbers take landline callers only


class LegResult(StrEnum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Which of the hotline's announcements the caller hears (plan.Sounds), and the
# hangup reason Asterisk signals, per outcome.
ANNOUNCEMENTS: dict[Outcome, tuple[str, str]] = {
    Outcome.UNKNOWN_NUMBER: ("not_in_service", "unallocated"),
    Outcome.NOT_IN_SERVICE: ("not_in_service", "unallocated"),
    Outcome.REFUSED_NO_BALANCE: ("not_in_service", "rejected"),
    Outcome.BUSY: ("busy", "busy"),
    Outcome.NO_ANSWER: ("busy", "no_answer"),
    Outcome.FAILED: ("busy", "congestion"),
    Outcome.REFUSED: ("refused", "rejected"),
    Outcome.CLOSED: ("closed", "no_answer"),
    Outcome.MOBILE_ON_800: ("landline_only", "rejected"),
}

# Plan decisions that end the call with an announcement.
_REFUSALS = {"refused": Outcome.REFUSED, "blacklisted": Outcome.REFUSED,
             "closed": Outcome.CLOSED, "mobile-on-800": Outcome.MOBILE_ON_800}

# Longest a prompt may play before we stop waiting for its end.
PROMPT_LIMIT_S = 120.0

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


@dataclass(frozen=True)
class Reconcile:
    """After a gap in the events: the channels Asterisk still has (id -> state).

    Posted by the router when its event websocket is back; whatever of this
    call is gone ended while nobody watched, at best at ``lost_at``.
    """

    channels: Mapping[str, str]
    lost_at: datetime


CallEvent = ev.AnyEvent | ev.OtherEvent | RingTimeout | WaveDue | HuntTimeout | Reconcile


class CallerLeft(Exception):
    """The caller hung up; the call winds down."""


class Services(Protocol):
    """What a call needs from the router around it."""

    ari: AriClient
    store: Store
    app: str
    router_id: str
    max_call_s: float

    async def find_hotline(self, number: str, new_call: bool = False) -> Hotline | None: ...
    def plan_now(self) -> datetime: ...
    def register(self, channel_id: str, call: Call) -> None: ...
    def unregister(self, channel_id: str) -> None: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Target:
    """Something to ring: a bound phone (claimed first) or the overflow number."""

    dial_string: str
    phone_id: int | None = None
    capacity: int = 1


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
                 rng: random.Random | None = None, call_id: UUID | None = None,
                 caller_raw: str | None = None) -> None:
        self.id = call_id or uuid4()
        self.caller_raw = caller_raw  # the caller id as delivered, when it had to be cleaned
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
        self.reconciled = False  # its end happened while no router watched
        self.finished_playbacks: set[str] = set()
        self.caller_answered = False  # by us: a greeting or voice menu answered first
        self.digits: deque[str] = deque()  # keys the caller pressed, not used yet
        self._waves = 0
        self._hunt = 0
        self._wave_due = False
        self._hunt_over = False
        self._loop = asyncio.get_running_loop()
        self._created = self._loop.time()
        self._first_dial_observed = False
        self._queue: asyncio.Queue[CallEvent] = asyncio.Queue()
        # Record writes in the call's order, written by one task beside it (_record).
        self._records: asyncio.Queue[tuple[str, tuple[Any, ...]]] = asyncio.Queue()
        self._recorder: asyncio.Task[None] | None = None
        self.log = structlog.get_logger("router.call").bind(
            call_id=str(self.id), dialled=dialled, caller=caller.caller.number)

    # --- the router feeds events in ---------------------------------------

    def deliver(self, event: CallEvent) -> None:
        """Queue an event for this call (never blocks)."""
        self._queue.put_nowait(event)

    # --- the life of the call ---------------------------------------------

    async def run(self) -> None:
        self.log.info("call started", state=self.state)
        await self._guarded(self._route())

    async def adopt(self, legs: Sequence[Leg], channels: Mapping[str, str],
                    lost_at: datetime) -> None:
        """Take back a call that outlived the router watching it (a restart, or a
        router that died): keep a bridged call bridged, route a caller still
        waiting afresh, and close what ended meanwhile as of ``lost_at``."""
        self.log.info("call adopted", legs=len(legs))
        await self._guarded(self._resume(legs, channels, lost_at))

    async def _guarded(self, life: Awaitable[None]) -> None:
        self.services.register(self.caller.id, self)
        metrics.LIVE_CALLS.inc()
        try:
            await life
        except CallerLeft:
            if self.outcome is None:
                self.outcome = Outcome.ABANDONED
        except (AriError, Unavailable) as exc:  # Asterisk or the database said no
            self.log.warning("call failed", error=str(exc))
            if self.outcome is None:
                self.outcome = Outcome.FAILED
        except Exception:
            self.log.exception("call failed")
            if self.outcome is None:
                self.outcome = Outcome.FAILED
        finally:
            await self._finish()

    async def _route(self) -> None:
        self.hotline = hotline = await self.services.find_hotline(self.dialled, new_call=True)
        await self._record("call_started", self.id, hotline.id if hotline else None,
                           self.dialled, self.caller.caller.number, self.caller.id,
                           self.services.router_id, self.started_at, self.caller_raw)
        if hotline is None:
            self.log.warning("unknown hotline number")
            return await self._announce(Outcome.UNKNOWN_NUMBER)
        if not hotline.enabled:
            self.log.warning("hotline is disabled")
            return await self._announce(Outcome.NOT_IN_SERVICE)
        if await self.services.store.refuses_calls(hotline):
            self.log.warning("hotline balance used up, call refused")
            return await self._announce(Outcome.REFUSED_NO_BALANCE)
        decision = await self._decide(hotline)
        if not decision.routes:
            return await self._announce(_REFUSALS[decision.result])
        if hotline.plan.sounds.greeting:
            await self._answer_caller()
            await self._play(hotline.plan.sounds.greeting)
        group = decision.group
        if decision.menu_id is not None:
            group = await self._run_menu(hotline, decision)
        group = group or hotline.default_group()
        winner = await self._hunt_phones(hotline, group,
                                         self._loop.time() + hotline.total_timeout_s)
        if winner is None:
            winner = await self._overflow(hotline, group)
        if winner is None:
            return await self._announce(self._unanswered_outcome())
        await self._connect(winner)
        await self._talk()

    async def _talk(self) -> None:
        """Until either side hangs up (or the longest call allowed is over)."""
        try:
            await self._until(lambda: self.caller_gone or self.phone_gone,
                              timeout_s=self.services.max_call_s)
        except TimeoutError:
            self.log.warning("longest call allowed is over", max_call_s=self.services.max_call_s)
        self.outcome = Outcome.ANSWERED

    # --- the hotline's plan ----------------------------------------------------

    async def _decide(self, hotline: Hotline) -> plan.Decision:
        """Where the plan sends this caller; recorded at once, so the call row says why."""
        caller = callers.normalise(self.caller.caller.number)
        where = region.lookup(caller)
        decision = plan.decide(hotline.plan, self.dialled, caller, where,
                               self.services.plan_now())
        self.log.info("plan decided", result=decision.result, reason=decision.reason,
                      caller_region=where.describe())
        await self._record("plan_decided", self.id, decision.result, decision.reason,
                          decision.rule_id, decision.group.name if decision.group else None,
                          where.describe())
        return decision

    async def _run_menu(self, hotline: Hotline, decision: plan.Decision) -> plan.Group | None:
        """The voice menu dialogue: the group the caller's keys lead to (None: all phones)."""
        assert decision.menu_id is not None
        await self._answer_caller()
        walk = menu.MenuWalk(hotline.plan.menus, decision.menu_id)
        step: menu.Play | menu.Route = walk.start()
        self.log.info("voice menu", menu=walk.current.name)
        try:
            while isinstance(step, menu.Play):
                key = await self._prompt_for_key(step.sounds, step.timeout_s)
                step = walk.no_input() if key is None else walk.press(key)
                self.log.info("menu key", key=key, menu=walk.current.name)
        finally:
            await self._record("menu_keys", self.id, ",".join(walk.keys))
        group = hotline.plan.groups.get(step.group_id or 0)
        if group is not None and not group.enabled:
            group = None
        result = "group" if group else "default"
        reason = f"{decision.reason} -> {step.reason}"
        reason += f" -> group {group.name}" if group else ""
        self.log.info("menu done", result=result, reason=reason)
        await self._record("plan_routed", self.id, result, reason,
                          group.name if group else None)
        return group

    @contextlib.asynccontextmanager
    async def _to_the_caller(self) -> AsyncIterator[None]:
        """A request to the caller's channel: if it fails because they left, they left."""
        try:
            yield
        except AriError as exc:
            await self._drain()
            if self.caller_gone:
                raise CallerLeft from exc
            raise

    async def _answer_caller(self) -> None:
        """Answer the caller ourselves (greeting, menu): billing starts here."""
        if self.caller_answered:
            return
        async with self._to_the_caller():
            await self.services.ari.answer(self.caller.id)
        self.caller_answered = True
        await self._record("caller_answered", self.id, self.clock())

    async def _play(self, sounds: Sequence[str]) -> None:
        """Play to the caller and wait until it has been heard."""
        playback_id = str(uuid4())
        async with self._to_the_caller():
            await self.services.ari.play(self.caller.id, [f"sound:{s}" for s in sounds],
                                         playback_id)
        try:
            await self._until(lambda: playback_id in self.finished_playbacks,
                              timeout_s=PROMPT_LIMIT_S)
        except TimeoutError:
            self.log.warning("playback did not finish", sounds=list(sounds))

    async def _prompt_for_key(self, sounds: Sequence[str], timeout_s: float) -> str | None:
        """Play a prompt until a key is pressed, then wait ``timeout_s`` for one.

        A key pressed during the prompt stops it; keys pressed ahead (during an
        earlier prompt) are used at once.
        """
        if not self.digits:
            playback_id = str(uuid4())
            async with self._to_the_caller():
                await self.services.ari.play(self.caller.id, [f"sound:{s}" for s in sounds],
                                             playback_id)
            try:
                await self._until(lambda: bool(self.digits)
                                  or playback_id in self.finished_playbacks,
                                  timeout_s=PROMPT_LIMIT_S)
            except TimeoutError:
                self.log.warning("prompt did not finish", sounds=list(sounds))
            if self.digits:
                await self._ari(self.services.ari.stop_playback(playback_id))
        if not self.digits:
            with contextlib.suppress(TimeoutError):
                await self._until(lambda: bool(self.digits), timeout_s=timeout_s)
        return self.digits.popleft() if self.digits else None

    async def _resume(self, legs: Sequence[Leg], channels: Mapping[str, str],
                      lost_at: datetime) -> None:
        for leg in legs:
            self.legs[leg.channel_id] = leg
            self.services.register(leg.channel_id, self)
            leg.in_stasis = True
        answered = next((leg for leg in legs if leg.answered_at and leg.result is None), None)
        caller_up = self.caller.id in channels
        for leg in legs:  # rings from before the gap cannot be trusted: end them
            if leg is not answered and leg.result is None:
                gone = leg.channel_id not in channels
                await self._end_leg(leg, LegResult.CANCELLED, lost_at if gone else self.clock(),
                                    None, hangup=None if gone else "normal")
        if answered is not None:
            self.winner = answered
            self.bridge_id = str(self.id)
            self.state = State.BRIDGED
            self.deliver(Reconcile(channels, lost_at))
            await self._talk()
        elif caller_up:
            self.hotline = None
            await self._route()
        else:
            self.deliver(Reconcile(channels, lost_at))
            await self._until(lambda: self.caller_gone)

    # --- hunting ------------------------------------------------------------

    async def _hunt_phones(self, hotline: Hotline, group: plan.Group,
                           deadline: float) -> Leg | None:
        """One hunting pass over the group's ring plan; the leg that answered."""
        ring_plan = await self._plan(hotline, group)
        if not ring_plan:
            return None
        lone = sum(len(wave.phones) for wave in ring_plan) == 1
        ring_s = hotline.total_timeout_s if lone else hotline.ring_timeout_s
        targets = deque([[Target(p.dial_string, p.phone_id, p.capacity) for p in w.phones],
                         w.delay_s] for w in ring_plan)
        return await self._ring(targets, ring_s, deadline, hotline.max_attempts)

    async def _plan(self, hotline: Hotline, group: plan.Group) -> strategies.RingPlan:
        strategy, options = self._strategy(group)
        candidates = hotline.idle_candidates(self.clock(), group)
        call_number = 0
        if getattr(strategy, "uses_call_number", False):
            if hotline.call_number is not None and self._hunt == 0:
                call_number = hotline.call_number  # taken when the call looked it up
            else:
                call_number = await self.services.store.next_call_number(hotline.id)
        context = strategies.Context(rng=self.rng, now=self.clock(), call_number=call_number,
                                     bound_count=hotline.member_count(group))
        ring_plan = strategy.plan(candidates, context, options)
        self.log.info("ring plan", group=group.name, strategy=strategy.name,
                      idle=len(candidates), waves=[[p.phone_id for p in w.phones]
                                                   for w in ring_plan])
        return ring_plan

    def _strategy(self, group: plan.Group) -> tuple[strategies.Strategy, dict[str, Any]]:
        """The group's rule; sequential when it is missing or misconfigured."""
        try:
            strategy = strategies.get(group.strategy)
            strategy.validate(group.strategy_options)
        except (strategies.UnknownStrategy, strategies.OptionError) as exc:
            self.log.error("strategy unusable, ringing in admin order", error=str(exc))
            return strategies.get("sequential"), {}
        return strategy, group.strategy_options

    async def _ring(self, waves: deque[Any], ring_s: int, deadline: float,
                    max_attempts: int | None, purpose: str = "phone") -> Leg | None:
        """Ring ``waves`` of [targets, delay] until one target answers.

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

    async def _ring_wave(self, targets: Sequence[Target], ring_s: float,
                         purpose: str = "phone") -> list[Leg]:
        """Claim, create and dial one leg per target; phones found busy are skipped.

        A created channel accepts /dial only after its own StasisStart, so the
        wave's channels are created first, awaited into Stasis, then dialled.
        """
        self._waves += 1
        legs = [leg for target in targets if (leg := await self._create_leg(target, purpose))]
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

    async def _create_leg(self, target: Target, purpose: str) -> Leg | None:
        """A leg with its channel created (not dialled); None when the phone is busy."""
        leg_id = uuid4()
        if target.phone_id is not None and not await self.services.store.claim(
                target.phone_id, target.capacity, leg_id, self.id):
            self.log.info("phone busy, skipped", phone_id=target.phone_id)
            return None
        leg = Leg(id=leg_id, phone_id=target.phone_id, dial_string=target.dial_string,
                  wave=self._waves, dial_started_at=self.clock(), purpose=purpose,
                  claimed=target.phone_id is not None)
        self.legs[leg.channel_id] = leg
        self.services.register(leg.channel_id, self)
        await self._record("leg_started", leg.id, self.id, leg.phone_id, leg.dial_string,
                           leg.wave, leg.dial_started_at, purpose)
        ringback = None
        if self.state is State.ROUTING:
            self.state = State.RINGING
            # The caller hears ringback; asked for alongside the channel, not before it.
            ringback = self._loop.create_task(self._ari(self.services.ari.ring(self.caller.id)))
            self.log.info("call ringing", state=self.state)
        try:
            await self.services.ari.create_channel(
                leg.dial_string, self.services.app, leg.channel_id, originator=self.caller.id,
                variables={"CALLERID(num)": self.caller.caller.number or "anonymous",
                           "CALLERID(name)": self.dialled})
        except AriError as exc:
            self.log.warning("channel create failed", phone_id=leg.phone_id, error=str(exc))
            await self._end_leg(leg, LegResult.FAILED, self.clock(), None)
        finally:
            if ringback is not None:
                await ringback
        return leg

    # --- when no phone takes the call ---------------------------------------

    async def _overflow(self, hotline: Hotline, group: plan.Group) -> Leg | None:
        if hotline.overflow == "forward" and hotline.overflow_forward_to:
            await self._record("call_overflow", self.id, "forward")
            self.log.info("overflow: forwarding", to=hotline.overflow_forward_to)
            deadline = self._loop.time() + hotline.total_timeout_s
            return await self._ring(deque([[[Target(hotline.overflow_forward_to)], None]]),
                                    hotline.total_timeout_s, deadline, None,
                                    purpose="overflow-forward")
        if hotline.overflow == "queue":
            await self._record("call_overflow", self.id, "queue")
            return await self._wait_for_a_phone(hotline, group)
        await self._record("call_overflow", self.id, "busy")
        return None

    async def _wait_for_a_phone(self, hotline: Hotline, group: plan.Group) -> Leg | None:
        """Music on hold (early media); ring again as soon as a phone frees."""
        end = self._loop.time() + hotline.overflow_max_wait_s
        self.state = State.QUEUED
        self.log.info("call queued", state=self.state, max_wait_s=hotline.overflow_max_wait_s)
        await self._start_music()
        while (remaining := end - self._loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await self._until(lambda: False, timeout_s=min(QUEUE_POLL_S, remaining))
            fresh = await self.services.find_hotline(hotline.number)
            if fresh is None or not fresh.enabled:
                continue
            # The same group, as configured now (the default group follows the hotline).
            now_group = (fresh.plan.groups.get(group.id) if group.id is not None
                         else fresh.default_group())
            if now_group is None or not fresh.idle_candidates(self.clock(), now_group):
                continue
            deadline = min(end, self._loop.time() + fresh.total_timeout_s)
            winner = await self._hunt_phones(fresh, now_group, deadline)
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
        if not self.early_media and not self.caller_answered:
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
            if not self.caller_answered:
                await self.services.ari.answer(self.caller.id)
            # Billing starts at the earlier answer; ours cannot precede the phone's
            # (a greeting or menu answered earlier, and that time is kept).
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
        # Written before the call goes on: a router that dies from here on must
        # find this call bridged when it is adopted, never "still to be routed".
        await self._record("call_bridged", self.id, leg.id, leg.answered_at, leg.phone_id,
                           leg.dial_string, caller_answered_at, wait=True)
        self.log.info("call bridged", state=self.state, phone_id=leg.phone_id,
                      dial_string=leg.dial_string)

    async def _announce(self, outcome: Outcome) -> None:
        """Tell the unanswered caller why (early media), then hang up."""
        self.outcome = outcome
        self.state = State.ANNOUNCING
        sounds = self._announcement(outcome)
        self.log.info("call announcing", state=self.state, outcome=outcome, sound=sounds)
        playback_id = str(uuid4())
        try:
            if self.music:
                await self._ari(self.services.ari.stop_moh(self.caller.id))
                self.music = False
            await self._open_early_media()
            await self.services.ari.play(self.caller.id, [f"sound:{s}" for s in sounds],
                                         playback_id)
        except AriError as exc:
            self.log.warning("announcement failed", error=str(exc))
            return
        try:
            await self._until(lambda: playback_id in self.finished_playbacks, timeout_s=60)
        except TimeoutError:
            self.log.warning("announcement did not finish", sound=sounds)

    def _announcement(self, outcome: Outcome) -> tuple[str, ...]:
        """The hotline's sound for ``outcome`` (the defaults for an unknown number)."""
        sounds = self.hotline.plan.sounds if self.hotline else plan.Sounds()
        kind = ANNOUNCEMENTS[outcome][0]
        chosen: tuple[str, ...] = getattr(sounds, kind)
        return chosen or getattr(plan.Sounds(), kind)

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
        await self._record("call_ended", self.id, end, outcome.value, self.reconciled,
                           wait=True)
        if self._recorder is not None:
            self._recorder.cancel()
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
        if isinstance(event, ev.ChannelDtmfReceived):
            if event.channel.id == self.caller.id:
                self.digits.append(event.digit)
            return
        if isinstance(event, Reconcile):
            await self._reconcile(event)
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

    async def _reconcile(self, seen: Reconcile) -> None:
        """Catch up with what happened while the events did not reach us."""
        if self.caller.id not in seen.channels and not self.caller_gone:
            self.caller_gone = self.reconciled = True
            self._mark_end(seen.lost_at)
            self.log.warning("caller hung up while the router was away", state=self.state)
        for leg in list(self.legs.values()):
            state = seen.channels.get(leg.channel_id)
            if leg is self.winner:
                if state is None and not self.phone_gone:
                    self.phone_gone = self.reconciled = True
                    self._mark_end(seen.lost_at)
                    self.log.warning("phone hung up while the router was away")
            elif leg.ringing:
                if state is None:
                    await self._end_leg(leg, LegResult.FAILED, seen.lost_at, None)
                elif state == "Up":
                    self._leg_answered(leg, seen.lost_at)

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
            await self.services.store.release(leg.id, talk_ms)
        await self._record("leg_ended", leg.id, at, result.value, cause)
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

    async def _record(self, write: str, *args: Any, wait: bool = False) -> None:
        """A record write, kept in the call's order.

        Records trail the call by a round trip instead of delaying it (the
        phone rings without waiting for our INSERTs): one task per call writes
        them in the order they were made. ``wait`` returns once this write and
        every one before it is done (or spooled, if the database is away).
        """
        self._records.put_nowait((write, args))
        if self._recorder is None:
            self._recorder = self._loop.create_task(self._write_records(),
                                                    name=f"records-{self.id}")
        if wait:
            await self._records.join()

    async def _write_records(self) -> None:
        while True:
            write, args = await self._records.get()
            try:
                await self.services.store.write(write, *args)
            except Exception:  # neither written nor spooled (a full disk): say so, go on
                metrics.DATABASE_ERRORS.labels(operation=write).inc()
                self.log.exception("record lost", write=write)
            finally:
                self._records.task_done()

    async def _ari(self, request: Awaitable[Any]) -> None:
        try:
            await request
        except AriError as exc:
            if exc.status not in (404, 409, 422):
                self.log.warning("ari request failed", error=str(exc))

"""The life of one inbound hotline call, from its start to its end.

A :class:`Call` reads the events of its own channels, in order, from its
inbox (router/call/events.py); nothing else changes it. Its life, below in
:meth:`Call.route`:

1. look the number up and write the call's record;
2. an unknown number, a disabled hotline, a used-up balance, or a plan that
   refuses or is closed: announce why (early media) and hang up;
3. a greeting is played, a voice menu walked (both answer the caller);
4. hunt: the group's strategy orders its idle phones into waves, rung while
   the caller hears ringback (router/call/hunt.py);
5. no phone took it: the hotline's overflow (forward, queue, or busy);
6. a phone answered: it goes into the bridge, and only then is the caller
   answered and added (:meth:`Call.seat`, during the hunt: a phone gone before
   that is a failed attempt and the hunt goes on); :meth:`Call.connect`
   records the call answered; then talk until either side hangs up;
7. whatever happened, :meth:`Call.finish` hangs up what is left, releases
   every claim and closes the records, with Asterisk's own timestamps.

Its state (router/call/states.py) changes only through the transition table.
The parts: ``legs`` (ring attempts and their claims), ``media`` (what the
caller hears, and answering), ``recorder`` (records in order), the current
``hunt``. A call that outlived the router watching it is adopted
(router/call/adoption.py) and ends the same way.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import structlog

from router import callers, metrics, plan, region
from router.ari import AriError
from router.ari import events as ev
from router.call import adoption, intake
from router.call.events import CallerLeft, CallEvent, Inbox
from router.call.hunt import Hunt, Wave, plan_ring, waves_of
from router.call.legs import Leg, Legs, Target, unanswered_outcome
from router.call.media import CallerMedia
from router.call.menu_walk import walk_menu
from router.call.queue import wait_for_a_phone
from router.call.recorder import Recorder
from router.call.services import Services
from router.call.states import CallState, State
from router.directory import Hotline, Lookup, Overflow
from router.records.kinds import (
    CallBridged,
    CallEnded,
    CallerAnswered,
    CallOverflow,
    CallStarted,
    LegPurpose,
    LegResult,
    Outcome,
    OverflowTaken,
    PlanDecided,
)
from router.records.sql import OpenLeg
from router.store import Unavailable

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

# How long to wait for word of an answered phone: its hangup when it could not
# be bridged, its entering the bridge when it could.
HANGUP_WAIT_S = 1.0

# Plan decisions that end the call with an announcement.
REFUSALS = {"refused": Outcome.REFUSED, "blacklisted": Outcome.REFUSED,
            "closed": Outcome.CLOSED, "mobile-on-800": Outcome.MOBILE_ON_800}


class Call:
    def __init__(self, services: Services, caller: ev.Channel, dialled: str,
                 started_at: datetime, clock: Callable[[], datetime] | None = None,
                 rng: random.Random | None = None, call_id: UUID | None = None,
                 adopted: bool = False, caller_raw: str | None = None) -> None:
        self.id = call_id or uuid4()
        self.caller_raw = caller_raw  # the caller id as delivered, when it had to be cleaned
        self.services = services
        self.caller = caller
        self.dialled = dialled
        self.started_at = started_at
        self.clock = clock or services.now  # aware UTC time, where Asterisk gives none
        self.rng = rng or random.Random()
        self.log = structlog.get_logger("router.call").bind(
            call_id=str(self.id), dialled=dialled, caller=caller.caller.number)
        self.state = CallState(self.log, State.ADOPTING if adopted else State.ROUTING)
        self.outcome: Outcome | None = None
        self.lookup: Lookup | None = None
        self.caller_left_at: datetime | None = None
        self.phone_left_at: datetime | None = None  # the bridged phone hung up
        self.reconciled = False  # its end happened while no router watched
        self.bridge_id: str | None = None
        self.hunt: Hunt | None = None  # the hunting pass under way
        self.hunts = 0
        self.recorder = Recorder(services.store, self.log)
        self.inbox = Inbox(partial(intake.apply, self), self._caller_gone)
        self.media = CallerMedia(self)
        self.legs = Legs(self)
        self._created = self.inbox.time()
        self._dialled_once = False

    @property
    def hotline(self) -> Hotline | None:
        return self.lookup.hotline if self.lookup else None

    @property
    def ended_at(self) -> datetime | None:
        """When the call ended: the first side to hang up, as Asterisk saw it."""
        ends = [at for at in (self.caller_left_at, self.phone_left_at) if at is not None]
        return min(ends) if ends else None

    def deliver(self, event: CallEvent) -> None:
        """Queue an event for this call (never blocks)."""
        self.inbox.deliver(event)

    # --- the life of the call ---------------------------------------------------

    async def run(self) -> None:
        self.log.info("call started", state=self.state.current)
        await self._guarded(self.route())

    async def adopt(self, legs: Sequence[OpenLeg], channels: Mapping[str, str],
                    lost_at: datetime) -> None:
        """Take back a call that outlived the router watching it."""
        self.log.info("call adopted", legs=len(legs))
        await self._guarded(adoption.resume(self, legs, channels, lost_at))

    async def _guarded(self, life: Coroutine[Any, Any, None]) -> None:
        self.services.registry.own(self.caller.id, self)
        try:
            await life
        except CallerLeft:
            self.outcome = self.outcome or Outcome.ABANDONED
        except (AriError, Unavailable) as exc:  # Asterisk or the database said no
            self.log.warning("call failed", error=str(exc))
            self.outcome = self.outcome or Outcome.FAILED
        except Exception:
            self.log.exception("call failed")
            self.outcome = self.outcome or Outcome.FAILED
        finally:
            await self.finish()

    async def route(self) -> None:
        self.lookup = lookup = await self.services.store.find_hotline(self.dialled,
                                                                      new_call=True)
        hotline = lookup.hotline if lookup else None
        self.recorder.add(CallStarted(self.id, hotline.id if hotline else None, self.dialled,
                                      self.caller.caller.number, self.caller.id,
                                      self.services.router_id, self.started_at,
                                      self.caller_raw))
        if lookup is None or hotline is None:
            self.log.warning("unknown hotline number")
            return await self.announce(Outcome.UNKNOWN_NUMBER)
        if not hotline.enabled:
            self.log.warning("hotline is disabled")
            return await self.announce(Outcome.NOT_IN_SERVICE)
        if await self.services.store.refuses_calls(lookup):
            self.log.warning("hotline balance used up, call refused")
            return await self.announce(Outcome.REFUSED_NO_BALANCE)
        decision = self._decide(hotline)
        if not decision.routes:
            return await self.announce(REFUSALS[decision.result])
        if hotline.plan.sounds.greeting:
            await self.answer_caller()
            await self.media.play(hotline.plan.sounds.greeting)
        group = decision.group
        if decision.menu_id is not None:
            self.state.to(State.MENU)
            await self.answer_caller()
            group = await walk_menu(self, hotline, decision)
        group = group or hotline.default_group()
        winner = await self.hunt_group(lookup, group,
                                       self.inbox.time() + hotline.total_timeout_s)
        if winner is None:
            winner = await self._overflow(hotline, group)
        if winner is None:
            return await self.announce(unanswered_outcome(list(self.legs)))
        await self.connect(winner)
        await self.talk()

    async def talk(self) -> None:
        """Until either side hangs up (or the longest call allowed is over)."""
        try:
            await self.inbox.until(lambda: self.ended_at is not None,
                                   timeout_s=self.services.max_call_s)
        except TimeoutError:
            self.log.warning("longest call allowed is over", max_call_s=self.services.max_call_s)
        self.outcome = Outcome.ANSWERED

    def _decide(self, hotline: Hotline) -> plan.Decision:
        """Where the plan sends this caller; recorded at once, so the call row says why."""
        caller = callers.normalise(self.caller.caller.number)
        where = region.lookup(caller)
        decision = plan.decide(hotline.plan, self.dialled, caller, where,
                               self.services.plan_now())
        self.log.info("plan decided", result=decision.result, reason=decision.reason,
                      caller_region=where.describe())
        self.recorder.add(PlanDecided(self.id, decision.result, decision.reason,
                                      decision.rule_id,
                                      decision.group.name if decision.group else None,
                                      where.describe()))
        return decision

    # --- hunting, and when no phone takes the call --------------------------------

    async def hunt_group(self, lookup: Lookup, group: plan.Group,
                         deadline: float) -> Leg | None:
        """One hunting pass over ``group`` until loop time ``deadline``; the leg
        that answered, or None."""
        ring_plan = await plan_ring(self, lookup, group, first_pass=self.hunts == 0)
        if not ring_plan:
            return None
        hotline = lookup.hotline
        lone = sum(len(wave.phones) for wave in ring_plan) == 1
        ring_s = hotline.total_timeout_s if lone else hotline.ring_timeout_s
        return await self._hunt(waves_of(ring_plan), ring_s, deadline, hotline.max_attempts)

    async def _hunt(self, waves: Sequence[Wave], ring_s: float, deadline: float,
                    max_attempts: int | None,
                    purpose: LegPurpose = LegPurpose.PHONE) -> Leg | None:
        self.hunts += 1
        self.hunt = Hunt(self, self.hunts, waves, ring_s, deadline, max_attempts, purpose)
        try:
            return await self.hunt.run()
        finally:
            self.hunt = None

    async def _overflow(self, hotline: Hotline, group: plan.Group) -> Leg | None:
        if hotline.overflow is Overflow.FORWARD and hotline.overflow_forward_to:
            self.recorder.add(CallOverflow(self.id, OverflowTaken.FORWARD))
            self.log.info("overflow: forwarding", to=hotline.overflow_forward_to)
            return await self._hunt([Wave([Target(hotline.overflow_forward_to)])],
                                    hotline.total_timeout_s,
                                    self.inbox.time() + hotline.total_timeout_s, None,
                                    LegPurpose.OVERFLOW_FORWARD)
        if hotline.overflow is Overflow.QUEUE:
            self.recorder.add(CallOverflow(self.id, OverflowTaken.QUEUE))
            return await wait_for_a_phone(self, hotline, group)
        self.recorder.add(CallOverflow(self.id, OverflowTaken.BUSY))
        return None

    # --- answering and talking ------------------------------------------------------

    async def answer_caller(self) -> None:
        """Answer the caller ourselves (greeting, menu): billing starts here."""
        answered_at = await self.media.answer()
        if answered_at is not None:
            self.recorder.add(CallerAnswered(self.id, answered_at))

    async def seat(self, leg: Leg) -> bool:
        """Bridge the phone that answered with the caller: the phone goes into
        the call's bridge first, and only once it is known to be there is the
        caller answered and added. True when both are in; False when the phone
        left before the caller joined it (a failed attempt, its answer time kept;
        the caller, if answered meanwhile, is not billed for it).

        Raises CallerLeft when the caller hangs up meanwhile, AriError when
        Asterisk refuses the caller's side.
        """
        if leg.timer:
            leg.timer.cancel()
        await self.inbox.until(lambda: leg.in_stasis or leg.result is not None)
        ari = self.services.ari
        bridge_id = str(self.id)
        if self.bridge_id is None:  # one bridge per call, kept for the next phone
            self.bridge_id = bridge_id  # set first: teardown destroys it
            await ari.create_bridge(bridge_id)
        try:
            if leg.result is None:
                await ari.add_to_bridge(bridge_id, [leg.channel_id])
        except AriError as exc:  # the phone's side: it is gone, or not ours to bridge
            await self._lost_before_bridge(leg, exc)
        # Known to be in the bridge once Asterisk says so; a phone that hangs up
        # meanwhile says that first (its events come in order).
        try:
            await self.inbox.until(lambda: leg.in_bridge or leg.result is not None,
                                   timeout_s=HANGUP_WAIT_S)
        except TimeoutError:
            self.log.warning("no word of the phone entering the bridge", phone_id=leg.phone_id)
        await self.inbox.drain()  # a hangup already queued is news for this decision
        if self.caller_left_at is not None:
            raise CallerLeft
        if leg.result is not None:
            return False
        await self.media.stop_music()
        await self.media.answer()
        try:
            await ari.add_to_bridge(bridge_id, [self.caller.id])
        except AriError as exc:
            await self.inbox.drain()
            if self.caller_left_at is not None:
                raise CallerLeft from exc
            raise
        await self.inbox.drain()
        if self.caller_left_at is not None:
            raise CallerLeft
        if leg.result is not None:
            # The phone left in the instant the caller was answered: the caller
            # hears ringing again while the hunt goes on (billed, if at all, from
            # the answer of a phone that talks).
            self.log.warning("phone left as the caller was answered", phone_id=leg.phone_id)
            await self.ari_quietly(ari.remove_from_bridge(bridge_id, [self.caller.id]))
            await self.media.ringback()
            return False
        return True

    async def _lost_before_bridge(self, leg: Leg, error: AriError) -> None:
        """The phone could not be put in the bridge (gone already, 400/404/422):
        wait briefly for its hangup, so the attempt ends at Asterisk's time."""
        self.log.warning("answered phone not bridged", phone_id=leg.phone_id, error=str(error))
        with contextlib.suppress(TimeoutError):
            await self.inbox.until(lambda: leg.result is not None, timeout_s=HANGUP_WAIT_S)
        if leg.result is None:
            await self.legs.end(leg, LegResult.FAILED, self.clock(), hangup="normal")

    async def connect(self, leg: Leg) -> None:
        """The call is answered here: the phone that answered is bridged with
        the caller (:meth:`seat`); record it before the call goes on."""
        assert leg.answered_at is not None
        self.legs.winner = leg
        leg.bridged = True
        # Billing starts at the earlier answer; ours cannot precede the phone's
        # (a greeting or menu answered earlier, and that time is kept).
        caller_answered_at = max(self.clock(), leg.answered_at)
        self.state.to(State.BRIDGED, phone_id=leg.phone_id)
        # Written before the call goes on: a router that dies from here on must
        # find this call bridged when it is adopted, never "still to be routed".
        await self.recorder.add_and_wait(CallBridged(
            self.id, leg.id, leg.answered_at, leg.phone_id, leg.dial_string,
            caller_answered_at))
        self.log.info("call bridged", phone_id=leg.phone_id, dial_string=leg.dial_string)

    async def announce(self, outcome: Outcome) -> None:
        """Tell the unanswered caller why (early media), then hang up."""
        self.outcome = outcome
        self.state.to(State.ANNOUNCING, outcome=outcome)
        sounds = self.hotline.plan.sounds if self.hotline else plan.Sounds()
        kind = ANNOUNCEMENTS[outcome][0]
        chosen: tuple[str, ...] = getattr(sounds, kind) or getattr(plan.Sounds(), kind)
        await self.media.announce(chosen)

    # --- the end ----------------------------------------------------------------------

    async def finish(self) -> None:
        """Hang up what is left, release every claim, and close the records."""
        end = self.ended_at or self.clock()
        outcome = self.outcome or Outcome.FAILED
        await self.legs.end_all(end)
        if self.bridge_id:
            await self.ari_quietly(self.services.ari.destroy_bridge(self.bridge_id))
        if self.caller_left_at is None:
            reason = ANNOUNCEMENTS[outcome][1] if outcome in ANNOUNCEMENTS else "normal"
            await self.ari_quietly(self.services.ari.hangup(self.caller.id, reason))
        await self.recorder.add_and_wait(CallEnded(self.id, end, outcome, self.reconciled))
        await self.recorder.close()
        for channel_id in [self.caller.id, *self.legs.channels()]:
            self.services.registry.disown(channel_id)
        self.state.to(State.ENDED)
        metrics.CALLS.labels(hotline=self.hotline.number if self.hotline else "unknown",
                             outcome=outcome.value).inc()
        winner = self.legs.winner
        self.log.info("call ended", outcome=outcome,
                      answered_by=winner.dial_string if winner else None)

    # --- what the parts tell the call ---------------------------------------------------

    def caller_hung_up(self, at: datetime) -> None:
        if self.caller_left_at is None:
            self.caller_left_at = at
            self.log.info("caller hung up", state=self.state.current)

    def phone_hung_up(self, at: datetime) -> None:
        if self.phone_left_at is None:
            self.phone_left_at = at
            winner = self.legs.winner
            self.log.info("phone hung up", phone_id=winner.phone_id if winner else None)

    def first_dial(self) -> None:
        """A leg was dialled: the first one ends the routing time."""
        if not self._dialled_once:
            self._dialled_once = True
            metrics.ROUTING_SECONDS.observe(self.inbox.time() - self._created)

    def _caller_gone(self) -> bool:
        """The caller left, and that ends what the call waits for (not the talk,
        which waits for it)."""
        return self.caller_left_at is not None and self.state.current is not State.BRIDGED

    async def ari_quietly(self, request: Awaitable[Any]) -> None:
        """An ARI request whose failure must not end the call: logged, unless it
        says the thing is gone already (404, 409, 422)."""
        try:
            await request
        except AriError as exc:
            if exc.status not in (404, 409, 422):
                self.log.warning("ari request failed", error=str(exc))


def start_call(services: Services, channel: ev.Channel, dialled: str,
               at: datetime) -> Call:
    """Take a new inbound call (its StasisStart came at ``at``) and start its life."""
    # Intake: no control character of a caller id reaches a record, a log or a terminal.
    raw = channel.caller.number
    channel.caller.number = callers.sanitise(raw)
    call = Call(services, channel, dialled, started_at=at,
                caller_raw=raw if callers.needs_sanitising(raw) else None)
    # Owned from now: a hangup read in the same burst as the StasisStart queues
    # for the call instead of finding no owner before its task first runs.
    services.registry.own(channel.id, call)
    services.registry.start(call, call.run(), f"call-{call.id}")
    return call

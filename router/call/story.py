"""The life of one inbound hotline call, from its start to its end.

A :class:`Call` reads the events of its own channels, in order, from its
inbox (router/call/events.py); nothing else changes it. Its life, below in
:meth:`Call.route`:

1. look the number up and write the call's record;
2. an unknown number, a disabled hotline, a used-up balance, or a plan that
   refuses or is closed: announce why (early media) and hang up;
3. a greeting is played (early media: the caller is not answered), a voice
   menu walked (it answers the caller: billing starts there);
4. hunt: the group's strategy orders its idle phones into waves, rung while
   the caller hears ringback or the hotline's own (企业彩铃, early media);
   a screened phone confirms with a key first (router/call/screening.py);
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
import dataclasses
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
from router.call import adoption, consultation, intake, screening, transfer, voicemail
from router.call.events import CallerLeft, CallEvent, Inbox
from router.call.first_claim import FirstClaim, claim_at_once
from router.call.hunt import Hunt, Wave, plan_ring, waves_of
from router.call.legs import Leg, Legs, Target, unanswered_outcome
from router.call.media import CallerMedia
from router.call.menu_walk import walk_menu
from router.call.queue import others_waiting, wait_for_a_phone
from router.call.recorder import Recorder
from router.call.recording import CallRecording
from router.call.services import Services
from router.call.states import CallState, State
from router.directory import Hotline, Lookup, Overflow
from router.records.kinds import (
    CallBridged,
    CallEnded,
    CallerAnswered,
    CallOverflow,
    CallStarted,
    EndSource,
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

# How long a call that the router ends waits for Asterisk's hangup event, whose
# time is the call's end (the router's clock only when none comes); also how
# long to wait for word of an answered phone being seated: its hangup when it
# could not be bridged, its entering the bridge when it could.
HANGUP_EVENT_WAIT_S = 1.0
# How long the caller's channel may take to be destroyed after it hung up.
CALLER_GONE_WAIT_S = 0.5

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
        self.caller_gone_at: datetime | None = None  # the caller's channel destroyed
        self.phone_left_at: datetime | None = None  # the bridged phone hung up
        self.reconciled = False  # its end happened while no router watched
        self.bridge_id: str | None = None
        # Asterisk's time of the caller's answer when a phone was seated (UTC).
        self.caller_answered_at: datetime | None = None
        self.hunt: Hunt | None = None  # the hunting pass under way
        self.hunts = 0
        self.transfer: transfer.Request | None = None  # asked by the talking phone
        self.group: plan.Group | None = None  # the group hunted, once the plan chose it
        # The talking phone's consultation call (router/call/consultation.py).
        self.consultation: consultation.Consultation | None = None
        self.recorder = Recorder(services.store, self.log)
        self.recording = CallRecording(self)  # the bridge's recording, if the hotline records
        # The plan's result, its reason and the caller's region, once decided.
        self.decided: tuple[str, str, str] | None = None
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
        self.log.debug("call started", state=self.state.current)
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
        first = await claim_at_once(self)
        if first is not None:
            return await self._route_claimed(first)
        self.lookup = lookup = await self.services.store.find_hotline(self.dialled,
                                                                      new_call=True)
        hotline = lookup.hotline if lookup else None
        self._record_start(hotline)
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
        if decision.result == "closed" and hotline.voicemail.when_closed:
            return await voicemail.take_message(self, hotline, Outcome.CLOSED)
        if not decision.routes:
            return await self.announce(REFUSALS[decision.result])
        if hotline.plan.sounds.greeting:  # heard, not answered: early media, not billed
            await self.media.play(hotline.plan.sounds.greeting)
        # "This call may be recorded": early media too.
        await self.recording.notice(decision.group, menu_first=decision.menu_id is not None)
        group = decision.group
        if decision.menu_id is not None:
            self.state.to(State.MENU)
            await self.answer_caller()
            group = await walk_menu(self, hotline, decision)
        group = self.group = group or hotline.default_group()
        if await others_waiting(self, hotline, group):  # join behind them, do not jump the queue
            self.log.info("callers waiting: joining the queue")
            winner = None
        else:
            winner = await self.hunt_group(lookup, group,
                                           self.inbox.time() + hotline.total_timeout_s)
        await self._after_hunt(hotline, group, winner)

    async def _route_claimed(self, first: FirstClaim) -> None:
        """The common path: the call's first statement claimed its first phones
        (router/call/first_claim.py); ring them, and on as the hunt goes."""
        self.lookup = first.lookup
        self.group = first.group
        hotline = first.lookup.hotline
        self._record_start(hotline)
        if first.lookup.refuses_calls:  # nothing was claimed
            self.log.warning("hotline balance used up, call refused")
            return await self.announce(Outcome.REFUSED_NO_BALANCE)
        self._note_decision(first.decision, first.where)
        winner = None
        try:
            if first.waves:
                winner = await self._hunt(self._screened(first.waves, hotline, first.group),
                                          first.ring_s,
                                          self.inbox.time() + hotline.total_timeout_s,
                                          hotline.max_attempts)
        finally:
            # A claim that never became a leg (the call failed before its
            # first wave rang) is released here; every leg releases its own.
            for wave in first.waves:
                for leg_id in (wave.taken or {}).values():
                    if self.legs.get(str(leg_id)) is None:
                        await self.services.store.release(leg_id, None)
        await self._after_hunt(hotline, first.group, winner)

    def _record_start(self, hotline: Hotline | None) -> None:
        self.recorder.add(CallStarted(self.id, hotline.id if hotline else None, self.dialled,
                                      self.caller.caller.number, self.caller.id,
                                      self.services.router_id, self.started_at,
                                      self.caller_raw))

    async def _after_hunt(self, hotline: Hotline, group: plan.Group, winner: Leg | None) -> None:
        """No phone took the call: the overflow; one did: talk."""
        if winner is None:
            winner = await self._overflow(hotline, group)
        if winner is None and self.state.current is State.VOICEMAIL:
            return  # a message was taken instead
        if winner is None:
            return await self.announce(unanswered_outcome(list(self.legs)))
        await self.connect(winner)
        await self.talk()

    async def talk(self) -> None:
        """Until either side hangs up (or the longest call allowed is over); a
        transfer the phone asks for meanwhile is carried out (router/call/transfer.py),
        a consultation call it places is rung, bridged, and joined with the
        caller or ended (router/call/consultation.py)."""
        deadline = self.inbox.time() + self.services.max_call_s
        while True:
            try:
                await self.inbox.until(
                    lambda: self.ended_at is not None or self.transfer is not None
                    or (self.consultation is not None and self.consultation.due()),
                    timeout_s=max(0.0, deadline - self.inbox.time()))
            except TimeoutError:
                self.log.warning("longest call allowed is over",
                                 max_call_s=self.services.max_call_s)
                break
            if self.ended_at is not None:
                break
            if self.transfer is not None:
                goes_on = await transfer.carry_out(self)
            else:
                goes_on = await consultation.step(self)
            if not goes_on:
                break
        self.outcome = Outcome.ANSWERED

    def _decide(self, hotline: Hotline) -> plan.Decision:
        """Where the plan sends this caller; recorded at once, so the call row says why."""
        decision, where = self.plan_decision(hotline)
        self._note_decision(decision, where)
        return decision

    def plan_decision(self, hotline: Hotline) -> tuple[plan.Decision, region.Region]:
        """Where the plan sends this caller, and the caller's region (pure)."""
        caller = callers.normalise(self.caller.caller.number)
        where = region.lookup(caller)
        return plan.decide(hotline.plan, self.dialled, caller, where,
                           self.services.plan_now()), where

    def _note_decision(self, decision: plan.Decision, where: region.Region) -> None:
        """Log (debug; the call's end line repeats it) and record the plan's decision."""
        self.decided = (decision.result, decision.reason, where.describe())
        self.log.debug("plan decided", result=decision.result, reason=decision.reason,
                       caller_region=self.decided[2])
        self.recorder.add(PlanDecided(self.id, decision.result, decision.reason,
                                      decision.rule_id,
                                      decision.group.name if decision.group else None,
                                      self.decided[2], self.started_at))

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
        return await self._hunt(self._screened(waves_of(ring_plan), hotline, group), ring_s,
                                deadline, hotline.max_attempts)

    def _screened(self, waves: list[Wave], hotline: Hotline, group: plan.Group) -> list[Wave]:
        """Each phone's screen (confirm key, whisper) and the caller id it is shown."""
        keys = {p.phone_id: p.confirm_key for p in hotline.phones}
        shown: tuple[str, str] | None = screening.caller_id_for(
            hotline.screening, group, self.caller.caller.number, self.dialled)
        if shown == (self.caller.caller.number or "anonymous", self.dialled):
            shown = None  # the caller's own, as a dial from the caller gives it
        return [dataclasses.replace(wave, targets=[dataclasses.replace(
            t, screen=screening.screen_for(hotline.screening, group,
                                           keys.get(t.phone_id) if t.phone_id else None),
            caller_id=shown) for t in wave.targets]) for wave in waves]

    async def _hunt(self, waves: Sequence[Wave], ring_s: float, deadline: float,
                    max_attempts: int | None, purpose: LegPurpose = LegPurpose.PHONE,
                    seat: Callable[[Leg], Awaitable[bool]] | None = None) -> Leg | None:
        self.hunts += 1
        self.hunt = Hunt(self, self.hunts, waves, ring_s, deadline, max_attempts, purpose,
                         seat)
        try:
            return await self.hunt.run()
        finally:
            self.hunt = None

    async def _overflow(self, hotline: Hotline, group: plan.Group) -> Leg | None:
        if hotline.overflow is Overflow.FORWARD and hotline.overflow_forward_to:
            self.recorder.add(CallOverflow(self.id, OverflowTaken.FORWARD, self.started_at))
            return await self._forward(hotline)
        if hotline.overflow is Overflow.VOICEMAIL:
            self.recorder.add(CallOverflow(self.id, OverflowTaken.VOICEMAIL, self.started_at))
            await voicemail.take_message(self, hotline, unanswered_outcome(list(self.legs)))
            return None
        if hotline.overflow is Overflow.QUEUE:
            self.recorder.add(CallOverflow(self.id, OverflowTaken.QUEUE, self.started_at))
            winner = await wait_for_a_phone(self, hotline, group)
            # The queue was full or the wait is over: the hotline's queue_overflow
            # ('busy': the caller hears the busy announcement, below).
            if winner is None and hotline.queue.overflow == "forward" \
                    and hotline.overflow_forward_to:
                return await self._forward(hotline)
            if winner is None and hotline.queue.overflow == "voicemail" \
                    and self.caller_left_at is None:
                await voicemail.take_message(self, hotline, unanswered_outcome(list(self.legs)))
            return winner
        self.recorder.add(CallOverflow(self.id, OverflowTaken.BUSY, self.started_at))
        return None

    async def _forward(self, hotline: Hotline) -> Leg | None:
        """Ring the hotline's forward number (overflow, or after the queue)."""
        self.log.info("overflow: forwarding", to=hotline.overflow_forward_to)
        return await self._hunt([Wave([Target(hotline.overflow_forward_to or "")])],
                                hotline.total_timeout_s,
                                self.inbox.time() + hotline.total_timeout_s, None,
                                LegPurpose.OVERFLOW_FORWARD)

    # --- answering and talking ------------------------------------------------------

    async def answer_caller(self) -> None:
        """Answer the caller ourselves (a voice menu): billing starts here, at
        Asterisk's time of the answer (as its CDR counts), our clock's if its
        event is late."""
        answered_at = await self.media.answer()  # Asterisk's time (media.answer)
        if answered_at is not None:
            self.recorder.add(CallerAnswered(self.id, answered_at, self.started_at))

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
                                   timeout_s=HANGUP_EVENT_WAIT_S)
        except TimeoutError:
            self.log.warning("no word of the phone entering the bridge", phone_id=leg.phone_id)
        await self.inbox.drain()  # a hangup already queued is news for this decision
        if leg.result is None and self.caller_left_at is None and self.services.seat_guard_s:
            # Some phones and carrier services answer and hang up at once (BYE
            # 1 ms after the 200, tests/e2e/cases/phone-answers-then-bye.xml);
            # Asterisk tells of it a few ms after the phone entered the bridge.
            # The caller is answered only for a phone that stayed (seat_guard_s).
            await self.inbox.settle(
                lambda: leg.result is not None or self.caller_left_at is not None,
                timeout_s=self.services.seat_guard_s)
        if self.caller_left_at is not None:
            raise CallerLeft
        if leg.result is not None:
            return False
        await self.media.stop_music()
        # Asterisk's time of the caller's answer; None: answered earlier (a
        # voice menu, or a phone that left as it was seated). Billing starts
        # here (CallBridged, in connect).
        ours = await self.media.answer()
        if ours is not None:
            self.caller_answered_at = ours
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
            await self.inbox.until(lambda: leg.result is not None, timeout_s=HANGUP_EVENT_WAIT_S)
        if leg.result is None:
            await self.legs.end(leg, LegResult.FAILED, self.clock(), hangup="normal")

    async def connect(self, leg: Leg) -> None:
        """The call is answered here: the phone that answered is bridged with
        the caller (:meth:`seat`); record it before the call goes on."""
        assert leg.answered_at is not None
        self.legs.winner = leg
        leg.bridged = True
        # Billing starts when the caller is answered (docs/billing.md, one
        # rule): a voice menu's earlier answer is kept (the record keeps the
        # first); else Asterisk's time of the answer in seat, never before the
        # phone's answer, or its confirmation key when it was screened.
        talk_from = leg.ready_at or leg.answered_at
        billed_from = max(self.caller_answered_at or talk_from, talk_from)
        self.state.to(State.BRIDGED, phone_id=leg.phone_id)
        # Written before the call goes on: a router that dies from here on must
        # find this call bridged when it is adopted, never "still to be routed".
        await self.recorder.add_and_wait(CallBridged(
            self.id, leg.id, leg.answered_at, leg.phone_id, leg.dial_string,
            billed_from, leg.confirmed_at, self.started_at))
        self.log.debug("call bridged", phone_id=leg.phone_id, dial_string=leg.dial_string)
        self.recording.start(self.group)  # beside the call: a failure never fails it

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
        """Hang up what is left, release every claim, and close the records.

        Never stops halfway: a step that fails (Asterisk, the database, the
        disk) is logged and the next one runs, and the call always leaves the
        registry. The store never loses a record or a release (router/store.py).
        """
        if self.caller_left_at is not None and not self.reconciled:
            # A caller who hung up ends the call when Asterisk destroys its
            # channel: the moment its CDR ends (a prompt playing delays it a
            # few ms after the hangup request).
            await self.inbox.settle(lambda: self.caller_gone_at is not None,
                                    timeout_s=CALLER_GONE_WAIT_S)
            if self.caller_gone_at is not None:
                self.caller_left_at = max(self.caller_left_at, self.caller_gone_at)
        outcome = self.outcome or Outcome.FAILED
        # Who hung up first, before the router hangs up what is left.
        ended_by = ("router" if self.ended_at is None else
                    "caller" if self.ended_at == self.caller_left_at else "phone")
        try:
            await self._step("hang up the caller", self._end_caller(outcome))
            if self.consultation is not None:  # never outlives the call
                await self._step("end the consultation", consultation.finish(self))
            # Asterisk's time of the first hangup where it gave one (phone or
            # caller); the router's clock only when it has none.
            end = self.ended_at or self.clock()
            source = (EndSource.LAST_KNOWN if self.reconciled else
                      EndSource.ASTERISK if self.ended_at is not None else EndSource.ROUTER_CLOCK)
            await self._step("end the legs", self.legs.end_all(end))
            if self.bridge_id:
                await self._step("destroy the bridge",
                                 self.ari_quietly(self.services.ari.destroy_bridge(self.bridge_id)))
            self.recording.finish()  # the bridge's end ended its recording: store it
            await self._step("close the record", self.recorder.add_and_wait(
                CallEnded(self.id, end, outcome, self.reconciled, source,
                          recorded=self.recording.asked, call_started_at=self.started_at)))
            await self._step("stop the recorder", self.recorder.close())
        finally:
            for channel_id in [self.caller.id, *self.legs.channels()]:
                self.services.registry.disown(channel_id)
        self.state.to(State.ENDED)
        # A consultation call handed over as the call ended: refused, never
        # left in the application (none is handed over from now on).
        await self._step("refuse late consultations", consultation.refuse_late(self))
        metrics.CALLS.labels(hotline=self.hotline.number if self.hotline else "unknown",
                             outcome=outcome.value).inc()
        self._log_end(outcome, ended_by)

    def _log_end(self, outcome: Outcome, ended_by: str) -> None:
        """The call's one line at the info level: how it ended, what the plan
        decided and why (``plan``, ``reason``, ``caller_region``), who answered,
        how many legs it rang (``rung``), who hung up first (``ended_by``:
        caller, phone, or router), and its times in ms from the caller's
        arrival, as Asterisk gave them: until the caller was answered, and until
        its end. The steps on the way are debug lines."""
        winner = self.legs.winner
        result, reason, caller_region = self.decided or (None, None, None)

        def ms_from_start(at: datetime | None) -> int | None:
            return None if at is None else max(0, int((at - self.started_at).total_seconds()
                                                      * 1000))

        self.log.info("call ended", outcome=outcome, plan=result, reason=reason,
                      caller_region=caller_region,
                      answered_by=winner.dial_string if winner else None,
                      phone_id=winner.phone_id if winner else None, rung=len(self.legs),
                      ended_by=ended_by, answered_ms=ms_from_start(self.caller_answered_at),
                      duration_ms=ms_from_start(self.ended_at or self.clock()))

    async def _end_caller(self, outcome: Outcome) -> None:
        """Hang the caller up unless it left, and learn Asterisk's time of it
        (the end of the call, for billing) when no side hung up before."""
        if self.caller_left_at is not None:
            return
        reason = ANNOUNCEMENTS[outcome][1] if outcome in ANNOUNCEMENTS else "normal"
        try:
            await self.services.ari.hangup(self.caller.id, reason)
        except AriError as exc:
            if exc.status not in (404, 409, 422):
                self.log.warning("ari request failed", error=str(exc))
            return
        if self.ended_at is None:
            with contextlib.suppress(CallerLeft, TimeoutError):
                await self.inbox.until(lambda: self.caller_left_at is not None,
                                       timeout_s=HANGUP_EVENT_WAIT_S)

    async def _step(self, what: str, work: Awaitable[Any]) -> None:
        """One step of the teardown: a failure is logged, the teardown goes on."""
        try:
            await work
        except Exception:
            metrics.TEARDOWN_ERRORS.labels(step=what).inc()
            self.log.exception("teardown step failed, going on", step=what)

    # --- what the parts tell the call ---------------------------------------------------

    def caller_hung_up(self, at: datetime, gone: bool = False) -> None:
        """The caller hung up (first word of it at ``at``); ``gone``: its
        channel is destroyed, at ``at``."""
        if gone and self.caller_gone_at is None:
            self.caller_gone_at = at
        if self.caller_left_at is None:
            self.caller_left_at = at
            self.log.debug("caller hung up", state=self.state.current)

    def phone_hung_up(self, at: datetime) -> None:
        if self.phone_left_at is None:
            self.phone_left_at = at
            winner = self.legs.winner
            self.log.debug("phone hung up", phone_id=winner.phone_id if winner else None)

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

"""Ring attempts: one leg per phone rung, from its claim to its end.

:func:`read_event` is pure: a leg and one ARI event of its channel in, what
that event means for the leg out (it entered Stasis, it answered, it ended
with a result, or — once bridged — the phone hung up). :class:`Legs` is the
thin I/O shell around it: it claims the phone, creates and dials the channel,
and on every path ends a leg the same way (hang up if asked, release the
claim, write the record).

A phone that answers is not yet a phone that talks: until it is in the bridge
with the caller, its hangup ends it as a failed attempt (its answer time
kept), and only a leg that was bridged counts talk time for its phone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from router import metrics
from router.ari import AriError
from router.ari import events as ev
from router.call.events import RingTimeout
from router.records.kinds import LegEnded, LegPurpose, LegResult, LegStarted, Outcome

if TYPE_CHECKING:
    from router.call.screening import Screen
    from router.call.story import Call

# Dial event statuses, and Q.850 causes when a leg ends with no Dial status.
# Asterisk's own cause on a dial timeout is unreliable (0): our ring timer
# decides "no answer".
DIALSTATUS = {"BUSY": LegResult.BUSY, "NOANSWER": LegResult.NO_ANSWER,
              "CHANUNAVAIL": LegResult.FAILED, "CONGESTION": LegResult.FAILED,
              "CANCEL": LegResult.CANCELLED, "DONTCALL": LegResult.FAILED,
              "TORTURE": LegResult.FAILED, "INVALIDARGS": LegResult.FAILED}
CAUSES = {17: LegResult.BUSY, 18: LegResult.NO_ANSWER, 19: LegResult.NO_ANSWER}

# The channel variable naming the bound phone a leg rings (ari.conf channelvars
# shows it in every channel's JSON).
PHONE_VARIABLE = "HOTLINE_PHONE_ID"

# How long a created channel may take to enter Stasis before it counts as failed.
STASIS_WAIT_S = 5.0


@dataclass
class Leg:
    """One ring attempt: a channel to one phone (or to the overflow number)."""

    id: UUID
    phone_id: int | None
    dial_string: str
    wave: int
    dial_started_at: datetime
    purpose: LegPurpose = LegPurpose.PHONE
    claimed: bool = False    # holds a call slot of its phone
    in_stasis: bool = False  # its channel is in our application (it may be dialled)
    answered_at: datetime | None = None
    confirmed_at: datetime | None = None  # pressed the confirm key (screened calls)
    # Ready to be bridged: its answer, or when screened its confirmation (or
    # the whisper's end); billing starts here (router/call/screening.py).
    ready_at: datetime | None = None
    in_bridge: bool = False  # Asterisk said it entered the call's bridge
    bridged: bool = False    # in the bridge with the caller: the phone talked
    result: LegResult | None = None
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)
    screen: Screen | None = None  # what it hears and must press before the bridge
    caller_id: tuple[str, str] | None = None  # (number, name) presented to the phone
    screen_playback: str | None = None  # the whisper/prompt playing to it

    @property
    def channel_id(self) -> str:
        return str(self.id)

    @property
    def ringing(self) -> bool:
        return self.result is None and self.answered_at is None

    @property
    def confirming(self) -> bool:
        """Answered, screened, and not yet ready to be bridged."""
        return self.result is None and self.answered_at is not None and self.ready_at is None

    @property
    def ready(self) -> bool:
        """May be bridged with the caller: it answered (and confirmed, when screened)."""
        return self.result is None and self.ready_at is not None


@dataclass(frozen=True)
class Target:
    """Something to ring: a bound phone (claimed first) or the overflow number."""

    dial_string: str
    phone_id: int | None = None
    capacity: int = 1
    screen: Screen | None = None
    caller_id: tuple[str, str] | None = None  # (number, name); None: the caller's, the 400's


# --- what an event means for a leg (pure) ---------------------------------------


@dataclass(frozen=True)
class EnteredStasis:
    pass


@dataclass(frozen=True)
class EnteredBridge:
    pass


@dataclass(frozen=True)
class Answered:
    at: datetime


@dataclass(frozen=True)
class Ended:
    result: LegResult
    at: datetime
    cause: int | None = None


@dataclass(frozen=True)
class PhoneLeft:
    """The bridged phone hung up."""

    at: datetime


LegChange = EnteredStasis | EnteredBridge | Answered | Ended | PhoneLeft


def read_event(leg: Leg, event: ev.AnyEvent | ev.OtherEvent, bridged: bool) -> LegChange | None:
    """What ``event`` of the leg's channel means; None when nothing changes.

    ``bridged``: the leg is the one bridged with the caller.
    """
    if isinstance(event, ev.StasisStart):
        return EnteredStasis()
    if isinstance(event, ev.ChannelEnteredBridge):
        return EnteredBridge()
    if isinstance(event, ev.Dial):
        if event.dialstatus == "ANSWER":
            return _answered(leg, event.at)
        if event.dialstatus in DIALSTATUS and leg.ringing:
            return Ended(DIALSTATUS[event.dialstatus], event.at)
        return None
    if isinstance(event, ev.ChannelStateChange):
        return _answered(leg, event.at) if event.channel.state == "Up" else None
    if isinstance(event, ev.ChannelHangupRequest | ev.ChannelDestroyed):
        if bridged:
            return PhoneLeft(event.at)
        if leg.confirming and leg.screen is not None:  # hung up instead of confirming
            return Ended(LegResult.UNCONFIRMED, event.at, event.cause)
        if leg.ringing:
            return Ended(CAUSES.get(event.cause, LegResult.FAILED), event.at, event.cause)
        if leg.result is None:  # it answered, and left before it was bridged with the caller
            return Ended(LegResult.FAILED, event.at, event.cause)
    return None


def _answered(leg: Leg, at: datetime) -> Answered | None:
    return Answered(at) if leg.result is None and leg.answered_at is None else None


def unanswered_outcome(legs: Sequence[Leg]) -> Outcome:
    """The outcome of a call no phone took, from how its legs ended."""
    results = {leg.result for leg in legs}
    if not results or results <= {LegResult.BUSY}:
        return Outcome.BUSY
    if results & {LegResult.NO_ANSWER, LegResult.UNCONFIRMED}:  # nobody took it
        return Outcome.NO_ANSWER
    if LegResult.BUSY in results:
        return Outcome.BUSY
    return Outcome.FAILED


# --- the call's legs (I/O) ----------------------------------------------------------


class Legs:
    """Every leg of one call, by channel id, and the one bridged (``winner``)."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.by_channel: dict[str, Leg] = {}
        self.winner: Leg | None = None
        self.waves = 0  # waves rung so far; a leg records the wave it belongs to

    def __iter__(self) -> Iterator[Leg]:
        return iter(list(self.by_channel.values()))

    def __len__(self) -> int:
        return len(self.by_channel)

    def get(self, channel_id: str) -> Leg | None:
        return self.by_channel.get(channel_id)

    def add(self, leg: Leg) -> None:
        """Own a leg (a new one, or one adopted from the records)."""
        self.by_channel[leg.channel_id] = leg
        self.call.services.registry.own(leg.channel_id, self.call)

    async def claim(self, target: Target, purpose: LegPurpose) -> Leg | None:
        """A new leg for ``target``, its phone claimed and its record written;
        None when the phone is busy (its claim refused)."""
        call = self.call
        leg_id = uuid4()
        if target.phone_id is not None and not await call.services.store.claim(
                target.phone_id, target.capacity, leg_id, call.id):
            call.log.debug("phone busy, skipped", phone_id=target.phone_id)
            return None
        return self.taken(target, leg_id, purpose)

    async def claim_first(self, targets: Sequence[Target], purpose: LegPurpose,
                          pick: int | None = None) -> list[Leg]:
        """Legs for the first ``pick`` targets (None: all) whose phones can be
        claimed, in the targets' order; busy phones are skipped.

        Several phones are claimed in one statement (the store's
        ``claim_in_order``); one at a time while the database is away, and for
        a target that is no bound phone (nothing to claim).
        """
        call = self.call
        wanted = len(targets) if pick is None else pick
        phones = [t for t in targets if t.phone_id is not None]
        if wanted > 0 and len(phones) == len(targets) and (len(phones) > 1 or pick is not None):
            got = await call.services.store.claim_in_order(
                [(t.phone_id, t.dial_string) for t in phones if t.phone_id is not None],
                call.id, wanted)
            if got is not None:
                by_phone = {t.phone_id: t for t in targets}
                legs = [self.taken(by_phone[p.phone_id], p.leg_id, purpose)
                        for p in got.claimed if p.leg_id is not None]
                if len(legs) < wanted:
                    call.log.debug("phones busy, skipped",
                                   claimed=[p.phone_id for p in got.claimed],
                                   listed=len(targets))
                return legs
        # One by one: the list may hold every member of the group (the
        # one-statement path orders them all), so the phones this router knows
        # to be paused, signed out or offline are left out here, as a lookup's
        # idle candidates would have left them out.
        store = call.services.store
        legs = []
        for target in targets:
            if len(legs) >= wanted:
                break
            if target.phone_id is not None and not store.may_offer(target.phone_id,
                                                                   target.dial_string):
                continue
            if (leg := await self.claim(target, purpose)) is not None:
                legs.append(leg)
        return legs

    def taken(self, target: Target, leg_id: UUID, purpose: LegPurpose) -> Leg:
        """The leg of a target whose phone ``leg_id`` claimed (or of a target
        that is no bound phone), its record written."""
        call = self.call
        leg = Leg(id=leg_id, phone_id=target.phone_id, dial_string=target.dial_string,
                  wave=self.waves, dial_started_at=call.clock(), purpose=purpose,
                  claimed=target.phone_id is not None, screen=target.screen,
                  caller_id=target.caller_id)
        self.add(leg)
        call.recorder.add(LegStarted(leg.id, call.id, leg.phone_id, leg.dial_string, leg.wave,
                                     leg.dial_started_at, purpose, call.started_at))
        return leg

    async def create_channel(self, leg: Leg) -> None:
        """Create the leg's channel in our application (not dialled yet: a
        channel accepts /dial only after its own StasisStart)."""
        call = self.call
        number, name = leg.caller_id or (call.caller.caller.number or "anonymous", call.dialled)
        variables = {"CALLERID(num)": number, "CALLERID(name)": name}
        if leg.caller_id is not None:
            # The From of an outbound PJSIP call is its connected line, which a
            # dial with a caller copies from the caller: set it, dial without.
            variables |= {"CONNECTEDLINE(num,i)": number, "CONNECTEDLINE(name,i)": name}
        if leg.phone_id is not None:  # busy state Asterisk can tell (router/store.py)
            variables[PHONE_VARIABLE] = str(leg.phone_id)
        # Its REFERs come to the router (imported here: transfer rings legs too).
        from router.call.transfer import channel_variables
        variables |= channel_variables(leg.dial_string)
        try:
            await call.services.ari.create_channel(
                leg.dial_string, call.services.app, leg.channel_id, originator=call.caller.id,
                variables=variables)
        except AriError as exc:
            call.log.warning("channel create failed", phone_id=leg.phone_id, error=str(exc))
            await self.end(leg, LegResult.FAILED, call.clock())

    async def dial(self, legs: Sequence[Leg], ring_s: float) -> None:
        """Dial the created ``legs`` once each is in Stasis; each rings for ``ring_s``."""
        call = self.call
        created = [leg for leg in legs if leg.result is None]
        with contextlib.suppress(TimeoutError):
            await call.inbox.until(lambda: all(leg.in_stasis or leg.result for leg in created),
                                   timeout_s=STASIS_WAIT_S)
        for leg in created:
            if leg.result is not None:
                continue
            if not leg.in_stasis:
                call.log.warning("leg channel never entered Stasis", phone_id=leg.phone_id)
                await self.end(leg, LegResult.FAILED, call.clock(), hangup="normal")
                continue
            try:
                await call.services.ari.dial(
                    leg.channel_id, caller=call.caller.id if leg.caller_id is None else None,
                    timeout_s=int(ring_s) + 5)
            except AriError as exc:
                call.log.warning("dial failed", phone_id=leg.phone_id, error=str(exc))
                await self.end(leg, LegResult.FAILED, call.clock(), hangup="normal")
                continue
            leg.timer = call.inbox.after(ring_s, RingTimeout(leg.id))
            call.first_dial()
            call.log.debug("leg dialled", phone_id=leg.phone_id, wave=leg.wave,
                          leg_id=str(leg.id), ring_s=ring_s)

    def answered(self, leg: Leg, at: datetime) -> None:
        leg.answered_at = at
        if leg.screen is None:
            leg.ready_at = at
        self.call.log.debug("phone answered", phone_id=leg.phone_id)

    async def ring_timeout(self, leg_id: UUID) -> None:
        leg = self.by_channel.get(str(leg_id))
        if leg is not None and leg.ringing:
            self.call.log.debug("ring timeout", phone_id=leg.phone_id)
            await self.end(leg, LegResult.NO_ANSWER, self.call.clock(), hangup="no_answer")

    async def end(self, leg: Leg, result: LegResult, at: datetime, cause: int | None = None,
                  hangup: str | None = None) -> None:
        """Close one ring attempt: hang it up if asked, free the phone, record it.

        ``at`` is when it ended (Asterisk's time where it gave one); ``hangup``
        the reason to hang the channel up with, None when it is gone already.
        """
        if leg.result is not None:
            return
        call = self.call
        leg.result = result
        if leg.timer:
            leg.timer.cancel()
        if hangup is not None:
            await call.ari_quietly(call.services.ari.hangup(leg.channel_id, hangup))
        if leg.claimed:
            leg.claimed = False
            talk_ms = None  # a phone that never talked has no call to count today
            talked_from = leg.ready_at or leg.answered_at  # a screened phone: its key
            if leg.bridged and talked_from is not None:
                talk_ms = max(0, int((at - talked_from).total_seconds() * 1000))
            try:
                await call.services.store.release(leg.id, talk_ms)
            except Exception:  # the store keeps what it could not write; the leg ends
                call.log.exception("claim release failed", phone_id=leg.phone_id)
        # A phone's own answer is kept also when it never reached the caller
        # (the winner's is recorded with the bridge: CallBridged).
        call.recorder.add(LegEnded(leg.id, at, result, cause,
                                   leg.answered_at if leg is not self.winner else None,
                                   call.started_at))
        metrics.RING_ATTEMPTS.labels(result=result.value).inc()
        call.log.debug("leg ended", phone_id=leg.phone_id, result=result)

    async def cancel_ringing(self, legs: Sequence[Leg], result: LegResult, reason: str,
                             keep: Leg | None = None) -> None:
        """End every leg of ``legs`` still open but ``keep``, hanging it up with ``reason``.

        A screened phone still confirming when time is up did not confirm
        (``unconfirmed``); one still confirming when another won is cancelled.
        """
        for leg in legs:
            if leg is not keep and leg.result is None:
                ended = (LegResult.UNCONFIRMED if result is LegResult.NO_ANSWER and leg.confirming
                         else result)
                await self.end(leg, ended, self.call.clock(), hangup=reason)

    async def end_all(self, at: datetime) -> None:
        """Teardown: the bridged leg ends answered at ``at``, any other still
        open is cancelled (hung up, or the phone rings on after the call); one
        that answered as the call ended (the caller left at that moment) ends
        answered, with its answer time and no talk."""
        for leg in self:
            if leg.timer:
                leg.timer.cancel()
            if leg is self.winner:  # hung up unless the phone did it
                gone = self.call.phone_left_at is not None
                await self.end(leg, LegResult.ANSWERED, at, hangup=None if gone else "normal")
            elif leg.result is None:
                result = LegResult.CANCELLED if leg.answered_at is None else LegResult.ANSWERED
                await self.end(leg, result, max(at, leg.answered_at or at), hangup="normal")

    def channels(self) -> list[str]:
        return list(self.by_channel)

"""Consultation calls and attended transfers by the agent (REFER with Replaces).

The phone talking with a hotline caller puts it on hold and dials a colleague
(a consultation call): a bound phone's label or SIP user, a group of the
hotline, or an outside number the hotline allows — the targets of a blind
transfer (router/call/transfer.py ``resolve``). Bound phones' calls enter
``[from-phones]`` (dialplan/extensions.conf), which sends what is not a
feature code to ``[phone-consult]``: into the router's application with the
argument ``consult``. The router (:func:`offer`) finds the live call whose
talking phone placed it — by the endpoint the call came in on, or for a phone
dialled through the generic endpoint by the address it came from, as feature
codes are recognised (router/presence.py) — and hands the channel to that
call. A consultation from a phone in no hotline call, a second one, or to a
target the hotline does not have, is refused: the phone hears the error tone
(``[phone-consult-refused]``) and the reason is logged in one line.

The call rings the target as a leg of its own (purpose ``consult``, claimed
like any leg: never above capacity, released on every path; a group is
hunted by its rule), while the agent hears ringback on the consultation call.
When the target answers, the consultation call is answered and the two are
bridged in a bridge of their own; the caller stays in the call's bridge,
hearing the agent's hold (Asterisk plays music on hold to it when the phone
holds; chan_pjsip).

Then, the agent either

* transfers: a REFER with Replaces on either of its two calls (RFC 3891,
  RFC 5589 §7). With ARI transfer handling Asterisk raises ``ChannelTransfer``
  naming the call to be replaced (``refer_to.destination_channel``; its SIP
  Call-ID in ``requested_destination.protocol_id``; docs.asterisk.org,
  "Introduction to ARI Transfer Handling"). The target leaves the
  consultation bridge for the caller's, the phone is told NOTIFY 200
  (``transfer_progress`` ``channel_answered``) and both its calls are hung
  up: its leg ends ``transferred``, its claim released; the target's leg is
  the talking leg from then on. A REFER sent while the target still rings
  (semi-attended) joins the caller to it when it answers (NOTIFY 503 when
  nobody does, and the agent keeps the caller; a phone that hung up after
  its REFER has left the caller waiting with music, and the call ends);
* hangs up the consultation call, or the target does: the consultation ends
  (the target's leg ``answered``, or ``cancelled`` while it rang) and the
  agent takes the caller back from hold;
* hangs up the caller's call while consulting (phones that "transfer on
  hangup" without a REFER do this): the caller is handed over to the
  target, at once when it answered, when it answers otherwise, with music
  meanwhile — as Asterisk's own attended transfer completes when the
  transferer hangs up (docs.asterisk.org, "Feature Code Call Transfers").
  When the target never answers, or leaves first, the call ends.

The caller hanging up ends the call, and the consultation with it: the agent's
consultation call and the target are hung up (the consultation is a leg of the
hotline call and never outlives it). Billing runs from the caller's answer to
the caller's end, one call, whatever happened in between.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import structlog

from router import metrics
from router.ari import AriError
from router.ari import events as ev
from router.call import transfer
from router.call.events import CallerLeft, ConsultationAsked
from router.call.hunt import Wave
from router.call.legs import Leg
from router.call.states import State
from router.presence import address_of, endpoint_of
from router.records.kinds import LegPurpose, LegResult, Outcome, TransferConnected

if TYPE_CHECKING:
    from router.call.registry import CallRegistry
    from router.call.story import Call

log = structlog.get_logger("router.call")

# The dialplan context consultation calls enter the application from, the
# argument they carry, and where a refused one hears the error tone
# (dialplan/extensions.conf).
CONTEXT = "phone-consult"
ARGUMENT = "consult"
REFUSED_CONTEXT = "phone-consult-refused"
REFUSED_EXTEN = "refused"

_PLAIN = re.compile(r"[^A-Za-z0-9+*#._-]")


@dataclass
class Handover:
    """The caller is to be joined with the consultation's target: asked by a
    REFER on ``referrer`` (the channel told the outcome), or by the agent
    hanging up the caller's call (``referrer`` None), at ``at`` (Asterisk's time)."""

    referrer: str | None
    at: datetime


@dataclass
class Consultation:
    """The agent's consultation call of one hotline call."""

    channel_id: str    # the consultation call's channel (from the agent's phone)
    agent: Leg         # the agent's leg, talking with the caller
    destination: str   # what the agent dialled (cleaned)
    asked_at: datetime
    sip_call_id: str   # the consultation call's SIP Call-ID (what a Replaces names)
    bridge_id: str = field(default_factory=lambda: str(uuid4()))
    started: bool = False
    bridged: bool = False          # its bridge exists (agent and target talk)
    target: Leg | None = None      # the target that answered
    channel_left_at: datetime | None = None  # the agent hung the consultation up
    handover: Handover | None = None
    caller_waits: bool = False     # the caller is out of the bridge, hearing music

    def due(self) -> bool:
        """Something for the call's talk to do about it."""
        if not self.started:
            return True
        target_gone = self.target is not None and self.target.result is not None
        return (target_gone or (self.handover is not None and self.target is not None)
                or (self.channel_left_at is not None and self.handover is None))


# --- the router's side: which call a consultation belongs to ----------------------


def is_consultation(event: ev.StasisStart) -> bool:
    """Whether a StasisStart is a phone's consultation call ([phone-consult])."""
    dialplan = event.channel.dialplan
    return (bool(event.args) and event.args[0].split(":")[0] == ARGUMENT) \
        or (dialplan is not None and dialplan.context == CONTEXT)


def destination_of(event: ev.StasisStart) -> str:
    """What the phone dialled: the argument after ``consult`` (Stasis gives
    them apart, StasisBroadcast as one ``consult:TARGET``), else the extension."""
    args = [part for arg in event.args for part in arg.split(":")]
    if len(args) >= 2 and args[0] == ARGUMENT:
        return _PLAIN.sub("", args[-1])[:64]
    dialplan = event.channel.dialplan
    return _PLAIN.sub("", dialplan.exten if dialplan else "")[:64]


def talking_calls(registry: CallRegistry, endpoint: str, remote_address: str) -> list[Call]:
    """The live calls whose talking phone is at ``endpoint`` (a phone dialled
    as PJSIP/<endpoint>) or, dialled through the generic endpoint, at
    ``remote_address`` (HOST:PORT): talking with a caller, or consulting.
    A phone of capacity 2 or more may be in several."""
    calls = []
    for call in registry.live():
        leg = call.legs.winner
        if leg is None or leg.result is not None \
                or call.state.current not in (State.BRIDGED, State.CONSULTING):
            continue
        if (endpoint and leg.dial_string == f"PJSIP/{endpoint}") \
                or (remote_address and address_of(leg.dial_string) == remote_address):
            calls.append(call)
    return calls


async def _whose(ari: Any, registry: CallRegistry, channel: ev.Channel) -> list[Call]:
    remote = await ari.get_variable(channel.id, "CHANNEL(pjsip,remote_addr)")
    return talking_calls(registry, endpoint_of(channel.name), remote)


async def wanted(ari: Any, registry: CallRegistry, channel: ev.Channel) -> bool:
    """Whether this router holds the call a broadcast consultation belongs to
    (only that router claims it; no router: the dialplan refuses it)."""
    return bool(await _whose(ari, registry, channel))


async def offer(ari: Any, registry: CallRegistry, channel: ev.Channel, destination: str,
                at: datetime) -> None:
    """A consultation call entered the application: hand it to the call its
    phone talks in (:class:`ConsultationAsked`), or refuse it."""
    try:
        calls = await _whose(ari, registry, channel)
    except AriError as exc:  # the phone hung up already
        log.info("consultation call gone before it was handed over", channel=channel.id,
                 error=str(exc))
        return
    if not calls:
        await refuse_channel(ari, channel.id, destination,
                             "the phone talks with no hotline caller here")
        return
    if len(calls) > 1:
        # A new call (INVITE) does not say which of its calls the phone put on
        # hold: rather refused than consulting for the wrong caller.
        await refuse_channel(ari, channel.id, destination,
                             f"the phone talks in {len(calls)} calls: hang up the others first")
        return
    (call,) = calls
    if call.state.current is State.ENDED:  # it ended while we asked Asterisk
        await refuse_channel(ari, channel.id, destination, "the call it was in has ended")
        return
    # Owned at once, with no await since the last look: the events of the
    # channel reach the call from here on (the service drops those of a
    # channel nobody owns); :func:`asked` checks that it still exists.
    registry.own(channel.id, call)
    call.deliver(ConsultationAsked(channel, destination, at))


async def refuse_channel(ari: Any, channel_id: str, destination: str, reason: str) -> None:
    """Refuse a consultation call: the phone hears the error tone, then is hung up."""
    log.warning("consultation refused", channel=channel_id, to=destination, reason=reason)
    metrics.CONSULTATIONS.labels(result="refused").inc()
    try:
        await ari.continue_in_dialplan(channel_id, REFUSED_CONTEXT, REFUSED_EXTEN)
    except AriError as exc:  # the phone hung up: nothing to hear
        log.info("consultation refusal not played", channel=channel_id, error=str(exc))


# --- the call's side ----------------------------------------------------------------


async def asked(call: Call, event: ConsultationAsked) -> None:
    """The call's phone dialled a consultation (applied in the call's order)."""
    agent = call.legs.winner
    reason = None
    if call.consultation is not None or call.transfer is not None:
        reason = "a consultation or transfer is already under way"
    elif agent is None or agent.result is not None or call.state.current is not State.BRIDGED:
        reason = "the phone is not talking with the caller"
    elif not event.destination:
        reason = "the consultation call names no target"
    if reason is not None:
        call.services.registry.disown(event.channel.id)
        await refuse_channel(call.services.ari, event.channel.id, event.destination, reason)
        return
    assert agent is not None
    try:  # asked after the call owns the channel: a later hangup is an event it sees
        sip_call_id = await call.services.ari.get_variable(event.channel.id,
                                                           "CHANNEL(pjsip,call-id)")
    except AriError as exc:  # hung up before it was the call's: its events were not ours
        call.services.registry.disown(event.channel.id)
        call.log.info("consultation call gone before it was taken", error=str(exc))
        return
    call.log.info("consultation asked", phone_id=agent.phone_id, to=event.destination)
    call.consultation = Consultation(event.channel.id, agent, event.destination, event.at,
                                     sip_call_id)


def channel_left(call: Call, at: datetime) -> None:
    """The agent hung the consultation call up: a target still ringing is
    called off, unless the caller is being handed over to it."""
    consultation = call.consultation
    if consultation is None or consultation.channel_left_at is not None:
        return
    consultation.channel_left_at = at
    call.log.info("consultation call hung up by the phone")
    hunt = call.hunt
    if consultation.handover is None and hunt is not None \
            and hunt.purpose is LegPurpose.CONSULT:
        hunt.abandon()


def is_target(call: Call, leg: Leg) -> bool:
    """Whether ``leg`` is the consultation's answered target (its hangup ends
    it ``answered``: it talked, with the agent)."""
    return call.consultation is not None and call.consultation.target is leg


async def agent_left(call: Call, leg: Leg, at: datetime) -> bool:
    """The agent's phone hung up the caller's call; True when that hands the
    caller over to the consultation's target (else it ends the call): while
    consulting, or after its REFER asked for it (a target still ringing is
    then waited for, the caller hearing music)."""
    consultation = call.consultation
    if consultation is not None and consultation.agent is leg \
            and leg.result is LegResult.TRANSFERRED:
        return True  # handed over already (its hangup request, then its channel's end)
    if consultation is None or consultation.agent is not leg or not consultation.started \
            or (consultation.target is not None and consultation.target.result is not None):
        return False
    handover = consultation.handover
    if handover is not None and handover.referrer is not None:
        # Some phones hang up the caller's call on the 202, before the NOTIFY
        # RFC 5589 §7 has them wait for: the handover goes on without the phone.
        call.log.info("the phone hung up after its transfer: the caller goes to the target",
                      phone_id=leg.phone_id)
    elif handover is None and consultation.channel_left_at is None:
        call.log.info("the phone hung up while consulting: the caller goes to the target",
                      phone_id=leg.phone_id)
        consultation.handover = Handover(None, at)
    else:
        return False
    await call.legs.end(leg, LegResult.TRANSFERRED, at)
    if consultation.target is None and not consultation.caller_waits:
        await _caller_waits(call, consultation)  # it still rings: the caller hears music
    return True


async def referred(call: Call, event: ev.ChannelTransfer) -> None:
    """A REFER with Replaces on one of the agent's two calls: join the caller
    with the consultation's target (now, or when it answers)."""
    consultation = call.consultation
    source = event.referred_by.source_channel.id
    wanted_call = event.refer_to.requested_destination.protocol_id or ""
    replaced = event.refer_to.destination_channel
    reason = None
    if not wanted_call and replaced is None:
        reason = "a blind transfer of a consultation call"
    elif consultation is None or not consultation.started:
        reason = "no consultation call of this phone to join (attended transfer)"
    elif consultation.handover is not None:
        reason = "a transfer of this consultation is already under way"
    elif source not in (consultation.agent.channel_id, consultation.channel_id) \
            or consultation.agent.result is not None:
        reason = "only the phone talking with the caller may transfer it"
    else:
        other = (consultation.channel_id if source == consultation.agent.channel_id
                 else consultation.agent.channel_id)
        named = replaced.id if replaced is not None else None
        by_call_id = source == consultation.agent.channel_id \
            and wanted_call == consultation.sip_call_id
        if named != other and not by_call_id:
            reason = "the REFER replaces a call that is not this phone's consultation"
    if reason is not None:
        call.log.warning("transfer refused", to=_PLAIN.sub("", wanted_call)[:64],
                         reason=reason)
        metrics.TRANSFERS.labels(result="refused").inc()
        await call.ari_quietly(call.services.ari.transfer_progress(source, transfer.DECLINED))
        return
    assert consultation is not None
    call.log.info("attended transfer asked", phone_id=consultation.agent.phone_id,
                  to=consultation.destination, on=source)
    consultation.handover = Handover(source, event.at)


async def step(call: Call) -> bool:
    """Do what the consultation is due for (:meth:`Consultation.due`); whether
    the call goes on (someone talks with, or is about to take, the caller).

    Raises CallerLeft when the caller hangs up meanwhile.
    """
    consultation = call.consultation
    assert consultation is not None
    if not consultation.started:
        return await _start(call, consultation)
    return await _settle(call, consultation)


async def _start(call: Call, consultation: Consultation) -> bool:
    consultation.started = True
    agent = consultation.agent
    call.outcome = Outcome.ANSWERED  # answered already, whatever happens next
    call.state.to(State.CONSULTING, phone_id=agent.phone_id, to=consultation.destination)
    try:
        destination = await transfer.resolve(call, consultation.destination)
    except CallerLeft:
        raise
    except Exception as exc:  # the lookup failed: the call goes on as it was
        call.log.warning("consultation target not resolved",
                         error=str(exc) or type(exc).__name__)
        destination = "the target could not be looked up"
    if not isinstance(destination, str):
        destination = _without(destination, agent)
    if isinstance(destination, str):
        call.services.registry.disown(consultation.channel_id)
        await refuse_channel(call.services.ari, consultation.channel_id,
                             consultation.destination, destination)
        consultation.channel_left_at = call.clock()
        return await _over(call, consultation, refused=True)
    call.log.info("consulting", phone_id=agent.phone_id, to=destination.what)
    # The agent hears ringback on its consultation call until the target answers.
    await call.ari_quietly(call.services.ari.ring(consultation.channel_id))
    await call.inbox.drain()  # a hangup of the consultation call already told
    if consultation.channel_left_at is not None:  # hung up before anyone was rung
        return await _over(call, consultation)
    assert call.hotline is not None
    deadline = call.inbox.time() + call.hotline.total_timeout_s
    target = await call._hunt(destination.waves, destination.ring_s, deadline, None,
                              LegPurpose.CONSULT, seat=partial(_seat, call, consultation))
    if target is None:
        call.log.info("consultation unanswered", phone_id=agent.phone_id)
        return await _over(call, consultation, reason="busy")
    return await _settle(call, consultation)


def _without(destination: transfer.Destination, agent: Leg) -> transfer.Destination | str:
    """The destination without the consulting phone (a group it is in, or
    its own label: it never rings itself), or why nothing is left to ring."""
    waves = [Wave([t for t in wave.targets if t.phone_id != agent.phone_id], wave.delay_s)
             for wave in destination.waves]
    waves = [wave for wave in waves if wave.targets]
    if not waves:
        return f"{destination.what} is only the phone that consults"
    return transfer.Destination(waves, destination.ring_s, destination.what)


async def _seat(call: Call, consultation: Consultation, leg: Leg) -> bool:
    """The consultation's target answered: bridge it with the agent's
    consultation call (or, when the caller is being handed over, keep it for
    the caller). True: it is the target; False: it left first."""
    if leg.timer:
        leg.timer.cancel()
    await call.inbox.until(lambda: leg.in_stasis or leg.result is not None)
    if leg.result is not None:
        return False
    consultation.target = leg
    if consultation.handover is not None or consultation.channel_left_at is not None:
        return True
    ari = call.services.ari
    try:
        await ari.answer(consultation.channel_id)
        await ari.create_bridge(consultation.bridge_id)
        consultation.bridged = True
        await ari.add_to_bridge(consultation.bridge_id, [consultation.channel_id,
                                                         leg.channel_id])
    except AriError as exc:
        # One of the two left meanwhile (its hangup may never be seen): the
        # consultation is over; the agent takes the caller back.
        call.log.info("consultation not bridged", error=str(exc))
        await call.ari_quietly(ari.hangup(consultation.channel_id))
        if consultation.channel_left_at is None:
            consultation.channel_left_at = call.clock()
    else:
        call.log.info("consultation bridged", phone_id=leg.phone_id)
    return True


async def _settle(call: Call, consultation: Consultation) -> bool:
    target = consultation.target
    assert target is not None
    if target.result is not None:
        call.log.info("the consultation's target hung up", phone_id=target.phone_id)
        return await _over(call, consultation)
    if consultation.handover is not None:
        return await _join(call, consultation, target)
    if consultation.channel_left_at is not None:
        return await _over(call, consultation)
    return True


async def _join(call: Call, consultation: Consultation, target: Leg) -> bool:
    """Join the caller with the target in the call's bridge; the agent is done."""
    ari = call.services.ari
    bridge_id = call.bridge_id
    handover = consultation.handover
    assert bridge_id is not None
    assert handover is not None
    assert target.answered_at is not None
    agent = consultation.agent
    if consultation.bridged:
        await call.ari_quietly(ari.remove_from_bridge(consultation.bridge_id,
                                                      [target.channel_id]))
    if agent.result is None:
        await call.ari_quietly(ari.remove_from_bridge(bridge_id, [agent.channel_id]))
    joining = [target.channel_id]
    if consultation.caller_waits:
        await call.media.stop_music()
        joining.append(call.caller.id)
    try:
        await ari.add_to_bridge(bridge_id, joining)
    except AriError as exc:  # the target (or the caller) left in this instant
        call.log.warning("transfer target not joined", error=str(exc))
        await call.inbox.drain()
        if call.caller_left_at is not None:
            raise CallerLeft from exc
        if target.result is None:
            await call.legs.end(target, LegResult.FAILED, call.clock(), hangup="normal")
        return await _over(call, consultation)
    joined_at = call.clock()
    call.legs.winner = target
    target.bridged = True
    call.recorder.add(TransferConnected(call.id, target.id, target.answered_at,
                                        call.started_at))
    if handover.referrer is not None:
        await call.ari_quietly(ari.transfer_progress(handover.referrer, transfer.ANSWERED))
    if agent.result is None:
        await call.legs.end(agent, LegResult.TRANSFERRED, joined_at, hangup="normal")
    _count(consultation)
    await _close(call, consultation)
    call.state.to(State.BRIDGED, phone_id=target.phone_id)
    metrics.TRANSFERS.labels(result="connected").inc()
    # From when the join could first be made: the ask, or a later answer (semi-attended).
    latency_ms = (joined_at - max(handover.at, target.answered_at)).total_seconds() * 1000
    metrics.ATTENDED_JOIN_SECONDS.observe(max(0.0, latency_ms / 1000))
    call.log.info("attended transfer connected", phone_id=target.phone_id,
                  dial_string=target.dial_string, asked_to_joined_ms=round(latency_ms, 1),
                  by="refer" if handover.referrer else "hangup")
    return True


async def _over(call: Call, consultation: Consultation, reason: str = "normal",
                refused: bool = False) -> bool:
    """The consultation ends without a transfer: the agent takes the caller
    back; an agent who already left (a handover nobody took) ends the call."""
    target = consultation.target
    if target is not None and target.result is None:
        await call.legs.end(target, LegResult.ANSWERED, call.clock(), hangup="normal")
    handover = consultation.handover
    if handover is not None and handover.referrer is not None:
        metrics.TRANSFERS.labels(result="unanswered").inc()
        await call.ari_quietly(call.services.ari.transfer_progress(handover.referrer,
                                                                   transfer.UNAVAILABLE))
    if not refused:  # a refusal was counted as it was refused
        _count(consultation, unanswered=reason == "busy")
    await _close(call, consultation, reason)
    if consultation.agent.result is not None:  # the caller waited for nobody
        call.log.info("consultation over, and the phone that consulted left: the call ends")
        return False
    call.state.to(State.BRIDGED, phone_id=consultation.agent.phone_id)
    call.log.info("consultation over: the phone has the caller again",
                  phone_id=consultation.agent.phone_id)
    return True


def _count(consultation: Consultation, unanswered: bool = False) -> None:
    """Count the consultation's one result as it ends: ``answered`` (its
    target answered, whatever followed), ``unanswered`` (nobody did), or
    ``ended`` (the agent or the caller ended it first)."""
    # A hunt called off by the agent hanging up ends as one nobody answered.
    called_off = consultation.channel_left_at is not None and consultation.handover is None
    result = "answered" if consultation.target is not None \
        else "unanswered" if unanswered and not called_off else "ended"
    metrics.CONSULTATIONS.labels(result=result).inc()


async def _caller_waits(call: Call, consultation: Consultation) -> None:
    """The caller, handed over to a target still ringing, waits with music."""
    if call.bridge_id is not None:
        await call.ari_quietly(call.services.ari.remove_from_bridge(call.bridge_id,
                                                                    [call.caller.id]))
    consultation.caller_waits = True
    await call.media.start_music()


async def _close(call: Call, consultation: Consultation, reason: str = "normal") -> None:
    """Hang up the consultation call (with ``reason``) and destroy its bridge
    (quietly: either may be gone); the call no longer owns it."""
    ari = call.services.ari
    if consultation.channel_left_at is None:
        await call.ari_quietly(ari.hangup(consultation.channel_id, reason))
    if consultation.bridged:
        with contextlib.suppress(AriError):
            await ari.destroy_bridge(consultation.bridge_id)
        consultation.bridged = False
    call.services.registry.disown(consultation.channel_id)
    call.consultation = None


async def refuse_late(call: Call) -> None:
    """The call has ended: consultation calls handed to it meanwhile, never
    applied, are refused (the phone hears the error tone)."""
    for late in call.inbox.take(ConsultationAsked):
        call.services.registry.disown(late.channel.id)
        await refuse_channel(call.services.ari, late.channel.id, late.destination,
                             "the call ended before it took the consultation")


async def finish(call: Call) -> None:
    """The call ends with a consultation under way: the agent's consultation
    call is hung up and its bridge destroyed (the target's leg ends with the
    call's legs)."""
    if call.consultation is not None:
        _count(call.consultation)
        await _close(call, call.consultation)

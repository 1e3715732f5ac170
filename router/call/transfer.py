"""Transfers by the agent: the phone talking with a caller passes it on (SIP REFER).

How Asterisk tells of it. Each phone leg's PJSIP channel is created with
``PJSIP_TRANSFER_HANDLING(ari-only)`` (Asterisk 22.3+; docs.asterisk.org,
"Introduction to ARI Transfer Handling"). A REFER from the phone is then not
carried out by Asterisk's core, which would take the caller out of the
router's application into the dialplan (the shipped ``[from-phones]`` context
hangs such calls up: NOTIFY 503). Asterisk answers it 202 and NOTIFY
``100 Trying`` and raises the ARI event ``ChannelTransfer``; the router carries
it out and reports how it went with ``POST /channels/{id}/transfer_progress``
(NOTIFY 200, 503 or 603). The caller never leaves the router's application,
so the call keeps its one record, its claims and its billing.

A blind transfer (:func:`carry_out`): the target the agent keyed in (the user
part of the Refer-To URI) is a bound phone of the same hotline (by its label
or the user part of its SIP dial string), a group of the hotline's plan (by
name, hunted by its rule), or an outside number the hotline allows
(router/transfer_rules.py); anything else is refused (NOTIFY 603) with the
reason logged, and the call goes on as it was. The agent and the caller leave
the bridge, the caller hears music on hold while the target rings (a leg of
purpose ``transfer``, claimed like any leg, so never above capacity). When it
answers it is seated with the caller, the agent hears NOTIFY 200 and is hung
up: its leg ends ``transferred`` and its claim is released. When nobody
answers the agent hears NOTIFY 503 and talks with the caller again; an agent
who hung up meanwhile ends the call. Billing runs on from the caller's answer
to the caller's end, one call.

An attended transfer (REFER with Replaces) joins the caller with the target
of the agent's consultation call, which the router rang as a leg of the same
call: router/call/consultation.py (router/call/intake.py sends it there).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from router import metrics
from router.ari import events as ev
from router.call.events import CallerLeft
from router.call.hunt import Wave, plan_ring, waves_of
from router.call.legs import Leg, Target
from router.call.states import State
from router.records.kinds import LegPurpose, LegResult, Outcome, TransferConnected

if TYPE_CHECKING:
    from router.call.story import Call

# The channel function that hands a PJSIP channel's REFERs to ARI, and its value.
HANDLING_FUNCTION = "PJSIP_TRANSFER_HANDLING()"
ARI_ONLY = "ari-only"

# transfer_progress states (res/ari/resource_channels.c) and the NOTIFY each sends.
ANSWERED = "channel_answered"        # 200 OK: the target talks with the caller
UNAVAILABLE = "channel_unavailable"  # 503: nobody took the call
DECLINED = "channel_declined"        # 603: refused

# What may stand in a target's name in a log line or a dial string.
_PLAIN = re.compile(r"[^A-Za-z0-9+*#._-]")
_SIP_USER = re.compile(r"sips?:([^@;>]+)@")


@dataclass(frozen=True)
class Request:
    """A transfer a phone asked for: ``leg`` is the agent's (the call's bridged
    leg), ``destination`` what it keyed in (cleaned), ``at`` Asterisk's time."""

    leg: Leg
    destination: str
    at: datetime


@dataclass(frozen=True)
class Destination:
    """Where a transfer rings: ``waves`` of targets, each rung ``ring_s``."""

    waves: list[Wave]
    ring_s: float
    what: str  # for the log: "phone 3", "group sales", "outside number"


def channel_variables(dial_string: str) -> dict[str, str]:
    """Variables a new leg's channel is created with so the router, not
    Asterisk's core, carries out its REFERs (PJSIP channels only)."""
    return {HANDLING_FUNCTION: ARI_ONLY} if dial_string.startswith("PJSIP/") else {}


def sip_user(dial_string: str) -> str | None:
    """The user part of a SIP dial string (PJSIP/phones/sip:8001@host -> 8001)."""
    found = _SIP_USER.search(dial_string)
    return found.group(1) if found else None


async def requested(call: Call, event: ev.ChannelTransfer) -> None:
    """A phone of ``call`` sent a REFER (the event Asterisk raised for it).

    Only the phone talking with the caller may transfer it, one transfer at a
    time; it is carried out by the call's talk (:func:`carry_out`).
    """
    leg = call.legs.get(event.referred_by.source_channel.id)
    if leg is None:
        return
    wanted = event.refer_to.requested_destination
    destination = _PLAIN.sub("", wanted.destination)[:64]
    if leg is not call.legs.winner or call.state.current is not State.BRIDGED \
            or call.transfer is not None:
        await refuse(call, leg, destination, "the phone is not talking with the caller")
    elif not destination:
        await refuse(call, leg, destination, "the REFER names no target")
    else:
        call.log.info("transfer asked", phone_id=leg.phone_id, to=destination)
        call.transfer = Request(leg, destination, event.at)


async def refuse(call: Call, leg: Leg, destination: str, reason: str) -> None:
    """Tell the phone its transfer is refused (NOTIFY 603), and log why."""
    call.log.warning("transfer refused", phone_id=leg.phone_id, to=destination, reason=reason)
    metrics.TRANSFERS.labels(result="refused").inc()
    await call.ari_quietly(call.services.ari.transfer_progress(leg.channel_id, DECLINED))


def transferer_left(call: Call, leg: Leg) -> bool:
    """Whether ``leg`` is the phone of the transfer under way (its hangup then
    does not end the call: the caller waits for the target)."""
    return call.transfer is not None and call.transfer.leg is leg


async def carry_out(call: Call) -> bool:
    """Carry out the transfer asked for (``call.transfer``); whether the call
    goes on (someone still talks with the caller).

    Raises CallerLeft when the caller hangs up meanwhile (the agent's leg then
    ends ``transferred``).
    """
    request = call.transfer
    assert request is not None
    agent = request.leg
    call.outcome = Outcome.ANSWERED  # answered already, whatever happens next
    call.state.to(State.TRANSFERRING, phone_id=agent.phone_id, to=request.destination)
    try:
        try:
            destination = await resolve(call, request.destination)
        except (CallerLeft, asyncio.CancelledError):
            raise
        except Exception as exc:  # the lookup failed: the call goes on as it was
            call.log.warning("transfer target not resolved", error=str(exc) or type(exc).__name__)
            destination = "the target could not be looked up"
        if isinstance(destination, str):
            await refuse(call, agent, request.destination, destination)
            call.state.to(State.BRIDGED, phone_id=agent.phone_id)
            return agent.result is None
        return await _ring(call, request, destination)
    except BaseException:
        if agent.result is None:  # the caller left (or a fault): the agent is done too
            await call.legs.end(agent, LegResult.TRANSFERRED,
                                call.caller_left_at or call.clock(), hangup="normal")
        raise
    finally:
        call.transfer = None


async def _ring(call: Call, request: Request, destination: Destination) -> bool:
    ari = call.services.ari
    agent = request.leg
    bridge_id = call.bridge_id
    assert bridge_id is not None
    assert call.hotline is not None
    call.log.info("transferring", phone_id=agent.phone_id, to=destination.what)
    # Both leave the bridge: the agent waits on its own line for the outcome,
    # the caller hears music; the target is seated as any phone (Call.seat).
    await call.ari_quietly(ari.remove_from_bridge(bridge_id, [agent.channel_id, call.caller.id]))
    await call.media.start_music()
    deadline = call.inbox.time() + call.hotline.total_timeout_s
    target = await call._hunt(destination.waves, destination.ring_s, deadline, None,
                              LegPurpose.TRANSFER)
    if target is not None:
        assert target.answered_at is not None
        call.legs.winner = target
        target.bridged = True
        call.recorder.add(TransferConnected(call.id, target.id, target.answered_at,
                                            call.started_at))
        await call.ari_quietly(ari.transfer_progress(agent.channel_id, ANSWERED))
        if agent.result is None:  # its part ends as the target's begins (Asterisk's time)
            await call.legs.end(agent, LegResult.TRANSFERRED, target.answered_at,
                                hangup="normal")
        call.state.to(State.BRIDGED, phone_id=target.phone_id)
        metrics.TRANSFERS.labels(result="connected").inc()
        call.log.info("transfer connected", phone_id=target.phone_id,
                      dial_string=target.dial_string)
        return True
    metrics.TRANSFERS.labels(result="unanswered").inc()
    await call.ari_quietly(ari.transfer_progress(agent.channel_id, UNAVAILABLE))
    if agent.result is not None:
        call.log.info("transfer unanswered, and the phone that asked left: the call ends")
        return False
    # Back to the agent who asked: a blind transfer nobody took is not lost.
    call.log.info("transfer unanswered: back to the phone that asked", phone_id=agent.phone_id)
    await call.media.stop_music()
    await ari.add_to_bridge(bridge_id, [agent.channel_id, call.caller.id])
    call.state.to(State.BRIDGED, phone_id=agent.phone_id)
    return True


async def resolve(call: Call, wanted: str) -> Destination | str:
    """Where ``wanted`` rings for ``call``'s hotline (a blind transfer's
    target, or a consultation's), or why it may not be rung (one sentence)."""
    hotline = call.hotline
    assert hotline is not None
    store = call.services.store
    lookup = await store.find_hotline(call.dialled)
    if lookup is None:
        return f"hotline {hotline.number} is gone"
    rules = await store.transfer_rules(hotline.id)
    key = wanted.lower()
    phone_id = rules.labels.get(key)
    if phone_id is None:
        named = [p for p in lookup.phones if (sip_user(p.dial_string) or "").lower() == key]
        phone_id = named[0].phone_id if len(named) == 1 else None
    if phone_id is not None:
        phone = next((p for p in lookup.phones if p.phone_id == phone_id), None)
        if phone is None:
            return f"phone {wanted} is not an enabled phone of hotline {hotline.number}"
        return Destination([Wave([Target(phone.dial_string, phone.phone_id, phone.capacity)])],
                           hotline.total_timeout_s, f"phone {phone.phone_id}")
    group = next((g for g in hotline.plan.groups.values()
                  if g.enabled and g.name.lower() == key), None)
    if group is not None:
        ring_plan = await plan_ring(call, lookup, group, first_pass=False)
        if not ring_plan:
            return f"group {group.name} has no idle phone"
        lone = sum(len(wave.phones) for wave in ring_plan) == 1
        return Destination(waves_of(ring_plan),
                           hotline.total_timeout_s if lone else hotline.ring_timeout_s,
                           f"group {group.name}")
    dial_string = rules.outside_dial_string(wanted)
    if dial_string is not None:
        return Destination([Wave([Target(dial_string)])], hotline.total_timeout_s,
                           "outside number")
    return (f"{wanted} is no phone or group of hotline {hotline.number}, "
            "nor an outside number it allows (hotline transfer_numbers)")

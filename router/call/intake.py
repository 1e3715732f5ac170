"""Reading a call's events: each goes to the part of the call it concerns.

Timers go to the legs (ring timeouts) and the hunt (waves, its end), the
caller's playbacks and keys to its media, the caller's hangup to the call,
and each leg's channel events through :func:`legs.read_event` (pure) to the
change it makes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from router.ari import events as ev
from router.call import adoption, consultation, screening, transfer
from router.call.events import (
    CallEvent,
    ConfirmTimeout,
    ConsultationAsked,
    HuntTimeout,
    QueueWake,
    Reconcile,
    RingTimeout,
    WaveDue,
)
from router.call.legs import (
    Answered,
    Ended,
    EnteredBridge,
    EnteredStasis,
    PhoneLeft,
    read_event,
)
from router.records.kinds import LegResult

if TYPE_CHECKING:
    from router.call.story import Call

CALLER_GONE = (ev.ChannelHangupRequest, ev.ChannelDestroyed, ev.StasisEnd)


async def apply(call: Call, event: CallEvent) -> None:
    """Apply one event to ``call``."""
    if isinstance(event, RingTimeout):
        await call.legs.ring_timeout(event.leg_id)
        return
    if isinstance(event, QueueWake):
        return  # only wakes the waiting caller (router/call/queue.py)
    if isinstance(event, WaveDue | HuntTimeout):
        if call.hunt is not None:
            call.hunt.on_timer(event)
        return
    if isinstance(event, ConfirmTimeout):
        await screening.timed_out(call, event)
        return
    if isinstance(event, ev.PlaybackFinished):
        call.media.playback_finished(event.playback.id)
        await call.media.ringback_finished(event.playback.id)
        target = ev.channel_of(event)
        screened = call.legs.get(target) if target else None
        if screened is not None:  # the whisper and prompt to an answering phone
            await screening.playback_finished(call, screened, event.playback.id, event.at)
        return
    if isinstance(event, ev.ChannelDtmfReceived):
        if event.channel.id == call.caller.id:
            call.media.key_pressed(event.digit)
        elif (keyed := call.legs.get(event.channel.id)) is not None:
            await screening.key_pressed(call, keyed, event.digit, event.at)
        return
    if isinstance(event, Reconcile):
        await adoption.catch_up(call, event)
        return
    if isinstance(event, ConsultationAsked):  # the talking phone dialled a colleague
        await consultation.asked(call, event)
        return
    if isinstance(event, ev.ChannelTransfer):  # a phone's REFER
        if event.state is not None:
            return  # our own progress report, told back
        on_consultation = call.consultation is not None \
            and ev.channel_of(event) == call.consultation.channel_id
        if event.refer_to.requested_destination.protocol_id or on_consultation:
            await consultation.referred(call, event)  # with Replaces: attended
        else:
            await transfer.requested(call, event)
        return
    channel = event.peer if isinstance(event, ev.Dial) else getattr(event, "channel", None)
    if not isinstance(channel, ev.Channel):
        return
    if channel.id == call.caller.id:
        if isinstance(event, CALLER_GONE):
            call.caller_hung_up(event.at, gone=isinstance(event, ev.ChannelDestroyed))
        elif isinstance(event, ev.ChannelStateChange) and channel.state == "Up":
            call.media.caller_up(event.at)
        return
    if call.consultation is not None and channel.id == call.consultation.channel_id:
        if isinstance(event, CALLER_GONE):  # the agent hung its consultation call up
            consultation.channel_left(call, event.at)
        return
    leg = call.legs.get(channel.id)
    if leg is None:
        return
    change = read_event(leg, event, bridged=leg is call.legs.winner)
    if isinstance(change, Ended) and consultation.is_target(call, leg):
        change = Ended(LegResult.ANSWERED, change.at, change.cause)  # it talked, with the agent
    if isinstance(change, EnteredStasis):
        leg.in_stasis = True
    elif isinstance(change, EnteredBridge):
        leg.in_bridge = True
    elif isinstance(change, Answered):
        call.legs.answered(leg, change.at)
        if leg.screen is not None:
            await screening.start(call, leg)
    elif isinstance(change, Ended):
        await call.legs.end(leg, change.result, change.at, change.cause)
        screening.after_confirming(call)
    elif isinstance(change, PhoneLeft):
        if transfer.transferer_left(call, leg):  # the caller waits for the target
            await call.legs.end(leg, LegResult.TRANSFERRED, change.at,
                                getattr(event, "cause", None))
        elif await consultation.agent_left(call, leg, change.at):
            pass  # the caller goes to the consultation's target
        else:
            call.phone_hung_up(change.at)

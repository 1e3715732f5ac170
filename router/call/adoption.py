"""Catching a call up after a gap in its events, and taking one back.

Asterisk does not replay events. After the websocket comes back, a live call
is told which of its channels still exist (:func:`catch_up`). A call whose
router restarted or died is adopted from its open records (:func:`resume`):
a bridged call stays bridged, a caller still waiting is routed afresh, and
whatever ended meanwhile is closed as of the last moment it was known up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from router.ari import AriError
from router.call import consultation
from router.call.events import Reconcile
from router.call.legs import Leg
from router.call.states import State
from router.records.kinds import LegResult
from router.records.sql import OpenLeg

if TYPE_CHECKING:
    from router.call.story import Call


async def catch_up(call: Call, seen: Reconcile) -> None:
    """Catch up with what happened while the events did not reach us."""
    if call.caller.id not in seen.channels and call.caller_left_at is None:
        call.reconciled = True
        call.caller_hung_up(seen.lost_at)
        call.log.warning("caller hung up while the router was away", state=call.state.current)
    for leg in call.legs:
        state = seen.channels.get(leg.channel_id)
        if leg is call.legs.winner:
            if state is None and call.phone_left_at is None:
                call.reconciled = True
                call.phone_hung_up(seen.lost_at)
                call.log.warning("phone hung up while the router was away")
        elif leg.result is None:  # ringing, or answered and not yet bridged
            if state is None:
                # A consultation's target that answered talked (with the agent).
                result = LegResult.ANSWERED if consultation.is_target(call, leg) \
                    else LegResult.FAILED
                await call.legs.end(leg, result, seen.lost_at)
            elif state == "Up" and leg.answered_at is None:
                call.legs.answered(leg, seen.lost_at)
    consulting = call.consultation
    if consulting is not None and consulting.channel_id not in seen.channels \
            and consulting.channel_left_at is None:
        call.reconciled = True
        call.log.warning("consultation call hung up while the router was away")
        consultation.channel_left(call, seen.lost_at)


async def resume(call: Call, recorded: Sequence[OpenLeg], channels: Mapping[str, str],
                 lost_at: datetime) -> None:
    """The life of an adopted call, from its recorded legs and the channels
    Asterisk has now (id -> state); its events were lost after ``lost_at``.

    A leg recorded answered was bridged: the call talks on. A leg that
    Asterisk reports ``Up`` answered while nobody watched: it is bridged with
    its still waiting caller now, its answer time from Asterisk's CDR.
    """
    for row in recorded:
        call.legs.add(Leg(id=row.leg_id, phone_id=row.phone_id, dial_string=row.dial_string,
                          wave=row.wave, dial_started_at=row.dial_started_at,
                          purpose=row.purpose, claimed=row.claimed, in_stasis=True,
                          answered_at=row.answered_at, result=row.result))
    answered = next((leg for leg in call.legs if leg.answered_at and leg.result is None), None)
    answered_in_gap = None
    if answered is None and call.caller.id in channels:
        answered_in_gap = next((leg for leg in call.legs if leg.result is None
                                and channels.get(leg.channel_id) == "Up"), None)
        if answered_in_gap is not None:
            call.legs.answered(answered_in_gap, await answer_time(call, answered_in_gap))
    for leg in call.legs:  # rings from before the gap cannot be trusted: end them
        if leg is not answered and leg is not answered_in_gap and leg.result is None:
            gone = leg.channel_id not in channels
            await call.legs.end(leg, LegResult.CANCELLED, lost_at if gone else call.clock(),
                                hangup=None if gone else "normal")
    if answered_in_gap is not None and await call.seat(answered_in_gap):
        await call.connect(answered_in_gap)
        await call.talk()
    elif answered_in_gap is not None:  # it left as it was being bridged: hunt afresh
        call.state.to(State.ROUTING, adopted=True)
        await call.route()
    elif answered is not None:
        call.legs.winner = answered
        answered.bridged = True  # its answer was recorded with the bridge (CallBridged)
        call.bridge_id = str(call.id)
        call.state.to(State.BRIDGED, adopted=True)
        if answered.answered_at is not None:  # a recording of its bridge goes on too
            call.recording.adopt(answered.answered_at)
        call.deliver(Reconcile(channels, lost_at))
        await call.talk()
    elif call.caller.id in channels:
        call.state.to(State.ROUTING, adopted=True)
        await call.route()
    else:
        call.deliver(Reconcile(channels, lost_at))
        await call.inbox.until(lambda: call.caller_left_at is not None)


async def answer_time(call: Call, leg: Leg) -> datetime:
    """When the leg's phone answered while nobody watched: Asterisk's CDR
    (``CDR(answer,u)``: epoch seconds, microseconds), else now (router clock)."""
    try:
        raw = await call.services.ari.get_variable(leg.channel_id, "CDR(answer,u)")
        if raw and float(raw) > 0:
            return datetime.fromtimestamp(float(raw), UTC)
    except (AriError, ValueError) as exc:
        call.log.warning("answer time not known to Asterisk", error=str(exc))
    call.log.warning("answer time from the router's clock", phone_id=leg.phone_id)
    return call.clock()

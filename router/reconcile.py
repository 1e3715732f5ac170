"""Putting the router's picture back together with Asterisk's, after a gap.

Asterisk does not replay events. Three gaps are caught up here:

- the event websocket dropped and came back (the process lived on): each live
  call is told which of its channels still exist (``Reconcile``);
- the router restarted: its calls outlived it in Asterisk (channels stay in
  their Stasis application); it adopts them from its open records;
- another router on the same Asterisk died: after its lease, a living router
  moves that router's open records and claims to itself, subscribes to their
  channels, and adopts them the same way.

Whatever ended while nobody watched is closed as of the last moment it was
known to be up, and marked ``reconciled_at``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
import structlog

from router.ari import AriClient, AriError
from router.ari import events as ev
from router.call import Call, Reconcile, Services, start_call
from router.call.consultation import CONTEXT as CONSULTATION_CONTEXT

log = structlog.get_logger("router.reconcile")


async def channel_states(ari: AriClient) -> dict[str, Any]:
    """Every channel Asterisk has now, by id."""
    return {c["id"]: c for c in await ari.list_channels()}


async def after_reconnect(services: Services, lost_at: datetime) -> None:
    """The websocket is back: tell each live call what survived; pick up strays."""
    channels = await channel_states(services.ari)
    states = {cid: str(c.get("state", "")) for cid, c in channels.items()}
    calls = services.registry.owning_calls()
    for call in calls:
        call.deliver(Reconcile(states, lost_at))
    ours = set(await services.ari.application_channels(services.app))
    recorded = await services.store.open_channels()
    for channel_id in ours - services.registry.channels() - recorded:
        await _stray(services, channels.get(channel_id), channel_id, lost_at)
    log.info("reconciled after reconnect", live_calls=len(calls), lost_at=lost_at.isoformat())


async def _stray(services: Services, snapshot: Any, channel_id: str, at: datetime) -> None:
    """A channel of our application that no call owns.

    A caller whose StasisStart was lost in the gap is routed now; anything
    else (a leg of a call that is over, a phone's consultation call, which is
    never adopted) is hung up.
    """
    if snapshot is not None:
        channel = msgspec.convert(snapshot, ev.Channel)
        dialplan = channel.dialplan
        if dialplan is not None and dialplan.exten.isdigit() and not is_router_id(channel_id) \
                and dialplan.context != CONSULTATION_CONTEXT:
            log.warning("routing a caller whose start was missed", channel=channel_id)
            started = ev.parse_timestamp(channel.creationtime) if channel.creationtime else at
            start_call(services, channel, dialplan.exten, started)
            return
    try:
        await services.ari.hangup(channel_id, "normal")
        log.warning("hung up a stray channel", channel=channel_id)
    except AriError as exc:
        log.warning("could not hang up a stray channel", channel=channel_id, error=str(exc))


# A bridge a router is filling is empty for a moment: only older ones are debris.
EMPTY_BRIDGE_GRACE_S = 60.0


async def sweep_bridges(ari: AriClient, live: set[str]) -> int:
    """Destroy empty call bridges of no live call (ids in ``live``): their call
    ended while a delete failed, or nobody watched; how many."""
    now = datetime.now(UTC)
    swept = 0
    for bridge in await ari.list_bridges():
        created = ev.parse_timestamp(str(bridge.get("creationtime", "")))
        if (bridge.get("channels") or not is_router_id(str(bridge.get("id", "")))
                or bridge["id"] in live
                or (now - created).total_seconds() < EMPTY_BRIDGE_GRACE_S):
            continue
        if await ari.destroy_bridge(bridge["id"]):
            swept += 1
    if swept:
        log.warning("destroyed empty bridges left behind", bridges=swept)
    return swept


def is_router_id(channel_id: str) -> bool:
    """Whether a router made this id: phone legs and call bridges carry our UUIDs,
    while Asterisk names the channels it creates (callers) "<epoch>.<n>"."""
    try:
        UUID(channel_id)
    except ValueError:
        return False
    return True


async def adopt(services: Services, previous_owner: str, previous_app: str,
                lost_at: datetime) -> int:
    """Adopt what ``previous_owner`` (whose app was ``previous_app``) left in
    Asterisk: its open calls, and callers it took but never recorded; how many."""
    store, registry, ari = services.store, services.registry, services.ari
    mine = previous_owner == services.router_id
    open_calls = (await store.open_calls(previous_owner) if mine
                  else await store.take_over(previous_owner))
    channels = await channel_states(ari)
    states = {cid: str(c.get("state", "")) for cid, c in channels.items()}
    adopted = 0
    known: set[str] = set()
    for record in open_calls:
        legs = await store.legs_of_open_call(record.call_id)
        leg_channels = [str(leg.leg_id) for leg in legs]
        known |= {record.caller_channel, *leg_channels}
        if record.caller_channel in registry:
            continue  # adopted by an earlier attempt that failed further on
        for leg in legs:
            if leg.claimed and leg.phone_id is not None:
                store.hold(leg.leg_id, leg.phone_id)
        if not mine:
            alive = [cid for cid in (record.caller_channel, *leg_channels) if cid in channels]
            if alive:
                await ari.subscribe(services.app, alive)
        caller = (msgspec.convert(channels[record.caller_channel], ev.Channel)
                  if record.caller_channel in channels
                  else ev.Channel(id=record.caller_channel,
                                  caller=ev.CallerId(number=record.caller)))
        call = Call(services, caller, record.dialled, started_at=record.started_at,
                    call_id=record.call_id, adopted=True)
        for channel_id in (caller.id, *leg_channels):
            registry.own(channel_id, call)  # events from now on queue for it
        registry.start(call, call.adopt(legs, states, lost_at), f"adopted-{call.id}")
        adopted += 1
    # A caller taken in the moment before the router died has no record yet.
    # Channels of any open record are not strays: another router may have
    # adopted them while this app was away, and still drives them.
    strays = (set(await ari.application_channels(previous_app)) - known
              - registry.channels() - await store.open_channels())
    if strays and not mine:
        await ari.subscribe(services.app, strays)
    for channel_id in strays:
        await _stray(services, channels.get(channel_id), channel_id, lost_at)
    if open_calls or strays:
        log.warning("adopted calls", previous_owner=previous_owner, calls=adopted,
                    unrecorded=len(strays), lost_at=lost_at.isoformat())
    return adopted + len(strays)

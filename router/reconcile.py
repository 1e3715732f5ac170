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

from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

import msgspec
import structlog

from router.ari import AriClient, AriError
from router.ari import events as ev
from router.call import Call, Leg, LegResult, Reconcile, Services

log = structlog.get_logger("router.reconcile")


class Owner(Services, Protocol):
    """The router, as reconciliation sees it."""

    db: Any
    calls: dict[str, Call]

    def start_adopted(self, call: Call, life: Awaitable[None]) -> None: ...
    def start_call_for(self, channel: ev.Channel, dialled: str, at: datetime) -> None: ...


async def channel_states(ari: AriClient) -> dict[str, Any]:
    """Every channel Asterisk has now, by id."""
    return {c["id"]: c for c in await ari.list_channels()}


async def after_reconnect(owner: Owner, lost_at: datetime) -> None:
    """The websocket is back: tell each live call what survived; pick up strays."""
    channels = await channel_states(owner.ari)
    states = {cid: str(c.get("state", "")) for cid, c in channels.items()}
    calls = {id(call): call for call in owner.calls.values()}.values()
    for call in calls:
        call.deliver(Reconcile(states, lost_at))
    ours = set(await owner.ari.application_channels(owner.app))
    for channel_id in ours - set(owner.calls) - await _recorded_channels(owner):
        await _stray(owner, channels.get(channel_id), channel_id, lost_at)
    log.info("reconciled after reconnect", live_calls=len(calls), lost_at=lost_at.isoformat())


async def _stray(owner: Owner, snapshot: Any, channel_id: str, at: datetime) -> None:
    """A channel of our application that no call owns.

    A caller whose StasisStart was lost in the gap is routed now; anything
    else (a leg of a call that is over) is hung up.
    """
    if snapshot is not None:
        channel = msgspec.convert(snapshot, ev.Channel)
        dialplan = channel.dialplan
        if dialplan is not None and dialplan.exten.isdigit() and not is_router_id(channel_id):
            log.warning("routing a caller whose start was missed", channel=channel_id)
            started = ev.parse_timestamp(channel.creationtime) if channel.creationtime else at
            owner.start_call_for(channel, dialplan.exten, started)
            return
    try:
        await owner.ari.hangup(channel_id, "normal")
        log.warning("hung up a stray channel", channel=channel_id)
    except AriError as exc:
        log.warning("could not hang up a stray channel", channel=channel_id, error=str(exc))


# A bridge a router is filling is empty for a moment: only older ones are debris.
EMPTY_BRIDGE_GRACE_S = 60.0


async def sweep_bridges(owner: Owner) -> int:
    """Destroy empty call bridges no live call owns (their call ended while a
    delete failed, or nobody watched); how many."""
    live = {str(call.id) for call in owner.calls.values()}
    now = datetime.now(UTC)
    swept = 0
    for bridge in await owner.ari.list_bridges():
        created = ev.parse_timestamp(str(bridge.get("creationtime", "")))
        if (bridge.get("channels") or not is_router_id(str(bridge.get("id", "")))
                or bridge["id"] in live
                or (now - created).total_seconds() < EMPTY_BRIDGE_GRACE_S):
            continue
        if await owner.ari.destroy_bridge(bridge["id"]):
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


async def adopt(owner: Owner, previous_owner: str, previous_app: str,
                lost_at: datetime) -> int:
    """Adopt what ``previous_owner`` (whose app was ``previous_app``) left in
    Asterisk: its open calls, and callers it took but never recorded; how many."""
    rows = await _take_over(owner, previous_owner)
    channels = await channel_states(owner.ari)
    states = {cid: str(c.get("state", "")) for cid, c in channels.items()}
    adopted = 0
    known: set[str] = set()
    for row in rows:
        legs = [_leg(r) for r in await owner.db.fetch(_LEGS, row["id"])]
        known |= {row["caller_channel"], *(leg.channel_id for leg in legs)}
        if row["caller_channel"] in owner.calls:
            continue  # adopted by an earlier attempt that failed further on
        for leg in legs:
            if leg.claimed and leg.phone_id is not None:
                owner.store.held[leg.id] = leg.phone_id
        if previous_owner != owner.router_id:
            alive = [cid for cid in (row["caller_channel"], *(leg.channel_id for leg in legs))
                     if cid in channels]
            if alive:
                await owner.ari.subscribe(owner.app, alive)
        caller = (msgspec.convert(channels[row["caller_channel"]], ev.Channel)
                  if row["caller_channel"] in channels
                  else ev.Channel(id=row["caller_channel"],
                                  caller=ev.CallerId(number=row["caller"])))
        call = Call(owner, caller, row["dialled"], started_at=row["started_at"],
                    call_id=row["id"])
        for channel_id in (caller.id, *(leg.channel_id for leg in legs)):
            owner.register(channel_id, call)  # events from now on queue for it
        owner.start_adopted(call, call.adopt(legs, states, lost_at))
        adopted += 1
    # A caller taken in the moment before the router died has no record yet.
    # Channels of any open record are not strays: another router may have
    # adopted them while this app was away, and still drives them.
    strays = (set(await owner.ari.application_channels(previous_app)) - known
              - set(owner.calls) - await _recorded_channels(owner))
    if strays and previous_owner != owner.router_id:
        await owner.ari.subscribe(owner.app, strays)
    for channel_id in strays:
        await _stray(owner, channels.get(channel_id), channel_id, lost_at)
    if rows or strays:
        log.warning("adopted calls", previous_owner=previous_owner, calls=adopted,
                    unrecorded=len(strays), lost_at=lost_at.isoformat())
    return adopted + len(strays)


async def _recorded_channels(owner: Owner) -> set[str]:
    """The channels of every open call record, whichever router holds it."""
    return {row["channel"] for row in await owner.db.fetch(_OPEN_CHANNELS)}


async def _take_over(owner: Owner, previous_owner: str) -> list[Any]:
    """The open records (and claims) of ``previous_owner``, now ours."""
    if previous_owner == owner.router_id:
        return list(await owner.db.fetch(_OPEN, owner.router_id))
    async with owner.db.acquire() as connection, connection.transaction():
        rows = await connection.fetch(
            "UPDATE calls SET router_id = $2 WHERE router_id = $1 AND ended_at IS NULL "
            "RETURNING id, dialled, caller, caller_channel, started_at",
            previous_owner, owner.router_id)
        await connection.execute("UPDATE phone_claims SET router_id = $2 WHERE router_id = $1",
                                 previous_owner, owner.router_id)
    return list(rows)


_OPEN = """
SELECT id, dialled, caller, caller_channel, started_at FROM calls
WHERE router_id = $1 AND ended_at IS NULL ORDER BY started_at
"""

_OPEN_CHANNELS = """
SELECT caller_channel AS channel FROM calls WHERE ended_at IS NULL
UNION ALL
SELECT l.id::text FROM call_legs l JOIN calls c ON c.id = l.call_id WHERE c.ended_at IS NULL
"""

_LEGS = """
SELECT l.id, l.phone_id, l.dial_string, l.wave, l.dial_started_at, l.answered_at, l.result,
       l.purpose, (c.leg_id IS NOT NULL) AS claimed
FROM call_legs l LEFT JOIN phone_claims c ON c.leg_id = l.id
WHERE l.call_id = $1 ORDER BY l.dial_started_at
"""


def _leg(row: Mapping[str, Any]) -> Leg:
    return Leg(id=row["id"], phone_id=row["phone_id"], dial_string=row["dial_string"],
               wave=row["wave"], dial_started_at=row["dial_started_at"],
               answered_at=row["answered_at"],
               result=LegResult(row["result"]) if row["result"] else None,
               purpose=row["purpose"], claimed=row["claimed"])

"""What a call would ring, without a call: the group's phones, their state, the ring plan.

:func:`ring_preview` is pure: the hotline as a call's lookup reads it (enabled
phones with their busy state), every phone bound to it (disabled ones too,
for the admin's sake), the group the plan chose, a strategy and a clock in; a
:class:`Preview` out. It uses the same pieces a call uses
(``Lookup.idle_candidates``, the strategy's ``plan``), so what it shows is
what a call at that moment would ring.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import strategies
from router.directory import Lookup
from router.plan import Group

# Registration states ARI reports for an endpoint that cannot ring now.
_UNREACHABLE = {"offline": "unregistered", "missing": "no such endpoint"}


@dataclass(frozen=True)
class BoundRow:
    """A phone bound to the hotline, as configured (disabled ones too)."""

    phone_id: int
    dial_string: str
    label: str
    binding_enabled: bool
    phone_enabled: bool
    capacity: int
    active_calls: int
    wrap_up_s: int
    last_call_ended_at: datetime | None
    presence: str = "signed_in"        # signed_in | signed_out | paused (docs/presence.md)
    presence_reason: str | None = None


@dataclass(frozen=True)
class PhoneState:
    phone_id: int
    label: str
    dial_string: str
    state: str        # idle | busy | wrap-up | disabled | paused | signed out | unregistered
                      # | no such endpoint
    detail: str = ""  # "binding disabled", "1 of 1 calls", "until 10:00:05"
    wave: int | None = None  # the wave it rings in (1 first), None: not rung


@dataclass(frozen=True)
class Preview:
    group: str
    strategy: str
    phones: tuple[PhoneState, ...]
    waves: tuple[tuple[int, ...], ...]  # phone ids per wave, in ring order
    varies: bool        # another call could ring another order (random, weighted)
    rings_no_one: bool
    why: str            # plain words when nobody rings; '' otherwise


def ring_preview(lookup: Lookup, bound: Sequence[BoundRow], group: Group, now: datetime,
                 registration: Mapping[int, str | None] | None = None,
                 call_number: int = 0, time_zone: str = "UTC") -> Preview:
    """The group's phones and states, and the waves a call at ``now`` would ring.

    ``registration``: ARI's endpoint state per phone id where known ('online',
    'offline', 'missing'); an offline one is skipped, as the router skips it
    (router/endpoints.py); a missing one still rings (and fails) but is shown so.
    """
    registration = registration or {}
    by_id = {row.phone_id: row for row in bound}
    offline = frozenset(by_id[phone].dial_string for phone, state in registration.items()
                        if state == "offline" and phone in by_id)
    if offline:
        lookup = replace(lookup, offline=lookup.offline | offline)
    members = ([m.phone_id for m in group.members] if group.members is not None
               else [row.phone_id for row in bound])
    strategy, options = _strategy(group)
    candidates = lookup.idle_candidates(now, group)
    context = strategies.Context(rng=random.Random(0), now=now, call_number=call_number,
                                 bound_count=lookup.member_count(group))
    plan = strategy.plan(candidates, context, options)
    waves = tuple(tuple(p.phone_id for p in wave.phones) for wave in plan)
    varies = any(tuple(tuple(p.phone_id for p in wave.phones) for wave in strategy.plan(
        candidates, strategies.Context(rng=random.Random(seed), now=now, call_number=call_number,
                                       bound_count=context.bound_count), options)) != waves
                 for seed in range(1, 8))
    wave_of = {phone: n for n, wave in enumerate(waves, start=1) for phone in wave}
    states = tuple(_state(by_id[phone], now, registration.get(phone), wave_of.get(phone),
                          ZoneInfo(time_zone))
                   for phone in members if phone in by_id)
    rings_no_one = not waves
    why = _why_no_one(group, states) if rings_no_one else ""
    return Preview(group.name, strategy.name, states, waves, varies, rings_no_one, why)


def _strategy(group: Group) -> tuple[strategies.Strategy, Mapping[str, Any]]:
    """As a call does it: the group's rule, or sequential when it is unusable."""
    try:
        strategy = strategies.get(group.strategy)
        strategy.validate(group.strategy_options)
    except (strategies.UnknownStrategy, strategies.OptionError):
        return strategies.get("sequential"), {}
    return strategy, group.strategy_options


def _state(row: BoundRow, now: datetime, registered: str | None, wave: int | None,
           zone: ZoneInfo) -> PhoneState:
    def state(name: str, detail: str = "") -> PhoneState:
        return PhoneState(row.phone_id, row.label, row.dial_string, name, detail, wave)

    if not row.binding_enabled:
        return state("disabled", "binding disabled for this hotline")
    if not row.phone_enabled:
        return state("disabled", "phone disabled")
    if row.presence == "paused":
        return state("paused", f"reason {row.presence_reason}")
    if row.presence == "signed_out":
        return state("signed out", "the agent signed out")
    if row.active_calls >= row.capacity:
        return state("busy", f"{row.active_calls} of {row.capacity} call(s)")
    if row.wrap_up_s and row.last_call_ended_at is not None:
        until = row.last_call_ended_at + timedelta(seconds=row.wrap_up_s)
        if until > now:
            return state("wrap-up", f"paused after a call until "
                         f"{until.astimezone(zone).isoformat(timespec='seconds')}")
    if registered in _UNREACHABLE:
        return state(_UNREACHABLE[registered], "Asterisk says so; it would ring and fail")
    return state("idle")


def _why_no_one(group: Group, states: Sequence[PhoneState]) -> str:
    if not states:
        return (f"group {group.name} has no phone bound to the hotline: add members "
                "(group add-member) or bind phones (phone add)")
    usable = [s for s in states if s.state != "disabled"]
    if not usable:
        return (f"every phone of group {group.name} is disabled: enable one "
                "(binding enable / phone enable)")
    return (f"no phone of group {group.name} is idle now ({len(usable)} busy or in wrap-up); "
            "the call would overflow")

"""Hunting: one pass over a ring plan, wave by wave, until a phone answers.

A :class:`Hunt` owns what belongs to one pass (its waves still to ring, its
timers, the legs it rang, whether the next wave is due or its time is up), so
a second pass (after a queue wait) starts clean. The ring plan itself comes
from the group's strategy (strategies/), a pure function of the idle phones.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import strategies
from router import plan
from router.call.events import HuntTimeout, WaveDue
from router.call.legs import Leg, Target
from router.call.states import State
from router.directory import Lookup
from router.records.kinds import LegPurpose, LegResult

if TYPE_CHECKING:
    from router.call.story import Call


@dataclass
class Wave:
    """Targets rung together; ``delay_s``: start that long after the previous
    wave while it keeps ringing (None: when nothing of it rings any more).

    ``pick``: ring only the first that many targets whose phones are idle
    (None: every one that is); ``hunt_on``: then, once nothing of it rings,
    the targets after the last one rung make the next wave, picked the same
    way (a strategy's :class:`strategies.Order`). ``taken``: the phones
    already claimed for this wave, phone id -> leg id (the call's first
    statement, router/call/first_claim.py).
    """

    targets: list[Target]
    delay_s: float | None = None
    pick: int | None = None
    hunt_on: bool = False
    taken: dict[int, UUID] | None = None


class Hunt:
    """One hunting pass of a call: :meth:`run` returns the leg that answered."""

    def __init__(self, call: Call, number: int, waves: Sequence[Wave], ring_s: float,
                 deadline: float, max_attempts: int | None,
                 purpose: LegPurpose = LegPurpose.PHONE,
                 seat: Callable[[Leg], Awaitable[bool]] | None = None) -> None:
        self.call = call
        self.number = number  # this pass's number; its timers carry it
        self.waves = deque(waves)
        self.ring_s = ring_s
        self.deadline = deadline  # loop time; nothing rings past it
        self.max_attempts = max_attempts
        self.purpose = purpose
        # Where the leg that answered goes: with the caller (Call.seat), or for
        # a consultation with the agent's consultation call.
        self.seat = seat or call.seat
        self.legs: list[Leg] = []
        self.abandoned = False  # called off by the one who asked (a consultation hung up)
        self.wave_due = False
        self.over = False
        self._timers: list[asyncio.TimerHandle] = []

    def on_timer(self, event: WaveDue | HuntTimeout) -> None:
        if event.hunt != self.number:
            return  # a late timer of an earlier pass
        if isinstance(event, WaveDue):
            self.wave_due = True
        else:
            self.over = True

    async def run(self) -> Leg | None:
        """Ring wave after wave until a phone answers and is bridged with the
        caller (that leg), or none will (None).

        A wave without delay starts when nothing of the earlier waves still
        rings; a wave with a delay starts that long after the previous one,
        while earlier phones keep ringing. A phone that answers but is gone
        before the bridge is a failed attempt, and the hunt goes on. Every
        other leg is ended on return.
        """
        inbox = self.call.inbox
        self._timers.append(inbox.at(self.deadline, HuntTimeout(self.number)))
        try:
            while True:
                if self.abandoned:
                    await self.call.legs.cancel_ringing(self.legs, LegResult.CANCELLED,
                                                        "normal")
                    return None
                # Screened phones are ready once confirmed: the first ready wins,
                # once it is seated (in the bridge, then the caller with it).
                ready = self._ready()
                if ready:
                    first = min(ready, key=lambda leg: leg.ready_at or leg.dial_started_at)
                    if not await self.seat(first):
                        continue  # it left before the bridge: the others ring on
                    await self.call.legs.cancel_ringing(self.legs, LegResult.CANCELLED,
                                                        "answered_elsewhere", keep=first)
                    return first
                if self.waves and not self.over and (self.wave_due or not self._ringing()):
                    await self._ring_next_wave()
                    continue
                if not self._ringing() or self.over:
                    await self.call.legs.cancel_ringing(self.legs, LegResult.NO_ANSWER,
                                                        "no_answer")
                    return None
                await inbox.until(self._should_act)
        finally:
            for timer in self._timers:
                timer.cancel()

    def _ringing(self) -> bool:
        """A phone still rings, or answered and is confirming (screening)."""
        return any(leg.ringing or leg.confirming for leg in self.legs)

    def _ready(self) -> list[Leg]:
        """Legs ready to be seated (answered, and confirmed when screened) and
        still there (not yet bridged or failed)."""
        return [leg for leg in self.legs if leg.ready]

    def abandon(self) -> None:
        """Call the pass off: what rings is cancelled, nothing more is rung."""
        self.abandoned = self.over = True

    def _should_act(self) -> bool:
        """A phone is ready, all stopped ringing, a wave is due, or time is up."""
        return (self.wave_due or self.over or bool(self._ready())
                or not self._ringing())

    async def _ring_next_wave(self) -> None:
        self.wave_due = False
        wave = self.waves.popleft()
        targets, pick = wave.targets, wave.pick
        if self.max_attempts is not None:
            left = max(0, self.max_attempts - len(self.legs))
            if pick is None:
                targets = targets[:left]
            else:
                pick = min(pick, left)
        if not targets or pick == 0:
            self.waves.clear()
            return
        ring_for = max(1.0, min(self.ring_s, self.deadline - self.call.inbox.time()))
        rung = await self._ring_wave(targets, pick, wave.taken, ring_for)
        self.legs += rung
        if wave.hunt_on and rung:  # on from the phone after the last one rung
            last = max(i for i, t in enumerate(targets)
                       if any(leg.phone_id == t.phone_id for leg in rung))
            if targets[last + 1:]:
                self.waves.appendleft(Wave(targets[last + 1:], pick=wave.pick, hunt_on=True))
        if self.waves and self.waves[0].delay_s is not None:
            self._timers.append(self.call.inbox.after(self.waves[0].delay_s,
                                                      WaveDue(self.number)))

    async def _ring_wave(self, targets: Sequence[Target], pick: int | None,
                         taken: dict[int, UUID] | None, ring_s: float) -> list[Leg]:
        """Claim and create one leg per target (busy phones are skipped; at most
        ``pick``; ``taken``: claimed already), then dial them.

        The caller hears ringback from the first leg of the call on, asked for
        alongside that leg's channel rather than before it.
        """
        call = self.call
        legs = call.legs
        legs.waves += 1
        if taken is not None:
            claimed = [legs.taken(t, taken[t.phone_id], self.purpose) for t in targets
                       if t.phone_id is not None and t.phone_id in taken]
        else:
            claimed = await legs.claim_first(targets, self.purpose, pick)
        wave: list[Leg] = []
        for leg in claimed:
            ringback = None
            # A wave rung while a phone confirms leaves the call CONFIRMING; a
            # consultation's leaves it CONSULTING (the caller talks, or holds).
            if self.purpose is not LegPurpose.CONSULT \
                    and call.state.current not in (State.RINGING, State.CONFIRMING):
                # The first ring of the call: ringback. A queued caller keeps its music.
                first = call.state.current in (State.ROUTING, State.MENU)
                call.state.to(State.RINGING)
                if first:
                    ringback = asyncio.ensure_future(call.media.ringback())
            try:
                await legs.create_channel(leg)
            finally:
                if ringback is not None:
                    await ringback
            wave.append(leg)
        await legs.dial(wave, ring_s)
        return wave


def waves_of(ring_plan: strategies.RingPlan) -> list[Wave]:
    """A strategy's ring plan as waves of targets."""
    return [Wave([Target(p.dial_string, p.phone_id, p.capacity) for p in wave.phones],
                 wave.delay_s) for wave in ring_plan]


async def plan_ring(call: Call, lookup: Lookup, group: plan.Group,
                    first_pass: bool) -> strategies.RingPlan:
    """The group's ring plan over its idle phones, by its strategy.

    The round-robin number of the first pass may have come with the lookup;
    later passes take a new one.
    """
    strategy, options = strategy_of(call, group)
    candidates = lookup.idle_candidates(call.clock(), group)
    call_number = 0
    if getattr(strategy, "uses_call_number", False):
        if lookup.call_number is not None and first_pass:
            call_number = lookup.call_number  # taken when the call looked it up
        else:
            call_number = await call.services.store.next_call_number(lookup.hotline.id)
    context = strategies.Context(rng=call.rng, now=call.clock(), call_number=call_number,
                                 bound_count=lookup.member_count(group))
    ring_plan = strategy.plan(candidates, context, options)
    call.log.debug("ring plan", group=group.name, strategy=strategy.name,
                  idle=len(candidates),
                  waves=[[p.phone_id for p in w.phones] for w in ring_plan])
    return ring_plan


def strategy_of(call: Call, group: plan.Group) -> tuple[strategies.Strategy, dict[str, Any]]:
    """The group's rule; sequential when it is missing or misconfigured."""
    try:
        strategy = strategies.get(group.strategy)
        strategy.validate(group.strategy_options)
    except (strategies.UnknownStrategy, strategies.OptionError) as exc:
        call.log.error("strategy unusable, ringing in admin order", error=str(exc))
        return strategies.get("sequential"), {}
    return strategy, group.strategy_options

"""A new call's routing decision in one database round trip.

When a call can only go straight to one group's phones (its hotline enabled in
the live configuration, the plan sending the caller to a group without a
menu, no greeting or recording notice to play first, no hold queue whose
callers it must join) and the group's strategy orders the phones without busy
state (:class:`strategies.Order`), its first statement does the whole routing
decision: the billing refusal, round-robin's turn, the first idle phones
claimed in the strategy's order, and every phone's busy state
(router/claims.py ``claim_in_order``). Otherwise, or while the database is
away, the call looks its hotline up first (router/call/story.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import strategies
from router import plan
from router.call.hunt import Wave, strategy_of
from router.call.legs import Target
from router.directory import Lookup, Overflow, PhoneState

if TYPE_CHECKING:
    from router.call.story import Call
    from router.region import Region


@dataclass(frozen=True)
class FirstClaim:
    """What the call's first statement decided.

    ``lookup``: the hotline (from the live configuration) with its phones'
    busy state after the claims, its billing refusal and round-robin number;
    ``waves``: what to ring, the first wave's phones claimed already (none
    when no phone was idle, or billing refuses the call); ``ring_s``: how long
    each phone rings (the whole call's time when it is the only one idle).
    """

    lookup: Lookup
    decision: plan.Decision
    where: Region
    group: plan.Group
    waves: list[Wave]
    ring_s: float


def _straight_to_phones(call: Call) -> tuple[Lookup, plan.Decision, Region, plan.Group] | None:
    """The hotline (its phones all taken as idle), the plan's decision and the
    group, when nothing but phones can come before ringing; else None."""
    snapshot = call.services.store.configuration()
    hotline = snapshot.hotlines.get(call.dialled) if snapshot is not None else None
    if hotline is None or not hotline.enabled or hotline.plan.sounds.greeting:
        return None
    if hotline.overflow is Overflow.QUEUE:  # callers may wait ahead (router/call/queue.py)
        return None
    decision, where = call.plan_decision(hotline)
    if decision.result not in ("default", "group") or decision.menu_id is not None:
        return None
    group = decision.group or hotline.default_group()
    # The "may be recorded" notice plays first when the group may record the call.
    if hotline.recording.notice and hotline.recording.may_record([group.record_percent]):
        return None
    configured = Lookup(hotline, {p.phone_id: PhoneState() for p in hotline.phones})
    return configured, decision, where, group


async def claim_at_once(call: Call) -> FirstClaim | None:
    """The call's routing decision in one statement, when it can be (see the
    module's docstring); None when the call must look its hotline up first."""
    store = call.services.store
    if not store.healthy:
        return None
    straight = _straight_to_phones(call)
    if straight is None:
        return None
    configured, decision, where, group = straight
    hotline = configured.hotline
    strategy, options = strategy_of(call, group)
    order_of = getattr(strategy, "order", None)
    if order_of is None:  # its plan depends on busy state (strategies/)
        return None
    now = call.clock()
    members = configured.idle_candidates(now, group)  # every enabled member, busy or not
    context = strategies.Context(rng=call.rng, now=now, bound_count=len(members))
    order: strategies.Order = order_of(members, context, options)
    wanted = len(order.phones) if order.together else 1
    if hotline.max_attempts is not None:
        wanted = min(wanted, hotline.max_attempts)
    got = await store.claim_in_order([(c.phone_id, c.dial_string) for c in order.phones],
                                     call.id, wanted, hotline.id, take_turn=order.rotate,
                                     check_refusal=True)
    if got is None:
        return None
    lookup = Lookup(hotline, {p.phone_id: PhoneState(
        active_calls=p.active_calls, last_call_ended_at=p.last_call_ended_at,
        calls_today=p.calls_today, talk_ms_today=p.talk_ms_today, presence=p.presence,
        offer_after=p.offer_after) for p in got.listed},
        refuses_calls=got.refuses, call_number=got.call_number, offline=store.offline_endpoints())
    taken = {p.phone_id: p.leg_id for p in got.claimed if p.leg_id is not None}
    phones = order.from_turn(got.call_number)
    targets = [Target(c.dial_string, c.phone_id, c.capacity) for c in phones]
    waves = ([] if not taken else
             [Wave(targets, pick=wanted, taken=taken)] if order.together else
             [Wave(targets, pick=1, hunt_on=True, taken=taken)])
    # One phone to ring in all rings for the whole call's time (as a ring plan of one).
    idle_others = [c for c in lookup.idle_candidates(now, group) if c.phone_id not in taken]
    lone = len(taken) + len(idle_others) == 1
    call.log.debug("ring order claimed", group=group.name, strategy=strategy.name,
                  claimed=list(taken), call_number=got.call_number,
                  order=[c.phone_id for c in phones])
    return FirstClaim(lookup, decision, where, group, waves,
                      hotline.total_timeout_s if lone else hotline.ring_timeout_s)

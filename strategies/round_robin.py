"""round_robin (循环接听): call k starts at phone k, then hunts on in order.

The call counter lives in PostgreSQL, so the rotation is shared by every router.
Phone k is counted among all the hotline's enabled phones; when it is busy the
call starts at the next idle one after it. Peers: app_queue ``rrordered``,
Kamailio dispatcher algorithm 4.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strategies.base import Candidate, Context, NoOptions, Order, RingPlan, hunt


class RoundRobin(NoOptions):
    name = "round_robin"
    description = "call k starts at phone k (rotation shared by all routers), then hunts on"
    uses_call_number = True

    def plan(self, candidates: Sequence[Candidate], context: Context,
             options: Mapping[str, Any]) -> RingPlan:
        count = max(context.bound_count, 1 + max((c.index for c in candidates), default=0))
        start = context.call_number % count
        return hunt(sorted(candidates, key=lambda c: ((c.index - start) % count, c.phone_id)))

    def order(self, phones: Sequence[Candidate], context: Context,
              options: Mapping[str, Any]) -> Order:
        """The phones in index order, rotated by the turn taken with the claim."""
        return Order(tuple(sorted(phones, key=lambda c: (c.index, c.phone_id))), rotate=True)


ROUND_ROBIN = RoundRobin()

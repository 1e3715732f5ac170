"""weighted (按比例): each phone gets its share of calls.

Shares are the bindings' ``weight`` (percentages are typical; any relative
numbers work, 0 never rings first). The first phone is drawn with probability
proportional to its share; if it fails, the rest are drawn the same way
without replacement. Peers: app_queue ``wrandom``, Kamailio algorithms 9/11.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strategies.base import Candidate, Context, NoOptions, RingPlan, hunt


class Weighted(NoOptions):
    name = "weighted"
    description = "each phone's share of calls in percent (the binding's weight)"

    def plan(self, candidates: Sequence[Candidate], context: Context,
             options: Mapping[str, Any]) -> RingPlan:
        left = sorted(candidates, key=lambda c: (c.position, c.phone_id))
        order: list[Candidate] = []
        while left:
            shared = [c for c in left if c.weight > 0]
            if not shared:  # only zero shares left: admin order
                order.extend(left)
                break
            point = context.rng.uniform(0, sum(c.weight for c in shared))
            chosen = shared[-1]
            for candidate in shared:
                point -= candidate.weight
                if point <= 0:
                    chosen = candidate
                    break
            order.append(chosen)
            left.remove(chosen)
        return hunt(order)


WEIGHTED = Weighted()

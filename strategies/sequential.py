"""sequential (顺序接听): always start at the first phone in the admin's order.

Peers: app_queue ``linear``, FreePBX ``hunt``, mod_callcenter ``top-down``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strategies.base import Candidate, Context, NoOptions, Order, RingPlan, hunt, in_admin_order


class Sequential(NoOptions):
    name = "sequential"
    description = "one phone at a time in the admin's order, always from the top"

    def plan(self, candidates: Sequence[Candidate], context: Context,
             options: Mapping[str, Any]) -> RingPlan:
        return hunt(in_admin_order(candidates))

    def order(self, phones: Sequence[Candidate], context: Context,
              options: Mapping[str, Any]) -> Order:
        return Order(tuple(in_admin_order(phones)))


SEQUENTIAL = Sequential()

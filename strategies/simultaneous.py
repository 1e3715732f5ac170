"""simultaneous (同时振铃): ring every idle phone; the first to answer wins.

The others are cancelled the moment one answers. Peers: app_queue
``ringall``, FreePBX ``ringall``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strategies.base import Candidate, Context, NoOptions, Order, RingPlan, Wave, in_admin_order


class Simultaneous(NoOptions):
    name = "simultaneous"
    description = "ring all idle phones at once; the first to answer wins"

    def plan(self, candidates: Sequence[Candidate], context: Context,
             options: Mapping[str, Any]) -> RingPlan:
        return [Wave(tuple(in_admin_order(candidates)))] if candidates else []

    def order(self, phones: Sequence[Candidate], context: Context,
              options: Mapping[str, Any]) -> Order:
        return Order(tuple(in_admin_order(phones)), together=True)


SIMULTANEOUS = Simultaneous()

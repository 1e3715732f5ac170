"""fewest_calls: the phone that answered the fewest calls today first.

Peers: app_queue ``fewestcalls``, mod_callcenter ``agent-with-fewest-calls``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strategies.base import Candidate, Context, NoOptions, RingPlan, hunt


class FewestCalls(NoOptions):
    name = "fewest_calls"
    description = "the phone with the fewest answered calls today first"

    def plan(self, candidates: Sequence[Candidate], context: Context,
             options: Mapping[str, Any]) -> RingPlan:
        return hunt(sorted(candidates, key=lambda c: (c.calls_today, c.position, c.phone_id)))


FEWEST_CALLS = FewestCalls()

"""random (随机接听): a random idle phone first, then the others in random order.

Peers: app_queue ``random``, FreePBX ``random``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strategies.base import Candidate, Context, NoOptions, RingPlan, hunt


class RandomIdle(NoOptions):
    name = "random"
    description = "a random idle phone, then the others in random order"

    def plan(self, candidates: Sequence[Candidate], context: Context,
             options: Mapping[str, Any]) -> RingPlan:
        shuffled = list(candidates)
        context.rng.shuffle(shuffled)
        return hunt(shuffled)


RANDOM = RandomIdle()

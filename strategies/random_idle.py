"""random (随机接听): a random idle phone first, then the others in random order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strategies.base import Candidate, Context, RingPlan, hunt, reject_unknown


class RandomIdle:
    name = "random"
    description = "ring a random idle phone; hunt on to the others in random order"

    def validate(self, options: Mapping[str, Any]) -> None:
        reject_unknown(self.name, options, ())

    def plan(self, candidates: Sequence[Candidate], context: Context,
             options: Mapping[str, Any]) -> RingPlan:
        shuffled = list(candidates)
        context.rng.shuffle(shuffled)
        return hunt(shuffled)


RANDOM = RandomIdle()

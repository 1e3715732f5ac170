"""sequential (顺序接听): always start at the first phone in the admin's order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strategies.base import Candidate, Context, RingPlan, hunt, reject_unknown


class Sequential:
    name = "sequential"
    description = "ring phones one at a time in the admin's order, always from the top"

    def validate(self, options: Mapping[str, Any]) -> None:
        reject_unknown(self.name, options, ())

    def plan(self, candidates: Sequence[Candidate], context: Context,
             options: Mapping[str, Any]) -> RingPlan:
        return hunt(sorted(candidates, key=lambda c: (c.position, c.phone_id)))


SEQUENTIAL = Sequential()

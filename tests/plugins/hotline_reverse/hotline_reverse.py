"""reverse: ring the idle phones one at a time, last in the admin's order first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strategies import Candidate, Context, OptionError, RingPlan, Wave


class Reverse:
    name = "reverse"
    description = "one phone at a time, from the bottom of the admin's order up"

    def validate(self, options: Mapping[str, Any]) -> None:
        if options:
            raise OptionError(f"strategy reverse has no option {sorted(options)[0]!r}")

    def plan(self, candidates: Sequence[Candidate], context: Context,
             options: Mapping[str, Any]) -> RingPlan:
        ordered = sorted(candidates, key=lambda c: (c.position, c.phone_id), reverse=True)
        return [Wave((phone,)) for phone in ordered]


REVERSE = Reverse()

"""longest_idle: the phone whose last call ended longest ago rings first.

A phone that has never taken a call counts as idle the longest. Peers:
app_queue ``leastrecent``, mod_callcenter's default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from strategies.base import Candidate, Context, NoOptions, RingPlan, hunt

_NEVER = datetime.min.replace(tzinfo=UTC)


class LongestIdle(NoOptions):
    name = "longest_idle"
    description = "the phone whose last call ended longest ago first"

    def plan(self, candidates: Sequence[Candidate], context: Context,
             options: Mapping[str, Any]) -> RingPlan:
        return hunt(sorted(candidates, key=lambda c: (c.last_call_ended_at or _NEVER,
                                                      c.position, c.phone_id)))


LONGEST_IDLE = LongestIdle()

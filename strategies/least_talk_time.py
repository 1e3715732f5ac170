"""least_talk_time: the phone with the least talk time today first.

Peers: mod_callcenter ``agent-with-least-talk-time``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strategies.base import Candidate, Context, NoOptions, RingPlan, hunt


class LeastTalkTime(NoOptions):
    name = "least_talk_time"
    description = "the phone with the least talk time today first"

    def plan(self, candidates: Sequence[Candidate], context: Context,
             options: Mapping[str, Any]) -> RingPlan:
        return hunt(sorted(candidates, key=lambda c: (c.talk_ms_today, c.position, c.phone_id)))


LEAST_TALK_TIME = LeastTalkTime()

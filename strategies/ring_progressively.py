"""ring_progressively: add one more phone every N seconds; earlier ones keep ringing.

Option ``interval_s`` (1-60, default 5). Phones join in the admin's order.
Peers: mod_callcenter ``ring-progressively``, FreePBX ``memoryhunt``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strategies.base import (
    Candidate,
    Context,
    OptionError,
    RingPlan,
    Wave,
    in_admin_order,
    reject_unknown,
)

DEFAULT_INTERVAL_S = 5.0


class RingProgressively:
    name = "ring_progressively"
    description = "add one phone every interval_s seconds while earlier ones keep ringing"

    def validate(self, options: Mapping[str, Any]) -> None:
        reject_unknown(self.name, options, ("interval_s",))
        interval = options.get("interval_s", DEFAULT_INTERVAL_S)
        if isinstance(interval, bool) or not isinstance(interval, int | float) \
                or not 1 <= interval <= 60:
            raise OptionError(f"strategy {self.name} option 'interval_s' must be a number of "
                              "seconds from 1 to 60")

    def plan(self, candidates: Sequence[Candidate], context: Context,
             options: Mapping[str, Any]) -> RingPlan:
        interval = float(options.get("interval_s", DEFAULT_INTERVAL_S))
        ordered = in_admin_order(candidates)
        return [Wave((phone,), delay_s=None if n == 0 else interval)
                for n, phone in enumerate(ordered)]


RING_PROGRESSIVELY = RingProgressively()

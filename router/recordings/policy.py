"""A hotline's recording settings (``hotlines.record_*``, migration 0018)."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

FORMATS = ("wav", "gsm", "ulaw", "alaw", "sln")
DEFAULT_RETENTION_DAYS = 30  # 通话录音 is commonly kept 30 days by 400 providers


@dataclass(frozen=True)
class RecordingPolicy:
    """``percent`` of answered calls recorded (0 none, 100 all) in ``file_format``;
    ``notice``: sounds the caller hears first (early media); kept ``retention_days``."""

    percent: int = 0
    file_format: str = "wav"
    notice: tuple[str, ...] = ()
    retention_days: int = DEFAULT_RETENTION_DAYS

    def records(self, rng: random.Random) -> bool:
        """Whether this answered call is recorded: a share of ``percent`` in 100,
        drawn per call (0 and 100 draw nothing)."""
        if self.percent <= 0:
            return False
        return self.percent >= 100 or rng.random() * 100 < self.percent

    def for_group(self, group_percent: int | None) -> RecordingPolicy:
        """This policy for a group's calls: the group's own share
        (``phone_groups.record_percent``, migration 0023) when it has one, else
        the hotline's; format, notice and retention stay the hotline's."""
        return self if group_percent is None else replace(self, percent=group_percent)

    def may_record(self, group_percents: list[int | None]) -> bool:
        """Whether some call may be recorded, when its group is one of those of
        ``group_percents`` (its group not known yet, e.g. before a voice menu)."""
        return any(self.for_group(p).percent > 0 for p in group_percents or [None])

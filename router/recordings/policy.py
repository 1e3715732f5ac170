"""A hotline's recording settings (``hotlines.record_*``, migration 0018)."""

from __future__ import annotations

import random
from dataclasses import dataclass

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

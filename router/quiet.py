"""One warning per outage for a loop that keeps retrying against the database.

A background loop (rating, heartbeats, gauges, the configuration listener)
that fails every pass while the database is away says so once, then only
when it works again, with how many passes failed meanwhile: a real fault (a
bug, a refused statement) is not buried under a traceback per second.
"""

from __future__ import annotations

from typing import Any

from router.store import unreachable


class QuietRetries:
    """Logs a repeating loop's database outages once; other errors in full."""

    def __init__(self, log: Any, what: str) -> None:
        self.log = log
        self.what = what  # "rating pass", "heartbeat", …
        self.failed_passes = 0  # passes failed since the outage began; 0 while healthy

    def failed(self, exc: BaseException) -> None:
        """A pass failed with ``exc`` (call it from the ``except`` block)."""
        if not unreachable(exc):
            self.log.error(f"{self.what} failed", exc_info=exc)
            return
        if self.failed_passes == 0:
            self.log.warning(f"{self.what} paused: database unreachable",
                             error=str(exc) or type(exc).__name__)
        self.failed_passes += 1

    def succeeded(self) -> None:
        """A pass worked: say so once if an outage had paused the loop."""
        if self.failed_passes:
            self.log.warning(f"{self.what} resumed: database is back",
                             failed_passes=self.failed_passes)
            self.failed_passes = 0

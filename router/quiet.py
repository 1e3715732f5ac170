"""One warning per outage for a loop that keeps retrying against the database.

A background loop (rating, heartbeats, gauges, the configuration listener)
that fails every pass while the database is away says so once, then only
when it works again, with how many passes failed meanwhile. Any other
failure that repeats pass after pass (Asterisk answering an error, a bug, a
refused statement) is logged the first time, with its traceback unless it is
an answer from Asterisk, and then only when it changes or stops: a real
fault is not buried under a traceback per second.
"""

from __future__ import annotations

from typing import Any

from router.ari import AriError
from router.store import unreachable


class QuietRetries:
    """Logs a repeating loop's outages and repeated errors once each."""

    def __init__(self, log: Any, what: str) -> None:
        self.log = log
        self.what = what  # "rating pass", "heartbeat", …
        self.failed_passes = 0  # passes failed since the outage began; 0 while healthy
        self.last_error: str | None = None  # the other error failing passes, if any
        self.repeats = 0  # passes that failed again with last_error

    def failed(self, exc: BaseException) -> None:
        """A pass failed with ``exc`` (call it from the ``except`` block)."""
        if unreachable(exc):
            if self.failed_passes == 0:
                self.log.warning(f"{self.what} paused: database unreachable",
                                 error=str(exc) or type(exc).__name__)
            self.failed_passes += 1
            return
        error = f"{type(exc).__name__}: {exc}"
        if error == self.last_error:
            self.repeats += 1
            return
        self._say_repeats()
        self.last_error = error
        if isinstance(exc, AriError):  # Asterisk's answer: its text says it all
            self.log.warning(f"{self.what} failed", error=str(exc))
        else:
            self.log.error(f"{self.what} failed", exc_info=exc)

    def succeeded(self) -> None:
        """A pass worked: say so once if an outage or an error had stopped the loop."""
        if self.failed_passes:
            self.log.warning(f"{self.what} resumed: database is back",
                             failed_passes=self.failed_passes)
            self.failed_passes = 0
        if self.last_error is not None:
            self._say_repeats()
            self.log.info(f"{self.what} resumed", after=self.last_error)
            self.last_error = None

    def _say_repeats(self) -> None:
        if self.repeats:
            self.log.warning(f"{self.what} failed again", error=self.last_error,
                             times=self.repeats)
            self.repeats = 0

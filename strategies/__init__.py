"""Answering rules, registered by name.

Built-in rules and third-party ones are found the same way: through the
``hotline_router.strategies`` entry-point group (see README, "Writing a
strategy"). Each entry point names an object with ``name``, ``description``,
``validate(options)`` and ``plan(candidates, context, options)``.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

import structlog

from strategies.base import Candidate, Context, OptionError, Order, RingPlan, Strategy, Wave

ENTRY_POINT_GROUP = "hotline_router.strategies"

__all__ = ["ENTRY_POINT_GROUP", "Candidate", "Context", "OptionError", "Order", "RingPlan",
           "Strategy", "UnknownStrategy", "Wave", "get", "installed"]

log = structlog.get_logger("strategies")


class UnknownStrategy(LookupError):
    """No installed strategy has this name."""


@cache
def installed() -> dict[str, Strategy]:
    """Every installed strategy by name (loaded once per process)."""
    found: dict[str, Strategy] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            strategy = entry.load()
        except Exception as exc:  # a broken plug-in must not stop the router
            log.error("strategy plug-in failed to load", entry_point=entry.value, error=str(exc))
            continue
        if not isinstance(strategy, Strategy):
            log.error("entry point is not a strategy", entry_point=entry.value)
            continue
        found[strategy.name] = strategy
    return dict(sorted(found.items()))


def get(name: str) -> Strategy:
    try:
        return installed()[name]
    except KeyError:
        known = ", ".join(installed()) or "none"
        raise UnknownStrategy(
            f"no strategy named {name!r} is installed (installed: {known})") from None

"""What an answering rule is: a pure function from idle phones to a ring plan.

A strategy never touches ARI or the database. The router hands it the idle
candidates (already filtered by busy state and capacity), what the router
knows about them, and the hotline's options; it returns the waves to ring.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Candidate:
    """An idle bound phone, as the strategy sees it."""

    phone_id: int
    dial_string: str
    position: int
    capacity: int = 1
    active_calls: int = 0
    last_call_ended_at: datetime | None = None


@dataclass(frozen=True)
class Wave:
    """Phones rung together; the first to answer wins."""

    phones: tuple[Candidate, ...]


RingPlan = list[Wave]


@dataclass(frozen=True)
class Context:
    """What the router knows beyond the candidates, shared by all routers."""

    rng: random.Random = field(default_factory=random.Random)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


class OptionError(ValueError):
    """A hotline's strategy options are wrong; the message names the option."""


@runtime_checkable
class Strategy(Protocol):
    name: str
    description: str

    def validate(self, options: Mapping[str, Any]) -> None:
        """Raise OptionError when ``options`` are not acceptable."""

    def plan(self, candidates: Sequence[Candidate], context: Context,
             options: Mapping[str, Any]) -> RingPlan:
        """The waves to ring, from idle ``candidates`` in the admin's order."""


def hunt(phones: Sequence[Candidate]) -> RingPlan:
    """One phone per wave, in the given order."""
    return [Wave((phone,)) for phone in phones]


def reject_unknown(strategy: str, options: Mapping[str, Any], known: Sequence[str]) -> None:
    unknown = sorted(set(options) - set(known))
    if unknown:
        allowed = ", ".join(known) or "none"
        raise OptionError(f"{strategy}: unknown option {unknown[0]!r} (allowed: {allowed})")

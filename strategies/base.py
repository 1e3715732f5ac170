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
    """An idle bound phone, as the strategy sees it.

    ``index`` is the phone's place among all the hotline's enabled phones (busy
    ones included), in the admin's order; the stats are shared by all routers.
    """

    phone_id: int
    dial_string: str
    position: int
    index: int = 0
    capacity: int = 1
    active_calls: int = 0
    weight: int = 1
    last_call_ended_at: datetime | None = None
    calls_today: int = 0
    talk_ms_today: int = 0


@dataclass(frozen=True)
class Wave:
    """Phones rung together; the first to answer wins.

    ``delay_s`` None: the wave rings once every earlier wave has failed
    (hunting). A number: it starts that many seconds after the previous wave
    started, while earlier phones keep ringing (ring progressively).
    """

    phones: tuple[Candidate, ...]
    delay_s: float | None = None


RingPlan = list[Wave]


@dataclass(frozen=True)
class Context:
    """What the router knows beyond the candidates, shared by all routers.

    ``call_number`` is the hotline's count of routed calls before this one
    (0, 1, 2, …), kept in PostgreSQL; it is only fetched for strategies that
    set ``uses_call_number = True``. ``bound_count`` counts all the hotline's
    enabled phones, busy or not.
    """

    rng: random.Random = field(default_factory=random.Random)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    call_number: int = 0
    bound_count: int = 0


@dataclass(frozen=True)
class Order:
    """A ring order fixed by the configuration alone, before busy state is read:
    the router claims the first idle phones in it with one statement
    (router/claims.py ``claim_in_order``), which reads busy state as it claims.

    ``together``: ring every idle phone of it at once (one wave); otherwise the
    first idle one, and when it does not take the call the next idle one after
    it (hunting). ``rotate``: begin at phone n mod len(phones) for the hotline's
    n-th routed call, then on around to the start; n is taken in the same
    statement, so the strategy does not know it.
    """

    phones: tuple[Candidate, ...]
    together: bool = False
    rotate: bool = False

    def from_turn(self, call_number: int | None) -> tuple[Candidate, ...]:
        """The phones in the order tried for the call of this round-robin number."""
        if not self.rotate or not self.phones or call_number is None:
            return self.phones
        start = call_number % len(self.phones)
        return self.phones[start:] + self.phones[:start]


class OptionError(ValueError):
    """A hotline's strategy options are wrong; the message names the option."""


@runtime_checkable
class Strategy(Protocol):
    """An answering rule. Optionally also ``uses_call_number: bool``, and
    ``order(phones, context, options) -> Order`` for a rule whose plan does not
    depend on busy state: ``phones`` are all the group's enabled phones, busy
    or not, and the first idle ones of the order must be what :meth:`plan`
    rings for any idle subset of them (tests/unit/test_strategies.py)."""

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


def in_admin_order(phones: Sequence[Candidate]) -> list[Candidate]:
    return sorted(phones, key=lambda c: (c.position, c.phone_id))


def reject_unknown(strategy: str, options: Mapping[str, Any], known: Sequence[str]) -> None:
    unknown = sorted(set(options) - set(known))
    if unknown:
        allowed = ", ".join(known) or "none"
        raise OptionError(f"strategy {strategy} has no option {unknown[0]!r} (allowed: {allowed})")


class NoOptions:
    """Mixin for rules that take no options."""

    name: str

    def validate(self, options: Mapping[str, Any]) -> None:
        reject_unknown(self.name, options, ())

"""Rating, as pure functions: billable time, units, included minutes, charges.

No database and no clock here: the rater (router/billing/rater.py) and
`billing rerate` feed these the same inputs and get the same answer, which is
what makes rating repeatable. Money is integer fen throughout.

The rules:

- Billing starts when the caller is answered, a time stored once
  (``calls.caller_answered_at``, migration 0013): a voice menu's answer, or
  else the answer of the bound phone that connects (its confirmation, when
  the hotline screens calls). It ends with the call. A greeting or ringback
  is early media and starts nothing; an unanswered call bills nothing.
- Billable time is counted in whole units of the tariff (60 s, 6 s, …); a part
  unit counts as a whole one.
- While a package is valid, each month's first included minutes cost nothing;
  later units cost the package's overage price (or the tariff's price when it
  names none). Without a package every unit costs the tariff's price.
- Included minutes go to calls in the order they ended (then by call id), so
  a month rated call by call and a month re-rated at once agree.
- A month that starts inside a package with a minimum spend is topped up to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

_MS = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Tariff:
    """How a hotline's calls are priced from ``valid_from`` until its next tariff."""

    valid_from: datetime
    unit_s: int = 60
    price_per_unit_fen: int = 0


@dataclass(frozen=True)
class Package:
    """A prepaid package, valid in [valid_from, valid_until)."""

    id: int
    valid_from: datetime
    valid_until: datetime
    included_minutes: int = 0
    overage_per_unit_fen: int | None = None
    monthly_minimum_fen: int = 0

    def covers(self, at: datetime) -> bool:
        return self.valid_from <= at < self.valid_until


@dataclass(frozen=True)
class Terms:
    """A hotline's tariffs and packages: what rating needs besides the call."""

    tariffs: tuple[Tariff, ...] = ()
    packages: tuple[Package, ...] = ()

    def tariff_at(self, at: datetime) -> Tariff | None:
        """The tariff in force at ``at``: the latest that started by then."""
        started = [t for t in self.tariffs if t.valid_from <= at]
        return max(started, key=lambda t: t.valid_from) if started else None

    def package_at(self, at: datetime) -> Package | None:
        return next((p for p in self.packages if p.covers(at)), None)


@dataclass(frozen=True)
class CallTimes:
    """The times of a call record that billing reads."""

    call_id: UUID
    started_at: datetime
    ended_at: datetime
    answered_at: datetime | None = None          # the bound phone answered (its own answer)
    caller_answered_at: datetime | None = None   # the caller was answered: billing starts

    @property
    def billed_from(self) -> datetime | None:
        """When billing starts: ``caller_answered_at``, the one stored time
        (a voice menu's answer, or the connecting phone's answer, after its
        confirmation when screened; migration 0013). A record with only the
        phone's answer bills from it, as ``calls.billable_ms`` did before."""
        return self.caller_answered_at or self.answered_at

    @property
    def billable_ms(self) -> int:
        start = self.billed_from
        if start is None:
            return 0
        return max(0, (self.ended_at - start) // _MS)

    @property
    def order(self) -> tuple[datetime, UUID]:
        """The order in which calls take a month's included minutes."""
        return (self.ended_at, self.call_id)


@dataclass(frozen=True)
class Rating:
    """How one call is rated. Its charge follows from the rest, so it cannot disagree."""

    billable_ms: int
    unit_s: int
    units: int
    included_units: int
    price_per_unit_fen: int
    package_id: int | None = None

    @property
    def charged_units(self) -> int:
        return self.units - self.included_units

    @property
    def charge_fen(self) -> int:
        return self.charged_units * self.price_per_unit_fen

    @property
    def included_s(self) -> int:
        """Included seconds this call used up."""
        return self.included_units * self.unit_s


def units_for(billable_ms: int, unit_s: int) -> int:
    """Whole units covering ``billable_ms``: a part unit counts as a whole one."""
    if unit_s <= 0:
        raise ValueError("a billing unit must be at least one second")
    if billable_ms <= 0:
        return 0
    return -(-billable_ms // (unit_s * 1000))


def rate_call(billable_ms: int, tariff: Tariff, package: Package | None = None,
              included_used_s: int = 0) -> Rating:
    """Rate one call, given the included seconds earlier calls of its month used."""
    units = units_for(billable_ms, tariff.unit_s)
    if package is None:
        return Rating(max(0, billable_ms), tariff.unit_s, units, 0, tariff.price_per_unit_fen)
    left_s = max(0, package.included_minutes * 60 - included_used_s)
    included = min(units, left_s // tariff.unit_s)
    price = (tariff.price_per_unit_fen if package.overage_per_unit_fen is None
             else package.overage_per_unit_fen)
    return Rating(max(0, billable_ms), tariff.unit_s, units, included, price, package.id)


def rate_month(calls: Iterable[CallTimes], terms: Terms) -> dict[UUID, Rating]:
    """Rate a month's calls of one hotline together; calls without a tariff are left out."""
    used_s: dict[int, int] = {}
    ratings: dict[UUID, Rating] = {}
    for call in sorted(calls, key=lambda c: c.order):
        tariff = terms.tariff_at(call.started_at)
        if tariff is None:
            continue
        package = terms.package_at(call.started_at)
        used = used_s.get(package.id, 0) if package else 0
        rating = rate_call(call.billable_ms, tariff, package, used)
        if package is not None:
            used_s[package.id] = used + rating.included_s
        ratings[call.call_id] = rating
    return ratings


def minimum_spend_top_up(minimum_fen: int, charged_fen: int) -> int:
    """What a month owes on top of its charges to reach the minimum spend."""
    return max(0, minimum_fen - charged_fen)


@dataclass(frozen=True)
class Charged:
    """A call as the ledger has it: its current rating and its net charge."""

    rating: Rating
    charged_fen: int


@dataclass(frozen=True)
class Correction:
    """A call whose charge a re-rating changes; ``delta_fen`` is owed on top (or refunded)."""

    call_id: UUID
    before: Charged
    after: Rating

    @property
    def delta_fen(self) -> int:
        return self.after.charge_fen - self.before.charged_fen


def corrections(current: Mapping[UUID, Charged],
                derived: Mapping[UUID, Rating]) -> list[Correction]:
    """What must change so that every call charged now is charged as derived.

    A call is corrected when its rating or its net charge differs; calls the
    derivation could not rate (no tariff any more) keep what they have.
    """
    return [Correction(call_id, charged, derived[call_id])
            for call_id, charged in current.items()
            if call_id in derived and (charged.rating != derived[call_id]
                                       or charged.charged_fen != derived[call_id].charge_fen)]


def apply(current: Mapping[UUID, Charged], changes: Iterable[Correction]) -> dict[UUID, Charged]:
    """The ledger's view after ``changes`` are appended as adjustments."""
    after = dict(current)
    for change in changes:
        after[change.call_id] = Charged(change.after, change.before.charged_fen + change.delta_fen)
    return after

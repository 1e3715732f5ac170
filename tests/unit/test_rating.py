"""The rating rules, as properties that must hold for any call and any price list."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.billing.rating import (
    CallTimes,
    Charged,
    Package,
    Rating,
    Tariff,
    Terms,
    apply,
    corrections,
    minimum_spend_top_up,
    rate_call,
    rate_month,
    units_for,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
UNITS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)

durations_ms = st.integers(min_value=0, max_value=3 * 3600 * 1000)
tariffs = st.builds(Tariff, valid_from=st.just(T0), unit_s=st.sampled_from(UNITS),
                    price_per_unit_fen=st.integers(0, 1000))
packages = st.none() | st.builds(
    Package, id=st.just(1), valid_from=st.just(T0), valid_until=st.just(T0 + timedelta(days=365)),
    included_minutes=st.integers(0, 600), overage_per_unit_fen=st.none() | st.integers(0, 1000),
    monthly_minimum_fen=st.integers(0, 100_000))
used_s = st.integers(min_value=0, max_value=40_000)


@given(durations_ms, tariffs, packages, used_s)
def test_a_rating_is_never_negative(ms: int, tariff: Tariff, package: Package | None,
                                    used: int) -> None:
    rating = rate_call(ms, tariff, package, used)
    assert rating.units >= 0
    assert 0 <= rating.included_units <= rating.units
    assert rating.charge_fen >= 0


@given(durations_ms, durations_ms, tariffs, packages, used_s)
def test_longer_calls_never_cost_less(a: int, b: int, tariff: Tariff, package: Package | None,
                                      used: int) -> None:
    short, long = sorted((a, b))
    assert rate_call(short, tariff, package, used).units <= rate_call(long, tariff, package,
                                                                      used).units
    assert rate_call(short, tariff, package, used).charge_fen <= rate_call(
        long, tariff, package, used).charge_fen


@given(durations_ms, tariffs, packages, used_s, used_s)
def test_less_included_time_left_never_costs_less(ms: int, tariff: Tariff,
                                                  package: Package | None, a: int,
                                                  b: int) -> None:
    less_used, more_used = sorted((a, b))
    assert rate_call(ms, tariff, package, less_used).charge_fen <= rate_call(
        ms, tariff, package, more_used).charge_fen


@given(durations_ms, st.sampled_from(UNITS))
def test_part_units_round_up(ms: int, unit_s: int) -> None:
    units = units_for(ms, unit_s)
    unit_ms = unit_s * 1000
    if ms == 0:
        assert units == 0
    else:
        assert (units - 1) * unit_ms < ms <= units * unit_ms


def test_rounding_examples() -> None:
    assert units_for(1, 60) == 1            # one millisecond is a whole minute
    assert units_for(60_000, 60) == 1
    assert units_for(60_001, 60) == 2
    assert units_for(6_000, 6) == 1
    assert units_for(6_001, 6) == 2
    tariff = Tariff(T0, unit_s=60, price_per_unit_fen=12)
    assert rate_call(61_000, tariff).charge_fen == 24  # ¥0.12/min, 1 min 1 s = 2 min


def test_included_minutes_then_overage_price() -> None:
    tariff = Tariff(T0, unit_s=6, price_per_unit_fen=2)
    package = Package(7, T0, T0 + timedelta(days=30), included_minutes=1, overage_per_unit_fen=1)
    # 1 minute included = 10 units of 6 s; 30 s already used leaves 5 units
    rating = rate_call(40_000, tariff, package, included_used_s=30)
    assert (rating.units, rating.included_units, rating.charged_units) == (7, 5, 2)
    assert rating.charge_fen == 2 * 1
    assert rating.package_id == 7
    no_overage_price = Package(8, T0, T0 + timedelta(days=30), included_minutes=0)
    assert rate_call(40_000, tariff, no_overage_price).charge_fen == 7 * 2


def test_billing_starts_at_the_earlier_answer() -> None:
    call_id = uuid.uuid4()
    phone_only = CallTimes(call_id, T0, T0 + timedelta(seconds=10),
                           answered_at=T0 + timedelta(seconds=2),
                           caller_answered_at=T0 + timedelta(seconds=2, milliseconds=40))
    assert phone_only.billable_ms == 8000
    greeting_first = CallTimes(call_id, T0, T0 + timedelta(seconds=10),
                               answered_at=T0 + timedelta(seconds=6),
                               caller_answered_at=T0 + timedelta(seconds=1))
    assert greeting_first.billable_ms == 9000
    unanswered = CallTimes(call_id, T0, T0 + timedelta(seconds=10))
    assert unanswered.billable_ms == 0


def test_the_tariff_in_force_is_the_latest_started() -> None:
    old, new = Tariff(T0, 60, 12), Tariff(T0 + timedelta(days=10), 6, 2)
    terms = Terms(tariffs=(new, old))
    assert terms.tariff_at(T0 - timedelta(seconds=1)) is None
    assert terms.tariff_at(T0 + timedelta(days=9)) == old
    assert terms.tariff_at(T0 + timedelta(days=10)) == new


def test_minimum_spend_tops_up_only_what_is_missing() -> None:
    assert minimum_spend_top_up(10_000, 2_500) == 7_500
    assert minimum_spend_top_up(10_000, 12_000) == 0
    assert minimum_spend_top_up(0, 0) == 0


# --- a month of calls --------------------------------------------------------

@st.composite
def months_of_calls(draw: st.DrawFn) -> tuple[list[CallTimes], Terms]:
    count = draw(st.integers(0, 25))
    calls = []
    for _ in range(count):
        start = T0 + timedelta(milliseconds=draw(st.integers(0, 29 * 86_400_000)))
        answered = draw(st.none() | st.integers(0, 60_000))
        talk = draw(st.integers(0, 900_000))
        greeting = draw(st.none() | st.integers(0, 60_000))
        answered_at = start + timedelta(milliseconds=answered) if answered is not None else None
        caller_answered_at = (start + timedelta(milliseconds=greeting)
                              if greeting is not None else None)
        ended_at = start + timedelta(milliseconds=(answered or 0) + talk)
        calls.append(CallTimes(uuid.UUID(int=draw(st.integers(0, 2**128 - 1))), start, ended_at,
                               answered_at, caller_answered_at))
    tariff_list = draw(st.lists(tariffs, min_size=1, max_size=3))
    spread = tuple(Tariff(T0 + timedelta(days=10 * i), t.unit_s, t.price_per_unit_fen)
                   for i, t in enumerate(tariff_list))
    package = draw(packages)
    return calls, Terms(tariffs=spread, packages=(package,) if package else ())


def rate_one_by_one(calls: list[CallTimes], terms: Terms) -> dict[uuid.UUID, Rating]:
    """As the rating loop does: each call as it ends, given what earlier calls used."""
    used_s = 0
    ratings = {}
    for call in sorted(calls, key=lambda c: c.order):
        tariff = terms.tariff_at(call.started_at)
        assert tariff is not None
        rating = rate_call(call.billable_ms, tariff, terms.package_at(call.started_at), used_s)
        used_s += rating.included_s
        ratings[call.call_id] = rating
    return ratings


@given(months_of_calls())
def test_rating_call_by_call_agrees_with_rating_the_month_at_once(
        month: tuple[list[CallTimes], Terms]) -> None:
    calls, terms = month
    assert rate_one_by_one(calls, terms) == rate_month(calls, terms)


@given(months_of_calls(), st.data())
def test_rerating_twice_changes_nothing(month: tuple[list[CallTimes], Terms],
                                        data: st.DataObject) -> None:
    calls, terms = month
    derived = rate_month(calls, terms)
    # What the ledger holds: right, or rated under a wrong tariff and since adjusted.
    current = {}
    for call_id, rating in derived.items():
        wrong = Rating(rating.billable_ms, rating.unit_s, rating.units,
                       data.draw(st.integers(0, rating.units)),
                       data.draw(st.integers(0, 1000)), rating.package_id)
        chosen = data.draw(st.sampled_from([rating, wrong]))
        current[call_id] = Charged(chosen, chosen.charge_fen + data.draw(st.integers(-50, 50)))

    first = apply(current, corrections(current, derived))
    assert corrections(first, rate_month(calls, terms)) == []
    assert {c: v.charged_fen for c, v in first.items()} == {
        c: r.charge_fen for c, r in derived.items()}


def test_a_correction_records_the_difference() -> None:
    call_id = uuid.uuid4()
    before = Rating(61_000, 60, 2, 0, 12)
    after = Rating(61_000, 60, 2, 0, 10)
    (change,) = corrections({call_id: Charged(before, 24)}, {call_id: after})
    assert change.delta_fen == -4
    assert apply({call_id: Charged(before, 24)}, [change])[call_id] == Charged(after, 20)


@pytest.mark.parametrize("unit_s", [0, -6])
def test_a_unit_must_be_positive(unit_s: int) -> None:
    with pytest.raises(ValueError, match="at least one second"):
        units_for(1000, unit_s)

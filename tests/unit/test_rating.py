"""The rating rules, as properties that must hold for any call and any price list."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
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


ONE_MINUTE_PACKAGE = Package(1, T0, T0 + timedelta(days=365), included_minutes=1)


@given(durations_ms, durations_ms, tariffs, packages, used_s)
@example(60_000, 60_001, Tariff(T0, 60, 12), ONE_MINUTE_PACKAGE, 0)  # the included minute's end
@example(0, 1, Tariff(T0, 60, 12), None, 0)
def test_longer_calls_never_cost_less(a: int, b: int, tariff: Tariff, package: Package | None,
                                      used: int) -> None:
    short, long = sorted((a, b))
    assert rate_call(short, tariff, package, used).units <= rate_call(long, tariff, package,
                                                                      used).units
    assert rate_call(short, tariff, package, used).charge_fen <= rate_call(
        long, tariff, package, used).charge_fen


@given(durations_ms, tariffs, packages, used_s, used_s)
@example(60_000, Tariff(T0, 60, 12), ONE_MINUTE_PACKAGE, 0, 1)      # a part unit left
@example(60_000, Tariff(T0, 60, 12), ONE_MINUTE_PACKAGE, 60, 61)    # nothing left
def test_less_included_time_left_never_costs_less(ms: int, tariff: Tariff,
                                                  package: Package | None, a: int,
                                                  b: int) -> None:
    less_used, more_used = sorted((a, b))
    assert rate_call(ms, tariff, package, less_used).charge_fen <= rate_call(
        ms, tariff, package, more_used).charge_fen


@given(durations_ms, st.sampled_from(UNITS))
@example(0, 60)
@example(1, 60)
@example(60_000, 60)
@example(60_001, 60)
@example(5_999, 6)
def test_part_units_round_up(ms: int, unit_s: int) -> None:
    units = units_for(ms, unit_s)
    unit_ms = unit_s * 1000
    if ms == 0:
        assert units == 0
    else:
        assert (units - 1) * unit_ms < ms <= units * unit_ms


def test_rounding_examples() -> None:
    assert units_for(0, 60) == 0
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


def test_billing_starts_at_the_one_stored_time_the_caller_was_answered() -> None:
    call_id = uuid.uuid4()
    confirmed = CallTimes(call_id, T0, T0 + timedelta(seconds=10),
                          answered_at=T0 + timedelta(seconds=2),
                          caller_answered_at=T0 + timedelta(seconds=4, milliseconds=40))
    assert confirmed.billable_ms == 5960  # a screened phone: from its confirmation
    menu_first = CallTimes(call_id, T0, T0 + timedelta(seconds=10),
                           answered_at=T0 + timedelta(seconds=6),
                           caller_answered_at=T0 + timedelta(seconds=1))
    assert menu_first.billable_ms == 9000
    menu_only = CallTimes(call_id, T0, T0 + timedelta(seconds=12, milliseconds=13),
                          caller_answered_at=T0)
    assert menu_only.billable_ms == 12013  # the caller hung up in the menu
    phone_only = CallTimes(call_id, T0, T0 + timedelta(seconds=10),
                           answered_at=T0 + timedelta(seconds=2))
    assert phone_only.billable_ms == 8000  # a record with only the phone's answer
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
    with pytest.raises(ValueError, match=r"^a billing unit must be at least one second$"):
        units_for(1000, unit_s)


# --- worked examples, computed by hand ------------------------------------------
#
# A package at ¥0.12/min (12 fen per 60 s unit) with 1 included minute, overage at
# the tariff's price unless the package names one. Every figure below is worked out
# on paper from the rules in router/billing/rating.py's docstring.

MINUTE_12 = Tariff(T0, unit_s=60, price_per_unit_fen=12)
SIX_SECONDS_2 = Tariff(T0, unit_s=6, price_per_unit_fen=2)
ONE_SECOND_1 = Tariff(T0, unit_s=1, price_per_unit_fen=1)
YEAR = timedelta(days=365)


def call(start_s: float, talk_s: float, ring_s: float = 2, n: int = 0) -> CallTimes:
    """A call started ``start_s`` after T0, answered after ``ring_s``, talking ``talk_s``."""
    started = T0 + timedelta(seconds=start_s)
    answered = started + timedelta(seconds=ring_s)
    return CallTimes(uuid.UUID(int=n), started, answered + timedelta(seconds=talk_s), answered)


def charges_of(calls: list[CallTimes], terms: Terms) -> list[int | None]:
    """Each call's charge in fen, in the order given; None for a call left unrated."""
    ratings = rate_month(calls, terms)
    return [ratings[c.call_id].charge_fen if c.call_id in ratings else None for c in calls]


def test_included_minutes_run_out_across_the_calls_of_a_month() -> None:
    # 1 included minute; two 60 s calls: the first takes the minute (0 fen), the
    # second pays 1 unit at 12 fen.
    package = Package(1, T0, T0 + YEAR, included_minutes=1)
    terms = Terms((MINUTE_12,), (package,))
    calls = [call(0, 60, n=1), call(3600, 60, n=2)]
    assert charges_of(calls, terms) == [0, 12]
    # three 30 s calls on 6 s units at 2 fen: 5 + 5 units included, then the
    # third call's 5 units cost 10 fen
    terms = Terms((SIX_SECONDS_2,), (Package(1, T0, T0 + YEAR, included_minutes=1),))
    calls = [call(0, 30, n=1), call(100, 30, n=2), call(200, 30, n=3)]
    assert charges_of(calls, terms) == [0, 0, 10]
    ratings = rate_month(calls, terms)
    assert [ratings[c.call_id].included_s for c in calls] == [30, 30, 0]


def test_included_minutes_go_to_the_call_that_ended_first() -> None:
    # the later-started call ended first, so it takes the included minute
    terms = Terms((MINUTE_12,), (Package(1, T0, T0 + YEAR, included_minutes=1),))
    long_call = call(0, 120, n=1)       # ends at 122 s: 2 units
    short_call = call(10, 50, n=2)      # ends at 62 s: 1 unit, all included
    assert charges_of([long_call, short_call], terms) == [24, 0]


def test_each_package_keeps_its_own_included_minutes() -> None:
    # package 1 ends at 1 h; package 2 starts then with its own minute
    first = Package(1, T0, T0 + timedelta(hours=1), included_minutes=1)
    second = Package(2, T0 + timedelta(hours=1), T0 + YEAR, included_minutes=1)
    terms = Terms((MINUTE_12,), (first, second))
    calls = [call(0, 60, n=1), call(3600, 60, n=2), call(7200, 60, n=3)]
    assert charges_of(calls, terms) == [0, 0, 12]
    ratings = rate_month(calls, terms)
    assert [ratings[c.call_id].package_id for c in calls] == [1, 2, 2]


def test_an_included_minute_is_sixty_seconds() -> None:
    # 1-second units: 1 included minute covers exactly 60 units; a 61 s call pays 1 fen
    package = Package(1, T0, T0 + YEAR, included_minutes=1)
    rating = rate_call(61_000, ONE_SECOND_1, package)
    assert (rating.units, rating.included_units, rating.charge_fen) == (61, 60, 1)
    assert rating.included_s == 60
    # 10 minutes on 6 s units are 100 units: a 606 s call pays 1 unit at 2 fen
    ten = Package(1, T0, T0 + YEAR, included_minutes=10)
    assert rate_call(606_000, SIX_SECONDS_2, ten).charge_fen == 2


def test_included_time_covering_part_of_a_unit_includes_no_part_unit() -> None:
    # 1 included minute, 30 s used: 30 s are left, less than one 60 s unit, so a
    # 60 s call pays the whole unit (12 fen), never a fraction of it
    package = Package(1, T0, T0 + YEAR, included_minutes=1)
    rating = rate_call(60_000, MINUTE_12, package, included_used_s=30)
    assert (rating.included_units, rating.charged_units, rating.charge_fen) == (0, 1, 12)
    assert isinstance(rating.charge_fen, int)
    # 59 s left on 6 s units: 9 whole units included (54 s), not 9.83
    rating = rate_call(60_000, SIX_SECONDS_2, package, included_used_s=1)
    assert (rating.included_units, rating.charge_fen) == (9, 2)
    assert isinstance(rating.included_units, int)


def test_included_time_used_up_leaves_nothing_included() -> None:
    # more used than the package includes (a re-rating moved calls): nothing is left,
    # and the 1 s units of a 5 s call all cost 1 fen
    package = Package(1, T0, T0 + YEAR, included_minutes=1)
    for used in (60, 61, 600):
        rating = rate_call(5_000, ONE_SECOND_1, package, included_used_s=used)
        assert (rating.included_units, rating.charge_fen) == (0, 5)


def test_a_call_rated_alone_has_used_no_included_time() -> None:
    # rate_call's default: nothing used yet, the whole minute (10 units of 6 s) is left
    package = Package(1, T0, T0 + YEAR, included_minutes=1)
    assert rate_call(60_000, SIX_SECONDS_2, package).included_units == 10
    assert rate_call(60_000, SIX_SECONDS_2, package).charge_fen == 0


def test_a_call_that_ends_the_moment_it_is_answered_costs_nothing() -> None:
    answered = T0 + timedelta(seconds=5)
    instant = CallTimes(uuid.UUID(int=1), T0, answered, answered_at=answered)
    assert instant.billable_ms == 0
    (rating,) = rate_month([instant], Terms((MINUTE_12,))).values()
    assert (rating.billable_ms, rating.units, rating.charge_fen) == (0, 0, 0)
    package = Package(1, T0, T0 + YEAR, included_minutes=1)
    (rating,) = rate_month([instant], Terms((MINUTE_12,), (package,))).values()
    assert (rating.billable_ms, rating.units, rating.included_units, rating.charge_fen) == (
        0, 0, 0, 0)


def test_a_rating_keeps_the_billable_milliseconds() -> None:
    assert rate_call(61_234, MINUTE_12).billable_ms == 61_234
    package = Package(1, T0, T0 + YEAR, included_minutes=1)
    assert rate_call(61_234, MINUTE_12, package).billable_ms == 61_234
    assert rate_call(-5, MINUTE_12).billable_ms == 0
    assert rate_call(-5, MINUTE_12, package).billable_ms == 0


def test_an_answer_after_the_end_bills_nothing() -> None:
    # clocks of two Asterisks may disagree by a few ms: never a negative duration
    late = CallTimes(uuid.UUID(int=1), T0, T0 + timedelta(seconds=5),
                     answered_at=T0 + timedelta(seconds=5, milliseconds=3))
    assert late.billable_ms == 0


def test_a_call_before_the_first_tariff_is_left_out_and_later_ones_rated() -> None:
    tariff = Tariff(T0 + timedelta(days=1), unit_s=60, price_per_unit_fen=12)
    early, later = call(0, 60, n=1), call(2 * 86_400, 90, n=2)
    assert charges_of([early, later], Terms((tariff,))) == [None, 24]


def test_a_package_covers_its_start_and_not_its_end() -> None:
    # [valid_from, valid_until): a call starting at the end instant pays the tariff
    start, end = T0 + timedelta(days=1), T0 + timedelta(days=31)
    package = Package(1, start, end, included_minutes=100, overage_per_unit_fen=5)
    assert package.covers(start)
    assert not package.covers(start - timedelta(milliseconds=1))
    assert package.covers(end - timedelta(milliseconds=1))
    assert not package.covers(end)
    terms = Terms((MINUTE_12,), (package,))
    at_start = CallTimes(uuid.UUID(int=1), start, start + timedelta(seconds=60), start)
    at_end = CallTimes(uuid.UUID(int=2), end, end + timedelta(seconds=60), end)
    assert charges_of([at_start, at_end], terms) == [0, 12]
    assert terms.package_at(end) is None
    assert terms.package_at(start) == package


def test_overage_after_the_included_minutes_at_the_packages_price() -> None:
    # ¥3,000 package-style: 100 included minutes, then 10 fen a minute instead of 12.
    # Calls of 99 min, 2 min and 3 min 1 s: 99 included; 1 of 2 included, 1 at 10 fen;
    # 4 units at 10 fen = 40 fen.
    package = Package(1, T0, T0 + YEAR, included_minutes=100, overage_per_unit_fen=10)
    terms = Terms((MINUTE_12,), (package,))
    calls = [call(0, 99 * 60, n=1), call(7200, 120, n=2), call(9000, 181, n=3)]
    assert charges_of(calls, terms) == [0, 10, 40]


# --- the month, against a second, plain reading of the rules --------------------

def plain_month(calls: list[CallTimes], terms: Terms) -> dict[uuid.UUID, int]:
    """The charge of each call in fen, worked out without the module's helpers."""
    charged: dict[uuid.UUID, int] = {}
    used_s: dict[int, int] = {}
    for c in sorted(calls, key=lambda c: (c.ended_at, c.call_id)):
        started = [t for t in terms.tariffs if t.valid_from <= c.started_at]
        if not started:
            continue
        tariff = sorted(started, key=lambda t: t.valid_from)[-1]
        start = c.caller_answered_at if c.caller_answered_at is not None else c.answered_at
        ms = 0
        if start is not None:
            delta = c.ended_at - start
            ms = max(0, delta.days * 86_400_000 + delta.seconds * 1000
                     + delta.microseconds // 1000)
        unit_ms = tariff.unit_s * 1000
        units = (ms + unit_ms - 1) // unit_ms
        price, included = tariff.price_per_unit_fen, 0
        for p in terms.packages:
            if p.valid_from <= c.started_at and c.started_at < p.valid_until:
                left_s = p.included_minutes * 60 - used_s.get(p.id, 0)
                included = min(units, left_s // tariff.unit_s) if left_s > 0 else 0
                used_s[p.id] = used_s.get(p.id, 0) + included * tariff.unit_s
                if p.overage_per_unit_fen is not None:
                    price = p.overage_per_unit_fen
                break
        charged[c.call_id] = (units - included) * price
    return charged


TWO_MINUTE_CALLS = ([call(0, 60, n=1), call(3600, 60, n=2)],
                    Terms((MINUTE_12,), (Package(1, T0, T0 + YEAR, included_minutes=1),)))


@given(months_of_calls())
@example(TWO_MINUTE_CALLS)
@example(([call(0, 0, n=1), call(10, 0.001, n=2)], Terms((MINUTE_12,))))
@example(([call(0, 60, n=1), call(2 * 86_400, 60, n=2)],
          Terms((Tariff(T0 + timedelta(days=1), 60, 12),))))
@example(([call(0, 90, n=1), call(100, 45, n=2)],
          Terms((SIX_SECONDS_2,), (Package(1, T0, T0 + YEAR, included_minutes=1,
                                           overage_per_unit_fen=1),))))
def test_a_month_is_charged_as_the_rules_read_plainly(
        month: tuple[list[CallTimes], Terms]) -> None:
    calls, terms = month
    assert {c: r.charge_fen for c, r in rate_month(calls, terms).items()} == plain_month(
        calls, terms)


def test_the_worked_months_agree_with_the_plain_reading() -> None:
    calls, terms = TWO_MINUTE_CALLS
    assert plain_month(calls, terms) == {calls[0].call_id: 0, calls[1].call_id: 12}


def test_the_tariff_in_force_changes_at_its_start() -> None:
    # 12 fen/min until day 10, then 2 fen per 6 s: a 61 s call costs 24 fen before
    # and 11 units x 2 = 22 fen from the change on
    new = Tariff(T0 + timedelta(days=10), unit_s=6, price_per_unit_fen=2)
    terms = Terms((MINUTE_12, new))
    before = CallTimes(uuid.UUID(int=1), T0 + timedelta(days=10) - timedelta(seconds=1),
                       T0 + timedelta(days=10, seconds=60), T0 + timedelta(days=10) - timedelta(
                           seconds=1))
    after = CallTimes(uuid.UUID(int=2), T0 + timedelta(days=10),
                      T0 + timedelta(days=10, seconds=61), T0 + timedelta(days=10))
    assert charges_of([before, after], terms) == [24, 22]


def test_a_correction_of_the_net_charge_alone() -> None:
    # the rating is right but the ledger holds 20 fen for a 24 fen call: owe 4 more
    call_id, kept = uuid.uuid4(), uuid.uuid4()
    rating = Rating(61_000, 60, 2, 0, 12)
    current = {call_id: Charged(rating, 20), kept: Charged(rating, 24)}
    (change,) = corrections(current, {call_id: rating, kept: rating})
    assert (change.call_id, change.delta_fen) == (call_id, 4)
    # a call the derivation cannot rate keeps what it has
    assert corrections({call_id: Charged(rating, 20)}, {}) == []
    after = apply(current, [change])
    assert after == {call_id: Charged(rating, 24), kept: Charged(rating, 24)}
    assert current[call_id] == Charged(rating, 20)  # the ledger's past is not rewritten


def test_a_ratings_parts() -> None:
    # 2 min 1 s on 60 s units at 12 fen with 1 minute included: 3 units, 1 included
    rating = Rating(121_000, 60, 3, 1, 12, package_id=4)
    assert (rating.charged_units, rating.charge_fen, rating.included_s) == (2, 24, 60)

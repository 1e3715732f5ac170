"""The built-in answering rules as pure functions."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import strategies
from strategies import Candidate, Context

BUILT_IN = ("fewest_calls", "least_talk_time", "longest_idle", "random", "ring_progressively",
            "round_robin", "sequential", "simultaneous", "weighted")


def phones(n: int, **fields: Sequence[object]) -> list[Candidate]:
    made = []
    for i in range(n):
        extra = {name: values[i] for name, values in fields.items()}
        made.append(Candidate(phone_id=i + 1, dial_string=f"PJSIP/p{i + 1}", position=i + 1,
                              index=i, **extra))  # type: ignore[arg-type]
    return made


def order(plan: strategies.RingPlan) -> list[int]:
    return [phone.phone_id for wave in plan for phone in wave.phones]


def plan(name: str, candidates: list[Candidate], context: Context | None = None,
         **options: object) -> strategies.RingPlan:
    return strategies.get(name).plan(candidates, context or Context(), options)


def test_every_built_in_rule_is_installed_with_a_description() -> None:
    installed = strategies.installed()
    assert set(BUILT_IN) <= set(installed)
    assert all(installed[name].description for name in BUILT_IN)


@pytest.mark.parametrize("name", BUILT_IN)
@given(n=st.integers(min_value=0, max_value=8), seed=st.integers())
def test_every_rule_rings_each_idle_phone_at_most_once(name: str, n: int, seed: int) -> None:
    candidates = phones(n, weight=[seed % 3 + i for i in range(n)])
    result = order(plan(name, candidates, Context(rng=random.Random(seed), call_number=seed % 7,
                                                  bound_count=n)))
    assert sorted(result) == list(range(1, n + 1))


def test_sequential_follows_the_admins_order() -> None:
    result = plan("sequential", list(reversed(phones(4))))
    assert order(result) == [1, 2, 3, 4]
    assert all(len(wave.phones) == 1 and wave.delay_s is None for wave in result)


def test_sequential_skips_to_the_next_idle_phone() -> None:
    idle = [p for p in phones(3) if p.phone_id != 1]  # phone 1 is busy
    assert order(plan("sequential", idle)) == [2, 3]


def test_random_spreads_first_choices_evenly() -> None:
    rng = random.Random(7)
    firsts = Counter(order(plan("random", phones(4), Context(rng=rng)))[0] for _ in range(4000))
    assert set(firsts) == {1, 2, 3, 4}
    assert all(900 < count < 1100 for count in firsts.values())


def test_round_robin_call_k_starts_at_phone_k() -> None:
    firsts = [order(plan("round_robin", phones(3), Context(call_number=k, bound_count=3)))
              for k in range(6)]
    assert firsts == [[1, 2, 3], [2, 3, 1], [3, 1, 2], [1, 2, 3], [2, 3, 1], [3, 1, 2]]


def test_round_robin_skips_a_busy_phone_to_the_next_one_after_it() -> None:
    idle = [p for p in phones(4) if p.phone_id != 2]  # phone 2 (index 1) is busy
    assert order(plan("round_robin", idle, Context(call_number=1, bound_count=4))) == [3, 4, 1]


def test_simultaneous_rings_every_idle_phone_in_one_wave() -> None:
    result = plan("simultaneous", phones(3))
    assert len(result) == 1
    assert [p.phone_id for p in result[0].phones] == [1, 2, 3]


def test_weighted_70_30_within_3_percent_over_3000_decisions() -> None:
    rng = random.Random(2026)
    candidates = phones(2, weight=[70, 30])
    firsts = Counter(order(plan("weighted", candidates, Context(rng=rng)))[0]
                     for _ in range(3000))
    assert abs(firsts[1] / 3000 - 0.70) <= 0.03
    assert abs(firsts[2] / 3000 - 0.30) <= 0.03


def test_weighted_never_starts_at_a_zero_share_while_others_have_one() -> None:
    rng = random.Random(1)
    candidates = phones(3, weight=[0, 5, 5])
    assert all(order(plan("weighted", candidates, Context(rng=rng)))[-1] == 1
               for _ in range(500))


def test_longest_idle_rings_the_phone_idle_longest_first() -> None:
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    ended = [now - timedelta(minutes=5), None, now - timedelta(minutes=30)]
    assert order(plan("longest_idle", phones(3, last_call_ended_at=ended))) == [2, 3, 1]


def test_fewest_calls_today_first_ties_in_admin_order() -> None:
    assert order(plan("fewest_calls", phones(4, calls_today=[3, 1, 1, 0]))) == [4, 2, 3, 1]


def test_least_talk_time_today_first() -> None:
    talk = [120_000, 5_000, 60_000]
    assert order(plan("least_talk_time", phones(3, talk_ms_today=talk))) == [2, 3, 1]


def test_ring_progressively_adds_a_phone_every_interval() -> None:
    result = plan("ring_progressively", phones(3), interval_s=4)
    assert [(order([w]), w.delay_s) for w in result] == [([1], None), ([2], 4.0), ([3], 4.0)]


def test_no_idle_phone_gives_an_empty_plan() -> None:
    for name in BUILT_IN:
        assert plan(name, []) == []


@pytest.mark.parametrize("name", BUILT_IN)
def test_unknown_options_are_refused_by_name(name: str) -> None:
    with pytest.raises(strategies.OptionError, match="has no option 'speed'"):
        strategies.get(name).validate({"speed": 1})


@pytest.mark.parametrize("value", [0, 61, "5", True, None])
def test_ring_progressively_interval_must_be_1_to_60_seconds(value: object) -> None:
    with pytest.raises(strategies.OptionError, match="'interval_s' must be"):
        strategies.get("ring_progressively").validate({"interval_s": value})


def test_unknown_strategy_lists_the_installed_ones() -> None:
    with pytest.raises(strategies.UnknownStrategy, match="installed: fewest_calls, "):
        strategies.get("nope")


# --- option validation: accepts the good, refuses the bad, at the bounds ---------

@pytest.mark.parametrize("options", [
    {}, {"interval_s": 1}, {"interval_s": 1.0}, {"interval_s": 5}, {"interval_s": 2.5},
    {"interval_s": 59.999}, {"interval_s": 60}, {"interval_s": 60.0},
])
def test_ring_progressively_accepts_1_to_60_seconds(options: dict[str, object]) -> None:
    strategies.get("ring_progressively").validate(options)  # no OptionError


@pytest.mark.parametrize("value", [0.999, 60.001, -1, 1e9, float("nan"), [5], {"s": 5}])
def test_ring_progressively_refuses_just_outside_the_bounds(value: object) -> None:
    with pytest.raises(strategies.OptionError) as refused:
        strategies.get("ring_progressively").validate({"interval_s": value})
    assert str(refused.value) == ("strategy ring_progressively option 'interval_s' must be a "
                                  "number of seconds from 1 to 60")


def test_ring_progressively_names_its_one_option() -> None:
    with pytest.raises(strategies.OptionError) as refused:
        strategies.get("ring_progressively").validate({"interval": 5})
    assert str(refused.value) == ("strategy ring_progressively has no option 'interval' "
                                  "(allowed: interval_s)")


@pytest.mark.parametrize("name", sorted(set(BUILT_IN) - {"ring_progressively"}))
def test_rules_without_options_accept_none_and_say_so(name: str) -> None:
    strategies.get(name).validate({})  # no OptionError
    with pytest.raises(strategies.OptionError) as refused:
        strategies.get(name).validate({"interval_s": 5, "b": 1})
    assert str(refused.value) == f"strategy {name} has no option 'b' (allowed: none)"


def test_an_unknown_option_names_every_allowed_one() -> None:
    from strategies.base import reject_unknown
    reject_unknown("x", {"a": 1, "b": 2}, ("a", "b"))
    with pytest.raises(strategies.OptionError) as refused:
        reject_unknown("x", {"z": 1, "c": 1, "a": 1}, ("a", "b"))
    assert str(refused.value) == "strategy x has no option 'c' (allowed: a, b)"


def test_ring_progressively_default_interval_is_5_seconds() -> None:
    result = plan("ring_progressively", phones(3))
    assert [w.delay_s for w in result] == [None, 5.0, 5.0]
    result = plan("ring_progressively", list(reversed(phones(2))), interval_s=60)
    assert [(order([w]), w.delay_s) for w in result] == [([1], None), ([2], 60.0)]


def test_no_strategy_installed_says_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(strategies, "installed", dict)
    with pytest.raises(strategies.UnknownStrategy) as refused:
        strategies.get("sequential")
    assert str(refused.value) == "no strategy named 'sequential' is installed (installed: none)"


# --- round robin without the bound count ----------------------------------------

def test_round_robin_counts_the_phones_it_sees_when_the_bound_count_is_unknown() -> None:
    # bound_count 0 (not fetched): the rotation runs over indexes 0 … 3
    firsts = [order(plan("round_robin", phones(4), Context(call_number=k)))[0]
              for k in range(5)]
    assert firsts == [1, 2, 3, 4, 1]
    # a busy last phone (index 3) still counts once the bound count says so
    idle = phones(3)
    assert order(plan("round_robin", idle, Context(call_number=3, bound_count=4))) == [1, 2, 3]
    assert order(plan("round_robin", idle, Context(call_number=3))) == [1, 2, 3]


# --- weighted: where each share begins and ends ---------------------------------

class Drawn(random.Random):
    """A random source whose uniform() gives these points, in turn."""

    def __init__(self, *points: float) -> None:
        super().__init__(0)
        self.points = list(points)
        self.asked: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.asked.append((a, b))
        return self.points.pop(0)


def test_weighted_shares_are_consecutive_stretches_of_the_total() -> None:
    candidates = phones(3, weight=[5, 3, 2])  # stretches (0, 5], (5, 8], (8, 10]
    for point, first in [(0.0, 1), (5.0, 1), (5.5, 2), (6.0, 2), (8.0, 2), (8.01, 3),
                         (10.0, 3)]:
        rng = Drawn(point, 0.0, 0.0)
        assert order(plan("weighted", candidates, Context(rng=rng)))[0] == first, point
        assert rng.asked[0] == (0, 10)


def test_weighted_draws_the_rest_without_replacement() -> None:
    rng = Drawn(9.0, 0.5, 0.0)
    assert order(plan("weighted", phones(3, weight=[5, 3, 2]), Context(rng=rng))) == [3, 1, 2]
    assert rng.asked == [(0, 10), (0, 8), (0, 3)]


def test_weighted_zero_shares_are_never_drawn_and_ring_last_in_admin_order() -> None:
    rng = Drawn(0.0)
    candidates = phones(4, weight=[0, 1, 0, 0])
    assert order(plan("weighted", candidates, Context(rng=rng))) == [2, 1, 3, 4]
    assert rng.asked == [(0, 1)]


@pytest.mark.parametrize("weights", [[1, 1], [1, 1, 1, 1]])
def test_weighted_equal_shares_spread_evenly(weights: list[int]) -> None:
    rng = random.Random(5)
    candidates = phones(len(weights), weight=weights)
    firsts = Counter(order(plan("weighted", candidates, Context(rng=rng)))[0]
                     for _ in range(4000))
    expected = 4000 / len(weights)
    assert all(abs(firsts[p.phone_id] - expected) < 0.1 * expected for p in candidates)


@pytest.mark.parametrize("name", ["sequential", "simultaneous", "round_robin"])
@given(n=st.integers(min_value=0, max_value=8), busy=st.integers(min_value=0),
       call_number=st.integers(min_value=0, max_value=1000), seed=st.integers())
def test_an_order_rings_what_the_plan_rings_for_any_busy_phones(
        name: str, n: int, busy: int, call_number: int, seed: int) -> None:
    """A rule's order, fixed before busy state is read (claimed in one statement,
    router/claims.py), rings the idle phones its plan would ring, in its order."""
    everyone = phones(n)
    random.Random(seed).shuffle(everyone)  # the admin's order is the rule's business
    idle = [c for c in everyone if not busy >> c.index & 1]
    rule = strategies.get(name)
    fixed = rule.order(everyone, Context(bound_count=n), {})  # type: ignore[attr-defined]
    tried = [c.phone_id for c in fixed.from_turn(call_number if fixed.rotate else None)
             if c in idle]
    planned = plan(name, idle, Context(call_number=call_number, bound_count=n))
    assert tried == order(planned)
    # Together: one wave of them all; else one phone per wave (hunting).
    assert fixed.together == (name == "simultaneous")
    assert all(len(wave.phones) == 1 for wave in planned) or fixed.together


def test_a_rule_whose_plan_needs_busy_state_has_no_order() -> None:
    for name in ("fewest_calls", "least_talk_time", "longest_idle", "ring_progressively"):
        assert not hasattr(strategies.get(name), "order")

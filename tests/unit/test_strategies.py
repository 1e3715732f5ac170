"""The built-in answering rules as pure functions."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

import strategies
from strategies import Candidate, Context


def phones(n: int) -> list[Candidate]:
    return [Candidate(phone_id=i, dial_string=f"PJSIP/p{i}", position=i) for i in range(1, n + 1)]


def order(plan: strategies.RingPlan) -> list[int]:
    return [phone.phone_id for wave in plan for phone in wave.phones]


def test_sequential_follows_the_admins_order() -> None:
    shuffled = list(reversed(phones(4)))
    plan = strategies.get("sequential").plan(shuffled, Context(), {})
    assert order(plan) == [1, 2, 3, 4]
    assert all(len(wave.phones) == 1 for wave in plan)


def test_sequential_skips_to_the_next_idle_phone() -> None:
    idle = [p for p in phones(3) if p.phone_id != 1]  # phone 1 is busy
    assert order(strategies.get("sequential").plan(idle, Context(), {})) == [2, 3]


@given(st.integers(min_value=0, max_value=12), st.integers())
def test_random_rings_every_idle_phone_once(n: int, seed: int) -> None:
    plan = strategies.get("random").plan(phones(n), Context(rng=random.Random(seed)), {})
    assert sorted(order(plan)) == list(range(1, n + 1))


def test_random_spreads_first_choices_evenly() -> None:
    rng = random.Random(7)
    firsts = Counter(order(strategies.get("random").plan(phones(4), Context(rng=rng), {}))[0]
                     for _ in range(4000))
    assert set(firsts) == {1, 2, 3, 4}
    assert all(900 < count < 1100 for count in firsts.values())


def test_no_idle_phone_gives_an_empty_plan() -> None:
    for name in ("sequential", "random"):
        assert strategies.get(name).plan([], Context(), {}) == []


@pytest.mark.parametrize("name", ["sequential", "random"])
def test_unknown_options_are_refused_by_name(name: str) -> None:
    with pytest.raises(strategies.OptionError, match="unknown option 'speed'"):
        strategies.get(name).validate({"speed": 1})


def test_unknown_strategy_lists_the_installed_ones() -> None:
    with pytest.raises(strategies.UnknownStrategy, match="random, sequential"):
        strategies.get("nope")

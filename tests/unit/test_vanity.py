"""Vanity grading: every pattern found, with its tier; tail above middle."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router import numbers, vanity

bodies = st.text("0123456789", min_size=7, max_size=7)


def found(number: str) -> list[tuple[str, str, str, int]]:
    return [(m.pattern, m.place, m.digits, m.tier)
            for m in vanity.find(numbers.parse(number))]


@pytest.mark.parametrize(("number", "expected", "grade"), [
    ("4008881888", [("AAA", "tail", "888", 3), ("AAA", "middle", "888", 4)], 3),
    ("4008888888", [("AAAAAAA", "tail", "8888888", 1)], 1),
    ("4001288888", [("AAAAA", "tail", "88888", 1)], 1),
    ("4008888812", [("AAAAA", "middle", "88888", 2)], 2),
    ("4006123456", [("ABCDEF", "tail", "123456", 1)], 1),
    ("4009876543", [("ABCDEFG", "tail", "9876543", 1)], 1),
    ("4000007890", [("ABCD", "tail", "7890", 2), ("AAA", "middle", "000", 4)], 2),
    ("4001112222", [("AAAA", "tail", "2222", 2), ("AAABBB", "middle", "111222", 3)], 2),
    ("4008112233", [("AABBCC", "tail", "112233", 2)], 2),
    ("4008123123", [("ABCABC", "tail", "123123", 2)], 2),
    ("4008122122", [("ABBABB", "tail", "122122", 2)], 2),
    ("4008051122", [("AABB", "tail", "1122", 3)], 3),
    ("4008051221", [("ABBA", "tail", "1221", 3)], 3),
    ("4008051212", [("ABAB", "tail", "1212", 3)], 3),
    ("4003792123", [("ABC", "tail", "123", 4)], 4),
    ("4001239740", [("ABC", "middle", "123", 5)], 5),
    ("4003792846", [], None),
    # one tier: the longer match first, then by place
    ("4002556667", [("AABB", "middle", "5566", 4), ("AAA", "middle", "666", 4)], 4),
    ("4001515012", [("ABAB", "middle", "1515", 4), ("ABC", "tail", "012", 4)], 4),
])
def test_grading_examples(number: str, expected: list[tuple[str, str, str, int]],
                          grade: int | None) -> None:
    assert found(number) == expected
    assert vanity.grade(vanity.find(numbers.parse(number))) == grade


def test_equal_letters_are_equal_digits_and_different_letters_different() -> None:
    assert vanity.fits("AABB", "1122")
    assert not vanity.fits("AABB", "1111")
    assert not vanity.fits("ABAB", "1111")
    assert not vanity.fits("AABBCC", "112211")
    assert vanity.fits("ABCD", "4321")
    assert vanity.fits("ABCD", "7890")
    assert not vanity.fits("ABCD", "8901")
    assert not vanity.fits("ABC", "135")


def test_a_pattern_fits_only_digits_of_its_own_length() -> None:
    assert not vanity.fits("AAA", "1111")
    assert not vanity.fits("AAAA", "111")
    assert not vanity.fits("ABC", "1234")
    assert not vanity.fits("ABCD", "123")


def test_a_match_as_a_dict() -> None:
    (match,) = vanity.find(numbers.parse("4008112233"))
    assert match.as_dict() == {"pattern": "AABBCC", "place": "tail", "tier": 2, "start": 4,
                               "digits": "112233"}


def test_a_tail_pattern_ranks_above_the_same_pattern_in_the_middle() -> None:
    for pattern in vanity.PATTERNS:
        assert vanity.tier_of(pattern, "tail") < vanity.tier_of(pattern, "middle")


def test_tiers_follow_the_bands() -> None:
    assert [vanity.tier_of(p, "tail") for p in ("AAAAA", "AAAA", "AABB", "ABC")] == [1, 2, 3, 4]
    assert set(vanity.TIERS) == {1, 2, 3, 4, 5}


@given(st.sampled_from(["400", "800"]), bodies)
def test_every_match_is_where_it_says_and_has_its_shape(kind: str, body: str) -> None:
    number = numbers.parse(kind + body)
    for match in vanity.find(number):
        assert number.digits[match.start:match.end] == match.digits
        assert match.start >= 3  # only the 7 digits after 400/800
        assert vanity.fits(match.pattern, match.digits)
        assert (match.place == "tail") == (match.end == 10)
        assert match.tier == vanity.tier_of(match.pattern, match.place)


@given(bodies)
def test_no_match_is_reported_inside_a_stronger_one(body: str) -> None:
    matches = vanity.find(numbers.parse("400" + body))
    for inner in matches:
        for outer in matches:
            assert not (len(outer.digits) > len(inner.digits)
                        and outer.start <= inner.start and inner.end <= outer.end
                        and vanity.BAND_OF[outer.pattern] <= vanity.BAND_OF[inner.pattern])


@given(bodies)
def test_grade_is_the_best_tier_and_matches_come_best_first(body: str) -> None:
    matches = vanity.find(numbers.parse("400" + body))
    tiers = [m.tier for m in matches]
    assert tiers == sorted(tiers)
    assert vanity.grade(matches) == (min(tiers) if tiers else None)


@given(st.text("0123456789", min_size=3, max_size=3), st.sampled_from("0123456789"),
       st.integers(min_value=4, max_value=7))
def test_a_run_at_the_end_earns_its_tier(prefix: str, digit: str, run: int) -> None:
    body = (prefix + digit * run)[-7:]
    matches = vanity.find(numbers.parse("400" + body))
    best_tail = min(m.tier for m in matches if m.place == "tail")
    assert best_tail <= (1 if run >= 5 else 2)


@given(bodies)
def test_a_body_of_distinct_unordered_digits_has_no_repeat_pattern(body: str) -> None:
    matches = vanity.find(numbers.parse("400" + body))
    repeats = [m for m in matches if m.pattern not in {"ABC", "ABCD", "ABCDE", "ABCDEF",
                                                        "ABCDEFG"}]
    if len(set(body)) == 7:
        assert repeats == []
    for match in repeats:
        assert len(set(match.digits)) < len(match.digits)

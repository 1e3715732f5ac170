"""Fen and milliseconds as people read them: exact, never through float."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from router.billing.money import seconds, yuan


@pytest.mark.parametrize(("fen", "shown"), [
    (0, "¥0.00"),               # zero has no sign
    (1, "¥0.01"),
    (5, "¥0.05"),
    (-5, "-¥0.05"),
    (-1, "-¥0.01"),
    (100, "¥1.00"),
    (12345, "¥123.45"),
    (300_000, "¥3,000.00"),     # a ¥3,000 package
    (-123_456_789, "-¥1,234,567.89"),
])
def test_yuan(fen: int, shown: str) -> None:
    assert yuan(fen) == shown


@given(st.integers(-10**12, 10**12))
@example(0)
@example(1)
@example(-1)
def test_yuan_reads_back_to_the_same_fen(fen: int) -> None:
    shown = yuan(fen)
    assert shown.startswith("-¥") == (fen < 0)
    assert Decimal(shown.replace("-", "").replace("¥", "").replace(",", "")) * 100 == abs(fen)


@pytest.mark.parametrize(("ms", "shown"), [
    (0, "0.000"), (1, "0.001"), (3007, "3.007"), (60_000, "60.000"), (-1500, "-1.500")])
def test_seconds(ms: int, shown: str) -> None:
    assert seconds(ms) == Decimal(shown)
    assert str(seconds(ms)) == shown

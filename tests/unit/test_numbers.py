"""400/800 numbers: parsing, carriers and display forms."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router import numbers


@pytest.mark.parametrize(("text", "digits"), [
    ("4008001234", "4008001234"),
    ("400-800-1234", "4008001234"),
    ("400 800 1234", "4008001234"),
    ("400-8001-234", "4008001234"),
    ("(400) 800.1234", "4008001234"),
    ("+86 400 800 1234", "4008001234"),
    ("0086 400 800 1234", "4008001234"),
    ("0086-8001234567", "8001234567"),
    (" 8001234567 ", "8001234567"),
    ("\t400.800.1234\n", "4008001234"),
])
def test_display_forms_parse_back(text: str, digits: str) -> None:
    assert numbers.parse(text).digits == digits


@pytest.mark.parametrize(("text", "reason"), [
    ("", "^empty number$"),
    ("  -  ", "^empty number$"),
    ("400800123", "has 9 digits"),
    ("1234008001234", "has 13 digits"),          # only +86 or 0086 may stand before it
    ("8640080012345", "has 13 digits"),
    ("+86400800123", "characters other than digits"),  # +86 and 9 digits: not stripped
    ("4008001234+86", "characters other than digits"),
    ("40080012345", "has 11 digits"),
    ("9008001234", "does not start with 400 or 800"),
    ("400-800-12x4", "characters other than digits"),
])
def test_bad_numbers_say_why(text: str, reason: str) -> None:
    with pytest.raises(numbers.NumberError, match=reason):
        numbers.parse(text)
    assert not numbers.is_valid(text)


@pytest.mark.parametrize(("number", "carrier"), [
    ("4000123456", "China Unicom"), ("4006123456", "China Unicom"),
    ("4001123456", "China Mobile"), ("4007123456", "China Mobile"),
    ("4008123456", "China Telecom"), ("4009123456", "China Telecom"),
    ("4002123456", None), ("8008123456", None),
])
def test_carrier_from_the_first_four_digits(number: str, carrier: str | None) -> None:
    assert numbers.parse(number).carrier == carrier


def test_a_good_number_is_valid() -> None:
    assert numbers.is_valid("400-800-1234")
    assert numbers.is_valid("8001234567")


@pytest.mark.parametrize(("text", "kind", "body"), [
    ("4008001234", "400", "8001234"), ("8001234567", "800", "1234567")])
def test_kind_and_body(text: str, kind: str, body: str) -> None:
    number = numbers.parse(text)
    assert (number.kind, number.body, str(number)) == (kind, body, text)


def test_display_forms() -> None:
    number = numbers.parse("4008001234")
    assert number.display_forms() == {"dashed": "400-800-1234", "spaced": "400 800 1234",
                                      "dashed_4_3": "400-8001-234", "plain": "4008001234"}


@given(st.sampled_from(["400", "800"]), st.text("0123456789", min_size=7, max_size=7))
def test_every_display_form_parses_to_the_same_number(kind: str, body: str) -> None:
    number = numbers.parse(kind + body)
    assert {numbers.parse(form) for form in number.display_forms().values()} == {number}

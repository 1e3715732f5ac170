"""Caller numbers in every form carriers deliver them, normalised."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from router.callers import (
    CALLER_MAX_CHARS,
    CallerNumber,
    needs_sanitising,
    normalise,
    printable,
    sanitise,
)


@pytest.mark.parametrize(("raw", "number", "kind"), [
    ("13800138000", "13800138000", "mobile"),
    ("+8613800138000", "13800138000", "mobile"),
    ("+86 138-0013-8000", "13800138000", "mobile"),
    ("008613800138000", "13800138000", "mobile"),
    ("8613800138000", "13800138000", "mobile"),
    ("013800138000", "13800138000", "mobile"),       # a 0 dialled before a mobile
    ("(0)138 0013 8000", "13800138000", "mobile"),
    ("02161234567", "02161234567", "landline"),
    ("021-6123 4567", "02161234567", "landline"),
    ("+86 21 6123 4567", "02161234567", "landline"),  # no 0 after the country code
    ("862161234567", "02161234567", "landline"),
    ("00861062345678", "01062345678", "landline"),     # Beijing, not a mobile
    ("075512345678", "075512345678", "landline"),
    ("05711234567", "05711234567", "landline"),       # 3-digit area code, 7 digits
    ("95588", "95588", "other"),                       # a bank's short number
    ("+14155550100", "14155550100", "other"),          # foreign
    ("12345678901", "12345678901", "other"),           # 12x is no mobile segment
    ("", "", "unknown"),
    ("anonymous", "", "unknown"),
    ("Anonymous", "", "unknown"),
    ("Restricted", "", "unknown"),
    ("abc123", "", "unknown"),
    ("+86abc", "", "unknown"),
    ("+86", "", "unknown"),                            # a country code and nothing after
    ("0086", "", "unknown"),
    ("+abc", "", "unknown"),                           # a plus, then no digits
    ("+1-415-abc", "", "unknown"),
    ("1" * 100, "", "unknown"),
    ("1" * 65, "", "unknown"),                         # longer than any real caller id
    ("1" * 64, "1" * 64, "other"),                     # the longest taken as digits
    (" 13800138000\t", "13800138000", "mobile"),
    ("2161234567", "2161234567", "other"),             # no 0 and no country code
    ("0086 2161234567", "02161234567", "landline"),
    ("02988886666", "02988886666", "landline"),        # Xi'an: 029 is a 2-digit code
    ("0298888666", "0298888666", "other"),             # 029 takes 8 digits, not 7
    ("01062345678", "01062345678", "landline"),        # Beijing 010
    ("0101234567", "0101234567", "other"),
    ("0311 8888 6666", "031188886666", "landline"),    # 3-digit code, 8 digits
    ("03111234567", "03111234567", "landline"),        # 3-digit code, 7 digits
    ("0311123456", "0311123456", "other"),             # 3-digit code, 6 digits: too short
    ("13012345678", "13012345678", "mobile"),          # 13x … 19x are mobile segments
    ("19912345678", "19912345678", "mobile"),
    ("11012345678", "11012345678", "other"),           # 11x is not
    ("1381234567", "1381234567", "other"),             # 10 digits
    ("138123456789", "138123456789", "other"),         # 12 digits
])
def test_forms_of_a_caller_id(raw: str, number: str, kind: str) -> None:
    caller = normalise(raw)
    assert (caller.number, caller.kind) == (number, kind)
    assert caller.raw == raw.strip()[:64]  # as delivered, for the call record


@pytest.mark.parametrize("separator", [" ", "-", "(", ")", ".", "\u3000", "\t"])
def test_every_separator_carriers_use_is_dropped(separator: str) -> None:
    # \u3000 is the ideographic (full-width) space of Chinese text
    caller = normalise(f"021{separator}6123{separator}4567")
    assert (caller.number, caller.kind) == ("02161234567", "landline")


@pytest.mark.parametrize("word", ["anonymous", "unknown", "restricted", "private",
                                  "unavailable", "withheld", "null", "none", "Private",
                                  "UNAVAILABLE", " ", ""])
def test_withheld_caller_ids(word: str) -> None:
    assert normalise(word) == CallerNumber(word.strip(), "", "unknown")


def test_no_caller_id_at_all_is_unknown() -> None:
    assert normalise(None) == CallerNumber("", "", "unknown")


def test_area_code_of_a_landline_and_none_for_a_mobile() -> None:
    assert normalise("02161234567").area_code == "021"
    assert normalise("075512345678").area_code == "0755"
    assert normalise("01062345678").area_code == "010"
    assert normalise("02988886666").area_code == "029"
    assert normalise("031188886666").area_code == "0311"
    assert normalise("13800138000").area_code == ""
    assert normalise("95588").area_code == ""


mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
landlines = st.from_regex(r"0(10|2[0-9])[2-8][0-9]{7}|0[3-9][0-9]{2}[2-8][0-9]{6,7}",
                          fullmatch=True)


def decorate(national: str, prefix: str, separator: str) -> str:
    """``national`` as a carrier might write it."""
    digits = national.removeprefix("0") if prefix in ("+86", "0086", "86") else national
    if prefix == "0" and national.startswith("1"):
        digits = "0" + national
    grouped = separator.join(digits[i:i + 4] for i in range(0, len(digits), 4))
    return ("" if prefix == "0" else prefix) + grouped


@given(mobiles, st.sampled_from(["", "+86", "0086", "86", "0"]),
       st.sampled_from(["", " ", "-"]))
def test_every_written_form_of_a_mobile_gives_the_same_number(
        national: str, prefix: str, separator: str) -> None:
    caller = normalise(decorate(national, prefix, separator))
    assert (caller.number, caller.kind) == (national, "mobile")


@given(landlines, st.sampled_from(["", "+86", "0086", "86"]), st.sampled_from(["", " ", "-"]))
def test_every_written_form_of_a_landline_gives_the_same_number(
        national: str, prefix: str, separator: str) -> None:
    caller = normalise(decorate(national, prefix, separator))
    assert (caller.number, caller.kind) == (national, "landline")


@given(st.text(max_size=80))
@example("+")
@example("0086")
@example("86")
@example("\u3000")
@example("1" * 65)
def test_any_text_is_a_caller_never_a_crash(raw: str) -> None:
    caller = normalise(raw)
    assert caller.kind in ("mobile", "landline", "other", "unknown")
    assert caller.number == "" or caller.number.isdigit()
    # a number exactly when the kind is known: no "other" caller without digits
    assert (caller.kind == "unknown") == (caller.number == "")


# --- cleaning caller ids on intake ------------------------------------------------------

@pytest.mark.parametrize(("raw", "clean"), [
    ("13800138000", "13800138000"),                       # a clean id is left alone
    ("+86 138-0013-8000", "+86 138-0013-8000"),
    ("=2+5", "=2+5"),                                     # printable: the CSV writer's job
    ("上海总机", "上海总机"),
    ("上海\u3000总机", "上海\u3000总机"),                   # a full-width space is harmless
    ("13800000001\r\n2026-11-29T21.59.00.000Z  4000000116",
     "13800000001\\x0d\\x0a2026-11-29T21.59.00.000Z  4000000116"),
    ("1380000\x1b[2J\x1b[31mRED", "1380000\\x1b[2J\\x1b[31mRED"),
    ("138\u202e0001", "138\\u202e0001"),                  # a bidi override reorders the screen
    ("138\x00\x7f\x9b", "138\\x00\\x7f\\x9b"),              # NUL, DEL, C1 CSI
    ("a\u2028b", "a\\u2028b"),                              # a line separator
    ("", ""),
    (None, ""),
])
def test_sanitise_escapes_what_could_steer_a_terminal(raw: str | None, clean: str) -> None:
    assert sanitise(raw) == clean
    assert needs_sanitising(raw) == ((raw or "") != clean)


@given(st.text(max_size=200))
def test_a_sanitised_caller_id_is_one_printable_line_of_bounded_length(raw: str) -> None:
    clean = sanitise(raw)
    assert all(ch.isprintable() or unicodedata.category(ch) == "Zs" for ch in clean)
    assert not {"\r", "\n", "\x1b", "\u202e"} & set(clean)
    assert len(clean) <= CALLER_MAX_CHARS
    assert sanitise(clean) == clean or len(printable(raw)) > CALLER_MAX_CHARS
    if all(ch.isprintable() or unicodedata.category(ch) == "Zs" for ch in raw) and \
            len(raw) <= CALLER_MAX_CHARS:
        assert clean == raw


@pytest.mark.parametrize(("ch", "escaped"), [
    ("\x00", "\\x00"), ("\xff", "\\xff"), ("\u0100", "\\u0100"), ("\uffff", "\\uffff"),
    ("\U00010000", "\\U00010000"), ("\U00018d09", "\\U00018d09")])
def test_escapes_are_pythons_own_at_each_width(ch: str, escaped: str) -> None:
    from router.callers import _escape

    assert _escape(ch) == escaped
    assert escaped.encode().decode("unicode_escape") == ch


def test_a_caller_id_is_cut_at_its_limit_and_says_so() -> None:
    assert sanitise("1" * CALLER_MAX_CHARS) == "1" * CALLER_MAX_CHARS
    cut = sanitise("1" * (CALLER_MAX_CHARS + 1))
    assert cut == "1" * (CALLER_MAX_CHARS - 1) + "…"
    assert len(cut) == CALLER_MAX_CHARS == 80
    assert sanitise("\x1b" * 30) == "\\x1b" * 19 + "\\x1…"  # escapes count, cut mid-escape
    assert needs_sanitising("1" * (CALLER_MAX_CHARS + 1))
    assert not needs_sanitising(None)
    assert printable("") == ""

"""Caller numbers as carriers deliver them, made comparable.

A caller id may arrive as ``+86 138-0013-8000``, ``008613800138000``,
``8613800138000``, ``013800138000`` (a 0 dialled before a mobile) or
``021 6123 4567``; all of these are one number in national form: an 11-digit
mobile (``1[3-9]`` then 9 digits) or a landline with its 0 and area code
(``02161234567``). Withheld or garbage ids never raise: they are ``unknown``.
Hotline numbers (400/800) are router/numbers.py's business, not this module's.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Kind = Literal["mobile", "landline", "other", "unknown"]

_MOBILE = re.compile(r"1[3-9][0-9]{9}")
# 0, a 2-digit area code (10, 20-29) and 8 digits, or a 3-digit one and 7-8 digits.
_LANDLINE = re.compile(r"0(?:(?:10|2[0-9])[0-9]{8}|[3-9][0-9]{2}[0-9]{7,8})")
_SEPARATORS = re.compile(r"[\s\-().\u3000]")
_WITHHELD = {"", "anonymous", "unknown", "restricted", "private", "unavailable", "withheld",
             "null", "none"}


@dataclass(frozen=True)
class CallerNumber:
    """A caller id in national form.

    ``number`` is the normalised digits ('' when withheld or not a number);
    ``kind`` says whether it is a Chinese mobile, a Chinese landline, some
    other digit string (a short code, a foreign number), or unknown.
    """

    raw: str
    number: str
    kind: Kind

    @property
    def area_code(self) -> str:
        """A landline's area code with its 0 (``021``, ``0755``); '' otherwise."""
        if self.kind != "landline":
            return ""
        return self.number[:3] if self.number[1] in "12" else self.number[:4]


def normalise(raw: str | None) -> CallerNumber:
    """The national form of a caller id; never raises."""
    text = (raw or "").strip()
    if len(text) > 64:  # no real caller id is this long
        return CallerNumber(text[:64], "", "unknown")
    compact = _SEPARATORS.sub("", text)
    if compact.lower() in _WITHHELD:
        return CallerNumber(text, "", "unknown")
    international = False
    if compact.startswith("+"):
        if not compact.startswith("+86"):
            digits = compact[1:]
            return CallerNumber(text, digits, "other") if digits.isdigit() else \
                CallerNumber(text, "", "unknown")
        compact, international = compact[3:], True
    if not compact.isdigit():
        return CallerNumber(text, "", "unknown")
    if compact.startswith("0086"):
        compact, international = compact[4:], True
        if not compact:  # a country code and nothing after it, as "+86" alone
            return CallerNumber(text, "", "unknown")
    elif compact.startswith("86") and _national(compact[2:], international=True):
        compact, international = compact[2:], True
    national = _national(compact, international)
    if national is None:
        return CallerNumber(text, compact, "other")
    kind: Kind = "mobile" if national.startswith("1") else "landline"
    return CallerNumber(text, national, kind)


def _national(digits: str, international: bool) -> str | None:
    """``digits`` as a national mobile or landline number, or None.

    After a country code a landline has no leading 0 (``+86 21 6123 4567``);
    a mobile written with a 0 before it (``013800138000``) loses the 0.
    """
    if _MOBILE.fullmatch(digits):
        return digits
    if digits.startswith("0") and _MOBILE.fullmatch(digits[1:]):
        return digits[1:]
    if _LANDLINE.fullmatch(digits):
        return digits
    if international and not digits.startswith("0") and _LANDLINE.fullmatch("0" + digits):
        return "0" + digits
    return None


# What a caller id may never carry into a record, a log line or a terminal:
# anything Python does not call printable. That is control characters (C0,
# DEL, C1: CR LF forge rows, ESC drives the terminal), format characters (bidi
# overrides reorder what is shown), line separators, unassigned and private
# code points. Blanks (a full-width space in a label) are harmless and stay.
CALLER_MAX_CHARS = 80  # longer than any real caller id; the raw value is kept whole


def printable(text: str) -> str:
    r"""``text`` with every character that is not printable escaped.

    ``'1380<ESC>[2J'`` -> ``'1380\x1b[2J'`` (a visible backslash escape): what a
    terminal, a log line or a table may show without being steered by it.
    """
    return "".join(ch if ch.isprintable() or unicodedata.category(ch) == "Zs"
                   else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    r"""Python's own escape of ``ch``: \xNN, \uNNNN or \UNNNNNNNN."""
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def sanitise(raw: str | None) -> str:
    """A caller id as delivered (e.g. Asterisk's CALLERID(num)), safe to store and show.

    Control and format characters are escaped (:func:`printable`) and the
    result is cut to :data:`CALLER_MAX_CHARS` ("…" marks a cut). A clean caller
    id comes back unchanged, so lists and regions match it as before. Never
    raises.
    """
    text = printable(raw or "")
    if len(text) > CALLER_MAX_CHARS:
        text = text[:CALLER_MAX_CHARS - 1] + "…"
    return text


def needs_sanitising(raw: str | None) -> bool:
    """True when :func:`sanitise` changes ``raw`` (then the raw value is worth keeping)."""
    return (raw or "") != sanitise(raw)

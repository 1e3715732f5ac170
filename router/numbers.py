"""400 and 800 hotline numbers: parsing, validating, carrier, display forms.

A hotline number is ``400`` or ``800`` followed by 7 digits. For 400 numbers
the first four digits name the carrier that issued them (DESIGN.md §2). This
module is about hotline numbers only; callers' numbers and their regions
belong elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# First four digits -> carrier, for 400 numbers.
CARRIERS = {
    "4000": "China Unicom", "4006": "China Unicom",
    "4001": "China Mobile", "4007": "China Mobile",
    "4008": "China Telecom", "4009": "China Telecom",
}

_SEPARATORS = re.compile(r"[\s\-.()]")
_HOTLINE = re.compile(r"(400|800)[0-9]{7}")


class NumberError(ValueError):
    """Not a 400/800 number; the message says why."""


@dataclass(frozen=True)
class HotlineNumber:
    digits: str  # the 10 digits, e.g. "4008001234"

    @property
    def kind(self) -> str:
        """'400' (caller pays a local rate) or '800' (free, landlines only)."""
        return self.digits[:3]

    @property
    def body(self) -> str:
        """The 7 digits after 400/800, where vanity patterns are looked for."""
        return self.digits[3:]

    @property
    def carrier(self) -> str | None:
        """The issuing carrier, when the prefix tells it (400 numbers only)."""
        return CARRIERS.get(self.digits[:4])

    @property
    def dashed(self) -> str:
        """400-800-1234: the most common printed form."""
        return f"{self.digits[:3]}-{self.digits[3:6]}-{self.digits[6:]}"

    @property
    def spaced(self) -> str:
        """400 800 1234"""
        return f"{self.digits[:3]} {self.digits[3:6]} {self.digits[6:]}"

    @property
    def dashed_4_3(self) -> str:
        """400-8001-234: grouping some providers print."""
        return f"{self.digits[:3]}-{self.digits[3:7]}-{self.digits[7:]}"

    def display_forms(self) -> dict[str, str]:
        return {"dashed": self.dashed, "spaced": self.spaced, "dashed_4_3": self.dashed_4_3,
                "plain": self.digits}

    def __str__(self) -> str:
        return self.digits


def parse(text: str) -> HotlineNumber:
    """'400-800-1234', '400 800 1234', '(400) 8001234', '+86 400 800 1234' -> 4008001234."""
    digits = _SEPARATORS.sub("", text.strip())
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 10:
            digits = digits[len(prefix):]
    if not digits:
        raise NumberError("empty number")
    if not digits.isdigit():
        raise NumberError(f"{text.strip()!r} has characters other than digits and separators")
    if len(digits) != 10:
        raise NumberError(f"{text.strip()!r} has {len(digits)} digits; a hotline number has 10")
    if not _HOTLINE.fullmatch(digits):
        raise NumberError(f"{text.strip()!r} does not start with 400 or 800")
    return HotlineNumber(digits)


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except NumberError:
        return False
    return True

"""Vanity patterns (靓号) in 400/800 numbers, and the price tier they earn.

Patterns are looked for in the 7 digits after 400/800 (the part a customer
chooses). In a pattern, equal letters are equal digits and different letters
are different digits (AABB: 1122, not 1111); ABC, ABCD … are straights:
consecutive digits, ascending (1234, 7890) or descending (4321, 0987).

A pattern found at the very end of the number is a *tail* pattern; anywhere
else it is a *middle* one. Tail patterns rank above middle ones: a pattern's
tier is its band in the tail, one tier lower in the middle.

===========  ==============================================  ====  ======
band         patterns                                        tail  middle
===========  ==============================================  ====  ======
top          AAAAAAA AAAAAA AAAAA, ABCDEFG ABCDEF ABCDE      1     2
high         AAABBB AABBCC ABCABC ABBABB, AAAA, ABCD          2     3
good         AABB ABBA ABAB, AAA                             3     4
plain        ABC                                             4     5
===========  ==============================================  ====  ======

Tier 1 is the best; a number's grade is its best tier, None when it has no
pattern. A match that lies inside a stronger (or equally strong) match is
not reported on its own: 88888 is one AAAAA, not also two AAAAs and three AAAs.
"""

from __future__ import annotations

from dataclasses import dataclass

from router.numbers import HotlineNumber

# Patterns by band; the band's index (0 = top) sets the tier.
BANDS: tuple[tuple[str, ...], ...] = (
    ("AAAAAAA", "AAAAAA", "AAAAA", "ABCDEFG", "ABCDEF", "ABCDE"),
    ("AAABBB", "AABBCC", "ABCABC", "ABBABB", "AAAA", "ABCD"),
    ("AABB", "ABBA", "ABAB", "AAA"),
    ("ABC",),
)
BAND_OF = {pattern: band for band, patterns in enumerate(BANDS) for pattern in patterns}
PATTERNS = tuple(BAND_OF)
TIERS = range(1, len(BANDS) + 2)  # 1 … 5
_STRAIGHTS = {"ABC", "ABCD", "ABCDE", "ABCDEF", "ABCDEFG"}
_ASCENDING = "01234567890"  # 0 may follow 9 (7890), as on a phone's keypad
_DESCENDING = _ASCENDING[::-1]


@dataclass(frozen=True)
class Match:
    pattern: str  # e.g. "AABB"
    place: str    # "tail" or "middle"
    tier: int
    start: int    # index of the first digit in the 10-digit number
    digits: str

    @property
    def end(self) -> int:
        return self.start + len(self.digits)

    def as_dict(self) -> dict[str, str | int]:
        return {"pattern": self.pattern, "place": self.place, "tier": self.tier,
                "start": self.start, "digits": self.digits}


def tier_of(pattern: str, place: str) -> int:
    return BAND_OF[pattern] + 1 + (0 if place == "tail" else 1)


def fits(pattern: str, digits: str) -> bool:
    """Whether ``digits`` has the shape of ``pattern``."""
    if len(pattern) != len(digits):
        return False
    if pattern in _STRAIGHTS:
        return digits in _ASCENDING or digits in _DESCENDING
    letters: dict[str, str] = {}
    for letter, digit in zip(pattern, digits, strict=True):
        if letters.setdefault(letter, digit) != digit:
            return False
    # different letters must be different digits
    return len(set(letters.values())) == len(letters)


def find(number: HotlineNumber) -> list[Match]:
    """Every vanity pattern in the number, best tier first."""
    body, offset = number.body, len(number.digits) - len(number.body)
    found = []
    for pattern in PATTERNS:
        for start in range(len(body) - len(pattern) + 1):
            window = body[start:start + len(pattern)]
            if fits(pattern, window):
                place = "tail" if start + len(pattern) == len(body) else "middle"
                found.append(Match(pattern, place, tier_of(pattern, place), offset + start,
                                   window))
    kept = [m for m in found if not any(_covers(other, m) for other in found)]
    return sorted(kept, key=lambda m: (m.tier, -len(m.digits), m.start))


def _covers(stronger: Match, weaker: Match) -> bool:
    """``weaker`` lies inside ``stronger``, a longer match of a band at least as good."""
    return (len(stronger.digits) > len(weaker.digits)
            and stronger.start <= weaker.start and weaker.end <= stronger.end
            and BAND_OF[stronger.pattern] <= BAND_OF[weaker.pattern])


def grade(matches: list[Match]) -> int | None:
    """The number's price tier: its best match's tier; None without any pattern."""
    return min((m.tier for m in matches), default=None)

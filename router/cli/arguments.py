"""Argument types: bad input is refused by argparse with one readable line."""

from __future__ import annotations

import argparse
from datetime import datetime
from decimal import Decimal, InvalidOperation

from router import zones


def iso_time(text: str) -> datetime:
    """An ISO date or time, with or without an offset (without: the command says whose
    zone; a date alone is that zone's midnight)."""
    try:
        return zones.parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def seconds(text: str) -> Decimal:
    """A finite, non-negative number of seconds."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number of seconds, 0 or more")
    return value

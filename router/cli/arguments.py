"""Argument types: bad input is refused by argparse with one readable line."""

from __future__ import annotations

import argparse
from datetime import datetime
from decimal import Decimal, InvalidOperation


def time_with_offset(text: str) -> datetime:
    """An ISO time that says its offset, e.g. 2026-11-28T09:00:00+08:00."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO time, e.g. 2026-11-28T09:00:00+08:00") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} needs an offset, e.g. {text}+08:00 or {text}Z")
    return when


def iso_time(text: str) -> datetime:
    """An ISO time, with or without an offset (without: the command says whose zone)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO time, e.g. 2026-10-01T10:00 (local) or "
            "2026-10-01T10:00:00+08:00") from None


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

"""Showing fen and milliseconds to people, exactly (Decimal, never float)."""

from __future__ import annotations

from decimal import Decimal


def yuan(fen: int) -> str:
    """12345 -> '¥123.45'; -5 -> '-¥0.05'."""
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{Decimal(abs(fen)) / 100:,.2f}"


def seconds(ms: int) -> Decimal:
    """3007 -> Decimal('3.007')."""
    return (Decimal(ms) / 1000).quantize(Decimal("0.001"))

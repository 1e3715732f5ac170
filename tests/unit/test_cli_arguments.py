"""The CLI refuses bad times and numbers with one line, before any database work."""

from __future__ import annotations

import subprocess
import sys
from argparse import ArgumentTypeError
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from router.cli import arguments


def test_times_need_an_offset() -> None:
    assert arguments.time_with_offset("2026-11-28T09:00:00+08:00") == datetime(
        2026, 11, 28, 1, tzinfo=UTC)
    with pytest.raises(ArgumentTypeError, match="needs an offset"):
        arguments.time_with_offset("2026-11-28T09:00:00")
    with pytest.raises(ArgumentTypeError, match="is not an ISO time"):
        arguments.time_with_offset("yesterday")


def test_counts_and_tolerances() -> None:
    assert arguments.positive_int("20") == 20
    assert arguments.seconds("0.5") == Decimal("0.5")
    for bad in ("0", "-1", "x"):
        with pytest.raises(ArgumentTypeError, match=r"whole number|1 or more"):
            arguments.positive_int(bad)
    for bad in ("NaN", "-1", "inf", "x"):
        with pytest.raises(ArgumentTypeError, match="seconds"):
            arguments.seconds(bad)


@pytest.mark.parametrize("argv", [
    ["calls", "--since", "nonsense"],
    ["calls", "--limit", "-1"],
    ["plan", "explain", "4001234567", "--caller", "13800000000", "--at", "nonsense"],
    ["billing", "balance", "4001234567", "--entries", "0"],
    ["billing", "reconcile", "Master.csv", "--tolerance", "NaN"],
])
def test_the_command_line_says_what_is_wrong_without_a_traceback(argv: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "router", *argv], capture_output=True,
                          text=True, timeout=60,
                          env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"})
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "error: argument" in done.stderr

"""The CLI refuses bad times and numbers with one line, before any database work."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from argparse import ArgumentTypeError
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from router.cli import arguments, build_parser


def test_times_are_dates_local_times_or_instants() -> None:
    assert arguments.iso_time("2026-11-28T09:00:00+08:00") == datetime(
        2026, 11, 28, 1, tzinfo=UTC)
    assert arguments.iso_time("2026-11-28T09:00") == datetime(2026, 11, 28, 9)
    assert arguments.iso_time("2026-11-28") == datetime(2026, 11, 28)
    # fromisoformat alone reads '+' as the date/time separator: 08:00 local, unmeant
    for bad in ("yesterday", "2026-10-01+08:00", "2026-10-1", "2026-13-01", "2026-10-01Z"):
        with pytest.raises(ArgumentTypeError, match="is not an ISO date or time"):
            arguments.iso_time(bad)


@pytest.mark.parametrize("value", ["2026-10-01+08:00", "2026-10-1", "yesterday",
                                   "2026-10-01T25:00", "2026-10-01 09"])
def test_what_calls_suggests_for_a_bad_time_is_a_valid_command(value: str) -> None:
    """`calls --since BAD`: every example the error gives works as --since."""
    parser = build_parser()
    with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()) as err:
        parser.parse_args(["calls", "--since", value])
    message = err.getvalue().strip().splitlines()[-1]
    suggested = re.findall(r"\d{4}-\d{2}-\d{2}[^\s,)]*", message.partition("e.g.")[2])
    assert len(suggested) >= 3, message
    for example in suggested:
        assert build_parser().parse_args(["calls", "--since", example]).since is not None


def test_calls_since_a_day_is_the_hotlines_midnight() -> None:
    args = build_parser().parse_args(["calls", "--since", "2026-10-01", "--until", "2026-10-02"])
    assert (args.since, args.until) == (datetime(2026, 10, 1), datetime(2026, 10, 2))
    assert args.since.tzinfo is None  # naive: each call's hotline zone (router/call_log.py)


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


def test_a_token_says_whether_it_is_an_operators() -> None:
    """Without --customer a token sees every hotline: that must be asked for (--operator)."""
    with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()) as err:
        build_parser().parse_args(["token", "create", "crm sync"])
    assert "one of the arguments --operator --customer is required" in err.getvalue()
    assert build_parser().parse_args(["token", "create", "ops", "--operator"]).operator
    customer = build_parser().parse_args(["token", "create", "crm", "--customer", "某某科技"])
    assert (customer.operator, customer.customer) == (False, "某某科技")

"""Hostile caller ids from the field, end to end: cleaned on intake, never raw to a terminal.

The three scenarios in tests/e2e/cases/ are placed against the lab as they
were received; what the router stored, what `hotline-router calls` and the
statement CSV print, and what it logged are then checked.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from router.billing import config
from router.billing.months import Month
from tests.conftest import PhoneFactory, add_hotline, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess

pytestmark = pytest.mark.lab

CASES = Path(__file__).parent / "cases"
CONTROL = {chr(c) for c in range(32)} | {"\x7f"}


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "router", *args, "--database-url",
                           database_url], capture_output=True, text=True, timeout=60)


async def test_hostile_caller_ids_are_cleaned_on_intake_and_never_reach_a_terminal_raw(
        db: Any, database_url: str, lab: AsteriskLab, router: RouterProcess,
        phones: PhoneFactory, hotline_number: str) -> None:
    phone = phones(answer_after_ms=100)
    await add_hotline(db, hotline_number, [phone])
    await config.set_tariff(db, hotline_number, 12, 60, "2000-01-01")
    cases = ("caller-id-forged-row.xml", "caller-id-terminal-escape.xml",
             "caller-id-formula.xml")
    for case in cases:
        seen = await sipp.call(lab.sip_address, hotline_number, scenario_file=CASES / case)
        assert seen.result == "answered", (case, seen.errors)
    calls = await wait_for_call(db, hotline_number, count=len(cases))

    # Stored cleaned; what arrived kept whole beside it.
    raws = {c["caller_raw"] for c in calls} - {None}
    assert len(raws) == 2  # the formula is printable text: it needs no cleaning
    assert any("\r\n" in raw for raw in raws)
    assert any("\x1b[2J" in raw for raw in raws)
    for call in calls:
        assert not set(call["caller"]) & CONTROL, call["caller"]
        assert call["outcome"] == "answered"
    assert "=2+5" in {c["caller"] for c in calls}
    assert any(c["caller"].startswith("13800000001\\x0d\\x0a") for c in calls)

    # The admin's listing: one row per call, nothing that steers the terminal.
    since = min(c["started_at"] for c in calls).isoformat()
    listed = cli(database_url, "calls", "--since", since)
    assert listed.returncode == 0, listed.stderr
    assert not set(listed.stdout) & (CONTROL - {"\n"})
    rows = [line for line in listed.stdout.splitlines() if hotline_number in line]
    assert len(rows) == len(cases), listed.stdout

    # The statement's CSV: the formula is text for a spreadsheet, not a formula.
    rated = cli(database_url, "billing", "rate")
    assert rated.returncode == 0, rated.stderr
    shanghai = ZoneInfo("Asia/Shanghai")  # the hotline's billing zone (the default)
    months = {Month.of(c["started_at"].astimezone(shanghai).date()) for c in calls}
    cells: list[str] = []
    for each in sorted(months):
        shown = cli(database_url, "billing", "statement", "--hotline", hotline_number,
                    "--month", str(each), "--format", "csv")
        assert shown.returncode == 0, shown.stderr
        assert not set(shown.stdout) & (CONTROL - {"\n"})
        for row in csv.DictReader(io.StringIO(shown.stdout)):
            cells += [value for value in row.values() if value]
    assert "'=2+5" in cells
    assert not [cell for cell in cells if cell[0] in "=+@"]
    assert not [cell for cell in cells if cell.startswith("-") and not cell[1:].isdigit()]

    # The router's own log lines: JSON, no raw control character in any value.
    for line in router.log_path.read_text(errors="replace").splitlines():
        if hotline_number in line and line.startswith("{"):
            assert not set(json.loads(line).get("caller", "")) & CONTROL, line

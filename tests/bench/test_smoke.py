"""The benchmark harness still works: a tiny run of each part produces rows.

No figures are asserted (machines are noisy): speed lives in `make bench`.
"""

from __future__ import annotations

import os

import pytest

from tests.bench import calls, decisions, history, report
from tests.lab import database
from tests.lab.asterisk import AsteriskLab

SMOKE_DB = os.environ.get("TEST_DATABASE_NAME", database.name("test")) + "_smoke"


@pytest.mark.lab
async def test_one_small_step_per_path_produces_rows(lab: AsteriskLab) -> None:
    config = calls.CallsConfig(rates=(2,), step_s=5, hold_ms=300, phones=2)

    rows = await calls.run(config, on_row=lambda row: None, lab=lab,
                           database_name=f"{SMOKE_DB}_calls")

    assert [row.path for row in rows] == list(config.paths)
    for row in rows:
        assert row.attempted == 10
        assert row.answered > 0, row
        assert row.pdd_p50_s is not None
        assert row.pdd_p50_s > 0
    text = report.render(report.Report(command="smoke", module_command="smoke", date="today",
                                       machine="here", load_before=(0, 0, 0), steps=rows),
                         notes="")
    assert "| 2 | router |" in text
    assert "Ratios, router ÷ app_queue" in text


@pytest.mark.parametrize("path", decisions.PATHS)
async def test_decision_core_decides(path: str) -> None:
    url = await database.fresh(f"{SMOKE_DB}_decisions")
    await decisions.populate(url, hotlines=3)

    result = decisions.measure(url, hotlines=3, processes=1, seconds=1, concurrency=2,
                               path=path)

    assert result.path == path
    assert result.decisions_per_s > 0
    assert result.no_phone == 0
    assert result.p99_s is not None


async def test_history_seeds_measures_and_reads_one_month_per_write(
        capsys: pytest.CaptureFixture[str]) -> None:
    await history.run(history.parser().parse_args(
        ["--calls", "240", "--write-calls", "5", "--log-runs", "3",
         "--database", f"{SMOKE_DB}_history"]))
    out = capsys.readouterr().out
    assert "seeded 240 calls" in out
    assert "| 0025 (by month), 240 calls |" in out
    assert "month carried, CallEnded: " in out
    carried = [line for line in out.splitlines() if line.startswith("- month carried")]
    assert len(carried) == 4
    assert all(", " not in line.split("reads ")[1] or "CallBridged" in line for line in carried)

"""The benchmark harness still works: a tiny run of each part produces rows.

No figures are asserted (machines are noisy): speed lives in `make bench`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.bench import calls, decisions, history, profile, report
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


def test_a_flame_graph_loses_the_machine_s_paths_and_is_linked(tmp_path: Path) -> None:
    svg = tmp_path / "router.svg"
    svg.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg">'
        '<text id="title" x="50%">/opt/venv/bin/py-spy record --pid 12 -o /tmp/x/router.svg'
        '</text><g><title>run (/srv/app/tests/lab/spin.py:3) (5 samples, 1.00%)</title></g>'
        '<g><title>send (asyncio/selector_events.py:1) (2 samples)</title></g></svg>')

    profile.tidy_flamegraph(svg, "router under load: 40 calls/s")

    text = svg.read_text()
    assert '<text id="title" x="50%">router under load: 40 calls/s</text>' in text
    assert "run (spin.py:3)" in text
    assert "send (asyncio/selector_events.py:1)" in text  # already short: kept
    assert 'xmlns="http://www.w3.org/2000/svg"' in text   # a URL is no path
    assert "py-spy record" not in text
    assert "/srv/" not in text
    assert "/opt/" not in text
    summary = profile.Profile(samples=7, self_top=[("run (spin.py)", 71.4)],
                              total_top=[("run (spin.py)", 71.4)], packages=[],
                              flamegraph="docs/bench/router-under-load.svg")
    lines = report.profile_lines("router under load", summary)
    assert "Flame graph: [docs/bench/router-under-load.svg](docs/bench/router-under-load.svg)" \
        in "\n".join(lines)


def test_a_flame_graph_that_still_names_a_machine_path_is_refused(tmp_path: Path) -> None:
    svg = tmp_path / "decisions.svg"
    svg.write_text(f"<svg><g><title>x (lib.so{Path.home()}/y)</title></g></svg>")
    with pytest.raises(ValueError, match=re.escape(f"{Path.home()}/")):
        profile.tidy_flamegraph(svg, "decision core")


def test_the_router_s_own_events_modules_are_no_plumbing(tmp_path: Path) -> None:
    raw = tmp_path / "router.txt"
    loop = "Runner.run (asyncio/runners.py:118);_run (asyncio/events.py:80)"
    raw.write_text(f"{loop};_read (router/ari/stream.py:9);decode (router/ari/events.py:3) 3\n"
                   f"{loop};until (router/call/events.py:5) 1\n"
                   f"{loop};send (aiohttp/client_ws.py:1) 6\n")

    summary = profile.summarize(raw)

    total = dict(summary.total_top)
    assert total["decode (events.py)"] == 30.0
    assert total["until (events.py)"] == 10.0
    assert "_run (events.py)" not in total    # asyncio's: every sample passes through it
    assert "Runner.run (runners.py)" not in total


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

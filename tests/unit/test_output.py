"""What people read: tables by display width, nothing that steers a terminal, local
times; JSON log lines keep Chinese readable; metrics without *_created series."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from prometheus_client import generate_latest
from rich.cells import cell_len

from router import metrics
from router.cli import output


def test_columns_line_up_by_display_width_with_chinese(capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    rows = [{"label": "前台", "region": "上海市 021", "n": 1},
            {"label": "desk", "region": "江苏省常州市 0519", "n": 12},
            {"label": "值班电话", "region": "-", "n": 3}]
    output.print_table(rows, ("label", "region", "n"), right=("n",))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    # The column after "label" starts at the same display column on every line.
    starts = {cell_len(line[:line.index(region)]) for line, region in zip(
        lines, ["region", "上海市", "江苏省", "-"], strict=True)}
    assert len(starts) == 1
    assert {cell_len(line) for line in lines} == {max(cell_len(line) for line in lines)}
    assert all(line == line.rstrip() for line in lines)


def test_no_cell_can_steer_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    output.print_table([{"caller": "1380\x1b[2J\x1b[31mRED", "note": "a\r\nforged row [bold]"}],
                       ("caller", "note"))
    output.print_record({"caller": "\x1b]0;title\x07"})
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "\r" not in out
    assert "\\x1b[2J" in out
    assert "[bold]" in out  # shown as typed, never read as markup
    assert len(out.splitlines()) == 3  # header, one row, one record line


def test_times_are_shown_in_the_zone_people_read_them_in() -> None:
    midnight_shanghai = datetime(2026, 9, 30, 16, tzinfo=UTC)
    assert output.local(midnight_shanghai, "Asia/Shanghai") == "2026-10-01 00:00:00+08:00"
    assert output.text(midnight_shanghai, "UTC") == "2026-09-30 16:00:00+00:00"
    assert output.local(datetime(2026, 1, 1, 0, 0, 0, 5000, tzinfo=UTC),
                        "Asia/Shanghai") == "2026-01-01 08:00:00.005+08:00"


def test_json_log_lines_keep_chinese_readable() -> None:
    # In a child process: logging is configured once per process, and cached.
    done = subprocess.run(
        [sys.executable, "-c", "import structlog; from router import logs; "
         "logs.configure('json', 'info'); "
         "structlog.get_logger('t').info('plan decided', caller_region='上海市 021')"],
        capture_output=True, text=True, timeout=60)
    line = done.stderr.strip()
    assert "上海市 021" in line  # grep 上海 finds it
    assert json.loads(line)["caller_region"] == "上海市 021"


def test_metrics_carry_the_process_the_build_and_ari_but_no_created_series() -> None:
    text = generate_latest(metrics.REGISTRY).decode()
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
             if line and not line.startswith("#")}
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes",
            "process_start_time_seconds", "hotline_router_build_info",
            "hotline_router_ari_connected", "python_info"} <= names
    assert not [name for name in names if name.endswith("_created")]
    assert 'hotline_router_build_info{python="' in text

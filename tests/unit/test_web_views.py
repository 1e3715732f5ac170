"""Pure parts of the console: plots, phone states, escaping of outside text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.billing.money import yuan
from router.stats import Figures
from router.web.live import PHONE_STATES, phone_state
from router.web.plots import nice_top, stacked
from router.web.present import seconds_text, shown


def figures(key: str, answered: int, missed: int) -> Figures:
    return Figures(key, answered + missed, answered + missed, answered, missed, None, None,
                   None, None)


def test_a_plot_has_a_slot_per_busy_hour_and_a_bar_per_non_zero_part() -> None:
    hours = [figures(f"{h:02d}", *{9: (2, 1), 14: (0, 2)}.get(h, (0, 0))) for h in range(24)]
    plot = stacked(hours, [f.key for f in hours])
    assert [slot.key for slot in plot.slots] == ["09", "14"]
    assert [[bar.kind for bar in slot.bars] for slot in plot.slots] == [
        ["answered", "missed"], ["missed"]]
    nine = plot.slots[0].bars
    assert nine[0].height == pytest.approx(2 * nine[1].height, rel=0.01)
    assert nine[1].y + nine[1].height == pytest.approx(nine[0].y)  # stacked, no gap
    assert nine[0].y + nine[0].height == pytest.approx(plot.base_y)


def test_an_empty_plot_has_no_bars() -> None:
    assert stacked([figures("00", 0, 0)], ["00"]).slots == ()


@given(st.integers(min_value=0, max_value=10**7))
def test_the_axis_top_is_a_round_number_at_or_above_the_tallest_bar(value: int) -> None:
    top = nice_top(value)
    assert top >= max(value, 1)
    assert int(str(top)[0]) in (1, 2, 5)
    assert set(str(top)[1:]) <= {"0"}
    assert top < max(value, 1) * 2.5


def row(**changes: Any) -> dict[str, Any]:
    return {"enabled": True, "talking": 0, "ringing": 0, "active_calls": 0, "capacity": 1,
            "wrap_up_s": 30, "last_call_ended_at": None, "presence": "signed_in", **changes}


NOW = datetime(2026, 10, 12, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(("changes", "state"), [
    ({}, "idle"),
    ({"enabled": False, "talking": 1}, "disabled"),
    ({"talking": 1, "ringing": 1, "active_calls": 2, "capacity": 2}, "talking"),
    ({"ringing": 1, "active_calls": 1}, "ringing"),
    ({"active_calls": 1}, "busy"),
    ({"presence": "paused", "active_calls": 1}, "paused"),
    ({"presence": "paused", "talking": 1, "active_calls": 1}, "talking"),
    ({"presence": "signed_out"}, "signed-out"),
    ({"last_call_ended_at": NOW - timedelta(seconds=10)}, "wrap-up"),
    ({"last_call_ended_at": NOW - timedelta(seconds=31)}, "idle"),
    ({"last_call_ended_at": NOW - timedelta(seconds=10), "wrap_up_s": 0}, "idle"),
])
def test_phone_states_by_precedence(changes: dict[str, Any], state: str) -> None:
    assert phone_state(row(**changes), NOW) == state
    assert state in PHONE_STATES


def test_outside_text_is_shown_escaped() -> None:
    assert shown("13800138000") == "13800138000"
    assert shown("1380\r\n\x1b[2J") == "1380\\x0d\\x0a\\x1b[2J"
    assert shown("abc\u202edef") == "abc\\u202edef"
    assert shown("上海 021") == "上海 021"
    assert shown(None) == ""


def test_people_read_seconds_and_yuan() -> None:
    assert seconds_text(1234) == "1.2 秒"
    assert seconds_text(75_000) == "1 分 15 秒"
    assert seconds_text(None) == ""
    assert yuan(123456) == "¥1,234.56"  # one yuan() for the CLI, the statements and pages
    assert yuan(-5) == "-¥0.05"

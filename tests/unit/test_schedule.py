"""Business hours against China's holidays and make-up workdays (调休)."""

from __future__ import annotations

import datetime as dt

import pytest
import structlog

from router.schedule import CHINA, ChineseCalendar, Schedule, Window, day_key, is_open

WEEKDAYS = frozenset({"mon", "tue", "wed", "thu", "fri"})
OFFICE = Schedule(id=1, name="office", windows=(
    Window(WEEKDAYS, dt.time(9), dt.time(12)), Window(WEEKDAYS, dt.time(13), dt.time(18)),
    Window(frozenset({"sat"}), dt.time(10), dt.time(16)),
    Window(frozenset({"holiday"}), dt.time(0), dt.time.max)))
CST = dt.timezone(dt.timedelta(hours=8))


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=CST)


@pytest.mark.parametrize(("day", "kind"), [
    (dt.date(2026, 10, 1), "holiday"),          # National Day
    (dt.date(2026, 10, 3), "holiday"),          # a Saturday inside the holiday
    (dt.date(2026, 10, 10), "makeup-workday"),  # a Saturday worked for it
    (dt.date(2026, 2, 14), "makeup-workday"),   # Spring Festival 调休
    (dt.date(2026, 11, 28), "normal"),          # a plain Saturday
    (dt.date(2026, 11, 27), "normal"),          # a plain Friday
])
def test_chinese_calendar_day_types(day: dt.date, kind: str) -> None:
    assert CHINA.day_type(day) == kind


@pytest.mark.parametrize(("when", "key", "open_now"), [
    ("2026-11-27 10:00", "fri", True),
    ("2026-11-27 12:30", "fri", False),      # lunch break
    ("2026-11-27 18:00", "fri", False),      # closes at 18:00 sharp
    ("2026-11-28 11:00", "sat", True),
    ("2026-11-29 11:00", "sun", False),
    ("2026-10-01 03:00", "holiday", True),   # the holiday window runs to 24:00
    ("2026-10-01 23:59", "holiday", True),
    ("2026-10-10 10:00", "mon", True),       # make-up workday: a Monday's hours
    ("2026-10-10 12:30", "mon", False),
])
def test_open_by_day_key_and_window(when: str, key: str, open_now: bool) -> None:
    moment = at(when)
    assert day_key(OFFICE, moment.date()) == key
    assert is_open(OFFICE, moment, "Asia/Shanghai")[0] is open_now


def test_hours_are_read_in_the_hotlines_time_zone() -> None:
    utc_morning = dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
    assert is_open(OFFICE, utc_morning, "Asia/Shanghai")[0]
    assert not is_open(OFFICE, utc_morning, "Europe/London")[0]  # 02:00 there


def test_a_schedule_that_ignores_holidays_uses_plain_weekdays() -> None:
    plain = Schedule(id=2, name="plain", windows=OFFICE.windows, observe_holidays=False)
    assert day_key(plain, dt.date(2026, 10, 1)) == "thu"
    assert day_key(plain, dt.date(2026, 10, 10)) == "sat"


def test_override_beats_the_hours_until_it_expires() -> None:
    closed = Schedule(id=3, name="x", windows=OFFICE.windows, override="closed",
                      override_until=at("2026-11-27 12:00"))
    assert is_open(closed, at("2026-11-27 10:00"), "Asia/Shanghai") == (False, "override closed")
    assert is_open(closed, at("2026-11-27 14:00"), "Asia/Shanghai")[0]
    opened = Schedule(id=4, name="y", override="open")
    assert is_open(opened, at("2026-11-29 03:00"), "Asia/Shanghai") == (True, "override open")


def test_a_year_without_holiday_data_falls_back_to_weekdays_and_warns_once() -> None:
    calendar = ChineseCalendar()
    with structlog.testing.capture_logs() as logs:
        assert calendar.day_type(dt.date(2099, 10, 1)) == "normal"
        assert calendar.day_type(dt.date(2099, 10, 2)) == "normal"
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert len(warnings) == 1
    assert warnings[0]["year"] == 2099
    schedule = Schedule(id=5, name="z", windows=OFFICE.windows)
    assert day_key(schedule, dt.date(2099, 10, 1), calendar) == "thu"

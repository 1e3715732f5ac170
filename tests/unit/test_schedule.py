"""Business hours against China's holidays and make-up workdays (调休)."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest
import structlog

from router.schedule import (
    CHINA,
    AdminCalendar,
    ChineseCalendar,
    DayType,
    Schedule,
    Window,
    day_key,
    is_open,
    package_days,
)

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


def test_open_at_the_exact_opening_instant_and_closed_at_the_closing_one() -> None:
    assert is_open(OFFICE, at("2026-11-27 09:00"), "Asia/Shanghai") == (
        True, "fri 09:00 in 09:00-12:00")
    assert not is_open(OFFICE, at("2026-11-27 08:59:59.999"), "Asia/Shanghai")[0]
    assert is_open(OFFICE, at("2026-11-27 11:59:59.999"), "Asia/Shanghai")[0]
    assert is_open(OFFICE, at("2026-11-27 12:00"), "Asia/Shanghai") == (
        False, "fri 12:00 outside hours")
    assert is_open(OFFICE, at("2026-11-27 13:00"), "Asia/Shanghai") == (
        True, "fri 13:00 in 13:00-18:00")


def test_a_window_to_midnight_is_shown_as_24_00() -> None:
    assert is_open(OFFICE, at("2026-10-01 23:59:59.999"), "Asia/Shanghai") == (
        True, "holiday 23:59 in 00:00-24:00")
    late = Schedule(id=6, name="late", windows=(
        Window(frozenset({"fri"}), dt.time(20), dt.time(23, 30)),))
    assert is_open(late, at("2026-11-27 23:00"), "Asia/Shanghai") == (
        True, "fri 23:00 in 20:00-23:30")


def test_an_override_ends_at_its_expiry_instant() -> None:
    until = at("2026-11-27 12:00")
    closed = Schedule(id=3, name="x", windows=OFFICE.windows, override="closed",
                      override_until=until)
    just_before = until - dt.timedelta(milliseconds=1)
    assert is_open(closed, just_before, "Asia/Shanghai") == (False, "override closed")
    # from the expiry on, the hours decide: 12:00 is the lunch break, 13:00 open
    assert is_open(closed, until, "Asia/Shanghai") == (False, "fri 12:00 outside hours")
    assert is_open(closed, at("2026-11-27 13:00"), "Asia/Shanghai")[0]
    opened = Schedule(id=4, name="y", windows=OFFICE.windows, override="open",
                      override_until=until)
    assert is_open(opened, at("2026-11-27 12:30"), "Asia/Shanghai") == (
        False, "fri 12:30 outside hours")
    assert is_open(opened, just_before - dt.timedelta(hours=5), "Asia/Shanghai") == (
        True, "override open")


def test_no_override_leaves_the_hours_in_charge() -> None:
    plain = Schedule(id=7, name="p", windows=OFFICE.windows, override=None,
                     override_until=at("2026-12-31 00:00"))
    assert is_open(plain, at("2026-11-27 10:00"), "Asia/Shanghai")[0]


class Fallback:
    """A calendar with one fixed answer, to see when AdminCalendar asks it."""

    def __init__(self, kind: DayType) -> None:
        self.kind = kind
        self.asked: list[dt.date] = []

    def day_type(self, day: dt.date) -> DayType:
        self.asked.append(day)
        return self.kind


def test_days_admins_enter_come_before_the_fallback() -> None:
    fallback = Fallback("makeup-workday")
    admin = AdminCalendar({dt.date(2026, 11, 27): "holiday", dt.date(2026, 11, 28): "normal"},
                          fallback)
    assert admin.day_type(dt.date(2026, 11, 27)) == "holiday"
    assert admin.day_type(dt.date(2026, 11, 28)) == "normal"
    assert fallback.asked == []
    assert admin.day_type(dt.date(2026, 11, 29)) == "makeup-workday"
    assert fallback.asked == [dt.date(2026, 11, 29)]


def test_an_admin_calendar_falls_back_to_chinas_holidays() -> None:
    admin = AdminCalendar({dt.date(2026, 10, 2): "normal"})
    assert admin.day_type(dt.date(2026, 10, 1)) == "holiday"          # chinese-calendar
    assert admin.day_type(dt.date(2026, 10, 10)) == "makeup-workday"  # chinese-calendar
    assert admin.day_type(dt.date(2026, 10, 2)) == "normal"           # the admin's word
    assert admin.day_type(dt.date(2026, 11, 27)) == "normal"


def test_is_open_reads_holidays_from_the_calendar_it_is_given() -> None:
    friday_10 = at("2026-11-27 10:00")
    day_off = AdminCalendar({friday_10.date(): "holiday"})
    holiday_hours = Schedule(id=8, name="h", windows=(
        Window(frozenset({"holiday"}), dt.time(10), dt.time(11)),))
    assert is_open(holiday_hours, friday_10, "Asia/Shanghai", day_off) == (
        True, "holiday 10:00 in 10:00-11:00")
    assert is_open(holiday_hours, friday_10, "Asia/Shanghai") == (
        False, "fri 10:00 outside hours")
    # a make-up workday an admin enters takes the schedule's chosen weekday
    saturday = at("2026-11-28 10:00")
    workday = AdminCalendar({saturday.date(): "makeup-workday"})
    friday_hours = Schedule(id=9, name="f", makeup_workday_as="fri", windows=(
        Window(frozenset({"fri"}), dt.time(9), dt.time(18)),))
    assert is_open(friday_hours, saturday, "Asia/Shanghai", workday) == (
        True, "fri 10:00 in 09:00-18:00")
    assert day_key(friday_hours, saturday.date(), workday) == "fri"


def test_the_warning_about_missing_holiday_data_names_year_and_version() -> None:
    calendar = ChineseCalendar()
    with structlog.testing.capture_logs() as logs:
        calendar.day_type(dt.date(2098, 1, 1))
    assert logs == [{"event": "no holiday data for this year: schedules use plain weekdays",
                     "log_level": "warning", "year": 2098,
                     "chinese_calendar": chinese_calendar.__version__}]


def test_the_packages_days_of_a_year_are_listed_in_order() -> None:
    days = package_days(2026)
    assert days == sorted(days)
    assert (dt.date(2026, 10, 1), "holiday", "National Day") in days
    assert (dt.date(2026, 9, 20), "makeup-workday", "National Day") in days  # a Sunday worked
    assert (dt.date(2026, 2, 14), "makeup-workday", "Spring Festival") in days  # a Saturday
    assert (dt.date(2026, 1, 1), "holiday", "New Year's Day") in days
    assert all(kind != "makeup-workday" or day.weekday() >= 5 for day, kind, _ in days)
    assert {day.year for day, _, _ in days} == {2026}
    assert {kind for _, kind, _ in days} == {"holiday", "makeup-workday"}
    assert all(isinstance(name, str) and name for _, _, name in days)
    assert not [d for d in days if d[0] == dt.date(2026, 10, 8)]  # back to work
    assert package_days(2099) == []
    assert len(package_days(2025)) > 20

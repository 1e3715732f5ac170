"""Business hours: weekdays, time windows, China's holidays and make-up workdays.

Every date has one *day key*: ``holiday`` on a public holiday (法定节假日,
including the weekdays taken off in lieu), the key of the schedule's
``makeup_workday_as`` weekday on a make-up workday (调休上班, e.g. a
Saturday worked for National Day), and its own weekday (``mon`` … ``sun``)
otherwise. A schedule is open while one of its windows for that key covers the
time of day in the hotline's time zone; a manual override beats the hours.

Holidays come from the ``chinese-calendar`` package (MIT), whose data covers
the years the State Council has announced (up to its release), and from the
days admins enter in ``calendar_days``, which take precedence. For a date
outside both the schedule falls back to plain weekdays and logs a warning
once per year, so an outdated package degrades to "no holidays", never to
an error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

import chinese_calendar
import structlog

log = structlog.get_logger("router.schedule")

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DayType = Literal["holiday", "makeup-workday", "normal"]
OpenOrClosed = Literal["open", "closed"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri"]  # a make-up workday keeps these hours


class HolidayCalendar(Protocol):
    def day_type(self, day: dt.date) -> DayType:
        """Whether ``day`` is a public holiday, a make-up workday, or neither."""


class ChineseCalendar:
    """China's public holidays and make-up workdays, from chinese-calendar."""

    def __init__(self) -> None:
        self._warned: set[int] = set()

    def day_type(self, day: dt.date) -> DayType:
        try:
            off, holiday_name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            if day.year not in self._warned:
                self._warned.add(day.year)
                log.warning("no holiday data for this year: schedules use plain weekdays",
                            year=day.year, chinese_calendar=chinese_calendar.__version__)
            return "normal"
        if holiday_name is None:
            return "normal"
        return "holiday" if off else "makeup-workday"


CHINA = ChineseCalendar()


@dataclass(frozen=True)
class AdminCalendar:
    """The days admins entered (``calendar_days``) first, then ``fallback``'s."""

    days: Mapping[dt.date, DayType] = field(default_factory=dict)
    fallback: HolidayCalendar = CHINA

    def day_type(self, day: dt.date) -> DayType:
        return self.days.get(day) or self.fallback.day_type(day)


@dataclass(frozen=True)
class Window:
    days: frozenset[str]  # day keys: mon … sun, holiday
    opens: dt.time
    closes: dt.time       # 24:00 arrives from PostgreSQL as time.max


@dataclass(frozen=True)
class Schedule:
    id: int
    name: str
    windows: tuple[Window, ...] = ()
    observe_holidays: bool = True
    makeup_workday_as: Weekday = "mon"
    override: OpenOrClosed | None = None
    override_until: dt.datetime | None = None


def day_key(schedule: Schedule, day: dt.date, calendar: HolidayCalendar = CHINA) -> str:
    """The key whose windows apply on ``day``."""
    if schedule.observe_holidays:
        kind = calendar.day_type(day)
        if kind == "holiday":
            return "holiday"
        if kind == "makeup-workday":
            return schedule.makeup_workday_as
    return WEEKDAYS[day.weekday()]


def is_open(schedule: Schedule, at: dt.datetime, time_zone: str,
            calendar: HolidayCalendar = CHINA) -> tuple[bool, str]:
    """Whether the schedule is open at ``at`` (aware), and why, in words."""
    if schedule.override and (schedule.override_until is None or at < schedule.override_until):
        return schedule.override == "open", f"override {schedule.override}"
    local = at.astimezone(ZoneInfo(time_zone))
    key = day_key(schedule, local.date(), calendar)
    now = local.time().replace(tzinfo=None)
    for window in schedule.windows:
        if key in window.days and window.opens <= now < window.closes:
            return True, f"{key} {local:%H:%M} in {window.opens:%H:%M}-{_end(window.closes)}"
    return False, f"{key} {local:%H:%M} outside hours"


def _end(closes: dt.time) -> str:
    return "24:00" if closes == dt.time.max else f"{closes:%H:%M}"


def package_days(year: int) -> list[tuple[dt.date, DayType, str]]:
    """The public holidays and make-up workdays chinese-calendar knows for ``year``
    (empty past its data), in date order: (day, kind, English name). The package
    lists only the weekend days worked as make-up workdays (调休上班)."""
    found: list[tuple[dt.date, DayType, str]] = [
        (day, "holiday", name) for day, name in chinese_calendar.holidays.items()
        if day.year == year]
    found += [(day, "makeup-workday", name) for day, name in chinese_calendar.workdays.items()
              if day.year == year]
    return sorted(found)

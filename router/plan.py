"""A hotline's plan: given the caller and the time, where does the call go?

:func:`decide` is pure: the plan (loaded by router/plan_store.py), the
dialled number, the caller, the caller's region, a time and a holiday
calendar in; a :class:`Decision` out. In order:

1. an 800 number takes landline callers only: a mobile caller is refused;
2. a caller on a ``blacklist`` (the hotline's or the global one) is refused,
   unless the hotline's own ``whitelist`` names them;
3. the rules, by position: the first whose conditions (caller list, caller
   region, schedule open/closed) all hold decides: ring a group, play a voice
   menu, announce "closed", or refuse;
4. no rule matched: the hotline's own strategy over all its bound phones
   (what a hotline without a plan always does).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from router.callers import CallerNumber, normalise
from router.menu import Menu
from router.region import Region
from router.schedule import AdminCalendar, HolidayCalendar, OpenOrClosed, Schedule, is_open

DEFAULT_TIME_ZONE = "Asia/Shanghai"

Match = Literal["exact", "prefix", "area-code"]
RuleAction = Literal["group", "menu", "closed", "refuse"]


@dataclass(frozen=True)
class Sounds:
    """What callers hear; the defaults are Asterisk core sounds (and 0005_plans.sql's)."""

    greeting: tuple[str, ...] = ()
    closed: tuple[str, ...] = ("please-try-call-later",)
    refused: tuple[str, ...] = ("cannot-complete-as-dialed",)
    busy: tuple[str, ...] = ("all-circuits-busy-now",)
    not_in_service: tuple[str, ...] = ("ss-noservice",)
    landline_only: tuple[str, ...] = ("feature-not-avail-line",)


@dataclass(frozen=True)
class Member:
    phone_id: int
    position: int
    weight: int  # the group's own, else the binding's (plan_store reads it so)


@dataclass(frozen=True)
class Group:
    """Phones rung with one answering rule. ``members`` None: all bound phones."""

    id: int | None
    name: str
    strategy: str
    strategy_options: dict[str, Any]
    members: tuple[Member, ...] | None = None
    enabled: bool = True
    confirm_key: str | None = None       # overrides the hotline's (screening); None: its
    caller_id_prefix: str | None = None  # before the caller id its phones see; None: the hotline's
    record_percent: int | None = None    # share of its answered calls recorded; None: the hotline's


@dataclass(frozen=True)
class ListEntry:
    list: str
    match: Match
    value: str
    hotline_id: int | None  # None: every hotline

    def matches(self, caller: CallerNumber, region: Region) -> bool:
        if self.match == "area-code":
            return self.value in (caller.area_code, region.area_code)
        if not caller.number:
            return False
        if self.match == "prefix":
            return caller.number.startswith(self.value)
        return caller.number == (normalise(self.value).number or self.value)

    def describe(self) -> str:
        scope = "global" if self.hotline_id is None else "hotline"
        return f"{self.list} ({scope}): {self.match} {self.value}"


@dataclass(frozen=True)
class Rule:
    id: int
    position: int
    name: str
    action: RuleAction
    caller_list: str | None = None
    caller_region: str | None = None
    schedule_id: int | None = None
    schedule_is: OpenOrClosed | None = None
    group_id: int | None = None
    menu_id: int | None = None

    def describe(self) -> str:
        return f"rule {self.position}" + (f" '{self.name}'" if self.name else "")


@dataclass(frozen=True)
class Plan:
    time_zone: str = DEFAULT_TIME_ZONE
    sounds: Sounds = Sounds()
    groups: Mapping[int, Group] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    lists: tuple[ListEntry, ...] = ()  # the hotline's and the global entries
    schedules: Mapping[int, Schedule] = field(default_factory=dict)
    menus: Mapping[int, Menu] = field(default_factory=dict)
    # holidays: the days admins entered, then chinese-calendar
    calendar: AdminCalendar = field(default_factory=AdminCalendar)


Result = Literal["default", "group", "menu", "closed", "refused", "blacklisted", "mobile-on-800"]


@dataclass(frozen=True)
class Decision:
    result: Result
    reason: str
    rule_id: int | None = None
    group: Group | None = None  # for "group"
    menu_id: int | None = None  # for "menu"

    @property
    def routes(self) -> bool:
        """The call goes on to phones (directly or through a menu)."""
        return self.result in ("default", "group", "menu")


def decide(plan: Plan, dialled: str, caller: CallerNumber, region: Region, now: dt.datetime,
           calendar: HolidayCalendar | None = None) -> Decision:
    """Where the call goes; see the module's docstring for the order. Holidays
    come from ``calendar``, by default the plan's own."""
    if calendar is None:
        calendar = plan.calendar
    if dialled.startswith("800") and caller.kind == "mobile":
        return Decision("mobile-on-800", "800 numbers take landline callers only")
    blacklisted = _on_list(plan, "blacklist", caller, region)
    if blacklisted is not None:
        whitelisted = next((e for e in plan.lists if e.list == "whitelist"
                            and e.hotline_id is not None and e.matches(caller, region)), None)
        if whitelisted is None:
            return Decision("blacklisted", blacklisted.describe())
    for rule in plan.rules:
        why = _holds(plan, rule, caller, region, now, calendar)
        if why is None:
            continue
        reason = f"{rule.describe()}: {why}" if why else rule.describe()
        if rule.action == "group":
            group = plan.groups.get(rule.group_id or 0)
            if group is None or not group.enabled:
                continue  # a disabled group: as if the rule were not there
            return Decision("group", f"{reason} -> group {group.name}", rule.id, group=group)
        if rule.action == "menu" and rule.menu_id in plan.menus:
            return Decision("menu", f"{reason} -> menu", rule.id, menu_id=rule.menu_id)
        if rule.action == "closed":
            return Decision("closed", reason, rule.id)
        if rule.action == "refuse":
            return Decision("refused", reason, rule.id)
    return Decision("default", "no rule matched" if plan.rules else "no plan rules")


def _holds(plan: Plan, rule: Rule, caller: CallerNumber, region: Region, now: dt.datetime,
           calendar: HolidayCalendar) -> str | None:
    """Why every condition of ``rule`` holds ('' for a rule without any), or None."""
    why = []
    if rule.caller_list is not None:
        entry = _on_list(plan, rule.caller_list, caller, region)
        if entry is None:
            return None
        why.append(entry.describe())
    if rule.caller_region is not None:
        if not region.matches(rule.caller_region):
            return None
        why.append(f"caller in {rule.caller_region} ({region.describe()})")
    if rule.schedule_id is not None:
        schedule = plan.schedules.get(rule.schedule_id)
        if schedule is None:
            return None
        open_now, hours = is_open(schedule, now, plan.time_zone, calendar)
        if open_now != (rule.schedule_is == "open"):
            return None
        why.append(f"schedule {schedule.name} {rule.schedule_is} ({hours})")
    return ", ".join(why)


def _on_list(plan: Plan, name: str, caller: CallerNumber, region: Region) -> ListEntry | None:
    return next((e for e in plan.lists if e.list == name and e.matches(caller, region)), None)


def default_group(number: str, strategy: str, options: dict[str, Any]) -> Group:
    """The group a hotline without a plan rings: its own rule over all its phones."""
    return Group(id=None, name=f"all phones of {number}", strategy=strategy,
                 strategy_options=dict(options))

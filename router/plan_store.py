"""Reading hotline plans from the configuration tables (0005_plans.sql).

:func:`load_plans` reads every hotline's plan (for the configuration
snapshot) or one hotline's (for a call that reads the tables directly), in
one read-only transaction so a plan never mixes two versions. A hotline with
nothing configured gets ``Plan()`` plus the global caller lists.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from router.menu import Menu, MenuKey
from router.plan import Group, ListEntry, Member, Plan, Rule, Sounds
from router.schedule import AdminCalendar, Schedule, Window

# "$1::bigint IS NULL OR …": every hotline, or only hotline $1.
_ONE_OR_ALL = "($1::bigint IS NULL OR {column} = $1)"

_SETTINGS = f"SELECT * FROM plan_settings WHERE {_ONE_OR_ALL.format(column='hotline_id')}"
_GROUPS = f"""
SELECT g.id, g.hotline_id, g.name, g.strategy, g.strategy_options, g.enabled,
       g.confirm_key, g.caller_id_prefix, g.record_percent, m.phone_id, m.position,
       -- a member without its own weight follows its binding's (0010)
       coalesce(m.weight, b.weight) AS weight
FROM phone_groups g LEFT JOIN group_members m ON m.group_id = g.id
LEFT JOIN bound_phones b ON b.hotline_id = m.hotline_id AND b.phone_id = m.phone_id
WHERE {_ONE_OR_ALL.format(column='g.hotline_id')}
ORDER BY g.id, m.position, m.phone_id
"""
_LISTS = f"""
SELECT hotline_id, list, match, value FROM caller_lists
WHERE hotline_id IS NULL OR {_ONE_OR_ALL.format(column='hotline_id')}
ORDER BY hotline_id NULLS LAST, id
"""
_SCHEDULES = f"""
SELECT s.id, s.hotline_id, s.name, s.observe_holidays, s.makeup_workday_as, s.override,
       s.override_until, w.days,
       extract(epoch FROM w.opens)::integer AS opens_s,
       extract(epoch FROM w.closes)::integer AS closes_s
FROM schedules s LEFT JOIN schedule_windows w ON w.schedule_id = s.id
WHERE {_ONE_OR_ALL.format(column='s.hotline_id')}
ORDER BY s.id, w.opens, w.id
"""
_MENUS = f"""
SELECT m.id, m.hotline_id, m.name, m.prompt, m.timeout_s, m.attempts, m.invalid_sound,
       m.default_group_id, k.key, k.action, k.group_id, k.submenu_id
FROM voice_menus m LEFT JOIN menu_keys k ON k.menu_id = m.id
WHERE {_ONE_OR_ALL.format(column='m.hotline_id')}
ORDER BY m.id, k.key
"""
_RULES = f"""
SELECT id, hotline_id, position, name, caller_list, caller_region, schedule_id, schedule_is,
       action, group_id, menu_id
FROM plan_rules WHERE enabled AND {_ONE_OR_ALL.format(column='hotline_id')}
ORDER BY hotline_id, position, id
"""


@asynccontextmanager
async def _snapshot_of(db: Any) -> AsyncIterator[Any]:
    """A connection in a read-only, repeatable-read transaction (pool or connection)."""
    if hasattr(db, "acquire"):
        async with db.acquire() as connection, connection.transaction(
                isolation="repeatable_read", readonly=True):
            yield connection
    elif db.is_in_transaction():
        yield db
    else:
        async with db.transaction(isolation="repeatable_read", readonly=True):
            yield db


@dataclass(frozen=True)
class Plans:
    """Every loaded hotline's plan, and the global caller lists."""

    by_hotline: Mapping[int, Plan] = field(default_factory=dict)
    global_lists: tuple[ListEntry, ...] = ()
    calendar: AdminCalendar = field(default_factory=AdminCalendar)

    def of(self, hotline_id: int) -> Plan:
        """The hotline's plan; a hotline without one gets the global lists only."""
        return self.by_hotline.get(hotline_id) or Plan(lists=self.global_lists,
                                                       calendar=self.calendar)


async def load_plans(db: Any, hotline_id: int | None = None) -> Plans:
    """Every hotline's plan, or only ``hotline_id``'s, with the global lists."""
    async with _snapshot_of(db) as connection:
        settings = await connection.fetch(_SETTINGS, hotline_id)
        groups = await connection.fetch(_GROUPS, hotline_id)
        lists = await connection.fetch(_LISTS, hotline_id)
        schedules = await connection.fetch(_SCHEDULES, hotline_id)
        menus = await connection.fetch(_MENUS, hotline_id)
        rules = await connection.fetch(_RULES, hotline_id)
        days = await connection.fetch("SELECT day, kind FROM calendar_days")

    parts: dict[int, dict[str, Any]] = defaultdict(dict)
    for row in settings:
        parts[row["hotline_id"]]["time_zone"] = row["time_zone"]
        parts[row["hotline_id"]]["sounds"] = Sounds(
            greeting=sound_list(row["greeting_sound"]), closed=sound_list(row["closed_sound"]),
            refused=sound_list(row["refused_sound"]), busy=sound_list(row["busy_sound"]),
            not_in_service=sound_list(row["not_in_service_sound"]),
            landline_only=sound_list(row["landline_only_sound"]))
    for hotline, found_groups in _groups(groups).items():
        parts[hotline]["groups"] = found_groups
    for hotline, found_schedules in _schedules(schedules).items():
        parts[hotline]["schedules"] = found_schedules
    for hotline, found_menus in _menus(menus).items():
        parts[hotline]["menus"] = found_menus
    for hotline, found_rules in _rules(rules).items():
        parts[hotline]["rules"] = found_rules
    entries = [ListEntry(list=r["list"], match=r["match"], value=r["value"],
                         hotline_id=r["hotline_id"]) for r in lists]
    global_lists = tuple(e for e in entries if e.hotline_id is None)
    own: dict[int, list[ListEntry]] = defaultdict(list)
    for entry in entries:
        if entry.hotline_id is not None:
            own[entry.hotline_id].append(entry)
    for hotline in own:
        parts[hotline].setdefault("groups", {})
    calendar = AdminCalendar({row["day"]: row["kind"] for row in days})
    return Plans(by_hotline={
        hotline: Plan(**values, lists=(*own.get(hotline, ()), *global_lists), calendar=calendar)
        for hotline, values in parts.items()}, global_lists=global_lists, calendar=calendar)


def sound_list(text: str | None) -> tuple[str, ...]:
    """'demo-congrats,digits/1' -> ('demo-congrats', 'digits/1'); None -> ()."""
    return tuple(part for part in (text or "").split(",") if part)


def _groups(rows: Sequence[Any]) -> dict[int, dict[int, Group]]:
    found: dict[int, dict[int, Group]] = defaultdict(dict)
    members: dict[int, list[Member]] = defaultdict(list)
    heads: dict[int, Any] = {}
    for row in rows:
        heads.setdefault(row["id"], row)
        if row["phone_id"] is not None:
            members[row["id"]].append(Member(row["phone_id"], row["position"], row["weight"]))
    for group_id, row in heads.items():
        found[row["hotline_id"]][group_id] = Group(
            id=group_id, name=row["name"], strategy=row["strategy"],
            strategy_options=dict(row["strategy_options"]),
            members=tuple(members[group_id]), enabled=row["enabled"],
            confirm_key=row["confirm_key"], caller_id_prefix=row["caller_id_prefix"],
            record_percent=row["record_percent"])
    return found


def _time(seconds: int) -> dt.time:
    # PostgreSQL's 24:00 (end of day) has no datetime.time: the day's last instant.
    if seconds >= 86_400:
        return dt.time.max
    return dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60)


def _schedules(rows: Sequence[Any]) -> dict[int, dict[int, Schedule]]:
    found: dict[int, dict[int, Schedule]] = defaultdict(dict)
    windows: dict[int, list[Window]] = defaultdict(list)
    heads: dict[int, Any] = {}
    for row in rows:
        heads.setdefault(row["id"], row)
        if row["days"] is not None:
            windows[row["id"]].append(Window(frozenset(row["days"]), _time(row["opens_s"]),
                                             _time(row["closes_s"])))
    for schedule_id, row in heads.items():
        found[row["hotline_id"]][schedule_id] = Schedule(
            id=schedule_id, name=row["name"], windows=tuple(windows[schedule_id]),
            observe_holidays=row["observe_holidays"],
            makeup_workday_as=row["makeup_workday_as"], override=row["override"],
            override_until=row["override_until"])
    return found


def _menus(rows: Sequence[Any]) -> dict[int, dict[int, Menu]]:
    found: dict[int, dict[int, Menu]] = defaultdict(dict)
    keys: dict[int, dict[str, MenuKey]] = defaultdict(dict)
    heads: dict[int, Any] = {}
    for row in rows:
        heads.setdefault(row["id"], row)
        if row["key"] is not None:
            keys[row["id"]][row["key"]] = MenuKey(row["key"], row["action"], row["group_id"],
                                                  row["submenu_id"])
    for menu_id, row in heads.items():
        found[row["hotline_id"]][menu_id] = Menu(
            id=menu_id, name=row["name"], prompt=sound_list(row["prompt"]),
            keys=keys[menu_id], timeout_s=row["timeout_s"], attempts=row["attempts"],
            invalid_sound=sound_list(row["invalid_sound"]),
            default_group_id=row["default_group_id"])
    return found


def _rules(rows: Sequence[Any]) -> dict[int, tuple[Rule, ...]]:
    found: dict[int, list[Rule]] = defaultdict(list)
    for row in rows:
        found[row["hotline_id"]].append(Rule(
            id=row["id"], position=row["position"], name=row["name"], action=row["action"],
            caller_list=row["caller_list"], caller_region=row["caller_region"],
            schedule_id=row["schedule_id"], schedule_is=row["schedule_is"],
            group_id=row["group_id"], menu_id=row["menu_id"]))
    return {hotline: tuple(rules) for hotline, rules in found.items()}

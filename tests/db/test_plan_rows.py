"""Plan configuration in PostgreSQL: refusals with reasons, cascades, live reload."""

from __future__ import annotations

import itertools
from typing import Any

import asyncpg
import pytest

from router import admin
from router.directory import find_hotline
from router.live_config import ConfigWatcher
from router.plan import DEFAULT_TIME_ZONE, Sounds
from tests.db.conftest import until
from tests.plan_helpers import add_group, add_key, add_menu, add_rule, add_schedule, add_to_list

_numbers = itertools.count(1)


@pytest.fixture
async def hotline(db: Any) -> tuple[str, list[int]]:
    """A fresh hotline with two bound phones: (number, phone ids)."""
    number = f"40088{next(_numbers):05d}"
    await admin.add_hotline(db, number)
    phones = [(await admin.add_phone(db, number, f"PJSIP/plans/sip:{number}-{n}@127.0.0.1"))
              ["phone_id"] for n in range(2)]
    return number, phones


async def refusal(db: Any, sql: str, *args: Any) -> str:
    """The readable reason the database gives for refusing ``sql``."""
    with pytest.raises(asyncpg.exceptions.PostgresError) as refused:
        await db.execute(sql, *args)
    return admin.explain(refused.value)


async def test_group_refusals(db: Any, hotline: tuple[str, list[int]]) -> None:
    number, (phone, _) = hotline
    group = await add_group(db, number, "sales", [phone])
    other = f"40089{next(_numbers):05d}"
    await admin.add_hotline(db, other)
    stranger = (await admin.add_phone(db, other, f"PJSIP/plans/sip:{other}@127.0.0.1"))["phone_id"]

    assert await refusal(db, "INSERT INTO group_members (group_id, phone_id) VALUES ($1, $2)",
                         group, stranger) == (
        "group member must be a phone bound to the groups hotline")
    assert await refusal(db, "INSERT INTO group_members (group_id, phone_id) VALUES ($1, $2)",
                         group, phone) == "phone is already a member of this group"
    hotline_id = await db.fetchval("SELECT id FROM hotlines WHERE number = $1", number)
    assert await refusal(db, "INSERT INTO phone_groups (hotline_id, name) VALUES ($1, 'sales')",
                         hotline_id) == "group name is already used by this hotline"
    assert await refusal(db, "INSERT INTO phone_groups (hotline_id, name) VALUES ($1, 'a b')",
                         hotline_id) == "group name must be 1 to 40 letters digits dashes"
    assert await refusal(
        db, """INSERT INTO phone_groups (hotline_id, name, strategy, strategy_options)
               VALUES ($1, 'ring', 'ring_progressively', '{"interval": 5}')""", hotline_id) == (
        "group ring: strategy ring_progressively has no option 'interval' (allowed: interval_s)")


async def test_unbinding_a_phone_takes_it_out_of_its_groups(
        db: Any, hotline: tuple[str, list[int]]) -> None:
    number, (phone, other) = hotline
    group = await add_group(db, number, "both", [phone, other])
    await db.execute("DELETE FROM bound_phones WHERE phone_id = $1", phone)
    assert await db.fetch("SELECT phone_id FROM group_members WHERE group_id = $1", group) == [
        (other,)]


@pytest.mark.parametrize(("columns", "reason"), [
    ({"list": "blacklist", "match": "exact", "value": "+86138"},
     "caller list number or prefix must be 1 to 20 digits"),
    ({"list": "blacklist", "match": "area-code", "value": "21"},
     "caller list area code must be 0 then 2 or 3 digits"),
    ({"list": "blacklist", "match": "suffix", "value": "1"},
     "caller list match must be exact prefix or area code"),
    ({"list": "Black List", "match": "exact", "value": "1"},
     "caller list name must be a lowercase name"),
])
async def test_caller_list_refusals(db: Any, columns: dict[str, str], reason: str) -> None:
    assert await refusal(db, "INSERT INTO caller_lists (list, match, value) VALUES ($1, $2, $3)",
                         *columns.values()) == reason


async def test_the_same_entry_twice_is_refused_globally_and_per_hotline(
        db: Any, hotline: tuple[str, list[int]]) -> None:
    number, _ = hotline
    await add_to_list(db, None, "blacklist", "exact", "13300000009")
    await add_to_list(db, number, "blacklist", "exact", "13300000009")  # another scope: fine
    for scope in (None, number):
        with pytest.raises(asyncpg.exceptions.UniqueViolationError) as refused:
            await add_to_list(db, scope, "blacklist", "exact", "13300000009")
        assert admin.explain(refused.value) == "caller is already on this list"


@pytest.mark.parametrize(("sql", "reason"), [
    ("INSERT INTO schedule_windows (schedule_id, days, opens, closes) "
     "VALUES ($1, '{mon}', '18:00', '09:00')", "window must close after it opens"),
    ("INSERT INTO schedule_windows (schedule_id, days, opens, closes) "
     "VALUES ($1, '{monday}', '09:00', '18:00')", "window days must be mon to sun or holiday"),
    ("INSERT INTO schedule_windows (schedule_id, days, opens, closes) "
     "VALUES ($1, '{}', '09:00', '18:00')", "window days must be mon to sun or holiday"),
    ("UPDATE schedules SET override = 'shut' WHERE id = $1",
     "schedule override must be open or closed"),
    ("UPDATE schedules SET override_until = now() WHERE id = $1",
     "schedule override until needs an override"),
    ("UPDATE schedules SET makeup_workday_as = 'sat' WHERE id = $1",
     "schedule makeup workday must be mon to fri"),
])
async def test_schedule_refusals(db: Any, hotline: tuple[str, list[int]], sql: str,
                                 reason: str) -> None:
    schedule = await add_schedule(db, hotline[0], "office", [(["mon"], "09:00", "24:00")])
    assert await refusal(db, sql, schedule) == reason


async def test_menus_nest_at_most_five_levels_and_never_in_a_circle(
        db: Any, hotline: tuple[str, list[int]]) -> None:
    number, _ = hotline
    menus = [await add_menu(db, number, f"level{n}", "digits/1") for n in range(1, 7)]
    for upper, lower in itertools.pairwise(menus[:5]):
        await add_key(db, upper, "1", "submenu", submenu_id=lower)
    assert await refusal(db, "INSERT INTO menu_keys (menu_id, key, action, submenu_id) "
                             "VALUES ($1, '1', 'submenu', $2)", menus[4], menus[5]) == (
        "voice menus nest at most 5 levels (this key would make 6)")
    assert await refusal(db, "INSERT INTO menu_keys (menu_id, key, action, submenu_id) "
                             "VALUES ($1, '2', 'submenu', $2)", menus[3], menus[1]) == (
        "a voice menu cannot lead back to itself")
    assert await refusal(db, "INSERT INTO menu_keys (menu_id, key, action) "
                             "VALUES ($1, '2', 'group')", menus[0]) == (
        "menu key group action needs a group and only it")
    assert await refusal(db, "INSERT INTO menu_keys (menu_id, key, action) "
                             "VALUES ($1, 'A', 'repeat')", menus[0]) == (
        "menu key must be a digit star or hash")
    assert await refusal(db, "UPDATE voice_menus SET prompt = '../../etc/passwd' WHERE id = $1",
                         menus[0]) == "menu prompt must be sound names separated by commas"


async def test_rule_refusals_and_what_a_rule_holds_on_to(
        db: Any, hotline: tuple[str, list[int]]) -> None:
    number, (phone, _) = hotline
    group = await add_group(db, number, "sales", [phone])
    schedule = await add_schedule(db, number, "office", [])
    hotline_id = await db.fetchval("SELECT id FROM hotlines WHERE number = $1", number)
    insert = "INSERT INTO plan_rules (hotline_id, position, action, {}) VALUES ($1, 1, $2, $3)"
    assert await refusal(db, insert.format("group_id"), hotline_id, "menu", group) == (
        "rule group action needs a group and only it")
    assert await refusal(db, insert.format("schedule_id"), hotline_id, "closed", schedule) == (
        "rule schedule needs open or closed")
    assert await refusal(db, insert.format("name"), hotline_id, "hangup", "x") == (
        "rule action must be group menu closed or refuse")
    await add_rule(db, number, 1, "group", group_id=group, schedule_id=schedule,
                   schedule_is="open")
    assert await refusal(db, "DELETE FROM phone_groups WHERE id = $1", group) == (
        "group is used by a plan rule")
    assert await refusal(db, "DELETE FROM schedules WHERE id = $1", schedule) == (
        "schedule is used by a plan rule")


async def test_new_outcomes_and_plan_results_are_accepted(db: Any) -> None:
    known = {row["outcome"] for row in await db.fetch("SELECT outcome FROM call_outcomes")}
    assert {"refused", "closed", "mobile-on-800", "answered", "refused-no-balance"} <= known
    assert await refusal(
        db, """INSERT INTO calls (id, dialled, caller, caller_channel, router_id, started_at,
                                  plan_result)
               VALUES (gen_random_uuid(), '4001', '1', random()::text, 'r', now(),
                       'maybe')""") == (
        "call plan result is known")


async def test_database_defaults_are_the_routers_defaults(db: Any) -> None:
    """A hotline without plan_settings sounds the same as one with a default row."""
    defaults = {r["column_name"]: r["column_default"] for r in await db.fetch(
        "SELECT column_name, column_default FROM information_schema.columns "
        "WHERE table_name = 'plan_settings' AND column_name LIKE '%_sound'")}
    sounds = Sounds()
    assert defaults.pop("greeting_sound") is None
    assert sounds.greeting == ()
    for column, default in defaults.items():
        assert default == f"'{','.join(getattr(sounds, column.removesuffix('_sound')))}'::text"
    assert await db.fetchval("SELECT column_default FROM information_schema.columns "
                             "WHERE table_name = 'plan_settings' AND column_name = 'time_zone'"
                             ) == f"'{DEFAULT_TIME_ZONE}'::text"


async def test_a_plan_edit_reaches_the_snapshot_and_reads_as_the_tables(
        db: Any, hotline: tuple[str, list[int]], watcher: ConfigWatcher) -> None:
    number, (phone, _) = hotline
    group = await add_group(db, number, "vip", [phone])
    await add_to_list(db, number, "vip", "prefix", "139")
    await add_rule(db, number, 1, "group", caller_list="vip", group_id=group)

    def has_rule() -> bool:
        snapshot = watcher.fresh_snapshot
        return snapshot is not None and number in snapshot.hotlines and bool(
            snapshot.hotlines[number].plan.rules)

    assert await until(has_rule) < 1.0
    snapshot = watcher.fresh_snapshot
    assert snapshot is not None
    from_snapshot = await find_hotline(db, number, snapshot)
    assert from_snapshot == await find_hotline(db, number)
    assert from_snapshot is not None
    members = from_snapshot.hotline.plan.groups[group].members
    assert members is not None
    assert [m.phone_id for m in members] == [phone]

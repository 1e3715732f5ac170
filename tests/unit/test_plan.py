"""The plan's decision, given the caller, the region and a frozen clock."""

from __future__ import annotations

import datetime as dt

from router import region
from router.callers import normalise
from router.plan import Decision, Group, ListEntry, Plan, Rule, decide
from router.schedule import Schedule, Window

CST = dt.timezone(dt.timedelta(hours=8))
FRIDAY_10 = dt.datetime(2026, 11, 27, 10, 0, tzinfo=CST)
FRIDAY_22 = dt.datetime(2026, 11, 27, 22, 0, tzinfo=CST)
VIP, SHANGHAI, DUTY = (Group(i, name, "sequential", {}, ()) for i, name in
                       ((1, "vip"), (2, "shanghai"), (3, "duty")))
HOURS = Schedule(10, "hours", (Window(frozenset({"mon", "tue", "wed", "thu", "fri"}),
                                      dt.time(9), dt.time(18)),))
PLAN = Plan(
    groups={1: VIP, 2: SHANGHAI, 3: DUTY},
    schedules={10: HOURS},
    lists=(ListEntry("blacklist", "prefix", "170", 7), ListEntry("whitelist", "exact",
                                                                  "17000000001", 7),
           ListEntry("vip", "exact", "13912345678", 7),
           ListEntry("blacklist", "area-code", "0991", None)),
    rules=(Rule(1, 1, "vip", "group", caller_list="vip", group_id=1),
           Rule(2, 2, "night", "group", schedule_id=10, schedule_is="closed", group_id=3),
           Rule(3, 3, "", "group", caller_region="上海", group_id=2),
           Rule(4, 4, "no-sh", "refuse", caller_region="Shenzhen")))


def decision(caller: str, dialled: str = "4008001234", now: dt.datetime = FRIDAY_10,
             plan: Plan = PLAN) -> Decision:
    number = normalise(caller)
    return decide(plan, dialled, number, region.lookup(number), now)


def test_vip_list_routes_to_the_vip_group_first() -> None:
    found = decision("+86 139 1234 5678", now=FRIDAY_22)
    assert (found.result, found.group, found.rule_id) == ("group", VIP, 1)
    assert found.reason == "rule 1 'vip': vip (hotline): exact 13912345678 -> group vip"


def test_outside_hours_goes_to_the_duty_group() -> None:
    found = decision("02161234567", now=FRIDAY_22)
    assert (found.result, found.group) == ("group", DUTY)
    assert "schedule hours closed (fri 22:00 outside hours)" in found.reason


def test_region_rule_in_hours() -> None:
    assert decision("02161234567").group == SHANGHAI
    assert decision("075512345678").result == "refused"


def test_no_rule_matched_is_the_default() -> None:
    assert decision("13800138000") == Decision("default", "no rule matched")
    assert decision("anonymous").result == "default"
    assert decision("13800138000", plan=Plan()) == Decision("default", "no plan rules")


def test_blacklist_before_any_rule_and_the_hotlines_whitelist_exempts() -> None:
    found = decision("17012345678")
    assert (found.result, found.reason) == ("blacklisted", "blacklist (hotline): prefix 170")
    assert decision("17000000001").result == "default"
    assert decision("09912345678").reason == "blacklist (global): area-code 0991"


def test_a_global_whitelist_does_not_lift_a_blacklist() -> None:
    plan = Plan(lists=(ListEntry("blacklist", "exact", "13800138000", None),
                       ListEntry("whitelist", "exact", "13800138000", None)))
    assert decision("13800138000", plan=plan).result == "blacklisted"


def test_mobiles_may_not_call_800_numbers_landlines_may() -> None:
    assert decision("13800138000", dialled="8008001234").result == "mobile-on-800"
    assert decision("02161234567", dialled="8008001234").group == SHANGHAI
    assert decision("anonymous", dialled="8008001234").result == "default"


def test_a_disabled_group_skips_its_rule() -> None:
    off = Group(1, "vip", "sequential", {}, (), enabled=False)
    plan = Plan(groups={1: off}, lists=PLAN.lists, rules=PLAN.rules[:1])
    assert decision("13912345678", plan=plan).result == "default"

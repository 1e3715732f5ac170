"""The plan's decision, given the caller, the region and a frozen clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

from router import region
from router.callers import normalise
from router.menu import Menu
from router.plan import Decision, Group, ListEntry, Plan, Rule, decide, default_group
from router.region import Region
from router.schedule import AdminCalendar, Schedule, Window

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


# --- each rule action, followed by a later rule ---------------------------------

LATER_REFUSE = Rule(9, 9, "everyone else", "refuse")
MENU_MAIN = Menu(5, "main", ("welcome",))


def first_then_refuse(rule: Rule, **plan: Any) -> Plan:
    """``rule``, then a rule that refuses everyone."""
    return Plan(rules=(rule, LATER_REFUSE), **plan)


def test_a_disabled_group_skips_to_the_next_rule_not_to_the_end() -> None:
    off = Group(1, "vip", "sequential", {}, (), enabled=False)
    plan = first_then_refuse(Rule(1, 1, "vip", "group", group_id=1), groups={1: off})
    assert decision("13912345678", plan=plan) == Decision(
        "refused", "rule 9 'everyone else'", 9)


def test_a_group_rule_whose_group_is_gone_skips_to_the_next_rule() -> None:
    # group 1 exists, but the rule names none (or one deleted since): never group 1
    for group_id in (None, 2):
        plan = first_then_refuse(Rule(1, 1, "", "group", group_id=group_id),
                                 groups={1: VIP})
        assert decision("13912345678", plan=plan).rule_id == 9


def test_a_group_rule_rings_its_group() -> None:
    plan = first_then_refuse(Rule(1, 1, "all", "group", group_id=1), groups={1: VIP})
    assert decision("13912345678", plan=plan) == Decision(
        "group", "rule 1 'all' -> group vip", 1, group=VIP)


def test_a_menu_rule_plays_its_menu() -> None:
    plan = first_then_refuse(Rule(1, 1, "ivr", "menu", menu_id=5), menus={5: MENU_MAIN})
    found = decision("13912345678", plan=plan)
    assert found == Decision("menu", "rule 1 'ivr' -> menu", 1, menu_id=5)
    assert found.routes


def test_a_menu_rule_whose_menu_is_gone_skips_to_the_next_rule() -> None:
    plan = first_then_refuse(Rule(1, 1, "ivr", "menu", menu_id=6), menus={5: MENU_MAIN})
    assert decision("13912345678", plan=plan).rule_id == 9


def test_a_menu_id_on_another_action_plays_no_menu() -> None:
    # a closed rule that also names a menu (as a stale column might): still closed
    plan = first_then_refuse(Rule(1, 1, "shut", "closed", menu_id=5), menus={5: MENU_MAIN})
    assert decision("13912345678", plan=plan) == Decision("closed", "rule 1 'shut'", 1)


def test_a_closed_rule_announces_closed() -> None:
    plan = first_then_refuse(Rule(1, 1, "night", "closed", schedule_id=10,
                                  schedule_is="closed"), schedules={10: HOURS})
    found = decision("13912345678", plan=plan, now=FRIDAY_22)
    assert found == Decision(
        "closed", "rule 1 'night': schedule hours closed (fri 22:00 outside hours)", 1)
    assert not found.routes
    # in hours the closed rule does not hold: the next rule decides
    assert decision("13912345678", plan=plan).rule_id == 9


def test_a_refuse_rule_refuses() -> None:
    plan = Plan(rules=(Rule(3, 1, "", "refuse", caller_region="江苏"), Rule(4, 2, "x", "closed")))
    found = decision("13912345678", plan=plan)
    assert found == Decision("refused", "rule 1: caller in 江苏 (江苏省常州市 0519)", 3)
    assert not found.routes
    assert decision("02161234567", plan=plan) == Decision("closed", "rule 2 'x'", 4)


def test_an_unknown_action_is_skipped() -> None:
    """A rule whose action this version does not know (a newer one wrote it) is skipped."""
    plan = first_then_refuse(Rule(1, 1, "", "voicemail"))  # type: ignore[arg-type]
    assert decision("13912345678", plan=plan).rule_id == 9


def test_a_rule_without_a_name_or_conditions_is_described_by_position() -> None:
    plan = Plan(rules=(Rule(4, 7, "", "closed"),))
    assert decision("13912345678", plan=plan) == Decision("closed", "rule 7", 4)


def test_every_condition_of_a_rule_must_hold_and_each_is_named() -> None:
    rule = Rule(1, 1, "vip in shanghai", "group", caller_list="vip", caller_region="上海",
                schedule_id=10, schedule_is="open", group_id=1)
    lists = (ListEntry("vip", "prefix", "021", 7),)
    plan = first_then_refuse(rule, groups={1: VIP}, lists=lists, schedules={10: HOURS})
    found = decision("02161234567", plan=plan)
    assert found.reason == ("rule 1 'vip in shanghai': vip (hotline): prefix 021, "
                            "caller in 上海 (上海市 021), "
                            "schedule hours open (fri 10:00 in 09:00-18:00) -> group vip")
    assert decision("02161234567", plan=plan, now=FRIDAY_22).rule_id == 9  # closed now
    assert decision("075512345678", plan=plan).rule_id == 9               # not on the list
    lists_all = (ListEntry("vip", "prefix", "0", 7),)
    plan = first_then_refuse(rule, groups={1: VIP}, lists=lists_all, schedules={10: HOURS})
    assert decision("075512345678", plan=plan).rule_id == 9               # not in 上海


def test_a_schedule_rule_for_open_hours() -> None:
    plan = first_then_refuse(Rule(1, 1, "day", "group", schedule_id=10, schedule_is="open",
                                  group_id=1), groups={1: VIP}, schedules={10: HOURS})
    assert decision("13912345678", plan=plan).group == VIP
    assert decision("13912345678", plan=plan, now=FRIDAY_22).rule_id == 9


def test_a_rule_whose_schedule_is_gone_does_not_hold() -> None:
    plan = first_then_refuse(Rule(1, 1, "day", "group", schedule_id=11, schedule_is="closed",
                                  group_id=1), groups={1: VIP}, schedules={10: HOURS})
    assert decision("13912345678", plan=plan, now=FRIDAY_22).rule_id == 9


def test_a_caller_list_rule_matches_by_the_callers_area_code() -> None:
    # a mobile's area code is its home city's, from the region (1391234: 常州 0519)
    lists = (ListEntry("changzhou", "area-code", "0519", 7),)
    plan = first_then_refuse(Rule(1, 1, "", "group", caller_list="changzhou", group_id=1),
                             groups={1: VIP}, lists=lists)
    assert decision("13912345678", plan=plan).group == VIP
    assert decision("13800138000", plan=plan).rule_id == 9


def test_the_hotlines_whitelist_by_area_code_lifts_a_global_blacklist() -> None:
    lists = (ListEntry("blacklist", "prefix", "139", None),
             ListEntry("whitelist", "area-code", "0519", 7))
    assert decision("13912345678", plan=Plan(lists=lists)).result == "default"
    assert decision("13912340000", plan=Plan(lists=lists)).result == "default"
    assert decision("13900000000", plan=Plan(lists=lists)).result == "blacklisted"


def test_an_exact_entry_written_in_any_form_matches_the_national_number() -> None:
    for written in ("+86 139 1234 5678", "008613912345678", "139-1234-5678"):
        entry = ListEntry("vip", "exact", written, 7)
        assert entry.matches(normalise("13912345678"), region.UNKNOWN)
        assert not entry.matches(normalise("13912345679"), region.UNKNOWN)
    short = ListEntry("vip", "exact", "95588", 7)  # not a phone number: as written
    assert short.matches(normalise("95588"), region.UNKNOWN)
    assert not short.matches(normalise("anonymous"), region.UNKNOWN)


def test_a_withheld_caller_matches_no_number_entry_but_an_area_code_needs_a_region() -> None:
    withheld = normalise("anonymous")
    assert not ListEntry("blacklist", "prefix", "", None).matches(withheld, region.UNKNOWN)
    assert not ListEntry("blacklist", "exact", "", None).matches(withheld, region.UNKNOWN)
    shanghai = Region("上海市", "上海市", "Shanghai", "Shanghai", "021")
    assert ListEntry("x", "area-code", "021", None).matches(normalise("13800138000"), shanghai)


def test_the_mobile_on_800_refusal_says_why() -> None:
    assert decision("13800138000", dialled="8008001234") == Decision(
        "mobile-on-800", "800 numbers take landline callers only")


def test_only_routing_results_route() -> None:
    routing = {"default", "group", "menu"}
    for result in ("default", "group", "menu", "closed", "refused", "blacklisted",
                   "mobile-on-800"):
        assert Decision(result, "").routes is (result in routing)


def test_the_default_group_is_the_hotlines_own_rule_over_all_its_phones() -> None:
    options = {"interval_s": 3}
    group = default_group("4008001234", "ring_progressively", options)
    assert group == Group(None, "all phones of 4008001234", "ring_progressively",
                          {"interval_s": 3}, None, True)
    options["interval_s"] = 9
    assert group.strategy_options == {"interval_s": 3}  # a copy: the snapshot's stays put


# --- holidays admins enter, through the plan -----------------------------------

def test_the_plans_calendar_decides_holidays() -> None:
    # Friday 27 Nov 2026 10:00 is in hours; an admin makes it a holiday: closed
    day_off = AdminCalendar({FRIDAY_10.date(): "holiday"})
    plan = Plan(schedules={10: HOURS}, groups={3: DUTY}, calendar=day_off,
                rules=(Rule(2, 2, "night", "group", schedule_id=10, schedule_is="closed",
                            group_id=3),))
    found = decision("13800138000", plan=plan)
    assert (found.group, found.reason) == (
        DUTY, "rule 2 'night': schedule hours closed (holiday 10:00 outside hours) "
              "-> group duty")
    # the calendar passed in beats the plan's own
    assert decide(plan, "4008001234", normalise("13800138000"), region.UNKNOWN, FRIDAY_10,
                  AdminCalendar()).result == "default"


def test_a_make_up_workday_an_admin_enters_opens_a_sunday() -> None:
    sunday_10 = dt.datetime(2026, 11, 29, 10, 0, tzinfo=CST)
    workday = AdminCalendar({sunday_10.date(): "makeup-workday"})
    rule = Rule(1, 1, "day", "group", schedule_id=10, schedule_is="open", group_id=1)
    plan = first_then_refuse(rule, groups={1: VIP}, schedules={10: HOURS}, calendar=workday)
    assert decision("13800138000", plan=plan, now=sunday_10).group == VIP
    plain = first_then_refuse(rule, groups={1: VIP}, schedules={10: HOURS})
    assert decision("13800138000", plan=plain, now=sunday_10).rule_id == 9

"""Hotline plans on real calls: sipp caller -> lab Asterisk -> router -> sipp phones.

Menus are walked with RFC 2833 key presses (sip-tester's recordings), the
schedule clock is pinned in the router process (PLAN_CLOCK), and every test
reads what the plan decided from the call row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import (
    PhoneFactory,
    RouterFactory,
    add_hotline,
    dialplan_global,
    legs_of,
    wait_for_call,
)
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess
from tests.plan_helpers import (
    add_group,
    add_key,
    add_menu,
    add_rule,
    add_schedule,
    add_to_list,
)

pytestmark = pytest.mark.lab


def key(digit: str) -> str:
    """sip-tester's RFC 2833 recording of one key press.

    The recordings share one RTP stream: 1 to 9 rise in sequence number and
    timestamp, so one call may press distinct keys in rising order (Asterisk
    takes a repeated recording for the same event, and drops older packets).
    """
    return f"/usr/share/sip-tester/dtmf_2833_{digit}.pcap"


async def test_menu_keys_two_levels_deep_reach_the_groups_phone(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    sales, billing, tech = (phones(answer_after_ms=200) for _ in range(3))
    ids = await add_hotline(db, hotline_number, [sales, billing, tech])
    sales_g = await add_group(db, hotline_number, "sales", [ids[sales.dial_string]])
    billing_g = await add_group(db, hotline_number, "billing", [ids[billing.dial_string]])
    tech_g = await add_group(db, hotline_number, "tech", [ids[tech.dial_string]])
    main = await add_menu(db, hotline_number, "main", "vm-enter-num-to-call", timeout_s=5)
    service = await add_menu(db, hotline_number, "service", "digits/2,digits/1", timeout_s=5)
    await add_key(db, main, "1", "group", group_id=sales_g)
    await add_key(db, main, "2", "submenu", submenu_id=service)
    await add_key(db, service, "1", "group", group_id=billing_g)
    await add_key(db, service, "3", "group", group_id=tech_g)
    await add_key(db, service, "9", "back")
    await add_rule(db, hotline_number, 1, "menu", menu_id=main)

    # 2 (service) during the main prompt, then 3 (tech) in the submenu.
    seen = await sipp.call(lab.sip_address, hotline_number, caller="13912345678",
                           hold_ms=8000, dtmf_pcaps=((1000, key("2")), (2500, key("3"))))

    assert seen.result == "answered", seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert call["outcome"] == "answered"
    assert call["answered_dial_string"] == tech.dial_string
    assert (call["plan_result"], call["plan_group"], call["menu_keys"]) == ("group", "tech", "2,3")
    assert "menu service key 3" in call["plan_reason"]
    # The menu answered the caller: billing starts there, before the phone's answer.
    assert call["caller_answered_at"] is not None
    assert call["caller_answered_at"] < call["answered_at"]
    assert [leg["dial_string"] for leg in await legs_of(db, call["id"])] == [tech.dial_string]
    assert sales.results() == []
    assert billing.results() == []


async def test_no_key_pressed_goes_to_the_menus_default_group(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    sales, duty = phones(answer_after_ms=200), phones(answer_after_ms=200)
    ids = await add_hotline(db, hotline_number, [sales, duty])
    sales_g = await add_group(db, hotline_number, "sales", [ids[sales.dial_string]])
    duty_g = await add_group(db, hotline_number, "duty", [ids[duty.dial_string]])
    main = await add_menu(db, hotline_number, "main", "digits/1", timeout_s=1, attempts=2,
                          default_group_id=duty_g)
    await add_key(db, main, "1", "group", group_id=sales_g)
    await add_rule(db, hotline_number, 1, "menu", menu_id=main)

    # An invalid key, then silence: two attempts used, the default group rings.
    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=9000,
                           dtmf_pcaps=((500, key("9")),))

    assert seen.result == "answered", seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert call["answered_dial_string"] == duty.dial_string
    assert (call["plan_group"], call["menu_keys"]) == ("duty", "9")
    assert "no input: default of main" in call["plan_reason"]


async def test_blacklisted_caller_is_refused_unless_the_hotline_whitelists_them(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    phone = phones(answer_after_ms=200)
    await add_hotline(db, hotline_number, [phone])
    await add_to_list(db, hotline_number, "blacklist", "prefix", "1701234")
    global_entry = await add_to_list(db, None, "blacklist", "exact", "13011110000")
    await add_to_list(db, hotline_number, "whitelist", "exact", "17012340002")

    try:
        refused = await sipp.call(lab.sip_address, hotline_number, caller="17012340001")
        global_refused = await sipp.call(lab.sip_address, hotline_number,
                                         caller="+8613011110000")
        allowed = await sipp.call(lab.sip_address, hotline_number, caller="17012340002",
                                  hold_ms=1000)
    finally:  # a global entry applies to every other test's hotlines
        await db.execute("DELETE FROM caller_lists WHERE id = $1", global_entry)

    assert (refused.result, refused.status) == ("rejected", 403), refused.errors
    assert (global_refused.result, global_refused.status) == ("rejected", 403)
    assert allowed.result == "answered", allowed.errors
    first, second, third = await wait_for_call(db, hotline_number, count=3)
    assert (first["outcome"], first["plan_result"]) == ("refused", "blacklisted")
    assert first["plan_reason"] == "blacklist (hotline): prefix 1701234"
    assert second["plan_reason"] == "blacklist (global): exact 13011110000"
    assert first["billable_ms"] == 0
    assert first["caller_answered_at"] is None
    assert await legs_of(db, first["id"]) == []
    assert third["outcome"] == "answered"
    assert [r["result"] for r in phone.results()] == ["answered"]


async def test_closed_now_override_announces_closed(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    phone = phones(answer_after_ms=200)
    await add_hotline(db, hotline_number, [phone])
    office = await add_schedule(db, hotline_number, "office",
                                [(["mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday"],
                                  "00:00", "24:00")], override="closed")
    await add_rule(db, hotline_number, 1, "closed", schedule_id=office, schedule_is="closed")

    seen = await sipp.call(lab.sip_address, hotline_number)

    assert (seen.result, seen.status) == ("rejected", 480), seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert (call["outcome"], call["plan_result"]) == ("closed", "closed")
    assert call["plan_reason"] == "rule 1: schedule office closed (override closed)"
    assert phone.results() == []


@pytest.mark.parametrize(("clock", "group"), [
    ("2026-11-28T10:00:00+08:00", "weekend"),   # a Saturday
    ("2026-10-01T10:00:00+08:00", "holiday"),   # National Day, a Thursday
    ("2026-10-10T10:00:00+08:00", "office"),    # a Saturday worked for National Day (调休)
])
async def test_frozen_clock_routes_by_business_hours_and_holidays(
        db: Any, lab: AsteriskLab, routers: RouterFactory, phones: PhoneFactory,
        hotline_number: str, clock: str, group: str) -> None:
    office, holiday, weekend = (phones(answer_after_ms=200) for _ in range(3))
    ids = await add_hotline(db, hotline_number, [office, holiday, weekend])
    groups = {name: await add_group(db, hotline_number, name, [ids[phone.dial_string]])
              for name, phone in (("office", office), ("holiday", holiday),
                                  ("weekend", weekend))}
    hours = await add_schedule(db, hotline_number, "hours",
                               [(["mon", "tue", "wed", "thu", "fri"], "09:00", "18:00")])
    holidays = await add_schedule(db, hotline_number, "holidays", [(["holiday"], "00:00", "24:00")])
    await add_rule(db, hotline_number, 1, "group", group_id=groups["office"],
                   schedule_id=hours, schedule_is="open")
    await add_rule(db, hotline_number, 2, "group", group_id=groups["holiday"],
                   schedule_id=holidays, schedule_is="open")
    await add_rule(db, hotline_number, 3, "group", group_id=groups["weekend"])
    routers("hotline-router-clock", {"PLAN_CLOCK": clock})

    with dialplan_global(lab, "ROUTER_APPS", "^hotline-router-clock$"):
        seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=1000)

    assert seen.result == "answered", seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    expected = {"office": office, "holiday": holiday, "weekend": weekend}[group]
    assert call["answered_dial_string"] == expected.dial_string
    assert call["plan_group"] == group
    # Records keep real time: the pinned clock is for schedules only.
    assert abs((datetime.now(UTC) - call["started_at"]).total_seconds()) < 120


async def test_shanghai_landline_and_beijing_mobile_reach_their_regions(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    shanghai, beijing, rest = (phones(answer_after_ms=200) for _ in range(3))
    ids = await add_hotline(db, hotline_number, [rest, shanghai, beijing])
    sh = await add_group(db, hotline_number, "shanghai", [ids[shanghai.dial_string]])
    bj = await add_group(db, hotline_number, "beijing", [ids[beijing.dial_string]])
    await add_rule(db, hotline_number, 1, "group", group_id=sh, caller_region="上海")
    await add_rule(db, hotline_number, 2, "group", group_id=bj, caller_region="Beijing")

    landline = await sipp.call(lab.sip_address, hotline_number, caller="02161234567",
                               hold_ms=1000)
    mobile = await sipp.call(lab.sip_address, hotline_number, caller="13800138000",
                             hold_ms=1000)
    elsewhere = await sipp.call(lab.sip_address, hotline_number, caller="075512345678",
                                hold_ms=1000)

    assert [s.result for s in (landline, mobile, elsewhere)] == ["answered"] * 3
    first, second, third = await wait_for_call(db, hotline_number, count=3)
    assert (first["answered_dial_string"], first["caller_region"]) == (
        shanghai.dial_string, "上海市 021")
    assert (second["answered_dial_string"], second["caller_region"]) == (
        beijing.dial_string, "北京市 010")
    assert (third["answered_dial_string"], third["plan_result"]) == (rest.dial_string, "default")
    assert third["caller_region"] == "广东省深圳市 0755"


async def test_mobile_calling_an_800_number_is_refused_landline_is_routed(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory) -> None:
    number = "8005550001"
    phone = phones(answer_after_ms=200)
    await add_hotline(db, number, [phone])

    mobile = await sipp.call(lab.sip_address, number, caller="13800138000")
    landline = await sipp.call(lab.sip_address, number, caller="02161234567", hold_ms=1000)

    assert (mobile.result, mobile.status) == ("rejected", 403), mobile.errors
    assert mobile.t_end is not None
    assert mobile.t_invite is not None
    assert mobile.t_end - mobile.t_invite > 1.0  # the announcement played first
    assert landline.result == "answered", landline.errors
    first, second = await wait_for_call(db, number, count=2)
    assert (first["outcome"], first["plan_result"]) == ("mobile-on-800", "mobile-on-800")
    assert first["billable_ms"] == 0
    assert second["outcome"] == "answered"
    assert [r["result"] for r in phone.results()] == ["answered"]

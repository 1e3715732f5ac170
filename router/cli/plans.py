"""`plan …`: a hotline's plan settings, the whole plan at a glance, and a dry run."""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

from router import admin, callers, menu, plan, preview, region, zones
from router.call import screening
from router.cli import arguments, asterisk, output
from router.cli.common import as_dict, pool, print_record, print_table
from router.cli.plan_names import hotline_id
from router.directory import Hotline, find_hotline
from router.plan_store import sound_list

SETTINGS = {"time_zone": "--time-zone", "greeting_sound": "--greeting",
            "closed_sound": "--closed", "refused_sound": "--refused", "busy_sound": "--busy",
            "not_in_service_sound": "--not-in-service", "landline_only_sound": "--landline-only"}


async def settings(args: argparse.Namespace) -> int:
    changes = {column: getattr(args, column) for column in SETTINGS
               if getattr(args, column) is not None}
    if "greeting_sound" in changes and changes["greeting_sound"].lower() in ("", "none"):
        changes["greeting_sound"] = None
    for column, value in changes.items():
        if column.endswith("_sound") and value:
            await asterisk.check_sounds(sound_list(value), SETTINGS[column])
    async with pool(args) as db:
        hotline = await hotline_id(db, args.hotline)
        with admin.refusals():
            await db.execute("INSERT INTO plan_settings (hotline_id) VALUES ($1) "
                             "ON CONFLICT DO NOTHING", hotline)
            for column, value in changes.items():  # column names from SETTINGS only
                await db.execute(f"UPDATE plan_settings SET {column} = $2 WHERE hotline_id = $1",
                                 hotline, value)
        row = await db.fetchrow("SELECT * FROM plan_settings WHERE hotline_id = $1", hotline)
    if args.json:
        print(json.dumps(as_dict(row), ensure_ascii=False))
    else:
        print_record(row)
    return 0


async def show(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        hotline = await hotline_id(db, args.hotline)
        rules = await db.fetch(
            """SELECT r.position, r.id, r.name, r.caller_list, r.caller_region,
                      s.name AS schedule, r.schedule_is, r.action,
                      coalesce(g.name, m.name) AS target, r.enabled
               FROM plan_rules r LEFT JOIN schedules s ON s.id = r.schedule_id
               LEFT JOIN phone_groups g ON g.id = r.group_id
               LEFT JOIN voice_menus m ON m.id = r.menu_id
               WHERE r.hotline_id = $1 ORDER BY r.position, r.id""", hotline)
        found = await db.fetchrow("SELECT * FROM plan_settings WHERE hotline_id = $1", hotline)
    if args.json:
        print(json.dumps({"rules": [as_dict(r) for r in rules],
                          "settings": as_dict(found) if found else None}, ensure_ascii=False))
        return 0
    print(f"plan of {args.hotline}: the blacklist first, then the first rule that holds; "
          "no rule: all phones")
    if rules:
        print_table(rules, list(rules[0].keys()))
    else:
        print("(no rules)")
    print("\nsettings:" + ("" if found else " (defaults)"))
    print_record(found or {"time_zone": plan.DEFAULT_TIME_ZONE, **{
        f"{kind}_sound": ",".join(getattr(plan.Sounds(), kind)) for kind in (
            "greeting", "closed", "refused", "busy", "not_in_service", "landline_only")}})
    return 0


_BOUND = """
SELECT b.phone_id, p.dial_string, p.label, b.enabled AS binding_enabled,
       p.enabled AS phone_enabled, p.capacity, coalesce(s.active_calls, 0) AS active_calls,
       p.wrap_up_s, s.last_call_ended_at, coalesce(s.presence, 'signed_in') AS presence,
       s.presence_reason
FROM bound_phones b JOIN phones p ON p.id = b.phone_id
LEFT JOIN phone_state s ON s.phone_id = p.id
WHERE b.hotline_id = $1 ORDER BY b.position, p.id
"""


def in_zone(when: datetime, zone_name: str) -> datetime:
    """``when``; a time without an offset is read in ``zone_name`` (the hotline's zone)."""
    return when if when.tzinfo else when.replace(tzinfo=zones.zone(zone_name))


def menu_route(hotline: Hotline, menu_id: int,
               keys: list[str]) -> tuple[menu.Route, list[str], str]:
    """Walk the voice menu with ``keys`` as a caller would press them; then no input."""
    walk = menu.MenuWalk(hotline.plan.menus, menu_id)
    step: menu.Play | menu.Route = walk.start()
    pressed = list(keys)
    while isinstance(step, menu.Play) and pressed:
        step = walk.press(pressed.pop(0))
    note = ""
    if pressed:
        note = f"keys {','.join(pressed)} not used: the menu was done"
    while isinstance(step, menu.Play):  # the caller presses nothing more
        step = walk.no_input()
        note = note or f"no more keys: after {walk.current.attempts} prompt(s) without input"
    return step, walk.keys, note


async def explain(args: argparse.Namespace) -> int:
    """What the plan would decide for this caller, and which phones would ring (dry run)."""
    async with pool(args) as db:
        lookup = await find_hotline(db, args.hotline)
        if lookup is None:
            raise admin.AdminError(f"no hotline {args.hotline}")
        hotline = lookup.hotline
        bound = [preview.BoundRow(**dict(r)) for r in await db.fetch(_BOUND, hotline.id)]
        call_number = await db.fetchval(
            "SELECT calls_routed FROM hotline_state WHERE hotline_id = $1", hotline.id) or 0
    zone_name = hotline.plan.time_zone
    now = datetime.now(UTC)
    at = in_zone(args.at, zone_name) if args.at else now
    caller = callers.normalise(args.caller)
    where = region.lookup(caller)
    decision = plan.decide(hotline.plan, hotline.number, caller, where, at)
    shown: dict[str, Any] = {
        "hotline": hotline.number, "caller": caller.number, "kind": caller.kind,
        "region": where.describe(), "at": output.local(at, zone_name), "time_zone": zone_name,
        "result": decision.result, "reason": decision.reason, "rule_id": decision.rule_id,
        "group": decision.group.name if decision.group else None,
        "menu": hotline.plan.menus[decision.menu_id].name
        if decision.menu_id is not None else None}
    group: plan.Group | None = decision.group
    reason = decision.reason
    if not hotline.enabled:
        shown.update(rings_no_one=True, why="the hotline is disabled: callers hear "
                     "'not in service' (hotline enable NUMBER)")
        return _print_explain(args, shown, None)
    if not decision.routes:
        shown.update(rings_no_one=True, why=f"the plan does not route this caller "
                     f"({decision.result}): nothing rings")
        return _print_explain(args, shown, None)
    if decision.menu_id is not None:
        keys = [k for k in (args.keys or "").replace(" ", "").split(",") if k]
        route, pressed, note = menu_route(hotline, decision.menu_id, keys)
        group = hotline.plan.groups.get(route.group_id or 0)
        if group is not None and not group.enabled:
            group = None
        reason = f"{reason} -> {route.reason}" + (f" -> group {group.name}" if group else "")
        shown.update(keys=",".join(pressed), menu_note=note or None)
    elif args.keys:
        shown["menu_note"] = "this caller hears no voice menu: --keys not used"
    shown["reason"] = reason
    shown["group"] = group.name if group else None
    group = group or hotline.default_group()
    shown["rings"] = group.name
    shown.update(screening.explain(hotline, group, caller.number,
                                   menu=decision.menu_id is not None))
    registration: dict[int, str | None] = {}
    async with asterisk.connect() as ari:
        if ari.client is not None:
            for row in bound:
                registration[row.phone_id] = await ari.endpoint_state(row.dial_string)
        else:
            shown["registration"] = f"not known ({ari.unavailable})"
    found = preview.ring_preview(lookup, bound, group, now, registration, call_number,
                                 zone_name)
    shown.update(strategy=found.strategy, rings_no_one=found.rings_no_one,
                 why=found.why or None,
                 ring_plan=[list(wave) for wave in found.waves],
                 order_varies=found.varies)
    if at != now:
        shown["busy_state"] = "as of now (busy state cannot be foreseen)"
    return _print_explain(args, shown, found)


def _print_explain(args: argparse.Namespace, shown: dict[str, Any],
                   found: preview.Preview | None) -> int:
    phones = [dataclasses.asdict(p) for p in found.phones] if found else []
    if args.json:
        print(json.dumps({**shown, "phones": phones}, ensure_ascii=False))
        return 0
    summary = {k: v for k, v in shown.items()
               if v is not None and k not in ("ring_plan", "rings_no_one", "why", "phones")}
    output.print_record(summary, shown["time_zone"])
    if found is not None:
        print()
        if phones:
            output.print_table(phones, ("wave", "phone_id", "label", "dial_string", "state",
                                        "detail"),
                               headers=("wave", "phone", "label", "dial string", "state",
                                        "detail"), right=("wave", "phone_id"))
        if not found.rings_no_one:
            order = " -> ".join("+".join(str(p) for p in wave) for wave in found.waves)
            output.say(f"ring plan ({found.strategy}): {order}"
                       + ("  (one possible order: it varies from call to call)"
                          if found.varies else ""))
    if shown.get("rings_no_one"):
        output.say(f"RINGS NO ONE: {shown['why']}")
    return 0


def register(sub: Any) -> None:
    topic = sub.add_parser("plan", help="a hotline's plan: settings, overview, dry run"
                           ).add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = topic.add_parser("settings", help="time zone, greeting and announcements")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("hotline", metavar="NUMBER")
    for column, flag in SETTINGS.items():
        parser.add_argument(flag, dest=column, metavar="ZONE" if column == "time_zone"
                            else "SOUNDS", help="'none': no greeting"
                            if column == "greeting_sound" else None)
    parser.set_defaults(handler=settings)

    parser = topic.add_parser("show", help="rules in order, and settings")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("hotline", metavar="NUMBER")
    parser.set_defaults(handler=show)

    parser = topic.add_parser("explain", help="what the plan decides for a caller (dry run)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("hotline", metavar="NUMBER")
    parser.add_argument("--caller", required=True, help="the caller id, any format")
    parser.add_argument("--at", metavar="TIME", type=arguments.iso_time,
                        help="ISO time; without an offset, the hotline's local time "
                             "(default: now)")
    parser.add_argument("--keys", metavar="KEYS",
                        help="menu keys the caller presses, in order, e.g. 2,3")
    parser.set_defaults(handler=explain)

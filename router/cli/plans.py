"""`plan …`: a hotline's plan settings, the whole plan at a glance, and a dry run."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from router import admin, callers, plan, region
from router.cli import arguments
from router.cli.common import as_dict, pool, print_record, print_table
from router.cli.plan_names import hotline_id
from router.directory import find_hotline

SETTINGS = {"time_zone": "--time-zone", "greeting_sound": "--greeting",
            "closed_sound": "--closed", "refused_sound": "--refused", "busy_sound": "--busy",
            "not_in_service_sound": "--not-in-service", "landline_only_sound": "--landline-only"}


async def settings(args: argparse.Namespace) -> int:
    changes = {column: getattr(args, column) for column in SETTINGS
               if getattr(args, column) is not None}
    if "greeting_sound" in changes and changes["greeting_sound"].lower() in ("", "none"):
        changes["greeting_sound"] = None
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


async def explain(args: argparse.Namespace) -> int:
    """What the plan would decide for this caller at this time (nothing is dialled)."""
    at = args.at or datetime.now(UTC)
    async with pool(args) as db:
        lookup = await find_hotline(db, args.hotline)
    if lookup is None:
        raise admin.AdminError(f"no hotline {args.hotline}")
    hotline = lookup.hotline
    caller = callers.normalise(args.caller)
    where = region.lookup(caller)
    decision = plan.decide(hotline.plan, hotline.number, caller, where, at)
    shown = {"caller": caller.number, "kind": caller.kind, "region": where.describe(),
             "at": at.isoformat(), "result": decision.result, "reason": decision.reason,
             "rule_id": decision.rule_id,
             "group": decision.group.name if decision.group else None,
             "menu": hotline.plan.menus[decision.menu_id].name
             if decision.menu_id is not None else None}
    if args.json:
        print(json.dumps(shown, ensure_ascii=False))
    else:
        print_record(shown)
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
    parser.add_argument("--at", metavar="TIME", type=arguments.time_with_offset,
                        help="ISO time with offset (default: now)")
    parser.set_defaults(handler=explain)

"""`rule …`: a hotline's plan rules, tried in order; the first that holds decides."""

from __future__ import annotations

import argparse
import json
from typing import Any

from router import admin, crud, plan_checks
from router import db as router_db
from router.cli import crud as crud_cli
from router.cli.bindings import HOTLINE
from router.cli.common import as_dict, pool
from router.cli.plan_names import hotline_id, named_id

RULE = crud.Key("id", "RULE", "rule", help="the rule's id (see 'rule list')",
                lookup="SELECT id FROM plan_rules WHERE id::text = $1")

RULES = crud.TableSpec(
    noun="rule",
    table="plan_rules",
    keys=(RULE,),
    fields=(),  # `rule update` resolves names itself (below)
    select="""SELECT r.id, r.hotline_id, h.number AS hotline, r.position, r.name,
                     r.caller_list, r.caller_region, s.name AS schedule, r.schedule_is,
                     r.action, g.name AS group_name, m.name AS menu, r.enabled
              FROM plan_rules r JOIN hotlines h ON h.id = r.hotline_id
              LEFT JOIN schedules s ON s.id = r.schedule_id
              LEFT JOIN phone_groups g ON g.id = r.group_id
              LEFT JOIN voice_menus m ON m.id = r.menu_id""",
    order_by="hotline, position, id",
    list_columns=("id", "hotline", "position", "name", "caller_list", "caller_region",
                  "schedule", "schedule_is", "action", "group_name", "menu", "enabled"),
    filter_key=HOTLINE,
)


def _none(text: str | None) -> str | None:
    return None if text is None or text.lower() == "none" else text


async def _values(db: Any, hotline: int, args: argparse.Namespace) -> dict[str, Any]:
    """The columns the flags set; names resolved within the hotline, 'none' clears."""
    values: dict[str, Any] = {}
    for flag, column in (("position", "position"), ("name", "name")):
        if getattr(args, flag) is not None:
            values[column] = getattr(args, flag)
    for flag, column in (("list", "caller_list"), ("region", "caller_region")):
        if getattr(args, flag) is not None:
            values[column] = _none(getattr(args, flag))
    plan_checks.check_region(values.get("caller_region"), "--region")
    if args.schedule is not None:
        schedule = _none(args.schedule)
        values["schedule_id"] = schedule and await named_id(db, "schedules", hotline, schedule)
        values["schedule_is"] = args.when if schedule else None
    elif args.when is not None:
        values["schedule_is"] = args.when
    if args.rule_action is not None:
        values.update(action=args.rule_action, group_id=None, menu_id=None)
    if args.group is not None:
        values["group_id"] = await named_id(db, "phone_groups", hotline, args.group)
    if args.menu is not None:
        values["menu_id"] = await named_id(db, "voice_menus", hotline, args.menu)
    return values


async def insert_rule(db: Any, values: dict[str, Any]) -> Any:
    """Add a rule at ``values["position"]`` (default: last), moving the rules at that
    position and after one down, so it is tried before them (rules are tried by
    (position, id): without the move, an older rule at the same position would win).
    Used by `rule add` and the API. Returns the rule as RULES shows it."""
    async with router_db.transaction(db) as connection:
        if values.get("position") is None:
            values["position"] = await connection.fetchval(
                "SELECT coalesce(max(position), 0) + 1 FROM plan_rules WHERE hotline_id = $1",
                values["hotline_id"])
        else:
            await _make_room(connection, values["hotline_id"], values["position"])
        return await crud.insert_row(connection, RULES, values)


async def update_rule(db: Any, rule: int, changes: dict[str, Any], named: str) -> Any:
    """Change a rule; a new position moves the rules from there on down (as insert_rule)."""
    async with router_db.transaction(db) as connection:
        if changes.get("position") is not None:
            hotline = await connection.fetchval(
                "SELECT hotline_id FROM plan_rules WHERE id = $1", rule)
            await _make_room(connection, hotline, changes["position"], rule)
        return await crud.update_row(connection, RULES, {"id": rule}, changes, named)


async def _make_room(db: Any, hotline: int | None, position: int, moving: int = 0) -> None:
    # Only when the place is taken: a free position leaves the others where they are.
    if await db.fetchval("SELECT true FROM plan_rules WHERE hotline_id = $1 AND position = $2 "
                         "AND id <> $3", hotline, position, moving):
        await db.execute("UPDATE plan_rules SET position = position + 1 WHERE hotline_id = $1 "
                         "AND position >= $2 AND id <> $3", hotline, position, moving)


async def add(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        hotline = await hotline_id(db, args.hotline)
        row = await insert_rule(db, {"hotline_id": hotline, **await _values(db, hotline, args)})
    print(json.dumps(as_dict(row), ensure_ascii=False) if args.json
          else f"rule {row['id']} added to {row['hotline']} at position {row['position']}")
    return 0


async def update(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        where = await crud.resolve(db, RULES, [args.id])
        hotline = await db.fetchval("SELECT hotline_id FROM plan_rules WHERE id = $1",
                                    where["id"])
        changes = await _values(db, hotline, args)
        if not changes:
            raise admin.AdminError("nothing to change")
        row = await update_rule(db, where["id"], changes, args.id)
    print(json.dumps(as_dict(row), ensure_ascii=False) if args.json
          else f"rule {row['id']} updated")
    return 0


def _flags(parser: argparse.ArgumentParser, adding: bool) -> None:
    parser.add_argument("--action", dest="rule_action", required=adding,
                        choices=("group", "menu", "closed", "refuse"))
    parser.add_argument("--group", metavar="GROUP", help="for --action group")
    parser.add_argument("--menu", metavar="MENU", help="for --action menu")
    parser.add_argument("--list", metavar="LIST",
                        help="condition: the caller is on this caller list (e.g. vip)")
    parser.add_argument("--region", metavar="PLACE",
                        help="condition: the caller's province, city or area code")
    parser.add_argument("--schedule", metavar="SCHEDULE", help="condition: with --when")
    parser.add_argument("--when", choices=("open", "closed"),
                        help="the schedule is open / closed now")
    parser.add_argument("--position", type=int, help="order (default: last)")
    parser.add_argument("--name", help="a name for people")


def register(sub: Any) -> None:
    topic = sub.add_parser("rule", help="plan rules of a hotline, in order").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    parser = crud_cli.subcommand(topic, "add", "add a plan rule")
    parser.add_argument("hotline", metavar="NUMBER")
    _flags(parser, adding=True)
    parser.set_defaults(handler=add)
    crud_cli.register(topic, RULES)
    # The generic update knows no names; this one resolves them in the rule's hotline.
    parser = topic.choices["update"]
    _flags(parser, adding=False)
    parser.set_defaults(handler=update)

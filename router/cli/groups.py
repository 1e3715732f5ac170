"""`group …`: phone groups of a hotline, each with its own answering rule."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from router import admin, crud
from router.cli import crud as crud_cli
from router.cli.bindings import HOTLINE
from router.cli.common import as_dict, pool
from router.cli.plan_names import hotline_id, named_id, phone_id

NAME = crud.Key("name", "GROUP", "group", help="the group's name, e.g. sales")
# `--weight binding`: the member's share follows its binding's weight again.
FOLLOW_BINDING = -1


def member_weight(text: str) -> int:
    """A weight 0-100 (the database judges the range), or 'binding'."""
    if text.strip().lower() == "binding":
        return FOLLOW_BINDING
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a weight: a whole number 0-100, or 'binding'") from None


async def members(db: Any, group: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    rows = await db.fetch(
        """SELECT m.position, coalesce(m.weight, b.weight) AS weight,
                  CASE WHEN m.weight IS NULL THEN 'binding' ELSE 'group' END AS weight_from,
                  p.id AS phone_id, p.dial_string, p.label,
                  b.enabled AS binding_enabled, p.enabled AS phone_enabled
           FROM group_members m JOIN phones p ON p.id = m.phone_id
           JOIN bound_phones b ON b.hotline_id = m.hotline_id AND b.phone_id = m.phone_id
           WHERE m.group_id = $1 ORDER BY m.position, p.id""", group["id"])
    return {"members": [dict(r) for r in rows]}


GROUPS = crud.TableSpec(
    noun="group",
    table="phone_groups",
    keys=(HOTLINE, NAME),
    fields=(
        crud.Field("name", "--name", str, "a new name", "NAME"),
        crud.Field("strategy", "--strategy", str, "answering rule, e.g. simultaneous", "NAME"),
        crud.Field("strategy_options", "--options", crud.json_object,
                   "the rule's options as a JSON object", "JSON"),
        crud.Field("confirm_key", "--confirm-key", crud.override_key,
                   "answer screening for this group: a key 0-9 * #, 'none' (off) or "
                   "'inherit' (the hotline's)", "KEY"),
        crud.Field("caller_id_prefix", "--caller-id-prefix", crud.optional_text,
                   "put before the caller id its phones see, e.g. the menu choice "
                   "('none': the hotline's rule)", "TEXT"),
        crud.Field("record_percent", "--record", crud.optional_int,
                   "share of this group's answered calls recorded, in percent (0 none, "
                   "100 all; 'none': the hotline's)", "PERCENT"),
    ),
    select="""SELECT g.id, g.hotline_id, h.number AS hotline, g.name, g.strategy,
                     g.strategy_options, g.confirm_key, g.caller_id_prefix, g.record_percent,
                     g.enabled,
                     (SELECT count(*) FROM group_members m WHERE m.group_id = g.id) AS members
              FROM phone_groups g JOIN hotlines h ON h.id = g.hotline_id""",
    order_by="hotline, name",
    list_columns=("hotline", "name", "strategy", "strategy_options", "enabled", "members"),
    validate=admin.check_strategy,
    details=members,
    filter_key=HOTLINE,
)


async def add(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        values = {"hotline_id": await hotline_id(db, args.hotline), "name": args.group,
                  **crud_cli.changes_from(args, GROUPS)}
        row = await crud.insert_row(db, GROUPS, values)
        for text in args.phones:
            await _add_member(db, row["id"], text, None, None)
        row = await crud.get_row(db, GROUPS, {"id": row["id"]})
    if args.json:
        print(json.dumps(as_dict(row), ensure_ascii=False))
    else:
        print(f"group {row['name']} added to {row['hotline']} ({row['members']} members, "
              f"strategy {row['strategy']})")
    return 0


async def _add_member(db: Any, group: int, phone_text: str, position: int | None,
                      weight: int | None) -> None:
    phone = await phone_id(db, phone_text)
    with admin.refusals():
        await db.execute(
            """INSERT INTO group_members (group_id, phone_id, position, weight)
               VALUES ($1, $2,
                       coalesce($3, (SELECT coalesce(max(position), 0) + 1 FROM group_members
                                     WHERE group_id = $1)), $4)
               ON CONFLICT (group_id, phone_id) DO UPDATE
               SET position = coalesce($3, group_members.position),
                   weight = CASE WHEN $5 THEN NULL
                                 ELSE coalesce($4, group_members.weight) END""",
            group, phone, position, weight if weight != FOLLOW_BINDING else None,
            weight == FOLLOW_BINDING)


async def add_member(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        group = await named_id(db, "phone_groups", await hotline_id(db, args.hotline), args.group)
        await _add_member(db, group, args.phone, args.position, args.weight)
    print(json.dumps({"group": args.group, "phone": args.phone}) if args.json
          else f"phone {args.phone} is in group {args.group}")
    return 0


async def remove_member(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        group = await named_id(db, "phone_groups", await hotline_id(db, args.hotline), args.group)
        removed = await db.fetchval(
            "WITH gone AS (DELETE FROM group_members WHERE group_id = $1 AND phone_id = $2 "
            "RETURNING 1) SELECT count(*) FROM gone", group, await phone_id(db, args.phone))
    if not removed:
        raise admin.AdminError(f"phone {args.phone} is not in group {args.group}")
    print(json.dumps({"removed": args.phone}) if args.json
          else f"phone {args.phone} left group {args.group}")
    return 0


def register(sub: Any) -> None:
    topic = sub.add_parser("group", help="phone groups of a hotline (plans route to them)"
                           ).add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = crud_cli.subcommand(topic, "add", "add a phone group to a hotline")
    parser.add_argument("hotline", metavar="NUMBER")
    parser.add_argument("group", metavar="GROUP")
    parser.add_argument("phones", metavar="PHONE", nargs="*",
                        help="bound phones (id or dial string), in hunting order")
    crud_cli.add_field_flags(parser, GROUPS, skip=("name",))
    parser.set_defaults(handler=add)

    parser = crud_cli.subcommand(topic, "add-member", "put a bound phone in a group "
                                 "(again: change its position or weight)")
    for name, metavar in (("hotline", "NUMBER"), ("group", "GROUP"), ("phone", "PHONE")):
        parser.add_argument(name, metavar=metavar)
    parser.add_argument("--position", type=int, help="order in the group (default: last)")
    parser.add_argument("--weight", type=member_weight, metavar="N|binding",
                        help="the group's own share for the weighted rule; default and "
                             "'binding': the binding's weight (binding update --weight)")
    parser.set_defaults(handler=add_member)

    parser = crud_cli.subcommand(topic, "remove-member", "take a phone out of a group")
    for name, metavar in (("hotline", "NUMBER"), ("group", "GROUP"), ("phone", "PHONE")):
        parser.add_argument(name, metavar=metavar)
    parser.set_defaults(handler=remove_member)
    crud_cli.register(topic, GROUPS)

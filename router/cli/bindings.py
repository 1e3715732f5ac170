"""`binding …`: which phones answer which hotline, in what order."""

from __future__ import annotations

import argparse
import json
from typing import Any

from router import admin, crud
from router.cli import crud as crud_cli
from router.cli.common import as_dict, pool
from router.cli.output import warn
from router.cli.phones import PHONE

HOTLINE = crud.Key("hotline_id", "NUMBER", "hotline", help="the 400/800 number",
                   lookup="SELECT id FROM hotlines WHERE number = $1")
BOUND_PHONE = crud.Key("phone_id", PHONE.metavar, PHONE.noun, PHONE.help, PHONE.lookup)

BINDINGS = crud.TableSpec(
    noun="binding",
    table="bound_phones",
    keys=(HOTLINE, BOUND_PHONE),
    fields=(crud.Field("position", "--position", int, "order for sequential hunting", "N"),
            crud.Field("weight", "--weight", int, "share of calls for the weighted rule "
                       "(groups follow it unless they set their own)", "N"),
            crud.Field("confirm_key", "--confirm-key", crud.override_key,
                       "answer screening for this phone: a key 0-9 * #, 'none' (off) or "
                       "'inherit' (its group's or hotline's)", "KEY")),
    select="""SELECT b.hotline_id, h.number AS hotline, b.position, b.weight, b.confirm_key,
                     b.phone_id,
                     p.dial_string, p.label, b.enabled, p.enabled AS phone_enabled
              FROM bound_phones b JOIN hotlines h ON h.id = b.hotline_id
              JOIN phones p ON p.id = b.phone_id""",
    order_by="hotline, position, phone_id",
    list_columns=("hotline", "position", "weight", "phone_id", "dial_string", "label",
                  "enabled"),
    filter_key=HOTLINE,
)


async def add(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        where = await crud.resolve(db, BINDINGS, [args.hotline_id, args.phone_id])
        await admin.bind(db, where["hotline_id"], where["phone_id"], args.position)
        row = await crud.get_row(db, BINDINGS, where)
    if args.json:
        print(json.dumps(as_dict(row), ensure_ascii=False))
    else:
        print(f"phone {row['phone_id']} bound to {row['hotline']} at position {row['position']}")
    return 0


async def _own_group_weights(args: argparse.Namespace) -> None:
    """After a binding's weight changed: say which groups keep their own weight for it."""
    async with pool(args) as db:
        where = await crud.resolve(db, BINDINGS, [args.hotline_id, args.phone_id])
        rows = await db.fetch(
            """SELECT g.name, m.weight FROM group_members m
               JOIN phone_groups g ON g.id = m.group_id
               WHERE m.hotline_id = $1 AND m.phone_id = $2 AND m.weight IS NOT NULL
               ORDER BY g.name""", where["hotline_id"], where["phone_id"])
    for row in rows:
        warn(f"group {row['name']} keeps its own weight {row['weight']} for phone "
             f"{args.phone_id}; 'group add-member {args.hotline_id} {row['name']} "
             f"{args.phone_id} --weight binding' makes it follow the binding")


def register(sub: Any) -> None:
    topic = sub.add_parser("binding", help="phones bound to hotlines").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    parser = crud_cli.subcommand(topic, "add", "bind an existing phone to a hotline",
                                 aliases=["create"])
    crud_cli.add_key_arguments(parser, BINDINGS.keys)
    parser.add_argument("--position", type=int, help="order for sequential hunting (default: last)")
    parser.set_defaults(handler=add)
    crud_cli.register(topic, BINDINGS)
    generic_update = topic.choices["update"].get_default("handler")

    async def update(args: argparse.Namespace) -> int:
        code: int = await generic_update(args)
        if getattr(args, "set_weight", None) is not None:
            await _own_group_weights(args)
        return code

    topic.choices["update"].set_defaults(handler=update)

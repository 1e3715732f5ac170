"""`callers …`: caller lists (blacklist, whitelist, vip, …), per hotline or global."""

from __future__ import annotations

import argparse
import json
from typing import Any

from router import callers, crud, plan_checks
from router.cli import crud as crud_cli
from router.cli.bindings import HOTLINE
from router.cli.common import as_dict, pool
from router.cli.plan_names import hotline_id

ENTRY = crud.Key("id", "ENTRY", "caller list entry", help="the entry's id (see 'callers list')",
                 lookup="SELECT id FROM caller_lists WHERE id::text = $1")

ENTRIES = crud.TableSpec(
    noun="entry",
    table="caller_lists",
    keys=(ENTRY,),
    fields=(crud.Field("note", "--note", str, "why the caller is on the list"),),
    select="""SELECT c.id, c.hotline_id, coalesce(h.number, 'global') AS hotline, c.list,
                     c.match, c.value, c.note, c.created_at
              FROM caller_lists c LEFT JOIN hotlines h ON h.id = c.hotline_id""",
    order_by="hotline, list, match, value",
    list_columns=("id", "hotline", "list", "match", "value", "note"),
    has_enabled=False,
    filter_key=HOTLINE,
)


def stored_value(match: str, value: str) -> str:
    """An exact number in national form (+86 138-0013-8000 -> 13800138000)."""
    if match == "exact":
        return callers.normalise(value).number or value
    if match == "area-code" and value.isdigit() and not value.startswith("0"):
        return "0" + value
    return value.replace(" ", "").replace("-", "")


async def add(args: argparse.Namespace) -> int:
    plan_checks.check_area_code(args.match, stored_value(args.match, args.value), "area code")
    async with pool(args) as db:
        values = {"hotline_id": await hotline_id(db, args.hotline) if args.hotline else None,
                  "list": args.list, "match": args.match,
                  "value": stored_value(args.match, args.value), "note": args.note}
        row = await crud.insert_row(db, ENTRIES, values)
    print(json.dumps(as_dict(row), ensure_ascii=False) if args.json
          else f"{row['match']} {row['value']} is on the {row['list']} of {row['hotline']} "
               f"(entry {row['id']})")
    return 0


def register(sub: Any) -> None:
    topic = sub.add_parser("callers", help="caller lists: blacklist, whitelist, vip, …"
                           ).add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = crud_cli.subcommand(topic, "add", "put a number, prefix or area code on a list")
    parser.add_argument("list", metavar="LIST",
                        help="blacklist (refused), whitelist (exempt from the blacklist), vip "
                             "(waits ahead in the hold queue), or any name a rule uses")
    parser.add_argument("value", metavar="VALUE", help="a number, prefix or area code")
    parser.add_argument("--match", choices=("exact", "prefix", "area-code"), default="exact")
    parser.add_argument("--hotline", metavar="NUMBER", help="this hotline only (default: global)")
    parser.add_argument("--note", default="")
    parser.set_defaults(handler=add)
    crud_cli.register(topic, ENTRIES)

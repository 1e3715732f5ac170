"""`calendar …`: public holidays and make-up workdays (调休) admins enter.

They override the chinese-calendar package for their date: enter next year's
days when the State Council announces them, before a package release has them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from router import crud
from router.cli import crud as crud_cli
from router.cli.common import as_dict, pool

KINDS = ("holiday", "makeup-workday", "normal")

DAY = crud.Key("day", "DATE", "calendar day", help="the date, e.g. 2027-01-01",
               lookup="SELECT day FROM calendar_days WHERE day::text = $1")

DAYS = crud.TableSpec(
    noun="day",
    table="calendar_days",
    keys=(DAY,),
    fields=(crud.Field("kind", "--kind", str, f"one of {', '.join(KINDS)}"),
            crud.Field("name", "--name", str, "e.g. 元旦 (at most 40 characters)")),
    select="SELECT day, kind, name FROM calendar_days",
    order_by="day",
    list_columns=("day", "kind", "name"),
    has_enabled=False,
)


def iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2027-01-01") from None


async def add(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        row = await crud.insert_row(db, DAYS, {"day": args.day, "kind": args.kind,
                                               "name": args.name})
    print(json.dumps(as_dict(row), ensure_ascii=False) if args.json
          else f"{row['day']} is a {row['kind']}" + (f" ({row['name']})" if row["name"] else ""))
    return 0


def register(sub: Any) -> None:
    topic = sub.add_parser("calendar", help="holidays and make-up workdays (调休) for schedules"
                           ).add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = crud_cli.subcommand(topic, "add", "enter a holiday or make-up workday")
    parser.add_argument("day", metavar="DATE", type=iso_date, help="e.g. 2027-01-01")
    parser.add_argument("--kind", choices=KINDS, required=True,
                        help="holiday: closed like a public holiday; makeup-workday: worked "
                             "like the schedule's makeup weekday; normal: its plain weekday")
    parser.add_argument("--name", default="", help="e.g. 元旦")
    parser.set_defaults(handler=add)
    crud_cli.register(topic, DAYS)

"""`calendar …`: public holidays and make-up workdays (调休) admins enter.

They override the chinese-calendar package for their date: enter next year's
days when the State Council announces them, before a package release has them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

import chinese_calendar

from router import admin, crud, schedule
from router.cli import crud as crud_cli
from router.cli import output
from router.cli.common import plain, pool

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
    last = args.to or args.day
    if last < args.day:
        raise admin.AdminError(f"--to {last} is before {args.day}")
    if (last - args.day).days > 366:
        raise admin.AdminError("a range of more than a year: enter it in parts")
    days = [args.day + dt.timedelta(days=n) for n in range((last - args.day).days + 1)]
    async with pool(args) as db, db.acquire() as connection, connection.transaction():
        with admin.refusals():  # all or nothing: one refused day refuses the range
            for day in days:
                await connection.execute(
                    "INSERT INTO calendar_days (day, kind, name) VALUES ($1, $2, $3)",
                    day, args.kind, args.name)
    if args.json:
        for day in days:
            print(json.dumps({"day": day.isoformat(), "kind": args.kind, "name": args.name},
                             ensure_ascii=False))
        return 0
    span = f"{days[0]}" if len(days) == 1 else f"{days[0]} to {days[-1]} ({len(days)} days)"
    output.say(f"{span}: {args.kind}" + (f" ({args.name})" if args.name else ""))
    return 0


async def list_days(args: argparse.Namespace) -> int:
    """Days as schedules see them: admins' entries over chinese-calendar's, for ``--year``
    (default: chinese-calendar's days of this year, and every day admins entered)."""
    year = args.year or dt.date.today().year
    async with pool(args) as db:
        rows = await db.fetch("SELECT day, kind, name FROM calendar_days "
                              "WHERE $1::integer IS NULL OR extract(year FROM day) = $1 "
                              "ORDER BY day", args.year)
    entered = {row["day"]: row for row in rows}
    shown: dict[dt.date, dict[str, Any]] = {
        day: {"day": day, "kind": kind, "name": name, "source": "chinese-calendar"}
        for day, kind, name in schedule.package_days(year)}
    known = {day for y in {d.year for d in entered} for day, _, _ in schedule.package_days(y)}
    for day, row in entered.items():
        source = "admin (overrides chinese-calendar)" if day in known else "admin"
        shown[day] = {"day": day, "kind": row["kind"], "name": row["name"], "source": source}
    listed = [{**shown[day], "weekday": schedule.WEEKDAYS[day.weekday()]}
              for day in sorted(shown)]
    if args.json:
        for row in listed:
            print(json.dumps({k: plain(v) for k, v in row.items()}, ensure_ascii=False))
        return 0
    if not any(r["source"] == "chinese-calendar" for r in listed):
        output.warn(f"chinese-calendar {chinese_calendar.__version__} has no days for {year}; "
                    "enter them with 'calendar add' once announced")
    output.print_table(listed, ("day", "weekday", "kind", "name", "source"))
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
    parser.add_argument("--to", metavar="DATE", type=iso_date,
                        help="the last day of a range, e.g. 2027-01-03 (each day gets a row)")
    parser.set_defaults(handler=add)
    crud_cli.register(topic, DAYS)
    listing = topic.choices["list"]
    listing.add_argument("--year", type=int,
                         help="that year only (default: this year's chinese-calendar days "
                              "and every day admins entered)")
    listing.description = ("the year's holidays and make-up workdays: chinese-calendar's, "
                           "and those admins entered (theirs win)")
    listing.set_defaults(handler=list_days)

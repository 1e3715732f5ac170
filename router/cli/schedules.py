"""`schedule …`: business hours of a hotline, holidays, and "closed now" / "open now"."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from router import admin, crud, plan_checks, zones
from router.cli import arguments, output
from router.cli import crud as crud_cli
from router.cli.bindings import HOTLINE
from router.cli.common import as_dict, plain, pool
from router.cli.plan_names import hotline_id, named_id
from router.schedule import WEEKDAYS

NAME = crud.Key("name", "SCHEDULE", "schedule", help="the schedule's name, e.g. office")


def days(text: str) -> list[str]:
    """'mon-fri,sat' -> ['mon', …, 'fri', 'sat']; 'holiday' is a day key too."""
    found: list[str] = []
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if last:
            if first not in WEEKDAYS or last not in WEEKDAYS:
                raise admin.AdminError(f"--days: {part!r} is not a range of mon … sun")
            found += WEEKDAYS[WEEKDAYS.index(first):WEEKDAYS.index(last) + 1]
        elif part:
            found.append(part)  # the database judges the names
    return found


async def windows(db: Any, schedule: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    rows = await db.fetch(
        """SELECT id, array_to_string(days, ',') AS days, to_char(opens, 'HH24:MI') AS opens,
                  CASE WHEN closes = '24:00' THEN '24:00' ELSE to_char(closes, 'HH24:MI') END
                  AS closes
           FROM schedule_windows WHERE schedule_id = $1 ORDER BY opens, id""", schedule["id"])
    return {"hours": [dict(r) for r in rows]}


SCHEDULES = crud.TableSpec(
    noun="schedule",
    table="schedules",
    keys=(HOTLINE, NAME),
    fields=(
        crud.Field("name", "--name", str, "a new name", "NAME"),
        crud.Field("observe_holidays", "--observe-holidays", lambda t: t.lower() in ("yes", "true"),
                   "yes: public holidays use the 'holiday' hours, make-up workdays work", "yes|no"),
        crud.Field("makeup_workday_as", "--makeup-as", str,
                   "whose hours a make-up workday (调休) keeps (default mon)", "mon…fri"),
    ),
    select=f"""SELECT s.id, s.hotline_id, h.number AS hotline, s.name, s.observe_holidays,
                     s.makeup_workday_as, s.override, s.override_until,
                     (SELECT count(*) FROM schedule_windows w WHERE w.schedule_id = s.id)
                     AS windows,
                     {zones.HOTLINE_ZONE_SQL} AS time_zone
              FROM schedules s JOIN hotlines h ON h.id = s.hotline_id
              LEFT JOIN plan_settings ps ON ps.hotline_id = s.hotline_id""",
    order_by="hotline, name",
    list_columns=("hotline", "name", "observe_holidays", "makeup_workday_as", "override",
                  "override_until", "windows"),
    details=windows,
    has_enabled=False,
    filter_key=HOTLINE,
)


async def add(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        values = {"hotline_id": await hotline_id(db, args.hotline), "name": args.schedule,
                  **crud_cli.changes_from(args, SCHEDULES)}
        row = await crud.insert_row(db, SCHEDULES, values)
    print(json.dumps(as_dict(row), ensure_ascii=False) if args.json
          else f"schedule {row['name']} added to {row['hotline']}")
    return 0


async def _schedule(db: Any, args: argparse.Namespace) -> int:
    return await named_id(db, "schedules", await hotline_id(db, args.hotline), args.schedule)


async def add_hours(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        schedule = await _schedule(db, args)
        with admin.refusals():
            await db.execute(
                """INSERT INTO schedule_windows (schedule_id, days, opens, closes)
                   VALUES ($1, $2, $3::text::time, $4::text::time)""",
                schedule, days(args.days), args.opens, args.closes)
    print(json.dumps({"days": days(args.days), "opens": args.opens, "closes": args.closes})
          if args.json else f"{args.schedule}: open {args.days} {args.opens}-{args.closes}")
    return 0


async def clear_hours(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        schedule = await _schedule(db, args)
        await db.execute("DELETE FROM schedule_windows WHERE schedule_id = $1", schedule)
    print(json.dumps({"cleared": args.schedule}) if args.json
          else f"{args.schedule}: no hours (closed until hours are added)")
    return 0


async def override(args: argparse.Namespace) -> int:
    state = None if args.state == "clear" else args.state
    if state is None and args.until is not None:
        raise admin.AdminError("clear takes no --until")
    async with pool(args) as db:
        schedule = await _schedule(db, args)
        zone = await zones.hotline_zone(db, args.hotline)
        until = plan_checks.override_end(args.until, zone, "--until")
        with admin.refusals():
            await db.execute("UPDATE schedules SET override = $2, override_until = $3 "
                             "WHERE id = $1", schedule, state, until)
    if args.json:
        print(json.dumps({"override": state,
                          "until": plain(until.astimezone(UTC)) if until else None}))
        return 0
    shown = output.local(until, zone) if until else None
    output.say(f"{args.schedule}: " + (f"{state} now" + (f" until {shown}" if shown else
                                                          " until cleared")
                                       if state else "follows its hours again"))
    return 0


def _named(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("hotline", metavar="NUMBER")
    parser.add_argument("schedule", metavar="SCHEDULE")


def register(sub: Any) -> None:
    topic = sub.add_parser("schedule", help="business hours, holidays, closed/open now"
                           ).add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = crud_cli.subcommand(topic, "add", "add a schedule to a hotline")
    _named(parser)
    crud_cli.add_field_flags(parser, SCHEDULES, skip=("name",))
    parser.set_defaults(handler=add)

    parser = crud_cli.subcommand(topic, "hours", "add opening hours")
    _named(parser)
    parser.add_argument("--days", required=True,
                        help="day keys: mon … sun, ranges (mon-fri), and holiday")
    parser.add_argument("--opens", required=True, metavar="HH:MM")
    parser.add_argument("--closes", required=True, metavar="HH:MM", help="24:00: end of day")
    parser.set_defaults(handler=add_hours)

    parser = crud_cli.subcommand(topic, "clear-hours", "remove every window of a schedule")
    _named(parser)
    parser.set_defaults(handler=clear_hours)

    parser = crud_cli.subcommand(topic, "override", "closed now / open now / clear")
    _named(parser)
    parser.add_argument("state", choices=("open", "closed", "clear"))
    parser.add_argument("--until", metavar="TIME", type=arguments.iso_time,
                        help="ISO time; without an offset, the hotline's local time "
                             "(default: until cleared); must be in the future")
    parser.set_defaults(handler=override)
    crud_cli.register(topic, SCHEDULES)

"""`stats`: a hotline's report tables (per hour, per day, per phone, total), as on the console."""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta
from typing import Any

from rich.text import Text

from router import admin, stats, zones
from router.callers import printable
from router.cli.calls import console, table
from router.cli.common import pool
from router.web.present import percent


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date, e.g. 2026-10-12") from None


def _seconds(ms: int | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.1f}"


def _figures_line(f: stats.Figures) -> list[str]:
    return [f.key, str(f.calls), str(f.offered), str(f.answered), str(f.missed),
            percent(f.answer_rate), _seconds(f.avg_wait_ms), _seconds(f.avg_talk_ms),
            percent(f.service_level)]


async def show_stats(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        try:
            last = args.to or args.from_ or await zones.hotline_today(db, args.hotline)
            first = args.from_ or last - timedelta(days=args.days - 1)
            found = await stats.report(db, args.hotline, first, args.to or last,
                                       args.service_level)
        except (LookupError, stats.StatsError) as exc:
            raise admin.AdminError(str(exc.args[0])) from None
    tables = stats.TABLES if args.table == "all" else (args.table,)
    if args.format == "json":
        print(json.dumps({"hotline": found.number, "time_zone": found.time_zone,
                          "from": found.first_day.isoformat(), "to": found.last_day.isoformat(),
                          **{t: stats.rows(found, t) for t in tables}}, ensure_ascii=False))
        return 0
    if args.format == "csv":
        if len(tables) != 1:
            raise admin.AdminError("--format csv prints one table: give --table hours, days, "
                                   "phones or total")
        print(stats.to_csv(found, tables[0]), end="")
        return 0
    out = console()
    out.print(Text(f"{found.number} {printable(found.name)}  {found.first_day} to "
                   f"{found.last_day} ({found.time_zone}); service level: answered within "
                   f"{found.service_level_s} s"))
    head = ["", "calls", "offered", "answered", "missed", "answer rate", "avg wait s",
            "avg talk s", "service level"]
    for name in tables:
        out.print(Text(f"\n{name}:"))
        if name == "phones":
            out.print(table(
                ["phone", "dial string", "rung", "answered", "no answer", "busy", "answer rate",
                 "avg ring s", "talk s"],
                [[printable(p.label) or "-", printable(p.dial_string), str(p.rung),
                  str(p.answered), str(p.no_answer), str(p.busy), percent(p.answer_rate),
                  _seconds(p.avg_ring_ms), _seconds(p.talk_ms)] for p in found.phones]))
            continue
        figures = {"hours": found.hours, "days": found.days, "total": (found.total,)}[name]
        out.print(table([{"hours": "hour", "days": "day", "total": ""}[name], *head[1:]],
                        [_figures_line(f) for f in figures]))
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser("stats", help="a hotline's figures: per hour, day, phone, total")
    parser.add_argument("hotline", metavar="NUMBER")
    parser.add_argument("--from", dest="from_", type=_day, metavar="DAY",
                        help="first local day, YYYY-MM-DD (default: --days before --to)")
    parser.add_argument("--to", type=_day, metavar="DAY",
                        help="last local day, inclusive (default: today in the hotline's zone, "
                             "or --from)")
    parser.add_argument("--days", type=int, default=1, metavar="N",
                        help="without --from: the last N days (default 1: today)")
    parser.add_argument("--table", choices=("all", *stats.TABLES), default="all")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--service-level", type=int, default=stats.SERVICE_LEVEL_S,
                        metavar="SECONDS", help="answered within this counts (default 20)")
    parser.set_defaults(handler=show_stats)

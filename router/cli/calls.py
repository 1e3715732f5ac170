"""`calls`: the call log (filters, local times, phone labels), one call in full
(`calls show ID`), or the calls in progress (`--live`).

Caller ids and labels come from outside: they are printed with control
characters escaped (router/callers.py, printable), so a forged id cannot add table rows or
drive the terminal. Tables are drawn by rich, which measures Chinese text by
its display width.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from router import admin, call_log, live_calls
from router.billing.money import yuan
from router.callers import printable
from router.cli import arguments
from router.cli.common import pool, print_json_lines, print_table
from router.plan import DEFAULT_TIME_ZONE
from router.web.present import as_json, local_text, seconds_text

FIELDS = ("id", "hotline", "caller", "started_at", "answered_at", "ended_at", "outcome",
          "answered_by", "billable_ms")
_CLEAR_SCREEN = "\x1b[H\x1b[2J"
_TIMES = ("started_at", "caller_answered_at", "answered_at", "ended_at")


def console() -> Console:
    # Wide enough that a piped table is not folded; no colours or markup from data.
    return Console(highlight=False, markup=False, emoji=False,
                   width=None if sys.stdout.isatty() else 200)


def table(columns: list[str], lines: list[list[str]]) -> Table:
    out = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in columns:
        out.add_column(column, overflow="fold")
    for line in lines:
        out.add_row(*(Text(cell) for cell in line))
    return out


def call_filter(args: argparse.Namespace) -> call_log.CallFilter:
    return call_log.CallFilter(hotline=args.hotline, caller=args.caller, outcome=args.outcome,
                               since=args.since, until=args.until, limit=args.limit)


async def list_calls(args: argparse.Namespace) -> int:
    if args.live:
        return await show_live(args)
    wanted = call_filter(args)
    async with pool(args) as db:
        try:
            rows = await call_log.list_calls(db, wanted)
        except (call_log.CallLogError, LookupError) as exc:
            raise admin.AdminError(str(exc.args[0])) from None
    rows.reverse()  # oldest first, as a terminal reads
    if args.json:
        for row in rows:
            shown = as_json(row, row["time_zone"], _TIMES)
            shown["answered_by"] = row["answered_dial_string"]
            print(json.dumps(shown, ensure_ascii=False))
        return 0
    lines = [[
        local_text(r["started_at"], r["time_zone"]), r["hotline"] or printable(r["dialled"]),
        printable(r["caller"]), r["outcome"] or "in progress",
        printable(r["answered_label"] or r["answered_dial_string"] or "-"),
        f"{r['wait_ms'] / 1000:.1f}" if r["wait_ms"] is not None else "-",
        f"{r['billable_ms'] / 1000:.3f}", r["plan_result"] or "-", str(r["id"]),
    ] for r in rows]
    shown_zones = sorted({r["time_zone"] for r in rows}) or [DEFAULT_TIME_ZONE]
    console().print(table([f"started ({', '.join(shown_zones)})", "hotline", "caller", "outcome",
                           "answered by", "wait s", "billable s", "plan", "id"], lines))
    return 0


async def show_call(args: argparse.Namespace) -> int:
    try:
        call_id = UUID(args.call_id)
    except ValueError:
        raise admin.AdminError(f"{args.call_id!r} is not a call id (a UUID; see "
                               "'hotline-router calls')") from None
    async with pool(args) as db:
        found = await call_log.call_detail(db, call_id)
    if found is None:
        raise admin.AdminError(f"no call {call_id}")
    call, zone = found["call"], found["call"]["time_zone"]
    if args.json:
        shown = as_json(call, zone, _TIMES)
        shown["plan_rule"] = as_json(found["rule"]) if found["rule"] else None
        shown["charge_fen"] = found["charge_fen"]
        shown["legs"] = [as_json(leg, zone, ("dial_started_at", "answered_at", "confirmed_at",
                                             "ended_at"))
                         for leg in found["legs"]]
        print(json.dumps(shown, ensure_ascii=False))
        return 0
    rule = found["rule"]
    facts = [
        ("call", str(call["id"])),
        ("hotline", f"{call['hotline'] or call['dialled']} {call['hotline_name'] or ''}"),
        ("caller", f"{call['caller']} {call['caller_region'] or ''}"),
        ("started", f"{local_text(call['started_at'], zone)} ({zone})"),
        ("outcome", call["outcome"] or "in progress"),
        ("plan", (call["plan_result"] or "-")
         + (f" (rule {rule['position']} {rule['name']})" if rule else "")),
        ("reason", call["plan_reason"] or "-"),
        ("group", call["plan_group"] or "-"),
        ("menu keys", call["menu_keys"] or "-"),
        ("overflow", call["overflow"] or "-"),
        ("answered by", call["answered_label"] or call["answered_dial_string"] or "-"),
        ("answered", local_text(call["answered_at"], zone) or "-"),
        ("billed from", local_text(call["caller_answered_at"], zone) or "-"),
        ("ended", local_text(call["ended_at"], zone) or "-"),
        ("wait", seconds_text(call["wait_ms"]) or "-"),
        ("billable", f"{call['billable_ms'] / 1000:.3f} s"),
        ("charge", yuan(found["charge_fen"]) if found["charge_fen"] is not None
         else "not rated"),
    ]
    out = console()
    width = max(len(name) for name, _ in facts)
    for name, value in facts:
        out.print(Text(f"{name:<{width}}  {printable(value)}"))
    out.print(Text("\nlegs (ring attempts):"))
    out.print(table(
        ["wave", "phone", "dial string", "result", "dialled", "answered", "confirmed", "ended",
         "ring s", "talk s"],
        [[str(leg["wave"]), printable(leg["label"]) or "-", printable(leg["dial_string"]),
          (leg["result"] or "ringing")
          + (f" ({leg['purpose']})" if leg["purpose"] != "phone" else ""),
          local_text(leg["dial_started_at"], zone),
          local_text(leg["answered_at"], zone) or "-",
          local_text(leg["confirmed_at"], zone) or "-", local_text(leg["ended_at"], zone) or "-",
          f"{leg['ring_ms'] / 1000:.1f}" if leg["ring_ms"] is not None else "-",
          f"{leg['talk_ms'] / 1000:.1f}" if leg["talk_ms"] is not None else "-"]
         for leg in found["legs"]]))
    return 0


async def show_live(args: argparse.Namespace) -> int:
    """Calls in progress, redrawn every --interval seconds until Ctrl-C (or once)."""
    refreshes = 1 if args.once else args.count
    redraw = sys.stdout.isatty() and not args.json and refreshes != 1
    shown = 0
    async with pool(args) as db:
        while refreshes is None or shown < refreshes:
            if shown:
                await asyncio.sleep(max(args.interval, 0.2))  # never hammer the database
            rows = [{**dict(r), "caller": printable(r["caller"])}
                    for r in await live_calls.live_calls(db)]
            shown += 1
            if args.json:
                print_json_lines(rows, live_calls.FIELDS)
                continue
            if redraw:
                print(_CLEAR_SCREEN, end="")
            now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            print(f"{len(rows)} call(s) in progress at {now}"
                  + ("   (Ctrl-C to stop)" if redraw else ""))
            if rows:
                print_table(rows, ["hotline", "caller", "state", "seconds", "phones_rung",
                                   "answered_by", "router_id"])
            sys.stdout.flush()
    return 0


def _outcome(text: str) -> str:
    if text not in (*call_log.OUTCOMES, "missed", "live"):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an outcome: {', '.join(call_log.OUTCOMES)}, missed or live")
    return text


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "calls", help="the call log (filters, local times), 'calls show ID', or --live")
    parser.add_argument("--hotline", metavar="NUMBER", help="only this hotline's calls")
    parser.add_argument("--caller", help="a caller number, or a prefix ending in *")
    parser.add_argument("--outcome", type=_outcome,
                        help="answered, busy, no-answer, …; missed: offered, not answered")
    parser.add_argument("--since", type=arguments.iso_time, metavar="TIME",
                        help="started at or after: a day (2026-11-28: from midnight in the "
                             "hotline's zone), a local time (2026-11-28T09:00) or an instant "
                             "with offset (2026-11-28T09:00:00+08:00)")
    parser.add_argument("--until", type=arguments.iso_time, metavar="TIME",
                        help="started before this day or time (as --since)")
    parser.add_argument("--limit", type=arguments.positive_int, default=1000,
                        help="the newest N calls (default 1000, at most 1000)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--live", action="store_true",
                        help="calls in progress, refreshed until Ctrl-C")
    parser.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                        help="with --live: time between refreshes (default 1)")
    parser.add_argument("--count", type=int, metavar="N",
                        help="with --live: stop after N refreshes")
    parser.add_argument("--once", action="store_true", help="with --live: print once and exit")
    parser.set_defaults(handler=list_calls)
    actions = parser.add_subparsers(dest="calls_action", metavar="show ID")
    show = actions.add_parser("show", help="one call in full: plan decision, keys, every leg")
    show.add_argument("call_id", metavar="ID")
    show.add_argument("--json", action="store_true", help="one JSON object")
    show.set_defaults(handler=show_call)

"""`calls`: the call records, or the calls in progress (`--live`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from router import live_calls, records
from router.cli import arguments
from router.cli.common import plain, pool, print_json_lines, print_table

FIELDS = ("id", "hotline", "caller", "started_at", "answered_at", "ended_at", "outcome",
          "answered_by", "billable_ms")
_CLEAR_SCREEN = "\x1b[H\x1b[2J"


async def list_calls(args: argparse.Namespace) -> int:
    if args.live:
        return await show_live(args)
    async with pool(args) as db:
        rows = await records.list_calls(db, args.since, args.limit)
    if args.json:
        print_json_lines(rows, FIELDS)
        return 0
    print(f"{'started (UTC)':<24} {'hotline':<11} {'caller':<14} {'outcome':<15} "
          f"{'answered by':<40} {'billable s':>10}")
    for row in rows:
        print(f"{plain(row['started_at']):<24} {row['hotline'] or row['dialled']:<11} "
              f"{row['caller']:<14} {row['outcome'] or 'in progress':<15} "
              f"{row['answered_by'] or '-':<40} {row['billable_ms'] / 1000:>10.3f}")
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
            rows = await live_calls.live_calls(db)
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


def register(sub: Any) -> None:
    parser = sub.add_parser("calls", help="list call records, or calls in progress (--live)")
    parser.add_argument("--since", type=arguments.time_with_offset,
                        help="ISO time with offset, e.g. 2026-11-28T00:00:00+08:00")
    parser.add_argument("--limit", type=arguments.positive_int, default=1000,
                        help="the newest N calls (default 1000)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--live", action="store_true",
                        help="calls in progress, refreshed until Ctrl-C")
    parser.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                        help="with --live: time between refreshes (default 1)")
    parser.add_argument("--count", type=int, metavar="N",
                        help="with --live: stop after N refreshes")
    parser.add_argument("--once", action="store_true", help="with --live: print once and exit")
    parser.set_defaults(handler=list_calls)

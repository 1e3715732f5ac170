"""`queue [NUMBER]`: the callers waiting in the hold queues now, in the order they are served."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from router import admin, waiting, zones
from router.callers import printable
from router.cli.calls import console, table
from router.cli.common import pool


async def show_queue(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        if args.hotline is not None:
            try:
                await zones.hotline_zone(db, args.hotline)
            except LookupError as exc:
                raise admin.AdminError(str(exc.args[0])) from None
        found = await waiting.waiters(db, args.hotline)
        zone_names = {w.hotline: await zones.hotline_zone(db, w.hotline) for w in found}
        now = datetime.now(UTC)
    if args.json:
        print(json.dumps([{"hotline": w.hotline, "group": w.group, "position": w.position,
                           "call_id": str(w.call_id), "caller": w.caller, "vip": w.vip,
                           "arrived_at": w.arrived_at.isoformat(),
                           "waited_s": round((now - w.joined_at).total_seconds(), 1),
                           "ringing": w.offered, "router_id": w.router_id}
                          for w in found], ensure_ascii=False))
        return 0
    out = console()
    if not found:
        out.print(Text("nobody is waiting" + (f" for {args.hotline}" if args.hotline else "")))
        return 0
    out.print(table(
        ["hotline", "group", "#", "caller", "vip", "arrived", "waited s", "ringing", "router"],
        [[w.hotline, printable(w.group) if w.group else "-", str(w.position),
          printable(w.caller) or "anonymous", "yes" if w.vip else "",
          w.arrived_at.astimezone(zones.zone(zone_names[w.hotline])).strftime("%H:%M:%S"),
          f"{(now - w.joined_at).total_seconds():.0f}", "yes" if w.offered else "",
          printable(w.router_id)] for w in found]))
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "queue", help="callers waiting in the hold queues now, in the order they are served")
    parser.add_argument("hotline", metavar="NUMBER", nargs="?",
                        help="one hotline's queue (default: every hotline's)")
    parser.add_argument("--json", action="store_true", help="one JSON array")
    parser.set_defaults(handler=show_queue)

"""`calls`: the call records."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from router import records
from router.cli.common import plain, pool, print_json_lines

FIELDS = ("id", "hotline", "caller", "started_at", "answered_at", "ended_at", "outcome",
          "answered_by", "billable_ms")


async def list_calls(args: argparse.Namespace) -> int:
    since = datetime.fromisoformat(args.since) if args.since else None
    async with pool(args) as db:
        rows = await records.list_calls(db, since, args.limit)
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


def register(sub: Any) -> None:
    parser = sub.add_parser("calls", help="list call records")
    parser.add_argument("--since", help="ISO time, e.g. 2026-11-28T00:00:00+08:00")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(handler=list_calls)

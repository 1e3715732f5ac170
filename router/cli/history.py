"""`history …`: the call history's months (calls and their legs), and the
retention purge that drops those older than ``history_keep_months``."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from router import history, settings
from router.cli import arguments, errors
from router.cli.common import display_zone, pool


async def purge(args: argparse.Namespace) -> int:
    keep = args.keep_months if args.keep_months is not None else (
        settings.from_env().history_keep_months)
    now = args.now or datetime.now(UTC)
    if now.tzinfo is None:  # a time without an offset is in the operator's display zone
        now = now.replace(tzinfo=ZoneInfo(display_zone()))
    if keep <= 0:
        print("history_keep_months is 0: the call history is kept forever, nothing purged")
        return errors.DONE
    async with pool(args) as db:
        months = await history.purge(db, keep, now)
    kept = [m for m in months if m.kept_because]
    for month in months:
        label = month.month.strftime("%Y-%m")
        if month.kept_because:
            print(f"{label}: kept, {month.kept_because}")
        else:
            print(f"{label}: dropped {month.calls} calls, {month.legs} ring attempts")
    print(f"months older than {keep} kept months: {len(months) - len(kept)} dropped, "
          f"{len(kept)} kept")
    return errors.FOUND if kept else errors.DONE


def _months(text: str) -> int:
    value = arguments.positive_int(text)
    if value > 1200:
        raise argparse.ArgumentTypeError("at most 1200 months")
    return value


def register(sub: Any) -> None:
    topic = sub.add_parser("history", help="the call history's months: the retention purge"
                           ).add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = topic.add_parser(
        "purge", help="drop whole months of calls and ring attempts older than "
                      "history_keep_months (UTC months; the ledger and statements stay; a "
                      "month with an open or unrated call, or a recording not purged yet, "
                      "is kept)")
    parser.add_argument("--keep-months", type=_months, metavar="N",
                        help="months kept before the current one (default: the "
                             "history_keep_months setting)")
    parser.add_argument("--now", type=arguments.iso_time, metavar="TIME",
                        help="purge as if it were this time (default: now)")
    parser.set_defaults(handler=purge)

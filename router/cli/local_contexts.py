"""`local-context …`: the dialplan contexts Local/ phones and overflow targets may enter."""

from __future__ import annotations

import argparse
import json
from typing import Any

from router import local_contexts
from router.cli.common import as_dict, pool, print_table


async def context_add(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        row = await local_contexts.add(db, args.context, args.note)
    print(json.dumps(as_dict(row), ensure_ascii=False) if args.json
          else f"context {row['context']} listed: Local/<extension>@{row['context']} "
               "may now be a phone or an overflow target")
    return 0


async def context_remove(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        await local_contexts.remove(db, args.context)
    print(json.dumps({"removed": args.context}) if args.json
          else f"context {args.context} no longer listed")
    return 0


async def context_list(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        rows = await local_contexts.list_all(db)
    if args.json:
        for row in rows:
            print(json.dumps(as_dict(row), ensure_ascii=False))
    else:
        print_table(rows, ["context", "phones", "overflow_targets", "note", "added_at"])
    return 0


def _json(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help="JSON output")
    return parser


def register(sub: Any) -> None:
    topic = sub.add_parser(
        "local-context",
        help="dialplan contexts that Local/<extension>@<context> phones and overflow may enter"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = _json(topic.add_parser(
        "add", help="allow Local/ dial strings into a context of your dialplan (never the "
                    "router's own: hotline, router-down, …)"))
    parser.add_argument("context", help="a context of extensions.conf, e.g. ivr-main")
    parser.add_argument("--note", default="", help="what the context is for")
    parser.set_defaults(handler=context_add)
    parser = _json(topic.add_parser("remove", help="no longer allow a context (refused while "
                                                   "a phone or overflow target dials into it)"))
    parser.add_argument("context")
    parser.set_defaults(handler=context_remove)
    _json(topic.add_parser("list", help="listed contexts and how many dial strings use each")
          ).set_defaults(handler=context_list)

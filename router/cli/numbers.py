"""`numbers grade|import|search`: tools for operators who sell 400/800 numbers."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from router import number_pool, numbers, vanity
from router.admin import AdminError
from router.cli.common import pool, print_table


async def grade(args: argparse.Namespace) -> int:
    try:
        number = numbers.parse(args.number)
    except numbers.NumberError as exc:
        raise AdminError(str(exc)) from None
    matches = vanity.find(number)
    tier = vanity.grade(matches)
    if args.json:
        print(json.dumps({"number": number.digits, "carrier": number.carrier,
                          "display": number.display_forms(), "tier": tier,
                          "patterns": [m.as_dict() for m in matches]}, ensure_ascii=False))
        return 0
    print(f"number   {number.digits}")
    print(f"carrier  {number.carrier or 'not told by the number'}")
    print(f"display  {'   '.join(number.display_forms().values())}")
    print(f"grade    {f'tier {tier}' if tier else 'no vanity pattern'}")
    if matches:
        print()
        print_table([{"pattern": m.pattern, "place": m.place, "digits": m.digits,
                      "position": m.start + 1, "tier": m.tier} for m in matches],
                    ["pattern", "place", "digits", "position", "tier"])
    return 0


async def import_file(args: argparse.Namespace) -> int:
    try:
        text = await asyncio.to_thread(Path(args.file).read_text, encoding="utf-8-sig")
    except OSError as exc:
        raise AdminError(f"cannot read {args.file}: {exc.strerror}") from None
    async with pool(args) as db:
        try:
            done = await number_pool.import_lines(db, text.splitlines())
        except number_pool.ImportRefused as exc:
            for bad in exc.bad:
                print(f"{args.file}:{bad}", file=sys.stderr)
            raise AdminError(f"{len(exc.bad)} bad line(s) in {args.file}; "
                             "nothing was imported") from None
    print(f"{done.added} number(s) added, {done.already_in_pool} already in the pool")
    return 0


async def search(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        rows = await number_pool.search(db, args.pattern, args.tier, args.place, args.carrier,
                                        args.limit)
    if args.json:
        for row in rows:
            print(json.dumps(dict(row), ensure_ascii=False))
        return 0
    print_table([{"number": numbers.HotlineNumber(r["number"]).dashed, "carrier": r["carrier"],
                  "tier": r["tier"],
                  "patterns": " ".join(f"{p['pattern']}:{p['place']}" for p in r["patterns"]),
                  "note": r["note"]} for r in rows],
                ["number", "carrier", "tier", "patterns", "note"])
    return 0


def register(sub: Any) -> None:
    topic = sub.add_parser(
        "numbers", help="grade, import and search 400/800 numbers").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    parser = topic.add_parser("grade", help="carrier, display forms and vanity patterns")
    parser.add_argument("number", metavar="NUMBER", help="e.g. 4008881888 or 400-888-1888")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=grade)

    parser = topic.add_parser("import", help="add numbers to the pool (all or nothing)")
    parser.add_argument("file", metavar="FILE", help="one number per line, or CSV: number,note")
    parser.set_defaults(handler=import_file)

    parser = topic.add_parser("search", help="numbers in the pool by pattern and tier")
    parser.add_argument("--pattern", choices=vanity.PATTERNS, metavar="PATTERN",
                        help=f"one of {' '.join(vanity.PATTERNS)}")
    parser.add_argument("--tier", type=int, choices=vanity.TIERS,
                        help="with --pattern: that match's tier; alone: the number's grade")
    parser.add_argument("--place", choices=("tail", "middle"), help="with --pattern")
    parser.add_argument("--carrier", help="e.g. Telecom")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(handler=search)

"""`hotline …` and `phone …`: the configuration admins edit."""

from __future__ import annotations

import argparse
from typing import Any

from router import admin
from router.cli.common import pool


async def hotline_add(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        row = await admin.add_hotline(db, args.number, args.strategy, args.name,
                                      args.ring_timeout)
    print(f"hotline {row['number']} added (id {row['id']}, strategy {row['strategy']})")
    return 0


async def phone_add(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        row = await admin.add_phone(db, args.hotline, args.dial_string, args.position,
                                    args.capacity, args.label)
    print(f"phone {row['phone_id']} bound to {args.hotline} at position {row['position']}")
    return 0


def register(sub: Any) -> None:
    hotline = sub.add_parser("hotline", help="hotlines").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    add = hotline.add_parser("add", help="add a 400/800 hotline")
    add.add_argument("number")
    add.add_argument("--strategy", default="sequential")
    add.add_argument("--name", default="")
    add.add_argument("--ring-timeout", type=int, default=15, help="seconds per phone")
    add.set_defaults(handler=hotline_add)

    phone = sub.add_parser("phone", help="bound phones").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    add = phone.add_parser("add", help="bind a phone to a hotline")
    add.add_argument("hotline", metavar="NUMBER")
    add.add_argument("dial_string", metavar="DIALSTRING",
                     help="e.g. PJSIP/phones/sip:8001@10.0.0.5")
    add.add_argument("--position", type=int, help="order for sequential hunting (default: last)")
    add.add_argument("--capacity", type=int, default=1, help="simultaneous calls")
    add.add_argument("--label", default="")
    add.set_defaults(handler=phone_add)

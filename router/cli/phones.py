"""`phone …`: the phones that ring, with or without a hotline."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from router import admin, crud
from router.cli import crud as crud_cli
from router.cli import presence as presence_cli
from router.cli.common import as_dict, pool

# A dial string always has a slash, so an all-digit name can only be an id.
PHONE = crud.Key("id", "PHONE", "phone", help="phone id or dial string",
                 lookup="SELECT id FROM phones WHERE id::text = $1 OR dial_string = $1")


async def bound_to(db: Any, phone: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    rows = await db.fetch(
        """SELECT h.number AS hotline, b.position, b.weight, b.enabled AS binding_enabled
           FROM bound_phones b JOIN hotlines h ON h.id = b.hotline_id
           WHERE b.phone_id = $1 ORDER BY h.number""", phone["id"])
    return {"hotlines": [dict(r) for r in rows]}


PHONES = crud.TableSpec(
    noun="phone",
    table="phones",
    keys=(PHONE,),
    fields=(
        crud.Field("dial_string", "--dial-string", str,
                   "what Asterisk dials, e.g. PJSIP/phones/sip:8001@10.0.0.5", "DIALSTRING"),
        crud.Field("label", "--label", str, "a name for people"),
        crud.Field("capacity", "--capacity", int, "simultaneous calls", "N"),
        crud.Field("wrap_up_s", "--wrap-up", int,
                   "seconds after a call before the phone rings again", "SECONDS"),
        crud.Field("auto_pause_after", "--auto-pause-after", crud.optional_int,
                   "pause it after this many calls in a row went unanswered or were "
                   "rejected ('none': the hotline's; docs/presence.md)", "N"),
        crud.Field("reject_delay_s", "--reject-delay", int,
                   "seconds after it rejected a call before it is offered another", "SECONDS"),
        crud.Field("no_answer_delay_s", "--no-answer-delay", int,
                   "seconds after it let a call ring out before it is offered another",
                   "SECONDS"),
    ),
    select="""SELECT p.id, p.dial_string, p.label, p.capacity, p.wrap_up_s, p.enabled,
                     p.auto_pause_after, p.reject_delay_s, p.no_answer_delay_s,
                     s.presence, s.presence_reason, s.presence_since,
                     s.active_calls, s.last_call_ended_at,
                     (SELECT count(*) FROM bound_phones b WHERE b.phone_id = p.id) AS hotlines,
                     p.created_at
              FROM phones p LEFT JOIN phone_state s ON s.phone_id = p.id""",
    order_by="id",
    list_columns=("id", "dial_string", "label", "capacity", "enabled", "active_calls",
                  "hotlines"),
    details=bound_to,
)


async def create(args: argparse.Namespace) -> int:
    values = {"dial_string": args.dial_string, **crud_cli.changes_from(args, PHONES)}
    async with pool(args) as db:
        row = await crud.insert_row(db, PHONES, values)
    if args.json:
        print(json.dumps(as_dict(row), ensure_ascii=False))
    else:
        print(f"phone {row['id']} created ({row['dial_string']})")
    return 0


async def add_to_hotline(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        row = await admin.add_phone(db, args.hotline, args.dial_string, args.position,
                                    args.capacity, args.label)
    if args.json:
        print(json.dumps(as_dict(row)))
    else:
        print(f"phone {row['phone_id']} bound to {args.hotline} at position {row['position']}")
    return 0


def register(sub: Any) -> None:
    topic = sub.add_parser("phone", help="phones that ring").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    parser = crud_cli.subcommand(topic, "create", "create a phone (bind it with 'binding add')")
    parser.add_argument("dial_string", metavar="DIALSTRING",
                        help="e.g. PJSIP/phones/sip:8001@10.0.0.5")
    crud_cli.add_field_flags(parser, PHONES, skip=("dial_string",))
    parser.set_defaults(handler=create)

    parser = crud_cli.subcommand(topic, "add",
                                 "bind a phone to a hotline, creating the phone if new")
    parser.add_argument("hotline", metavar="NUMBER")
    parser.add_argument("dial_string", metavar="DIALSTRING",
                        help="e.g. PJSIP/phones/sip:8001@10.0.0.5")
    parser.add_argument("--position", type=int, help="order for sequential hunting (default: last)")
    parser.add_argument("--capacity", type=int, default=1, help="simultaneous calls")
    parser.add_argument("--label", default="")
    parser.set_defaults(handler=add_to_hotline)
    crud_cli.register(topic, PHONES)
    presence_cli.register(topic)

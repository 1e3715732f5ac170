"""`phone sign-in|sign-out|pause|resume|status|history`: presence (router/presence.py)."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from router import admin, crud, presence, zones
from router.cli import crud as crud_cli
from router.cli import output
from router.cli.common import as_dict, display_zone, pool
from router.cli.errors import REFUSED, CliError

_STATUS_COLUMNS = ("phone", "dial_string", "label", "state", "reason", "since")


def _who() -> str:
    """The person at the terminal, for the history ('cli' changes)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container's numeric user)
        return "cli"


async def _phone_id(db: Any, text: str) -> int:
    from router.cli.phones import PHONES  # the phone topic's key: id or dial string

    return int((await crud.resolve(db, PHONES, [text]))["id"])


async def set_presence(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        phone_id = await _phone_id(db, args.phone)
        try:
            with admin.refusals():  # a bad reason: the constraint's sentence, exit 2
                changed, shown = await _change(db, phone_id, args)
        except presence.PresenceError as exc:
            raise CliError(str(exc), REFUSED) from None
    if args.json:
        print(json.dumps({"phone": phone_id, "changed": changed}))
    elif changed:
        print(f"phone {phone_id} {shown}")
    else:
        print(f"phone {phone_id} was already {shown}")
    return 0


async def _change(db: Any, phone_id: int, args: argparse.Namespace) -> tuple[bool, str]:
    """Make the change the command asks; (whether it changed, how to say the result)."""
    if args.action == "resume":
        return await presence.resume(db, phone_id, presence.Source.CLI, _who()), "signed in"
    state = {"sign-in": presence.Presence.SIGNED_IN, "sign-out": presence.Presence.SIGNED_OUT,
             "pause": presence.Presence.PAUSED}[args.action]
    reason = getattr(args, "reason", None)
    changed = await presence.change(db, phone_id, state, reason, presence.Source.CLI, _who())
    return changed, state.value.replace("_", " ") + (f" ({reason})" if reason else "")


async def _zone_and_hotline(db: Any, number: str | None) -> tuple[str, int | None]:
    if number is None:
        return display_zone(), None
    try:
        zone = await zones.hotline_zone(db, number)
    except LookupError as exc:
        raise CliError(f"{exc}; see 'hotline-router hotline list'", REFUSED) from None
    hotline_id = await db.fetchval("SELECT id FROM hotlines WHERE number = $1", number)
    return zone, int(hotline_id)


async def show_status(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        zone, hotline_id = await _zone_and_hotline(db, args.hotline)
        rows = await presence.status(db, hotline_id)
    if args.json:
        for row in rows:
            print(json.dumps(as_dict(row), ensure_ascii=False))
    else:
        output.print_table(rows, _STATUS_COLUMNS, zone)
    return 0


async def show_history(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        phone_id = await _phone_id(db, args.phone)
        zone = display_zone()
        rows = await db.fetch(
            """SELECT at, presence, reason, source, who FROM presence_history
               WHERE phone_id = $1 ORDER BY at DESC, id DESC LIMIT $2""", phone_id, args.limit)
    if args.json:
        for row in rows:
            print(json.dumps(as_dict(row), ensure_ascii=False))
    else:
        output.print_table(rows, ("at", "presence", "reason", "source", "who"), zone)
    return 0


def register(topic: Any) -> None:
    """Add the presence commands to the ``phone`` topic."""
    for action, help_text in (("sign-in", "sign a phone in: it is offered calls"),
                              ("sign-out", "sign a phone out: it is offered no call"),
                              ("pause", "pause a phone with a reason: it is offered no call"),
                              ("resume", "end a phone's pause: it is offered calls again")):
        parser = crud_cli.subcommand(topic, action, help_text)
        parser.add_argument("phone", metavar="PHONE", help="phone id or dial string")
        if action == "pause":
            parser.add_argument("--reason", required=True,
                                help="why, e.g. lunch (1-40 characters)")
        parser.set_defaults(handler=set_presence)

    parser = crud_cli.subcommand(topic, "status",
                                 "each phone's presence and since when (busy, ringing, "
                                 "wrap-up derived)")
    parser.add_argument("--hotline", metavar="NUMBER",
                        help="only this hotline's phones, times in its zone")
    parser.set_defaults(handler=show_status)

    parser = crud_cli.subcommand(topic, "history", "a phone's presence changes, newest first")
    parser.add_argument("phone", metavar="PHONE", help="phone id or dial string")
    parser.add_argument("--limit", type=int, default=50, help="how many changes (default 50)")
    parser.set_defaults(handler=show_history)

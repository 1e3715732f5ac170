"""`notify-target …` (where a hotline's notifications go) and `notifications …`
(the outbox: list, dead letters, retry, a dispatcher of its own, senders)."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import signal
from pathlib import Path
from typing import Any

from router import logs, settings
from router.cli import errors
from router.cli.common import as_dict, pool, print_table
from router.notify import dispatcher, targets
from router.notify.senders import installed

EVENTS = ("call.ringing", "call.answered", "call.ended", "call.missed", "balance.low",
          "voicemail.left")


def _words(text: str) -> list[str]:
    return [word.strip() for word in text.split(",") if word.strip()]


def _read_secret(path: str) -> str:
    try:
        return Path(path).read_text().splitlines()[0].strip()
    except (OSError, IndexError) as exc:
        raise errors.CliError(f"--secret-file {path} cannot be read "
                              f"({getattr(exc, 'strerror', None) or 'empty'}): give a file "
                              "whose first line is the secret", errors.LOCAL) from None


async def target_add(args: argparse.Namespace) -> int:
    secret, made = "", False
    if args.secret_file:
        secret = _read_secret(args.secret_file)
    elif args.sender == "webhook":
        secret, made = secrets.token_urlsafe(32), True
    async with pool(args) as db:
        row = await targets.add(
            db, args.hotline, args.name, args.address, sender=args.sender, secret=secret,
            events=_words(args.events),
            missed_outcomes=_words(args.missed) if args.missed is not None else None,
            fold_minutes=args.fold_minutes)
    shown = as_dict(row)
    if made:
        shown["secret"] = secret  # shown once: the receiver needs it to verify signatures
    if args.json:
        print(json.dumps(shown, ensure_ascii=False))
    else:
        print(f"target {row['name']} of {row['hotline']} added: {row['events']} by "
              f"{row['sender']} to {row['address']}")
        if made:
            print(f"signing secret (shown once, give it to the receiver): {secret}")
    return 0


async def target_list(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        rows = await targets.list_targets(db, args.hotline)
    if args.json:
        for row in rows:
            print(json.dumps(as_dict(row), ensure_ascii=False))
    else:
        print_table(rows, ["hotline", "name", "sender", "address", "events", "missed_outcomes",
                           "fold_minutes", "enabled"])
    return 0


async def target_enable(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        await targets.set_enabled(db, args.hotline, args.name, args.action == "enable")
    print(f"target {args.name} of {args.hotline} {args.action}d")
    return 0


async def target_remove(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        await targets.remove(db, args.hotline, args.name)
    print(f"target {args.name} of {args.hotline} removed, with its queued notifications")
    return 0


async def outbox_list(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        rows = await targets.list_outbox(db, dead=args.dead, number=args.hotline,
                                         limit=args.limit)
    if args.json:
        for row in rows:
            print(json.dumps(as_dict(row), ensure_ascii=False))
    else:
        print_table(rows, ["id", "hotline", "target", "event", "state", "attempts", "caller",
                           "event_at", "sent_at", "last_error"])
    return 0


async def outbox_retry(args: argparse.Namespace) -> int:
    if not args.ids and not args.all_dead:
        raise errors.CliError("name the dead notifications to retry (ids from "
                              "hotline-router notifications list --dead) or give --all-dead",
                              errors.REFUSED)
    async with pool(args) as db:
        count = await targets.retry(db, args.ids, all_dead=args.all_dead)
    print(f"{count} notification(s) due again")
    return 0


async def dispatch(args: argparse.Namespace) -> int:
    config = settings.load(args.config, database_url=args.database_url).settings
    logs.configure(config.log_format, config.log_level)
    task = asyncio.ensure_future(dispatcher.run_forever(
        config.database_url, dispatcher.DispatchSettings(timeout_s=config.notify_timeout_s)))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return 0


async def list_senders(args: argparse.Namespace) -> int:
    for name, sender in installed().items():
        print(f"{name}  {type(sender).__module__}")
    return 0


def _json(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help="JSON output")
    return parser


def _target(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("hotline", help="the hotline's number")
    parser.add_argument("name", help="the target's name within the hotline, e.g. crm")
    return parser


def register(sub: Any) -> None:
    from router.cli.config import add_config_argument

    topic = sub.add_parser(
        "notify-target", help="where a hotline's notifications and call events go "
                              "(webhooks, SMS plug-ins)"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = _json(_target(topic.add_parser(
        "add", help="send a hotline's events to a webhook URL (or another sender's address)")))
    parser.add_argument("address", help="for webhook an http(s) URL; for an SMS sender a "
                                        "phone number")
    parser.add_argument("--sender", default="webhook",
                        help="sender plug-in (hotline-router notifications senders); "
                             "default webhook")
    parser.add_argument("--events", default="call.missed",
                        help=f"comma-separated, of {', '.join(EVENTS)}; default call.missed")
    parser.add_argument("--missed", metavar="OUTCOMES",
                        help="outcomes that count as missed, comma-separated; default "
                             "abandoned,busy,no-answer,closed")
    parser.add_argument("--fold-minutes", type=int, default=0, metavar="N",
                        help="fold missed calls from one caller within N minutes of a notified "
                             "one into it (default 0: never)")
    parser.add_argument("--secret-file", metavar="FILE",
                        help="the signing secret's file (first line); default: a new random "
                             "secret, printed once")
    parser.set_defaults(handler=target_add)
    parser = _json(topic.add_parser("list", help="targets and their events (secrets hidden)"))
    parser.add_argument("hotline", nargs="?", help="only this hotline")
    parser.set_defaults(handler=target_list)
    for action, text in (("enable", "send to a target again"),
                         ("disable", "stop sending to a target (its rows wait)")):
        _target(topic.add_parser(action, help=text)).set_defaults(handler=target_enable)
    _target(topic.add_parser("remove", help="remove a target and its queued notifications")
            ).set_defaults(handler=target_remove)

    topic = sub.add_parser(
        "notifications", help="the notification outbox: list, dead letters, retry, dispatch"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = _json(topic.add_parser("list", help="the newest notifications and their state"))
    parser.add_argument("--dead", action="store_true",
                        help="only dead ones (gave up after their tries)")
    parser.add_argument("--hotline", help="only this hotline's")
    parser.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    parser.set_defaults(handler=outbox_list)
    parser = topic.add_parser("retry", help="send dead notifications again, tries afresh")
    parser.add_argument("ids", nargs="*", type=int, help="notification ids")
    parser.add_argument("--all-dead", action="store_true", help="every dead notification")
    parser.set_defaults(handler=outbox_retry)
    parser = topic.add_parser("dispatch", help="send notifications in a process of its own "
                                               "(beside routers with notify_dispatch = off)")
    add_config_argument(parser)
    parser.set_defaults(handler=dispatch)
    topic.add_parser("senders", help="installed sender plug-ins").set_defaults(
        handler=list_senders)

"""`config check`: validate the daemon's settings and show what `run` would use."""

from __future__ import annotations

import argparse
import json
from typing import Any

from router import settings
from router.cli import output


async def check(args: argparse.Namespace) -> int:
    loaded = settings.load(args.config, database_url=getattr(args, "database_url", None))
    if args.json:
        print(json.dumps({"settings": loaded.settings.typed(), "sources": loaded.sources,
                          "valid": True}, ensure_ascii=False))
        return 0
    shown = loaded.settings.masked()
    output.print_table([{"name": name, "value": value or "(empty)",
                         "source": loaded.sources[name]} for name, value in shown.items()],
                       ("name", "value", "source"), headers=("setting", "value", "from"))
    print("settings are valid")
    return 0


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help=f"TOML settings file (env {settings.CONFIG_ENV})")


def register(sub: Any) -> None:
    topic = sub.add_parser("config", help="daemon settings").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    parser = topic.add_parser(
        "check", help="validate the settings (file, env) and print them, secrets masked")
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true",
                        help='one JSON object: {"settings": {…typed…}, "sources": {…}}')
    parser.set_defaults(handler=check)

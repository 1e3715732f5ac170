"""`web`: the web console and JSON API, a process of its own (see docs/web.md)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from router import logs
from router.cli.common import migrated


async def run_web(args: argparse.Namespace) -> int:
    from router.web import app

    config = app.load_settings(args.database_url, args.listen)
    logs.configure(os.environ.get("LOG_FORMAT", "auto"), os.environ.get("LOG_LEVEL", "info"))
    async with migrated(config.database_url):
        pass  # reachable and migrated, or one line and exit 3 (as `run`)
    await app.serve(config)
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "web", help="serve the web console and the JSON API (loopback by default)")
    parser.add_argument("--listen", metavar="HOST:PORT",
                        help="address to listen on (env WEB_LISTEN, default 127.0.0.1:8096)")
    parser.set_defaults(handler=run_web)

"""`run` and `migrate`."""

from __future__ import annotations

import argparse
from typing import Any

from router import db, logs, migrate, settings
from router.cli.common import database_url
from router.cli.config import add_config_argument


async def run(args: argparse.Namespace) -> int:
    from router.service import serve

    config = settings.load(
        args.config, database_url=args.database_url, ari_url=args.ari_url,
        ari_user=args.ari_user, ari_password=args.ari_password, ari_app=args.ari_app,
        router_id=args.router_id, http_listen=args.http_listen,
        drain_timeout_s=args.drain_timeout).settings
    logs.configure(config.log_format, config.log_level)
    if args.migrate:
        connection = await db.connect(config.database_url)
        try:
            await migrate.migrate(connection)
        finally:
            await connection.close()
    await serve(config)
    return 0


async def migrate_database(args: argparse.Namespace) -> int:
    connection = await db.connect(database_url(args))
    try:
        applied = await migrate.migrate(connection)
    finally:
        await connection.close()
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    if not applied:
        print("database is up to date")
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "run", help="route calls (settings: TOML file < env < flags)")
    add_config_argument(parser)
    parser.add_argument("--ari-url", help="e.g. http://127.0.0.1:8088 (env ARI_URL)")
    parser.add_argument("--ari-user", help="env ARI_USER")
    parser.add_argument("--ari-password", help="env ARI_PASSWORD")
    parser.add_argument("--ari-app", help="Stasis application name (env ARI_APP)")
    parser.add_argument("--router-id",
                        help="names this router's claims and records (env ROUTER_ID; "
                             "default: ARI_APP@asterisk-host:port)")
    parser.add_argument("--http-listen",
                        help="health endpoint address (env HTTP_LISTEN, default 127.0.0.1:8095)")
    parser.add_argument("--drain-timeout", type=float, metavar="SECONDS",
                        help="on SIGTERM, how long live calls may go on (env DRAIN_TIMEOUT_S)")
    parser.add_argument("--migrate", action="store_true",
                        help="apply migrations before starting")
    parser.set_defaults(handler=run)

    sub.add_parser("migrate", help="apply new database migrations").set_defaults(
        handler=migrate_database)

"""`hotline-router …`: run the daemon, migrate, and administer hotlines."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from router import __version__, admin, db, logs, migrate, records, settings


def _database_url(args: argparse.Namespace) -> str:
    return settings.from_env(database_url=args.database_url).database_url


async def _cmd_run(args: argparse.Namespace) -> int:
    from router.service import serve

    config = settings.from_env(
        database_url=args.database_url, ari_url=args.ari_url, ari_user=args.ari_user,
        ari_password=args.ari_password, ari_app=args.ari_app, router_id=args.router_id,
        http_listen=args.http_listen)
    logs.configure(config.log_format, config.log_level)
    if args.migrate:
        connection = await db.connect(config.database_url)
        try:
            await migrate.migrate(connection)
        finally:
            await connection.close()
    await serve(config)
    return 0


async def _cmd_migrate(args: argparse.Namespace) -> int:
    connection = await db.connect(_database_url(args))
    try:
        applied = await migrate.migrate(connection)
    finally:
        await connection.close()
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    if not applied:
        print("database is up to date")
    return 0


async def _with_pool(args: argparse.Namespace) -> Any:
    return await db.connect_pool(_database_url(args), min_size=1, max_size=2)


async def _cmd_hotline_add(args: argparse.Namespace) -> int:
    pool = await _with_pool(args)
    try:
        row = await admin.add_hotline(pool, args.number, args.strategy, args.name,
                                      args.ring_timeout)
    finally:
        await pool.close()
    print(f"hotline {row['number']} added (id {row['id']}, strategy {row['strategy']})")
    return 0


async def _cmd_phone_add(args: argparse.Namespace) -> int:
    pool = await _with_pool(args)
    try:
        row = await admin.add_phone(pool, args.hotline, args.dial_string, args.position,
                                    args.capacity, args.label)
    finally:
        await pool.close()
    print(f"phone {row['phone_id']} bound to {args.hotline} at position {row['position']}")
    return 0


CALL_FIELDS = ("id", "hotline", "caller", "started_at", "answered_at", "ended_at", "outcome",
               "answered_by", "billable_ms")


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(value) if value is not None and not isinstance(value, int | str) else value


async def _cmd_calls(args: argparse.Namespace) -> int:
    since = datetime.fromisoformat(args.since) if args.since else None
    pool = await _with_pool(args)
    try:
        rows = await records.list_calls(pool, since, args.limit)
    finally:
        await pool.close()
    if args.json:
        for row in rows:
            print(json.dumps({name: _iso(row[name]) for name in CALL_FIELDS}, ensure_ascii=False))
        return 0
    print(f"{'started (UTC)':<24} {'hotline':<11} {'caller':<14} {'outcome':<15} "
          f"{'answered by':<40} {'billable s':>10}")
    for row in rows:
        print(f"{_iso(row['started_at']):<24} {row['hotline'] or row['dialled']:<11} "
              f"{row['caller']:<14} {row['outcome'] or 'in progress':<15} "
              f"{row['answered_by'] or '-':<40} {row['billable_ms'] / 1000:>10.3f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline-router", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--database-url", help="PostgreSQL URL (env DATABASE_URL)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="route calls (settings from env; flags override)")
    run.add_argument("--ari-url", help="e.g. http://127.0.0.1:8088 (env ARI_URL)")
    run.add_argument("--ari-user", help="env ARI_USER")
    run.add_argument("--ari-password", help="env ARI_PASSWORD")
    run.add_argument("--ari-app", help="Stasis application name (env ARI_APP)")
    run.add_argument("--router-id", help="names this router's claims (default: the app name)")
    run.add_argument("--http-listen", help="health endpoint address (env HTTP_LISTEN, "
                     "default 127.0.0.1:8095)")
    run.add_argument("--migrate", action="store_true", help="apply migrations before starting")
    run.set_defaults(handler=_cmd_run)

    sub.add_parser("migrate", help="apply new database migrations").set_defaults(
        handler=_cmd_migrate)

    hotline = sub.add_parser("hotline", help="hotlines").add_subparsers(dest="action",
                                                                        required=True)
    add = hotline.add_parser("add", help="add a 400/800 hotline")
    add.add_argument("number")
    add.add_argument("--strategy", default="sequential")
    add.add_argument("--name", default="")
    add.add_argument("--ring-timeout", type=int, default=15, help="seconds per phone")
    add.set_defaults(handler=_cmd_hotline_add)

    phone = sub.add_parser("phone", help="bound phones").add_subparsers(dest="action",
                                                                         required=True)
    add = phone.add_parser("add", help="bind a phone to a hotline")
    add.add_argument("hotline", metavar="NUMBER")
    add.add_argument("dial_string", metavar="DIALSTRING",
                     help="e.g. PJSIP/phones/sip:8001@10.0.0.5")
    add.add_argument("--position", type=int, help="order for sequential hunting (default: last)")
    add.add_argument("--capacity", type=int, default=1, help="simultaneous calls")
    add.add_argument("--label", default="")
    add.set_defaults(handler=_cmd_phone_add)

    calls = sub.add_parser("calls", help="list call records")
    calls.add_argument("--since", help="ISO time, e.g. 2026-11-28T00:00:00+08:00")
    calls.add_argument("--limit", type=int, default=1000)
    calls.add_argument("--json", action="store_true", help="one JSON object per line")
    calls.set_defaults(handler=_cmd_calls)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = asyncio.run(args.handler(args))
        return code
    except admin.AdminError as exc:
        print(f"hotline-router: {exc}", file=sys.stderr)
        return 2
    except migrate.MigrationError as exc:
        print(f"hotline-router: migration refused: {exc}", file=sys.stderr)
        return 2
    except (OSError, ConnectionError) as exc:
        print(f"hotline-router: cannot connect: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130

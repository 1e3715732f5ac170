"""`run` and `migrate`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import structlog

from router import db, logs, migrate, settings
from router.ari import AriClient, AriError
from router.cli import asterisk, errors
from router.cli.common import database_url
from router.cli.config import add_config_argument
from router.plan_store import sound_list

log = structlog.get_logger("router.cli")


async def run(args: argparse.Namespace) -> int:
    from router.service import serve

    config = settings.load(
        args.config, database_url=args.database_url, ari_url=args.ari_url,
        ari_user=args.ari_user, ari_password=args.ari_password,
        ari_password_file=args.ari_password_file, ari_app=args.ari_app,
        router_id=args.router_id, http_listen=args.http_listen,
        drain_timeout_s=args.drain_timeout).settings
    logs.configure(config.log_format, config.log_level)
    if args.migrate:
        async with errors.database(config.database_url):
            connection = await db.connect(config.database_url)
        try:
            await migrate.migrate(connection)
        finally:
            await connection.close()
    spool_ready(Path(config.spool_dir))
    await preflight(config)
    await serve(config)
    return 0


def spool_ready(folder: Path) -> None:
    """The record spool must be a folder this user can write, before any call needs it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise errors.CliError(
            f"spool_dir {folder} does not exist and cannot be made ({exc.strerror}); create it "
            "writable by the router's user, or set spool_dir (SPOOL_DIR)", errors.LOCAL) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise errors.CliError(
            f"spool_dir {folder} is not writable by this user; fix its owner (chown) or set "
            "spool_dir (SPOOL_DIR)", errors.LOCAL)


_SOUNDS = """
SELECT h.number, s.column_name, s.sounds FROM (
    SELECT hotline_id, 'greeting_sound' AS column_name, greeting_sound AS sounds
      FROM plan_settings
    UNION ALL SELECT hotline_id, 'closed_sound', closed_sound FROM plan_settings
    UNION ALL SELECT hotline_id, 'refused_sound', refused_sound FROM plan_settings
    UNION ALL SELECT hotline_id, 'busy_sound', busy_sound FROM plan_settings
    UNION ALL SELECT hotline_id, 'not_in_service_sound', not_in_service_sound FROM plan_settings
    UNION ALL SELECT hotline_id, 'landline_only_sound', landline_only_sound FROM plan_settings
    UNION ALL SELECT id, 'confirm_prompt', confirm_prompt FROM hotlines
    UNION ALL SELECT id, 'whisper_sound', whisper_sound FROM hotlines
    UNION ALL SELECT id, 'ringback_sound', ringback_sound FROM hotlines
    UNION ALL SELECT hotline_id, 'menu ' || name || ' prompt', prompt FROM voice_menus
    UNION ALL SELECT hotline_id, 'menu ' || name || ' invalid_sound', invalid_sound
      FROM voice_menus) s
JOIN hotlines h ON h.id = s.hotline_id
WHERE s.sounds IS NOT NULL AND s.sounds <> ''
ORDER BY h.number, s.column_name
"""


async def preflight(config: settings.Settings) -> None:
    """Before taking calls: the database must answer, migrated; a refused ARI login
    stops here, naming the setting; sounds the configuration names but Asterisk lacks
    are logged (a caller would hear nothing)."""
    async with errors.database(config.database_url):
        connection = await db.connect(config.database_url)
    try:
        await connection.fetchval("SELECT count(*) FROM routers")  # migrated at all?
        rows = await connection.fetch(_SOUNDS)
    finally:
        await connection.close()
    client = AriClient(config.ari_url, config.ari_user, config.ari_password, timeout_s=3)
    try:
        try:
            found = await client.request("GET", "/sounds")
        except AriError as exc:
            if exc.status == 401:
                raise errors.CliError(asterisk.login_refused(config.ari_url),
                                      errors.UNREACHABLE) from None
            if exc.status:  # it answered, but not with its sounds (an older Asterisk?)
                log.warning("could not list asterisk's sounds: sound names not checked",
                            ari_url=config.ari_url, status=exc.status, error=exc.message)
            else:
                log.warning("asterisk not reachable yet; the router keeps trying",
                            ari_url=config.ari_url, error=exc.message)
            return
    finally:
        await client.close()
    known = {str(entry.get("id", "")) for entry in found or []}
    for row in rows:
        for sound in sound_list(row["sounds"]):
            if sound not in known:
                log.warning("sound missing on asterisk: callers would hear nothing",
                            hotline=row["number"], setting=row["column_name"], sound=sound)


async def migrate_database(args: argparse.Namespace) -> int:
    url = database_url(args)
    async with errors.database(url):
        connection = await db.connect(url)
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
    parser.add_argument("--ari-password",
                        help="env ARI_PASSWORD; a flag is visible to every local user in the "
                             "process list (ps): prefer --ari-password-file")
    parser.add_argument("--ari-password-file", metavar="FILE",
                        help="a file whose first line is the ARI password "
                             "(env ARI_PASSWORD_FILE; e.g. a container secret)")
    parser.add_argument("--ari-app", help="Stasis application name (env ARI_APP)")
    parser.add_argument("--router-id",
                        help="names this router's claims and records (env ROUTER_ID; "
                             "default: ARI_APP@asterisk-host:port)")
    parser.add_argument("--http-listen",
                        help="health endpoint address (env HTTP_LISTEN, default 127.0.0.1:8095)")
    parser.add_argument("--drain-timeout", type=float, metavar="SECONDS",
                        help="on SIGTERM, how long live calls may go on (env DRAIN_TIMEOUT_S)")
    parser.add_argument("--migrate", action="store_true",
                        help="apply migrations before starting (needs a login that owns "
                             "the schema; see docs/operations.md)")
    parser.set_defaults(handler=run)

    sub.add_parser("migrate", help="apply new database migrations (as the schema's owner)"
                   ).set_defaults(handler=migrate_database)

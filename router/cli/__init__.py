"""`hotline-router …`: one module per topic registers its subcommands here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import asyncpg

from router import __version__, admin, logs, migrate, runner, settings
from router.cli import (
    billing,
    bindings,
    calendar,
    caller_lists,
    calls,
    config,
    daemon,
    groups,
    hotlines,
    menus,
    numbers,
    phones,
    plans,
    rules,
    schedules,
    stats,
    strategies,
    tokens,
    web,
)

# Each topic is a module with ``register(sub)`` adding its subcommands; a new
# topic (groups, plans, …) is a new module listed here. Configuration tables
# get list/show/update/enable/disable/delete from router/cli/crud.py by
# describing the table (see router/cli/hotlines.py for the pattern).
TOPICS = (daemon, config, hotlines, phones, bindings, strategies, calls, billing, numbers,
          groups, caller_lists, schedules, calendar, menus, rules, plans, stats, web, tokens)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline-router",
        description="Routes calls to 400/800 hotline numbers over Asterisk ARI.")
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--database-url", help="PostgreSQL URL (env DATABASE_URL)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for topic in TOPICS:
        topic.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Log lines go to stderr, so --json output on stdout stays parseable; `run`
    # configures logging again from its settings.
    logs.configure("console", "info")
    try:
        code: int = runner.run(args.handler(args))
        return code
    except admin.AdminError as exc:
        print(f"hotline-router: {exc}", file=sys.stderr)
        return 2
    except settings.SettingsError as exc:
        print(f"hotline-router: bad settings: {exc}", file=sys.stderr)
        return 2
    except migrate.MigrationError as exc:
        print(f"hotline-router: migration refused: {exc}", file=sys.stderr)
        return 2
    except (OSError, ConnectionError) as exc:
        print(f"hotline-router: cannot connect: {exc}", file=sys.stderr)
        return 3
    except asyncpg.PostgresError as exc:  # a wrong database or login, a schema not migrated
        print(f"hotline-router: the database said: {admin.explain(exc)}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130

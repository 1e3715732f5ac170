"""What went wrong, and what to do: one line on stderr and a documented exit code.

Exit codes (docs/operations.md, "Exit codes"):

====  ==========================================================================
0     done
1     a check found something to look at (``billing reconcile`` differences)
2     refused: bad input, a bad setting, a change the database refuses
3     the database or Asterisk: unreachable, a login refused, not migrated,
      a privilege missing
4     this machine: a port in use, a folder missing or not writable, a file
      that cannot be read
130   interrupted (Ctrl-C)
141   the reader went away (``hotline-router calls | head``): nothing is said
====  ==========================================================================
"""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from router import admin, migrate, settings
from router.http import ListenError

DONE, FOUND, REFUSED, UNREACHABLE, LOCAL, INTERRUPTED, CLOSED_PIPE = 0, 1, 2, 3, 4, 130, 141


class CliError(Exception):
    """A failure the CLI explains in one line, with its exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _host_of(url: str) -> str:
    """host:port/db of a database URL, without the login or the query (secrets masked
    first, so a password holding "@" or "?" cannot leak a piece)."""
    rest = settings.mask_url(url).partition("://")[2]
    return rest.partition("?")[0].rpartition("@")[2] or "localhost"


@asynccontextmanager
async def database(url: str, doing: str = "") -> AsyncIterator[None]:
    """Connection failures inside the block as one line naming database_url."""
    where = _host_of(url)
    try:
        yield
    except (asyncpg.exceptions.InvalidPasswordError,
            asyncpg.exceptions.InvalidAuthorizationSpecificationError) as exc:
        raise CliError(f"the database at {where} refused the login ({exc}); check the user "
                       "and password in database_url (DATABASE_URL or --database-url)",
                       UNREACHABLE) from None
    except asyncpg.exceptions.InvalidCatalogNameError:
        raise CliError(f"there is no database {where}; create it (createdb) and run "
                       "'hotline-router migrate', or fix database_url (DATABASE_URL or "
                       "--database-url)", UNREACHABLE) from None
    except (OSError, TimeoutError) as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise CliError(f"cannot connect to the database at {where} ({reason}); is PostgreSQL "
                       "running there? check database_url (DATABASE_URL or --database-url)",
                       UNREACHABLE) from None


_NOT_MIGRATED = (asyncpg.exceptions.UndefinedTableError, asyncpg.exceptions.UndefinedColumnError,
                 asyncpg.exceptions.UndefinedFunctionError)

# What main() explains in one line; anything else is a bug and keeps its traceback.
EXPLAINED = (CliError, admin.AdminError, settings.SettingsError, migrate.MigrationError,
             migrate.NotMigrated, ListenError, asyncpg.PostgresError, OSError)


def explain(exc: BaseException, command: str) -> tuple[str, int]:
    """The one line and the exit code for an error that reached the top."""
    if isinstance(exc, CliError):
        return str(exc), exc.code
    if isinstance(exc, admin.AdminError):
        return str(exc), REFUSED
    if isinstance(exc, settings.SettingsError):
        return f"bad settings: {exc}", REFUSED
    if isinstance(exc, migrate.MigrationError):
        return f"migration refused: {exc}", REFUSED
    if isinstance(exc, migrate.NotMigrated):
        return (f"the database is not migrated for this version ({exc}); run "
                "'hotline-router migrate' as the database owner"), UNREACHABLE
    if isinstance(exc, ListenError):
        return str(exc), LOCAL
    if isinstance(exc, _NOT_MIGRATED):
        return (f"the database is not ready for this version ({admin.explain(exc)}); run "
                "'hotline-router migrate' as the database owner"), UNREACHABLE
    if isinstance(exc, asyncpg.exceptions.InsufficientPrivilegeError):
        if command == "migrate" and " role" in str(exc):
            return (f"migrate creates the hotline_router_* roles and grants them, so its login "
                    f"needs CREATEROLE or superuser ({admin.explain(exc)}); run it as "
                    "postgres, or ALTER ROLE … CREATEROLE (docs/operations.md, Migrations)"
                    ), UNREACHABLE
        if command == "migrate" or "schema" in str(exc):
            return (f"migrations need the owner of the database's schema "
                    f"({admin.explain(exc)}); run 'hotline-router migrate' with the owner's "
                    "login in --database-url (e.g. postgresql://postgres@HOST/hotline_router)"
                    ), UNREACHABLE
        return (f"this database login may not do that ({admin.explain(exc)}); admin commands "
                "need a login in hotline_router_admin, the router one in "
                "hotline_router_daemon (docs/operations.md, Least privilege)"), UNREACHABLE
    if isinstance(exc, asyncpg.PostgresError):
        return f"the database said: {admin.explain(exc)}", UNREACHABLE
    return _os_error(exc) if isinstance(exc, OSError) else str(exc), LOCAL


def _os_error(exc: OSError) -> str:
    name = f" {exc.filename}" if exc.filename else ""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EADDRINUSE:
        return f"address already in use ({reason}); stop what holds it or choose another"
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return f"no such file or folder{name}; create it or fix the path"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"not allowed to use{name} ({reason}); fix its owner or permissions"
    return f"{reason}{name}"


def exit_code_of(value: Any) -> int:
    """A handler's return value as an exit code (None: done)."""
    return DONE if value is None else int(value)

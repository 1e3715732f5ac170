"""PostgreSQL connections."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg


async def _init_connection(connection: Any) -> None:
    # jsonb columns arrive as Python objects, not text.
    await connection.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads,
                                    schema="pg_catalog")


async def _keep_session(connection: Any) -> None:
    """Nothing to undo when a connection goes back to the pool.

    asyncpg's default reset sends a fifth statement after every pooled query
    (unlock advisory locks, close cursors, unlisten, reset settings): one more
    round trip per query. Our pooled work leaves none of that behind: advisory
    locks are transaction-scoped, cursors live in transactions, and settings
    are not changed. asyncpg still rolls back a transaction left open.
    """


async def connect_pool(database_url: str, min_size: int = 2, max_size: int = 10) -> Any:
    """A pool of connections to ``database_url``."""
    return await asyncpg.create_pool(database_url, min_size=min_size, max_size=max_size,
                                     init=_init_connection, reset=_keep_session,
                                     command_timeout=10)


async def connect(database_url: str) -> Any:
    connection = await asyncpg.connect(database_url, command_timeout=30)
    await _init_connection(connection)
    return connection


@asynccontextmanager
async def transaction(db: Any) -> AsyncIterator[Any]:
    """A connection in a transaction, from a pool or a connection (inside a transaction
    already: a savepoint), for writes that stand or fall together."""
    if hasattr(db, "acquire"):
        async with db.acquire() as connection, connection.transaction():
            yield connection
    else:
        async with db.transaction():
            yield db

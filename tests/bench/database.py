"""Benchmark databases: made fresh for each run, named hotline_router_bench_*."""

from __future__ import annotations

import os

from router import db as router_db
from router import migrate

SERVER_URL = os.environ.get("TEST_DATABASE_SERVER", "postgresql://postgres@127.0.0.1:5432")
PREFIX = "hotline_router_bench_"


async def fresh(suffix: str) -> str:
    """Drop and create ``hotline_router_bench_<suffix>``, migrate it, return its URL."""
    name = PREFIX + suffix
    admin = await router_db.connect(f"{SERVER_URL}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"{SERVER_URL}/{name}"
    connection = await router_db.connect(url)
    try:
        await migrate.migrate(connection)
    finally:
        await connection.close()
    return url

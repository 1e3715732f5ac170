"""Benchmark databases: made fresh for each run, named hotline_router_bench_*."""

from __future__ import annotations

import os

from router import db as router_db
from router import migrate
from tests.lab import ports

SERVER_URL = os.environ.get("TEST_DATABASE_SERVER", "postgresql://postgres@127.0.0.1:5432")


def name(suffix: str) -> str:
    """``hotline_router_bench_<suffix>``, per lab offset, so two labs never share one."""
    return f"hotline_router_bench_{suffix}" + (f"_{ports.OFFSET}" if ports.OFFSET else "")


async def fresh(name: str) -> str:
    """Drop and create database ``name``, migrate it, return its URL."""
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

"""Databases the lab makes: fresh and migrated, on the machine's PostgreSQL."""

from __future__ import annotations

import os

from router import db as router_db
from router import migrate
from tests.lab import ports

SERVER_URL = os.environ.get("TEST_DATABASE_SERVER", "postgresql://postgres@127.0.0.1:5432")


def name(purpose: str) -> str:
    """``hotline_router_<purpose>``, per lab offset, so two labs never share one."""
    return f"hotline_router_{purpose}" + (f"_{ports.OFFSET}" if ports.OFFSET else "")


async def recreate(name: str) -> str:
    """Drop and create database ``name`` (empty); its URL."""
    admin = await router_db.connect(f"{SERVER_URL}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"{SERVER_URL}/{name}"


async def fresh(name: str) -> str:
    """Drop and create database ``name``, migrate it; its URL."""
    url = await recreate(name)
    connection = await router_db.connect(url)
    try:
        await migrate.migrate(connection)
    finally:
        await connection.close()
    return url

"""The notification tests run on a database of each module's own.

The session's router (started by lab tests earlier in the same run) sends
every due notification of the session's database, and would take the rows
these tests expect to find due: these fixtures shadow the session's
``database_url``, ``daemon_database_url`` and ``db`` here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from router import db as router_db
from tests.conftest import TEST_DB, as_daemon
from tests.lab import database


@pytest.fixture(scope="module")
async def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh, migrated database for this module."""
    module = request.module.__name__.rsplit('.', 1)[-1].removeprefix('test_')
    return await database.fresh(f"{TEST_DB}_{module}")


@pytest.fixture(scope="module")
async def daemon_database_url(database_url: str) -> str:
    """This module's database as the router sees it (the daemon's login)."""
    return await as_daemon(database_url)


@pytest.fixture(scope="module")
async def db(database_url: str) -> AsyncIterator[Any]:
    pool = await router_db.connect_pool(database_url, min_size=2, max_size=20)
    yield pool
    await pool.close()

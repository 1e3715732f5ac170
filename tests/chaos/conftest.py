"""What the chaos tests share: a PostgreSQL of their own to stop or to cut."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab.postgres import PrivatePostgres


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres().init()
    server.start()
    yield server
    server.destroy()

"""What the web tests share: the web process's least-privileged login, customers and
tokens, and the app served in this process for API tests."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from router import db as router_db
from router.web import app as web_app
from router.web import tokens
from tests.lab.web import WebProcess

WEB_LOGIN = "hotline_router_test_web"
# Screenshots of each page, kept after the run (CI collects this folder).
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "web"

_names = itertools.count(1)


@pytest.fixture(scope="session")
async def web_database_url(database_url: str) -> str:
    """The test database as the web process sees it: a login in hotline_router_web."""
    connection = await router_db.connect(database_url)
    try:
        if not await connection.fetchval("SELECT true FROM pg_roles WHERE rolname = $1",
                                         WEB_LOGIN):
            await connection.execute(f"CREATE ROLE {WEB_LOGIN} LOGIN IN ROLE hotline_router_web")
    finally:
        await connection.close()
    return database_url.replace("//postgres@", f"//{WEB_LOGIN}@", 1)


@dataclass
class Account:
    """A customer with one hotline, and tokens for it."""

    customer: str
    number: str
    token: str


async def make_account(db: Any, number: str) -> Account:
    name = f"customer-{next(_names)}-{number}"
    await tokens.add_customer(db, name)
    await db.execute("INSERT INTO hotlines (number, name) VALUES ($1, $2)", number, "客服热线")
    await tokens.assign(db, name, [number])
    created = await tokens.create(db, f"{name} token", "customer", name)
    return Account(name, number, created.token)


@pytest.fixture
async def operator_token(db: Any) -> str:
    return (await tokens.create(db, f"operator {next(_names)}", "operator")).token


@pytest.fixture
async def api(web_database_url: str) -> AsyncIterator[TestClient[Any, Any]]:
    """The web application in this process, against the test database."""
    application = web_app.build_app(web_app.WebSettings(web_database_url))
    client: TestClient[Any, Any] = TestClient(TestServer(application))
    await client.start_server()
    yield client
    await client.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def web_console(web_database_url: str, tmp_path: Path) -> Iterator[WebProcess]:
    process = WebProcess(web_database_url, tmp_path / "web.log").start()
    yield process
    process.stop()

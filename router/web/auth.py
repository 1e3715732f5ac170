"""Who is asking, and a database connection that can see only what they may.

A request presents a token (``Authorization: Bearer hr_…``, or the console's
cookie). Each request then runs in one transaction that first switches to
the token's role (SET LOCAL ROLE): ``hotline_router_admin`` for operators,
``hotline_router_customer`` for customers, and hands the token to
PostgreSQL (``hotline_router.token``), whose row-level security finds the
customer from it. Nothing here filters rows: the database does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from router.web import tokens

ROLES = {"operator": "hotline_router_admin", "customer": "hotline_router_customer"}
COOKIE = "hotline_router_token"


@dataclass(frozen=True)
class Principal:
    token_id: int
    name: str
    scope: str                  # operator | customer
    customer_id: int | None
    customer: str | None        # the customer's name
    token: str = ""             # the presented token, for PostgreSQL's policies

    @property
    def is_operator(self) -> bool:
        return self.scope == "operator"

    def __repr__(self) -> str:  # never the token
        return f"Principal({self.token_id}, {self.name!r}, {self.scope}, {self.customer!r})"


async def authenticate(pool: Any, token: str) -> Principal | None:
    """The principal of a valid, unrevoked token; None otherwise.

    Marks the token used (at most once a minute, so reads stay cheap).
    """
    if not tokens.looks_like_token(token):
        return None
    row = await pool.fetchrow(
        """WITH t AS (
               SELECT t.id, t.name, t.scope, t.customer_id, c.name AS customer
               FROM api_tokens t LEFT JOIN customers c ON c.id = t.customer_id
               WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL),
           used AS (
               UPDATE api_tokens SET last_used_at = now()
               WHERE id = (SELECT id FROM t)
                 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute'))
           SELECT * FROM t""", tokens.digest(token))
    if row is None:
        return None
    return Principal(row["id"], row["name"], row["scope"], row["customer_id"], row["customer"],
                     token)


@asynccontextmanager
async def scoped(pool: Any, who: Principal) -> AsyncIterator[Any]:
    """A connection in a transaction as ``who``'s role; committed when the block ends."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(
            "SELECT set_config('role', $1, true), set_config('hotline_router.token', $2, true)",
            ROLES[who.scope], who.token)
        yield connection

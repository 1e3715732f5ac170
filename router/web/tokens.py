"""Customer accounts and API tokens (created and revoked with the CLI).

A token is ``hr_`` + 43 URL-safe characters (32 random bytes). Only its
SHA-256 is stored (api_tokens.token_sha256); the token is shown once. An
operator token may do everything; a customer token sees and edits only its
account's hotlines, which PostgreSQL enforces (row-level security, migration
0011) from the token itself.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from router.admin import AdminError, refusals

PREFIX = "hr_"
SCOPES = ("operator", "customer")


def new_token() -> str:
    """A fresh token: 256 random bits."""
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> bytes:
    """SHA-256 of the token's UTF-8 bytes (what api_tokens keeps)."""
    return hashlib.sha256(token.encode()).digest()


def looks_like_token(text: str) -> bool:
    return text.startswith(PREFIX) and 20 <= len(text) <= 100 and text.isascii()


@dataclass(frozen=True)
class Created:
    id: int
    name: str
    scope: str
    customer: str | None
    token: str  # shown once


async def add_customer(db: Any, name: str) -> Any:
    with refusals():
        return await db.fetchrow(
            "INSERT INTO customers (name) VALUES ($1) RETURNING id, name, created_at", name)


async def customer_id(db: Any, name: str) -> int:
    """The id of customer ``name``; AdminError when there is none."""
    found = await db.fetchval("SELECT id FROM customers WHERE name = $1", name)
    if found is None:
        raise AdminError(f"no customer {name}; add it with 'hotline-router customer add {name}'")
    return int(found)


async def list_customers(db: Any) -> list[Any]:
    return list(await db.fetch(
        """SELECT c.id, c.name, c.created_at,
                  coalesce(string_agg(h.number, ',' ORDER BY h.number), '') AS hotlines,
                  (SELECT count(*) FROM api_tokens t
                   WHERE t.customer_id = c.id AND t.revoked_at IS NULL) AS tokens
           FROM customers c LEFT JOIN hotlines h ON h.customer_id = c.id
           GROUP BY c.id ORDER BY c.name"""))


async def assign(db: Any, customer: str | None, numbers: list[str]) -> int:
    """Give hotlines to ``customer`` (None: to no customer). Returns how many."""
    async with db.acquire() as connection, connection.transaction():
        owner = None if customer is None else await customer_id(connection, customer)
        for number in numbers:
            if not await connection.fetchval(
                    "UPDATE hotlines SET customer_id = $2 WHERE number = $1 RETURNING true",
                    number, owner):
                raise AdminError(f"no hotline {number}")
    return len(numbers)


async def create(db: Any, name: str, scope: str, customer: str | None = None) -> Created:
    """A new token of ``scope``; a customer token names its customer."""
    if scope not in SCOPES:
        raise AdminError(f"scope must be {' or '.join(SCOPES)}")
    if (scope == "customer") != (customer is not None):
        raise AdminError("a customer token needs --customer NAME; an operator token takes none")
    owner = None if customer is None else await customer_id(db, customer)
    token = new_token()
    with refusals():
        row = await db.fetchrow(
            """INSERT INTO api_tokens (name, token_sha256, scope, customer_id)
               VALUES ($1, $2, $3, $4) RETURNING id""", name, digest(token), scope, owner)
    return Created(row["id"], name, scope, customer, token)


async def list_tokens(db: Any) -> list[Any]:
    return list(await db.fetch(
        """SELECT t.id, t.name, t.scope, c.name AS customer, t.created_at, t.last_used_at,
                  t.revoked_at
           FROM api_tokens t LEFT JOIN customers c ON c.id = t.customer_id
           ORDER BY t.id"""))


async def revoke(db: Any, token_id: int) -> Any:
    """Revoke at once: the next request with it is refused (401)."""
    row = await db.fetchrow(
        """UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
           RETURNING id, name, revoked_at""", token_id)
    if row is None:
        raise AdminError(f"no token {token_id}; see 'hotline-router token list'")
    return row

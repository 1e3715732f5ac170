"""Routers tell each other they are alive, through the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any


async def beat(db: Any, router_id: str, app: str, ari_url: str) -> None:
    await db.execute(
        """INSERT INTO routers (router_id, app, ari_url) VALUES ($1, $2, $3)
           ON CONFLICT (router_id) DO UPDATE
           SET app = EXCLUDED.app, ari_url = EXCLUDED.ari_url, last_seen_at = now(),
               stopped_at = NULL""",
        router_id, app, ari_url)


async def end_lease(db: Any, router_id: str) -> None:
    """The router stopped cleanly: no peer counts it alive from now on (it
    would otherwise for the rest of its lease, ringing only its share of the
    phones if the database went away meanwhile)."""
    await db.execute("UPDATE routers SET stopped_at = now() WHERE router_id = $1", router_id)


async def last_seen(db: Any, router_id: str) -> datetime | None:
    """When the router last said it was alive (before this run, if read first)."""
    seen: datetime | None = await db.fetchval(
        "SELECT last_seen_at FROM routers WHERE router_id = $1", router_id)
    return seen


async def alive(db: Any, lease_s: float) -> list[str]:
    """Routers heard from within their lease that have not stopped."""
    return [r["router_id"] for r in await db.fetch(
        "SELECT router_id FROM routers WHERE last_seen_at > now() - make_interval(secs => $1) "
        "AND stopped_at IS NULL ORDER BY router_id", lease_s)]


async def dead_on(db: Any, ari_url: str, lease_s: float, me: str) -> list[Any]:
    """Other routers on the same Asterisk that missed their lease (or stopped)
    and still own calls."""
    return list(await db.fetch(
        """SELECT r.router_id, r.app, r.last_seen_at FROM routers r
           WHERE r.ari_url = $1 AND r.router_id <> $3
             AND (r.last_seen_at <= now() - make_interval(secs => $2)
                  OR r.stopped_at IS NOT NULL)
             AND (EXISTS (SELECT 1 FROM calls c WHERE c.router_id = r.router_id
                                                  AND c.ended_at IS NULL)
                  OR EXISTS (SELECT 1 FROM phone_claims p WHERE p.router_id = r.router_id))""",
        ari_url, lease_s, me))


async def peers_on(db: Any, ari_url: str, within_s: float, me: str) -> list[Any]:
    """Other routers on the same Asterisk that have not stopped and were heard
    from within ``within_s`` (id, app): alive, or cut off from the database and
    perhaps still driving calls (their lease in Asterisk says which)."""
    return list(await db.fetch(
        """SELECT router_id, app FROM routers
           WHERE ari_url = $1 AND router_id <> $3 AND stopped_at IS NULL
             AND last_seen_at > now() - make_interval(secs => $2)""", ari_url, within_s, me))


async def alive_on(db: Any, ari_url: str, lease_s: float, me: str) -> list[Any]:
    """Other routers on the same Asterisk heard from within their lease (id, app)."""
    return list(await db.fetch(
        """SELECT router_id, app FROM routers
           WHERE ari_url = $1 AND router_id <> $3
             AND last_seen_at > now() - make_interval(secs => $2)""", ari_url, lease_s, me))

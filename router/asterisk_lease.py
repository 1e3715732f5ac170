"""A router's lease kept in Asterisk as well as in the database.

The database lease (router/heartbeat.py) tells routers that share the database
who is alive. A router cut off from the database alone still drives its calls
through ARI, so its peers must not take them over when its database lease runs
out. ARI cannot say whether an application's websocket is connected: ``GET
/applications/{name}`` answers alike for a live application and for one whose
websocket is gone while channels are still in it (measured on Asterisk 22.10).
So every heartbeat also sets an Asterisk global variable,
``HOTLINE_ROUTER_SEEN_<APP>``, to the router's time; a peer adopts or re-routes
the calls of a router only when that, too, is older than the lease.
"""

from __future__ import annotations

import re
from typing import Protocol

PREFIX = "HOTLINE_ROUTER_SEEN_"


class GlobalVariables(Protocol):
    async def get_global(self, name: str) -> str: ...

    async def set_global(self, name: str, value: str) -> None: ...


def variable_of(app: str) -> str:
    """The global variable holding ``app``'s last beat (letters, digits, ``_``)."""
    return PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", app).upper()


async def beat(ari: GlobalVariables, app: str, now_s: float, degraded: bool = False) -> None:
    """Say in Asterisk that ``app``'s router is alive at ``now_s`` (epoch seconds),
    and whether it is degraded (it cannot reach the database, so it rings only
    its share of the phones, and its peers must keep to theirs)."""
    await ari.set_global(variable_of(app), f"{now_s:.3f}" + (" degraded" if degraded else ""))


async def end(ari: GlobalVariables, app: str) -> None:
    """A router that stops cleanly: its lease in Asterisk ends at once."""
    await ari.set_global(variable_of(app), "")


async def still_alive(ari: GlobalVariables, app: str, lease_s: float, now_s: float) -> bool:
    """Whether ``app``'s router beat in Asterisk less than ``lease_s`` seconds
    before ``now_s`` (epoch seconds, this router's clock: hosts are expected to
    keep time by NTP, well within a lease)."""
    return (await _read(ari, app, lease_s, now_s)) is not None


async def degraded(ari: GlobalVariables, app: str, lease_s: float, now_s: float) -> bool:
    """Whether ``app``'s router, alive in Asterisk, says it cannot reach the database."""
    return await _read(ari, app, lease_s, now_s) is True


async def _read(ari: GlobalVariables, app: str, lease_s: float, now_s: float) -> bool | None:
    """None: not alive; else whether it is degraded."""
    raw = (await ari.get_global(variable_of(app))).split()
    try:
        seen = float(raw[0])
    except (IndexError, ValueError):
        return None  # never beat, or ended its lease
    if now_s - seen >= lease_s:
        return None
    return raw[1:] == ["degraded"]

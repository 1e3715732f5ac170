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


async def beat(ari: GlobalVariables, app: str, now_s: float) -> None:
    """Say in Asterisk that ``app``'s router is alive at ``now_s`` (epoch seconds)."""
    await ari.set_global(variable_of(app), f"{now_s:.3f}")


async def end(ari: GlobalVariables, app: str) -> None:
    """A router that stops cleanly: its lease in Asterisk ends at once."""
    await ari.set_global(variable_of(app), "")


async def still_alive(ari: GlobalVariables, app: str, lease_s: float, now_s: float) -> bool:
    """Whether ``app``'s router beat in Asterisk less than ``lease_s`` seconds
    before ``now_s`` (epoch seconds, this router's clock: hosts are expected to
    keep time by NTP, well within a lease)."""
    raw = await ari.get_global(variable_of(app))
    try:
        seen = float(raw)
    except ValueError:
        return False  # never beat, or ended its lease
    return now_s - seen < lease_s

"""The lease a router keeps in Asterisk, read by a peer before it adopts calls."""

from __future__ import annotations

from router import asterisk_lease


class Globals:
    """Asterisk's global variables, as ARI's /asterisk/variable shows them."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get_global(self, name: str) -> str:
        return self.values.get(name, "")

    async def set_global(self, name: str, value: str) -> None:
        self.values[name] = value


async def test_a_router_that_beats_in_asterisk_is_alive_for_its_lease() -> None:
    ari = Globals()
    await asterisk_lease.beat(ari, "hotline-router-a.b", 1_000.0)
    assert ari.values == {"HOTLINE_ROUTER_SEEN_HOTLINE_ROUTER_A_B": "1000.000"}
    assert await asterisk_lease.still_alive(ari, "hotline-router-a.b", 15.0, 1_014.9)
    assert not await asterisk_lease.still_alive(ari, "hotline-router-a.b", 15.0, 1_015.0)


async def test_a_router_never_seen_or_stopped_is_not_alive() -> None:
    ari = Globals()
    assert not await asterisk_lease.still_alive(ari, "hotline-router-x", 15.0, 1_000.0)
    await asterisk_lease.beat(ari, "hotline-router-x", 999.0)
    await asterisk_lease.end(ari, "hotline-router-x")
    assert not await asterisk_lease.still_alive(ari, "hotline-router-x", 15.0, 1_000.0)


async def test_a_degraded_router_says_so_in_its_lease() -> None:
    ari = Globals()
    await asterisk_lease.beat(ari, "hotline-router-a", 1_000.0, degraded=True)
    assert ari.values["HOTLINE_ROUTER_SEEN_HOTLINE_ROUTER_A"] == "1000.000 degraded"
    assert await asterisk_lease.still_alive(ari, "hotline-router-a", 15.0, 1_001.0)
    assert await asterisk_lease.degraded(ari, "hotline-router-a", 15.0, 1_001.0)
    assert not await asterisk_lease.degraded(ari, "hotline-router-a", 15.0, 1_016.0)
    await asterisk_lease.beat(ari, "hotline-router-a", 1_002.0)
    assert not await asterisk_lease.degraded(ari, "hotline-router-a", 15.0, 1_003.0)

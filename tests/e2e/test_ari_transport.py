"""ARI requests travel on the event websocket with the lab's Asterisk (22.x
answers there), and over HTTP when the router is told so: the same call either
way (router/ari/websocket_rest.py)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from tests.conftest import PhoneFactory, RouterFactory, add_hotline, dialplan_global, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess

pytestmark = pytest.mark.lab


def requests(router: RouterProcess) -> tuple[float, float]:
    """ARI requests the router has sent so far: (on the websocket, over HTTP)."""
    scraped = router.metrics()
    return (scraped.value("hotline_router_ari_requests_total", transport="websocket"),
            scraped.value("hotline_router_ari_requests_total", transport="http"))


@pytest.mark.parametrize("transport", ["auto", "http"])
async def test_a_call_is_driven_over_the_transport_asked_for(
        db: Any, lab: AsteriskLab, routers: RouterFactory, phones: PhoneFactory,
        hotline_number: str, transport: str) -> None:
    phone = phones(answer_after_ms=200)
    await add_hotline(db, hotline_number, [phone])
    app = f"hotline-router-{transport}"
    router = routers(app, {"ARI_TRANSPORT": transport})
    with dialplan_global(lab, "ROUTER_APPS", f"^{app}$"):
        before = requests(router)
        seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=1000)
        (call,) = await wait_for_call(db, hotline_number)
        after = requests(router)

    websocket, http = after[0] - before[0], after[1] - before[1]
    print(f"\nARI requests for one answered call ({transport}): {websocket:.0f} on the "
          f"websocket, {http:.0f} over HTTP", file=sys.stderr)
    assert seen.result == "answered", seen.errors
    assert call["outcome"] == "answered"
    assert abs(call["billable_ms"] / 1000 - seen.talk_seconds) < 0.5
    if transport == "auto":
        assert websocket >= 5  # claim, create, dial, bridge, answer … on the socket
        assert http == 0
    else:
        assert websocket == 0
        assert http >= 5

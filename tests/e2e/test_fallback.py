"""When no router takes a call, the dialplan's own route still answers it."""

from __future__ import annotations

import pytest

from tests.conftest import PhoneFactory, dialplan_global
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab

pytestmark = pytest.mark.lab

NO_ROUTER = "^no-router-has-this-name$"


async def test_no_router_means_a_busy_announcement(lab: AsteriskLab) -> None:
    with dialplan_global(lab, "ROUTER_APPS", NO_ROUTER):
        seen = await sipp.call(lab.sip_address, "4008001234", hold_ms=1000)
    assert (seen.result, seen.status) == ("rejected", 503), seen.errors
    assert seen.t_end is not None
    assert seen.t_invite is not None
    assert seen.t_end - seen.t_invite > 1.5  # broadcast timeout, then the announcement


async def test_no_router_rings_the_static_route_when_one_is_set(
        lab: AsteriskLab, phones: PhoneFactory) -> None:
    desk = phones(answer_after_ms=200)
    with (dialplan_global(lab, "ROUTER_APPS", NO_ROUTER),
          dialplan_global(lab, "ROUTER_DOWN_DIAL", desk.dial_string)):
        seen = await sipp.call(lab.sip_address, "4008001234", hold_ms=1000)
    assert seen.result == "answered", seen.errors
    assert [r["result"] for r in desk.results()] == ["answered"]


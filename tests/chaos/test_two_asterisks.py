"""Two Asterisk servers, one database: a phone busy through one is busy for the other."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import (
    PhoneFactory,
    RouterFactory,
    add_hotline,
    legs_of,
    wait_for_call,
    wait_until_answered,
)
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess

pytestmark = [pytest.mark.lab, pytest.mark.chaos]


async def test_a_phone_busy_through_asterisk_a_is_busy_for_asterisk_b(
        db: Any, lab: AsteriskLab, lab_b: AsteriskLab, router: RouterProcess,
        routers: RouterFactory, phones: PhoneFactory, hotline_number: str) -> None:
    phone = phones(answer_after_ms=200)
    (phone_id,) = (await add_hotline(db, hotline_number, [phone])).values()
    routers("hotline-router", lab=lab_b)  # the same app name, on the other Asterisk

    through_a = asyncio.ensure_future(sipp.call(lab.sip_address, hotline_number,
                                                caller="13700000001", hold_ms=4000))
    await wait_until_answered(db, hotline_number, "13700000001")
    through_b = await sipp.call(lab_b.sip_address, hotline_number, caller="13700000002",
                                hold_ms=1000)
    first = await through_a
    later_b = await sipp.call(lab_b.sip_address, hotline_number, caller="13700000003",
                              hold_ms=1000)

    assert first.result == "answered", first.errors
    assert (through_b.result, through_b.status) == ("rejected", 486), through_b.errors
    assert later_b.result == "answered", later_b.errors
    calls = {c["caller"]: c for c in await wait_for_call(db, hotline_number, count=3)}
    assert calls["13700000001"]["router_id"].endswith(f":{lab.http_port}")
    assert calls["13700000002"]["router_id"].endswith(f":{lab_b.http_port}")
    assert (calls["13700000002"]["outcome"], calls["13700000003"]["outcome"]) == (
        "busy", "answered")
    assert await legs_of(db, calls["13700000002"]["id"]) == []  # never rang the busy phone
    assert [r["result"] for r in phone.results()] == ["answered", "answered"]
    assert await db.fetchval("SELECT active_calls FROM phone_state WHERE phone_id = $1",
                             phone_id) == 0

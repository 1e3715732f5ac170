"""The live view is pushed when a call record changes, to each token its own view."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from tests.web.conftest import bearer, make_account


async def next_view(response: Any, timeout_s: float = 5.0) -> dict[str, Any]:
    while True:
        block = await asyncio.wait_for(response.content.readuntil(b"\r\n\r\n"), timeout_s)
        lines = block.decode().split("\r\n")
        if "event: view" in lines:
            data = "".join(line[6:] for line in lines if line.startswith("data: "))
            view: dict[str, Any] = json.loads(data)
            return view


async def test_a_new_call_is_pushed_to_its_customer_and_not_to_another(
        api: Any, db: Any, hotline_number: str) -> None:
    mine = await make_account(db, hotline_number)
    other = await make_account(db, "800" + hotline_number[3:])
    async with api.get("/api/v1/live/stream", headers=bearer(mine.token)) as own, \
            api.get("/api/v1/live/stream", headers=bearer(other.token)) as others:
        first = await next_view(own)
        assert all(c["hotline"] == mine.number for c in first["calls"])
        await next_view(others)
        call_id = uuid.uuid4()
        await db.execute(
            """INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id,
                                  started_at)
               SELECT $1, id, number, '13500000001', random()::text, 'r', $3 FROM hotlines
               WHERE number = $2""", call_id, mine.number, datetime.now(UTC))
        while True:  # views already queued may come first
            view = await next_view(own)
            if any(c["id"] == str(call_id) for c in view["calls"]):
                break
        (call,) = [c for c in view["calls"] if c["id"] == str(call_id)]
        assert (call["state"], call["caller"]) == ("routing", "13500000001")
        await db.execute("UPDATE calls SET ended_at = now(), outcome = 'abandoned' "
                         "WHERE id = $1", call_id)
        while any(c["id"] == str(call_id) for c in (await next_view(own))["calls"]):
            pass
        # The other customer was never shown the call.
        try:
            while True:
                seen = await next_view(others, timeout_s=0.5)
                assert all(c["id"] != str(call_id) for c in seen["calls"])
        except TimeoutError:
            pass

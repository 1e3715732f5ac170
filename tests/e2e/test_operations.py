"""What operators and admins see around real calls: live reload, metrics, readiness.

Real SIP calls through the lab Asterisk and the router process, as in
test_call_routing.py; the router is watched from the outside (/metrics,
/readyz, the CLI, the database) as an operator would.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.conftest import PhoneFactory, add_hotline, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess

pytestmark = pytest.mark.lab


async def wait_until(check: Any, timeout_s: float = 10.0, every_s: float = 0.05) -> float:
    """Seconds until ``await check()`` is truthy; fails after ``timeout_s``."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout_s, f"not within {timeout_s} s"
        await asyncio.sleep(every_s)
    return time.monotonic() - started


async def answered_and_live(db: Any, dialled: str, count: int = 1) -> bool:
    return bool(await db.fetchval(
        """SELECT count(*) = $2 FROM calls
           WHERE dialled = $1 AND answered_at IS NOT NULL AND ended_at IS NULL""",
        dialled, count))


async def test_a_plain_sql_edit_reaches_the_next_call_within_a_second(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    first, second = phones(answer_after_ms=200), phones(answer_after_ms=200)
    await add_hotline(db, hotline_number, [first])
    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=500)
    assert seen.result == "answered", seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert call["answered_dial_string"] == first.dial_string

    reloads = router.metrics().value("hotline_router_config_reloads_total")
    # An admin in psql: put a new phone first, and stop ringing the old one.
    async with db.acquire() as connection, connection.transaction():
        phone_id = await connection.fetchval(
            "INSERT INTO phones (dial_string) VALUES ($1) RETURNING id", second.dial_string)
        await connection.execute(
            """UPDATE bound_phones SET enabled = false
               WHERE hotline_id = (SELECT id FROM hotlines WHERE number = $1)""", hotline_number)
        await connection.execute(
            """INSERT INTO bound_phones (hotline_id, phone_id, position)
               SELECT id, $2, 1 FROM hotlines WHERE number = $1""", hotline_number, phone_id)
    committed = time.monotonic()

    async def reloaded() -> bool:
        return router.metrics().value("hotline_router_config_reloads_total") > reloads

    await wait_until(reloaded, timeout_s=1.0, every_s=0.01)
    latency = time.monotonic() - committed
    print(f"\nconfiguration reload latency (commit -> router reloaded): {latency * 1000:.0f} ms",
          file=sys.stderr)
    assert latency < 1.0

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=500)
    assert seen.result == "answered", seen.errors
    _, call = await wait_for_call(db, hotline_number, count=2)
    assert call["answered_dial_string"] == second.dial_string
    assert [r["result"] for r in first.results()] == ["answered"]  # rung once, before the edit


async def test_metrics_readiness_and_live_view_during_a_real_call(
        db: Any, database_url: str, lab: AsteriskLab, router: RouterProcess,
        phones: PhoneFactory, hotline_number: str) -> None:
    phone = phones(answer_after_ms=200)
    await add_hotline(db, hotline_number, [phone])
    # Other tests' phones may hold claims of their own: count from there.
    busy_elsewhere: int = await db.fetchval(
        """SELECT count(*) FROM phone_state s JOIN phones p ON p.id = s.phone_id
           WHERE s.active_calls >= p.capacity""")
    before = router.metrics()
    assert before.value("hotline_router_live_calls") == 0
    assert before.value("hotline_router_calls_total", hotline=hotline_number,
                        outcome="answered") == 0

    caller = asyncio.get_running_loop().create_task(
        sipp.call(lab.sip_address, hotline_number, caller="13700001111", hold_ms=4000))
    await wait_until(lambda: answered_and_live(db, hotline_number))

    async def phone_busy() -> bool:
        return router.metrics().value("hotline_router_busy_phones") == busy_elsewhere + 1

    await wait_until(phone_busy, timeout_s=3)  # refreshed from phone_state every 0.5 s
    during = router.metrics()
    assert during.value("hotline_router_live_calls") == 1
    assert during.value("hotline_router_ring_attempts_total", result="answered") == (
        before.value("hotline_router_ring_attempts_total", result="answered"))  # not ended yet
    assert during.value("hotline_router_routing_seconds_count") == (
        before.value("hotline_router_routing_seconds_count") + 1)
    assert during.value("hotline_router_records_spooled") == 0
    assert during.value("hotline_router_draining") == 0
    for family in ("hotline_router_ari_reconnects_total", "hotline_router_config_hotlines"):
        assert during.has(family), family
    assert router.readyz() == (200, {"ready": True, "ari_connected": True, "database": True,
                                     "recording": True, "accepting_calls": True})

    command = [sys.executable, "-m", "router", "--database-url", database_url,
               "calls", "--live", "--once", "--json"]
    live = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True,
                                   timeout=30)
    assert live.returncode == 0, live.stderr
    (shown,) = [row for row in map(json.loads, live.stdout.splitlines())
                if row["hotline"] == hotline_number]
    assert (shown["caller"], shown["state"], shown["answered_by"], shown["router_id"]) == (
        "13700001111", "talking", phone.dial_string, f"hotline-router@127.0.0.1:{lab.http_port}")
    assert shown["phones_rung"] == 1
    assert 0 < shown["seconds"] < 10

    seen = await caller
    assert seen.result == "answered", seen.errors
    await wait_for_call(db, hotline_number)

    async def settled() -> bool:
        after = router.metrics()
        return (after.value("hotline_router_live_calls") == 0
                and after.value("hotline_router_busy_phones") == busy_elsewhere)

    await wait_until(settled, timeout_s=3)
    after = router.metrics()
    assert after.value("hotline_router_calls_total", hotline=hotline_number,
                       outcome="answered") == 1
    assert after.value("hotline_router_ring_attempts_total", result="answered") == (
        before.value("hotline_router_ring_attempts_total", result="answered") + 1)

"""SIGTERM during live bridged calls: nothing is lost.

A second router process takes calls by plain Stasis(). It is sent SIGTERM
while two calls are bridged: the short one ends by itself, the long one is
hung up at the drain limit, a call arriving meanwhile is handed back to the
dialplan and taken by the other router. Every record is complete, billable
time matches what the caller's own phone measured, and no claim is left.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import PhoneFactory, add_hotline, legs_of, wait_for_call
from tests.e2e.test_call_routing import no_claims_left
from tests.e2e.test_operations import answered_and_live, wait_until
from tests.lab import asterisk, sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess

pytestmark = pytest.mark.lab

DRAINING_APP = "hotline-router-draining"
DRAIN_LIMIT_S = 4.0


@pytest.fixture
def draining_router(lab: AsteriskLab, database_url: str,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    """A router that plain Stasis() calls go to; stopped by the test itself."""
    log_path = tmp_path_factory.mktemp("draining") / "router.log"
    process = RouterProcess(lab, database_url, DRAINING_APP, log_path,
                            extra_env={"DRAIN_TIMEOUT_S": str(DRAIN_LIMIT_S)}).start()
    asterisk.set_global(lab, "ROUTER_MODE", "stasis")
    asterisk.set_global(lab, "ROUTER_APP", DRAINING_APP)
    try:
        yield process
    finally:
        asterisk.set_global(lab, "ROUTER_MODE", "broadcast")
        asterisk.set_global(lab, "ROUTER_APP", "hotline-router")
        process.stop(signal.SIGKILL)


async def test_sigterm_during_live_calls_loses_nothing(
        db: Any, lab: AsteriskLab, router: RouterProcess, draining_router: RouterProcess,
        phones: PhoneFactory) -> None:
    number, late_number = "4005000001", "4005000002"
    bound = [phones(answer_after_ms=200), phones(answer_after_ms=200)]
    ids = await add_hotline(db, number, bound)
    late_phone = phones(answer_after_ms=200)
    ids |= await add_hotline(db, late_number, [late_phone])
    assert "ROUTER_APP=hotline-router-draining" in asterisk.cli(lab, "dialplan show globals")
    draining_id = f"{DRAINING_APP}@127.0.0.1:{lab.http_port}"

    loop = asyncio.get_running_loop()
    short = loop.create_task(sipp.call(lab.sip_address, number, caller="13100000001",
                                       hold_ms=3000))
    await wait_until(lambda: answered_and_live(db, number, 1))
    long = loop.create_task(sipp.call(lab.sip_address, number, caller="13100000002",
                                      hold_ms=60_000))
    await wait_until(lambda: answered_and_live(db, number, 2))

    process = draining_router.process
    assert process is not None
    process.send_signal(signal.SIGTERM)
    sigterm_at = time.time()

    async def not_ready() -> bool:
        return draining_router.readyz()[0] == 503

    await wait_until(not_ready, timeout_s=2)
    assert draining_router.readyz()[1]["accepting_calls"] is False
    late = await sipp.call(lab.sip_address, late_number, caller="13100000003", hold_ms=1000)

    exit_code = await asyncio.to_thread(process.wait, DRAIN_LIMIT_S + 15)
    stopped_after = time.time() - sigterm_at
    seen_short, seen_long = await short, await long

    assert exit_code == 0, draining_router.log_tail()
    assert DRAIN_LIMIT_S - 0.5 < stopped_after < DRAIN_LIMIT_S + 8
    assert seen_short.result == seen_long.result == late.result == "answered"
    assert seen_short.ended_by == "local"   # the caller hung up, as it meant to
    assert seen_long.ended_by == "remote"   # the router ended it at the drain limit

    calls = {c["caller"]: c for c in await wait_for_call(db, number, count=2)}
    for seen in (seen_short, seen_long):
        call = calls[seen.caller]
        assert (call["outcome"], call["router_id"]) == ("answered", draining_id)
        assert abs(call["billable_ms"] / 1000 - seen.talk_seconds) < 0.5, call
        assert [leg["result"] for leg in await legs_of(db, call["id"])] == ["answered"]
    assert abs(calls["13100000001"]["billable_ms"] / 1000 - 3.0) < 0.5
    cut_at = calls["13100000002"]["ended_at"].timestamp()
    assert abs(cut_at - (sigterm_at + DRAIN_LIMIT_S)) < 1.0

    (handed_back,) = await wait_for_call(db, late_number)
    assert (handed_back["outcome"], handed_back["router_id"]) == (
        "answered", f"hotline-router@127.0.0.1:{lab.http_port}")
    assert handed_back["answered_dial_string"] == late_phone.dial_string

    await no_claims_left(db, ids.values())
    assert await db.fetchval(
        "SELECT count(*) FROM calls WHERE router_id = $1 AND ended_at IS NULL", draining_id) == 0
    assert await db.fetchval(
        """SELECT count(*) FROM call_legs l JOIN calls c ON c.id = l.call_id
           WHERE c.router_id = $1 AND l.ended_at IS NULL""", draining_id) == 0
    log = draining_router.log_tail(20_000)
    for line in ('"draining"', '"call handed back to the dialplan"', '"router stopped"'):
        assert line in log

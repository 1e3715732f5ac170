"""The farm proxy's rules (docker/kamailio.cfg as shipped), with sipp standing in
for the nodes: which answers of a node make it try the other one.

Each case has node X answer every INVITE one way and node Y answer 200. Two
calls are placed; the proxy hands them to the nodes in turn, so one call
reaches X first whatever the order. When X's answer is retried, that call is
answered by Y; when it is a real outcome, the caller gets it as it is.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from tests.lab import scenarios, sipp
from tests.lab.kamailio import FarmProxy

pytestmark = pytest.mark.lab


def node(tmp_path: Path, name: str, final: int, ring_first: bool = False) -> sipp.Phone:
    """A sipp node answering OPTIONS probes, and INVITEs with ``final``."""
    scenario = tmp_path / f"{name}.xml"
    scenario.write_text(scenarios.farm_node(final, ring_first))
    return sipp.Phone(scenario_file=scenario, user=name).start()


def invites(stand_in: sipp.Phone) -> list[str]:
    return [row["status"] for row in stand_in.results() if row.get("result") == "invite"]


async def two_calls(proxy: FarmProxy, prefix: str) -> list[sipp.CallResult]:
    async def one(n: int) -> sipp.CallResult:
        await asyncio.sleep(n * 0.3)
        return await sipp.call(proxy.sip_address, "4009990000", caller=f"{prefix}{n}",
                               hold_ms=300, timeout_s=20)

    return list(await asyncio.gather(one(0), one(1)))


@pytest.mark.parametrize(("final", "ring_first", "retried"), [
    (503, False, True),    # a node whose routers are all down (ROUTER_DOWN_503)
    (500, False, True),
    (408, False, True),
    (486, False, False),   # busy: a hotline's real outcome
    (480, False, False),   # no answer: a real outcome
    (503, True, False),    # it rang first: the caller has been told, no second try
])
async def test_a_node_answer_is_retried_on_the_other_node_only_for_5xx_and_408_before_ringing(
        tmp_path: Path, final: int, ring_first: bool, retried: bool) -> None:
    x = node(tmp_path, "x", final, ring_first)
    y = node(tmp_path, "y", 200)
    proxy = FarmProxy([x.port, y.port], tmp_path / "kamailio").start()
    try:
        seen = await two_calls(proxy, f"1354{final}{int(ring_first)}")
        await asyncio.sleep(0.5)  # the stand-ins log their last call
    finally:
        proxy.stop()
        x.stop()
        y.stop()
    results = sorted((s.result, s.status) for s in seen)
    moved = proxy.log_lines("goes to")
    print(f"\nnode X answers {final}{' after 180' if ring_first else ''}: callers saw "
          f"{results}, X got {invites(x)}, Y got {invites(y)}, moved {len(moved)}",
          file=sys.stderr)

    assert invites(x) == [str(final)]
    if retried:
        assert results == [("answered", None), ("answered", None)], [s.errors for s in seen]
        assert invites(y) == ["200", "200"]
        assert len(moved) == 1
    else:
        # A proxy passes a 503 on as 500 (RFC 3261, 16.7 step 6): the 503 was
        # about the node, not about the farm.
        passed_on = 500 if final == 503 else final
        assert results == [("answered", None), ("rejected", passed_on)], [s.errors for s in seen]
        assert invites(y) == ["200"]
        assert moved == []


async def test_a_silent_node_is_taken_out_and_its_call_goes_to_the_other(
        tmp_path: Path) -> None:
    y = node(tmp_path, "y", 200)
    silent = sipp.free_port_pair()[0]  # nothing listens there: no reply, no probe answered
    proxy = FarmProxy([silent, y.port], tmp_path / "kamailio").start()
    try:
        started = time.monotonic()
        seen = await two_calls(proxy, "13549999")
        calls_took_s = time.monotonic() - started
        out_at = None
        for _ in range(100):  # bounded: 10 s
            if not proxy.is_active(silent):
                out_at = time.monotonic() - started
                break
            await asyncio.sleep(0.1)
        states = proxy.node_states()
        later = await sipp.call(proxy.sip_address, "4009990000", caller="135499992",
                                hold_ms=300, timeout_s=20)
        await asyncio.sleep(0.5)
    finally:
        proxy.stop()
        y.stop()
    every = [*seen, later]
    setup = [s.t_answer - s.t_invite for s in every
             if s.t_answer is not None and s.t_invite is not None]
    print(f"\nsilent node: callers saw {[s.result for s in every]}, "
          f"answer after INVITE {[f'{t:.2f}' for t in setup]} s, two calls took "
          f"{calls_took_s:.1f} s, node out after {out_at} s, states {states}", file=sys.stderr)

    assert [s.result for s in every] == ["answered"] * 3, [s.errors for s in seen]
    assert invites(y) == ["200"] * 3
    assert states[silent].startswith("I")  # inactive, still probed
    assert out_at is not None
    assert len(proxy.log_lines("did not reply")) == 1  # the first call, then it was out
    assert setup[-1] < 1.0  # once out, no call waits for it

"""A farm: Kamailio (docker/kamailio.cfg as shipped) in front of two lab Asterisks.

Calls reach the farm's proxy, which hands them to the nodes in turn; each
node has its own router, and all routers share the phones through PostgreSQL.
The nodes refuse a call no router took with a plain 503 (ROUTER_DOWN_503),
which the proxy retries on the other node; a node that does not reply at all
is taken out until its OPTIONS probes are answered again.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.support import (
    nothing_left_open,
    over_capacity_moments,
    talked_in_full,
    tally,
    watch_capacity,
)
from tests.conftest import (
    PhoneFactory,
    RouterFactory,
    add_hotline,
    dialplan_global,
    wait_for_call,
)
from tests.lab import asterisk, sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.kamailio import FarmProxy

pytestmark = [pytest.mark.lab, pytest.mark.chaos]

# docker/kamailio.cfg: probes every 2 s, a node silent for 2 s fails the probe,
# two failed probes make it inactive. After this long a stopped node is out
# whatever calls it was offered meanwhile.
PROBE_WINDOW_S = 2 * 2 + 2


@pytest.fixture
def farm(lab: AsteriskLab, lab_b: AsteriskLab, tmp_path: Path) -> Iterator[FarmProxy]:
    """The proxy in front of both lab Asterisks, whose dialplans answer 503
    at once when no router takes a call."""
    with ExitStack() as stack:
        stack.enter_context(dialplan_global(lab, "ROUTER_DOWN_503", "yes"))
        stack.enter_context(dialplan_global(lab_b, "ROUTER_DOWN_503", "yes"))
        proxy = FarmProxy([lab.sip_port, lab_b.sip_port], tmp_path / "kamailio").start()
        stack.callback(proxy.stop)
        yield proxy


async def place_calls(proxy: FarmProxy, number: str, prefix: str, count: int,
                      spacing_s: float, hold_ms: int) -> list[sipp.CallResult]:
    """``count`` callers through the proxy, one every ``spacing_s``."""

    async def caller(n: int) -> sipp.CallResult:
        await asyncio.sleep(n * spacing_s)
        return await sipp.call(proxy.sip_address, number, caller=f"{prefix}{n:04d}",
                               hold_ms=hold_ms, timeout_s=60)

    return list(await asyncio.gather(*(caller(n) for n in range(count))))


def node_of(record: Any, lab: AsteriskLab, lab_b: AsteriskLab) -> str:
    """Which Asterisk's router took the call (its router id ends with the ARI port)."""
    for node in (lab, lab_b):
        if record["router_id"].endswith(f":{node.http_port}"):
            return node.name
    raise AssertionError(f"router {record['router_id']} is on neither lab Asterisk")


async def test_calls_spread_over_both_asterisks_and_their_routers_share_the_phones(
        db: Any, lab: AsteriskLab, lab_b: AsteriskLab, farm: FarmProxy,
        routers: RouterFactory, phones: PhoneFactory, hotline_number: str) -> None:
    calls, bound = 30, 4
    ids = list((await add_hotline(db, hotline_number,
                                  [phones(answer_after_ms=200) for _ in range(bound)])).values())
    routers("hotline-router-farm-a", lab=lab)
    routers("hotline-router-farm-b", lab=lab_b)

    stop = asyncio.Event()
    watcher = asyncio.ensure_future(watch_capacity(db, ids, stop))
    try:
        seen = await place_calls(farm, hotline_number, "1351000", calls, 0.1, 1500)
        # Busy is a hotline's real outcome: passed to the caller, never retried.
        assert all((s.result, s.status) in (("answered", None), ("rejected", 486))
                   for s in seen), [(s.caller, s.result, s.status, s.errors[-500:])
                                    for s in seen]
        records = await wait_for_call(db, hotline_number, count=calls)
    finally:
        stop.set()
        worst_excess = await watcher

    figures = await tally(db, hotline_number, seen)
    by_node = Counter(node_of(r, lab, lab_b) for r in records)
    outcomes = Counter(r["outcome"] for r in records)
    retried = farm.log_lines("goes to")
    print(figures.line("farm spread") + f", by node {dict(by_node)}, outcomes {dict(outcomes)}, "
          f"sipp answered {sum(s.result == 'answered' for s in seen)}, "
          f"calls the proxy moved to another node {len(retried)}, "
          f"worst sampled excess over capacity {worst_excess}", file=sys.stderr)

    assert retried == []
    assert figures.callers_without_one_record == []
    assert figures.open_records == figures.claims_left == 0
    assert figures.over_capacity == 0
    assert worst_excess <= 0
    assert figures.billing_error_s < 0.5
    assert min(by_node[lab.name], by_node[lab_b.name]) >= calls // 3  # round robin
    assert outcomes["answered"] == sum(s.result == "answered" for s in seen) >= bound
    assert outcomes["answered"] + outcomes["busy"] == calls


async def test_one_asterisk_stopped_mid_traffic_new_calls_go_to_the_other(
        db: Any, lab: AsteriskLab, lab_b: AsteriskLab, farm: FarmProxy,
        routers: RouterFactory, phones: PhoneFactory, hotline_number: str) -> None:
    calls, spacing_s, hold_ms, stop_after = 100, 0.25, 1000, 20
    # Enough phones for every caller: a busy caller would be a failure here.
    bound = [phones(answer_after_ms=100) for _ in range(14)]
    ids = list((await add_hotline(db, hotline_number, bound)).values())
    routers("hotline-router-farm-a", lab=lab)
    router_b = routers("hotline-router-farm-b", lab=lab_b)

    async def stop_b() -> tuple[float, float | None]:
        """Stop Asterisk B mid-traffic; when it stopped and when the proxy took it out."""
        await asyncio.sleep(stop_after * spacing_s)
        stopped_at = time.time()  # SIGTERM now, SIGKILL 2 s later (asterisk.stop)
        await asyncio.to_thread(asterisk.stop, lab_b)
        for _ in range(200):  # bounded: 20 s
            if not await asyncio.to_thread(farm.is_active, lab_b.sip_port):
                return stopped_at, time.time()
            await asyncio.sleep(0.1)
        return stopped_at, None

    try:
        stopper = asyncio.ensure_future(stop_b())
        seen = await place_calls(farm, hotline_number, "1352000", calls, spacing_s, hold_ms)
        stopped_at, out_at = await stopper
    finally:
        restart_began = time.monotonic()
        await asyncio.to_thread(asterisk.up, lab_b)
    # Asterisk B is back: the proxy's probes take it in again, its router
    # reconnects and closes the calls that ended meanwhile. Seconds after the
    # restart began, for each.
    back: dict[str, float] = {"asterisk": time.monotonic() - restart_began}
    for _ in range(400):  # bounded: 40 s
        since = time.monotonic() - restart_began
        if "router" not in back and await asyncio.to_thread(router_b.ready):
            back["router"] = since
        if "proxy" not in back and await asyncio.to_thread(farm.is_active, lab_b.sip_port):
            back["proxy"] = since
        if "records" not in back and await db.fetchval(
                "SELECT count(*) FROM calls WHERE dialled = $1 AND ended_at IS NULL",
                hotline_number) == 0:
            back["records"] = since
        if len(back) == 4:
            break
        await asyncio.sleep(0.1)

    after = [s for s in seen if s.t_invite is not None
             and s.t_invite >= stopped_at + PROBE_WINDOW_S]
    succeeded = [s for s in after if s.result == "answered"]
    # Calls Asterisk B had when it stopped: cut off with it.
    cut = [s for s in seen if s.t_invite is not None and s.t_invite < stopped_at
           and not talked_in_full(s, hold_ms)]
    meanwhile = [s for s in seen if s.t_invite is not None
                 and stopped_at <= s.t_invite < stopped_at + PROBE_WINDOW_S]
    setup = [s.t_answer - s.t_invite for s in seen
             if s.t_invite is not None and s.t_invite >= stopped_at and s.t_answer is not None]
    every_record = await db.fetch("SELECT * FROM calls WHERE dialled = $1", hotline_number)
    records = {r["caller"]: r for r in every_record}
    figures = await tally(db, hotline_number, [s for s in seen if s not in cut])
    silent = farm.log_lines("did not reply")
    print(f"\nfarm, Asterisk B stopped after {stop_after} of {calls} calls: "
          f"taken out by the proxy {out_at - stopped_at if out_at else float('nan'):.2f} s "
          f"after it stopped; calls placed in the {PROBE_WINDOW_S} s after the stop "
          f"{len(meanwhile)}, answered {sum(s.result == 'answered' for s in meanwhile)}; "
          f"placed after {len(after)}, answered {len(succeeded)} "
          f"({100 * len(succeeded) / max(1, len(after)):.1f} %); cut off with B {len(cut)}; "
          f"answer after INVITE since the stop median {statistics.median(setup):.2f} s, "
          f"max {max(setup):.2f} s; proxy saw B silent {len(silent)} times; "
          f"after B's restart began (s): {', '.join(f'{k} back {v:.1f}' for k, v in back.items())}"
          + figures.line("; calls not cut"), file=sys.stderr)

    assert out_at is not None, farm.node_states()
    assert out_at - stopped_at <= PROBE_WINDOW_S + 1
    assert len(after) >= 40
    assert len(succeeded) >= 0.99 * len(after), [
        (s.caller, s.result, s.status, s.errors[-300:]) for s in after if s.result != "answered"]
    assert all(node_of(records[s.caller], lab, lab_b) == lab.name for s in after)
    assert all(node_of(records[s.caller], lab, lab_b) == lab_b.name for s in cut)
    # Every call one record, closed, no claim left, never above capacity.
    per_caller = Counter(r["caller"] for r in every_record)
    assert all(per_caller[s.caller] == 1 for s in seen), [
        (s.caller, s.result, s.status, s.t_invite and round(s.t_invite - stopped_at, 2),
         round(s.talk_seconds, 2), s.errors[-300:],
         [(r["router_id"], r["outcome"], r["started_at"], r["ended_at"], r["reconciled_at"])
          for r in every_record if r["caller"] == s.caller])
        for s in seen if per_caller[s.caller] != 1]
    await nothing_left_open(db, hotline_number)
    assert await over_capacity_moments(db, hotline_number) == 0
    assert figures.billing_error_s < 0.5, figures.worst
    assert await db.fetchval("SELECT count(*) FROM phone_claims WHERE phone_id = ANY($1)",
                             ids) == 0
    assert farm.is_active(lab_b.sip_port), farm.node_states()


async def test_all_routers_of_one_node_stopped_its_calls_fail_over_to_the_other(
        db: Any, lab: AsteriskLab, lab_b: AsteriskLab, farm: FarmProxy,
        routers: RouterFactory, phones: PhoneFactory, hotline_number: str) -> None:
    calls = 30
    # Enough phones for every caller: a busy caller would be a failure here.
    await add_hotline(db, hotline_number, [phones(answer_after_ms=100) for _ in range(10)])
    routers("hotline-router-farm-a", lab=lab)
    routers("hotline-router-farm-b", lab=lab_b).stop()  # node B keeps no router

    seen = await place_calls(farm, hotline_number, "1353000", calls, 0.25, 1000)
    records = await wait_for_call(db, hotline_number, count=calls)

    figures = await tally(db, hotline_number, seen)
    moved = farm.log_lines("goes to")
    setup = [s.t_answer - s.t_invite for s in seen
             if s.t_answer is not None and s.t_invite is not None]
    by_node = Counter(node_of(r, lab, lab_b) for r in records)
    print(figures.line("farm, node B without routers")
          + f", answered {sum(s.result == 'answered' for s in seen)} of {calls}, "
          f"moved by the proxy from B to A {len(moved)}, by node {dict(by_node)}, "
          f"answer after INVITE median {statistics.median(setup):.2f} s, "
          f"max {max(setup):.2f} s", file=sys.stderr)

    assert all(talked_in_full(s, 1000) for s in seen), [
        (s.caller, s.result, s.status, s.errors[-300:]) for s in seen if s.result != "answered"]
    assert by_node == {lab.name: calls}
    # About half the calls went to B first (round robin) and came back with 503.
    assert calls // 3 <= len(moved) <= calls - calls // 3, moved
    assert all("503 from" in line for line in moved), moved
    assert figures.callers_without_one_record == []
    assert figures.open_records == figures.claims_left == figures.over_capacity == 0
    assert figures.billing_error_s < 0.5
    # The proxy took no node out: B answered its probes all along.
    assert farm.is_active(lab_b.sip_port)
    assert farm.log_lines("did not reply") == []


async def test_a_phone_hanging_up_ends_the_caller_through_the_proxy(
        db: Any, lab: AsteriskLab, lab_b: AsteriskLab, farm: FarmProxy,
        routers: RouterFactory, phones: PhoneFactory, hotline_number: str) -> None:
    # The node's BYE to the caller follows the dialog's route set, through the proxy.
    await add_hotline(db, hotline_number,
                      [phones(answer_after_ms=100, hangup_after_ms=800) for _ in range(2)])
    routers("hotline-router-farm-a", lab=lab)
    routers("hotline-router-farm-b", lab=lab_b)

    seen = await place_calls(farm, hotline_number, "1355000", 2, 0.3, 5000)
    records = await wait_for_call(db, hotline_number, count=2)

    by_node = Counter(node_of(r, lab, lab_b) for r in records)
    print(f"\nfarm, phones hang up: callers saw {[(s.result, s.ended_by) for s in seen]}, "
          f"talked {[round(s.talk_seconds, 2) for s in seen]} s, billed "
          f"{[r['billable_ms'] for r in records]} ms, by node {dict(by_node)}", file=sys.stderr)

    assert [(s.result, s.ended_by) for s in seen] == [("answered", "remote")] * 2, [
        s.errors for s in seen]
    assert by_node == {lab.name: 1, lab_b.name: 1}
    billed = {r["caller"]: r["billable_ms"] / 1000 for r in records}
    assert all(abs(billed[s.caller] - s.talk_seconds) < 0.5 for s in seen)
    assert all(s.talk_seconds < 2.0 for s in seen)  # not the caller's 5 s hold

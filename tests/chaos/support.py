"""What the chaos tests check after breaking something: nothing lost or doubled."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from router import admin, migrate
from router import db as router_db
from tests.conftest import DAEMON_LOGIN
from tests.lab import sipp
from tests.lab.postgres import PrivatePostgres


def max_concurrent(intervals: list[tuple[Any, Any]]) -> int:
    """Most intervals open at once (one ending as another starts does not overlap)."""
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
                    key=lambda point: (point[0], point[1]))
    open_now = peak = 0
    for _, step in points:
        open_now += step
        peak = max(peak, open_now)
    return peak


async def peak_calls_per_phone(db: Any, dialled: str) -> int:
    legs = await db.fetch(
        """SELECT l.phone_id, l.dial_started_at, l.ended_at FROM call_legs l
           JOIN calls c ON c.id = l.call_id
           WHERE c.dialled = $1 AND l.phone_id IS NOT NULL""", dialled)
    per_phone: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
    for leg in legs:
        per_phone[leg["phone_id"]].append((leg["dial_started_at"], leg["ended_at"]))
    return max((max_concurrent(spans) for spans in per_phone.values()), default=0)


async def watch_capacity(db: Any, phone_ids: list[int], stop: asyncio.Event) -> int:
    """Sample the shared busy state until ``stop``; the worst excess over capacity seen."""
    worst = 0
    while not stop.is_set():
        excess = await db.fetchval(
            """SELECT coalesce(max(s.active_calls - p.capacity), 0)
               FROM phone_state s JOIN phones p ON p.id = s.phone_id
               WHERE p.id = ANY($1)""", phone_ids)
        worst = max(worst, excess)
        await asyncio.sleep(0.02)
    return worst


async def nothing_left_open(db: Any, dialled: str) -> None:
    """Every record closed, every claim released."""
    assert await db.fetchval(
        "SELECT count(*) FROM calls WHERE dialled = $1 AND ended_at IS NULL", dialled) == 0
    assert await db.fetchval(
        """SELECT count(*) FROM call_legs l JOIN calls c ON c.id = l.call_id
           WHERE c.dialled = $1 AND l.ended_at IS NULL""", dialled) == 0
    assert await db.fetchval(
        """SELECT count(*) FROM phone_claims k JOIN bound_phones b ON b.phone_id = k.phone_id
           JOIN hotlines h ON h.id = b.hotline_id WHERE h.number = $1""", dialled) == 0


def talked_in_full(seen: sipp.CallResult, hold_ms: int) -> bool:
    """The caller's bridged call lasted its whole hold and the caller ended it."""
    return (seen.result == "answered" and seen.ended_by == "local"
            and abs(seen.talk_seconds - hold_ms / 1000) < 0.5)


async def over_capacity_moments(db: Any, dialled: str, capacity: int = 1) -> int:
    """Moments (each leg's start, by Asterisk's times) at which its phone had more
    legs open than ``capacity``: 0 means never above capacity."""
    legs = await db.fetch(
        """SELECT l.phone_id, l.dial_started_at, l.ended_at FROM call_legs l
           JOIN calls c ON c.id = l.call_id
           WHERE c.dialled = $1 AND l.phone_id IS NOT NULL""", dialled)
    per_phone: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
    for leg in legs:
        per_phone[leg["phone_id"]].append((leg["dial_started_at"], leg["ended_at"]))
    moments = 0
    for spans in per_phone.values():
        for at, _ in spans:
            open_then = sum(1 for start, end in spans if start <= at and (end is None or at < end))
            moments += open_then > capacity
    return moments


@dataclass(frozen=True)
class Tally:
    """What one chaos scenario measured: the figures of its report line."""

    offered: int
    records: int
    callers_without_one_record: list[str]
    open_records: int
    claims_left: int
    over_capacity: int
    billing_error_s: float
    worst: str = ""  # the caller billed furthest from what it saw

    def line(self, scenario: str) -> str:
        return (f"\n{scenario}: calls offered {self.offered}, records written {self.records} "
                f"(expected {self.offered}), callers without exactly one record "
                f"{len(self.callers_without_one_record)}, open records {self.open_records}, "
                f"claims left {self.claims_left}, over-capacity samples {self.over_capacity}, "
                f"max billing error {self.billing_error_s:.3f} s"
                + (f" (caller {self.worst})" if self.worst else ""))


async def tally(db: Any, dialled: str, seen: list[sipp.CallResult]) -> Tally:
    """Every placed call against the records: one record each, none open, no
    claim left, never above capacity, billing against what the caller's sipp saw."""
    records = await db.fetch("SELECT * FROM calls WHERE dialled = $1", dialled)
    per_caller = Counter(r["caller"] for r in records)
    billed = {r["caller"]: r for r in records}
    off, worst = 0.0, ""
    for call in seen:
        record = billed.get(call.caller)
        talked = call.talk_seconds if call.result == "answered" else 0.0
        if record is not None and (talked or record["billable_ms"]):
            error = abs((record["billable_ms"] or 0) / 1000 - talked)
            if error > off:
                off, worst = error, call.caller
    return Tally(
        offered=len(seen), records=len(records),
        callers_without_one_record=[c.caller for c in seen if per_caller[c.caller] != 1],
        open_records=await db.fetchval(
            "SELECT count(*) FROM calls WHERE dialled = $1 AND ended_at IS NULL", dialled),
        claims_left=await db.fetchval(
            """SELECT count(*) FROM phone_claims k JOIN bound_phones b ON b.phone_id = k.phone_id
               JOIN hotlines h ON h.id = b.hotline_id WHERE h.number = $1""", dialled),
        over_capacity=await over_capacity_moments(db, dialled),
        billing_error_s=off, worst=worst if off >= 0.5 else "")


def assert_nothing_lost(figures: Tally) -> None:
    assert figures.callers_without_one_record == []
    assert figures.records == figures.offered
    assert figures.open_records == 0
    assert figures.claims_left == 0
    assert figures.over_capacity == 0
    assert figures.billing_error_s < 0.5


async def prepare_private(server: PrivatePostgres, hotline: str, phones: list[sipp.Phone],
                          strategy: str = "sequential") -> Any:
    """The schema, the daemon's login and one hotline with ``phones`` on a
    private PostgreSQL (which a test may stop, or whose sessions it may kill);
    an admin pool on it."""
    admin_connection = await router_db.connect(server.url())
    await admin_connection.execute("CREATE DATABASE hotline_router")
    await admin_connection.close()
    connection = await router_db.connect(server.url("hotline_router"))
    try:
        await migrate.migrate(connection)
        await connection.execute(f"CREATE ROLE {DAEMON_LOGIN} LOGIN IN ROLE hotline_router_daemon")
    finally:
        await connection.close()
    pool = await router_db.connect_pool(server.url("hotline_router"), min_size=1, max_size=4)
    await admin.add_hotline(pool, hotline, strategy, ring_timeout_s=5)
    for phone in phones:
        await admin.add_phone(pool, hotline, phone.dial_string)
    return pool


async def inconsistent_records(db: Any, dialled: str) -> list[str]:
    """Each call of ``dialled`` whose record disagrees with itself, as one line why.

    A call is consistent when its outcome agrees with its legs: ``answered``
    exactly when it has an answer time, one leg ``answered`` at that time and
    by that phone; otherwise nothing billable. Every leg that ended
    ``answered`` keeps its answer time, and one answered without a bridge only
    when the caller left at that moment (``abandoned``).
    """
    calls = await db.fetch(
        """SELECT id, caller, outcome, answered_at, answered_phone_id, caller_answered_at,
                  billable_ms FROM calls WHERE dialled = $1""", dialled)
    legs = await db.fetch(
        """SELECT l.call_id, l.phone_id, l.result, l.answered_at, l.purpose FROM call_legs l
           JOIN calls c ON c.id = l.call_id WHERE c.dialled = $1""", dialled)
    by_call: dict[Any, list[Any]] = defaultdict(list)
    for leg in legs:
        by_call[leg["call_id"]].append(leg)
    wrong = []
    for call in calls:
        mine = by_call[call["id"]]
        # The leg that connected the call: answered, or answered and later
        # transferred by its phone; a transfer's (or a consultation's) target
        # answers as a leg too.
        answered = [leg for leg in mine if leg["result"] in ("answered", "transferred")
                    and leg["purpose"] not in ("transfer", "consult")]
        targets = [leg for leg in mine if leg["result"] == "answered"
                   and leg["purpose"] in ("transfer", "consult")]
        why = []
        if any(leg["answered_at"] is None for leg in answered + targets):
            why.append("a leg answered with no answer time")
        if (call["outcome"] == "answered") != (call["answered_at"] is not None):
            why.append(f"outcome {call['outcome']} with answered_at {call['answered_at']}")
        if call["outcome"] == "answered":
            if [(leg["answered_at"], leg["phone_id"]) for leg in answered] != [
                    (call["answered_at"], call["answered_phone_id"])]:
                why.append(f"answered, but its answered legs are {answered}")
        else:
            if call["billable_ms"] or call["caller_answered_at"] is not None:
                why.append(f"{call['outcome']} but billable {call['billable_ms']} ms, "
                           f"caller answered at {call['caller_answered_at']}")
            if answered and call["outcome"] != "abandoned":
                why.append(f"{call['outcome']} with an answered leg")
        if why:
            wrong.append(f"call from {call['caller']}: " + "; ".join(why))
    return wrong

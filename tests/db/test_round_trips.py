"""Database round trips of one answered call, counted against the real PostgreSQL.

The call core runs as in the router (router/call/) against the scripted
Asterisk (tests/unit/scripted_ari.py) and the real :class:`~router.store.Store`
on a real database, through a pool that counts every statement it is sent.
Each statement is one round trip (the pool sends no reset statement,
router/db.py). A statement counts as the call's routing decision when the
call itself sends it before its first phone is dialled; the
records, written behind the call by its recorder, are counted apart.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import Counter
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from router.call import start_call
from router.directory import Snapshot, load_snapshot
from router.records.kinds import AnyRecord
from router.spool import Spool
from router.store import Store
from tests.unit.call_harness import CallLab
from tests.unit.scripted_ari import Phone

STATEMENTS = ("fetch", "fetchval", "fetchrow", "execute", "executemany")
# The record a statement writes (None: the call's routing asks it).
WRITING: contextvars.ContextVar[str | None] = contextvars.ContextVar("writing", default=None)


class CountingStore(Store):
    """The real store; its record writes marked as such for the count."""

    async def write(self, record: AnyRecord) -> None:
        token = WRITING.set(type(record).__name__)
        try:
            await super().write(record)
        finally:
            WRITING.reset(token)


class CountingPool:
    """An asyncpg pool that counts the statements sent through it: records by
    kind, and the call's own (routing) statements.

    ``before_ring`` is frozen by :meth:`ringing` (the first phone dialled):
    what the call's own task sent until then is its routing decision.
    """

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.records: Counter[str] = Counter()
        self.call_statements: list[str] = []
        self.before_ring: list[str] | None = None

    def _count(self, sql: str) -> None:
        record = WRITING.get()
        if record is not None:
            self.records[record] += 1
        else:
            self.call_statements.append(" ".join(sql.split()))

    def ringing(self) -> None:
        if self.before_ring is None:
            self.before_ring = list(self.call_statements)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.pool, name)
        if name not in STATEMENTS:
            return method

        async def counted(sql: str, *args: Any, **kwargs: Any) -> Any:
            self._count(sql)
            return await method(sql, *args, **kwargs)

        return counted


async def seed(db: Any, strategy: str, phones: int) -> tuple[str, list[str]]:
    """A hotline of ``phones`` phones with this strategy; its number and dial strings."""
    tag = uuid4().hex[:8]
    number = "4007" + str(int(tag, 16) % 10**6).zfill(6)
    hotline_id = await db.fetchval(
        "INSERT INTO hotlines (number, strategy, name) VALUES ($1, $2, 'round trips') "
        "RETURNING id", number, strategy)
    dials = [f"PJSIP/phones/sip:rt-{tag}-{n}@127.0.0.1:5999" for n in range(phones)]
    for position, dial in enumerate(dials, start=1):
        phone_id = await db.fetchval(
            "INSERT INTO phones (dial_string) VALUES ($1) RETURNING id", dial)
        await db.execute("INSERT INTO bound_phones (hotline_id, phone_id, position) "
                         "VALUES ($1, $2, $3)", hotline_id, phone_id, position)
    return number, dials


async def one_call(db: Any, tmp_path: Path, strategy: str) -> CountingPool:
    """Place one call that the first phone answers; what it sent to the database."""
    number, dials = await seed(db, strategy, phones=3)
    snapshot = await load_snapshot(db)
    counting = CountingPool(db)
    lab = CallLab(tmp_path, [], {dial: Phone(answer_after_s=0.05, talk_s=0.2)
                                 for dial in dials})

    def current() -> Snapshot:
        return snapshot

    services: Any = lab  # the router's services, with the real store
    services.store = CountingStore(counting, lab.router_id,
                                   Spool(tmp_path / "spool", lab.router_id),
                                   snapshot=current, fresh_snapshot=current)
    dial = lab.ari.dial

    async def dialled(*args: Any, **kwargs: Any) -> Any:
        counting.ringing()
        return await dial(*args, **kwargs)

    lab.ari.dial = dialled
    # A caller channel of its own: one call record per caller channel (migration 0014).
    start_call(lab, lab.ari.add_caller(f"rt-{uuid4().hex}", "13800138000", number), number,
               lab.now())
    await asyncio.wait_for(lab.all_ended(), 10)
    assert await db.fetchval(
        "SELECT count(*) FROM calls c JOIN hotlines h ON h.id = c.hotline_id "
        "WHERE h.number = $1 AND c.outcome = 'answered'", number) == 1
    assert await db.fetchval(
        "SELECT count(*) FROM phone_claims c JOIN bound_phones b ON b.phone_id = c.phone_id "
        "JOIN hotlines h ON h.id = b.hotline_id WHERE h.number = $1", number) == 0
    return counting


@pytest.mark.parametrize("strategy", ["sequential", "round_robin", "simultaneous"])
async def test_an_answered_call_decides_in_one_round_trip(
        db: Any, tmp_path: Path, strategy: str) -> None:
    counting = await one_call(db, tmp_path, strategy)
    before_ring = counting.before_ring or []
    print(f"\n{strategy}: before the first ring {len(before_ring)} "
          f"{[sql[:40] for sql in before_ring]}; "
          f"routing in all {len(counting.call_statements)}; records {dict(counting.records)}, "
          f"{sum(counting.records.values())} in all")
    assert len(before_ring) == 1, before_ring
    assert "claim_in_order(" in before_ring[0]
    # Nothing else on the call's own path: the release goes with the records.
    assert counting.call_statements == before_ring

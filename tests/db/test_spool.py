"""The record spool: typed records replayed in checkpointed batches, past
records the database refuses, whole again after a crash tore its last line,
and the untyped lines of earlier versions still replayed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from router.records import AnyRecord, CallEnded, CallStarted, LegResult, LegStarted, Outcome
from router.records.kinds import LegEnded
from router.spool import Spool

T0 = datetime(2026, 11, 29, 8, 0, 0, 123000, tzinfo=UTC)


def started(call_id: UUID, n: int) -> CallStarted:
    return CallStarted(call_id, None, "4000000000", f"1380000{n:04d}", f"chan-{call_id}",
                       "router-spool-test", T0 + timedelta(seconds=n))


async def callers_of(db: Any, ids: list[UUID]) -> list[str]:
    rows = await db.fetch("SELECT caller FROM calls WHERE id = ANY($1) ORDER BY started_at",
                          ids)
    return [row["caller"] for row in rows]


async def test_a_refused_record_is_set_aside_and_the_replay_resumes_at_its_checkpoint(
        db: Any, tmp_path: Path) -> None:
    ids = [uuid4() for _ in range(6)]
    spool = Spool(tmp_path, "router-1")
    for n in range(5):
        spool.append(started(ids[n], n))
    # A leg of a call that does not exist: the foreign key refuses it.
    orphan = LegStarted(uuid4(), uuid4(), None, "PJSIP/x", 1, T0)
    spool.append(orphan)
    spool.append(started(ids[5], 5))
    assert spool.pending == 7

    assert await spool.replay(db, batch=3) == 3
    assert await callers_of(db, ids) == ["13800000000", "13800000001", "13800000002"]
    spool = Spool(tmp_path, "router-1")  # the router restarted between two batches
    assert spool.pending == 4
    assert await spool.replay(db, batch=100) == 4

    assert await callers_of(db, ids) == [f"1380000{n:04d}" for n in range(6)]
    assert spool.pending == 0
    assert not spool.replaying.exists()
    assert not spool.checkpoint.exists()
    rejected = [json.loads(line) for line in spool.rejected.read_text().splitlines()]
    assert [(r["kind"], r["leg_id"]) for r in rejected] == [("leg_started", str(orphan.leg_id))]


async def test_a_torn_last_line_costs_only_itself(db: Any, tmp_path: Path) -> None:
    ids = [uuid4(), uuid4()]
    spool = Spool(tmp_path, "router-1")
    spool.append(started(ids[0], 1))
    with spool.path.open("a", encoding="utf-8") as journal:
        journal.write('{"kind": "call_started", "call_id": "')  # the router died here

    spool = Spool(tmp_path, "router-1")
    spool.append(started(ids[1], 2))
    assert spool.pending == 2
    assert await spool.replay(db) == 2
    assert await callers_of(db, ids) == ["13800000001", "13800000002"]


async def test_records_come_back_as_the_same_typed_records(tmp_path: Path) -> None:
    replayed: list[Any] = []

    async def keep(db: Any, record: Any) -> None:
        replayed.append(record)

    written: list[AnyRecord] = [started(uuid4(), 7),
               LegEnded(uuid4(), T0, LegResult.NO_ANSWER, None),
               CallEnded(uuid4(), T0 + timedelta(milliseconds=1), Outcome.ABANDONED, True)]
    spool = Spool(tmp_path, "router-1", keep)
    for record in written:
        spool.append(record)
    await spool.replay(None)
    assert replayed == written


async def test_a_spool_of_the_untyped_format_still_replays(db: Any, tmp_path: Path) -> None:
    """Lines an earlier version wrote ({"write": name, "args": [...]}) replay as records."""
    call_id, leg_id = uuid4(), uuid4()
    lines = [
        {"write": "call_started", "args": [
            {"uuid": str(call_id)}, None, "4000000001", "13900000000", "chan-legacy",
            "router-legacy", {"time": T0.isoformat()}]},
        {"write": "leg_started", "args": [
            {"uuid": str(leg_id)}, {"uuid": str(call_id)}, None, "PJSIP/legacy", 1,
            {"time": T0.isoformat()}, "phone"]},
        {"write": "leg_ended", "args": [
            {"uuid": str(leg_id)}, {"time": (T0 + timedelta(seconds=3)).isoformat()},
            "no-answer", 18]},
        {"write": "release", "args": [{"uuid": str(leg_id)}, None]},
        {"write": "call_ended", "args": [
            {"uuid": str(call_id)}, {"time": (T0 + timedelta(seconds=4)).isoformat()},
            "no-answer", False]},
    ]
    (tmp_path / "router-legacy.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in lines))
    spool = Spool(tmp_path, "router-legacy")
    assert spool.pending == 5
    assert await spool.replay(db) == 5
    assert not spool.rejected.exists()
    call = await db.fetchrow("SELECT outcome, ended_at FROM calls WHERE id = $1", call_id)
    leg = await db.fetchrow("SELECT result, hangup_cause, ended_at FROM call_legs WHERE id = $1",
                            leg_id)
    assert (call["outcome"], call["ended_at"]) == ("no-answer", T0 + timedelta(seconds=4))
    assert (leg["result"], leg["hangup_cause"], leg["ended_at"]) == (
        "no-answer", 18, T0 + timedelta(seconds=3))

"""The record spool: replayed in checkpointed batches, past writes the database
refuses, and whole again after a crash tore its last line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from router.spool import Spool


def spool_with_log(folder: Path, ran: list[int]) -> Spool:
    async def note(db: Any, n: int) -> None:
        ran.append(await db.fetchval("SELECT $1::int", n))

    async def refused(db: Any, n: int) -> None:  # a data error, as a deleted row would give
        await db.execute("SELECT 1 / ($1::int - $1::int)", n)

    return Spool(folder, "router-1", {"note": note, "refused": refused})


async def test_a_refused_write_is_set_aside_and_the_replay_resumes_at_its_checkpoint(
        db: Any, tmp_path: Path) -> None:
    ran: list[int] = []
    spool = spool_with_log(tmp_path, ran)
    for n in range(5):
        spool.append("note", n)
    spool.append("refused", 99)
    spool.append("note", 5)
    assert spool.pending == 7

    assert await spool.replay(db, batch=3) == 3
    assert ran == [0, 1, 2]
    spool = spool_with_log(tmp_path, ran)  # the router restarted between two batches
    assert spool.pending == 4
    assert await spool.replay(db, batch=100) == 4

    assert ran == [0, 1, 2, 3, 4, 5]
    assert spool.pending == 0
    assert not spool.replaying.exists()
    assert not spool.checkpoint.exists()
    rejected = [json.loads(line) for line in spool.rejected.read_text().splitlines()]
    assert rejected == [{"write": "refused", "args": [99]}]


async def test_a_torn_last_line_costs_only_itself(db: Any, tmp_path: Path) -> None:
    ran: list[int] = []
    spool = spool_with_log(tmp_path, ran)
    spool.append("note", 1)
    with spool.path.open("a", encoding="utf-8") as journal:
        journal.write('{"write": "note", "ar')  # the router died inside this write

    spool = spool_with_log(tmp_path, ran)
    spool.append("note", 2)
    assert spool.pending == 2
    assert await spool.replay(db) == 2
    assert ran == [1, 2]

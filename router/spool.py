"""A local, durable journal of database writes, for when PostgreSQL is away.

Each write is one JSON line, flushed and fsync'ed before the call goes on,
so a record survives the router dying while the database is down. Replaying
runs the same record functions in the same order; they are idempotent (inserts
ignore an existing id, closes only close what is open), so a replay cut short
by a crash is simply replayed again: nothing is lost, nothing doubled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import structlog

log = structlog.get_logger("router.spool")

Write = Callable[..., Awaitable[Any]]


def _encode(value: Any) -> Any:
    if isinstance(value, UUID):
        return {"uuid": str(value)}
    if isinstance(value, datetime):
        return {"time": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        if "uuid" in value:
            return UUID(value["uuid"])
        if "time" in value:
            return datetime.fromisoformat(value["time"])
    return value


class Spool:
    """Writes waiting for the database, in order, in ``<folder>/<router>.jsonl``."""

    def __init__(self, folder: Path, router_id: str, writes: dict[str, Write]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in router_id)
        self.path = folder / f"{safe}.jsonl"
        # A replay works on its own copy, so writes journaled meanwhile are kept.
        self.replaying = folder / f"{safe}.replaying.jsonl"
        self._writes = writes
        self.pending = sum(1 for _ in self._lines(self.replaying)) + sum(
            1 for _ in self._lines(self.path))

    def append(self, write: str, *args: Any) -> None:
        """Journal one write durably (it runs on the database later)."""
        if write not in self._writes:
            raise ValueError(f"not a spoolable write: {write}")
        line = json.dumps({"write": write, "args": [_encode(a) for a in args]})
        with self.path.open("a", encoding="utf-8") as journal:
            journal.write(line + "\n")
            journal.flush()
            os.fsync(journal.fileno())
        self.pending += 1

    async def replay(self, db: Any) -> int:
        """Run the journaled writes on ``db`` in order; the count replayed.

        Writes journaled while this runs wait for the next replay. A failure
        stops the replay and keeps what is left (a later replay starts that
        part again from the top; the writes are idempotent).
        """
        if not self.replaying.exists():
            if not self.path.exists():
                return 0
            self.path.rename(self.replaying)
        done = 0
        for entry in self._lines(self.replaying):
            await self._writes[entry["write"]](db, *[_decode(a) for a in entry["args"]])
            done += 1
        self.replaying.unlink(missing_ok=True)
        self.pending = max(0, self.pending - done)
        log.info("spooled writes replayed", writes=done, still_pending=self.pending)
        return done

    @staticmethod
    def _lines(path: Path) -> Iterator[dict[str, Any]]:
        if not path.exists():
            return
        with path.open(encoding="utf-8") as journal:
            for number, line in enumerate(journal, start=1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except ValueError:
                    # Only a last line can be torn, by a crash while writing it: the
                    # write never returned, and reconciliation finishes that call.
                    log.error("torn spool line skipped", path=str(path), line=number)

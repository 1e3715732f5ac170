"""A local, durable journal of database writes, for when PostgreSQL is away.

Each write is one JSON line, flushed and fsync'ed before the call goes on,
so a record survives the router dying while the database is down. Replaying
runs the same record functions in the same order, in batches whose end is
checkpointed; they are idempotent (inserts ignore an existing id, closes only
close what is open), so a batch cut short by a crash is simply replayed again:
nothing is lost, nothing doubled. A write the database refuses (a row it
depends on was deleted meanwhile) cannot succeed later either: it is set aside
in ``<router>.rejected.jsonl`` with an error in the log, and the replay goes on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
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
        # A replay works on its own copy, so writes journaled meanwhile are kept;
        # the offset file says how far it got.
        self.replaying = folder / f"{safe}.replaying.jsonl"
        self.checkpoint = folder / f"{safe}.replaying.offset"
        self.rejected = folder / f"{safe}.rejected.jsonl"
        self._writes = writes
        _end_torn_line(self.path)
        self.pending = sum(1 for _ in self._entries(self.replaying, self._offset())) + sum(
            1 for _ in self._entries(self.path))

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

    async def replay(self, db: Any, batch: int = 500) -> int:
        """Run up to ``batch`` journaled writes on ``db``, in order; the count run.

        Writes journaled while a replay is under way wait for the one after it.
        A failure other than a refusal stops the replay; the next one starts
        again after the last checkpointed batch.
        """
        if not self.replaying.exists():
            if not self.path.exists():
                return 0
            self.path.rename(self.replaying)
            self.checkpoint.unlink(missing_ok=True)
        done, offset = 0, 0
        for entry, line, after in self._entries(self.replaying, self._offset()):
            try:
                await self._writes[entry["write"]](db, *[_decode(a) for a in entry["args"]])
            except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
                self._set_aside(entry, line, exc)
            done, offset = done + 1, after
            if done == batch:
                break
        else:  # all of it
            self.replaying.unlink(missing_ok=True)
            self.checkpoint.unlink(missing_ok=True)
            offset = 0
        if offset:
            self.checkpoint.write_text(str(offset))
        self.pending = max(0, self.pending - done)
        log.info("spooled writes replayed", writes=done, still_pending=self.pending)
        return done

    def _set_aside(self, entry: dict[str, Any], line: bytes, exc: Exception) -> None:
        log.error("spooled write refused by the database, set aside", write=entry["write"],
                  error=str(exc), file=str(self.rejected))
        with self.rejected.open("ab") as rejected:
            rejected.write(line.rstrip(b"\n") + b"\n")

    def _offset(self) -> int:
        try:
            return int(self.checkpoint.read_text())
        except (OSError, ValueError):
            return 0

    @staticmethod
    def _entries(path: Path, offset: int = 0) -> Iterator[tuple[dict[str, Any], bytes, int]]:
        """Each entry from byte ``offset`` on, with its line and the offset after it."""
        if not path.exists():
            return
        with path.open("rb") as journal:
            journal.seek(offset)
            for line in iter(journal.readline, b""):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    # Only a last line can be torn, by a crash while writing it: the
                    # write never returned, and reconciliation finishes that call.
                    log.error("torn spool line skipped", path=str(path))
                    continue
                yield entry, line, journal.tell()


def _end_torn_line(path: Path) -> None:
    """After a crash mid-append the journal may end inside a line: end it, so
    the next write starts a line of its own instead of joining the torn one."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as journal:
        journal.seek(-1, os.SEEK_END)
        if journal.read(1) != b"\n":
            journal.write(b"\n")

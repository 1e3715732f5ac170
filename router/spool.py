"""A local, durable journal of record writes, for when PostgreSQL is away.

Each record (router/records/kinds.py) is one JSON line tagged with its kind,
flushed and fsync'ed before the call goes on, so it survives the router dying
while the database is down. Replaying applies the same records in the same
order, in batches whose end is checkpointed; every write is idempotent, so a
batch cut short by a crash is simply replayed again: nothing is lost, nothing
doubled. A record the database refuses (a row it depends on was deleted
meanwhile) cannot succeed later either: it is set aside in
``<router>.rejected.jsonl`` with its error, and the replay goes on.

Lines in the untyped format of earlier versions (``{"write": …, "args": […]}``)
still replay: they are read into the same records (kinds.from_legacy).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import structlog

from router.records import kinds, sql
from router.records.kinds import AnyRecord

log = structlog.get_logger("router.spool")

Writer = Callable[[Any, AnyRecord], Awaitable[None]]

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[AnyRecord] = msgspec.json.Decoder(AnyRecord)


class _Legacy(msgspec.Struct):
    write: str
    args: list[Any]


_legacy_decoder = msgspec.json.Decoder(_Legacy)


def decode(line: bytes) -> AnyRecord:
    """One spool line as its record.

    Raises msgspec.DecodeError / ValidationError (or KeyError for an unknown
    legacy write) for a line that is not a record.
    """
    try:
        return _decoder.decode(line)
    except msgspec.ValidationError:
        legacy = _legacy_decoder.decode(line)
        return kinds.from_legacy(legacy.write, legacy.args)


class Spool:
    """Records waiting for the database, in order, in ``<folder>/<router>.jsonl``."""

    def __init__(self, folder: Path, router_id: str, writer: Writer = sql.write) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in router_id)
        self.path = folder / f"{safe}.jsonl"
        # A replay works on its own copy, so records journaled meanwhile are kept;
        # the offset file says how far it got.
        self.replaying = folder / f"{safe}.replaying.jsonl"
        self.checkpoint = folder / f"{safe}.replaying.offset"
        self.rejected = folder / f"{safe}.rejected.jsonl"
        self._writer = writer
        self._done_in_place = 0  # bytes of the journal replayed where it is (read-only disk)
        _end_torn_line(self.path)
        self.pending = sum(1 for _ in self._entries(self.replaying, self._offset())) + sum(
            1 for _ in self._entries(self.path))

    def append(self, record: AnyRecord) -> None:
        """Journal one record durably (it is written to the database later).

        Raises OSError when the disk refuses it.
        """
        with self.path.open("ab") as journal:
            journal.write(_encoder.encode(record) + b"\n")
            journal.flush()
            os.fsync(journal.fileno())
        self.pending += 1

    async def replay(self, db: Any, batch: int = 500) -> int:
        """Write up to ``batch`` journaled records to ``db``, in order; the count done.

        Records journaled while a replay is under way wait for the one after it.
        A failure other than a refusal stops the replay; the next one starts
        again after the last checkpointed batch.
        """
        if not self.replaying.exists():
            if not self.path.exists():
                return 0
            try:
                self.path.rename(self.replaying)
            except OSError:  # a read-only disk: the journal cannot be moved aside
                return await self._replay_in_place(db, batch)
            self.checkpoint.unlink(missing_ok=True)
            self._done_in_place = 0
        done, offset = 0, 0
        for record, line, after in self._entries(self.replaying, self._offset()):
            try:
                await self._writer(db, record)
            except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
                self._keep_aside(line, exc)
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
        log.info("spooled records replayed", records=done, still_pending=self.pending)
        return done

    async def _replay_in_place(self, db: Any, batch: int) -> int:
        """Replay the journal where it is, past what this run replayed already.

        The disk refuses to move it aside or to checkpoint, so the journal
        keeps these lines: a later replay (this run's, once the disk takes
        writes, or the next start's) applies them again, which changes
        nothing (every write is idempotent).
        """
        done = 0
        for record, line, after in self._entries(self.path, self._done_in_place):
            try:
                await self._writer(db, record)
            except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
                self._keep_aside(line, exc)
            done, self._done_in_place = done + 1, after
            if done == batch:
                break
        else:
            self.pending = 0
        self.pending = max(0, self.pending - done)
        log.info("spooled records replayed in place (read-only spool)", records=done,
                 still_pending=self.pending)
        return done

    def set_aside(self, record: AnyRecord, exc: BaseException) -> None:
        """Keep a record the database refused while it was up, as a replay does
        (only logged when the disk refuses it too)."""
        self._keep_aside(_encoder.encode(record), exc)

    def _keep_aside(self, line: bytes, exc: BaseException) -> None:
        log.error("record refused by the database, set aside", error=str(exc),
                  file=str(self.rejected), record=line.decode(errors="replace").strip())
        try:
            with self.rejected.open("ab") as rejected:
                rejected.write(line.rstrip(b"\n") + b"\n")
        except OSError as disk:  # the log line above is all that is kept of it
            log.error("rejected file refuses the record", error=str(disk))

    def _offset(self) -> int:
        try:
            return int(self.checkpoint.read_text())
        except (OSError, ValueError):
            return 0

    @staticmethod
    def _entries(path: Path, offset: int = 0) -> Iterator[tuple[AnyRecord, bytes, int]]:
        """Each record from byte ``offset`` on, with its line and the offset after it."""
        if not path.exists():
            return
        with path.open("rb") as journal:
            journal.seek(offset)
            for line in iter(journal.readline, b""):
                if not line.strip():
                    continue
                try:
                    record = decode(line)
                except (msgspec.DecodeError, msgspec.ValidationError, KeyError):
                    # Only a last line can be torn, by a crash while writing it: the
                    # write never returned, and reconciliation finishes that call.
                    log.error("torn spool line skipped", path=str(path))
                    continue
                yield record, line, journal.tell()


def _end_torn_line(path: Path) -> None:
    """After a crash mid-append the journal may end inside a line: end it, so
    the next record starts a line of its own instead of joining the torn one."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as journal:
        journal.seek(-1, os.SEEK_END)
        if journal.read(1) != b"\n":
            journal.write(b"\n")

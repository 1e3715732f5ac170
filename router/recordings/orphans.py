"""Recordings Asterisk stores that no row names: given their row, so that the
retention purge deletes them in their time.

A recording's row is written once Asterisk has finished its file
(router/call/recording.py). A router stopped hard in between (SIGKILL, its
host lost) leaves a file that no row names; nothing would ever delete it, and
the customer's recording would be kept past the retention agreed. The sweep
lists what Asterisk stores (ARI ``GET /recordings/stored``), keeps the names
the router gives (the call id; ``vm-`` and the call id for a voicemail), and
for each one of a call that ended at least GRACE ago with no row, writes the
row as the call would have: size and length read from the file, its start the
call's answer. A voicemail found so also sends its ``voicemail.left``
notification (late, rather than never). Files named otherwise, or after a call
this database does not hold, are not the router's and are left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import structlog

from router import metrics
from router.ari import AriError
from router.recordings import audio
from router.recordings.policy import FORMATS
from router.records import write
from router.records.kinds import RecordingStored

log = structlog.get_logger("router.recordings")

# How long after its call's end a file may lack its row: the row is written
# within FINISH_WAIT_S (5 s) of the end, or replayed from the spool once the
# database is back; a row that comes after the sweep is a no-op (0018's unique name).
GRACE = timedelta(minutes=10)
BATCH = 1_000  # names looked up per statement

_NAME = re.compile(r"(vm-)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")

_WITHOUT_ROW = """
SELECT x.name, x.format, x.kind, c.id AS call_id,
       coalesce(c.answered_at, c.started_at) AS started_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[]) AS x(name, format, kind, call_id)
JOIN calls c ON c.id = x.call_id
WHERE c.ended_at IS NOT NULL AND c.ended_at < $5
  -- By call and kind, not by file: a router that names this Asterisk otherwise (another
  -- spelling of its ari_url) must not give a file a second row.
  AND NOT EXISTS (SELECT 1 FROM recordings r WHERE r.call_id = x.call_id AND r.kind = x.kind)
"""


class Storage(Protocol):
    """Asterisk's stored recordings, through ARI (router/ari/client.py)."""

    async def stored_recordings(self) -> list[Any]:
        """Every StoredRecording (``name``, ``format``). Raises AriError."""
        ...

    async def recording_head(self, name: str, head_bytes: int = 64) -> tuple[int, bytes]:
        """A stored file's size in bytes and first bytes. Raises AriError."""
        ...

    async def live_recording(self, name: str) -> Any | None:
        """The LiveRecording while Asterisk still records ``name``, else None.
        Raises AriError."""
        ...


@dataclass(frozen=True)
class Swept:
    """What one sweep did: files Asterisk stores, rows written for files that had
    none, files that could not be read (left for the next sweep)."""

    stored: int = 0
    adopted: int = 0
    failed: int = 0


def call_of(name: str) -> tuple[UUID, str] | None:
    """The call id and kind (``call`` or ``voicemail``) a stored recording's name
    gives, or None when the router never names a recording so."""
    found = _NAME.fullmatch(name)
    if found is None:
        return None
    return UUID(found.group(2)), "voicemail" if found.group(1) else "call"


async def sweep(db: Any, ari: Storage, asterisk: str, now: datetime) -> Swept:
    """Give a row to every file of ``asterisk`` (its ARI host:port) that a call
    ended before ``now - GRACE`` left without one (no row of its call and kind,
    whichever Asterisk name a row gives).

    Raises AriError when Asterisk cannot list its recordings, and whatever
    asyncpg raises when the database is away.
    """
    stored = await ari.stored_recordings()
    ours = [(str(s["name"]), str(s.get("format") or ""), *found) for s in stored
            if (found := call_of(str(s.get("name") or ""))) is not None]
    adopted = failed = 0
    for start in range(0, len(ours), BATCH):
        batch = ours[start:start + BATCH]
        missing = await db.fetch(
            _WITHOUT_ROW, [b[0] for b in batch], [b[1] for b in batch], [b[3] for b in batch],
            [b[2] for b in batch], now - GRACE)
        for row in missing:
            done = await _adopt(db, ari, asterisk, row)
            adopted, failed = adopted + (done is True), failed + (done is False)
    if adopted or failed:
        log.info("recordings without a row swept", adopted=adopted, failed=failed,
                 stored=len(stored))
    return Swept(len(stored), adopted, failed)


async def _adopt(db: Any, ari: Storage, asterisk: str, row: Any) -> bool | None:
    """Write the row of one file without one: True when written, False when the
    file could not be read, None when Asterisk still records it."""
    name, file_format = row["name"], row["format"]
    try:
        if await ari.live_recording(name) is not None:
            return None  # still recording (its call closed while Asterisk still had it)
        if file_format not in FORMATS:
            raise audio.NotAudio(f"format {file_format!r} is not one the router records")
        size, head = await ari.recording_head(name, audio.HEAD_BYTES)
        duration_ms = audio.duration_ms(file_format, size, head)
    except (AriError, audio.NotAudio) as exc:
        metrics.RECORDINGS_FAILED.labels(stage="sweep").inc()
        log.warning("recording without a row not read", recording=name, error=str(exc))
        return False
    await write(db, RecordingStored(row["call_id"], name, file_format, asterisk,
                                    row["started_at"], duration_ms, size, row["kind"]))
    metrics.RECORDINGS.labels(kind=row["kind"]).inc()
    metrics.RECORDING_BYTES.inc(size)
    log.warning("recording without a row given one", recording=name, kind=row["kind"],
                duration_ms=duration_ms, size_bytes=size)
    return True

"""The recordings table: rows written as the router writes them (idempotent,
as a spool replay needs), refused bad values, and the purge by each
hotline's retention against a stand-in for Asterisk's storage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from router import admin
from router import db as router_db
from router.ari import AriError
from router.notify import targets
from router.recordings import orphans, purge, rows
from router.records import write
from router.records.kinds import CallStarted, RecordingStored

T0 = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)
ASTERISK = "asterisk.test:8088"


class Storage:
    """Asterisk's stored recordings, as ARI DELETE /recordings/stored/{name} sees them."""

    def __init__(self, names: set[str], refusing: frozenset[str] = frozenset()) -> None:
        self.names = set(names)
        self.refusing: set[str] | frozenset[str] = refusing

    async def delete_recording(self, name: str) -> bool:
        if name in self.refusing:
            raise AriError("DELETE", f"/recordings/stored/{name}", 500, "Internal Server Error")
        found = name in self.names
        self.names.discard(name)
        return found


@pytest.fixture
async def as_daemon(daemon_database_url: str) -> AsyncIterator[Any]:
    connection = await router_db.connect(daemon_database_url)
    yield connection
    await connection.close()


async def recorded_call(db: Any, number: str, started_at: datetime,
                        asterisk: str = ASTERISK) -> UUID:
    hotline_id = await db.fetchval("SELECT id FROM hotlines WHERE number = $1", number)
    call_id = uuid4()
    await write(db, CallStarted(call_id, hotline_id, number, "13800138000", str(call_id), "r",
                                started_at))
    await write(db, RecordingStored(call_id, str(call_id), "wav", asterisk, started_at,
                                    3_000, 48_044))
    return call_id


async def test_the_router_writes_a_row_once_however_often_it_is_replayed(
        db: Any, as_daemon: Any) -> None:
    await admin.add_hotline(db, "4009180001", "sequential")
    call_id = await recorded_call(as_daemon, "4009180001", T0)
    again = RecordingStored(call_id, str(call_id), "wav", ASTERISK, T0, 3_000, 48_044)
    await write(as_daemon, again)
    found = await db.fetch("SELECT * FROM recordings WHERE call_id = $1", call_id)
    assert [(r["name"], r["duration_ms"], r["size_bytes"], r["kind"], r["purged_at"])
            for r in found] == [(str(call_id), 3_000, 48_044, "call", None)]
    [listed] = await rows.list_recordings(db, "4009180001")
    assert (listed["hotline"], listed["call_id"]) == ("4009180001", call_id)


async def test_bad_recording_settings_are_refused_by_name(db: Any) -> None:
    await admin.add_hotline(db, "4009180002", "sequential")
    for change, named in [
            ("record_percent = 101", "hotline_record_percent_must_be_0_to_100"),
            ("record_format = 'mp3'", "hotline_record_format_must_be_wav_gsm_ulaw_alaw_or_sln"),
            ("record_retention_days = 0", "hotline_record_retention_must_be_1_to_3650_days"),
            ("record_notice = 'a,,b'",
             "hotline_record_notice_must_be_sound_names_separated_by_commas")]:
        with pytest.raises(asyncpg.CheckViolationError, match=named):
            await db.execute(f"UPDATE hotlines SET {change} WHERE number = '4009180002'")


async def test_a_negative_duration_is_refused_by_name(db: Any) -> None:
    await admin.add_hotline(db, "4009180003", "sequential")
    call_id = await recorded_call(db, "4009180003", T0)
    with pytest.raises(asyncpg.CheckViolationError,
                       match="recording_duration_cannot_be_negative"):
        await db.execute("UPDATE recordings SET duration_ms = -1 WHERE call_id = $1", call_id)


async def test_the_purge_follows_each_hotlines_retention(db: Any, as_daemon: Any) -> None:
    await admin.add_hotline(db, "4009180004", "sequential")  # default: 30 days
    await admin.add_hotline(db, "4009180005", "sequential")
    await db.execute("UPDATE hotlines SET record_retention_days = 7 WHERE number = '4009180005'")
    month = await recorded_call(as_daemon, "4009180004", T0)
    week = await recorded_call(as_daemon, "4009180005", T0)
    gone = await recorded_call(as_daemon, "4009180005", T0 - timedelta(hours=1))
    elsewhere = await recorded_call(as_daemon, "4009180005", T0, asterisk="other.test:8088")
    storage = Storage({str(month), str(week)})

    now = T0 + timedelta(days=8)
    done = await purge.purge(as_daemon, storage, ASTERISK, now)
    assert (done.deleted, done.missing, done.failed) == (1, 1, 0)
    purged = {r["call_id"]: r["purged_at"] for r in await db.fetch(
        "SELECT call_id, purged_at FROM recordings WHERE call_id = ANY($1::uuid[])",
        [month, week, gone, elsewhere])}
    # 7 days: this hotline's two are purged (one already gone from Asterisk); another
    # Asterisk's file is not this one's to delete; 30 days: kept.
    assert purged == {month: None, week: now, gone: now, elsewhere: None}
    assert storage.names == {str(month)}
    assert await purge.purge(as_daemon, storage, ASTERISK, now) == purge.Purged()


async def test_a_file_asterisk_will_not_delete_stays_for_the_next_pass(
        db: Any, as_daemon: Any) -> None:
    await admin.add_hotline(db, "4009180006", "sequential")
    call_id = await recorded_call(as_daemon, "4009180006", T0)
    storage = Storage({str(call_id)}, refusing=frozenset({str(call_id)}))
    now = T0 + timedelta(days=31)
    done = await purge.purge(as_daemon, storage, ASTERISK, now)
    assert (done.deleted, done.failed) == (0, 1)
    assert await db.fetchval("SELECT purged_at FROM recordings WHERE call_id = $1",
                             call_id) is None
    storage.refusing = set()
    assert (await purge.purge(as_daemon, storage, ASTERISK, now)).deleted == 1


async def test_a_voicemail_row_enqueues_one_notification(db: Any, as_daemon: Any) -> None:
    await admin.add_hotline(db, "4009180007", "sequential")
    await targets.add(db, "4009180007", "crm", "http://127.0.0.1:9/hook",
                      secret="a-secret-of-16-characters", events=["voicemail.left"])
    hotline_id = await db.fetchval("SELECT id FROM hotlines WHERE number = '4009180007'")
    call_id = uuid4()
    await write(as_daemon, CallStarted(call_id, hotline_id, "4009180007", "13912345678",
                                       str(call_id), "r", T0))
    message = RecordingStored(call_id, f"vm-{call_id}", "wav", ASTERISK, T0, 3_100, 49_644,
                              "voicemail")
    await write(as_daemon, message)
    await write(as_daemon, message)  # a spool replay
    queued = await db.fetch("SELECT event, caller, call_id FROM notification_outbox o "
                            "WHERE o.hotline_id = $1", hotline_id)
    assert [(r["event"], r["caller"], r["call_id"]) for r in queued] == [
        ("voicemail.left", "13912345678", call_id)]


async def test_a_groups_own_share_is_refused_out_of_range_by_name(db: Any) -> None:
    await admin.add_hotline(db, "4009180008", "sequential")
    hotline_id = await db.fetchval("SELECT id FROM hotlines WHERE number = '4009180008'")
    await db.execute("INSERT INTO phone_groups (hotline_id, name, record_percent) "
                     "VALUES ($1, 'sales', 100)", hotline_id)
    with pytest.raises(asyncpg.CheckViolationError,
                       match="group_record_percent_must_be_none_or_0_to_100"):
        await db.execute("UPDATE phone_groups SET record_percent = 101 WHERE hotline_id = $1",
                         hotline_id)


class Stored(Storage):
    """Asterisk's stored recordings as the sweep sees them: names, formats and files."""

    def __init__(self, files: dict[str, tuple[str, bytes]], live: frozenset[str] = frozenset()
                 ) -> None:
        super().__init__(set(files))
        self.files = files
        self.live = live

    async def live_recording(self, name: str) -> Any | None:
        return {"name": name, "state": "recording"} if name in self.live else None

    async def stored_recordings(self) -> list[Any]:
        return [{"name": name, "format": fmt} for name, (fmt, _) in self.files.items()]

    async def recording_head(self, name: str, head_bytes: int = 64) -> tuple[int, bytes]:
        if name not in self.files:
            raise AriError("GET", f"/recordings/stored/{name}/file", 404, "Not Found")
        data = self.files[name][1]
        return len(data), data[:head_bytes]


async def ended_call(db: Any, number: str, ended_at: datetime | None) -> UUID:
    """A call answered 5 s after its start and, unless ``ended_at`` is None, ended then."""
    hotline_id = await db.fetchval("SELECT id FROM hotlines WHERE number = $1", number)
    call_id = uuid4()
    start = (ended_at or T0) - timedelta(seconds=60)
    await db.execute(
        "INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id, "
        "started_at, answered_at, caller_answered_at, ended_at, outcome) "
        "VALUES ($1, $2, $3, '13800138000', 'ch-' || $1::uuid::text, 'r', $4, $5, $5, $6, "
        "CASE WHEN $6::timestamptz IS NULL THEN NULL ELSE 'answered' END)",
        call_id, hotline_id, number, start, start + timedelta(seconds=5), ended_at)
    return call_id


async def test_files_left_without_a_row_are_given_one_and_then_purged(
        db: Any, as_daemon: Any) -> None:
    await admin.add_hotline(db, "4009180009", "sequential")
    await targets.add(db, "4009180009", "crm", "http://127.0.0.1:9/hook",
                      secret="a-secret-of-16-characters", events=["voicemail.left"])
    now = T0 + timedelta(hours=1)
    lost = await ended_call(db, "4009180009", T0)              # its router died: no row
    message = await ended_call(db, "4009180009", T0)           # a voicemail, the same
    kept = await recorded_call(as_daemon, "4009180009", T0)    # a row as usual
    # A row written by a router that names this Asterisk otherwise (its ari_url spelled
    # with another address): the file has its row all the same.
    spelled = await recorded_call(as_daemon, "4009180009", T0, asterisk="10.0.0.2:8088")
    still = await ended_call(db, "4009180009", T0)             # Asterisk still records it
    talking = await ended_call(db, "4009180009", None)         # still recording
    just_ended = await ended_call(db, "4009180009", now - timedelta(minutes=1))
    unreadable = await ended_call(db, "4009180009", T0)
    wav = b"RIFF" + (36 + 48_000).to_bytes(4, "little") + b"WAVEfmt " + bytes(20) \
        + b"data" + (48_000).to_bytes(4, "little") + bytes(48_000)
    storage = Stored({
        str(lost): ("wav", wav), f"vm-{message}": ("gsm", bytes(1_650 * 4)),
        str(kept): ("wav", wav), str(talking): ("wav", wav), str(just_ended): ("wav", wav),
        str(unreadable): ("wav", b"not audio"), "custom-greeting": ("wav", wav),
        str(spelled): ("wav", wav), str(still): ("wav", wav),
        str(uuid4()): ("wav", wav)}, live=frozenset({str(still)}))  # a call never had: not ours

    swept = await orphans.sweep(as_daemon, storage, ASTERISK, now)

    assert (swept.stored, swept.adopted, swept.failed) == (10, 2, 1)
    found = {r["call_id"]: r for r in await db.fetch(
        "SELECT * FROM recordings WHERE call_id = ANY($1::uuid[]) AND asterisk = $2",
        [lost, message, kept, talking, just_ended, unreadable, spelled, still], ASTERISK)}
    assert set(found) == {lost, message, kept}
    assert (found[lost]["kind"], found[lost]["duration_ms"], found[lost]["size_bytes"],
            found[lost]["started_at"]) == ("call", 3_000, len(wav),
                                           T0 - timedelta(seconds=55))
    assert (found[message]["kind"], found[message]["duration_ms"]) == ("voicemail", 4_000)
    # The voicemail found so is told late rather than never.
    assert await db.fetchval("SELECT count(*) FROM notification_outbox "
                             "WHERE call_id = $1 AND event = 'voicemail.left'", message) == 1
    # A second sweep finds nothing more, and the purge deletes them past retention.
    assert (await orphans.sweep(as_daemon, storage, ASTERISK, now)).adopted == 0
    done = await purge.purge(as_daemon, storage, ASTERISK, T0 + timedelta(days=31))
    assert done.deleted == 3
    assert {str(lost), f"vm-{message}", str(kept)}.isdisjoint(storage.names)


async def test_the_admin_login_of_recordings_purge_may_give_a_file_its_row(db: Any) -> None:
    """`recordings purge` runs with the admin's login: it may write the row too."""
    await admin.add_hotline(db, "4009180010", "sequential")
    lost = await ended_call(db, "4009180010", T0)
    storage = Stored({str(lost): ("ulaw", bytes(8_000 * 2))})
    async with db.acquire() as connection, connection.transaction():
        await connection.execute("SET LOCAL ROLE hotline_router_admin")
        swept = await orphans.sweep(connection, storage, ASTERISK, T0 + timedelta(hours=1))
        done = await purge.purge(connection, storage, ASTERISK, T0 + timedelta(days=31))
    assert (swept.adopted, done.deleted) == (1, 1)
    assert await db.fetchval("SELECT duration_ms FROM recordings WHERE call_id = $1",
                             lost) == 2_000

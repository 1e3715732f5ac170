"""Call recording with real calls: the lab's Asterisk records the bridge, the
router stores the row, and the purge deletes the file through ARI."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from router.ari.client import AriClient
from router.call.recording import asterisk_of
from router.notify import targets
from router.recordings import audio, orphans
from tests.bench.calls import asterisk_pid, wait_idle
from tests.bench.procstat import cpu_seconds
from tests.conftest import PhoneFactory, add_hotline, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab, ari_get
from tests.lab.receiver import Receiver
from tests.lab.router import RouterProcess
from tests.lab.tone import write_tone
from tests.plan_helpers import add_group, add_rule

pytestmark = pytest.mark.lab

HOLD_MS = 3000
MESSAGE_MS = 3000
SECRET = "lab-receiver-secret-0123456789"


def stored_file(lab: AsteriskLab, name: str) -> bytes | None:
    """The stored recording's file as Asterisk serves it; None when it has none."""
    token = base64.b64encode(f"{lab.ari_user}:{lab.ari_password}".encode()).decode()
    request = urllib.request.Request(f"{lab.ari_url}/ari/recordings/stored/{name}/file",
                                     headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def cli(database_url: str, lab: AsteriskLab, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router", "recordings", *args, "--database-url", database_url],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "ARI_URL": lab.ari_url, "ARI_USER": lab.ari_user,
             "ARI_PASSWORD": lab.ari_password})


async def recording_of(db: Any, call_id: Any, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while (row := await db.fetchrow("SELECT * FROM recordings WHERE call_id = $1",
                                    call_id)) is None:
        assert time.monotonic() < deadline, "no recordings row for the call"
        await asyncio.sleep(0.1)
    return row


async def test_a_recorded_call_is_in_asterisks_storage_as_long_as_it_talked_then_purged(
        db: Any, database_url: str, lab: AsteriskLab, router: RouterProcess,
        phones: PhoneFactory, hotline_number: str, tmp_path: Path) -> None:
    phone = phones()
    await add_hotline(db, hotline_number, [phone])
    await db.execute("UPDATE notify_targets SET enabled = false WHERE enabled")
    await db.execute("UPDATE hotlines SET record_percent = 100, record_retention_days = 30 "
                     "WHERE number = $1", hotline_number)
    receiver = await Receiver(SECRET).start()
    try:
        await targets.add(db, hotline_number, "crm", receiver.url, secret=SECRET,
                          events=["call.ended"])
        await asyncio.sleep(1.5)  # the router's configuration snapshot follows within a second

        seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=HOLD_MS)
        assert seen.result == "answered", seen.errors
        [call] = await wait_for_call(db, hotline_number)
        assert call["outcome"] == "answered"
        row = await recording_of(db, call["id"])
        # The CRM hears of the call's end with its recording (which came after the end).
        [ended] = await receiver.wait_for("call.ended", 1)
        assert ended.verified
        assert ended.document["recording_id"] == row["id"]
        assert ended.document["recording"]["duration_ms"] == row["duration_ms"]
        print(f"\ncall.ended arrived {ended.arrived - call['ended_at'].timestamp():.2f} s "
              "after the call's end, with its recording")
    finally:
        await receiver.stop()

    # The file is in Asterisk's storage under the call's id, in the format asked.
    assert (row["name"], row["format"], row["kind"]) == (str(call["id"]), "wav", "call")
    assert ari_get(lab, f"/recordings/stored/{row['name']}") == {
        "name": row["name"], "format": "wav"}
    data = stored_file(lab, row["name"])
    assert data is not None
    assert len(data) == row["size_bytes"]
    # Its audio lasts as long as the caller talked (sipp's answer to its BYE).
    file_ms = audio.duration_ms("wav", len(data), data[:audio.HEAD_BYTES])
    print(f"\nrecording {file_ms} ms, row {row['duration_ms']} ms, "
          f"caller talked {seen.talk_seconds * 1000:.0f} ms")
    assert abs(file_ms / 1000 - seen.talk_seconds) <= 0.5
    assert row["duration_ms"] == file_ms
    assert call["answered_at"] <= row["started_at"] <= call["ended_at"]

    # Within the retention the purge keeps it; past it, the file and the row go.
    # The CLI lists it and fetches the same file through ARI.
    listed = cli(database_url, lab, "list", "--hotline", hotline_number, "--json")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [row["id"]]
    target = tmp_path / "call.wav"
    got = cli(database_url, lab, "get", str(row["id"]), "--output", str(target))
    assert got.returncode == 0, got.stderr
    assert target.read_bytes() == data

    kept = cli(database_url, lab, "purge", "--now",
               (row["started_at"] + timedelta(days=29)).isoformat())
    assert kept.returncode == 0, kept.stderr
    assert stored_file(lab, row["name"]) is not None
    assert await db.fetchval("SELECT purged_at FROM recordings WHERE id = $1", row["id"]) is None

    # A row lost (its router killed before writing it): a pass once its call is over
    # 10 minutes old gives the file its row again, read from Asterisk's own listing
    # and file, so the retention still deletes it.
    await db.execute("DELETE FROM recordings WHERE id = $1", row["id"])
    client = AriClient(lab.ari_url, lab.ari_user, lab.ari_password)
    try:
        now = datetime.now(UTC)
        assert (await orphans.sweep(db, client, asterisk_of(client), now)).adopted == 0
        swept = await orphans.sweep(db, client, asterisk_of(client),
                                    now + orphans.GRACE + timedelta(seconds=1))
    finally:
        await client.close()
    assert (swept.adopted, swept.failed) == (1, 0)
    again = await recording_of(db, call["id"])
    assert (again["name"], again["duration_ms"], again["size_bytes"]) == (
        row["name"], row["duration_ms"], row["size_bytes"])
    row = again
    later = row["started_at"] + timedelta(days=31)
    done = cli(database_url, lab, "purge", "--now", later.isoformat())
    assert done.returncode == 0, done.stderr
    assert "1 files deleted" in done.stdout
    assert stored_file(lab, row["name"]) is None
    assert await db.fetchval("SELECT purged_at FROM recordings WHERE id = $1",
                             row["id"]) == later


async def test_a_group_records_its_own_share(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    phone = phones()
    await add_hotline(db, hotline_number, [phone])
    phone_id = await db.fetchval("SELECT phone_id FROM bound_phones b JOIN hotlines h "
                                 "ON h.id = b.hotline_id WHERE h.number = $1", hotline_number)
    group_id = await add_group(db, hotline_number, "complaints", [phone_id])
    await add_rule(db, hotline_number, 1, "group", group_id=group_id, name="all")
    recorded: list[int] = []
    # The hotline records nothing but the group all; then the reverse.
    for hotline_share, group_share in ((0, 100), (100, 0)):
        await db.execute("UPDATE hotlines SET record_percent = $2 WHERE number = $1",
                         hotline_number, hotline_share)
        await db.execute("UPDATE phone_groups SET record_percent = $2 WHERE id = $1",
                         group_id, group_share)
        await asyncio.sleep(1.5)  # the router's configuration snapshot follows
        seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=1500)
        assert seen.result == "answered", seen.errors
        calls = await wait_for_call(db, hotline_number, count=len(recorded) + 1)
        call = max(calls, key=lambda c: c["started_at"])
        await asyncio.sleep(2.0)  # a recording would have been stored by now
        recorded.append(await db.fetchval("SELECT count(*) FROM recordings WHERE call_id = $1",
                                          call["id"]))
        assert call["recorded"] is bool(group_share)
    assert recorded == [1, 0]


async def test_a_hotline_that_does_not_record_leaves_no_recording(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    phone = phones()
    await add_hotline(db, hotline_number, [phone])
    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=1000)
    assert seen.result == "answered", seen.errors
    [call] = await wait_for_call(db, hotline_number)
    await asyncio.sleep(2.0)  # a recording would have been stored by now
    assert await db.fetchval("SELECT count(*) FROM recordings WHERE call_id = $1",
                             call["id"]) == 0
    assert stored_file(lab, str(call["id"])) is None


async def _batch(db: Any, lab: AsteriskLab, number: str, first: int, calls: int,
                 hold_ms: int) -> tuple[list[sipp.CallResult], float]:
    """``calls`` callers one after another; what each saw and Asterisk's CPU seconds
    over them."""
    pid = asterisk_pid(lab)
    before = cpu_seconds(pid)
    seen = [await sipp.call(lab.sip_address, number, caller=f"1390001{first + n:04d}",
                            hold_ms=hold_ms) for n in range(calls)]
    await wait_for_call(db, number, count=first + calls)
    await wait_idle(lab)
    await asyncio.sleep(1.0)  # the recordings' files are closed and looked at
    return list(seen), cpu_seconds(pid) - before


async def test_recorded_calls_each_leave_their_recording(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    """Also Asterisk's CPU per recorded call against an unrecorded one (printed)."""
    calls, hold_ms = 4, 3000
    await add_hotline(db, hotline_number, [phones()])
    cost: dict[int, list[float]] = {0: [], 100: []}
    first = 0
    for percent in (0, 100, 0, 100):
        await db.execute("UPDATE hotlines SET record_percent = $2 WHERE number = $1",
                         hotline_number, percent)
        await asyncio.sleep(1.5)  # the router's configuration snapshot follows
        seen, cpu_s = await _batch(db, lab, hotline_number, first, calls, hold_ms)
        first += calls
        assert [s.result for s in seen] == ["answered"] * calls, [s.errors for s in seen]
        cost[percent].append(cpu_s / calls)
        rows = await db.fetch(
            """SELECT r.duration_ms, c.caller FROM recordings r JOIN calls c ON c.id = r.call_id
               WHERE c.dialled = $1 AND c.caller = ANY($2::text[])""",
            hotline_number, [s.caller for s in seen])
        if percent == 0:
            assert rows == []
            continue
        talked = {s.caller: s.talk_seconds for s in seen}
        assert sorted(r["caller"] for r in rows) == sorted(talked)
        assert all(abs(r["duration_ms"] / 1000 - talked[r["caller"]]) <= 0.5 for r in rows)
    plain, recorded = sum(cost[0]) / 2, sum(cost[100]) / 2
    print(f"\nAsterisk CPU per call ({calls} calls a round, {hold_ms / 1000:.0f} s talk, "
          "2 rounds): "
          f"unrecorded {plain * 1000:.1f} ms, recorded {recorded * 1000:.1f} ms, "
          f"recording adds {(recorded - plain) * 1000:.1f} ms per call "
          f"({(recorded - plain) / (hold_ms / 1000) * 1000:.1f} ms per talk second)")


async def test_after_hours_a_caller_leaves_a_message_and_one_notification_goes_out(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str, tmp_path: Path) -> None:
    await add_hotline(db, hotline_number, [phones()])
    await db.execute("UPDATE notify_targets SET enabled = false WHERE enabled")
    await db.execute("UPDATE hotlines SET closed_action = 'voicemail', voicemail_max_s = 30, "
                     "voicemail_prompt = 'beep' WHERE number = $1", hotline_number)
    await add_rule(db, hotline_number, 1, "closed", name="after-hours")
    receiver = await Receiver(SECRET).start()
    try:
        await targets.add(db, hotline_number, "crm", receiver.url, secret=SECRET,
                          events=["voicemail.left"])
        await asyncio.sleep(1.5)  # the router's configuration snapshot follows
        # The caller speaks (a tone) from its answer: a prompt, a beep, then 3 s more.
        voice = write_tone(tmp_path / "voice.pcap", seconds=6.0)
        seen = await sipp.call(lab.sip_address, hotline_number, caller="13912345678",
                               hold_ms=MESSAGE_MS + 1000, dtmf_pcaps=((0, str(voice)),))
        assert seen.result == "answered", seen.errors
        [call] = await wait_for_call(db, hotline_number)
        assert (call["outcome"], call["caller"]) == ("closed", "13912345678")
        assert call["caller_answered_at"] is not None  # billed from the caller's answer
        row = await recording_of(db, call["id"])
        assert (row["kind"], row["name"]) == ("voicemail", f"vm-{call['id']}")
        data = stored_file(lab, row["name"])
        assert data is not None
        assert len(data) == row["size_bytes"]
        # What the caller said after the beep: most of the 3 s, never more than it talked.
        print(f"\nvoicemail {row['duration_ms']} ms; the caller talked "
              f"{seen.talk_seconds * 1000:.0f} ms from its answer")
        assert MESSAGE_MS - 1000 <= row["duration_ms"] <= seen.talk_seconds * 1000
        [sent] = await receiver.wait_for("voicemail.left", 1)
        await asyncio.sleep(1.0)  # and no second one
        assert len(receiver.got) == 1
        assert sent.verified
        assert sent.document["recording"]["id"] == row["id"]
        assert sent.document["call"]["caller"] == "13912345678"
    finally:
        await receiver.stop()

"""Call recording with real calls: the lab's Asterisk records the bridge, the
router stores the row, and the purge deletes the file through ARI."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

import pytest

from router.recordings import audio
from tests.conftest import PhoneFactory, add_hotline, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab, ari_get
from tests.lab.router import RouterProcess

pytestmark = pytest.mark.lab

HOLD_MS = 3000


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


def purge(database_url: str, lab: AsteriskLab, now: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router", "recordings", "purge", "--now", now,
         "--database-url", database_url],
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
        phones: PhoneFactory, hotline_number: str) -> None:
    phone = phones()
    await add_hotline(db, hotline_number, [phone])
    await db.execute("UPDATE hotlines SET record_percent = 100, record_retention_days = 30 "
                     "WHERE number = $1", hotline_number)
    await asyncio.sleep(1.5)  # the router's configuration snapshot follows within a second

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=HOLD_MS)
    assert seen.result == "answered", seen.errors
    [call] = await wait_for_call(db, hotline_number)
    assert call["outcome"] == "answered"
    row = await recording_of(db, call["id"])

    # The file is in Asterisk's storage under the call's id, in the format asked.
    assert (row["name"], row["format"], row["kind"]) == (str(call["id"]), "wav", "call")
    assert ari_get(lab, f"/recordings/stored/{row['name']}") == {
        "name": row["name"], "format": "wav"}
    data = stored_file(lab, row["name"])
    assert data is not None and len(data) == row["size_bytes"]
    # Its audio lasts as long as the caller talked (sipp's answer to its BYE).
    file_ms = audio.duration_ms("wav", len(data), data[:audio.HEAD_BYTES])
    print(f"\nrecording {file_ms} ms, row {row['duration_ms']} ms, "
          f"caller talked {seen.talk_seconds * 1000:.0f} ms")
    assert abs(file_ms / 1000 - seen.talk_seconds) <= 0.5
    assert row["duration_ms"] == file_ms
    assert call["answered_at"] <= row["started_at"] <= call["ended_at"]

    # Within the retention the purge keeps it; past it, the file and the row go.
    kept = purge(database_url, lab, (row["started_at"] + timedelta(days=29)).isoformat())
    assert kept.returncode == 0, kept.stderr
    assert stored_file(lab, row["name"]) is not None
    assert await db.fetchval("SELECT purged_at FROM recordings WHERE id = $1", row["id"]) is None
    later = row["started_at"] + timedelta(days=31)
    done = purge(database_url, lab, later.isoformat())
    assert done.returncode == 0, done.stderr
    assert "1 files deleted" in done.stdout
    assert stored_file(lab, row["name"]) is None
    assert await db.fetchval("SELECT purged_at FROM recordings WHERE id = $1",
                             row["id"]) == later


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

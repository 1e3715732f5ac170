"""The CLI as an admin runs it, against the real database."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "router", "--database-url", database_url, *args],
                          capture_output=True, text=True, timeout=60)


async def test_hotline_and_phone_add_then_calls_as_json(db: Any, database_url: str) -> None:
    added = cli(database_url, "hotline", "add", "4006660001", "--strategy", "random")
    assert added.returncode == 0, added.stderr
    assert "strategy random" in added.stdout
    bound = cli(database_url, "phone", "add", "4006660001", "PJSIP/phones/sip:1@127.0.0.1:5999",
                "--position", "3")
    assert bound.returncode == 0, bound.stderr
    assert await db.fetchval(
        """SELECT b.position FROM bound_phones b JOIN hotlines h ON h.id = b.hotline_id
           WHERE h.number = '4006660001'""") == 3

    call_id = uuid.uuid4()
    hotline_id = await db.fetchval("SELECT id FROM hotlines WHERE number = '4006660001'")
    await db.execute(
        """INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id,
                              started_at, answered_at, ended_at, outcome)
           VALUES ($1, $2, '4006660001', '13800000000', random()::text, 'r',
                   '2031-01-02 03:04:05.100+00', '2031-01-02 03:04:06.200+00',
                   '2031-01-02 03:05:06.250+00', 'answered')""", call_id, hotline_id)
    listed = cli(database_url, "calls", "--since", "2031-01-01T00:00:00+00:00", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    expected = {
        "id": str(call_id), "hotline": "4006660001", "caller": "13800000000",
        "started_at": "2031-01-02T03:04:05.100Z", "answered_at": "2031-01-02T03:04:06.200Z",
        "ended_at": "2031-01-02T03:05:06.250Z", "outcome": "answered", "answered_by": None,
        "billable_ms": 60050, "started_at_local": "2031-01-02T11:04:05.100+08:00",
        "time_zone": "Asia/Shanghai"}
    assert [{name: row[name] for name in expected} for row in rows] == [expected]


def test_refusals_exit_2_with_the_reason(database_url: str) -> None:
    bad = cli(database_url, "hotline", "add", "12345")
    assert bad.returncode == 2
    assert "hotline number must be 400 or 800 then 7 digits" in bad.stderr
    assert cli(database_url, "hotline", "add", "4006660002").returncode == 0
    injected = cli(database_url, "phone", "add", "4006660002", "PJSIP/a&PJSIP/b")
    assert injected.returncode == 2
    assert "dial string must be tech slash resource no separators" in injected.stderr

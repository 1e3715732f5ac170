""""Today" and a day are the hotline's own, in its zone: never one fixed zone.

The hotline here is in a zone whose date differs, right now, from
Asia/Shanghai's (the default zone), so a reader that took "today" from the
default would show another day. One call starts just after the hotline's
local midnight, one just before: today's figures count exactly the first.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from router.plan import DEFAULT_TIME_ZONE
from router.web.auth import COOKIE
from tests.db.test_cli import cli
from tests.web import seed
from tests.web.conftest import bearer

# UTC+14 and UTC-11: at every hour one of them is on another date than UTC+8.
_FAR_ZONES = ("Pacific/Kiritimati", "Pacific/Pago_Pago")
TODAY_CALLER, YESTERDAY_CALLER = "13811110001", "13811110002"


def other_day_zone() -> str:
    default_today = datetime.now(ZoneInfo(DEFAULT_TIME_ZONE)).date()
    return next(z for z in _FAR_ZONES if datetime.now(ZoneInfo(z)).date() != default_today)


@pytest.fixture
async def far_hotline(db: Any, hotline_number: str) -> tuple[str, date]:
    """A hotline in a far zone, a call just after its midnight and one just before;
    its number and its today."""
    zone_name = other_day_zone()
    await db.execute("INSERT INTO hotlines (number, name) VALUES ($1, '远方')", hotline_number)
    await db.execute("INSERT INTO plan_settings (hotline_id, time_zone) "
                     "SELECT id, $2 FROM hotlines WHERE number = $1", hotline_number, zone_name)
    local_now = datetime.now(ZoneInfo(zone_name))
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    await seed.call(db, hotline_number, TODAY_CALLER, midnight + timedelta(seconds=1), None)
    await seed.call(db, hotline_number, YESTERDAY_CALLER, midnight - timedelta(minutes=1), None)
    return hotline_number, local_now.date()


async def test_the_reports_default_day_is_the_hotlines_today(
        api: Any, operator_token: str, far_hotline: tuple[str, date]) -> None:
    number, today = far_hotline
    response = await api.get(f"/api/v1/hotlines/{number}/stats", headers=bearer(operator_token))
    found = await response.json()
    assert response.status == 200, found
    assert (found["from"], found["to"]) == (today.isoformat(), today.isoformat())
    assert found["total"][0]["calls"] == 1
    page = await (await api.get(f"/reports?hotline={number}",
                                headers={"Cookie": f"{COOKIE}={operator_token}"})).text()
    assert f'name="to" type="date" value="{today.isoformat()}"' in page


async def test_the_wallboards_today_starts_at_the_hotlines_midnight(
        api: Any, operator_token: str, far_hotline: tuple[str, date]) -> None:
    number, _ = far_hotline
    live = await (await api.get("/api/v1/live", headers=bearer(operator_token))).json()
    assert [(t["hotline"], t["calls"], t["missed"]) for t in live["today"]
            if t["hotline"] == number] == [(number, 1, 1)]


async def test_a_day_of_the_call_log_is_the_hotlines_day(
        api: Any, operator_token: str, far_hotline: tuple[str, date]) -> None:
    number, today = far_hotline
    page = await (await api.get(f"/calls?hotline={number}&day={today.isoformat()}",
                                headers={"Cookie": f"{COOKIE}={operator_token}"})).text()
    assert TODAY_CALLER in page
    assert YESTERDAY_CALLER not in page
    found = await (await api.get(f"/api/v1/calls?hotline={number}&since={today.isoformat()}",
                                 headers=bearer(operator_token))).json()
    assert [c["caller"] for c in found["calls"]] == [TODAY_CALLER]


async def test_the_cli_takes_today_and_days_from_the_hotline(
        database_url: str, far_hotline: tuple[str, date]) -> None:
    number, today = far_hotline
    report = cli(database_url, "stats", number, "--format", "json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["from"] == today.isoformat()
    calls = cli(database_url, "calls", "--hotline", number, "--since", today.isoformat(),
                "--json")
    assert calls.returncode == 0, calls.stderr
    assert [json.loads(line)["caller"] for line in calls.stdout.splitlines()] == [TODAY_CALLER]

"""`hotline-router calls` filters, `calls show ID` and `stats`, as an admin runs them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.db.test_cli import cli
from tests.web import seed

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def seeded(db: Any, number: str) -> dict[str, Any]:
    await db.execute("INSERT INTO hotlines (number, name) VALUES ($1, '售后服务')", number)
    phone = await seed.bound_phone(db, number, f"PJSIP/phones/sip:c{number}@127.0.0.1:5",
                                   "售后小李")
    answered = await seed.call(db, number, "13912345678",
                               datetime(2026, 10, 12, 9, 30, tzinfo=SHANGHAI), 4.0,
                               phone_id=phone)
    missed = await seed.call(db, number, "02161234567",
                             datetime(2026, 10, 12, 14, 0, tzinfo=SHANGHAI), None,
                             phone_id=phone)
    forged = await seed.call(db, number, "1380\r\n\x1b[2J0000000",
                             datetime(2026, 10, 12, 15, 0, tzinfo=SHANGHAI), None,
                             outcome="closed")
    return {"phone": phone, "answered": answered, "missed": missed, "forged": forged}


async def test_calls_filters_show_local_times_labels_and_escaped_callers(
        db: Any, database_url: str, hotline_number: str) -> None:
    ids = await seeded(db, hotline_number)
    listed = cli(database_url, "calls", "--hotline", hotline_number)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert "started (Asia/Shanghai)" in lines[0]
    answered = next(line for line in lines if str(ids["answered"]) in line)
    assert "2026-10-12 09:30:00" in answered
    assert "售后小李" in answered
    assert "\x1b" not in listed.stdout
    assert "1380\\x0d\\x0a\\x1b[2J0000000" in listed.stdout
    assert len([line for line in lines if "2026-10-12" in line]) == 3  # no forged row

    missed = cli(database_url, "calls", "--hotline", hotline_number, "--outcome", "missed",
                 "--json")
    assert [json.loads(line)["id"] for line in missed.stdout.splitlines()] == [
        str(ids["missed"])]
    by_caller = cli(database_url, "calls", "--caller", "139*", "--hotline", hotline_number,
                    "--json")
    (row,) = [json.loads(line) for line in by_caller.stdout.splitlines()]
    assert row["answered_label"] == "售后小李"
    assert row["started_at_local"] == "2026-10-12T09:30:00.000+08:00"
    assert row["plan_result"] == "default"

    bad = cli(database_url, "calls", "--outcome", "lost")
    assert bad.returncode == 2
    assert "'lost' is not an outcome" in bad.stderr
    unknown = cli(database_url, "calls", "--hotline", "4009999990")
    assert (unknown.returncode, unknown.stderr.strip()) == (
        2, "hotline-router: no hotline 4009999990")


async def test_calls_show_tells_the_story_of_one_call(
        db: Any, database_url: str, hotline_number: str) -> None:
    ids = await seeded(db, hotline_number)
    shown = cli(database_url, "calls", "show", str(ids["answered"]))
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "2026-10-12 09:30:00 (Asia/Shanghai)" in text
    assert "no rule matched" in text
    assert "售后小李" in text
    assert "answered" in text
    assert "not rated" in text
    as_json = json.loads(cli(database_url, "calls", "show", str(ids["answered"]),
                             "--json").stdout)
    assert [leg["label"] for leg in as_json["legs"]] == ["售后小李"]
    assert as_json["legs"][0]["result"] == "answered"
    missing = cli(database_url, "calls", "show", "00000000-0000-0000-0000-000000000000")
    assert missing.returncode == 2
    assert "no call 00000000-0000-0000-0000-000000000000" in missing.stderr


async def test_stats_prints_the_report_tables(
        db: Any, database_url: str, hotline_number: str) -> None:
    await seeded(db, hotline_number)
    report = cli(database_url, "stats", hotline_number, "--from", "2026-10-12")
    assert report.returncode == 0, report.stderr
    lines = report.stdout.splitlines()
    total = next(line.split() for line in lines if line.startswith("total "))
    # calls, offered, answered, missed, answer rate
    assert total[1:6] == ["3", "2", "1", "1", "50.0%"]
    hour_09 = next(line.split() for line in lines if line.strip().startswith("09 "))
    assert hour_09[1:5] == ["1", "1", "1", "0"]
    phone = next(line for line in lines if "售后小李" in line)
    assert phone.split()[2:5] == ["2", "1", "1"]  # rung, answered, no answer
    csv_text = cli(database_url, "stats", hotline_number, "--from", "2026-10-12", "--table",
                   "days", "--format", "csv").stdout
    assert csv_text.splitlines() == [
        "key,calls,offered,answered,missed,answer_rate,avg_wait_ms,avg_talk_ms,service_level",
        "2026-10-12,3,2,1,1,0.5000,4000,30000,0.5000"]

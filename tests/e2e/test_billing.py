"""Billing of real calls: sipp caller -> lab Asterisk -> router -> sipp phones.

Our billable seconds are checked against Asterisk's own CDRs (cdr_custom,
dialplan/cdr_custom.conf), the statement against the calls, and exactly-once
rating against a router killed between a hangup and its rating.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router.billing import cdr, config, ledger
from router.billing.months import Month
from tests.conftest import PhoneFactory, add_hotline, wait_for_call
from tests.db.test_cli import cli
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess
from tests.plan_helpers import add_group, add_key, add_menu, add_rule

pytestmark = pytest.mark.lab

CALLS = 20
AT_ONCE = 4


def cdr_file(lab: AsteriskLab) -> Path:
    return lab.log_dir / "cdr-custom" / "Master.csv"


async def wait_for_charges(db: Any, call_ids: list[Any], timeout_s: float = 30.0) -> list[Any]:
    """The call-charge entries of ``call_ids`` once every call has one."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = await db.fetch(
            "SELECT * FROM ledger WHERE kind = 'call-charge' AND call_id = ANY($1::uuid[])",
            call_ids)
        if len(rows) >= len(call_ids):
            return list(rows)
        assert time.monotonic() < deadline, (
            f"{len(rows)} of {len(call_ids)} calls rated within {timeout_s} s")
        await asyncio.sleep(0.2)


async def wait_for_cdrs(lab: AsteriskLab, channels: set[str],
                        timeout_s: float = 10.0) -> dict[str, Decimal]:
    """billsec of each caller channel in ``channels`` once Asterisk has written them all."""
    deadline = time.monotonic() + timeout_s
    while True:
        found: dict[str, Decimal] = {}
        if cdr_file(lab).exists():
            for record in cdr.read(cdr_file(lab)):
                if record.uniqueid in channels:
                    found[record.uniqueid] = found.get(record.uniqueid, Decimal(0)) + \
                        record.billsec_s
        if set(found) == channels:
            return found
        assert time.monotonic() < deadline, f"CDRs missing for {channels - set(found)}"
        await asyncio.sleep(0.2)


async def test_twenty_real_calls_agree_with_asterisks_cdr_and_the_statement(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str, database_url: str, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    # The lab's CDR file may hold earlier runs' records (a warm lab): only what
    # this test adds to it is compared.
    cdrs_before = cdr_file(lab).stat().st_size if cdr_file(lab).exists() else 0
    bound = [phones(answer_after_ms=150 + 100 * i) for i in range(AT_ONCE)]
    await add_hotline(db, hotline_number, bound)
    # 6-second units at 2 fen, one free minute a month, then 1 fen a unit.
    await config.set_tariff(db, hotline_number, 2, 6, "2000-01-01")
    await config.add_package(db, hotline_number, "2000-01-01", "2100-01-01",
                             included_minutes=1, overage_per_unit_fen=1)
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    holds = [rng.randint(1000, 8000) for _ in range(CALLS)]

    async def one(n: int) -> sipp.CallResult:
        await asyncio.sleep((n % AT_ONCE) * 0.2)
        return await sipp.call(lab.sip_address, hotline_number, caller=f"1390000{n:04d}",
                               hold_ms=holds[n])

    for batch in range(0, CALLS, AT_ONCE):
        seen = await asyncio.gather(*(one(n) for n in range(batch, batch + AT_ONCE)))
        assert [s.result for s in seen] == ["answered"] * AT_ONCE, [s.errors for s in seen]
        # Each call's record ends after its phone is free again: the next batch finds 4 idle.
        await wait_for_call(db, hotline_number, count=batch + AT_ONCE)

    calls = await wait_for_call(db, hotline_number, count=CALLS)
    assert len(calls) == CALLS
    assert all(c["outcome"] == "answered" and c["caller_answered_at"] for c in calls)
    charged = {r["call_id"]: r for r in await wait_for_charges(db, [c["id"] for c in calls])}
    billsec = await wait_for_cdrs(lab, {c["caller_channel"] for c in calls})

    # Ours against Asterisk's, call by call.
    differences = []
    for call in calls:
        ours = Decimal(charged[call["id"]]["billable_ms"]) / 1000
        assert charged[call["id"]]["billable_ms"] == call["billable_ms"]  # phone answer to end
        differences.append(abs(ours - billsec[call["caller_channel"]]))
    largest = max(differences)
    with capsys.disabled():
        print(f"\nbilling: {CALLS} real calls (seed {seed}, holds {min(holds)}-{max(holds)} ms): "
              f"largest difference from Asterisk's CDR billsec {largest} s, mean "
              f"{sum(differences) / len(differences):.6f} s")
    assert largest <= 1

    ours_only = tmp_path / "cdrs.csv"
    with cdr_file(lab).open("rb") as whole:
        whole.seek(cdrs_before)
        ours_only.write_bytes(whole.read())
    reconciled = cli(database_url, "billing", "reconcile", str(ours_only),
                     "--hotline", hotline_number)
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    assert f"compared {CALLS} call(s)" in reconciled.stdout

    # The statement: every call, its units rounded up, the free minute to the
    # calls that ended first, and a total that is the sum of the lines.
    months = {r["month"] for r in charged.values()}
    by_end = sorted(calls, key=lambda c: (c["ended_at"], c["id"]))
    free_units = {month: 10 for month in months}
    lines_checked = 0
    for month in sorted(months):
        shown = cli(database_url, "billing", "statement", "--hotline", hotline_number,
                    "--month", str(Month.of(month)), "--format", "json")
        assert shown.returncode == 0, shown.stderr
        statement = json.loads(shown.stdout)
        assert statement["time_zone"] == "Asia/Shanghai"
        lines = {line["call_id"]: line for line in statement["lines"] if line["line"] == "call"}
        for call in by_end:
            if charged[call["id"]]["month"] != month:
                continue
            line = lines[str(call["id"])]
            units = -(-call["billable_ms"] // 6000)
            included = min(units, free_units[month])
            free_units[month] -= included
            assert Decimal(line["billable_s"]) == Decimal(call["billable_ms"]) / 1000
            assert abs(Decimal(line["billable_s"]) - billsec[call["caller_channel"]]) <= 1
            assert (line["units"], line["included_units"], line["charge_fen"]) == (
                units, included, units - included)
            lines_checked += 1
        assert statement["total_fen"] == sum(line["charge_fen"] for line in statement["lines"])
        assert statement["total_fen"] == -sum(
            r["amount_fen"] for r in charged.values() if r["month"] == month)
        assert statement["unrated_calls"] == 0
    assert lines_checked == CALLS


async def test_a_router_killed_between_hangup_and_rating_rates_the_call_once_after_restart(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str, daemon_database_url: str, tmp_path: Path) -> None:
    phone = phones(answer_after_ms=200)
    await add_hotline(db, hotline_number, [phone])
    await config.set_tariff(db, hotline_number, 12, 60, "2000-01-01")
    hotline_id = await db.fetchval("SELECT id FROM hotlines WHERE number = $1", hotline_number)
    # One Stasis application, one websocket: the shared router makes room.
    router.stop()
    started: list[RouterProcess] = []

    def start_router(name: str, delay_s: str) -> RouterProcess:
        process = RouterProcess(lab, daemon_database_url, "hotline-router",
                                tmp_path / f"{name}.log",
                                extra_env={"RATING_DELAY_S": delay_s,
                                           "RATING_INTERVAL_S": "0.2"})
        started.append(process)
        return process.start()

    try:
        slow = start_router("slow", "3600")
        seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=2500)
        assert seen.result == "answered", seen.errors
        (call,) = await wait_for_call(db, hotline_number)
        assert await db.fetchval("SELECT count(*) FROM rating_queue WHERE call_id = $1",
                                 call["id"]) == 1
        assert await db.fetch("SELECT * FROM ledger WHERE call_id = $1", call["id"]) == []

        slow.stop(signal.SIGKILL)
        assert slow.process is not None
        assert slow.process.returncode == -signal.SIGKILL
        assert await db.fetch("SELECT * FROM ledger WHERE call_id = $1", call["id"]) == []

        restarted = start_router("restarted", "0")
        (charge,) = await wait_for_charges(db, [call["id"]], timeout_s=15)
        await asyncio.sleep(1.5)  # several more rating passes
        restarted.stop(signal.SIGKILL)
        start_router("again", "0")
        await asyncio.sleep(1.5)

        rows = await db.fetch("SELECT * FROM ledger WHERE call_id = $1", call["id"])
        assert [(r["kind"], r["amount_fen"]) for r in rows] == [("call-charge", -12)]
        assert charge["billable_ms"] == call["billable_ms"]
        assert await db.fetchval("SELECT count(*) FROM rating_queue WHERE call_id = $1",
                                 call["id"]) == 0
        assert await ledger.balance(db, hotline_id) == -12
    finally:
        for process in started:
            process.stop()
        router.start()


async def test_a_hotline_out_of_balance_refuses_calls_when_its_owner_chose_so(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    phone = phones(answer_after_ms=200)
    await add_hotline(db, hotline_number, [phone])
    await config.set_tariff(db, hotline_number, 12, 60, "2000-01-01")
    await config.set_settings(db, hotline_number, at_zero_balance="refuse")

    refused = await sipp.call(lab.sip_address, hotline_number, hold_ms=1000)
    assert (refused.result, refused.status) == ("rejected", 403), refused.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert call["outcome"] == "refused-no-balance"
    assert call["billable_ms"] == 0
    assert phone.results() == []

    await config.top_up(db, hotline_number, 500)
    answered = await sipp.call(lab.sip_address, hotline_number, hold_ms=1000)
    assert answered.result == "answered", answered.errors


async def test_a_caller_who_hangs_up_in_the_menu_is_billed_the_same_in_calls_statement_and_cdr(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str, database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    phone = phones(answer_after_ms=200)
    ids = await add_hotline(db, hotline_number, [phone])
    await config.set_tariff(db, hotline_number, 12, 60, "2000-01-01")
    group = await add_group(db, hotline_number, "sales", [ids[phone.dial_string]])
    main = await add_menu(db, hotline_number, "main", "vm-enter-num-to-call", timeout_s=20)
    await add_key(db, main, "1", "group", group_id=group)
    await add_rule(db, hotline_number, 1, "menu", menu_id=main)

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=3000)

    assert seen.result == "answered", seen.errors  # the menu answered the caller
    (call,) = await wait_for_call(db, hotline_number)
    assert (call["outcome"], call["answered_at"]) == ("abandoned", None)
    assert phone.results() == []
    (charge,) = await wait_for_charges(db, [call["id"]])
    billsec = (await wait_for_cdrs(lab, {call["caller_channel"]}))[call["caller_channel"]]
    shown = cli(database_url, "calls", "--hotline", hotline_number, "--json")
    assert shown.returncode == 0, shown.stderr
    (listed,) = [json.loads(text) for text in shown.stdout.splitlines() if text.strip()]
    statement = cli(database_url, "billing", "statement", "--hotline", hotline_number,
                    "--month", str(Month.of(charge["month"])), "--format", "json")
    assert statement.returncode == 0, statement.stderr
    (line,) = [x for x in json.loads(statement.stdout)["lines"] if x["line"] == "call"]

    ours = Decimal(call["billable_ms"]) / 1000
    assert listed["billable_ms"] == charge["billable_ms"] == call["billable_ms"]
    assert Decimal(line["billable_s"]) == ours
    with capsys.disabled():
        print(f"\nmenu hang-up: calls {ours} s, statement {line['billable_s']} s, "
              f"CDR billsec {billsec} s, sipp answer to hangup {seen.talk_seconds:.3f} s")
    assert abs(ours - billsec) <= Decimal("0.005")
    assert abs(float(ours) - seen.talk_seconds) < 0.5

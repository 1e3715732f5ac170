"""Notifications with real calls: the lab's Asterisk, sipp callers and phones, a
router process, and a webhook receiver on loopback that verifies signatures."""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from router import admin
from router import db as router_db
from router.notify import targets
from tests.conftest import (
    DAEMON_LOGIN,
    PhoneFactory,
    RouterFactory,
    add_hotline,
    dialplan_global,
    wait_for_call,
)
from tests.lab import database, sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.receiver import Receiver
from tests.lab.router import RouterProcess

pytestmark = pytest.mark.lab

SECRET = "lab-receiver-secret-0123456789"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    instance = await Receiver(SECRET).start()
    yield instance
    await instance.stop()


@pytest.fixture(autouse=True)
async def only_this_tests_targets(db: Any) -> None:
    """Dispatchers send every due row: other tests' targets are turned off first."""
    await db.execute("UPDATE notify_targets SET enabled = false WHERE enabled")


async def notify(db: Any, number: str, url: str, events: str = "call.missed") -> None:
    await targets.add(db, number, "crm", url, secret=SECRET, events=events.split(","))


def _sipp_time(value: str) -> float:
    """sipp's "<seconds>.000000.<microseconds>.000000" as Unix seconds."""
    parts = value.split(".")
    return int(parts[0]) + int(parts[2]) / 1e6


async def phone_rows(phone: sipp.Phone, count: int, timeout_s: float = 5.0
                     ) -> list[dict[str, str]]:
    """The phone's RESULT rows once it logged ``count`` calls (it logs as its call ends)."""
    deadline = time.monotonic() + timeout_s
    while len(rows := phone.results()) < count:
        assert time.monotonic() < deadline, f"the phone logged {len(rows)} of {count} calls"
        await asyncio.sleep(0.05)
    return rows


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def test_busy_no_answer_and_abandoned_calls_each_give_one_signed_notification(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        receiver: Receiver, hotline_number: str) -> None:
    busy, silent = phones(reject_code=486), phones(answer_after_ms=None)
    await add_hotline(db, hotline_number, [busy], ring_timeout_s=2)
    await notify(db, hotline_number, receiver.url)

    # Busy: the only phone rejects with 486. More busy calls give the delay figures.
    for n in range(12):
        seen = await sipp.call(lab.sip_address, hotline_number, caller=f"1390000{n:04d}")
        assert (seen.result, seen.status) == ("rejected", 486), seen.errors
    # No answer, then abandoned: the phone that never answers.
    await db.execute("UPDATE bound_phones SET enabled = false WHERE hotline_id = "
                     "(SELECT id FROM hotlines WHERE number = $1)", hotline_number)
    await admin.add_phone(db, hotline_number, silent.dial_string)
    await db.execute("UPDATE hotlines SET total_timeout_s = 2 WHERE number = $1", hotline_number)
    await asyncio.sleep(1.5)  # the routers' configuration snapshot follows within a second
    seen = await sipp.call(lab.sip_address, hotline_number, caller="13800000100")
    assert seen.result == "rejected", seen.errors
    seen = await sipp.call(lab.sip_address, hotline_number, caller="13800000200",
                           cancel_after_ms=1000)
    assert seen.result == "cancelled", seen.errors

    calls = await wait_for_call(db, hotline_number, count=14)
    assert Counter(c["outcome"] for c in calls) == {"busy": 12, "no-answer": 1, "abandoned": 1}
    got = await receiver.wait_for("call.missed", 14)
    await asyncio.sleep(2.0)  # nothing more comes: no repeat, no retry
    assert len(receiver.got) == 14
    assert all(r.verified for r in receiver.got)
    by_call = {r.document["call"]["id"]: r for r in got}
    assert set(by_call) == {str(c["id"]) for c in calls}  # one per call
    assert {by_call[str(c["id"])].document["call"]["outcome"] for c in calls} == {
        "busy", "no-answer", "abandoned"}
    rows = await db.fetch("SELECT state, attempts FROM notification_outbox o JOIN hotlines h "
                          "ON h.id = o.hotline_id WHERE h.number = $1", hotline_number)
    assert [(r["state"], r["attempts"]) for r in rows] == [("sent", 1)] * 14

    delays = [by_call[str(c["id"])].arrived - c["ended_at"].timestamp() for c in calls]
    p50, p99 = statistics.median(delays), percentile(delays, 0.99)
    print(f"\ncall end -> missed-call webhook at the receiver, {len(delays)} calls: "
          f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms")
    assert p99 < 2.0


async def test_screen_pop_arrives_before_the_phone_answers(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        receiver: Receiver, hotline_number: str) -> None:
    phone = phones(answer_after_ms=1500)
    await add_hotline(db, hotline_number, [phone], ring_timeout_s=5)
    await notify(db, hotline_number, receiver.url, "call.ringing,call.answered,call.ended")

    figures = []
    for n in range(5):
        seen = await sipp.call(lab.sip_address, hotline_number, caller=f"1370000{n:04d}",
                               hold_ms=300)
        assert seen.result == "answered", seen.errors
        (ringing,) = (await receiver.wait_for("call.ringing", n + 1))[n:]
        rows = await phone_rows(phone, n + 1)
        phone_invite, phone_answer = (_sipp_time(rows[n]["t_invite"]),
                                      _sipp_time(rows[n]["t_answer"]))
        assert ringing.verified
        assert ringing.document["leg"]["dial_string"] == phone.dial_string
        assert ringing.arrived < phone_answer  # the CRM had it while the phone rang
        figures.append(ringing.arrived - phone_invite)
    await receiver.wait_for("call.ended", 5)
    answered = await receiver.wait_for("call.answered", 5)
    assert all(r.verified for r in receiver.got)
    assert len({r.delivery for r in answered}) == 5
    print("\nphone's INVITE -> call.ringing at the receiver, 5 calls: "
          + ", ".join(f"{f * 1000:.0f} ms" for f in figures)
          + " (the phone answered 1500 ms after its INVITE)")


def _dispatch_process(database_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_FORMAT": "json"}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "router", "notifications", "dispatch"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture
def dispatch_processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
async def own_database(database_url: str) -> AsyncIterator[tuple[str, Any]]:
    """A database of this test's own (as the daemon sees it, and a pool as the owner):
    the session's router, which sends notifications too, never sees its rows."""
    url = await database.fresh(database_url.rsplit("/", 1)[1] + "_notify")
    pool = await router_db.connect_pool(url, min_size=1, max_size=3)
    try:
        yield url.replace("//postgres@", f"//{DAEMON_LOGIN}@", 1), pool
    finally:
        await pool.close()


async def test_a_router_killed_after_the_calls_end_loses_nothing_and_two_dispatchers_send_once(
        own_database: tuple[str, Any], daemon_database_url: str, lab: AsteriskLab,
        routers: RouterFactory, phones: PhoneFactory, receiver: Receiver, tmp_path: Path,
        dispatch_processes: list[subprocess.Popen[bytes]]) -> None:
    daemon_url, db = own_database
    number = "4001698001"
    await add_hotline(db, number, [phones(reject_code=486)])
    await notify(db, number, receiver.url)
    # The router sends nothing itself here: its calls end, then it is killed, before
    # any dispatcher ran.
    first = routers("hotline-router-notify", {"NOTIFY_DISPATCH": "off"}, database_url=daemon_url)
    with dialplan_global(lab, "ROUTER_APPS", "^hotline-router-notify$"):
        for n in range(3):
            seen = await sipp.call(lab.sip_address, number, caller=f"1360000{n:04d}")
            assert seen.status == 486, seen.errors
    calls = await wait_for_call(db, number, count=3)
    first.stop(signal.SIGKILL)
    await asyncio.sleep(1.0)
    assert receiver.got == []
    assert await db.fetchval("SELECT count(*) FROM notification_outbox "
                             "WHERE state = 'pending'") == 3

    # Two dispatchers at once (as two routers' would), then the router itself again.
    for n in range(2):
        dispatch_processes.append(_dispatch_process(daemon_url, tmp_path / f"dispatch-{n}.log"))
    got = await receiver.wait_for("call.missed", 3)
    routers("hotline-router-notify", database_url=daemon_url)
    await asyncio.sleep(3.0)  # time for any second send to show
    assert len(receiver.got) == 3
    assert all(r.verified for r in receiver.got)
    assert {r.document["call"]["id"] for r in got} == {str(c["id"]) for c in calls}
    assert len({r.delivery for r in receiver.got}) == 3
    assert await db.fetchval("SELECT count(*) FROM notification_outbox WHERE state = 'sent' "
                             "AND attempts = 1") == 3


async def test_a_webhook_that_hangs_30_s_does_not_delay_the_next_call(
        db: Any, lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        receiver: Receiver, hotline_number: str) -> None:
    phone = phones(answer_after_ms=100)
    await add_hotline(db, hotline_number, [phone])

    async def post_dial_delays(count: int, prefix: str) -> list[float]:
        """Caller's INVITE to the phone's INVITE, seconds, for ``count`` calls."""
        before = len(phone.results())
        delays = []
        for n in range(count):
            seen = await sipp.call(lab.sip_address, hotline_number, caller=f"{prefix}{n:04d}",
                                   hold_ms=200)
            assert seen.result == "answered", seen.errors
            assert seen.t_invite is not None
            row = (await phone_rows(phone, before + n + 1))[before + n]
            delays.append(_sipp_time(row["t_invite"]) - seen.t_invite)
        return delays

    quiet = await post_dial_delays(5, "1350000")
    receiver.hang_s = 30.0
    await notify(db, hotline_number, receiver.url, "call.ringing,call.answered,call.ended")
    started = time.monotonic()
    hung = await post_dial_delays(5, "1350001")
    took = time.monotonic() - started
    assert len(receiver.got) >= 1  # the endpoint was being called, and hung
    print(f"\npost-dial delay, caller's INVITE -> phone's INVITE: without webhooks "
          f"p50 {statistics.median(quiet) * 1000:.0f} ms max {max(quiet) * 1000:.0f} ms; "
          f"with a webhook hanging 30 s p50 {statistics.median(hung) * 1000:.0f} ms "
          f"max {max(hung) * 1000:.0f} ms ({len(receiver.got)} requests hung; "
          f"5 calls took {took:.1f} s)")
    assert max(hung) < max(quiet) + 0.5
    assert took < 30
    await asyncio.sleep(6.0)  # the first tries reach their 5 s limit
    rows = await db.fetch("SELECT state, last_error FROM notification_outbox o JOIN hotlines h "
                          "ON h.id = o.hotline_id WHERE h.number = $1 AND o.attempts > 0",
                          hotline_number)
    assert rows  # tries were made and timed out, to be retried
    assert all("5 s" in (r["last_error"] or "") for r in rows if r["state"] == "pending")

"""Notifications on a real PostgreSQL: the outbox rows the triggers write, the
dispatchers that send them (racing, retrying, giving up) and a real HTTP
receiver on loopback that verifies every signature."""

from __future__ import annotations

import asyncio
import importlib
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from router import db as router_db
from router.admin import AdminError
from router.notify import targets
from router.notify.dispatcher import Dispatcher, DispatchSettings, backoff_s
from router.notify.senders import Sender
from router.notify.webhook import WEBHOOK
from router.records import Outcome
from router.records.kinds import CallEnded
from router.spool import Spool
from router.store import Store
from tests.lab.receiver import Receiver

SECRET = "s3cret-for-the-tests-0123456789"
T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
SENDERS: dict[str, Sender] = {"webhook": WEBHOOK}
_numbers = itertools.count(1)


def hotline_number() -> str:
    """A 400 number of these tests' own range."""
    return f"40016{next(_numbers):05d}"


@pytest.fixture(autouse=True)
async def only_this_tests_targets(db: Any) -> None:
    """Dispatchers send every due row: other tests' targets are turned off first."""
    await db.execute("UPDATE notify_targets SET enabled = false WHERE enabled")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    instance = await Receiver(SECRET).start()
    yield instance
    await instance.stop()


class Clock:
    """The dispatcher's clock, moved by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def hotline_with_target(db: Any, url: str, events: str = "call.missed",
                              fold_minutes: int = 0, missed: list[str] | None = None
                              ) -> tuple[int, str]:
    number = hotline_number()
    hotline_id = await db.fetchval("INSERT INTO hotlines (number) VALUES ($1) RETURNING id",
                                   number)
    await targets.add(db, number, "crm", url, secret=SECRET, events=events.split(","),
                      missed_outcomes=missed, fold_minutes=fold_minutes)
    return int(hotline_id), number


async def closed_call(db: Any, hotline_id: int, number: str, outcome: str = "busy",
                      caller: str = "13800000001", ended_at: datetime = T0,
                      answered: bool = False, recorded: bool = False) -> UUID:
    """A call record opened, then closed by the router's own statement."""
    call_id = uuid4()
    started = ended_at - timedelta(seconds=20)
    await db.execute(
        "INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id, "
        "started_at, answered_at, caller_answered_at) "
        "VALUES ($1, $2, $3, $4, 'ch-' || $1::uuid::text, 'r1', $5, $6, $6)",
        call_id, hotline_id, number, caller, started,
        started + timedelta(seconds=5) if answered else None)
    await db.execute(
        "UPDATE calls SET ended_at = $2, outcome = $3, recorded = $4 "
        "WHERE id = $1 AND ended_at IS NULL", call_id, ended_at, outcome, recorded)
    return call_id


async def rows_of(db: Any, hotline_id: int) -> list[Any]:
    return list(await db.fetch(
        "SELECT * FROM notification_outbox WHERE hotline_id = $1 ORDER BY id", hotline_id))


# --- targets -----------------------------------------------------------------------


@pytest.mark.parametrize(("change", "says"), [
    ({"address": "ftp://crm.example.com/x"}, "webhook address must be an http or https url"),
    ({"address": "http:///x"}, "webhook address must be an http or https url"),
    ({"address": "http://crm example.com/x"}, "address must be 1 to 2000 printable characters"),
    ({"secret": "short"}, "webhook secret must be at least 16 characters"),
    ({"events": ["call.exploded"]}, "event 'call.exploded' is not known: use balance.low, "
                                    "call.answered, call.ended, call.missed, call.ringing"),
    ({"events": []}, "notify target must have at least one event"),
    ({"missed_outcomes": ["answered"]}, "missed outcome 'answered' is not an unanswered call "
                                        "outcome"),
    ({"missed_outcomes": ["lost"]}, "missed outcome 'lost' is not an unanswered call outcome"),
    ({"fold_minutes": 1441}, "notify target fold minutes must be 0 to 1440"),
])
async def test_a_bad_target_is_refused_in_one_sentence(
        db: Any, change: dict[str, Any], says: str) -> None:
    number = hotline_number()
    await db.execute("INSERT INTO hotlines (number) VALUES ($1)", number)
    given: dict[str, Any] = {"secret": SECRET, "events": ["call.missed"],
                             "missed_outcomes": None, "fold_minutes": 0,
                             "address": "https://crm.example.com/hooks"}
    given.update(change)
    address = given.pop("address")
    with pytest.raises(AdminError, match=says):
        await targets.add(db, number, "crm", address, **given)


async def test_a_target_needs_a_hotline_and_an_installed_sender(db: Any) -> None:
    with pytest.raises(AdminError, match="hotline 4009999999 does not exist"):
        await targets.add(db, "4009999999", "crm", "https://x.example.com/", secret=SECRET)
    number = hotline_number()
    await db.execute("INSERT INTO hotlines (number) VALUES ($1)", number)
    with pytest.raises(AdminError, match="sender carrier_pigeon is not installed: use one of "
                                         "webhook"):
        await targets.add(db, number, "crm", "x", sender="carrier_pigeon")


# --- what the triggers write -------------------------------------------------------------


async def test_a_closed_call_is_queued_once_even_when_its_close_is_replayed(
        db: Any, tmp_path: Path) -> None:
    hotline_id, number = await hotline_with_target(db, "http://127.0.0.1:9/hook",
                                                   "call.ended,call.missed")
    call_id = await closed_call(db, hotline_id, number, "no-answer")
    # A router replaying its spool writes the same close again: nothing more.
    store = Store(db, "r1", Spool(tmp_path, "r1"), snapshot=lambda: None,
                  fresh_snapshot=lambda: None)
    await store.write(CallEnded(call_id, T0 + timedelta(seconds=3), Outcome.NO_ANSWER))
    await store.write(CallEnded(call_id, T0, Outcome.NO_ANSWER))
    rows = await rows_of(db, hotline_id)
    assert sorted((r["event"], r["state"], r["call_id"]) for r in rows) == [
        ("call.ended", "pending", call_id), ("call.missed", "pending", call_id)]
    # An answered call is ended, never missed; a missed kind the target did not pick
    # is not told.
    await closed_call(db, hotline_id, number, "answered", answered=True)
    await closed_call(db, hotline_id, number, "failed")
    assert Counter(r["event"] for r in await rows_of(db, hotline_id)) == {
        "call.ended": 3, "call.missed": 1}


async def test_the_routers_role_closing_a_call_queues_it(
        db: Any, daemon_database_url: str) -> None:
    hotline_id, number = await hotline_with_target(db, "http://127.0.0.1:9/hook")
    daemon = await router_db.connect(daemon_database_url)
    try:
        await closed_call(daemon, hotline_id, number, "abandoned")
    finally:
        await daemon.close()
    assert [(r["event"], r["caller"]) for r in await rows_of(db, hotline_id)] == [
        ("call.missed", "13800000001")]


async def test_ringing_and_answered_are_queued_from_the_legs_and_the_answer(db: Any) -> None:
    hotline_id, number = await hotline_with_target(db, "http://127.0.0.1:9/hook",
                                                   "call.ringing,call.answered")
    call_id = uuid4()
    await db.execute(
        "INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id, "
        "started_at) VALUES ($1, $2, $3, '13800000002', 'ch-' || $1::uuid::text, 'r1', $4)",
        call_id, hotline_id, number, T0)
    leg_id = uuid4()
    await db.execute("INSERT INTO call_legs (id, call_id, dial_string, wave, dial_started_at, "
                     "call_started_at) VALUES ($1, $2, 'PJSIP/1001', 1, $3, "
                     "(SELECT started_at FROM call_keys WHERE id = $2))", leg_id, call_id, T0)
    await db.execute("UPDATE calls SET answered_at = $2 WHERE id = $1", call_id,
                     T0 + timedelta(seconds=4))
    rows = await rows_of(db, hotline_id)
    assert [(r["event"], r["leg_id"]) for r in rows] == [
        ("call.ringing", leg_id), ("call.answered", None)]
    ringing = rows[0]
    assert ringing["expires_at"] - ringing["created_at"] == timedelta(seconds=30)


async def test_a_charge_that_crosses_the_low_balance_threshold_is_queued_once(db: Any) -> None:
    hotline_id, number = await hotline_with_target(db, "http://127.0.0.1:9/hook", "balance.low")
    await db.execute("INSERT INTO hotline_billing (hotline_id, low_balance_fen) VALUES ($1, 1000)",
                     hotline_id)
    await db.execute("INSERT INTO ledger (hotline_id, kind, amount_fen) "
                     "VALUES ($1, 'top-up', 1500)", hotline_id)

    async def charge(fen: int) -> None:  # a call's charge, as the rating writes it
        await db.execute(
            """INSERT INTO ledger (hotline_id, kind, amount_fen, month, call_id, billable_ms,
                                   unit_s, units, included_units, price_per_unit_fen)
               VALUES ($1, 'call-charge', $2, '2026-11-01', $3, 60000, 60, $4, 0, 100)""",
            hotline_id, -fen, await closed_call(db, hotline_id, number, "answered", answered=True),
            fen // 100)

    await charge(400)   # 1100: above
    assert await rows_of(db, hotline_id) == []
    await charge(200)   # 900: crosses
    await charge(200)   # 700: already below
    assert [r["event"] for r in await rows_of(db, hotline_id)] == ["balance.low"]


# --- folding -------------------------------------------------------------------


async def test_repeated_missed_calls_from_one_caller_are_folded_into_one(
        db: Any, receiver: Receiver) -> None:
    hotline_id, number = await hotline_with_target(db, receiver.url, fold_minutes=10)
    first = await closed_call(db, hotline_id, number, "busy", ended_at=T0)
    again = await closed_call(db, hotline_id, number, "no-answer",
                              ended_at=T0 + timedelta(minutes=4))
    await closed_call(db, hotline_id, number, "abandoned", ended_at=T0 + timedelta(minutes=9))
    other = await closed_call(db, hotline_id, number, "busy", caller="13900000009",
                              ended_at=T0 + timedelta(minutes=5))
    later = await closed_call(db, hotline_id, number, "busy", ended_at=T0 + timedelta(minutes=11))
    rows = {r["call_id"]: r for r in await rows_of(db, hotline_id)}
    assert [rows[c]["state"] for c in (first, again, other, later)] == [
        "pending", "folded", "pending", "pending"]
    assert rows[again]["folded_into"] == rows[first]["id"]

    async with Dispatcher(db, senders=SENDERS) as dispatcher:
        assert sorted(await dispatcher.drain()) == ["sent"] * 3
    got = {r.document["call"]["id"]: r for r in receiver.got}
    assert set(got) == {str(first), str(other), str(later)}
    assert all(r.verified for r in receiver.got)
    assert got[str(first)].document["missed_calls"] == 3
    assert [f["outcome"] for f in got[str(first)].document["folded_calls"]] == [
        "no-answer", "abandoned"]
    assert got[str(other)].document["missed_calls"] == 1


async def test_two_routers_closing_one_callers_calls_at_once_still_fold(
        db: Any, database_url: str) -> None:
    hotline_id, number = await hotline_with_target(db, "http://127.0.0.1:9/hook",
                                                   fold_minutes=10)
    ids = [uuid4(), uuid4()]
    for call_id in ids:
        await db.execute(
            "INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id, "
            "started_at) VALUES ($1, $2, $3, '13800000003', 'ch-' || $1::uuid::text, 'r1', $4)",
            call_id, hotline_id, number, T0)
    one, two = await router_db.connect(database_url), await router_db.connect(database_url)
    try:
        first, second = one.transaction(), two.transaction()
        await first.start()
        await second.start()
        close = "UPDATE calls SET ended_at = $2, outcome = 'busy' WHERE id = $1"
        await one.execute(close, ids[0], T0 + timedelta(seconds=30))
        blocked = asyncio.ensure_future(two.execute(close, ids[1], T0 + timedelta(seconds=31)))
        await asyncio.sleep(0.3)
        assert not blocked.done()  # waits on the fold lock of (target, caller)
        await first.commit()
        await blocked
        await second.commit()
    finally:
        await one.close()
        await two.close()
    assert sorted(r["state"] for r in await rows_of(db, hotline_id)) == ["folded", "pending"]


# --- sending ----------------------------------------------------------------------


async def test_two_dispatchers_racing_send_each_notification_exactly_once(
        db: Any, database_url: str, receiver: Receiver) -> None:
    hotline_id, number = await hotline_with_target(db, receiver.url, "call.ended")
    calls = [await closed_call(db, hotline_id, number, "busy", caller=f"1380000{i:04d}")
             for i in range(40)]
    receiver.hang_s = 0.01  # both are mid-send at once, often
    pools = [await router_db.connect_pool(database_url, min_size=1, max_size=5)
             for _ in range(2)]
    try:
        dispatchers = [Dispatcher(p, DispatchSettings(workers=4), senders=SENDERS)
                       for p in pools]
        results = await asyncio.gather(*(d.drain() for d in dispatchers for _ in range(4)))
        for d in dispatchers:
            await d.close()
    finally:
        for p in pools:
            await p.close()
    assert sum(len(r) for r in results) == 40
    assert sum(map(len, results[:4])) > 0
    assert sum(map(len, results[4:])) > 0  # both took part
    deliveries = Counter(r.delivery for r in receiver.got)
    assert len(deliveries) == 40
    assert set(deliveries.values()) == {1}
    assert {r.document["call"]["id"] for r in receiver.got} == {str(c) for c in calls}
    assert all(r.verified for r in receiver.got)
    assert {r["state"] for r in await rows_of(db, hotline_id)} == {"sent"}


async def test_a_failing_endpoint_is_retried_with_backoff_then_dead_lettered_then_retried(
        db: Any, receiver: Receiver) -> None:
    hotline_id, number = await hotline_with_target(db, receiver.url)
    await closed_call(db, hotline_id, number, "busy")
    receiver.status = 503
    now = datetime.now(UTC)
    clock = Clock(now.replace(microsecond=now.microsecond // 1000 * 1000))  # stored in ms
    settings = DispatchSettings(max_attempts=4, backoff_s=2.0, backoff_max_s=5.0)
    assert [backoff_s(n, settings) for n in (1, 2, 3, 4)] == [2.0, 4.0, 5.0, 5.0]
    dispatcher = Dispatcher(db, settings, senders=SENDERS, clock=clock)
    try:
        seen = []
        for wait in (2.0, 4.0, 5.0):
            seen.append(await dispatcher.send_one())
            (row,) = await rows_of(db, hotline_id)
            due = clock.now + timedelta(seconds=wait)
            assert row["due_at"] == due
            clock.advance(wait - 0.01)
            assert await dispatcher.send_one() is None  # not due yet
            clock.advance(0.01)
        seen.append(await dispatcher.send_one())
        assert seen == ["failed", "failed", "failed", "dead"]
        (row,) = await rows_of(db, hotline_id)
        assert (row["state"], row["attempts"], row["last_error"]) == ("dead", 4, "HTTP 503")
        assert len(receiver.got) == 4
        clock.advance(3600)
        assert await dispatcher.send_one() is None  # dead stays dead

        (dead,) = await targets.list_outbox(db, dead=True, number=number)
        assert dead["id"] == row["id"]
        receiver.status = 200
        assert await targets.retry(db, [row["id"]]) == 1
        clock.now = datetime.now(UTC) + timedelta(seconds=1)
        assert await dispatcher.send_one() == "sent"
        (row,) = await rows_of(db, hotline_id)
        assert (row["state"], row["attempts"]) == ("sent", 1)
        with pytest.raises(AdminError, match=f"notification {row['id']} is sent, not dead"):
            await targets.retry(db, [row["id"]])
    finally:
        await dispatcher.close()


async def test_a_refusal_is_dead_at_once_and_a_hanging_endpoint_times_out(
        db: Any, receiver: Receiver) -> None:
    hotline_id, number = await hotline_with_target(db, receiver.url)
    await closed_call(db, hotline_id, number, "busy")
    receiver.status = 410
    async with Dispatcher(db, senders=SENDERS) as dispatcher:
        assert await dispatcher.send_one() == "dead"
    (row,) = await rows_of(db, hotline_id)
    assert (row["attempts"], row["last_error"]) == (1, "HTTP 410")

    receiver.status, receiver.hang_s = 200, 30.0
    hotline_id, number = await hotline_with_target(db, receiver.url)
    await closed_call(db, hotline_id, number, "busy")
    async with Dispatcher(db, DispatchSettings(timeout_s=0.5), senders=SENDERS) as dispatcher:
        started = asyncio.get_running_loop().time()
        assert await dispatcher.send_one() == "failed"
        assert asyncio.get_running_loop().time() - started < 2.0
    (row,) = await rows_of(db, hotline_id)
    assert row["last_error"] == "no answer within 0.5 s"


async def test_a_late_screen_pop_expires_instead_of_being_sent(
        db: Any, receiver: Receiver) -> None:
    hotline_id, number = await hotline_with_target(db, receiver.url, "call.ringing")
    call_id = uuid4()
    await db.execute(
        "INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id, "
        "started_at) VALUES ($1, $2, $3, '13800000004', 'ch-' || $1::uuid::text, 'r1', now())",
        call_id, hotline_id, number)
    await db.execute("INSERT INTO call_legs (id, call_id, dial_string, wave, dial_started_at, "
                     "call_started_at) VALUES ($1, $2, 'PJSIP/1001', 1, now(), "
                     "(SELECT started_at FROM call_keys WHERE id = $2))", uuid4(), call_id)
    clock = Clock(datetime.now(UTC) + timedelta(seconds=31))
    async with Dispatcher(db, senders=SENDERS, clock=clock) as dispatcher:
        assert await dispatcher.send_one() == "expired"
    assert receiver.got == []


async def test_a_sender_that_is_not_installed_fails_and_is_retried(db: Any) -> None:
    hotline_id, number = await hotline_with_target(db, "http://127.0.0.1:9/hook")
    await closed_call(db, hotline_id, number, "busy")
    async with Dispatcher(db, senders={}) as dispatcher:
        assert await dispatcher.send_one() == "failed"
    (row,) = await rows_of(db, hotline_id)
    assert row["last_error"] == ("no sender named webhook is installed "
                                 "(hotline-router notifications senders)")
    assert row["state"] == "pending"


async def test_the_ended_document_carries_the_record_and_its_legs(
        db: Any, receiver: Receiver) -> None:
    hotline_id, number = await hotline_with_target(db, receiver.url, "call.ended")
    call_id = await closed_call(db, hotline_id, number, "answered", answered=True)
    await db.execute("INSERT INTO call_legs (id, call_id, dial_string, wave, dial_started_at, "
                     "answered_at, ended_at, result, call_started_at) VALUES ($1, $2, "
                     "'PJSIP/1001', 1, $3, $4, $5, 'answered', "
                     "(SELECT started_at FROM call_keys WHERE id = $2))",
                     uuid4(), call_id, T0 - timedelta(seconds=19),
                     T0 - timedelta(seconds=15), T0)
    async with Dispatcher(db, senders=SENDERS) as dispatcher:
        assert await dispatcher.drain() == ["sent"]
    (got,) = receiver.got
    doc = got.document
    assert got.verified
    assert got.event == "call.ended"
    assert doc["call"]["outcome"] == "answered"
    assert doc["call"]["billable_ms"] == 15_000
    assert doc["hotline"]["number"] == number
    assert [leg["result"] for leg in doc["legs"]] == ["answered"]
    assert doc["recording_id"] is None
    assert json.loads(json.dumps(doc)) == doc


async def recorded_call(db: Any, hotline_id: int, number: str) -> UUID:
    """An answered call closed now as recorded (Asterisk was asked to record its bridge)."""
    return await closed_call(db, hotline_id, number, "answered", answered=True,
                             ended_at=datetime.now(UTC), recorded=True)


async def test_a_recorded_calls_end_waits_for_its_recording_and_names_it(
        db: Any, receiver: Receiver) -> None:
    hotline_id, number = await hotline_with_target(db, receiver.url, "call.ended")
    call_id = await recorded_call(db, hotline_id, number)
    async with Dispatcher(db, senders=SENDERS) as dispatcher:
        assert await dispatcher.drain() == []  # its recording is not stored yet
        recording_id = await db.fetchval(
            "INSERT INTO recordings (call_id, name, format, asterisk, started_at, duration_ms, "
            "size_bytes) VALUES ($1::uuid, $1::uuid::text, 'wav', 'asterisk.test:8088', now(), "
            "15000, 240044) RETURNING id", call_id)
        assert await dispatcher.drain() == ["sent"]  # due at once with its row
    (got,) = receiver.got
    assert got.verified
    assert got.document["recording_id"] == recording_id
    assert (got.document["recording"]["name"], got.document["recording"]["duration_ms"]) == (
        str(call_id), 15_000)


async def test_a_recorded_calls_end_is_told_without_a_recording_that_never_came(
        db: Any, receiver: Receiver) -> None:
    hotline_id, number = await hotline_with_target(db, receiver.url, "call.ended")
    await recorded_call(db, hotline_id, number)
    clock = Clock(datetime.now(UTC))
    async with Dispatcher(db, senders=SENDERS, clock=clock) as dispatcher:
        assert await dispatcher.drain() == []
        clock.advance(11)  # past the 10 s a recording's row may take
        assert await dispatcher.drain() == ["sent"]
    (got,) = receiver.got
    assert (got.document["recording_id"], got.document["recording"]) == (None, None)


async def test_an_sms_plugin_gets_one_line_in_the_hotlines_zone(
        db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parents[2] / "plugins" / "hotline_sms_file"))
    sms_file: Sender = importlib.import_module("hotline_sms_file").SMS_FILE  # the example

    outbox = tmp_path / "sms.jsonl"
    monkeypatch.setenv("HOTLINE_SMS_FILE", str(outbox))
    number = hotline_number()
    hotline_id = await db.fetchval("INSERT INTO hotlines (number) VALUES ($1) RETURNING id",
                                   number)
    # An admin with psql: the database takes any sender name; the dispatcher finds it.
    await db.execute("INSERT INTO notify_targets (hotline_id, name, sender, address) "
                     "VALUES ($1, 'owner', 'sms_file', '+8613800000000')", hotline_id)
    await closed_call(db, hotline_id, number, "no-answer", caller="13912345678")
    async with Dispatcher(db, senders={"sms_file": sms_file}) as dispatcher:
        assert await dispatcher.drain() == ["sent"]
    (line,) = [json.loads(text) for text in outbox.read_text().splitlines()]
    assert line["to"] == "+8613800000000"
    # 02:00 UTC is 10:00 in Asia/Shanghai, the default zone.
    assert line["text"] == f"{number}: missed call from 13912345678 at 2026-11-30 10:00:00 " \
                           "(no-answer)"


async def test_a_dispatcher_that_dies_mid_send_leaves_the_row_due_for_another(
        db: Any, database_url: str, receiver: Receiver) -> None:
    hotline_id, number = await hotline_with_target(db, receiver.url)
    await closed_call(db, hotline_id, number, "busy")
    receiver.hang_s = 2.0
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1,
                                     server_settings={"application_name": "dying-dispatcher"})
    dying = Dispatcher(pool, senders=SENDERS)
    try:
        sending = asyncio.ensure_future(dying.send_one())
        await receiver.wait_for("call.missed", 1, timeout_s=5)
        # Its process is gone: PostgreSQL ends the session and rolls back its claim.
        assert await db.fetchval(
            """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
               WHERE application_name = 'dying-dispatcher'
                 AND state = 'idle in transaction'""")
        with pytest.raises(asyncpg.exceptions.InterfaceError, match="connection"):
            await sending
    finally:
        await dying.close()
        pool.terminate()
    (row,) = await rows_of(db, hotline_id)
    assert (row["state"], row["attempts"]) == ("pending", 0)
    receiver.hang_s = 0.0
    async with Dispatcher(db, senders=SENDERS) as survivor:
        assert await survivor.send_one() == "sent"
    # The receiver saw the same delivery twice and acknowledged it once: it dedupes by id.
    assert [r.delivery for r in receiver.got] == [str(row["id"])] * 2
    assert all(r.verified for r in receiver.got)


async def test_old_sent_rows_are_purged_and_dead_ones_kept(
        db: Any, daemon_database_url: str) -> None:
    hotline_id, number = await hotline_with_target(db, "http://127.0.0.1:9/hook",
                                                   fold_minutes=10)
    first = await closed_call(db, hotline_id, number, "busy")
    await closed_call(db, hotline_id, number, "busy", ended_at=T0 + timedelta(minutes=1))
    dead = await closed_call(db, hotline_id, number, "busy", caller="13700000000")
    await db.execute("UPDATE notification_outbox SET state = 'sent' WHERE call_id = $1", first)
    await db.execute("UPDATE notification_outbox SET state = 'dead', attempts = 8 "
                     "WHERE call_id = $1", dead)
    daemon = await router_db.connect_pool(daemon_database_url, min_size=1, max_size=1)
    try:
        young = Dispatcher(daemon, senders=SENDERS, clock=lambda: datetime.now(UTC))
        assert await young.purge() == 0
        later = Dispatcher(daemon, senders=SENDERS,
                           clock=lambda: datetime.now(UTC) + timedelta(days=31))
        assert await later.purge() >= 1  # ours, and other tests' sent rows
    finally:
        await daemon.close()
    assert [(r["call_id"], r["state"]) for r in await rows_of(db, hotline_id)] == [
        (dead, "dead")]

"""A call's end never stops halfway, and its end time says where it came from.

Whatever fails while a call ends (the spool's disk, the database, Asterisk),
the claims are released or kept for write-back, the record is closed or kept
for write-back, and the call leaves the live registry (issue 13, items 1 and 11).
"""

from __future__ import annotations

import asyncio
import errno
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from router import metrics
from router.ari import AriError
from router.call.states import State
from router.plan import Plan, Sounds
from router.records import kinds
from tests.unit.call_harness import CallLab, hotline
from tests.unit.scripted_ari import T0, Phone

pytestmark = pytest.mark.looptime


def read_only_spool(lab: CallLab) -> None:
    """The spool's disk refuses every write, as a read-only file system does."""
    def refuse(record: kinds.AnyRecord) -> None:
        raise OSError(errno.EROFS, "Read-only file system")
    lab.store.spool.append = refuse  # type: ignore[method-assign]


async def test_a_call_ends_whole_when_neither_database_nor_spool_takes_records(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=1.0, talk_s=3.0)})
    lab.store.go_down()
    read_only_spool(lab)
    with capture_logs() as logs:
        call = lab.place_call()
        await lab.all_ended()

    assert call.state.current is State.ENDED
    assert len(lab.registry) == 0
    assert lab.registry.channels() == set()
    assert metrics.LIVE_CALLS._value.get() == 0
    # Every record is kept, in order, for write-back: none lost.
    kept = lab.store.unsaved
    assert [type(r).__name__ for r in kept] == [
        "CallStarted", "PlanDecided", "LegStarted", "CallBridged", "LegEnded", "CallEnded"]
    row = lab.store.rows(kept)[call.id]
    assert (row.outcome, row.billable_ms) == ("answered", 3_000)
    assert lab.store.held == {}
    assert lab.store.local == {}
    assert not any(line["log_level"] == "error" and "lost" in line["event"] for line in logs)
    # The router says it cannot record: not ready, and the metric.
    assert not lab.store.can_record
    assert metrics.CANNOT_RECORD._value.get() == 1
    assert metrics.RECORDS_UNSAVED._value.get() == 6


async def test_records_kept_in_memory_go_to_the_spool_once_it_takes_them_again(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=1.0, talk_s=3.0)})
    lab.store.go_down()
    read_only_spool(lab)
    first = lab.place_call()
    await lab.all_ended()
    del lab.store.spool.append  # the disk is writable again
    second = lab.place_call()
    await lab.all_ended()
    assert lab.store.unsaved == []
    assert lab.store.can_record
    assert metrics.CANNOT_RECORD._value.get() == 0
    spooled = lab.store.spooled()
    assert [r.call_id for r in spooled if isinstance(r, kinds.CallEnded)] == [first.id, second.id]
    assert type(spooled[0]) is kinds.CallStarted
    assert spooled[0].call_id == first.id


async def test_a_failing_release_and_asterisk_errors_do_not_stop_the_teardown(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=1.0, talk_s=3.0)})
    released: list[Any] = []

    async def release_fails(leg_id: Any, talk_ms: int | None) -> None:
        released.append(leg_id)
        raise OSError(errno.EROFS, "Read-only file system")

    lab.store.release = release_fails  # type: ignore[method-assign]
    lab.ari.failures["destroy_bridge"] = AriError("DELETE", "/bridges/x", 500, "Internal")
    lab.ari.failures["hangup"] = AriError("DELETE", "/channels/x", 500, "Internal")
    call = lab.place_call()
    await lab.all_ended()

    assert call.state.current is State.ENDED
    assert len(lab.registry) == 0
    assert lab.registry.channels() == set()
    assert len(released) == 1
    row = lab.row(call)
    assert row.outcome == "answered"
    assert row.ended_at == T0 + timedelta(seconds=4)
    assert row.results() == ["answered"]


async def test_a_call_task_that_fails_is_logged_once_with_its_call(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=1.0, talk_s=1.0)})
    call = lab.place_call()

    async def broken() -> None:
        raise RuntimeError("a bug after the teardown")

    call.finish = broken  # type: ignore[method-assign]
    with capture_logs() as logs:
        await lab.all_ended()
        await asyncio.sleep(0)
    failed = [line for line in logs if line["event"] == "call task failed"]
    assert [line["call_id"] for line in failed] == [str(call.id)]
    assert len(lab.registry) == 0


async def test_a_hangup_by_asterisk_is_the_end_and_says_so(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=1.0, talk_s=5.0)})
    call = lab.place_call()
    await lab.all_ended()
    assert lab.row(call).end_source == "asterisk"


async def test_the_longest_call_ends_at_asterisks_time_of_the_hangup(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=1.0)},
                  max_call_s=120)
    call = lab.place_call()
    await lab.all_ended()
    row = lab.row(call)
    # The router hung up at its limit; the end is Asterisk's hangup event.
    assert row.ended_at == T0 + timedelta(seconds=121)
    assert row.end_source == "asterisk"
    assert row.billable_ms == 120_000


async def test_without_asterisks_time_the_router_clock_is_used_and_said(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=1.0)},
                  max_call_s=120)
    lab.ari.failures["hangup"] = AriError("DELETE", "/channels/x", 500, "Internal")
    call = lab.place_call()
    await lab.all_ended()
    row = lab.row(call)
    assert row.ended_at == T0 + timedelta(seconds=121)
    assert row.end_source == "router-clock"
    assert lab.claims_held() == 0


async def test_a_router_whose_clock_is_off_still_bills_by_asterisks_times(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=2.0)})
    lab.now = lambda: lab.ari.now() + timedelta(seconds=5)  # type: ignore[method-assign]
    call = lab.place_call()
    lab.ari.later(32.0, lambda: lab.ari.hang_up(call.caller.id))
    await lab.all_ended()
    row = lab.row(call)
    assert row.answered_at == T0 + timedelta(seconds=2)
    assert row.caller_answered_at == T0 + timedelta(seconds=2)  # the caller's Up event
    assert row.ended_at == T0 + timedelta(seconds=32)
    assert row.end_source == "asterisk"
    assert row.billable_ms == 30_000


async def test_the_caller_is_answered_at_asterisks_time_after_a_greeting(
        tmp_path: Path) -> None:
    # The greeting is early media (not billed); the caller is answered when the
    # phone connects, at Asterisk's time, though the router's clock is 3 s behind.
    lab = CallLab(tmp_path, [hotline(plan=Plan(sounds=Sounds(greeting=("sound:hello",))))],
                  {"PJSIP/a": Phone(answer_after_s=1.0, talk_s=5.0)})
    lab.now = lambda: lab.ari.now() - timedelta(seconds=3)  # type: ignore[method-assign]
    call = lab.place_call()
    await lab.all_ended()
    row = lab.row(call)
    assert row.answered_at is not None and row.answered_at > T0
    assert row.caller_answered_at == row.answered_at
    assert row.outcome == "answered"

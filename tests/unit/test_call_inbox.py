"""A call's inbox (router/call/events.py): events applied in order while the
call waits, within the time it gives."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from router.call.events import CallerLeft, CallEvent, Inbox, QueueWake, RingTimeout

pytestmark = pytest.mark.looptime


def inbox_applying(applied: list[CallEvent], left: list[bool] | None = None) -> Inbox:
    async def apply(event: CallEvent) -> None:
        applied.append(event)

    return Inbox(apply, lambda: bool(left))


async def test_queued_events_are_applied_in_order_until_done() -> None:
    applied: list[CallEvent] = []
    inbox = inbox_applying(applied)
    first, second, third = QueueWake(), RingTimeout(uuid4()), QueueWake()
    for event in (first, second, third):
        inbox.deliver(event)

    await inbox.until(lambda: len(applied) == 2, timeout_s=1.0)

    assert applied == [first, second]
    await inbox.drain()
    assert applied == [first, second, third]


async def test_an_event_delivered_later_is_waited_for() -> None:
    applied: list[CallEvent] = []
    inbox = inbox_applying(applied)
    wake = QueueWake()
    inbox.after(3.0, wake)
    loop = asyncio.get_running_loop()
    started = loop.time()

    await inbox.until(lambda: bool(applied), timeout_s=5.0)

    assert applied == [wake]
    assert loop.time() - started == pytest.approx(3.0)


async def test_the_wait_ends_at_its_time_and_a_late_event_stays_queued() -> None:
    applied: list[CallEvent] = []
    inbox = inbox_applying(applied)
    inbox.after(2.0, QueueWake())
    loop = asyncio.get_running_loop()
    started = loop.time()

    with pytest.raises(TimeoutError):
        await inbox.until(lambda: bool(applied), timeout_s=1.0)

    assert loop.time() - started == pytest.approx(1.0)
    assert applied == []
    assert not await inbox.settle(lambda: bool(applied), timeout_s=0.5)
    assert await inbox.settle(lambda: bool(applied), timeout_s=1.0)  # it came at 2 s


async def test_no_time_left_is_a_timeout_even_with_an_event_queued() -> None:
    applied: list[CallEvent] = []
    inbox = inbox_applying(applied)
    inbox.deliver(QueueWake())
    with pytest.raises(TimeoutError):
        await inbox.until(lambda: bool(applied), timeout_s=0)
    assert applied == []


async def test_the_caller_leaving_ends_the_wait() -> None:
    applied: list[CallEvent] = []
    left: list[bool] = []
    inbox = inbox_applying(applied, left)
    inbox.after(1.0, QueueWake())
    asyncio.get_running_loop().call_later(0.5, left.append, True)
    with pytest.raises(CallerLeft):
        await inbox.until(lambda: len(applied) == 2)
    assert len(applied) == 1

"""A time limit on an await (router/deadline.py), and a call's teardown after
its task was cancelled: each bounded wait there must time out as TimeoutError,
not stop the teardown as a CancelledError (CPython gh-102780 before 3.11.3)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from router import deadline
from router.call.states import State
from router.records import CallEnded
from tests.unit.call_harness import CallLab, hotline
from tests.unit.scripted_ari import Phone

pytestmark = pytest.mark.looptime

# asyncio.timeout() is only used, and only tested, where it is sound.
IMPLEMENTATIONS = [False, *([True] if deadline.TIMEOUT_KEEPS_CANCELLATIONS_APART else [])]


@pytest.fixture(params=IMPLEMENTATIONS, ids=lambda sound: "timeout" if sound else "wait_for")
def implementation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(deadline, "TIMEOUT_KEEPS_CANCELLATIONS_APART", request.param)
    return bool(request.param)


async def test_the_awaited_value_comes_back_in_time(implementation: bool) -> None:
    assert await deadline.within(1.0, asyncio.sleep(0, result="done")) == "done"


async def test_a_wait_past_its_limit_is_a_timeout(implementation: bool) -> None:
    with pytest.raises(TimeoutError):
        await deadline.within(0.01, asyncio.sleep(5))


async def test_a_timeout_in_a_task_already_cancelled_is_still_a_timeout(
        implementation: bool) -> None:
    outcome: list[str] = []

    async def teardown_after_cancel() -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:  # a call's `finally`: its teardown goes on
            try:
                await deadline.within(0.01, asyncio.sleep(5))
            except TimeoutError:
                outcome.append("timeout")
            outcome.append("teardown went on")

    task = asyncio.ensure_future(teardown_after_cancel())
    await asyncio.sleep(0)
    task.cancel()
    await task
    assert outcome == ["timeout", "teardown went on"]


async def test_an_outer_cancellation_is_not_taken_for_a_timeout(implementation: bool) -> None:
    task = asyncio.ensure_future(deadline.within(5.0, asyncio.sleep(5)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancelled_bridged_call_still_ends_whole(tmp_path: Path,
                                                         implementation: bool) -> None:
    # As at shutdown: the event stream is gone, then every call's task is
    # cancelled; the teardown's bounded waits for hangup events all time out.
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=0.5)})
    call = lab.place_call()
    await asyncio.sleep(3)
    before = call.state.current
    lab.ari.emit = lambda event: None
    await lab.registry.cancel_all()
    assert (before, call.state.current) == (State.BRIDGED, State.ENDED)
    assert lab.claims_held() == 0
    assert [r for r in lab.store.written if isinstance(r, CallEnded)]
    assert not lab.ari.bridges

"""The web console's live view stops even when a task lost its cancellation
(asyncio.wait_for on Python 3.11 can swallow one: CPython gh-86296)."""

from __future__ import annotations

import asyncio

from router.web.live import LiveHub


async def test_stop_ends_a_task_that_swallowed_its_first_cancellation() -> None:
    hub = LiveHub(None, "postgresql://unused")
    swallowed = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            swallowed.set()  # lost, as inside wait_for when its waiter completes at once
        await asyncio.sleep(3600)  # and on to its next wait, as a listener loop does

    task = asyncio.get_running_loop().create_task(stubborn())
    hub._tasks = [task]
    await asyncio.sleep(0)
    await asyncio.wait_for(hub.stop(), 5)
    assert swallowed.is_set()
    assert task.cancelled()

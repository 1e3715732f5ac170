"""A time limit on one await: TimeoutError when it runs out, also in a task
that is being cancelled.

``asyncio.timeout()`` limits an await without a task of its own, where
``asyncio.wait_for()`` runs the awaitable as a new task (about 7 µs more per
await on Python 3.11, and a call awaits dozens). Before Python 3.11.3, though,
``asyncio.timeout()`` in a task already asked to cancel raises CancelledError,
not TimeoutError, when its time runs out (CPython gh-102780, fixed in 3.11.3):
a call's teardown after ``CallRegistry.cancel_all`` would stop at its first
bounded wait. Debian 12's python3 is 3.11.2, so there ``wait_for`` is used.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

# asyncio.timeout() keeps the task's earlier cancellations apart from its own
# from this version on (CPython gh-102780).
TIMEOUT_KEEPS_CANCELLATIONS_APART = sys.version_info >= (3, 11, 3)


async def within(seconds: float, work: Awaitable[T]) -> T:
    """``await work``, for at most ``seconds``.

    Raises TimeoutError when the time runs out (``work`` is then cancelled),
    CancelledError when the awaiting task is cancelled, or what ``work`` raises.
    """
    if TIMEOUT_KEEPS_CANCELLATIONS_APART:
        async with asyncio.timeout(seconds):
            return await work
    return await asyncio.wait_for(work, seconds)

"""What the database tests share: a live configuration watcher, and waiting for it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from router.live_config import ConfigWatcher


@pytest.fixture
async def watcher(database_url: str) -> AsyncIterator[ConfigWatcher]:
    """A running ConfigWatcher on the test database, its first snapshot loaded."""
    watching = ConfigWatcher(database_url, backoff_initial_s=0.1)
    task = asyncio.get_running_loop().create_task(watching.run())
    await asyncio.wait_for(watching.loaded.wait(), 5)
    yield watching
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def until(check: Any, timeout_s: float = 5.0) -> float:
    """Seconds until ``check()`` is true (fails after ``timeout_s``)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout_s, "not within the time limit"
        await asyncio.sleep(0.005)
    return time.monotonic() - started

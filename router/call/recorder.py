"""A call's records, written in the call's order by one task beside it.

Records trail the call by a round trip instead of delaying it (the phone
rings without waiting for our INSERTs). The store writes each to the database,
or to the spool while the database is away (router/store.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from router import metrics
from router.records.kinds import AnyRecord
from router.store import Store


class Recorder:
    def __init__(self, store: Store, log: Any) -> None:
        self.store = store
        self.log = log
        self._queue: asyncio.Queue[AnyRecord] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def add(self, record: AnyRecord) -> None:
        """Queue a record behind the call's earlier ones (never blocks)."""
        self._queue.put_nowait(record)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._write(),
                                                                name="records")

    async def add_and_wait(self, record: AnyRecord) -> None:
        """Queue a record and return once it and every one before it is
        written (or spooled, if the database is away)."""
        self.add(record)
        await self._queue.join()

    async def close(self) -> None:
        """Wait for what is queued, then stop."""
        if self._task is not None:
            await self._queue.join()
            self._task.cancel()

    async def _write(self) -> None:
        while True:
            record = await self._queue.get()
            try:
                await self.store.write(record)
            except Exception:  # neither written nor spooled (a full disk): say so, go on
                metrics.DATABASE_ERRORS.labels(operation=type(record).__name__).inc()
                self.log.exception("record lost", record=type(record).__name__)
            finally:
                self._queue.task_done()

"""The router's live calls: which call owns which channel, and each call's task.

One registry per router, owned by the service. A call owns its caller's
channel from its StasisStart and each leg's channel from its creation, so
events read in the same burst queue for it before its task first runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import structlog

from router import metrics

if TYPE_CHECKING:
    from router.call.story import Call

log = structlog.get_logger("router.call")


class CallRegistry:
    def __init__(self) -> None:
        self._owners: dict[str, Call] = {}  # channel id -> the call that owns it
        self._tasks: dict[asyncio.Task[None], Call] = {}  # each live call's life
        # Waiting callers' bells, by hotline id (router/call/queue.py): rung when
        # the database says a phone of the hotline freed or a waiter moved.
        self._bells: dict[int, set[Callable[[], None]]] = {}

    # --- channels ----------------------------------------------------------------

    def own(self, channel_id: str, call: Call) -> None:
        self._owners[channel_id] = call

    def disown(self, channel_id: str) -> None:
        self._owners.pop(channel_id, None)

    def find(self, channel_id: str) -> Call | None:
        """The call that owns this channel, if any."""
        return self._owners.get(channel_id)

    def __contains__(self, channel_id: object) -> bool:
        return channel_id in self._owners

    def channels(self) -> set[str]:
        """Every channel a live call owns."""
        return set(self._owners)

    def owning_calls(self) -> list[Call]:
        """Every call that owns a channel, once each."""
        return list({id(call): call for call in self._owners.values()}.values())

    # --- the hold queue ----------------------------------------------------------

    def listen_queue(self, hotline_id: int, bell: Callable[[], None]) -> None:
        self._bells.setdefault(hotline_id, set()).add(bell)

    def leave_queue(self, hotline_id: int, bell: Callable[[], None]) -> None:
        bells = self._bells.get(hotline_id)
        if bells is not None:
            bells.discard(bell)
            if not bells:
                del self._bells[hotline_id]

    def wake_queue(self, hotline_id: int | None = None) -> None:
        """Ring the bells of the hotline's waiting callers (None: every hotline's)."""
        hotlines = list(self._bells) if hotline_id is None else [hotline_id]
        for hotline in hotlines:
            for bell in list(self._bells.get(hotline, ())):
                bell()

    # --- calls' lives ----------------------------------------------------------------

    def start(self, call: Call, life: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run ``life`` (a new call's, or an adopted one's) as the call's task."""
        task = asyncio.get_running_loop().create_task(life, name=name)
        self._tasks[task] = call
        metrics.LIVE_CALLS.set(len(self._tasks))
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Task[None]) -> None:
        call = self._tasks.pop(task, None)
        metrics.LIVE_CALLS.set(len(self._tasks))
        if not task.cancelled() and (error := task.exception()) is not None:
            # Retrieved here, so it is logged once with its call, never as
            # "Task exception was never retrieved".
            log.error("call task failed", call_id=str(call.id) if call else None,
                      exc_info=error)

    def live(self) -> list[Call]:
        """Calls whose life is still running."""
        return list(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)

    async def all_ended(self) -> None:
        """Return once no call is live."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def cancel_all(self) -> None:
        """Stop the calls that would not end (the last step of a shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

"""A call's inbox: the events of its channels and its own timers, in order.

The router delivers each ARI event to the call that owns its channel; the
call's timers deliver theirs the same way. Nothing else changes a call: an
event is applied (router/call/intake.py) only while the call waits for
something with :meth:`Inbox.until`, one at a time, so its parts never see a
change halfway.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from router.ari import events as ev
from router.deadline import within


@dataclass(frozen=True)
class RingTimeout:
    """A leg has rung for its ring timeout."""

    leg_id: UUID


# ``hunt`` ties the next two to one hunting pass, so a late timer of an
# earlier pass changes nothing.
@dataclass(frozen=True)
class WaveDue:
    """The next wave of a ring plan with a delay is due (ring progressively)."""

    hunt: int


@dataclass(frozen=True)
class HuntTimeout:
    """The hunting pass's time is up."""

    hunt: int


@dataclass(frozen=True)
class ConfirmTimeout:
    """A screened leg's time to press the confirm key is up (router/call/screening.py)."""

    leg_id: UUID
    playback_id: str  # the prompt it belongs to (a later timer replaces it)


@dataclass(frozen=True)
class Reconcile:
    """After a gap in the events: the channels Asterisk still has (id -> state).

    Posted by the router when its event websocket is back; whatever of this
    call is gone ended while nobody watched, at best at ``lost_at``.
    """

    channels: Mapping[str, str]
    lost_at: datetime


@dataclass(frozen=True)
class QueueWake:
    """A phone of the hotline the caller waits for freed, or the queue moved
    (router/call/queue.py): see whether it is the caller's turn."""


@dataclass(frozen=True)
class ConsultationAsked:
    """The phone talking with this call's caller dialled a consultation call
    (router/call/consultation.py): its channel, in the router's application,
    the target it dialled and when (Asterisk's time)."""

    channel: ev.Channel
    destination: str
    at: datetime


CallEvent = (ev.AnyEvent | ev.OtherEvent | RingTimeout | WaveDue | HuntTimeout | ConfirmTimeout
             | Reconcile | QueueWake | ConsultationAsked)


QueuedT = TypeVar("QueuedT")


class CallerLeft(Exception):
    """The caller hung up; the call winds down."""


class Inbox:
    """The queue of one call's events, applied in order by whoever waits.

    ``apply`` applies one event to the call; ``caller_left`` says whether the
    caller has gone in a way that ends what the call waits for (see
    :meth:`until`).
    """

    def __init__(self, apply: Callable[[CallEvent], Awaitable[None]],
                 caller_left: Callable[[], bool]) -> None:
        self._apply = apply
        self._caller_left = caller_left
        self._queue: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()

    def deliver(self, event: CallEvent) -> None:
        """Queue an event for this call (never blocks)."""
        self._queue.put_nowait(event)

    def after(self, delay_s: float, event: CallEvent) -> asyncio.TimerHandle:
        """Deliver ``event`` in ``delay_s`` seconds (cancel the handle to call it off)."""
        return self._loop.call_later(delay_s, self.deliver, event)

    def at(self, when: float, event: CallEvent) -> asyncio.TimerHandle:
        """Deliver ``event`` at loop time ``when``."""
        return self._loop.call_at(when, self.deliver, event)

    def time(self) -> float:
        """The event loop's clock (monotonic seconds): timers and deadlines use it."""
        return self._loop.time()

    async def until(self, done: Callable[[], bool], timeout_s: float | None = None) -> None:
        """Apply events until ``done()``.

        Raises CallerLeft if the caller goes first, TimeoutError after
        ``timeout_s`` seconds.
        """
        deadline = None if timeout_s is None else self._loop.time() + timeout_s
        while not done():
            if self._caller_left():
                raise CallerLeft
            remaining = None if deadline is None else max(0.0, deadline - self._loop.time())
            await self._apply(await self._next(remaining))
        if self._caller_left():
            raise CallerLeft

    async def settle(self, done: Callable[[], bool], timeout_s: float) -> bool:
        """Apply events until ``done()`` or ``timeout_s`` seconds pass, whoever
        has left (for the call's end); whether ``done()``."""
        deadline = self._loop.time() + timeout_s
        while not done():
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                return False
            try:
                event = await self._next(remaining)
            except TimeoutError:
                return False
            await self._apply(event)
        return True

    async def _next(self, timeout_s: float | None) -> CallEvent:
        """The next event, waiting up to ``timeout_s`` seconds (None: for ever;
        0 or less: no time left, TimeoutError at once). Raises TimeoutError.

        An event already queued is taken at once, without a task or a timer
        (router/deadline.py: tens of events per call).
        """
        if timeout_s is not None and timeout_s <= 0:
            raise TimeoutError  # as wait_for: the time is up, whatever is queued
        if not self._queue.empty():
            return self._queue.get_nowait()
        if timeout_s is None:
            return await self._queue.get()
        return await within(timeout_s, self._queue.get())

    async def wait(self, seconds: float) -> None:
        """Apply events for ``seconds`` (raises CallerLeft if the caller goes)."""
        with contextlib.suppress(TimeoutError):
            await self.until(lambda: False, timeout_s=seconds)

    def take(self, kind: type[QueuedT]) -> list[QueuedT]:
        """Take the queued events of one kind out of the queue, unapplied
        (the others stay, in order)."""
        kept: list[CallEvent] = []
        taken: list[QueuedT] = []
        while not self._queue.empty():
            event = self._queue.get_nowait()
            if isinstance(event, kind):
                taken.append(event)
            else:
                kept.append(event)
        for event in kept:
            self._queue.put_nowait(event)
        return taken

    async def drain(self) -> None:
        """Apply the events already queued, without waiting for more."""
        while not self._queue.empty():
            await self._apply(self._queue.get_nowait())

"""Overflow to a queue: music while waiting for a phone of the group to free.

The caller waits at most the hotline's ``overflow_max_wait_s``; every
``QUEUE_POLL_S`` the group's phones are read afresh, and when one is idle a
new hunting pass rings it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from router import plan
from router.call.legs import Leg
from router.call.states import State
from router.directory import Hotline

if TYPE_CHECKING:
    from router.call.story import Call

# While queued, how often to look for a phone that has freed.
QUEUE_POLL_S = 1.0


async def wait_for_a_phone(call: Call, hotline: Hotline, group: plan.Group) -> Leg | None:
    """The leg of a freed phone that answered, or None when the wait is over.

    Raises CallerLeft when the caller hangs up while waiting.
    """
    inbox = call.inbox
    end = inbox.time() + hotline.overflow_max_wait_s
    call.state.to(State.QUEUED, max_wait_s=hotline.overflow_max_wait_s)
    await call.media.start_music()
    while (remaining := end - inbox.time()) > 0:
        await inbox.wait(min(QUEUE_POLL_S, remaining))
        fresh = await call.services.store.find_hotline(hotline.number)
        if fresh is None or not fresh.hotline.enabled:
            continue
        # The same group, as configured now (the default group follows the hotline).
        now_group = (fresh.hotline.plan.groups.get(group.id) if group.id is not None
                     else fresh.hotline.default_group())
        if now_group is None or not fresh.idle_candidates(call.clock(), now_group):
            continue
        deadline = min(end, inbox.time() + fresh.hotline.total_timeout_s)
        winner = await call.hunt_group(fresh, now_group, deadline)
        if winner is not None:
            return winner
        call.state.to(State.QUEUED)
    call.log.info("queue wait over")
    return None

"""Overflow to a queue: first come first served, VIP callers first, across routers.

A caller no phone took (or who arrived while others wait for the same group)
joins the hotline's queue in PostgreSQL (router/waiting.py) and hears the
hotline's music class. Its turn comes when it is among the first waiters not
yet offered and its group has a free call slot for it; then it hunts the
group's idle phones as a new call would. A phone that does not take it gives
the turn back (the caller keeps its place) and it waits again.

It looks for its turn when its bell rings, and at least every
:data:`QUEUE_FALLBACK_S` (a notification lost, or a phone's wrap-up over):
the database NOTIFYs every router on ``hotline_router_queue`` when a phone of
the hotline frees or a waiter moves (migrations/0019_queue.sql), and the
router rings the bells of its waiting callers of that hotline
(router/queue_bell.py, router/call/registry.py).

Position announcements follow Asterisk's app_queue (its ``announce-position``
and ``announce-frequency`` options, and its core sounds): caller 1 hears
``queue-youarenext``; caller N hears ``queue-thereare`` N
``queue-callswaiting``; the expected wait is ``queue-holdtime`` M
``queue-minutes``, from the hotline's running average of answered waits.

The caller waits at most the hotline's ``overflow_max_wait_s``; a full queue
(``queue_max_waiting``) or a wait that is over returns None, and the call
takes the hotline's ``queue_overflow`` (router/call/story.py).

While the database is away no order can be kept across routers: the caller
waits as before the queue was shared, looking for an idle phone every
:data:`UNORDERED_POLL_S`.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import TYPE_CHECKING
from uuid import uuid4

from router import callers, metrics, plan, region
from router.ari import AriError
from router.call.events import QueueWake
from router.call.legs import Leg
from router.call.states import State
from router.directory import Hotline, Overflow
from router.store import Unavailable

if TYPE_CHECKING:
    from router.call.events import Inbox
    from router.call.story import Call

# With notifications, a slow look now and then for what no notification says
# (a notification lost with the listening connection, a wrap-up running out).
QUEUE_FALLBACK_S = 3.0
# Without the database: how often to look for an idle phone.
UNORDERED_POLL_S = 1.0
# A turn given back unused (no phone idle after all): how long before looking again.
TURN_RETRY_S = 0.5
# The caller list whose callers wait ahead of the others.
VIP_LIST = "vip"


class Bell:
    """Rung by the router when the queue may have moved; wakes the waiting call."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.rung = False
        self.rung_at: float | None = None  # perf_counter of the first ring not yet heard

    def ring(self) -> None:
        if not self.rung:
            self.rung_at = time.perf_counter()
        self.rung = True
        self.inbox.deliver(QueueWake())

    def heard(self) -> float | None:
        """Reset; seconds since the ring that woke the caller (None: not rung)."""
        since = None if self.rung_at is None else time.perf_counter() - self.rung_at
        self.rung, self.rung_at = False, None
        return since


def is_vip(hotline: Hotline, caller_number: str) -> bool:
    """Whether the caller is on the hotline's (or the global) caller list ``vip``."""
    entries = [e for e in hotline.plan.lists if e.list == VIP_LIST]
    if not entries:
        return False
    caller = callers.normalise(caller_number)
    where = region.lookup(caller)
    return any(e.matches(caller, where) for e in entries)


def group_id_of(group: plan.Group) -> int:
    """The queue a group's callers wait in: its id; 0 for the hotline's own phones."""
    return group.id if group.id is not None else 0


async def others_waiting(call: Call, hotline: Hotline, group: plan.Group) -> bool:
    """Whether callers already wait for this group: a new caller joins behind
    them rather than ringing a phone that frees (False without a queue)."""
    if hotline.overflow is not Overflow.QUEUE:
        return False
    return await call.services.store.queue_waiting(hotline.id, group_id_of(group))


async def wait_for_a_phone(call: Call, hotline: Hotline, group: plan.Group) -> Leg | None:
    """The leg of a freed phone that answered, or None when the queue is full
    or the wait is over.

    Raises CallerLeft when the caller hangs up while waiting.
    """
    store = call.services.store
    rules = hotline.queue
    vip = is_vip(hotline, call.caller.caller.number)
    ordered = True
    try:
        place = await store.queue_join(call.id, hotline.id, group_id_of(group), vip,
                                       call.started_at, rules.max_waiting)
    except Unavailable:
        ordered, place = False, None
    if ordered and place is None:
        call.log.info("queue full", max_waiting=rules.max_waiting)
        return None
    call.state.to(State.QUEUED, max_wait_s=hotline.overflow_max_wait_s, position=place, vip=vip)
    bell = Bell(call.inbox)
    call.services.registry.listen_queue(hotline.id, bell.ring)
    left = False
    try:
        winner = await _wait(call, hotline, group, bell, place, ordered)
        if winner is not None and ordered:
            # The caller is bridged already: a leave the database cannot take
            # now is left to the clean-up of waiters whose call has ended.
            try:
                await store.queue_leave(call.id, answered=True)
                left = True
            except Exception as exc:
                call.log.warning("could not leave the queue", error=str(exc))
        if winner is None:
            call.log.info("queue wait over")
        return winner
    finally:
        call.services.registry.leave_queue(hotline.id, bell.ring)
        if ordered and not left:
            try:
                await store.queue_leave(call.id, answered=False)
            except Exception as exc:  # gone with its router's lease or its record's end
                call.log.warning("could not leave the queue", error=str(exc))


async def _wait(call: Call, hotline: Hotline, group: plan.Group, bell: Bell,
                place: int | None, ordered: bool) -> Leg | None:
    inbox = call.inbox
    rules = hotline.queue
    end = inbox.time() + hotline.overflow_max_wait_s
    voice = Announcer(call, hotline)
    await call.media.start_music(rules.music_class)
    if rules.announce_position and place is not None:
        await voice.start(place)
    every = rules.announce_every_s
    next_announcement = inbox.time() + every if every and ordered else None
    while end - inbox.time() > 0:
        woke = bell.heard()
        winner = await _take_a_turn(call, hotline, group, end, ordered, woke, voice)
        if winner is not None:
            return winner
        if call.state.current is not State.QUEUED:
            call.state.to(State.QUEUED)
        if bell.rung:
            continue  # the queue moved while we looked
        poll = QUEUE_FALLBACK_S if ordered else UNORDERED_POLL_S
        until = min(poll, end - inbox.time())
        if next_announcement is not None and not voice.playing:
            until = min(until, next_announcement - inbox.time())
        if until > 0:
            with contextlib.suppress(TimeoutError):
                await inbox.until(lambda: bell.rung or voice.finished, timeout_s=until)
        if voice.finished:
            await voice.done()
        if (next_announcement is not None and not voice.playing
                and inbox.time() >= next_announcement):
            next_announcement = inbox.time() + every
            now_at = await call.services.store.queue_position(call.id)
            if now_at is not None and end - inbox.time() > 0:
                await voice.start(now_at)
    await voice.stop()
    return None


async def _take_a_turn(call: Call, hotline: Hotline, group: plan.Group, end: float,
                       ordered: bool, woke: float | None, voice: Announcer) -> Leg | None:
    """If it is the caller's turn and a phone of the group is idle, hunt it
    (an announcement under way stops: the turn does not wait for it)."""
    store = call.services.store
    if ordered:
        try:
            turn = await store.queue_offer(call.id, hotline.id,
                                           _phone_ids(hotline, group, store.offline_endpoints()))
        except Unavailable:
            # The database away: no order to keep, any idle phone will do. Only
            # slow: look again at the next wake-up.
            turn = not store.healthy
        if woke is not None:
            metrics.QUEUE_WAKE_SECONDS.observe(woke)
        if not turn:
            return None
    fresh = await store.find_hotline(hotline.number)
    # The same group, as configured now (the default group follows the hotline).
    now_group = None if fresh is None else (
        fresh.hotline.plan.groups.get(group.id) if group.id is not None
        else fresh.hotline.default_group())
    if (fresh is None or not fresh.hotline.enabled or now_group is None
            or not fresh.idle_candidates(call.clock(), now_group)):
        if ordered and store.healthy:
            await _give_back(call)
            # Its own giving back wakes it again: look after a pause, not at once.
            await call.inbox.wait(TURN_RETRY_S)
        return None
    call.log.info("queue turn", woke_ms=None if woke is None else round(woke * 1000, 1))
    await voice.stop()
    deadline = min(end, call.inbox.time() + fresh.hotline.total_timeout_s)
    winner = await call.hunt_group(fresh, now_group, deadline)
    if winner is None and ordered:
        await _give_back(call)
    return winner


async def _give_back(call: Call) -> None:
    with contextlib.suppress(Unavailable):
        await call.services.store.queue_give_back(call.id)


def _phone_ids(hotline: Hotline, group: plan.Group,
               offline: frozenset[str] = frozenset()) -> list[int]:
    """The group's enabled bound phones whose endpoint Asterisk does not report
    offline (their free slots are the group's)."""
    reachable = {p.phone_id for p in hotline.phones if p.dial_string not in offline}
    if group.members is None:
        return [p.phone_id for p in hotline.phones if p.phone_id in reachable]
    return [m.phone_id for m in group.members if m.phone_id in reachable]


def position_media(position: int, hold_ms: int | None) -> list[str]:
    """What a caller at ``position`` (1 = next) hears, as ARI media URIs; the
    expected wait in whole minutes, rounded up (at least 1), when ``hold_ms``
    is known."""
    media = (["sound:queue-youarenext"] if position <= 1 else
             ["sound:queue-thereare", f"number:{position}", "sound:queue-callswaiting"])
    if hold_ms is not None:
        minutes = max(1, math.ceil(hold_ms / 60_000))
        media += ["sound:queue-holdtime", f"number:{minutes}", "sound:queue-minutes"]
    return media


class Announcer:
    """The caller's place in the queue (and the expected wait), told over the
    music: the music stops for it and starts again. It plays while the caller
    waits, and stops when the caller's turn comes. A failure is only logged."""

    def __init__(self, call: Call, hotline: Hotline) -> None:
        self.call = call
        self.hotline = hotline
        self.playback_id: str | None = None

    @property
    def playing(self) -> bool:
        return self.playback_id is not None

    @property
    def finished(self) -> bool:
        return (self.playback_id is not None
                and self.playback_id in self.call.media.finished_playbacks)

    async def start(self, position: int) -> None:
        call = self.call
        hold_ms = None
        if self.hotline.queue.announce_hold:
            with contextlib.suppress(Unavailable):
                hold_ms = await call.services.store.queue_hold_ms(self.hotline.id)
        media = position_media(position, hold_ms)
        call.log.info("queue position announced", position=position, hold_ms=hold_ms,
                      media=media)
        playback_id = str(uuid4())
        await call.media.stop_music()
        try:
            async with call.media.to_the_caller():
                await call.services.ari.play(call.caller.id, media, playback_id)
        except AriError as exc:
            call.log.warning("position announcement failed", error=str(exc))
            await call.media.start_music(self.hotline.queue.music_class)
            return
        self.playback_id = playback_id

    async def done(self) -> None:
        """It has been heard: the music again."""
        self.playback_id = None
        await self.call.media.start_music(self.hotline.queue.music_class)

    async def stop(self) -> None:
        """Cut it short (the caller's turn, or the wait is over)."""
        if self.playback_id is None:
            return
        playback_id, self.playback_id = self.playback_id, None
        if playback_id not in self.call.media.finished_playbacks:
            await self.call.ari_quietly(self.call.services.ari.stop_playback(playback_id))
        await self.call.media.start_music(self.hotline.queue.music_class)

"""Run real calls of the call core against a scripted Asterisk and an in-memory store.

:class:`CallLab` is the router as a call sees it (router/call/services.py):
the :class:`~tests.unit.scripted_ari.ScriptedAri`, a :class:`MemoryStore`, the
call registry, and the same event dispatch the router uses. The store keeps
busy state and records in memory with the database's rules (a claim only below
capacity; a record closed once); while ``down`` it is the real Store's outage
mode (cached configuration, this router's share of phones, the spool).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from router import claims
from router.ari import events as ev
from router.call import Call, CallRegistry, consultation, start_call
from router.directory import (
    BoundPhone,
    Hotline,
    Lookup,
    Overflow,
    PhoneState,
    QueueRules,
    Screening,
    Snapshot,
    Voicemail,
)
from router.plan import Plan
from router.recordings.policy import RecordingPolicy
from router.records import kinds
from router.records.kinds import AnyRecord, LegResult
from router.spool import Spool
from router.store import Store
from router.transfer_rules import TransferRules
from tests.unit.scripted_ari import Phone, ScriptedAri

NUMBER = "4001234567"


def hotline(dial_strings: Sequence[str] = ("PJSIP/a", "PJSIP/b"), *, number: str = NUMBER,
            strategy: str = "sequential", options: Mapping[str, Any] | None = None,
            ring_timeout_s: int = 15, total_timeout_s: int = 60,
            max_attempts: int | None = None, overflow: Overflow = Overflow.BUSY,
            overflow_max_wait_s: int = 60, forward_to: str | None = None,
            capacity: int = 1, wrap_up_s: int = 0, plan: Plan | None = None,
            enabled: bool = True, screening: Screening | None = None,
            recording: RecordingPolicy | None = None,
            voicemail: Voicemail | None = None,
            queue: QueueRules | None = None) -> Hotline:
    """A hotline whose phones 1, 2, … have these dial strings, in this order."""
    phones = tuple(BoundPhone(phone_id=n, dial_string=dial, position=n, capacity=capacity,
                              weight=1, wrap_up_s=wrap_up_s)
                   for n, dial in enumerate(dial_strings, start=1))
    return Hotline(id=1, number=number, enabled=enabled, strategy=strategy,
                   strategy_options=dict(options or {}), ring_timeout_s=ring_timeout_s,
                   total_timeout_s=total_timeout_s, max_attempts=max_attempts,
                   overflow=overflow, overflow_max_wait_s=overflow_max_wait_s,
                   overflow_forward_to=forward_to, phones=phones, plan=plan or Plan(),
                   screening=screening or Screening(),
                   recording=recording or RecordingPolicy(),
                   voicemail=voicemail or Voicemail(), queue=queue or QueueRules())


@dataclass
class CallRow:
    """A ``calls`` row as the records make it (the database's rules, in memory)."""

    outcome: str | None = None
    started_at: datetime | None = None
    answered_at: datetime | None = None
    caller_answered_at: datetime | None = None
    ended_at: datetime | None = None
    answered_phone_id: int | None = None
    overflow: str | None = None
    plan_result: str | None = None
    menu_keys: str | None = None
    reconciled: bool = False
    end_source: str | None = None
    legs: dict[UUID, dict[str, Any]] = field(default_factory=dict)

    @property
    def billable_ms(self) -> int:
        """As ``calls.billable_ms`` (migration 0013): from the one stored
        billing start to the end."""
        start = self.caller_answered_at or self.answered_at
        if start is None or self.ended_at is None:
            return 0
        return max(0, int((self.ended_at - start).total_seconds() * 1000))

    def results(self) -> list[str | None]:
        """Each leg's result, in the order they were started."""
        return [leg["result"] for leg in self.legs.values()]


@dataclass
class Waiter:
    """A ``queue_waiters`` row."""

    call_id: UUID
    hotline_id: int
    group_id: int
    priority: int
    arrived_at: datetime
    seq: int
    offered: bool = False


class MemoryStore(Store):
    """The call path's store, in memory; see the module docstring."""

    def __init__(self, folder: Path, hotlines: Sequence[Hotline],
                 router_id: str = "router-test") -> None:
        self.hotlines = {h.number: h for h in hotlines}
        super().__init__(None, router_id, Spool(folder, router_id),
                         snapshot=lambda: Snapshot(self.hotlines),
                         fresh_snapshot=lambda: Snapshot(self.hotlines))
        self.states: dict[int, PhoneState] = {
            p.phone_id: PhoneState() for h in hotlines for p in h.phones}
        self.capacity = {p.phone_id: p.capacity for h in hotlines for p in h.phones}
        self.claims: dict[UUID, int] = {}  # the "database's" claims: leg -> phone
        self.written: list[AnyRecord] = []
        self.most_calls: dict[int, int] = {}  # the most live calls each phone ever had
        self.call_numbers = itertools.count()
        self.in_order_calls = 0  # routing decisions taken in one statement
        self.down = False
        self.transfers: dict[int, TransferRules] = {}  # hotline id -> its transfer rules
        # The hold queue (router/waiting.py's rules): call -> waiter.
        self.waiters: dict[UUID, Waiter] = {}
        self.claim_calls: dict[UUID, UUID] = {}  # leg -> call, of the claims held
        self.hold_ms: int | None = None
        self.joined: list[UUID] = []  # calls in the order they joined
        self.on_queue_moved: Callable[[], None] = lambda: None  # the router's wake-up
        self._seq = itertools.count()

    def go_down(self) -> None:
        self.down = True
        self.healthy = False

    # --- the store a call sees ----------------------------------------------------------

    async def find_hotline(self, number: str, new_call: bool = False) -> Lookup | None:
        if self.down:
            return await super().find_hotline(number, new_call)
        found = self.hotlines.get(number)
        if found is None:
            return None
        return Lookup(found, {p.phone_id: self.states[p.phone_id] for p in found.phones},
                      refuses_calls=False)

    async def claim(self, phone_id: int, capacity: int, leg_id: UUID, call_id: UUID) -> bool:
        if self.down:
            return await super().claim(phone_id, capacity, leg_id, call_id)
        state = self.states[phone_id]
        if state.active_calls >= self.capacity[phone_id]:
            return False
        self._count(phone_id, +1)
        self.claims[leg_id] = phone_id
        self.claim_calls[leg_id] = call_id
        self.held[leg_id] = phone_id
        return True

    async def claim_in_order(self, phones: Sequence[tuple[int, str]], call_id: UUID,
                             wanted: int, hotline_id: int | None = None,
                             take_turn: bool = False,
                             check_refusal: bool = False) -> claims.InOrder | None:
        """As migrations/0024_claim_in_order.sql does it: from the turn's phone
        on, the first ``wanted`` below capacity (offline endpoints skipped)."""
        if self.down or not self.healthy:
            return None
        self.in_order_calls += 1
        call_number = next(self.call_numbers) if take_turn else None
        start = (call_number or 0) % max(len(phones), 1)
        offline = self.offline_endpoints()
        claimed: list[claims.ListedPhone] = []
        taken: dict[int, UUID] = {}
        for phone_id, dial in [*phones[start:], *phones[:start]]:
            if len(taken) >= wanted:
                break
            if dial in offline or self.states[phone_id].active_calls >= self.capacity[phone_id]:
                continue
            leg_id = uuid4()
            self._count(phone_id, +1)
            self.claims[leg_id] = self.held[leg_id] = phone_id
            self.claim_calls[leg_id] = call_id
            taken[phone_id] = leg_id

        def listed(phone_id: int) -> claims.ListedPhone:
            state = self.states[phone_id]
            return claims.ListedPhone(phone_id, taken.get(phone_id), phone_id in taken,
                                      state.active_calls, state.last_call_ended_at,
                                      state.presence, state.offer_after, state.calls_today,
                                      state.talk_ms_today)

        claimed = [listed(p) for p in taken]
        return claims.InOrder(claimed=tuple(claimed), listed=tuple(listed(p) for p, _ in phones),
                              call_number=call_number, refuses=False)

    async def release(self, leg_id: UUID, talk_ms: int | None) -> None:
        await super().release(leg_id, talk_ms)  # down: spooled (or a local claim dropped)

    async def write(self, record: AnyRecord) -> None:
        if self.down:
            await super().write(record)
            return
        self.written.append(record)
        if isinstance(record, kinds.ClaimReleased) and record.leg_id in self.claims:
            self._count(self.claims.pop(record.leg_id), -1)
            self.claim_calls.pop(record.leg_id, None)
            if self.waiters:
                self.on_queue_moved()  # as the database's NOTIFY (migration 0019)

    async def next_call_number(self, hotline_id: int) -> int:
        return next(self.call_numbers)

    async def transfer_rules(self, hotline_id: int) -> TransferRules:
        if self.down:
            return await super().transfer_rules(hotline_id)
        return self.transfers.get(hotline_id, TransferRules())
    # --- the hold queue, in memory with router/waiting.py's rules -----------------

    def _order(self, hotline_id: int, group_id: int) -> list[Waiter]:
        return sorted((w for w in self.waiters.values()
                       if (w.hotline_id, w.group_id) == (hotline_id, group_id)),
                      key=lambda w: (-w.priority, w.arrived_at, w.seq))

    async def queue_join(self, call_id: UUID, hotline_id: int, group_id: int, vip: bool,
                         arrived_at: datetime, max_waiting: int | None) -> int | None:
        self._need_database()
        if call_id not in self.waiters:
            if max_waiting is not None and sum(
                    1 for w in self.waiters.values() if w.hotline_id == hotline_id) >= max_waiting:
                return None
            self.waiters[call_id] = Waiter(call_id, hotline_id, group_id, int(vip), arrived_at,
                                           next(self._seq))
            self.joined.append(call_id)
        return await self.queue_position(call_id)

    async def queue_offer(self, call_id: UUID, hotline_id: int, phone_ids: list[int]) -> bool:
        self._need_database()
        me = self.waiters.get(call_id)
        if me is None or me.offered:
            return False
        order = self._order(me.hotline_id, me.group_id)
        slots = sum(max(0, self.capacity[p] - self.states[p].active_calls) for p in phone_ids)
        claimed = set(self.claim_calls.values())
        pending = sum(1 for w in order if w.offered and w.call_id not in claimed)
        ahead = [w for w in order[:order.index(me)] if not w.offered]
        if len(ahead) < slots - pending:
            me.offered = True
            return True
        return False

    async def queue_give_back(self, call_id: UUID) -> None:
        self._need_database()
        if (waiter := self.waiters.get(call_id)) is not None and waiter.offered:
            waiter.offered = False
            self.on_queue_moved()

    async def queue_leave(self, call_id: UUID, answered: bool) -> None:
        self._need_database()
        if self.waiters.pop(call_id, None) is not None:
            self.on_queue_moved()

    async def queue_position(self, call_id: UUID) -> int | None:
        self._need_database()
        me = self.waiters.get(call_id)
        return None if me is None else self._order(me.hotline_id, me.group_id).index(me) + 1

    async def queue_waiting(self, hotline_id: int, group_id: int) -> bool:
        return not self.down and bool(self._order(hotline_id, group_id))

    async def queue_hold_ms(self, hotline_id: int) -> int | None:
        self._need_database()
        return self.hold_ms

    def _count(self, phone_id: int, change: int) -> None:
        state = self.states[phone_id]
        active = state.active_calls + change
        self.states[phone_id] = PhoneState(active_calls=active)
        self.most_calls[phone_id] = max(self.most_calls.get(phone_id, 0), active)

    # --- what the test reads ------------------------------------------------------------

    def spooled(self) -> list[AnyRecord]:
        """The records waiting in the spool, in order."""
        return [record for record, _, _ in self.spool._entries(self.spool.path)]

    def rows(self, records: Sequence[AnyRecord] | None = None) -> dict[UUID, CallRow]:
        """``calls`` rows (with their legs) as these records make them."""
        rows: dict[UUID, CallRow] = {}
        legs: dict[UUID, dict[str, Any]] = {}
        for r in self.written if records is None else records:
            if isinstance(r, kinds.CallStarted):
                rows.setdefault(r.call_id, CallRow(started_at=r.started_at))
            elif isinstance(r, kinds.LegStarted):
                legs[r.leg_id] = rows[r.call_id].legs[r.leg_id] = {
                    "phone_id": r.phone_id, "result": None, "answered_at": None,
                    "ended_at": None, "purpose": r.purpose.value, "wave": r.wave}
            elif isinstance(r, kinds.LegEnded):
                if legs[r.leg_id]["ended_at"] is None:
                    legs[r.leg_id].update(result=r.result.value, ended_at=r.ended_at)
                    legs[r.leg_id]["answered_at"] = (legs[r.leg_id]["answered_at"]
                                                     or r.answered_at)
            elif isinstance(r, kinds.CallBridged):
                row = rows[r.call_id]
                legs[r.leg_id]["answered_at"] = r.answered_at
                row.answered_at, row.answered_phone_id = r.answered_at, r.phone_id
                row.caller_answered_at = row.caller_answered_at or r.caller_answered_at
            elif isinstance(r, kinds.TransferConnected):
                legs[r.leg_id]["answered_at"] = legs[r.leg_id]["answered_at"] or r.answered_at
            elif isinstance(r, kinds.CallerAnswered):
                row = rows[r.call_id]
                row.caller_answered_at = row.caller_answered_at or r.answered_at
            elif isinstance(r, kinds.CallOverflow):
                rows[r.call_id].overflow = r.overflow.value
            elif isinstance(r, kinds.PlanDecided | kinds.PlanRouted):
                rows[r.call_id].plan_result = r.result
            elif isinstance(r, kinds.MenuKeys):
                rows[r.call_id].menu_keys = r.keys
            elif isinstance(r, kinds.CallEnded):
                row = rows[r.call_id]
                if row.ended_at is None:
                    row.ended_at, row.outcome, row.reconciled = r.ended_at, r.outcome.value, \
                        r.reconciled
                    row.end_source = r.end_source.value if r.end_source else None
        return rows


class CallLab:
    """The router around the calls of one test (it is their ``Services``)."""

    def __init__(self, folder: Path, hotlines: Sequence[Hotline],
                 phones: Mapping[str, Phone] | None = None, sound_s: float = 2.0,
                 max_call_s: float = 3600.0, seat_guard_s: float = 0.0) -> None:
        self.registry = CallRegistry()
        self.ari: Any = ScriptedAri(self.dispatch, phones, sound_s)
        self.store = MemoryStore(folder, hotlines)
        self.store.on_queue_moved = self.registry.wake_queue
        self.app = "hotline-router-test"
        self.router_id = "router-test"
        self.max_call_s = max_call_s
        self.seat_guard_s = seat_guard_s  # 0: timings of other tests stay round
        self.unowned: list[ev.AnyEvent] = []  # events no call owned (late ones)
        self._callers = itertools.count(1)
        self._offers: list[asyncio.Task[None]] = []

    def now(self) -> datetime:
        return self.ari.now()  # type: ignore[no-any-return]

    def plan_now(self) -> datetime:
        return self.now()

    def dispatch(self, event: ev.AnyEvent) -> None:
        """As the router does: to the call that owns the event's channel."""
        channel_id = ev.channel_of(event)
        call = self.registry.find(channel_id) if channel_id else None
        if call is None:
            self.unowned.append(event)
        else:
            call.deliver(event)

    def place_call(self, caller: str = "13800138000", number: str = NUMBER) -> Call:
        """A caller dials ``number``: its StasisStart reaches the router now."""
        channel = self.ari.add_caller(f"1764468000.{next(self._callers)}", caller, number)
        return start_call(self, channel, number, self.now())

    def consult(self, address: str, destination: str, sip_call_id: str = "consult-1") -> str:
        """The phone at ``address`` (HOST:PORT) dials ``destination``: its
        consultation call enters the application now and is offered as the
        router does (router/service.py); the new channel's id."""
        channel_id = f"1764468100.{next(self._callers)}"
        channel = self.ari.phone_call(channel_id, address, destination, sip_call_id)
        task = asyncio.get_running_loop().create_task(
            consultation.offer(self.ari, self.registry, channel, destination, self.now()))
        self._offers.append(task)
        return channel_id

    async def all_ended(self) -> None:
        await self.registry.all_ended()
        await asyncio.gather(*self._offers)

    def row(self, call: Call) -> CallRow:
        return self.store.rows()[call.id]

    def claims_held(self) -> int:
        """Claims the "database" still holds, plus local ones of an outage."""
        return len(self.store.claims) + len(self.store.local)

    def talk_counted(self) -> list[int | None]:
        """The talk time each released claim gave its phone's stats (None: no call counted)."""
        return [r.talk_ms for r in self.store.written if isinstance(r, kinds.ClaimReleased)]

    def ended_results(self, call: Call) -> list[LegResult | None]:
        return [leg.result for leg in call.legs]

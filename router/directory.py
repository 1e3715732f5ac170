"""Reading a hotline, its bound phones and their shared busy state.

Two ways, same result: one query against the tables, or the in-memory
configuration :class:`Snapshot` (kept fresh by router/live_config.py) plus one
query for the phones' busy state. Busy state always comes fresh from the
database: claims, not this read, are what keep two calls off one phone.

The snapshot's query also answers what a new call asks next, saving a round
trip each before the first phone rings: whether billing refuses the hotline's
calls, and, where the call can only go to the hotline's own strategy, its
round-robin number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import strategies
from router.billing.balance import refusal_sql
from router.plan import Group, Plan, default_group
from router.plan_store import Plans, load_plans
from strategies import Candidate


@dataclass(frozen=True)
class BoundPhone:
    phone_id: int
    dial_string: str
    position: int
    index: int  # place among the hotline's enabled phones, in the admin's order
    capacity: int
    weight: int
    wrap_up_s: int
    active_calls: int
    last_call_ended_at: datetime | None
    calls_today: int
    talk_ms_today: int

    def idle(self, now: datetime) -> bool:
        """Below capacity and out of wrap-up (the claim re-checks both atomically)."""
        if self.active_calls >= self.capacity:
            return False
        return (self.wrap_up_s == 0 or self.last_call_ended_at is None
                or self.last_call_ended_at + timedelta(seconds=self.wrap_up_s) <= now)

    def as_candidate(self, position: int | None = None, index: int | None = None,
                     weight: int | None = None) -> Candidate:
        """As a strategy sees it; a group gives its own order and weights."""
        return Candidate(phone_id=self.phone_id, dial_string=self.dial_string,
                         position=self.position if position is None else position,
                         index=self.index if index is None else index, capacity=self.capacity,
                         active_calls=self.active_calls,
                         weight=self.weight if weight is None else weight,
                         last_call_ended_at=self.last_call_ended_at,
                         calls_today=self.calls_today, talk_ms_today=self.talk_ms_today)


@dataclass(frozen=True)
class Hotline:
    id: int
    number: str
    enabled: bool
    strategy: str
    strategy_options: dict[str, Any]
    ring_timeout_s: int
    total_timeout_s: int
    max_attempts: int | None
    overflow: str  # busy | queue | forward
    overflow_max_wait_s: int
    overflow_forward_to: str | None
    phones: tuple[BoundPhone, ...]
    plan: Plan = field(default_factory=Plan)
    # Facts of this lookup rather than of the hotline (None: not read with it).
    refuses_calls: bool | None = field(default=None, compare=False)
    call_number: int | None = field(default=None, compare=False)

    def idle_candidates(self, now: datetime, group: Group | None = None) -> list[Candidate]:
        """The idle phones of ``group`` (default: all the hotline's phones)."""
        if group is None or group.members is None:
            return [p.as_candidate() for p in self.phones if p.idle(now)]
        # A group's members that are enabled bound phones, in the group's order.
        bound = {p.phone_id: p for p in self.phones}
        members = [m for m in group.members if m.phone_id in bound]
        return [bound[m.phone_id].as_candidate(position=m.position, index=index, weight=m.weight)
                for index, m in enumerate(members) if bound[m.phone_id].idle(now)]

    def member_count(self, group: Group | None = None) -> int:
        """Enabled phones in ``group``, busy or not."""
        if group is None or group.members is None:
            return len(self.phones)
        bound = {p.phone_id for p in self.phones}
        return sum(1 for m in group.members if m.phone_id in bound)

    def default_group(self) -> Group:
        """Its own strategy over all its bound phones: a hotline without a plan."""
        return default_group(self.number, self.strategy, self.strategy_options)


_LOOKUP = """
SELECT h.id, h.number, h.enabled, h.strategy, h.strategy_options, h.ring_timeout_s,
       h.total_timeout_s, h.max_attempts, h.overflow, h.overflow_max_wait_s,
       h.overflow_forward_to,
       p.id AS phone_id, p.dial_string, b.position, b.weight, p.capacity, p.wrap_up_s,
       s.active_calls, s.last_call_ended_at,
       CASE WHEN s.stats_day = stats_today() THEN s.calls_today ELSE 0 END AS calls_today,
       CASE WHEN s.stats_day = stats_today() THEN s.talk_ms_today ELSE 0 END AS talk_ms_today
FROM hotlines h
LEFT JOIN bound_phones b ON b.hotline_id = h.id AND b.enabled
LEFT JOIN phones p ON p.id = b.phone_id AND p.enabled
LEFT JOIN phone_state s ON s.phone_id = p.id
WHERE h.number = $1
ORDER BY b.position, p.id
"""


async def find_hotline(db: Any, number: str, snapshot: Snapshot | None = None,
                       new_call: bool = False) -> Hotline | None:
    """The hotline dialled as ``number`` with its enabled phones, or None.

    With a ``snapshot`` the configuration comes from memory and only the busy
    state from the database. A number the snapshot does not know is looked up
    in the tables, so a hotline created a moment ago answers its first call.
    For a ``new_call`` the snapshot's read also takes the call's round-robin
    number where :attr:`HotlineConfig.hunts_at_once` (``call_number``).
    """
    if snapshot is not None and number in snapshot.hotlines:
        return await _from_snapshot(db, snapshot.hotlines[number], new_call)
    rows = await db.fetch(_LOOKUP, number)
    if not rows:
        return None
    first = rows[0]
    phones = tuple(
        BoundPhone(phone_id=r["phone_id"], dial_string=r["dial_string"], position=r["position"],
                   index=index, capacity=r["capacity"], weight=r["weight"],
                   wrap_up_s=r["wrap_up_s"], active_calls=r["active_calls"],
                   last_call_ended_at=r["last_call_ended_at"], calls_today=r["calls_today"],
                   talk_ms_today=r["talk_ms_today"])
        for index, r in enumerate(r for r in rows if r["phone_id"] is not None))
    plans = await load_plans(db, first["id"])
    return Hotline(id=first["id"], number=first["number"], enabled=first["enabled"],
                   strategy=first["strategy"], strategy_options=dict(first["strategy_options"]),
                   ring_timeout_s=first["ring_timeout_s"],
                   total_timeout_s=first["total_timeout_s"], max_attempts=first["max_attempts"],
                   overflow=first["overflow"], overflow_max_wait_s=first["overflow_max_wait_s"],
                   overflow_forward_to=first["overflow_forward_to"], phones=phones,
                   plan=plans.of(first["id"]))


# --- the configuration snapshot --------------------------------------------


@dataclass(frozen=True)
class BoundConfig:
    """A bound phone as configured (no busy state)."""

    phone_id: int
    dial_string: str
    position: int
    capacity: int
    weight: int
    wrap_up_s: int


@dataclass(frozen=True)
class HotlineConfig:
    id: int
    number: str
    enabled: bool
    strategy: str
    strategy_options: dict[str, Any]
    ring_timeout_s: int
    total_timeout_s: int
    max_attempts: int | None
    overflow: str
    overflow_max_wait_s: int
    overflow_forward_to: str | None
    phones: tuple[BoundConfig, ...]
    plan: Plan = field(default_factory=Plan)

    @cached_property
    def hunts_at_once(self) -> bool:
        """Whether every call rings the hotline's own phones with its own rule
        (nothing in the plan can refuse or divert it) and that rule takes turns
        (round-robin numbers): then the number is taken with the lookup.
        Worked out once per snapshot, not per call (it scans the caller lists)."""
        if not self.enabled or self.number.startswith("800") or self.plan.rules:
            return False
        if any(entry.list == "blacklist" for entry in self.plan.lists):
            return False
        try:
            return bool(getattr(strategies.get(self.strategy), "uses_call_number", False))
        except strategies.UnknownStrategy:
            return False


@dataclass(frozen=True)
class Snapshot:
    """Every hotline by number, with its enabled bound phones in hunting order."""

    hotlines: Mapping[str, HotlineConfig] = field(default_factory=dict)

    @property
    def phone_count(self) -> int:
        return len({p.phone_id for h in self.hotlines.values() for p in h.phones})


_ALL = """
SELECT h.id, h.number, h.enabled, h.strategy, h.strategy_options, h.ring_timeout_s,
       h.total_timeout_s, h.max_attempts, h.overflow, h.overflow_max_wait_s,
       h.overflow_forward_to,
       p.id AS phone_id, p.dial_string, b.position, b.weight, p.capacity, p.wrap_up_s
FROM hotlines h
LEFT JOIN bound_phones b ON b.hotline_id = h.id AND b.enabled
LEFT JOIN phones p ON p.id = b.phone_id AND p.enabled
ORDER BY h.number, b.position, p.id
"""

# One row at least (phone_id NULL when the hotline has no phone), so the
# refusal and the round-robin number ($3: take one) always come back.
_BUSY = f"""
WITH turn AS (
    INSERT INTO hotline_state (hotline_id, calls_routed) SELECT $2, 1 WHERE $3
    ON CONFLICT (hotline_id) DO UPDATE SET calls_routed = hotline_state.calls_routed + 1
    RETURNING calls_routed - 1 AS call_number)
SELECT (SELECT call_number FROM turn) AS call_number, {refusal_sql('$2')} AS refuses,
       s.phone_id, s.active_calls, s.last_call_ended_at,
       CASE WHEN s.stats_day = stats_today() THEN s.calls_today ELSE 0 END AS calls_today,
       CASE WHEN s.stats_day = stats_today() THEN s.talk_ms_today ELSE 0 END AS talk_ms_today
FROM (VALUES (1)) AS one
LEFT JOIN phone_state s ON s.phone_id = ANY($1::bigint[])
"""


async def load_snapshot(db: Any) -> Snapshot:
    """The whole configuration, read in one consistent transaction."""
    phones: dict[str, list[BoundConfig]] = {}
    heads: dict[str, Any] = {}
    rows, plans = await _read_all(db)
    for row in rows:
        heads.setdefault(row["number"], row)
        bound = phones.setdefault(row["number"], [])
        if row["phone_id"] is not None:
            bound.append(BoundConfig(phone_id=row["phone_id"], dial_string=row["dial_string"],
                                     position=row["position"], capacity=row["capacity"],
                                     weight=row["weight"], wrap_up_s=row["wrap_up_s"]))
    return Snapshot({
        number: HotlineConfig(
            id=h["id"], number=number, enabled=h["enabled"], strategy=h["strategy"],
            strategy_options=dict(h["strategy_options"]), ring_timeout_s=h["ring_timeout_s"],
            total_timeout_s=h["total_timeout_s"], max_attempts=h["max_attempts"],
            overflow=h["overflow"], overflow_max_wait_s=h["overflow_max_wait_s"],
            overflow_forward_to=h["overflow_forward_to"], phones=tuple(phones[number]),
            plan=plans.of(h["id"]))
        for number, h in heads.items()})


async def _read_all(db: Any) -> tuple[list[Any], Plans]:
    """Hotlines with phones, and every plan, as of one moment."""
    if hasattr(db, "acquire"):
        async with db.acquire() as connection:
            return await _read_all(connection)
    async with db.transaction(isolation="repeatable_read", readonly=True):
        return list(await db.fetch(_ALL)), await load_plans(db)


async def _from_snapshot(db: Any, config: HotlineConfig, new_call: bool) -> Hotline:
    rows = await db.fetch(_BUSY, [p.phone_id for p in config.phones], config.id,
                          new_call and config.hunts_at_once)
    busy = {r["phone_id"]: r for r in rows if r["phone_id"] is not None}
    return replace(assemble(config, busy), refuses_calls=rows[0]["refuses"],
                   call_number=rows[0]["call_number"])


def assemble(config: HotlineConfig, busy: Mapping[int, Mapping[str, Any]]) -> Hotline:
    """A hotline from its configuration and its phones' busy state.

    A phone with no busy state is left out (deleted since the snapshot, or
    not this router's to ring while the database is away).
    """
    present = [p for p in config.phones if p.phone_id in busy]
    phones = tuple(
        BoundPhone(phone_id=p.phone_id, dial_string=p.dial_string, position=p.position,
                   index=index, capacity=p.capacity, weight=p.weight, wrap_up_s=p.wrap_up_s,
                   active_calls=busy[p.phone_id]["active_calls"],
                   last_call_ended_at=busy[p.phone_id]["last_call_ended_at"],
                   calls_today=busy[p.phone_id]["calls_today"],
                   talk_ms_today=busy[p.phone_id]["talk_ms_today"])
        for index, p in enumerate(present))
    return Hotline(id=config.id, number=config.number, enabled=config.enabled,
                   strategy=config.strategy, strategy_options=dict(config.strategy_options),
                   ring_timeout_s=config.ring_timeout_s, total_timeout_s=config.total_timeout_s,
                   max_attempts=config.max_attempts, overflow=config.overflow,
                   overflow_max_wait_s=config.overflow_max_wait_s,
                   overflow_forward_to=config.overflow_forward_to, phones=phones,
                   plan=config.plan)

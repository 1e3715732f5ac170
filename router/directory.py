"""Reading a hotline and its bound phones, with their busy state.

Two ways, same result: one query against the tables, or the in-memory
configuration :class:`Snapshot` (kept fresh by router/live_config.py) plus one
query for the phones' busy state. Busy state always comes fresh from the
database: claims, not this read, are what keep two calls off one phone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from strategies import Candidate


@dataclass(frozen=True)
class BoundPhone:
    phone_id: int
    dial_string: str
    position: int
    capacity: int
    active_calls: int
    last_call_ended_at: Any

    @property
    def idle(self) -> bool:
        return self.active_calls < self.capacity

    def as_candidate(self) -> Candidate:
        return Candidate(phone_id=self.phone_id, dial_string=self.dial_string,
                         position=self.position, capacity=self.capacity,
                         active_calls=self.active_calls,
                         last_call_ended_at=self.last_call_ended_at)


@dataclass(frozen=True)
class Hotline:
    id: int
    number: str
    enabled: bool
    strategy: str
    strategy_options: dict[str, Any]
    ring_timeout_s: int
    phones: tuple[BoundPhone, ...]

    def idle_candidates(self) -> list[Candidate]:
        return [p.as_candidate() for p in self.phones if p.idle]


_LOOKUP = """
SELECT h.id, h.number, h.enabled, h.strategy, h.strategy_options, h.ring_timeout_s,
       p.id AS phone_id, p.dial_string, b.position, p.capacity,
       s.active_calls, s.last_call_ended_at
FROM hotlines h
LEFT JOIN bound_phones b ON b.hotline_id = h.id AND b.enabled
LEFT JOIN phones p ON p.id = b.phone_id AND p.enabled
LEFT JOIN phone_state s ON s.phone_id = p.id
WHERE h.number = $1
ORDER BY b.position, p.id
"""


async def find_hotline(db: Any, number: str, snapshot: Snapshot | None = None) -> Hotline | None:
    """The hotline dialled as ``number`` with its enabled phones, or None.

    With a ``snapshot`` the configuration comes from memory and only the busy
    state from the database (nothing at all for an unknown number).
    """
    if snapshot is not None:
        return await _from_snapshot(db, snapshot, number)
    rows = await db.fetch(_LOOKUP, number)
    if not rows:
        return None
    first = rows[0]
    phones = tuple(
        BoundPhone(phone_id=r["phone_id"], dial_string=r["dial_string"], position=r["position"],
                   capacity=r["capacity"], active_calls=r["active_calls"],
                   last_call_ended_at=r["last_call_ended_at"])
        for r in rows if r["phone_id"] is not None)
    return Hotline(id=first["id"], number=first["number"], enabled=first["enabled"],
                   strategy=first["strategy"], strategy_options=dict(first["strategy_options"]),
                   ring_timeout_s=first["ring_timeout_s"], phones=phones)


# --- the configuration snapshot --------------------------------------------


@dataclass(frozen=True)
class BoundConfig:
    """A bound phone as configured (no busy state)."""

    phone_id: int
    dial_string: str
    position: int
    capacity: int


@dataclass(frozen=True)
class HotlineConfig:
    id: int
    number: str
    enabled: bool
    strategy: str
    strategy_options: dict[str, Any]
    ring_timeout_s: int
    phones: tuple[BoundConfig, ...]


@dataclass(frozen=True)
class Snapshot:
    """Every hotline by number, with its enabled bound phones in hunting order."""

    hotlines: Mapping[str, HotlineConfig] = field(default_factory=dict)

    @property
    def phone_count(self) -> int:
        return len({p.phone_id for h in self.hotlines.values() for p in h.phones})


_ALL = """
SELECT h.id, h.number, h.enabled, h.strategy, h.strategy_options, h.ring_timeout_s,
       p.id AS phone_id, p.dial_string, b.position, p.capacity
FROM hotlines h
LEFT JOIN bound_phones b ON b.hotline_id = h.id AND b.enabled
LEFT JOIN phones p ON p.id = b.phone_id AND p.enabled
ORDER BY h.number, b.position, p.id
"""

_BUSY = """
SELECT phone_id, active_calls, last_call_ended_at FROM phone_state
WHERE phone_id = ANY($1::bigint[])
"""


async def load_snapshot(db: Any) -> Snapshot:
    """The whole configuration, read in one consistent query."""
    phones: dict[str, list[BoundConfig]] = {}
    heads: dict[str, Any] = {}
    for row in await db.fetch(_ALL):
        heads.setdefault(row["number"], row)
        bound = phones.setdefault(row["number"], [])
        if row["phone_id"] is not None:
            bound.append(BoundConfig(phone_id=row["phone_id"], dial_string=row["dial_string"],
                                     position=row["position"], capacity=row["capacity"]))
    return Snapshot({
        number: HotlineConfig(id=h["id"], number=number, enabled=h["enabled"],
                              strategy=h["strategy"],
                              strategy_options=dict(h["strategy_options"]),
                              ring_timeout_s=h["ring_timeout_s"], phones=tuple(phones[number]))
        for number, h in heads.items()})


async def _from_snapshot(db: Any, snapshot: Snapshot, number: str) -> Hotline | None:
    config = snapshot.hotlines.get(number)
    if config is None:
        return None
    busy = {}
    if config.phones:
        rows = await db.fetch(_BUSY, [p.phone_id for p in config.phones])
        busy = {r["phone_id"]: r for r in rows}
    # A phone deleted since the snapshot has no state row: it is gone, skip it.
    phones = tuple(
        BoundPhone(phone_id=p.phone_id, dial_string=p.dial_string, position=p.position,
                   capacity=p.capacity, active_calls=busy[p.phone_id]["active_calls"],
                   last_call_ended_at=busy[p.phone_id]["last_call_ended_at"])
        for p in config.phones if p.phone_id in busy)
    return Hotline(id=config.id, number=config.number, enabled=config.enabled,
                   strategy=config.strategy, strategy_options=dict(config.strategy_options),
                   ring_timeout_s=config.ring_timeout_s, phones=phones)

"""Reading a hotline and its bound phones, with their busy state, in one query."""

from __future__ import annotations

from dataclasses import dataclass
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


async def find_hotline(db: Any, number: str) -> Hotline | None:
    """The hotline dialled as ``number`` with its enabled phones, or None."""
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

"""Reading a hotline, its bound phones and their shared busy state, in one query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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

    def as_candidate(self) -> Candidate:
        return Candidate(phone_id=self.phone_id, dial_string=self.dial_string,
                         position=self.position, index=self.index, capacity=self.capacity,
                         active_calls=self.active_calls, weight=self.weight,
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

    def idle_candidates(self, now: datetime) -> list[Candidate]:
        return [p.as_candidate() for p in self.phones if p.idle(now)]


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


async def find_hotline(db: Any, number: str) -> Hotline | None:
    """The hotline dialled as ``number`` with its enabled phones, or None."""
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
    return Hotline(id=first["id"], number=first["number"], enabled=first["enabled"],
                   strategy=first["strategy"], strategy_options=dict(first["strategy_options"]),
                   ring_timeout_s=first["ring_timeout_s"],
                   total_timeout_s=first["total_timeout_s"], max_attempts=first["max_attempts"],
                   overflow=first["overflow"], overflow_max_wait_s=first["overflow_max_wait_s"],
                   overflow_forward_to=first["overflow_forward_to"], phones=phones)

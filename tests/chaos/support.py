"""What the chaos tests check after breaking something: nothing lost or doubled."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tests.lab import sipp


def max_concurrent(intervals: list[tuple[Any, Any]]) -> int:
    """Most intervals open at once (one ending as another starts does not overlap)."""
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
                    key=lambda point: (point[0], point[1]))
    open_now = peak = 0
    for _, step in points:
        open_now += step
        peak = max(peak, open_now)
    return peak


async def peak_calls_per_phone(db: Any, dialled: str) -> int:
    legs = await db.fetch(
        """SELECT l.phone_id, l.dial_started_at, l.ended_at FROM call_legs l
           JOIN calls c ON c.id = l.call_id
           WHERE c.dialled = $1 AND l.phone_id IS NOT NULL""", dialled)
    per_phone: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
    for leg in legs:
        per_phone[leg["phone_id"]].append((leg["dial_started_at"], leg["ended_at"]))
    return max((max_concurrent(spans) for spans in per_phone.values()), default=0)


async def nothing_left_open(db: Any, dialled: str) -> None:
    """Every record closed, every claim released."""
    assert await db.fetchval(
        "SELECT count(*) FROM calls WHERE dialled = $1 AND ended_at IS NULL", dialled) == 0
    assert await db.fetchval(
        """SELECT count(*) FROM call_legs l JOIN calls c ON c.id = l.call_id
           WHERE c.dialled = $1 AND l.ended_at IS NULL""", dialled) == 0
    assert await db.fetchval(
        """SELECT count(*) FROM phone_claims k JOIN bound_phones b ON b.phone_id = k.phone_id
           JOIN hotlines h ON h.id = b.hotline_id WHERE h.number = $1""", dialled) == 0


def talked_in_full(seen: sipp.CallResult, hold_ms: int) -> bool:
    """The caller's bridged call lasted its whole hold and the caller ended it."""
    return (seen.result == "answered" and seen.ended_by == "local"
            and abs(seen.talk_seconds - hold_ms / 1000) < 0.5)


async def inconsistent_records(db: Any, dialled: str) -> list[str]:
    """Each call of ``dialled`` whose record disagrees with itself, as one line why.

    A call is consistent when its outcome agrees with its legs: ``answered``
    exactly when it has an answer time, one leg ``answered`` at that time and
    by that phone; otherwise nothing billable. Every leg that ended
    ``answered`` keeps its answer time, and one answered without a bridge only
    when the caller left at that moment (``abandoned``).
    """
    calls = await db.fetch(
        """SELECT id, caller, outcome, answered_at, answered_phone_id, caller_answered_at,
                  billable_ms FROM calls WHERE dialled = $1""", dialled)
    legs = await db.fetch(
        """SELECT l.call_id, l.phone_id, l.result, l.answered_at FROM call_legs l
           JOIN calls c ON c.id = l.call_id WHERE c.dialled = $1""", dialled)
    by_call: dict[Any, list[Any]] = defaultdict(list)
    for leg in legs:
        by_call[leg["call_id"]].append(leg)
    wrong = []
    for call in calls:
        mine = by_call[call["id"]]
        answered = [leg for leg in mine if leg["result"] == "answered"]
        why = []
        if any(leg["answered_at"] is None for leg in answered):
            why.append("a leg answered with no answer time")
        if (call["outcome"] == "answered") != (call["answered_at"] is not None):
            why.append(f"outcome {call['outcome']} with answered_at {call['answered_at']}")
        if call["outcome"] == "answered":
            if [(leg["answered_at"], leg["phone_id"]) for leg in answered] != [
                    (call["answered_at"], call["answered_phone_id"])]:
                why.append(f"answered, but its answered legs are {answered}")
        else:
            if call["billable_ms"] or call["caller_answered_at"] is not None:
                why.append(f"{call['outcome']} but billable {call['billable_ms']} ms, "
                           f"caller answered at {call['caller_answered_at']}")
            if answered and call["outcome"] != "abandoned":
                why.append(f"{call['outcome']} with an answered leg")
        if why:
            wrong.append(f"call from {call['caller']}: " + "; ".join(why))
    return wrong

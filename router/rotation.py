"""The round-robin counter of each hotline, shared by every router."""

from __future__ import annotations

from typing import Any

_NEXT = """
INSERT INTO hotline_state (hotline_id, calls_routed) VALUES ($1, 1)
ON CONFLICT (hotline_id) DO UPDATE SET calls_routed = hotline_state.calls_routed + 1
RETURNING calls_routed - 1
"""


async def next_call_number(db: Any, hotline_id: int) -> int:
    """0 for the hotline's first routed call, then 1, 2, … (atomic across routers)."""
    number: int = await db.fetchval(_NEXT, hotline_id)
    return number

"""Calls in progress, across every router, from the call records."""

from __future__ import annotations

from typing import Any

FIELDS = ("id", "hotline", "caller", "state", "seconds", "phones_rung", "answered_by",
          "router_id", "started_at", "answered_at")

_LIVE = """
SELECT c.id, coalesce(h.number, c.dialled) AS hotline, c.caller, c.router_id, c.started_at,
       c.answered_at, c.answered_dial_string AS answered_by,
       CASE WHEN c.answered_at IS NOT NULL THEN 'talking'
            WHEN EXISTS (SELECT 1 FROM call_legs l
                         WHERE l.call_id = c.id AND l.call_started_at = c.started_at
                           AND l.ended_at IS NULL)
                 THEN 'ringing'
            ELSE 'routing' END AS state,
       (SELECT count(*) FROM call_legs l
        WHERE l.call_id = c.id AND l.call_started_at = c.started_at) AS phones_rung,
       round(extract(epoch FROM clock_timestamp() - c.started_at)::numeric, 1)::float8
           AS seconds
FROM calls c LEFT JOIN hotlines h ON h.id = c.hotline_id
WHERE c.ended_at IS NULL
ORDER BY c.started_at, c.id
"""


async def live_calls(db: Any) -> list[Any]:
    """Calls not yet ended: talking (a phone answered), ringing, or routing."""
    return list(await db.fetch(_LIVE))

"""The call log: calls filtered by hotline, caller, outcome and time, and one call in full.

Read by the CLI (`hotline-router calls`), the HTTP API and the web console.
Rows carry UTC times (milliseconds) and the hotline's time zone
(``plan_settings.time_zone``, router/zones.py) so each reader shows
local times. Pages are newest first and keyed on (started_at, id): the next
page is "before the last row", which stays fast however deep the log is
(index ``calls_log_by_hotline``, migration 0011).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from router.zones import HOTLINE_ZONE_SQL

# Outcomes where the caller was to be put through to a phone: the figures a
# 400 customer reads (answered, missed, answer rate) count these. The others
# (closed, refused, blacklisted, unknown number, …) never rang a phone by design.
OFFERED_OUTCOMES = ("answered", "busy", "no-answer", "failed", "abandoned", "interrupted")
OUTCOMES = (*OFFERED_OUTCOMES, "unknown-number", "not-in-service", "refused", "closed",
            "mobile-on-800", "refused-no-balance")


class CallLogError(ValueError):
    """A filter that cannot be applied; the message names it."""


@dataclass(frozen=True)
class CallFilter:
    """Which calls: every field None means "any".

    ``since`` and ``until`` are instants when aware; naive, they are wall times in
    each call's hotline zone (``2026-10-01`` is that hotline's midnight), so a day
    is the hotline's own day whatever the reader's zone.
    """

    hotline: str | None = None        # the 400/800 number
    caller: str | None = None         # exact, or a prefix ending in '*'
    outcome: str | None = None        # one of OUTCOMES, or 'missed' (offered, not answered)
    since: datetime | None = None     # started at or after
    until: datetime | None = None     # started before
    before: tuple[datetime, UUID] | None = None  # keyset cursor: older than this row
    limit: int = 50

    def check(self) -> None:
        """Raise CallLogError naming the first filter that cannot work."""
        if self.outcome is not None and self.outcome not in (*OUTCOMES, "missed", "live"):
            raise CallLogError(f"outcome must be one of {', '.join(OUTCOMES)}, missed or live "
                               f"(got {self.outcome!r})")
        if not 1 <= self.limit <= 1000:
            raise CallLogError("limit must be 1 to 1000 calls")
        if self.caller is not None and not 1 <= len(self.caller) <= 40:
            raise CallLogError("caller must be 1 to 40 characters")


_COLUMNS = """
    c.id, c.hotline_id, h.number AS hotline, h.name AS hotline_name, c.dialled, c.caller,
    c.caller_region, c.started_at, c.caller_answered_at, c.answered_at, c.ended_at,
    c.outcome, c.overflow, c.answered_phone_id, c.answered_dial_string,
    coalesce(ap.label, '') AS answered_label, c.billable_ms,
    CASE WHEN c.answered_at IS NOT NULL
         THEN (extract(epoch FROM c.answered_at - c.started_at) * 1000)::bigint END AS wait_ms,
    c.plan_result, c.plan_reason, c.plan_rule_id, c.plan_group, c.menu_keys,
    c.router_id, c.reconciled_at,
    """ + HOTLINE_ZONE_SQL + """ AS time_zone
"""

_FROM = """
FROM calls c
LEFT JOIN hotlines h ON h.id = c.hotline_id
LEFT JOIN plan_settings ps ON ps.hotline_id = c.hotline_id
LEFT JOIN phones ap ON ap.id = c.answered_phone_id
"""


async def list_calls(db: Any, wanted: CallFilter) -> list[Any]:
    """Calls matching ``wanted``, newest first, at most ``wanted.limit``.

    Raises CallLogError for a bad filter, LookupError for an unknown hotline.
    """
    wanted.check()
    conditions: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if wanted.hotline is not None:
        hotline_id = await db.fetchval("SELECT id FROM hotlines WHERE number = $1",
                                       wanted.hotline)
        if hotline_id is None:
            raise LookupError(f"no hotline {wanted.hotline}")
        conditions.append(f"c.hotline_id = {arg(hotline_id)}")
    if wanted.caller is not None:
        if wanted.caller.endswith("*"):
            prefix = wanted.caller[:-1]
            for special in ("\\", "%", "_"):  # LIKE's escape character first
                prefix = prefix.replace(special, "\\" + special)
            conditions.append(f"c.caller LIKE {arg(prefix + '%')}")
        else:
            conditions.append(f"c.caller = {arg(wanted.caller)}")
    if wanted.outcome == "missed":
        conditions.append(f"c.outcome = ANY({arg(list(OFFERED_OUTCOMES))}::text[]) "
                          "AND c.answered_at IS NULL")
    elif wanted.outcome == "live":
        conditions.append("c.ended_at IS NULL")
    elif wanted.outcome is not None:
        conditions.append(f"c.outcome = {arg(wanted.outcome)}")
    def instant(value: datetime) -> str:
        if value.tzinfo is not None:
            return arg(value)
        return f"({arg(value)}::timestamp AT TIME ZONE {HOTLINE_ZONE_SQL})"

    if wanted.since is not None:
        conditions.append(f"c.started_at >= {instant(wanted.since)}")
    if wanted.until is not None:
        conditions.append(f"c.started_at < {instant(wanted.until)}")
    if wanted.before is not None:
        at, call_id = wanted.before
        conditions.append(f"(c.started_at, c.id) < ({arg(at)}, {arg(call_id)})")
    where = " AND ".join(conditions) or "true"
    return list(await db.fetch(
        f"SELECT {_COLUMNS} {_FROM} WHERE {where} "
        f"ORDER BY c.started_at DESC, c.id DESC LIMIT {arg(wanted.limit)}", *args))


async def call_detail(db: Any, call_id: UUID) -> dict[str, Any] | None:
    """One call in full, or None when it does not exist (or is not visible).

    ``{"call": row, "legs": [rows], "rule": row | None, "charge_fen": int | None}``;
    ``charge_fen`` is what the ledger charged for it (its charge and later
    adjustments, in fen, positive), None while it is not rated.
    """
    call = await db.fetchrow(f"SELECT {_COLUMNS} {_FROM} WHERE c.id = $1", call_id)
    if call is None:
        return None
    legs = await db.fetch(
        """SELECT l.id, l.wave, l.purpose, l.phone_id, coalesce(p.label, '') AS label,
                  l.dial_string, l.dial_started_at, l.answered_at, l.confirmed_at, l.ended_at,
                  l.result, l.hangup_cause,
                  (extract(epoch FROM coalesce(l.answered_at, l.ended_at) - l.dial_started_at)
                   * 1000)::bigint AS ring_ms,
                  -- talk: from the confirm key when screened (a phone that
                  -- answered and never confirmed never talked)
                  CASE WHEN l.answered_at IS NOT NULL AND l.ended_at IS NOT NULL
                            AND l.result = 'answered'
                       THEN (extract(epoch FROM l.ended_at - coalesce(l.confirmed_at,
                                                                     l.answered_at))
                             * 1000)::bigint
                  END AS talk_ms
           FROM call_legs l LEFT JOIN phones p ON p.id = l.phone_id
           WHERE l.call_id = $1 AND l.call_started_at = $2  -- its call's month (0025)
           ORDER BY l.dial_started_at, l.id""", call_id, call["started_at"])
    rule = None
    if call["plan_rule_id"] is not None:
        rule = await db.fetchrow("SELECT id, position, name, action FROM plan_rules WHERE id = $1",
                                 call["plan_rule_id"])
    charged = await db.fetchrow(
        """SELECT count(*) AS entries, -coalesce(sum(amount_fen), 0) AS fen FROM ledger
           WHERE call_id = $1 AND (kind = 'call-charge' OR adjusts = 'call-charge')""", call_id)
    return {"call": call, "legs": list(legs), "rule": rule,
            "charge_fen": int(charged["fen"]) if charged["entries"] else None}

"""What a notification says: built when it is sent, from the records.

The outbox row only names the event (its call, leg, caller); the document is
read at send time, so ``call.ended`` carries the call as finally recorded,
legs included. Times are UTC ISO 8601 with milliseconds; durations in ms; the
hotline's zone is given so a receiver can show local time (``text`` already
does). Every document has ``delivery`` (the outbox id: the same on each retry,
a receiver dedupes by it), ``event``, ``event_at`` and ``hotline``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from router.billing.money import yuan

_HOTLINE = """
SELECT h.id, h.number, h.name,
       coalesce(p.time_zone, b.time_zone, 'Asia/Shanghai') AS time_zone
FROM hotlines h
LEFT JOIN plan_settings p ON p.hotline_id = h.id
LEFT JOIN hotline_billing b ON b.hotline_id = h.id
WHERE h.id = $1
"""

_CALL = """
SELECT id, dialled, caller, started_at, answered_at, caller_answered_at, ended_at, outcome,
       answered_dial_string, billable_ms, overflow
FROM calls WHERE id = $1
"""

_LEGS = """
SELECT id, phone_id, dial_string, wave, dial_started_at, answered_at, ended_at, result,
       hangup_cause
FROM call_legs WHERE call_id = $1 ORDER BY dial_started_at, id
"""

_LEG = "SELECT id, phone_id, dial_string, wave, dial_started_at FROM call_legs WHERE id = $1"

_FOLDED = """
SELECT o.call_id, o.event_at, c.outcome FROM notification_outbox o
LEFT JOIN calls c ON c.id = o.call_id
WHERE o.folded_into = $1 ORDER BY o.event_at
"""

_BALANCE = """
SELECT coalesce((SELECT sum(amount_fen) FROM ledger WHERE hotline_id = $1), 0) AS balance_fen,
       coalesce((SELECT low_balance_fen FROM hotline_billing WHERE hotline_id = $1), 0)
           AS low_balance_fen
"""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds")


def _plain(row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dict(row).items():
        if isinstance(value, datetime):
            out[key] = _iso(value)
        elif value is not None and not isinstance(value, int | str | float | bool):
            out[key] = str(value)  # uuid
        else:
            out[key] = value
    return out


def _local(value: datetime | None, zone_name: str) -> str:
    if value is None:
        return "-"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


# A call's recording of ``kind`` (call or voicemail; migration 0018).
_RECORDING = """
SELECT id, name, format, started_at, duration_ms, size_bytes FROM recordings
WHERE call_id = $1 AND kind = $2 ORDER BY id LIMIT 1
"""


async def build(db: Any, row: Any) -> tuple[dict[str, Any], str]:
    """The document and the one-line text for outbox ``row`` (id, event, hotline_id,
    call_id, leg_id, caller, event_at). Reads on connection ``db``."""
    hotline = await db.fetchrow(_HOTLINE, row["hotline_id"])
    zone_name = hotline["time_zone"] if hotline else "Asia/Shanghai"
    number = hotline["number"] if hotline else "?"
    event = row["event"]
    doc: dict[str, Any] = {
        "delivery": str(row["id"]), "event": event, "event_at": _iso(row["event_at"]),
        "hotline": ({"id": hotline["id"], "number": number, "name": hotline["name"],
                     "time_zone": zone_name} if hotline else None)}
    when = _local(row["event_at"], zone_name)
    caller = row["caller"] or "unknown"
    text = f"{event} {number} {when}"
    if row["call_id"] is not None:
        call = await db.fetchrow(_CALL, row["call_id"])
        doc["call"] = _plain(call) if call else {"id": str(row["call_id"])}
    if event == "call.ringing" and row["leg_id"] is not None:
        leg = await db.fetchrow(_LEG, row["leg_id"])
        doc["leg"] = _plain(leg) if leg else {"id": str(row["leg_id"])}
        text = f"{number}: {caller} is calling, ringing {doc['leg'].get('dial_string', '?')}"
    elif event == "call.answered":
        text = f"{number}: call from {caller} answered at {when}"
    elif event == "call.ended":
        doc["legs"] = [_plain(leg) for leg in await db.fetch(_LEGS, row["call_id"])]
        # A recorded call's end waits (migration 0023) for its recording's row,
        # which comes once Asterisk has finished the file; none: not recorded,
        # or its recording failed.
        recorded = await db.fetchrow(_RECORDING, row["call_id"], "call")
        doc["recording_id"] = recorded["id"] if recorded else None
        doc["recording"] = _plain(recorded) if recorded else None
        outcome = doc["call"].get("outcome")
        text = f"{number}: call from {caller} ended {when} ({outcome})"
    elif event == "call.missed":
        folded = [_plain(f) for f in await db.fetch(_FOLDED, row["id"])]
        doc["folded_calls"] = folded
        doc["missed_calls"] = 1 + len(folded)
        outcome = doc["call"].get("outcome")
        more = f", {len(folded)} more since" if folded else ""
        text = f"{number}: missed call from {caller} at {when} ({outcome}{more})"
    elif event == "voicemail.left":
        message = await db.fetchrow(_RECORDING, row["call_id"], "voicemail")
        doc["recording"] = _plain(message) if message else None
        seconds = round(message["duration_ms"] / 1000) if message else 0
        text = f"{number}: voicemail from {caller} at {when} ({seconds} s)"
    elif event == "balance.low":
        balance = await db.fetchrow(_BALANCE, row["hotline_id"])
        doc["balance_fen"] = int(balance["balance_fen"])
        doc["low_balance_fen"] = int(balance["low_balance_fen"])
        text = (f"{number}: balance {yuan(doc['balance_fen'])} is below "
                f"{yuan(doc['low_balance_fen'])}")
    return doc, text


def encode(doc: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed (UTF-8 JSON, keys sorted)."""
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

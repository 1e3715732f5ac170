"""Call records written the way the routers write them, for the web tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any


async def bound_phone(db: Any, number: str, dial_string: str, label: str) -> int:
    phone: int = await db.fetchval(
        "INSERT INTO phones (dial_string, label) VALUES ($1, $2) RETURNING id", dial_string, label)
    await db.execute(
        """INSERT INTO bound_phones (hotline_id, phone_id, position)
           SELECT id, $2, (SELECT count(*) + 1 FROM bound_phones b WHERE b.hotline_id = h.id)
           FROM hotlines h WHERE number = $1""", number, phone)
    return phone


async def call(db: Any, number: str, caller: str, started_at: datetime,
               answered_after_s: float | None, talk_s: float = 30.0,
               phone_id: int | None = None, outcome: str | None = None,
               dial_string: str = "PJSIP/phones/sip:x@127.0.0.1:1") -> uuid.UUID:
    """One ended call: answered (by ``phone_id``) or not (``outcome``, default no-answer),
    with one leg when a phone was rung."""
    call_id = uuid.uuid4()
    answered = started_at + timedelta(seconds=answered_after_s) if answered_after_s else None
    ended = (answered + timedelta(seconds=talk_s)) if answered else started_at + timedelta(
        seconds=15)
    await db.execute(
        """INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id,
                              started_at, answered_at, ended_at, outcome, answered_phone_id,
                              answered_dial_string, plan_result, plan_reason)
           SELECT $1, id, number, $3, random()::text, 'seed', $4, $5, $6, $7, $8, $9, 'default',
                  'no rule matched'
           FROM hotlines WHERE number = $2""",
        call_id, number, caller, started_at, answered, ended,
        outcome or ("answered" if answered else "no-answer"),
        phone_id if answered else None, dial_string if answered else None)
    if phone_id is not None:
        await db.execute(
            """INSERT INTO call_legs (id, call_id, phone_id, dial_string, wave, dial_started_at,
                                      answered_at, ended_at, result, call_started_at)
               VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8,
                       (SELECT started_at FROM call_keys WHERE id = $2))""",
            uuid.uuid4(), call_id, phone_id, dial_string, started_at, answered, ended,
            "answered" if answered else "no-answer")
    return call_id

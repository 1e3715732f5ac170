"""Per-phone figures of `stats` for consultations (router/stats.py), on real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from router import stats
from tests.web import seed

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 10, 12, 9, 30, tzinfo=SHANGHAI)


async def leg(db: Any, call_id: uuid.UUID, phone_id: int, purpose: str, dialled_s: float,
              answered_s: float | None, ended_s: float, result: str) -> None:
    def at(s: float) -> datetime:
        return AT + timedelta(seconds=s)
    await db.execute(
        """INSERT INTO call_legs (id, call_id, phone_id, dial_string, wave, dial_started_at,
                                  answered_at, ended_at, result, purpose, call_started_at)
           VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, $9,
                   (SELECT started_at FROM call_keys WHERE id = $2))""",
        uuid.uuid4(), call_id, phone_id, f"PJSIP/phones/sip:{phone_id}@127.0.0.1:5", at(dialled_s),
        at(answered_s) if answered_s is not None else None, at(ended_s), result, purpose)


async def test_a_consulted_phone_counts_only_when_it_talked_with_the_caller(
        db: Any, hotline_number: str) -> None:
    """Phone 1 answers, consults phone 2 (they talk, 7-9 s, then phone 2 hangs
    up), then consults phone 3 and transfers the caller to it at 20 s: phone 2
    never talked with the caller and is no hotline call of its; phone 3 is."""
    await db.execute("INSERT INTO hotlines (number, name) VALUES ($1, '咨询')", hotline_number)
    agent, colleague, target = [
        await seed.bound_phone(db, hotline_number, f"PJSIP/phones/sip:{n}{hotline_number}@h",
                               f"phone {n}") for n in ("a", "b", "c")]
    call_id = await seed.call(db, hotline_number, "13912345678", AT, 1.0, talk_s=29.0)
    await leg(db, call_id, agent, "phone", 0.0, 1.0, 20.0, "transferred")
    await leg(db, call_id, colleague, "consult", 5.0, 7.0, 9.0, "answered")
    await leg(db, call_id, target, "consult", 12.0, 14.0, 30.0, "answered")
    report = await stats.report(db, hotline_number, date(2026, 10, 12), date(2026, 10, 12))
    counted = {p.phone_id: (p.rung, p.answered) for p in report.phones}
    assert counted == {agent: (1, 1), target: (1, 1)}

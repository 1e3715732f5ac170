"""A hotline's figures: per hour of day, per day, per phone, and in total.

What a 400 customer reads first (the figures of 400 back offices and
call-centre reports): calls, answered, missed, answer rate, average wait
(time to answer) and talk time, and the service level (share of offered
calls answered within ``service_level_s``, 20 s by default: the common
"80/20" target). Only ended calls count. A call is *offered* when it was to
ring phones (call_log.OFFERED_OUTCOMES); closed, refused and similar calls
count as calls but never as missed. Hours and days are in the hotline's time
zone. Read by `hotline-router stats`, the API and the reports page.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from router.call_log import OFFERED_OUTCOMES
from router.zones import HOTLINE_ZONE_SQL

SERVICE_LEVEL_S = 20
MAX_DAYS = 366


class StatsError(ValueError):
    """A report that cannot be made; the message says why."""


@dataclass(frozen=True)
class Figures:
    """One row of a report. Times in ms; rates 0..1 (None without offered calls)."""

    key: str                 # "09" (hour), "2026-10-12" (day), "total"
    calls: int
    offered: int
    answered: int
    missed: int
    answer_rate: float | None
    avg_wait_ms: int | None  # offered call start -> a phone answered
    avg_talk_ms: int | None  # billable time of answered calls
    service_level: float | None


@dataclass(frozen=True)
class PhoneFigures:
    """One phone's ring attempts for the hotline's calls in the period."""

    phone_id: int | None
    label: str
    dial_string: str
    rung: int
    answered: int
    no_answer: int
    busy: int
    answer_rate: float | None
    avg_ring_ms: int | None   # dialled -> answered, answered attempts
    talk_ms: int              # total
    avg_talk_ms: int | None


@dataclass(frozen=True)
class Report:
    number: str
    name: str
    time_zone: str
    first_day: date
    last_day: date           # inclusive
    service_level_s: int
    total: Figures
    hours: tuple[Figures, ...]   # 24 rows, 00 … 23
    days: tuple[Figures, ...]    # one per day of the period
    phones: tuple[PhoneFigures, ...]


_FIGURES = """
    count(*) AS calls,
    count(*) FILTER (WHERE offered) AS offered,
    count(*) FILTER (WHERE answered) AS answered,
    count(*) FILTER (WHERE offered AND NOT answered) AS missed,
    avg(wait_ms) FILTER (WHERE answered) AS avg_wait_ms,
    avg(billable_ms) FILTER (WHERE answered) AS avg_talk_ms,
    count(*) FILTER (WHERE answered AND wait_ms <= $5 * 1000) AS within_sl
"""

_CALLS = """
WITH c AS (
    SELECT started_at AT TIME ZONE $4 AS local, answered_at IS NOT NULL AS answered,
           (outcome = ANY ($6::text[]) OR answered_at IS NOT NULL) AS offered,
           extract(epoch FROM answered_at - started_at) * 1000 AS wait_ms, billable_ms
    FROM calls
    WHERE hotline_id = $1 AND started_at >= $2 AND started_at < $3 AND ended_at IS NOT NULL)
"""


def _figures(key: str, row: Any) -> Figures:
    offered = int(row["offered"]) if row else 0
    answered = int(row["answered"]) if row else 0

    def rounded(value: Any) -> int | None:
        return None if value is None else round(value)

    return Figures(
        key=key, calls=int(row["calls"]) if row else 0, offered=offered, answered=answered,
        missed=int(row["missed"]) if row else 0,
        answer_rate=answered / offered if offered else None,
        avg_wait_ms=rounded(row["avg_wait_ms"]) if row else None,
        avg_talk_ms=rounded(row["avg_talk_ms"]) if row else None,
        service_level=int(row["within_sl"]) / offered if offered else None)


async def report(db: Any, number: str, first_day: date, last_day: date,
                 service_level_s: int = SERVICE_LEVEL_S) -> Report:
    """Figures of hotline ``number`` for local days ``first_day`` … ``last_day``.

    Raises LookupError for an unknown (or not visible) hotline, StatsError for
    a period that is backwards or longer than MAX_DAYS.
    """
    if last_day < first_day:
        raise StatsError("the period ends before it starts")
    if (last_day - first_day).days + 1 > MAX_DAYS:
        raise StatsError(f"a report covers at most {MAX_DAYS} days")
    if not 1 <= service_level_s <= 600:
        raise StatsError("service level must be 1 to 600 seconds")
    hotline = await db.fetchrow(
        f"""SELECT h.id, h.number, h.name, {HOTLINE_ZONE_SQL} AS time_zone
           FROM hotlines h LEFT JOIN plan_settings ps ON ps.hotline_id = h.id
           WHERE h.number = $1""", number)
    if hotline is None:
        raise LookupError(f"no hotline {number}")
    zone = ZoneInfo(hotline["time_zone"])
    start = datetime.combine(first_day, time(), zone)
    end = datetime.combine(last_day + timedelta(days=1), time(), zone)
    args = (hotline["id"], start, end, hotline["time_zone"], service_level_s,
            list(OFFERED_OUTCOMES))
    total = await db.fetchrow(f"{_CALLS} SELECT {_FIGURES} FROM c", *args)
    by_hour = {int(r["hour"]): r for r in await db.fetch(
        f"{_CALLS} SELECT extract(hour FROM local)::int AS hour, {_FIGURES} FROM c GROUP BY 1",
        *args)}
    by_day = {r["day"]: r for r in await db.fetch(
        f"{_CALLS} SELECT local::date AS day, {_FIGURES} FROM c GROUP BY 1", *args)}
    phones = await db.fetch(
        """SELECT l.phone_id, coalesce(p.label, '') AS label, l.dial_string,
                  count(*) AS rung,
                  count(*) FILTER (WHERE l.answered_at IS NOT NULL) AS answered,
                  count(*) FILTER (WHERE l.result = 'no-answer') AS no_answer,
                  count(*) FILTER (WHERE l.result = 'busy') AS busy,
                  avg(extract(epoch FROM l.answered_at - l.dial_started_at) * 1000)
                      FILTER (WHERE l.answered_at IS NOT NULL) AS avg_ring_ms,
                  coalesce(sum(extract(epoch FROM l.ended_at - l.answered_at) * 1000)
                      FILTER (WHERE l.answered_at IS NOT NULL), 0) AS talk_ms
           -- a leg lives in its call's month (0025): name it, one partition per call
           FROM call_legs l JOIN calls c ON c.id = l.call_id AND c.started_at = l.call_started_at
           LEFT JOIN phones p ON p.id = l.phone_id
           WHERE c.hotline_id = $1 AND c.started_at >= $2 AND c.started_at < $3
             AND l.call_started_at >= $2 AND l.call_started_at < $3
             AND (l.purpose = 'phone'
                  OR (l.purpose = 'transfer' AND l.phone_id IS NOT NULL)
                  -- a consultation's target counts only when the caller went to it
                  -- (not one that only talked with the agent): it was transferred
                  -- on, or the consulting leg was transferred while it rang or talked
                  OR (l.purpose = 'consult' AND l.phone_id IS NOT NULL
                      AND (l.result = 'transferred' OR EXISTS (
                          SELECT 1 FROM call_legs t
                          WHERE t.call_id = l.call_id AND t.call_started_at = l.call_started_at
                            AND t.id <> l.id
                            AND t.result = 'transferred'
                            AND t.ended_at >= l.dial_started_at
                            AND t.ended_at <= coalesce(l.ended_at, 'infinity')))))
           GROUP BY l.phone_id, p.label, l.dial_string
           ORDER BY answered DESC, rung DESC, l.dial_string""", hotline["id"], start, end)
    days = []
    day = first_day
    while day <= last_day:
        days.append(_figures(day.isoformat(), by_day.get(day)))
        day += timedelta(days=1)
    return Report(
        number=hotline["number"], name=hotline["name"], time_zone=hotline["time_zone"],
        first_day=first_day, last_day=last_day, service_level_s=service_level_s,
        total=_figures("total", total),
        hours=tuple(_figures(f"{hour:02d}", by_hour.get(hour)) for hour in range(24)),
        days=tuple(days),
        phones=tuple(PhoneFigures(
            phone_id=r["phone_id"], label=r["label"], dial_string=r["dial_string"],
            rung=int(r["rung"]), answered=int(r["answered"]), no_answer=int(r["no_answer"]),
            busy=int(r["busy"]),
            answer_rate=int(r["answered"]) / int(r["rung"]) if r["rung"] else None,
            avg_ring_ms=None if r["avg_ring_ms"] is None else round(r["avg_ring_ms"]),
            talk_ms=round(r["talk_ms"]),
            avg_talk_ms=round(r["talk_ms"] / int(r["answered"])) if r["answered"] else None)
            for r in phones))


TABLES = ("hours", "days", "phones", "total")


def rows(report: Report, table: str) -> list[dict[str, Any]]:
    """One table of a report as plain dicts (JSON and CSV export)."""
    if table == "hours":
        return [asdict(f) for f in report.hours]
    if table == "days":
        return [asdict(f) for f in report.days]
    if table == "phones":
        return [asdict(p) for p in report.phones]
    if table == "total":
        return [asdict(report.total)]
    raise StatsError(f"table must be one of {', '.join(TABLES)}")


def columns(table: str) -> list[str]:
    return [f.name for f in fields(PhoneFigures if table == "phones" else Figures)]


def to_csv(report: Report, table: str) -> str:
    """One table as CSV: a header row, then the rows; rates as decimals, times in ms.

    Text cells that a spreadsheet would run as a formula (=, +, -, @) are
    prefixed with an apostrophe.
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns(table), lineterminator="\n")
    writer.writeheader()
    for row in rows(report, table):
        writer.writerow({name: _csv_cell(value) for name, value in row.items()})
    return out.getvalue()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value

"""Time zones: a hotline's zone as a ZoneInfo, and "today" where its callers live.

Times are stored in UTC; days, hours and "today" are the hotline's
(``plan_settings.time_zone``). A hotline without plan settings has the
default of its DDL, plan.DEFAULT_TIME_ZONE: the SQL here says the same, so
Python and the database never disagree about a hotline's day.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from router.plan import DEFAULT_TIME_ZONE

# What fromisoformat would take but people do not mean: it reads any character
# between date and time, so '2026-10-01+08:00' would be 08:00 local, not an offset.
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}"
                  r"([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?")
ISO_TIME_EXAMPLES = ("2026-10-01", "2026-10-01T09:00", "2026-10-01T09:00:00+08:00")

# A hotline's zone in SQL, for queries that join plan_settings as ``ps``.
HOTLINE_ZONE_SQL = f"coalesce(ps.time_zone, '{DEFAULT_TIME_ZONE}')"


@cache
def zone(name: str | None) -> ZoneInfo:
    """The tz database zone ``name`` (None: the default); an unknown name is UTC
    (the database already refuses unknown names, migration 0007)."""
    try:
        return ZoneInfo(name or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def today_in(zone_name: str) -> date:
    """Today's date in the zone (the default period of a report)."""
    return datetime.now(zone(zone_name)).date()


def parse_time(text: str) -> datetime:
    """An ISO date (naive midnight), local time (naive) or instant (aware); ValueError
    naming valid forms (the CLI and the API say the same)."""
    if _ISO.fullmatch(text.strip()):
        try:
            return datetime.fromisoformat(text.strip())
        except ValueError:
            pass  # the shape is right, a value is not (month 13)
    raise ValueError(
        f"{text!r} is not an ISO date or time, e.g. {ISO_TIME_EXAMPLES[0]} (a day), "
        f"{ISO_TIME_EXAMPLES[1]} (local time) or {ISO_TIME_EXAMPLES[2]}")


async def hotline_zone(db: Any, number: str) -> str:
    """The time zone of hotline ``number``; LookupError when there is none (or it is not
    this login's to see)."""
    found = await db.fetchrow(
        f"""SELECT {HOTLINE_ZONE_SQL} AS time_zone
            FROM hotlines h LEFT JOIN plan_settings ps ON ps.hotline_id = h.id
            WHERE h.number = $1""", number)
    if found is None:
        raise LookupError(f"no hotline {number}")
    return str(found["time_zone"])


async def hotline_today(db: Any, number: str) -> date:
    """Today in hotline ``number``'s zone; LookupError as hotline_zone."""
    return today_in(await hotline_zone(db, number))

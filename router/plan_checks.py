"""Plan values the database cannot judge, checked before they are written.

The CLI and the API both call these, so a typo is refused the same way
whichever way it comes in: a caller region no caller can ever be in, an area
code that does not exist, a schedule override that would end in the past.
Each raises admin.AdminError with one line; ``label`` names the value as the
caller of the check shows it (``--region`` on the command line,
``caller_region`` in a JSON body).
"""

from __future__ import annotations

from datetime import UTC, datetime

from router import region, zones
from router.admin import AdminError


def check_region(place: str | None, label: str) -> None:
    """A rule's caller region must be a province, city or area code of the region data."""
    if not place:
        return
    try:
        region.check_place(place)
    except ValueError as exc:
        raise AdminError(f"{label}: {exc}") from None


def check_area_code(match: str, value: str, label: str) -> None:
    """A caller-list entry matched by area code must name a real one (``value`` as stored,
    with its leading 0)."""
    if match != "area-code":
        return
    try:
        region.check_place(value)
    except ValueError as exc:
        raise AdminError(f"{label} {value}: {exc}") from None


def override_end(until: datetime | None, zone_name: str, label: str,
                 now: datetime | None = None) -> datetime | None:
    """When a schedule override ends: a naive ``until`` is the hotline's wall time.

    Raises AdminError when it is not after ``now`` (default: the current time):
    such an override would end before it began.
    """
    if until is None:
        return None
    local = zones.zone(zone_name)
    end = until if until.tzinfo else until.replace(tzinfo=local)
    now = now or datetime.now(UTC)
    if end <= now:
        def shown(at: datetime) -> str:
            return at.astimezone(local).isoformat(sep=" ", timespec="seconds")
        raise AdminError(f"{label} {shown(end)} is already past (now {shown(now)} in "
                         f"{zone_name}): give a later time, or none for 'until cleared'")
    return end

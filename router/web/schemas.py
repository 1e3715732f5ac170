"""Request bodies of the API, validated by msgspec (types, required and unknown fields).

Values are judged by the database, so the API refuses what the CLI and psql
refuse, with the same sentences (``hotline ring timeout must be 1 to 300
seconds``). A field left out is left unchanged; ``null`` clears a field that
may be empty. The OpenAPI document's schemas are generated from these classes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType


class Body(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    def given(self) -> dict[str, Any]:
        """The fields the request set, by name."""
        return {name: getattr(self, name) for name in self.__struct_fields__
                if getattr(self, name) is not UNSET}


class HotlineNew(Body):
    """A new hotline (operator tokens)."""

    number: str
    name: str | UnsetType = UNSET
    strategy: str | UnsetType = UNSET
    strategy_options: dict[str, Any] | UnsetType = UNSET
    ring_timeout_s: int | UnsetType = UNSET
    total_timeout_s: int | UnsetType = UNSET
    max_attempts: int | UnsetType | None = UNSET
    overflow: str | UnsetType = UNSET
    overflow_max_wait_s: int | UnsetType = UNSET
    overflow_forward_to: str | UnsetType | None = UNSET
    customer: str | UnsetType | None = UNSET


# What only an operator token may change on a hotline: its identity, and where
# calls are forwarded (a dial string reaches any line at the operator's cost).
# The customer role's column grants (migrations/grants.sql) say the same.
OPERATOR_HOTLINE_FIELDS = ("number", "enabled", "customer", "overflow_forward_to")


class HotlineChange(Body):
    """Changes to a hotline. Customers may not change OPERATOR_HOTLINE_FIELDS."""

    number: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    strategy: str | UnsetType = UNSET
    strategy_options: dict[str, Any] | UnsetType = UNSET
    ring_timeout_s: int | UnsetType = UNSET
    total_timeout_s: int | UnsetType = UNSET
    max_attempts: int | UnsetType | None = UNSET
    overflow: str | UnsetType = UNSET
    overflow_max_wait_s: int | UnsetType = UNSET
    overflow_forward_to: str | UnsetType | None = UNSET
    enabled: bool | UnsetType = UNSET
    customer: str | UnsetType | None = UNSET


class PhoneNew(Body):
    """A new phone (operator tokens)."""

    dial_string: str
    label: str | UnsetType = UNSET
    capacity: int | UnsetType = UNSET
    wrap_up_s: int | UnsetType = UNSET


class PhoneChange(Body):
    dial_string: str | UnsetType = UNSET
    label: str | UnsetType = UNSET
    capacity: int | UnsetType = UNSET
    wrap_up_s: int | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET


class BindingNew(Body):
    """Bind a phone to the hotline: an existing one by id, or a new one by dial string."""

    phone_id: int | UnsetType = UNSET
    dial_string: str | UnsetType = UNSET
    label: str | UnsetType = UNSET
    position: int | UnsetType = UNSET


class BindingChange(Body):
    """Hunting order, share for the weighted rule, on/off for this hotline."""

    position: int | UnsetType = UNSET
    weight: int | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET


class GroupNew(Body):
    name: str
    strategy: str | UnsetType = UNSET
    strategy_options: dict[str, Any] | UnsetType = UNSET


class GroupChange(Body):
    name: str | UnsetType = UNSET
    strategy: str | UnsetType = UNSET
    strategy_options: dict[str, Any] | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET


class Member(Body):
    """A bound phone in a group. ``weight`` null or left out: the binding's weight, which
    the strategy reads as its default share (as `group member add` without --weight)."""

    phone_id: int
    position: int = 1
    weight: int | None = None


class RuleNew(Body):
    """A plan rule; group, schedule and menu by name within the hotline."""

    action: str
    position: int | UnsetType = UNSET
    name: str | UnsetType = UNSET
    caller_list: str | UnsetType | None = UNSET
    caller_region: str | UnsetType | None = UNSET
    schedule: str | UnsetType | None = UNSET
    schedule_is: str | UnsetType | None = UNSET
    group: str | UnsetType | None = UNSET
    menu: str | UnsetType | None = UNSET
    enabled: bool | UnsetType = UNSET


class RuleChange(Body):
    action: str | UnsetType = UNSET
    position: int | UnsetType = UNSET
    name: str | UnsetType = UNSET
    caller_list: str | UnsetType | None = UNSET
    caller_region: str | UnsetType | None = UNSET
    schedule: str | UnsetType | None = UNSET
    schedule_is: str | UnsetType | None = UNSET
    group: str | UnsetType | None = UNSET
    menu: str | UnsetType | None = UNSET
    enabled: bool | UnsetType = UNSET


class CallerEntryNew(Body):
    """A number, prefix or area code on one of the hotline's caller lists."""

    list: str
    value: str
    match: str = "exact"
    note: str = ""


class ScheduleNew(Body):
    name: str
    observe_holidays: bool | UnsetType = UNSET
    makeup_workday_as: str | UnsetType = UNSET


class ScheduleChange(Body):
    """``override``: "open" / "closed" now (null: follow the hours), until ``override_until``."""

    name: str | UnsetType = UNSET
    observe_holidays: bool | UnsetType = UNSET
    makeup_workday_as: str | UnsetType = UNSET
    override: str | UnsetType | None = UNSET
    override_until: datetime | UnsetType | None = UNSET


class Window(Body):
    """Open on these day keys (mon … sun, holiday) from ``opens`` to ``closes`` (HH:MM)."""

    days: list[str]
    opens: str
    closes: str


BODIES: tuple[type[Body], ...] = (
    HotlineNew, HotlineChange, PhoneNew, PhoneChange, BindingNew, BindingChange, GroupNew,
    GroupChange, Member, RuleNew, RuleChange, CallerEntryNew, ScheduleNew, ScheduleChange, Window)

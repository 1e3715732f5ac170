"""Where a hotline lets its phones transfer callers: what is read from the database.

A transfer names its target by the user part of the SIP Refer-To URI (what
the agent keyed in). Bound phones are also known by their label
(``phones.label``), read here with the hotline's allowed outside numbers
(``hotlines.transfer_numbers``, digit prefixes) and how to dial them
(``hotlines.transfer_dial``, a dial string with ``{number}`` in it); see
migrations/0021_transfers.sql. Read once per transfer, not per call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NUMBER_PLACEHOLDER = "{number}"


@dataclass(frozen=True)
class TransferRules:
    """A hotline's transfer rules. ``labels``: lower-cased label -> phone id of
    its bound phones; ``prefixes`` empty or ``dial`` None: no outside number."""

    labels: Mapping[str, int] = field(default_factory=dict)
    prefixes: tuple[str, ...] = ()
    dial: str | None = None

    def outside_dial_string(self, number: str) -> str | None:
        """The dial string for outside ``number`` (digits), or None when the
        hotline does not allow it."""
        if self.dial is None or not number.isdigit():
            return None
        if not any(number.startswith(prefix) for prefix in self.prefixes):
            return None
        return self.dial.replace(NUMBER_PLACEHOLDER, number)


_RULES = """
SELECT h.transfer_numbers, h.transfer_dial,
       coalesce(jsonb_object_agg(lower(p.label), p.id)
                FILTER (WHERE p.label <> ''), '{}'::jsonb) AS labels
FROM hotlines h
LEFT JOIN bound_phones b ON b.hotline_id = h.id AND b.enabled
LEFT JOIN phones p ON p.id = b.phone_id AND p.enabled
WHERE h.id = $1
GROUP BY h.id
"""


async def load(db: Any, hotline_id: int) -> TransferRules:
    """The transfer rules of hotline ``hotline_id`` (none for an unknown id)."""
    row = await db.fetchrow(_RULES, hotline_id)
    if row is None:
        return TransferRules()
    labels = row["labels"]  # jsonb: decoded by the pool's codec (router/db.py)
    prefixes = tuple(row["transfer_numbers"].split(",")) if row["transfer_numbers"] else ()
    return TransferRules(labels={str(k): int(v) for k, v in labels.items()},
                         prefixes=prefixes, dial=row["transfer_dial"])

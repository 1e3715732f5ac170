"""Asterisk's own call records (cdr_custom), as dialplan/cdr_custom.conf writes them.

One CSV row per CDR: uniqueid, linkedid, channel, dstchannel, src, dst, start,
answer, end, duration, billsec, disposition. start/answer/end are Unix
seconds with microseconds (``${CDR(start,u)}``), so they mean the same
instant in any time zone; an unanswered call's answer is 0. duration and
billsec are fractional seconds (``${CDR(billsec,f)}``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

FIELDS = ("uniqueid", "linkedid", "channel", "dstchannel", "src", "dst", "start", "answer",
          "end", "duration", "billsec", "disposition")


class CdrError(ValueError):
    pass


@dataclass(frozen=True)
class Cdr:
    uniqueid: str
    linkedid: str
    channel: str
    dstchannel: str
    src: str
    dst: str
    start: datetime | None
    answer: datetime | None
    end: datetime | None
    duration_s: Decimal
    billsec_s: Decimal
    disposition: str


def parse_time(text: str) -> datetime | None:
    """Unix seconds ('1795884715.618389') as UTC; '', '0' or '0.000000' as None.

    A 'YYYY-MM-DD HH:MM:SS' time (the cdr_custom default) is read as UTC, the
    time zone of the project's Asterisk container.
    """
    text = text.strip()
    if not text:
        return None
    try:
        seconds = Decimal(text)
    except InvalidOperation:
        try:
            return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            raise CdrError(f"not a CDR time: {text!r}") from None
    if seconds == 0:
        return None
    return _EPOCH + timedelta(microseconds=int(seconds * 1_000_000))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_rows(rows: Iterable[list[str]]) -> list[Cdr]:
    records = []
    for number, row in enumerate(rows, start=1):
        if not row:
            continue
        if len(row) != len(FIELDS):
            raise CdrError(f"CDR row {number} has {len(row)} fields, expected {len(FIELDS)} "
                           f"({', '.join(FIELDS)})")
        values = dict(zip(FIELDS, row, strict=True))
        try:
            records.append(Cdr(
                uniqueid=values["uniqueid"], linkedid=values["linkedid"],
                channel=values["channel"], dstchannel=values["dstchannel"], src=values["src"],
                dst=values["dst"], start=parse_time(values["start"]),
                answer=parse_time(values["answer"]), end=parse_time(values["end"]),
                duration_s=Decimal(values["duration"] or "0"),
                billsec_s=Decimal(values["billsec"] or "0"),
                disposition=values["disposition"]))
        except (InvalidOperation, CdrError) as exc:
            raise CdrError(f"CDR row {number}: {exc}") from None
    return records


def read(path: Path) -> list[Cdr]:
    """Every CDR in the file at ``path``."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        return parse_rows(csv.reader(handle))

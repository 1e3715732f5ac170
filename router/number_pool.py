"""The number pool: 400/800 numbers an operator has for sale, graded on import.

An import file has one number per line, or CSV whose first column is the
number and whose second, if any, is a note; a header line, blank lines and
lines starting with # are skipped. Either every number goes in, or none: bad
lines are all reported with their line numbers first.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from router import numbers, vanity


@dataclass(frozen=True)
class Entry:
    line: int
    number: numbers.HotlineNumber
    note: str


@dataclass(frozen=True)
class BadLine:
    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class Imported:
    added: int
    already_in_pool: int


class ImportRefused(ValueError):
    """The file has bad lines; nothing was imported."""

    def __init__(self, bad: list[BadLine]) -> None:
        super().__init__(f"{len(bad)} bad line(s), nothing imported:\n"
                         + "\n".join(str(b) for b in bad))
        self.bad = bad


def read_lines(lines: Iterable[str]) -> tuple[list[Entry], list[BadLine]]:
    """Parse an import file's lines; numbers written twice are bad lines too."""
    entries: list[Entry] = []
    bad: list[BadLine] = []
    seen: dict[str, int] = {}
    for index, fields in enumerate(csv.reader(lines), start=1):
        text = ",".join(fields)
        first = fields[0].strip() if fields else ""
        if not first or first.startswith("#"):
            continue
        if not entries and not bad and not any(c.isdigit() for c in first):
            continue  # a header such as "number,note"
        try:
            number = numbers.parse(first)
        except numbers.NumberError as exc:
            bad.append(BadLine(index, text, str(exc)))
            continue
        if number.digits in seen:
            bad.append(BadLine(index, text, f"{number} repeats line {seen[number.digits]}"))
            continue
        seen[number.digits] = index
        note = fields[1].strip() if len(fields) > 1 else ""
        entries.append(Entry(index, number, note))
    return entries, bad


async def import_lines(db: Any, lines: Iterable[str]) -> Imported:
    """Grade and add every number, in one transaction; ImportRefused if any line is bad."""
    entries, bad = read_lines(lines)
    if bad:
        raise ImportRefused(bad)
    rows = []
    for entry in entries:
        matches = vanity.find(entry.number)
        rows.append((entry.number.digits, entry.number.carrier, vanity.grade(matches),
                     json.dumps([m.as_dict() for m in matches]), entry.note))
    columns = [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * 5
    async with db.acquire() as connection, connection.transaction():
        added = await connection.fetchval(
            """WITH incoming AS (
                   SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[], $4::text[],
                                        $5::text[]) AS t(number, carrier, tier, patterns, note)),
               inserted AS (
                   INSERT INTO number_pool (number, carrier, tier, patterns, note)
                   SELECT number, carrier, tier, patterns::jsonb, note FROM incoming
                   ON CONFLICT (number) DO NOTHING RETURNING 1)
               SELECT count(*) FROM inserted""",
            *columns)
    return Imported(added=added, already_in_pool=len(rows) - added)


async def search(db: Any, pattern: str | None = None, tier: int | None = None,
                 place: str | None = None, carrier: str | None = None,
                 limit: int = 100) -> list[Any]:
    """Pool numbers with ``pattern`` (at ``tier``/``place`` if given), best first.

    Without a pattern, ``tier`` is the number's grade.
    """
    wanted: dict[str, str | int] = {}
    if pattern is not None:
        wanted["pattern"] = pattern
        if tier is not None:
            wanted["tier"] = tier
        if place is not None:
            wanted["place"] = place
    return list(await db.fetch(
        """SELECT number, carrier, tier, patterns, note FROM number_pool
           WHERE ($1::jsonb IS NULL OR patterns @> $1::jsonb)
             AND ($2::smallint IS NULL OR $1::jsonb IS NOT NULL OR tier = $2)
             AND ($3::text IS NULL OR carrier ILIKE '%' || $3 || '%')
           ORDER BY tier NULLS LAST, number
           LIMIT $4""",
        [wanted] if wanted else None, tier, carrier, limit))

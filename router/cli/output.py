"""Printing for people: aligned by display width, safe for a terminal, in local time.

Tables are laid out by ``rich``, which measures cells by their display width
(a Chinese character takes two columns), not by ``len``. Every cell goes in
as plain :class:`rich.text.Text`, never as markup, after
:func:`router.callers.printable` has escaped control characters, so no value
from a caller or an admin can steer the terminal. Times are shown in the zone
people read them in (a hotline's, or the operator's ``display_time_zone``);
JSON output stays ISO 8601 in UTC (``router.cli.common.plain``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from rich.console import Console
from rich.table import Table
from rich.text import Text

from router.callers import printable
from router.zones import zone

# Wide enough that a table piped to a file or `grep` is never wrapped.
_PIPE_WIDTH = 1000


def console() -> Console:
    """A console on the current stdout: a terminal's width, or no wrapping when piped."""
    tty = sys.stdout.isatty()
    return Console(file=sys.stdout, width=None if tty else _PIPE_WIDTH, no_color=not tty,
                   highlight=False, markup=False, emoji=False, soft_wrap=not tty)


def local(value: datetime, zone_name: str) -> str:
    """An instant as people read it: '2026-10-01 00:00:00+08:00' (ms when it has any)."""
    shown = value.astimezone(zone(zone_name))
    spec = "milliseconds" if shown.microsecond else "seconds"
    return shown.isoformat(sep=" ", timespec=spec)


def text(value: Any, zone_name: str = "UTC") -> str:
    """One cell as terminal-safe text; times in ``zone_name``."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return local(value, zone_name)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return printable(json.dumps(value, ensure_ascii=False))
    if isinstance(value, UUID | Decimal):
        return str(value)
    return printable(str(value))


ZoneOf = Callable[[Mapping[str, Any]], str]


def zone_of_row(default: str) -> ZoneOf:
    """A row's own ``time_zone`` column (a hotline's zone), else ``default``."""
    return lambda row: str(row.get("time_zone") or default)


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
                zone_name: str | ZoneOf = "UTC", headers: Sequence[str] | None = None,
                right: Sequence[str] = ()) -> None:
    """Rows as columns under a header, aligned by display width.

    ``right``: columns aligned right (amounts, counts). ``zone_name`` may be a
    function of the row (see :func:`zone_of_row`).
    """
    zone_for = zone_name if callable(zone_name) else (lambda _row: str(zone_name))
    table = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 2, 0, 0),
                  header_style=None, expand=False)
    for column, header in zip(columns, headers or columns, strict=True):
        table.add_column(Text(header), justify="right" if column in right else "left",
                         no_wrap=True)
    for row in rows:
        row_zone = zone_for(row)
        table.add_row(*(Text(text(row[c], row_zone)) for c in columns))
    _print(table)


def print_record(row: Mapping[str, Any], zone_name: str = "UTC") -> None:
    """One row as 'name  value' lines, names aligned."""
    table = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 2, 0, 0),
                  show_header=False, expand=False)
    table.add_column(no_wrap=True)
    table.add_column()
    for name, value in row.items():
        table.add_row(Text(name), Text(text(value, zone_name)))
    _print(table)


def _print(table: Table) -> None:
    """Print a table without the blanks rich pads the last column with."""
    out = console()
    with out.capture() as captured:
        out.print(table)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def say(line: str) -> None:
    """A line of prose for people, with anything unprintable escaped."""
    print(printable(line))


def warn(message: str) -> None:
    """A warning for people, on stderr (stdout stays parseable)."""
    print(f"hotline-router: warning: {printable(message)}", file=sys.stderr)

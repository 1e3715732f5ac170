"""A statement as a table (people), CSV (spreadsheets) or JSON (programs).

In every format the lines add up to the total: CSV and JSON in fen, the
table in yuan with two decimals (the same fen, written differently).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from router.billing.money import seconds, yuan
from router.billing.statements import CallLine, Statement
from router.callers import printable

FORMATS = ("table", "csv", "json")

CSV_FIELDS = ("hotline", "line", "call_id", "started_at", "caller", "outcome", "billable_s",
              "unit_s",
              "units", "included_units", "charged_units", "price_per_unit_fen", "charge_fen",
              "note")


# A spreadsheet reads a cell starting with one of these as a formula (=2+5,
# +cmd|…, @SUM…); such a text cell gets a leading apostrophe, which spreadsheets
# show as text and do not keep in the value (OWASP, "CSV Injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell no spreadsheet runs: text starting like a formula is quoted with '.

    Numbers stay numbers (a charge of -24 fen is not a formula); only text is
    changed, e.g. a caller id ``=2+5`` -> ``'=2+5``.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def render(statement: Statement, fmt: str) -> str:
    if fmt == "table":
        return table(statement)
    if fmt == "csv":
        return to_csv(statement)
    if fmt == "json":
        return json.dumps(to_json(statement), ensure_ascii=False, indent=2) + "\n"
    raise ValueError(f"format must be one of {', '.join(FORMATS)}")


def _iso(value: Any) -> str:
    return str(value.isoformat(timespec="milliseconds").replace("+00:00", "Z"))


def _call_fields(line: CallLine) -> dict[str, Any]:
    rating = line.rating
    return {"line": "call", "call_id": str(line.call.call_id),
            "started_at": _iso(line.call.started_local), "caller": line.call.caller,
            "outcome": line.call.outcome, "billable_s": str(seconds(rating.billable_ms)),
            "unit_s": rating.unit_s, "units": rating.units,
            "included_units": rating.included_units, "charged_units": rating.charged_units,
            "price_per_unit_fen": rating.price_per_unit_fen, "charge_fen": line.charge_fen}


def to_json(statement: Statement) -> dict[str, Any]:
    lines = [_call_fields(line) for line in statement.calls]
    lines += [{"line": other.what, "charge_fen": other.charge_fen, "note": other.note}
              for other in statement.others]
    return {
        "hotline": statement.number, "month": str(statement.month),
        "time_zone": statement.time_zone,
        "period": {"start": _iso(statement.period_start), "end": _iso(statement.period_end)},
        "lines": lines,
        "calls": len(statement.calls),
        "billable_s": str(seconds(sum(line.rating.billable_ms for line in statement.calls))),
        "included_minutes": statement.included_minutes,
        "included_seconds_used": statement.included_used_s,
        "overage_units": statement.overage_units,
        "overage_fen": statement.overage_fen,
        "minimum_spend_fen": statement.minimum_spend_fen,
        "total_fen": statement.total_fen,
        "unrated_calls": statement.unrated_calls,
        "monthly_minimum_fen": statement.monthly_minimum_fen,
        # not in the total: what the minimum spend would add if the month ended now
        "minimum_spend_preview_fen": statement.minimum_preview_fen,
    }


def to_csv(statement: Statement) -> str:
    out = io.StringIO()
    to_csv_rows(statement, out, header=True)
    return out.getvalue()


def to_csv_rows(statement: Statement, out: io.StringIO | Any, header: bool) -> None:
    """The statement's CSV rows (and the header row first when ``header``)."""
    writer = csv.DictWriter(out, CSV_FIELDS, lineterminator="\n")
    if header:
        writer.writeheader()
    rows = [_call_fields(line) for line in statement.calls]
    rows += [{"line": other.what, "charge_fen": other.charge_fen, "note": other.note}
             for other in statement.others]
    rows.append({"line": "total", "charge_fen": statement.total_fen,
                 "note": f"{statement.month} in {statement.time_zone}"})
    for row in rows:
        writer.writerow({name: spreadsheet_safe(value) for name, value in
                         {"hotline": statement.number, **row}.items()})


def table(statement: Statement) -> str:
    s = statement
    out = [f"Statement for {s.number}, {s.month}",
           f"The month runs {s.month}-01 00:00 to {s.month.next()}-01 00:00 in {s.time_zone} "
           f"({_iso(s.period_start)} to {_iso(s.period_end)}); calls count in the month "
           f"they started.",
           "",
           ""]
    rows: list[dict[str, str]] = []
    for line in s.calls:
        r = line.rating
        rows.append({"started": line.call.started_local.strftime("%Y-%m-%d %H:%M:%S"),
                     "caller": line.call.caller, "outcome": line.call.outcome or "-",
                     "billable s": str(seconds(r.billable_ms)), "unit": f"{r.unit_s}s",
                     "units": str(r.units), "incl.": str(r.included_units),
                     "price/unit": yuan(r.price_per_unit_fen),
                     "charge": yuan(line.charge_fen)})
    for other in s.others:
        label = f"{other.what}: {other.note}" if other.note else other.what
        rows.append({"started": label, "charge": yuan(other.charge_fen)})
    out.append(_columns(rows, s.time_zone))
    billable_ms = sum(line.rating.billable_ms for line in s.calls)
    out += ["", f"calls: {len(s.calls)}, billable {seconds(billable_ms)} s, "
                f"charged {yuan(s.calls_fen)}"]
    if s.included_minutes:
        used = seconds(s.included_used_s * 1000) / 60
        out.append(f"included minutes used: {used:.1f} of {s.included_minutes}")
        out.append(f"overage: {s.overage_units} units, {yuan(s.overage_fen)}")
    if any(o.what != "adjustment" for o in s.others):
        out.append(f"minimum-spend top-up: {yuan(s.minimum_spend_fen)}")
    out.append(f"total: {yuan(s.total_fen)}")
    if s.minimum_preview_fen is not None:
        out.append(f"minimum spend {yuan(s.monthly_minimum_fen)} a month: if the month ended "
                   f"now it would add {yuan(s.minimum_preview_fen)} (not in the total; "
                   "settled once the month is over)")
    if s.unrated_calls:
        out.append(f"note: {s.unrated_calls} answered call(s) of this month are not rated yet "
                   "and are not in this total")
    return "\n".join(out) + "\n"


_COLUMNS = ("started", "caller", "outcome", "billable s", "unit", "units", "incl.",
            "price/unit", "charge")
_RIGHT = {"billable s", "unit", "units", "incl.", "price/unit", "charge"}


def _columns(rows: list[dict[str, str]], time_zone: str) -> str:
    """The lines as a table measured by display width; other lines span the row."""
    table = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 2, 0, 0),
                  header_style=None)
    for name in _COLUMNS:
        header = f"started ({time_zone})" if name == "started" else name
        table.add_column(Text(header), justify="right" if name in _RIGHT else "left",
                         no_wrap=True)
    for row in rows:
        table.add_row(*(Text(printable(row.get(name, ""))) for name in _COLUMNS))
    console = Console(width=1000, no_color=True, highlight=False, markup=False, emoji=False)
    with console.capture() as captured:
        console.print(table)
    return "\n".join(line.rstrip() for line in captured.get().splitlines())

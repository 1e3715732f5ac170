"""A statement as a table (people), CSV (spreadsheets) or JSON (programs).

In every format the lines add up to the total: CSV and JSON in fen, the
table in yuan with two decimals (the same fen, written differently).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from router.billing.money import seconds, yuan
from router.billing.statements import CallLine, Statement

FORMATS = ("table", "csv", "json")

CSV_FIELDS = ("line", "call_id", "started_at", "caller", "outcome", "billable_s", "unit_s",
              "units", "included_units", "charged_units", "price_per_unit_fen", "charge_fen",
              "note")


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
    }


def to_csv(statement: Statement) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for line in statement.calls:
        writer.writerow(_call_fields(line))
    for other in statement.others:
        writer.writerow({"line": other.what, "charge_fen": other.charge_fen, "note": other.note})
    writer.writerow({"line": "total", "charge_fen": statement.total_fen,
                     "note": f"{statement.month} in {statement.time_zone}"})
    return out.getvalue()


def table(statement: Statement) -> str:
    s = statement
    out = [f"Statement for {s.number}, {s.month}",
           f"The month runs {s.month}-01 00:00 to {s.month.next()}-01 00:00 in {s.time_zone} "
           f"({_iso(s.period_start)} to {_iso(s.period_end)}); calls count in the month "
           f"they started.",
           "",
           f"{'started (' + s.time_zone + ')':<25} {'caller':<16} {'billable s':>10} "
           f"{'unit':>5} {'units':>5} {'incl.':>5} {'price/unit':>10} {'charge':>10}"]
    for line in s.calls:
        r = line.rating
        started = line.call.started_local.strftime("%Y-%m-%d %H:%M:%S")
        out.append(f"{started:<25} {line.call.caller:<16} {seconds(r.billable_ms):>10} "
                   f"{str(r.unit_s) + 's':>5} {r.units:>5} {r.included_units:>5} "
                   f"{yuan(r.price_per_unit_fen):>10} {yuan(line.charge_fen):>10}")
    for other in s.others:
        label = f"{other.what}: {other.note}" if other.note else other.what
        out.append(f"{label:<85.85} {yuan(other.charge_fen):>10}")
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
    if s.unrated_calls:
        out.append(f"note: {s.unrated_calls} answered call(s) of this month are not rated yet "
                   "and are not in this total")
    return "\n".join(out) + "\n"

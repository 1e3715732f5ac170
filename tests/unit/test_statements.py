"""A statement adds up: its total is the sum of its lines, in every format."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from router.billing import render
from router.billing.months import Month
from router.billing.rating import Rating
from router.billing.statements import CallInfo, Entry, Statement, build

T0 = datetime(2026, 10, 31, 16, tzinfo=UTC)
SHANGHAI = timezone(timedelta(hours=8))
MONTH = Month(2026, 11)
PERIOD = (T0, T0 + timedelta(days=30))

ratings = st.builds(
    lambda ms, unit_s, price, included_share, package: _rating(ms, unit_s, price,
                                                               included_share, package),
    st.integers(0, 3_600_000), st.sampled_from([6, 60]), st.integers(0, 1000),
    st.floats(0, 1), st.none() | st.just(1))


def _rating(ms: int, unit_s: int, price: int, share: float, package: int | None) -> Rating:
    units = -(-ms // (unit_s * 1000))
    return Rating(ms, unit_s, units, int(units * share) if package else 0, price, package)


@st.composite
def months(draw: st.DrawFn) -> tuple[list[Entry], dict[uuid.UUID, CallInfo]]:
    entries: list[Entry] = []
    calls: dict[uuid.UUID, CallInfo] = {}
    ids = iter(range(1, 10_000))
    for n in range(draw(st.integers(0, 15))):
        call_id = uuid.UUID(int=n + 1)
        started = T0 + timedelta(seconds=draw(st.integers(0, 29 * 86_400)))
        calls[call_id] = CallInfo(call_id, started, started.astimezone(SHANGHAI),
                                  f"1380000{n:04d}", "answered")
        rating = draw(ratings)
        entries.append(Entry(next(ids), "call-charge", None, -rating.charge_fen, call_id, rating))
        for _ in range(draw(st.integers(0, 2))):  # re-rated since
            new = draw(ratings)
            entries.append(Entry(next(ids), "adjustment", "call-charge",
                                 draw(st.integers(-5000, 5000)), call_id, new, "rerate"))
    if draw(st.booleans()):
        entries.append(Entry(next(ids), "minimum-spend", None, -draw(st.integers(0, 50_000))))
        if draw(st.booleans()):
            entries.append(Entry(next(ids), "adjustment", "minimum-spend",
                                 draw(st.integers(-500, 500)), note="rerate"))
    for _ in range(draw(st.integers(0, 2))):
        entries.append(Entry(next(ids), "adjustment", "balance", draw(st.integers(-900, 900)),
                             note="goodwill"))
    entries.append(Entry(next(ids), "top-up", None, 300_000, note="not a charge"))
    return entries, calls


def statement_of(month: tuple[list[Entry], dict[uuid.UUID, CallInfo]]) -> Statement:
    entries, calls = month
    return build("4008001234", MONTH, "Asia/Shanghai", PERIOD, entries, calls, 100, 0)


@given(months())
def test_the_total_is_the_sum_of_the_lines_and_of_the_ledger(
        month: tuple[list[Entry], dict[uuid.UUID, CallInfo]]) -> None:
    statement = statement_of(month)
    entries, _ = month
    lines = [line.charge_fen for line in statement.calls] + [o.charge_fen
                                                             for o in statement.others]
    assert statement.total_fen == sum(lines)
    assert statement.total_fen == -sum(e.amount_fen for e in entries if e.kind != "top-up")
    assert len(statement.calls) == len({e.call_id for e in entries if e.call_id})


@given(months())
def test_csv_and_json_lines_add_up_to_their_total(
        month: tuple[list[Entry], dict[uuid.UUID, CallInfo]]) -> None:
    statement = statement_of(month)
    rows = list(csv.DictReader(io.StringIO(render.to_csv(statement))))
    assert rows[-1]["line"] == "total"
    assert sum(int(r["charge_fen"]) for r in rows[:-1]) == int(rows[-1]["charge_fen"])
    assert int(rows[-1]["charge_fen"]) == statement.total_fen
    shown = json.loads(render.render(statement, "json"))
    assert sum(line["charge_fen"] for line in shown["lines"]) == shown["total_fen"]
    assert shown["total_fen"] == statement.total_fen


_YUAN = re.compile(r"(-?)¥([\d,]+\.\d\d)$")


def _fen(text: str) -> int:
    match = _YUAN.search(text.rstrip())
    assert match, text
    value = int(Decimal(match[2].replace(",", "")) * 100)
    return -value if match[1] else value


@given(months())
def test_the_table_adds_up_to_the_fen(
        month: tuple[list[Entry], dict[uuid.UUID, CallInfo]]) -> None:
    statement = statement_of(month)
    lines = render.table(statement).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("started ("))
    end = lines.index("", header)
    charged = [_fen(line) for line in lines[header + 1:end]]
    total = _fen(next(line for line in lines if line.startswith("total: ")))
    assert sum(charged) == total == statement.total_fen


def test_a_call_line_shows_the_newest_rating_and_the_net_charge() -> None:
    call_id = uuid.uuid4()
    info = CallInfo(call_id, T0, T0.astimezone(SHANGHAI), "13800138000", "answered")
    first, fixed = Rating(61_000, 60, 2, 0, 12), Rating(61_000, 60, 2, 0, 10)
    statement = build("4008001234", MONTH, "Asia/Shanghai", PERIOD, [
        Entry(1, "call-charge", None, -24, call_id, first),
        Entry(2, "adjustment", "call-charge", 4, call_id, fixed, "rerate"),
        Entry(3, "minimum-spend", None, -980),
    ], {call_id: info})
    (line,) = statement.calls
    assert (line.rating, line.charge_fen) == (fixed, 20)
    assert statement.minimum_spend_fen == 980
    assert statement.total_fen == 1000


def test_csv_cells_a_spreadsheet_would_run_are_neutralised() -> None:
    calls, entries = {}, []
    for n, caller in enumerate(("=2+5", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "13800138000")):
        call_id = uuid.UUID(int=n + 1)
        calls[call_id] = CallInfo(call_id, T0, T0.astimezone(SHANGHAI), caller, "answered")
        entries.append(Entry(n + 1, "call-charge", None, -24, call_id,
                             Rating(61_000, 60, 2, 0, 12)))
    entries.append(Entry(99, "adjustment", "balance", 500, note="=HYPERLINK(\"x\")"))
    rows = list(csv.DictReader(io.StringIO(render.to_csv(
        build("4008001234", MONTH, "Asia/Shanghai", PERIOD, entries, calls)))))
    callers = [r["caller"] for r in rows if r["line"] == "call"]
    assert callers == ["'=2+5", "'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(A1)", "13800138000"]
    assert [r["note"] for r in rows if r["line"] == "adjustment"] == ["'=HYPERLINK(\"x\")"]
    assert [r["charge_fen"] for r in rows if r["line"] == "adjustment"] == ["-500"]  # a number
    assert {r["hotline"] for r in rows} == {"4008001234"}


def test_before_a_month_is_settled_its_minimum_spend_is_previewed_outside_the_total() -> None:
    call_id = uuid.uuid4()
    info = CallInfo(call_id, T0, T0.astimezone(SHANGHAI), "13800138000", "answered")
    charge = [Entry(1, "call-charge", None, -72, call_id, Rating(301_000, 60, 6, 0, 12))]
    open_month = build("4008001234", MONTH, "Asia/Shanghai", PERIOD, charge, {call_id: info},
                       monthly_minimum_fen=1000)
    assert (open_month.total_fen, open_month.minimum_preview_fen) == (72, 928)
    table = render.table(open_month)
    assert "if the month ended now it would add ¥9.28" in table
    assert "total: ¥0.72" in table
    assert json.loads(render.render(open_month, "json"))["minimum_spend_preview_fen"] == 928
    settled = build("4008001234", MONTH, "Asia/Shanghai", PERIOD,
                    [*charge, Entry(2, "minimum-spend", None, -928)], {call_id: info},
                    monthly_minimum_fen=1000)
    assert (settled.total_fen, settled.minimum_preview_fen) == (1000, None)
    assert "if the month ended now" not in render.table(settled)


def test_the_table_has_an_outcome_column() -> None:
    call_id = uuid.uuid4()
    info = CallInfo(call_id, T0, T0.astimezone(SHANGHAI), "13800138000", "answered")
    table = render.table(build("4008001234", MONTH, "Asia/Shanghai", PERIOD, [
        Entry(1, "call-charge", None, -24, call_id, Rating(61_000, 60, 2, 0, 12))],
        {call_id: info}))
    header = next(line for line in table.splitlines() if line.startswith("started ("))
    row = next(line for line in table.splitlines() if "13800138000" in line)
    assert header.split()[3] == "outcome"
    assert row.index("answered") == header.index("outcome")

"""Reading Asterisk's CDR CSV and comparing it with our records."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from router.billing import cdr
from router.billing.reconcile import OurCall, compare, group

# As the lab's Asterisk writes them with dialplan/cdr_custom.conf.
SAMPLE = '''\
"1795884715.0","1795884715.0","PJSIP/callers-00000000","PJSIP/phones-00000001","13912345678","4000000001","1795884715.618389","1795884715.950792","1795884718.957877","3.339488","3.007085","ANSWERED"
"1795884720.7","1795884720.7","PJSIP/callers-00000005","","13800138000","4000000003","1795884720.753688","0.000000","1795884722.597330","1.843642","0.000000","BUSY"
'''


def rows(text: str) -> list[cdr.Cdr]:
    return cdr.parse_rows(csv.reader(io.StringIO(text)))


def test_cdr_times_are_unix_seconds_in_utc() -> None:
    answered, busy = rows(SAMPLE)
    assert answered.uniqueid == "1795884715.0"
    assert answered.dst == "4000000001"
    assert answered.answer == datetime(2026, 11, 28, 16, 51, 55, 950792, tzinfo=UTC)
    assert answered.billsec_s == Decimal("3.007085")
    assert busy.answer is None
    assert busy.billsec_s == 0


def test_readable_times_are_taken_as_utc() -> None:
    assert cdr.parse_time("2026-11-28 16:47:25") == datetime(2026, 11, 28, 16, 47, 25,
                                                             tzinfo=UTC)
    assert cdr.parse_time("") is None


def test_a_row_with_other_columns_is_refused_with_the_expected_ones() -> None:
    with pytest.raises(cdr.CdrError, match=r"row 1 has 3 fields.*uniqueid"):
        rows('"a","b","c"\n')
    with pytest.raises(cdr.CdrError, match="not a CDR time"):
        cdr.parse_time("yesterday")


def ours(channel: str, billable_ms: int) -> OurCall:
    return OurCall(uuid.uuid4(), "4000000001", channel, datetime(2026, 11, 28, tzinfo=UTC),
                   billable_ms, rated=True)


def test_disagreements_over_the_tolerance_are_listed() -> None:
    asterisk = group(rows(SAMPLE))
    close, far = ours("1795884715.0", 3008), ours("1795884715.0", 4100)
    assert compare([close], asterisk).agrees
    result = compare([far], asterisk)
    assert [p.ours for p in result.disagreements] == [far]
    assert result.largest_difference_s == Decimal("1.092915")
    assert not result.agrees


def test_calls_missing_on_either_side_are_listed() -> None:
    asterisk = group(rows(SAMPLE))
    lost = ours("1795884999.9", 5000)
    result = compare([lost], asterisk)
    assert result.missing_in_cdr == [lost]
    assert [a.uniqueid for a in result.unknown_to_us] == ["1795884715.0"]  # billsec > 0 only


def test_several_cdrs_of_one_channel_bill_their_sum() -> None:
    text = SAMPLE.splitlines()[0] + "\n" + SAMPLE.splitlines()[0].replace('"3.007085"',
                                                                          '"2.000000"') + "\n"
    assert group(rows(text))["1795884715.0"].billsec_s == Decimal("5.007085")

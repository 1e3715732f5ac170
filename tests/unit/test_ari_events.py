"""Decoding ARI events: known types typed, others tolerated, garbage refused."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.ari import events


def test_stasis_start_decodes_with_channel_and_args() -> None:
    raw = json.dumps({
        "type": "StasisStart", "timestamp": "2026-11-28T16:00:00.123+0000",
        "application": "hotline-router", "args": ["4008001234"],
        "channel": {"id": "1.1", "name": "PJSIP/callers-1", "state": "Ring",
                    "caller": {"name": "", "number": "13800138000"}}})
    event = events.decode(raw)
    assert isinstance(event, events.StasisStart)
    assert event.args == ["4008001234"]
    assert event.channel.caller.number == "13800138000"
    assert event.at == datetime(2026, 11, 28, 16, 0, 0, 123000, tzinfo=UTC)


def test_dial_event_carries_the_peer() -> None:
    event = events.decode(json.dumps({"type": "Dial", "dialstatus": "BUSY",
                                      "peer": {"id": "leg-1"}}))
    assert isinstance(event, events.Dial)
    assert (event.peer.id, event.dialstatus) == ("leg-1", "BUSY")


def test_unknown_event_types_are_tolerated() -> None:
    event = events.decode(b'{"type": "ChannelTalkingStarted", "channel": {"id": "x"}}')
    assert isinstance(event, events.OtherEvent)
    assert event.type == "ChannelTalkingStarted"


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"no": "type"}',
                                 b'{"type": "StasisStart"}',
                                 b'{"type": "Dial", "peer": 5}'])
def test_malformed_payloads_raise_a_decode_error(raw: bytes) -> None:
    with pytest.raises((msgspec.DecodeError, msgspec.ValidationError)):
        events.decode(raw)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_else(raw: bytes) -> None:
    with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
        events.decode(raw)


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-11-28T16:00:00.123+0000", datetime(2026, 11, 28, 16, 0, 0, 123000, tzinfo=UTC)),
    ("2026-11-29T00:30:00.999+0800", datetime(2026, 11, 28, 16, 30, 0, 999000, tzinfo=UTC)),
    ("2026-11-28T16:00:00.000001-0500", datetime(2026, 11, 28, 21, 0, 0, 1, tzinfo=UTC)),
    ("2026-11-28T16:00:00+0000", datetime(2026, 11, 28, 16, 0, tzinfo=UTC)),
])
def test_ari_timestamps_are_read_in_utc(raw: str, expected: datetime) -> None:
    parsed = events.parse_timestamp(raw)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("raw", ["yesterday", "2026-11-28T16:00:00.123", "2026-11-28", ""])
def test_a_timestamp_that_is_no_instant_is_now(raw: str) -> None:
    before = datetime.now(UTC)
    assert before <= events.parse_timestamp(raw) <= datetime.now(UTC)


def test_bad_timestamp_falls_back_to_now() -> None:
    before = datetime.now(UTC)
    assert events.parse_timestamp("yesterday") >= before


def test_unused_event_types_are_not_asked_for_and_nothing_acts_on_them() -> None:
    modelled = {cls.__name__ for cls in events.AnyEvent.__args__}
    assert set(events.UNUSED_TYPES) <= modelled
    assert not set(events.UNUSED_TYPES) & set(events.ROUTED_TYPES)
    assert set(events.ROUTED_TYPES) | set(events.UNUSED_TYPES) == modelled
    # A module that starts acting on one must take it out of UNUSED_TYPES, or
    # Asterisk never sends it.
    router = Path(events.__file__).resolve().parents[1]
    for path in router.rglob("*.py"):
        if path.name == "events.py" and path.parent.name == "ari":
            continue
        text = path.read_text()
        for name in events.UNUSED_TYPES:
            # By any spelling: ev.X, events.X, an import of X, a match on "X".
            assert not re.search(rf"\b{name}\b", text), (path, name)

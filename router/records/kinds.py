"""What a call leaves behind: the closed vocabularies and one typed record per write.

Each record is a msgspec struct tagged with its kind, so the spool stores it
as one JSON object and reads it back as the same type (router/spool.py), and
mypy checks every field where a call makes one. Field order is the order the
records were written in before they were typed (the spool of an older router
still replays, see :func:`from_legacy`).

The vocabularies (:class:`Outcome`, :class:`LegResult`, …) are also rows of
reference tables in the database (migration 0009); ``records.sql.check_vocabulary``
refuses to start a router whose enums and tables disagree.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import msgspec


class Outcome(StrEnum):
    """How a call ended (``calls.outcome``; reference table ``call_outcomes``)."""

    ANSWERED = "answered"
    BUSY = "busy"              # no idle phone, or every phone rung was busy
    NO_ANSWER = "no-answer"    # phones rang, none answered in time
    FAILED = "failed"          # phones unreachable, or an error on our side
    ABANDONED = "abandoned"    # the caller hung up before a phone answered
    UNKNOWN_NUMBER = "unknown-number"
    NOT_IN_SERVICE = "not-in-service"
    REFUSED_NO_BALANCE = "refused-no-balance"  # prepaid balance used up (billing)
    REFUSED = "refused"        # the plan refused the caller (blacklist, a refuse rule)
    CLOSED = "closed"          # outside business hours, or closed by override
    MOBILE_ON_800 = "mobile-on-800"  # 800 numbers take landline callers only
    INTERRUPTED = "interrupted"  # its router stopped before it ended (closed on exit)


class LegResult(StrEnum):
    """How one ring attempt ended (``call_legs.result``; table ``leg_results``)."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELLED = "cancelled"    # hung up by us: another phone answered, or the call ended
    UNCONFIRMED = "unconfirmed"  # answered, but no confirm key in time (screening)
    TRANSFERRED = "transferred"  # the phone passed the caller on (router/call/transfer.py)


class LegPurpose(StrEnum):
    """What a leg rings (``call_legs.purpose``)."""

    PHONE = "phone"                        # a bound phone, claimed first
    OVERFLOW_FORWARD = "overflow-forward"  # the hotline's forward number, no claim
    TRANSFER = "transfer"                  # rung because the talking phone transferred the call
    CONSULT = "consult"                    # rung by the talking phone's consultation call


class OverflowTaken(StrEnum):
    """What a call did when no phone took it (``calls.overflow``)."""

    BUSY = "busy"
    QUEUE = "queue"
    FORWARD = "forward"
    VOICEMAIL = "voicemail"


class EndSource(StrEnum):
    """Where a call's end time came from (``calls.end_source``)."""

    ASTERISK = "asterisk"  # the timestamp of Asterisk's hangup event
    ROUTER_CLOCK = "router-clock"  # the router ended it and Asterisk gave no time
    LAST_KNOWN = "last-known"  # closed after its router stopped: the last moment known


class Record(msgspec.Struct, frozen=True, tag_field="kind"):
    """One write of a call's records; the subclasses are all of them."""


class CallStarted(Record, frozen=True, tag="call_started"):
    call_id: UUID
    hotline_id: int | None
    dialled: str
    caller: str  # cleaned on intake (router/callers.py sanitise)
    caller_channel: str
    router_id: str
    started_at: datetime
    caller_raw: str | None = None  # as delivered, when it had to be cleaned


class PlanDecided(Record, frozen=True, tag="plan_decided"):
    """What the hotline's plan decided, and why (see calls.plan_result)."""

    call_id: UUID
    result: str
    reason: str
    rule_id: int | None
    group: str | None
    caller_region: str
    # The call's start (calls.started_at): the month its rows live in, so the
    # write touches one partition (0025). None in records spooled before it
    # was carried: the write looks it up (call_keys).
    call_started_at: datetime | None = None


class PlanRouted(Record, frozen=True, tag="plan_routed"):
    """Where a voice menu led: the plan's final word."""

    call_id: UUID
    result: str
    reason: str
    group: str | None
    call_started_at: datetime | None = None  # the call's month (see PlanDecided)


class MenuKeys(Record, frozen=True, tag="menu_keys"):
    call_id: UUID
    keys: str  # in order, comma-separated
    call_started_at: datetime | None = None  # the call's month (see PlanDecided)


class CallerAnswered(Record, frozen=True, tag="caller_answered"):
    """The router answered the caller itself (a voice menu): billing starts here."""

    call_id: UUID
    answered_at: datetime
    call_started_at: datetime | None = None  # the call's month (see PlanDecided)


class LegStarted(Record, frozen=True, tag="leg_started"):
    leg_id: UUID
    call_id: UUID
    phone_id: int | None
    dial_string: str
    wave: int
    dial_started_at: datetime
    purpose: LegPurpose = LegPurpose.PHONE
    call_started_at: datetime | None = None  # the call's month (see PlanDecided)


class LegEnded(Record, frozen=True, tag="leg_ended"):
    leg_id: UUID
    ended_at: datetime
    result: LegResult
    hangup_cause: int | None  # Q.850, when Asterisk gave one
    # The phone's own answer (Asterisk's time), when it answered but was never
    # bridged: a screened phone that did not confirm, one cancelled while
    # confirming, or one that left before the bridge (a failed attempt).
    answered_at: datetime | None = None
    call_started_at: datetime | None = None  # the call's month (see PlanDecided)


class CallBridged(Record, frozen=True, tag="call_bridged"):
    """A phone answered and was bridged with the caller."""

    call_id: UUID
    leg_id: UUID
    answered_at: datetime         # the phone's own answer (Asterisk's time)
    phone_id: int | None
    dial_string: str
    # Billing starts here unless a voice menu answered the caller earlier: the
    # phone's answer, or its confirmation when the call was screened.
    caller_answered_at: datetime
    confirmed_at: datetime | None = None  # the phone pressed the confirm key (screening)
    call_started_at: datetime | None = None  # the call's month (see PlanDecided)


class TransferConnected(Record, frozen=True, tag="transfer_connected"):
    """The target of a transfer answered and talks with the caller; the call's
    own answer and billing start stay those of the first phone."""

    call_id: UUID
    leg_id: UUID
    answered_at: datetime  # the target's own answer (Asterisk's time)
    call_started_at: datetime | None = None  # the call's month (see PlanDecided)


class CallOverflow(Record, frozen=True, tag="call_overflow"):
    call_id: UUID
    overflow: OverflowTaken
    call_started_at: datetime | None = None  # the call's month (see PlanDecided)


class CallEnded(Record, frozen=True, tag="call_ended"):
    call_id: UUID
    ended_at: datetime
    outcome: Outcome
    reconciled: bool = False  # its end happened while no router watched
    end_source: EndSource | None = None  # None: a record journaled before sources were kept
    recorded: bool = False  # Asterisk was asked to record it (calls.recorded, 0023)
    call_started_at: datetime | None = None  # the call's month (see PlanDecided)


class ClaimReleased(Record, frozen=True, tag="release"):
    """A leg gave its phone's call slot back; ``talk_ms`` when it talked."""

    leg_id: UUID
    talk_ms: int | None


class RecordingStored(Record, frozen=True, tag="recording_stored"):
    """A recording Asterisk finished storing (``recordings``, migration 0018)."""

    call_id: UUID
    name: str          # Asterisk's stored recording name (the call id)
    format: str        # wav, gsm, ulaw, alaw or sln
    asterisk: str      # the ARI address (host:port) of the Asterisk that holds the file
    started_at: datetime
    duration_ms: int
    size_bytes: int
    recording_kind: str = "call"  # call or voicemail (recordings.kind)


AnyRecord = (CallStarted | PlanDecided | PlanRouted | MenuKeys | CallerAnswered | LegStarted
             | LegEnded | CallBridged | CallOverflow | CallEnded | ClaimReleased
             | TransferConnected | RecordingStored)

KINDS: dict[str, type[Record]] = {
    kind.__struct_config__.tag: kind
    for kind in AnyRecord.__args__
}


def from_legacy(write: str, args: list[Any]) -> AnyRecord:
    """A spool line of the untyped format (``{"write": name, "args": [...]}``).

    Its arguments were the record's fields in order, with UUIDs as
    ``{"uuid": …}`` and times as ``{"time": …}``.

    Raises KeyError for an unknown write name, msgspec.ValidationError for
    arguments that do not fit the record.
    """
    kind = KINDS[write]
    names = kind.__struct_fields__
    values = {name: _unwrap(value) for name, value in zip(names, args, strict=False)}
    record: AnyRecord = msgspec.convert(values, kind, strict=False)  # type: ignore[assignment]
    return record


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        if "uuid" in value:
            return value["uuid"]
        if "time" in value:
            return value["time"]
    return value

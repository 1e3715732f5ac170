"""Call and leg records: the typed records a call writes (``kinds``) and every
statement that writes or reads them (``sql``)."""

from router.records.kinds import (
    AnyRecord,
    CallBridged,
    CallEnded,
    CallerAnswered,
    CallOverflow,
    CallStarted,
    ClaimReleased,
    EndSource,
    LegEnded,
    LegPurpose,
    LegResult,
    LegStarted,
    MenuKeys,
    Outcome,
    OverflowTaken,
    PlanDecided,
    PlanRouted,
    Record,
    RecordingStored,
)
from router.records.sql import (
    OpenCall,
    OpenLeg,
    check_vocabulary,
    close_interrupted,
    legs_of,
    list_calls,
    write,
)

__all__ = [
    "AnyRecord", "CallBridged", "CallEnded", "CallOverflow", "CallStarted", "CallerAnswered",
    "ClaimReleased", "EndSource", "LegEnded", "LegPurpose", "LegResult", "LegStarted", "MenuKeys",
    "OpenCall", "OpenLeg", "Outcome", "OverflowTaken", "PlanDecided", "PlanRouted", "Record",
    "RecordingStored",
    "check_vocabulary", "close_interrupted", "legs_of", "list_calls", "write",
]

"""The states of an inbound call, and the only changes allowed between them.

Every change goes through :meth:`CallState.to`, which checks it against
:data:`TRANSITIONS` and logs it. A change the table does not allow is a bug in
the call core: it is logged as an error and counted
(``hotline_router_illegal_transitions_total``), and in strict mode (the unit
tests) it raises :class:`IllegalTransition`. The call goes on in the new state
either way: a caller is never dropped for our bookkeeping.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from router import metrics


class State(StrEnum):
    ADOPTING = "adopting"      # taken back after a gap: what survived is worked out
    ROUTING = "routing"        # lookup, the plan, a greeting
    MENU = "menu"              # the caller walks a voice menu (answered by us)
    RINGING = "ringing"        # a hunt rings phones; the caller hears ringback
    QUEUED = "queued"          # overflow: music while waiting for a phone to free
    CONFIRMING = "confirming"  # a phone answered and must confirm with a key (screening)
    BRIDGED = "bridged"        # the caller talks with the phone that answered
    TRANSFERRING = "transferring"  # that phone passes the caller on (router/call/transfer.py)
    # That phone, the caller on hold, consults another (router/call/consultation.py).
    CONSULTING = "consulting"
    ANNOUNCING = "announcing"  # why the call ends (busy, closed, …), then hang up
    VOICEMAIL = "voicemail"    # the caller, answered by us, leaves a message
    ENDED = "ended"            # torn down: legs hung up, claims released, record closed


S = State
# state -> the states it may change to. Any state may end (a hangup, a fault).
TRANSITIONS: dict[State, frozenset[State]] = {
    S.ADOPTING: frozenset({S.ROUTING, S.BRIDGED, S.ENDED}),
    S.ROUTING: frozenset({S.MENU, S.RINGING, S.QUEUED, S.ANNOUNCING, S.VOICEMAIL, S.ENDED}),
    S.MENU: frozenset({S.RINGING, S.QUEUED, S.ANNOUNCING, S.VOICEMAIL, S.ENDED}),
    S.RINGING: frozenset({S.CONFIRMING, S.BRIDGED, S.QUEUED, S.ANNOUNCING, S.VOICEMAIL,
                          S.ENDED}),
    S.QUEUED: frozenset({S.RINGING, S.ANNOUNCING, S.VOICEMAIL, S.ENDED}),
    # The hunt's time may run out while a phone still confirms: it is cancelled
    # and the call overflows (queue, or the busy announcement) from here.
    S.CONFIRMING: frozenset({S.RINGING, S.BRIDGED, S.QUEUED, S.ANNOUNCING, S.VOICEMAIL,
                             S.ENDED}),
    S.BRIDGED: frozenset({S.TRANSFERRING, S.CONSULTING, S.ENDED}),
    # A consultation ends with the caller joined to its target (BRIDGED with
    # it), or without (BRIDGED with the phone again), or with the call.
    S.CONSULTING: frozenset({S.BRIDGED, S.ENDED}),
    # A transfer rings its target (RINGING, then BRIDGED with it), or is
    # refused or fails and the caller talks on with the phone it was with.
    S.TRANSFERRING: frozenset({S.RINGING, S.BRIDGED, S.ENDED}),
    S.ANNOUNCING: frozenset({S.ENDED}),
    S.VOICEMAIL: frozenset({S.ENDED}),
    S.ENDED: frozenset(),
}


class IllegalTransition(RuntimeError):
    """A state change the transition table does not allow (a bug)."""


class CallState:
    """The state of one call; changed only by :meth:`to`."""

    # The unit tests turn this on: an illegal change fails them at once.
    strict = False

    def __init__(self, log: Any, initial: State = State.ROUTING) -> None:
        self.log = log
        self.current = initial

    def to(self, new: State, **context: Any) -> None:
        """Change to ``new`` (staying in the same state is no change).

        Raises IllegalTransition in strict mode when the table forbids it.
        """
        old = self.current
        if new is old:
            return
        if new not in TRANSITIONS[old]:
            metrics.ILLEGAL_TRANSITIONS.labels(from_state=old.value, to_state=new.value).inc()
            self.log.error("illegal call state transition", from_state=old, to_state=new,
                           **context)
            if self.strict:
                raise IllegalTransition(f"{old} -> {new}")
        self.current = new
        # Debug: each change of a call's state; at the info level, a call is
        # its "call ended" line (router/call/story.py).
        self.log.debug("call state", from_state=old, state=new, **context)

    def __repr__(self) -> str:
        return f"CallState({self.current})"

"""What a call needs from the router around it (the router is the one implementation;
the unit tests give a scripted one)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from router.ari import AriClient
from router.call.registry import CallRegistry
from router.store import Store


class Services(Protocol):
    @property
    def ari(self) -> AriClient: ...

    @property
    def store(self) -> Store: ...

    @property
    def registry(self) -> CallRegistry: ...

    @property
    def app(self) -> str:
        """Our ARI application: new legs' channels are placed in it."""
        ...

    @property
    def router_id(self) -> str:
        """Names this router's records and claims."""
        ...

    @property
    def max_call_s(self) -> float:
        """The longest a call may last, in seconds."""
        ...

    @property
    def seat_guard_s(self) -> float:
        """How long a phone stays in the bridge before the caller is answered, in seconds."""
        ...

    def now(self) -> datetime:
        """The router's own clock (UTC), for what Asterisk gives no time of."""
        ...

    def plan_now(self) -> datetime:
        """The time plans read their schedules by (UTC)."""
        ...

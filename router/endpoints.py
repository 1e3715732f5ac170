"""Device state: the registering endpoints Asterisk reports unreachable.

A bound phone dialled as ``PJSIP/<endpoint>`` (a desk phone that registers)
is skipped without ringing while Asterisk reports its endpoint ``offline``: no
registered contact (it never registered, or its registration expired), or,
with ``qualify_frequency``, none answering. It is offered again as soon as
Asterisk reports it ``online``.

Asterisk's ARI says so: ``GET /endpoints/PJSIP`` lists every endpoint with
its state, and an application subscribed to the event source
``endpoint:PJSIP`` (``POST /applications/{app}/subscription``) receives an
``EndpointStateChange`` whenever one changes (ARI reference: Endpoints and
Applications resources, EndpointStateChange event). The router reads the list
each time its websocket connects, then follows the events.

Dial strings Asterisk cannot report on are unaffected: a URI through an
endpoint (``PJSIP/phones/sip:…``, a trunk's ``PJSIP/carrier/sip:…``), other
technologies, ``Local/``. The state is this router's Asterisk's alone, so it
lives in the process, not the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog

log = structlog.get_logger("router.endpoints")

TECHNOLOGY = "PJSIP"
EVENT_SOURCE = f"endpoint:{TECHNOLOGY}"
# Asterisk's endpoint states (ast_endpoint_state): only offline means "would fail".
OFFLINE = "offline"


def dial_string_of(technology: str, resource: str) -> str:
    """The dial string that rings the endpoint itself: 'PJSIP/agent1'."""
    return f"{technology}/{resource}"


class EndpointStates:
    """The dial strings of endpoints Asterisk reports offline."""

    def __init__(self) -> None:
        self._offline: frozenset[str] = frozenset()

    @property
    def offline(self) -> frozenset[str]:
        """Dial strings ('PJSIP/agent1') not to ring now."""
        return self._offline

    def note(self, technology: str, resource: str, state: str) -> bool:
        """One endpoint's new state (an EndpointStateChange); True when it changed
        whether the endpoint is rung."""
        if technology != TECHNOLOGY or not resource:
            return False
        dial_string = dial_string_of(technology, resource)
        was = dial_string in self._offline
        if state == OFFLINE:
            self._offline = self._offline | {dial_string}
        else:
            self._offline = self._offline - {dial_string}
        if was != (state == OFFLINE):
            log.info("endpoint reachability changed", endpoint=dial_string, state=state)
            return True
        return False

    def replace_all(self, endpoints: Iterable[Any]) -> None:
        """Every endpoint's state at once (``GET /endpoints/PJSIP``'s reply)."""
        self._offline = frozenset(
            dial_string_of(str(e.get("technology", "")), str(e.get("resource", "")))
            for e in endpoints
            if e.get("technology") == TECHNOLOGY and e.get("state") == OFFLINE
            and e.get("resource"))

    async def follow(self, ari: Any, app: str) -> None:
        """Subscribe ``app`` to endpoint events and read every endpoint's state
        (each time the websocket connects: events missed meanwhile are not
        replayed). Raises AriError when Asterisk refuses either."""
        await ari.request("POST", f"/applications/{app}/subscription",
                          {"eventSource": EVENT_SOURCE})
        self.replace_all(await ari.request("GET", f"/endpoints/{TECHNOLOGY}") or [])

"""Device state: the registering endpoints Asterisk reports unreachable.

A bound phone dialled as ``PJSIP/<endpoint>`` (a desk phone that registers)
is skipped without ringing while Asterisk reports its endpoint ``offline``: no
registered contact (it never registered, or its registration expired), or,
with ``qualify_frequency``, none answering. It is offered again as soon as
Asterisk reports it ``online``.

Asterisk's ARI says so: ``GET /endpoints/PJSIP`` lists every endpoint with
its state, and an application subscribed to an endpoint
(``POST /applications/{app}/subscription?eventSource=endpoint:PJSIP/agent1``)
receives an ``EndpointStateChange`` whenever its snapshot changes (ARI
reference: Endpoints and Applications resources, EndpointStateChange event).
The snapshot changes with each channel too, so the router subscribes only to
the endpoints its bound phones are dialled by, not to ``endpoint:PJSIP`` (the
callers' trunk and the generic phone endpoint would send events for every
call). It reads the list each time its websocket connects, follows the
events, and adjusts the subscriptions when the configuration changes.

Dial strings Asterisk cannot report on are unaffected: a URI through an
endpoint (``PJSIP/phones/sip:…``, a trunk's ``PJSIP/carrier/sip:…``), other
technologies, ``Local/``. The state is this router's Asterisk's alone, so it
lives in the process, not the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import structlog

from router.ari import AriError

log = structlog.get_logger("router.endpoints")

TECHNOLOGY = "PJSIP"
# A dial string that is an endpoint itself (no URI, no slash after the name).
_ENDPOINT = re.compile(rf"^{TECHNOLOGY}/[^/@;]+$")
# Asterisk's endpoint states (ast_endpoint_state): only offline means "would fail".
OFFLINE = "offline"


def dial_string_of(technology: str, resource: str) -> str:
    """The dial string that rings the endpoint itself: 'PJSIP/agent1'."""
    return f"{technology}/{resource}"


class EndpointStates:
    """The dial strings of endpoints Asterisk reports offline."""

    def __init__(self) -> None:
        self._offline: frozenset[str] = frozenset()
        self._followed: frozenset[str] = frozenset()  # subscribed to, as dial strings
        # Endpoints Asterisk does not know: asked again only after a reconnect.
        self._refused: frozenset[str] = frozenset()

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
        if dial_string not in self._followed:  # no bound phone's (an old subscription)
            return False
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
            and e.get("resource")
            and dial_string_of(TECHNOLOGY, str(e["resource"])) in self._followed)

    async def follow(self, ari: Any, app: str, dial_strings: Iterable[str],
                     afresh: bool = False) -> None:
        """Keep ``app`` subscribed to the endpoints of these dial strings (the
        bound phones'), and no others. ``afresh`` (each time the websocket
        connects: events missed meanwhile are not replayed): subscribe to all
        again and read every endpoint's state. An endpoint Asterisk does not
        know is left out until the next connect (it can never register: the
        call fails as before).
        Raises AriError when Asterisk cannot be asked at all."""
        if afresh:
            self._followed = self._refused = frozenset()
        wanted = self._wanted(dial_strings)
        for dial_string in sorted(wanted - self._followed):
            try:
                await ari.request("POST", f"/applications/{app}/subscription",
                                  {"eventSource": f"endpoint:{dial_string}"})
            except AriError as exc:
                if exc.status == 0:
                    raise
                log.warning("cannot follow an endpoint", endpoint=dial_string, error=str(exc))
                self._refused = self._refused | {dial_string}
                continue
            self._followed = self._followed | {dial_string}
            if not afresh:  # a phone bound since: its state now, then its events
                found = await ari.request("GET", f"/endpoints/{dial_string}") or {}
                self.note(TECHNOLOGY, dial_string.partition("/")[2], str(found.get("state")))
                log.info("following an endpoint's state", endpoint=dial_string)
        for dial_string in sorted(self._followed - wanted):
            self._followed = self._followed - {dial_string}
            self._offline = self._offline - {dial_string}
            try:
                await ari.request("DELETE", f"/applications/{app}/subscription",
                                  {"eventSource": f"endpoint:{dial_string}"})
            except AriError as exc:
                if exc.status == 0:
                    raise
        if afresh:
            self.replace_all(await ari.request("GET", f"/endpoints/{TECHNOLOGY}") or [])
            for dial_string in sorted(self._followed):
                log.info("following an endpoint's state", endpoint=dial_string)

    def wants(self, dial_strings: Iterable[str]) -> bool:
        """Whether these dial strings' endpoints differ from those followed."""
        return self._wanted(dial_strings) != self._followed

    def _wanted(self, dial_strings: Iterable[str]) -> frozenset[str]:
        return frozenset(d for d in dial_strings if _ENDPOINT.match(d)) - self._refused

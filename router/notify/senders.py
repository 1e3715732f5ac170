"""Sender plug-ins: how a notification reaches its target.

A sender is an object with a ``name`` and ``async send(delivery, context)``,
registered under the entry point group ``hotline_router.senders`` (as the
answering rules are under ``hotline_router.strategies``). A target row names
its sender (``notify_targets.sender``). ``webhook`` is built in
(router/notify/webhook.py); an SMS gateway is a plug-in: docs/notifications.md
shows the interface, tests/plugins/hotline_sms_file/ is an example.

``send`` returns when the target has the notification. It raises
:class:`SendError` for a failure worth retrying (timeout, 5xx, a gateway that
is down) and :class:`Undeliverable` for one that no retry will mend (4xx, an
address the gateway refuses): the row is dead-lettered at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

import structlog

log = structlog.get_logger("router.notify")

ENTRY_POINT_GROUP = "hotline_router.senders"


class SendError(Exception):
    """A try failed; the dispatcher retries it later (with backoff)."""


class Undeliverable(SendError):
    """No retry will deliver it: the row is dead-lettered at once."""


@dataclass(frozen=True)
class Target:
    """A ``notify_targets`` row as a sender sees it."""

    id: int
    name: str
    sender: str
    address: str          # a URL for webhook, a phone number for SMS, …
    secret: str = field(repr=False, default="")


@dataclass(frozen=True)
class Delivery:
    """One notification to send.

    ``id``: the outbox row's id, the same on every retry (receivers dedupe by it).
    ``body``: the JSON document (UTF-8) a webhook posts; ``payload``: it, decoded.
    ``text``: one short line for people (an SMS), times in the hotline's zone.
    """

    id: int
    event: str
    target: Target
    payload: dict[str, Any]
    body: bytes
    text: str
    attempt: int          # 1 for the first try


@dataclass(frozen=True)
class SendContext:
    """What the dispatcher lends a sender: a shared HTTP session, the time limit
    of one try (seconds) and the dispatcher's clock (UTC)."""

    http: Any             # aiohttp.ClientSession
    timeout_s: float
    now: datetime


@runtime_checkable
class Sender(Protocol):
    name: str

    async def send(self, delivery: Delivery, context: SendContext) -> None: ...


def installed() -> dict[str, Sender]:
    """Every sender found through the entry point group, by name.

    A plug-in that fails to load is logged and left out: one broken package must
    not stop the others (its targets' rows fail with "no sender" and are retried).
    """
    found: dict[str, Sender] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            sender = entry.load()
        except Exception as exc:
            log.error("sender plug-in failed to load", entry_point=entry.value, error=str(exc))
            continue
        if not isinstance(sender, Sender):
            log.error("entry point is not a sender", entry_point=entry.value)
            continue
        found[sender.name] = sender
    return dict(sorted(found.items()))

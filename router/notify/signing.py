"""The webhook signature: HMAC-SHA256 over the timestamp and the body.

A receiver recomputes ``HMAC-SHA256(secret, f"{timestamp}.".encode() + body)``
(hex) and compares it with the ``v1=`` value of ``X-Hotline-Signature`` in
constant time, and refuses a timestamp too far from its own clock (replay).
docs/notifications.md has the scheme and a verification example.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-Hotline-Timestamp"    # Unix seconds (UTC), as decimal text
SIGNATURE_HEADER = "X-Hotline-Signature"    # "v1=<64 hex digits>"
EVENT_HEADER = "X-Hotline-Event"            # call.missed, call.ended, …
DELIVERY_HEADER = "X-Hotline-Delivery"      # the outbox row's id: the same on every retry
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Hotline-Signature`` value for ``body`` sent at ``timestamp`` (Unix s)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def headers(secret: str, timestamp: int, body: bytes, event: str, delivery: str) -> dict[str, str]:
    """Every header a signed webhook request carries."""
    return {"Content-Type": "application/json", TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(secret, timestamp, body), EVENT_HEADER: event,
            DELIVERY_HEADER: delivery}


def verify(secret: str, received: Mapping[str, str], body: bytes, now_s: float,
           tolerance_s: float = DEFAULT_TOLERANCE_S) -> bool:
    """True when ``received`` headers sign ``body`` with ``secret``, sent within
    ``tolerance_s`` of ``now_s`` (Unix s). What a receiver does; the tests use it."""
    try:
        timestamp = int(received[TIMESTAMP_HEADER])
        given = received[SIGNATURE_HEADER]
    except (KeyError, ValueError):
        return False
    if abs(now_s - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(given, signature(secret, timestamp, body))

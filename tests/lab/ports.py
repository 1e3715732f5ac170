"""Every port the lab uses, in one place.

``LAB_PORT_OFFSET`` (0-3) gives a second, third or fourth lab on the same
machine its own SIP, HTTP, RTP and sipp ports, so that labs never collide.
All ranges stay below Linux's ephemeral range (32768+).
"""

from __future__ import annotations

import os

OFFSET = int(os.environ.get("LAB_PORT_OFFSET", "0"))
if not 0 <= OFFSET <= 3:
    raise ValueError("LAB_PORT_OFFSET must be 0, 1, 2 or 3")


def sip(index: int) -> int:
    """Where lab Asterisk number ``index`` (0, 1) accepts SIP."""
    return 5060 + 100 * index + 10 * OFFSET


def http(index: int) -> int:
    """Where lab Asterisk number ``index`` serves ARI."""
    return 8088 + 100 * index + 10 * OFFSET


def sip_proxy() -> int:
    """Where the lab's farm proxy (Kamailio, docker/kamailio.cfg) accepts SIP."""
    return 5460 + 10 * OFFSET


def rtp(index: int) -> tuple[int, int]:
    """The RTP port range of lab Asterisk number ``index``."""
    if OFFSET == 0:  # the main lab: room for 1,000 simultaneous channels
        start = 10000 + 4000 * index
        return start, start + (3999 if index == 0 else 1999)
    start = 16000 + 2000 * (OFFSET - 1) + 1000 * index
    return start, start + 999


def sipp_range() -> range:
    """Local ports for sipp callers and phones (and other lab listeners)."""
    start = 22000 + 2500 * OFFSET
    return range(start, start + 2500)

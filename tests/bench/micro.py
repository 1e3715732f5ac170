"""The CPU of two things every call does many times: a log line, an ARI event.

Measured in this process, without the lab: each log line of an answered
call (the events router/call/ writes at the info level, with the call's bound
fields) through the router's own structlog pipeline (router/logs.py, JSON,
written to a file as a router under systemd or in the lab writes it); and each
ARI message a call brings, shaped as Asterisk 22 sends them (every field of a
channel, the ``HOTLINE_PHONE_ID`` channel variable of dialplan/ari.conf),
through what the event reader does with it: the RESTResponse check, the
msgspec decode, the channel lookup (router/ari/stream.py, router/service.py).
Figures are CPU time (time.process_time), in microseconds per item.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import structlog

from router import logs
from router.ari import events
from router.ari.websocket_rest import WebSocketRest, decode_body


@dataclass(frozen=True)
class Cost:
    name: str
    us_each: float   # CPU microseconds per item
    count: int       # items measured


def cpu_us(action: Callable[[], object], repeat: int) -> float:
    """CPU microseconds per call of ``action`` (best of three rounds)."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(repeat):
            action()
        best = min(best, time.process_time() - started)
    return best / repeat * 1e6


# The lines of one answered call on the router's common path (the first phone
# answers, the caller hangs up), with the fields they carry: each was an info
# line until 2026-11-30; now "call ended" is, and the others are debug lines.
CALL_LINES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("plan decided", {"result": "default", "reason": "no plan rules",
                      "caller_region": "北京市 010"}),
    ("call started", {"state": "routing"}),
    ("ring order claimed", {"group": "default", "strategy": "round_robin", "claimed": [7],
                            "call_number": 41, "order": [7, 8, 9, 10]}),
    ("call state", {"from_state": "routing", "state": "ringing"}),
    ("leg dialled", {"phone_id": 7, "wave": 0, "leg_id": "5b0e9d7c-3a41-4f6e-8c2d-1e7f9a0b3c45",
                     "ring_s": 20.0}),
    ("phone answered", {"phone_id": 7}),
    ("call state", {"from_state": "ringing", "state": "bridged", "phone_id": 7}),
    ("call bridged", {"phone_id": 7, "dial_string": "PJSIP/phones/sip:8001@10.0.0.5"}),
    ("caller hung up", {"state": "bridged"}),
    ("leg ended", {"phone_id": 7, "result": "answered"}),
    ("call state", {"from_state": "bridged", "state": "ended"}),
    ("call ended", {"outcome": "answered", "plan": "default", "reason": "no plan rules",
                    "caller_region": "北京市 010",
                    "answered_by": "PJSIP/phones/sip:8001@10.0.0.5", "phone_id": 7, "rung": 1,
                    "ended_by": "caller", "answered_ms": 2012, "duration_ms": 3015}),
)


def log_costs(repeat: int = 2000) -> list[Cost]:
    """µs per log line through the configured pipeline: each kind of line of a
    call, then a debug line dropped at the info level."""
    saved = sys.stderr
    with tempfile.TemporaryFile("w") as sink:
        sys.stderr = sink  # logs.configure writes to the stderr of the moment
        try:
            structlog.reset_defaults()
            logs.configure("json", "info")
            log = structlog.get_logger("router.call").bind(
                call_id="2a7d6c3e-8f1b-4c2d-9e0a-5b6c7d8e9f01", dialled="4008001234",
                caller="13800138000")
            out = [Cost(f"written: {event}", cpu_us(partial(log.info, event, **fields),
                                                    repeat), repeat)
                   for event, fields in CALL_LINES]
            out.append(Cost("debug, dropped at the info level",
                            cpu_us(partial(log.debug, "leg dialled",
                                           **dict(CALL_LINES)["leg dialled"]),
                                   repeat * 10), repeat * 10))
        finally:
            sys.stderr = saved
            structlog.reset_defaults()
            logs.configure("console", "warning")
    return out


def _channel(channel_id: str, name: str, state: str, number: str, exten: str,
             app_data: str, phone: str = "") -> dict[str, Any]:
    return {"id": channel_id, "name": name, "state": state,
            "protocol_id": "5f3c1e2a-77b0-4d6e-9a41-2b8f0c9d1e34",
            "caller": {"name": "", "number": number},
            "connected": {"name": "", "number": ""}, "accountcode": "",
            "dialplan": {"context": "from-carrier", "exten": exten, "priority": 3,
                         "app_name": "Stasis", "app_data": app_data},
            "creationtime": "2026-11-30T12:00:00.123+0000", "language": "en",
            "channelvars": {"HOTLINE_PHONE_ID": phone}}


def ari_messages() -> dict[str, bytes]:
    """One message of each kind an answered call brings the router."""
    base = {"timestamp": "2026-11-30T12:00:00.456+0000", "application": "hotline-router",
            "asterisk_id": "02:42:ac:11:00:02"}
    caller = _channel("1764504000.101", "PJSIP/carrier-00000065", "Ring", "13800138000",
                      "4008001234", "hotline-router,4008001234")
    leg = _channel("hr-2a7d6c3e-1", "PJSIP/phones-00000066", "Down", "4008001234", "s", "",
                   phone="7")
    bridge = {"id": "2a7d6c3e-8f1b-4c2d-9e0a-5b6c7d8e9f01", "technology": "simple_bridge",
              "bridge_type": "mixing", "bridge_class": "stasis", "creator": "Stasis",
              "name": "", "channels": ["1764504000.101", "hr-2a7d6c3e-1"],
              "creationtime": "2026-11-30T12:00:00.460+0000", "video_mode": "none"}
    body = json.dumps({**leg, "state": "Down"})
    messages: dict[str, Any] = {
        "StasisStart": {"type": "StasisStart", **base, "args": ["4008001234"],
                        "channel": caller},
        "Dial": {"type": "Dial", **base, "peer": leg, "dialstatus": "RINGING",
                 "dialstring": "phones/sip:8001@10.0.0.5"},
        "ChannelStateChange": {"type": "ChannelStateChange", **base,
                               "channel": {**leg, "state": "Up"}},
        "ChannelEnteredBridge": {"type": "ChannelEnteredBridge", **base, "bridge": bridge,
                                 "channel": leg},
        "ChannelHangupRequest": {"type": "ChannelHangupRequest", **base, "cause": 16,
                                 "channel": caller},
        "ChannelDestroyed": {"type": "ChannelDestroyed", **base, "cause": 16,
                             "cause_txt": "Normal Clearing", "channel": caller},
        "RESTResponse": {"type": "RESTResponse", "transaction_id": "", "request_id": "7",
                         "status_code": 200, "reason_phrase": "OK", "uri": "channels/create",
                         "headers": [{"name": "Content-type", "value": "application/json"}],
                         "message_body": body},
    }
    return {name: json.dumps(message).encode() for name, message in messages.items()}


def event_costs(repeat: int = 5000) -> list[Cost]:
    """µs per message as the event reader takes it: events (the RESTResponse
    check, decode, channel lookup), and a response (matched, its body decoded)."""
    rest = WebSocketRest()
    owners: dict[str, object] = {"1764504000.101": object(), "hr-2a7d6c3e-1": object()}
    out = []
    for name, raw in ari_messages().items():
        text = raw.decode()
        take = (partial(_response, rest, text, json.loads(text)["message_body"])
                if name == "RESTResponse" else partial(_event, rest, owners, text))
        out.append(Cost(f"{name} ({len(raw)} bytes)", cpu_us(take, repeat), repeat))
    return out


def _event(rest: WebSocketRest, owners: dict[str, object], text: str) -> object:
    """What the reader and the service do with an event message."""
    if rest.resolve(text):
        return None
    channel = events.channel_of(events.decode(text))
    return owners.get(channel) if channel else None


def _response(rest: WebSocketRest, text: str, body: str) -> object:
    """A response matched to its request, then its body decoded as request() does."""
    rest.resolve(text)
    return decode_body(body)


def main() -> list[Cost]:
    results = log_costs() + event_costs()
    for cost in results:
        print(f"{cost.us_each:8.1f} µs  {cost.name}", flush=True)
    lines = [c.us_each for c in results[:len(CALL_LINES)]]
    print(f"the {len(lines)} lines of an answered call, each written: {sum(lines):.0f} µs "
          f"({sum(lines) / len(lines):.1f} µs a line)", flush=True)
    return results

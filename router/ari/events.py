"""Typed ARI events, decoded with msgspec.

Only the events and fields the router acts on are modelled; anything else
decodes as :class:`OtherEvent`, and a payload that is not an ARI event at all
raises :class:`msgspec.DecodeError` / :class:`msgspec.ValidationError`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec


class CallerId(msgspec.Struct, kw_only=True):
    name: str = ""
    number: str = ""


class DialplanCEP(msgspec.Struct, kw_only=True):
    context: str = ""
    exten: str = ""
    priority: int = 0
    app_name: str = ""
    app_data: str = ""


class Channel(msgspec.Struct, kw_only=True):
    id: str
    name: str = ""
    state: str = ""
    caller: CallerId = msgspec.field(default_factory=CallerId)
    connected: CallerId = msgspec.field(default_factory=CallerId)
    dialplan: DialplanCEP | None = None
    creationtime: str = ""
    language: str = ""
    channelvars: dict[str, str] | None = None


class Bridge(msgspec.Struct, kw_only=True):
    id: str
    technology: str = ""
    bridge_type: str = ""
    channels: list[str] = msgspec.field(default_factory=list)


class Playback(msgspec.Struct, kw_only=True):
    id: str
    media_uri: str = ""
    target_uri: str = ""
    state: str = ""


class Event(msgspec.Struct, kw_only=True, tag_field="type"):
    """Fields every ARI event carries."""

    timestamp: str = ""
    application: str = ""
    asterisk_id: str = ""

    @property
    def at(self) -> datetime:
        """When Asterisk raised the event, in UTC (now if it did not say)."""
        return parse_timestamp(self.timestamp)


class StasisStart(Event, tag=True):
    channel: Channel
    args: list[str] = msgspec.field(default_factory=list)
    replace_channel: Channel | None = None


class StasisEnd(Event, tag=True):
    channel: Channel


class ChannelStateChange(Event, tag=True):
    channel: Channel


class ChannelHangupRequest(Event, tag=True):
    channel: Channel
    cause: int = 0
    soft: bool = False


class ChannelDestroyed(Event, tag=True):
    channel: Channel
    cause: int = 0
    cause_txt: str = ""


class Dial(Event, tag=True):
    peer: Channel
    dialstatus: str = ""
    caller: Channel | None = None
    forward: str = ""
    dialstring: str = ""


class ChannelDtmfReceived(Event, tag=True):
    channel: Channel
    digit: str
    duration_ms: int = 0


class PlaybackStarted(Event, tag=True):
    playback: Playback


class PlaybackFinished(Event, tag=True):
    playback: Playback


class ChannelEnteredBridge(Event, tag=True):
    bridge: Bridge
    channel: Channel | None = None


class ChannelLeftBridge(Event, tag=True):
    bridge: Bridge
    channel: Channel


class BridgeDestroyed(Event, tag=True):
    bridge: Bridge


class CallBroadcast(Event, tag=True):
    """StasisBroadcast offers a channel to every matching app (claim to take it)."""

    channel: Channel
    caller: str = ""
    called: str = ""


class CallClaimed(Event, tag=True):
    channel: Channel
    winner_app: str = ""


class ApplicationReplaced(Event, tag=True):
    pass


class RequestedDestination(msgspec.Struct, kw_only=True):
    """What a REFER asked for: ``destination`` (the Refer-To user part, a blind
    transfer) or ``protocol_id`` (the SIP Call-ID it replaces, an attended one)."""

    destination: str = ""
    protocol_id: str | None = None


class ReferTo(msgspec.Struct, kw_only=True):
    requested_destination: RequestedDestination = msgspec.field(
        default_factory=RequestedDestination)
    destination_channel: Channel | None = None  # attended: the call to be replaced


class ReferredBy(msgspec.Struct, kw_only=True):
    source_channel: Channel  # the channel the REFER came in on
    bridge: Bridge | None = None


class ChannelTransfer(Event, tag=True):
    """A REFER on a channel whose transfers ARI handles (PJSIP_TRANSFER_HANDLING
    ``ari-only``, Asterisk 22.3+; docs.asterisk.org "Introduction to ARI
    Transfer Handling"). Raised again with ``state`` set for each progress
    report the application sends (POST /channels/{id}/transfer_progress)."""

    referred_by: ReferredBy
    refer_to: ReferTo = msgspec.field(default_factory=ReferTo)
    state: str | None = None


class Endpoint(msgspec.Struct, kw_only=True):
    technology: str = ""
    resource: str = ""
    state: str = ""  # online | offline | unknown


class EndpointStateChange(Event, tag=True):
    """A registering endpoint came or went (the app subscribes to endpoint:PJSIP)."""

    endpoint: Endpoint


class OtherEvent(msgspec.Struct, kw_only=True):
    """An event type the router does not act on."""

    type: str
    timestamp: str = ""

    @property
    def at(self) -> datetime:
        return parse_timestamp(self.timestamp)


AnyEvent = (StasisStart | StasisEnd | ChannelStateChange | ChannelHangupRequest
            | ChannelDestroyed | Dial | ChannelDtmfReceived | PlaybackStarted
            | PlaybackFinished | ChannelEnteredBridge | ChannelLeftBridge | BridgeDestroyed
            | CallBroadcast | CallClaimed | ApplicationReplaced | ChannelTransfer
            | EndpointStateChange)

# Modelled (they decode to their type), but nothing in the router acts on
# them: not asked of Asterisk. Each would be a websocket message to read,
# decode and hand to its call: 3 per answered call on the common path
# (2 ChannelLeftBridge, 1 BridgeDestroyed; python -m tests.bench calls counts
# hotline_router_ari_events_total). Take a type out of here to act on it.
UNUSED_TYPES: tuple[str, ...] = ("PlaybackStarted", "ChannelLeftBridge", "BridgeDestroyed",
                                 "CallClaimed")
# The event types the router acts on: the only ones it asks Asterisk to send.
# (ChannelVarset alone comes several times per call, for nothing.)
ROUTED_TYPES: tuple[str, ...] = tuple(cls.__name__ for cls in AnyEvent.__args__
                                      if cls.__name__ not in UNUSED_TYPES)
# What the router asks Asterisk to send: its events, and the responses to
# requests sent on the websocket (router/ari/websocket_rest.py), which travel
# as messages of their own type and which an event filter drops like any other.
ALLOWED_TYPES: tuple[str, ...] = (*ROUTED_TYPES, "RESTResponse")

_known: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)
_other = msgspec.json.Decoder(OtherEvent)


def decode(raw: bytes | str) -> AnyEvent | OtherEvent:
    """Decode one websocket message.

    Raises msgspec.DecodeError or msgspec.ValidationError for payloads that are
    not JSON, lack a type, or carry a known type with malformed fields.
    """
    try:
        return _known.decode(raw)
    except msgspec.ValidationError as exc:
        # An event type we do not model: keep its type and time only.
        if "`$.type`" not in str(exc) or "Invalid value" not in str(exc):
            raise
        return _other.decode(raw)


def channel_of(event: AnyEvent | OtherEvent) -> str | None:
    """The id of the channel an event is about (a Dial's: the dialled channel;
    a playback's: the channel it plays to), or None."""
    if isinstance(event, Dial):
        return event.peer.id
    if isinstance(event, ChannelTransfer):
        return event.referred_by.source_channel.id
    if isinstance(event, PlaybackStarted | PlaybackFinished):
        target = event.playback.target_uri
        return target.split(":", 1)[1] if target.startswith("channel:") else None
    channel = getattr(event, "channel", None)
    return channel.id if isinstance(channel, Channel) else None


def parse_timestamp(value: str) -> datetime:
    """ARI timestamps look like 2026-11-28T16:00:00.123+0000; in UTC. Now when
    there is none, or it is no ISO 8601 time with its offset.

    datetime.fromisoformat reads this form since Python 3.11, in about 0.4 µs
    where strptime took about 15 µs (a call reads ten or so).
    """
    if value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:  # a time without its offset is no instant
                return parsed.astimezone(UTC)
    return datetime.now(UTC)

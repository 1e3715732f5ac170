"""A scripted stand-in for Asterisk's ARI, for unit tests of the call core.

It takes the REST requests a call makes (each is kept in ``requests``, in
order) and answers them the way Asterisk does, with the events Asterisk would
send, at the times it would send them, on the event loop's clock (the tests
run under looptime, so seconds of ringing pass at once). Each bound phone
follows a :class:`Phone` script; the caller hangs up or presses keys when the
test says so.

Events carry timestamps from the same clock as the call (``T0`` plus loop
time), so billing times can be checked exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from router.ari import AriError
from router.ari import events as ev

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Monday


def stamp(at: datetime) -> str:
    """As ARI writes a time: 2026-11-30T02:00:01.250+0000."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


@dataclass(frozen=True)
class Phone:
    """How a phone behaves when dialled.

    ``answer_after_s`` None: it rings until it is hung up on. ``busy`` and
    ``unreachable`` end the attempt at once (486 / no route). ``talk_s``: the
    phone hangs up that long after answering (None: it talks until the other
    side ends the call; 0: it hangs up in the instant it answers, before
    anything the router does about it).
    """

    answer_after_s: float | None = 1.0
    busy: bool = False
    unreachable: bool = False
    talk_s: float | None = None


@dataclass
class Request:
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.kwargs[key]


@dataclass
class FakeChannel:
    id: str
    dial_string: str = ""
    state: str = "Ring"
    up: bool = True  # not yet destroyed
    answered_at: datetime | None = None  # as its CDR has it
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)  # what get_variable reads


class ScriptedAri:
    """Answers a call's ARI requests as Asterisk would; see the module docstring."""

    def __init__(self, emit: Callable[[ev.AnyEvent], None],
                 phones: Mapping[str, Phone] | None = None, sound_s: float = 2.0) -> None:
        self.emit = emit
        self.phones = dict(phones or {})
        self.sound_s = sound_s  # how long any sound plays
        self.requests: list[Request] = []
        self.channels: dict[str, FakeChannel] = {}
        self.bridges: dict[str, list[str]] = {}
        self.failures: dict[str, AriError] = {}  # request name -> the error it raises
        self.answered: list[str] = []  # phones' channels, in the order they answered
        self._playbacks: dict[str, tuple[str, asyncio.TimerHandle]] = {}
        self._hooks: dict[str, list[Callable[[], None]]] = {}
        self._loop = asyncio.get_running_loop()
        self._origin = self._loop.time()  # T0, on the loop's clock
        self.base_url = "http://asterisk.test:8088"
        # Bridge recordings: live ones (name -> (bridge, format, loop time started)),
        # and stored files (name -> bytes), 8 kHz 16-bit wav as Asterisk writes them.
        self.live: dict[str, tuple[str, str, float]] = {}
        self.stored: dict[str, bytes] = {}

    # --- the test's side ------------------------------------------------------------

    def now(self) -> datetime:
        return T0 + timedelta(seconds=self._loop.time() - self._origin)

    def add_caller(self, channel_id: str, number: str, exten: str) -> ev.Channel:
        """A caller's channel, as Asterisk puts it in our application."""
        self.channels[channel_id] = FakeChannel(channel_id)
        return ev.Channel(id=channel_id, name=f"PJSIP/caller-{channel_id}", state="Ring",
                          caller=ev.CallerId(number=number),
                          dialplan=ev.DialplanCEP(context="hotline", exten=exten))

    def add_channel(self, channel_id: str, dial_string: str, state: str,
                    answered_at: datetime | None = None) -> None:
        """A phone's channel that outlived the router (for adoption); ``answered_at``
        is what its CDR says (None: no answer time)."""
        self.channels[channel_id] = FakeChannel(channel_id, dial_string=dial_string,
                                                state=state, answered_at=answered_at)

    def hang_up(self, channel_id: str, cause: int = 16) -> None:
        """The channel's far end hangs up (the caller, or a phone)."""
        channel = self.channels[channel_id]
        if not channel.up:
            return
        self._send(ev.ChannelHangupRequest, channel, cause=cause)
        self._destroy(channel, cause)

    def vanish(self, channel_id: str) -> None:
        """The channel ends and its events are lost (a websocket gap): no event."""
        channel = self.channels[channel_id]
        channel.up = False
        for timer in channel.timers:
            timer.cancel()
        for bridge in self.bridges.values():
            if channel_id in bridge:
                bridge.remove(channel_id)

    def up_channels(self) -> dict[str, str]:
        """The channels Asterisk still has, id -> state (what a catch-up reads)."""
        return {cid: c.state for cid, c in self.channels.items() if c.up}

    def phone_call(self, channel_id: str, remote_address: str, exten: str,
                   sip_call_id: str) -> ev.Channel:
        """A call a phone places (its consultation call), as Asterisk puts it
        in our application: not answered, from ``remote_address`` (HOST:PORT)."""
        self.channels[channel_id] = FakeChannel(channel_id, variables={
            "CHANNEL(pjsip,remote_addr)": remote_address,
            "CHANNEL(pjsip,call-id)": sip_call_id})
        return ev.Channel(id=channel_id, name=f"PJSIP/phones-{channel_id}", state="Ring",
                          dialplan=ev.DialplanCEP(context="phone-consult", exten=exten))

    def refer(self, channel_id: str, destination: str, replaces: str | None = None,
              replaced_channel: str | None = None) -> None:
        """The phone on ``channel_id`` sends a REFER (a blind transfer to
        ``destination``; with ``replaces``, the SIP Call-ID of the call it
        replaces, an attended one, whose channel Asterisk found when
        ``replaced_channel``): Asterisk answers 202 and tells the application
        (transfers handled by ARI)."""
        channel = self.channels[channel_id]
        replaced = self.channels[replaced_channel] if replaced_channel else None
        self.emit(ev.ChannelTransfer(
            timestamp=stamp(self.now()),
            referred_by=ev.ReferredBy(source_channel=ev.Channel(id=channel.id,
                                                                state=channel.state)),
            refer_to=ev.ReferTo(
                requested_destination=ev.RequestedDestination(
                    destination=destination, protocol_id=replaces),
                destination_channel=ev.Channel(id=replaced.id, state=replaced.state)
                if replaced else None)))

    def progress_told(self, channel_id: str) -> list[str]:
        """The transfer progress states told to the phone on ``channel_id``, in order."""
        return [r["state"] for r in self.made("transfer_progress") if r.args[0] == channel_id]

    def press(self, channel_id: str, digit: str) -> None:
        self._send(ev.ChannelDtmfReceived, self.channels[channel_id], digit=digit)

    def later(self, delay_s: float, action: Callable[[], None]) -> asyncio.TimerHandle:
        return self._loop.call_later(delay_s, action)

    def names(self) -> list[str]:
        """The requests made so far, by name, in order."""
        return [r.name for r in self.requests]

    def made(self, name: str) -> list[Request]:
        return [r for r in self.requests if r.name == name]

    # --- ARI, as the call uses it --------------------------------------------------

    def when(self, name: str, action: Callable[[], None]) -> None:
        """Do ``action`` once, right after the next request ``name`` is carried out
        (e.g. a phone hangs up the instant it is put in the bridge), or after the
        next phone answers (``phone_answered``); the events it sends are queued
        before the call hears of the request's result."""
        self._hooks.setdefault(name, []).append(action)

    def _request(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.requests.append(Request(name, args, kwargs))
        if name in self.failures:
            raise self.failures[name]

    def _done(self, name: str) -> None:
        hooks = self._hooks.get(name)
        if hooks:
            hooks.pop(0)()

    async def create_channel(self, endpoint: str, app: str, channel_id: str,
                             originator: str | None = None,
                             variables: Mapping[str, str] | None = None) -> Any:
        self._request("create_channel", endpoint, channel_id=channel_id,
                      variables=dict(variables or {}))
        channel = self.channels[channel_id] = FakeChannel(channel_id, dial_string=endpoint,
                                                           state="Down")
        self._after(channel, 0.0, lambda: self._send(ev.StasisStart, channel))
        return {"id": channel_id}

    async def dial(self, channel_id: str, caller: str | None = None,
                   timeout_s: int | None = None) -> None:
        self._request("dial", channel_id)
        channel = self._existing(channel_id)
        phone = self.phones.get(channel.dial_string, Phone())
        if phone.unreachable:
            self._after(channel, 0.05, lambda: self._end_dial(channel, "CHANUNAVAIL", 20))
        elif phone.busy:
            self._after(channel, 0.2, lambda: self._end_dial(channel, "BUSY", 17))
        elif phone.answer_after_s is not None:
            self._after(channel, phone.answer_after_s, lambda: self._answer(channel, phone))

    async def transfer_progress(self, channel_id: str, state: str) -> None:
        self._request("transfer_progress", channel_id, state=state)
        channel = self._existing(channel_id)
        # As Asterisk does: the progress is told back as an event with its state.
        self.emit(ev.ChannelTransfer(
            timestamp=stamp(self.now()), state=state,
            referred_by=ev.ReferredBy(source_channel=ev.Channel(id=channel.id,
                                                                state=channel.state))))

    async def get_variable(self, channel_id: str, name: str) -> str:
        self._request("get_variable", channel_id, variable=name)
        channel = self._existing(channel_id)
        self._done("get_variable")
        if name == "CDR(answer,u)":
            at = channel.answered_at
            return f"{at.timestamp():.6f}" if at else "0.000000"
        return channel.variables.get(name, "")

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str,
                                   priority: int = 1) -> None:
        """The channel leaves our application for the dialplan (where it is no
        longer ours: no more events of it)."""
        self._request("continue_in_dialplan", channel_id, context=context, exten=extension)
        channel = self._existing(channel_id)
        self._send(ev.StasisEnd, channel)
        channel.up = False

    async def ring(self, channel_id: str) -> None:
        self._request("ring", channel_id)

    async def progress(self, channel_id: str) -> None:
        self._request("progress", channel_id)
        self._existing(channel_id)

    async def answer(self, channel_id: str) -> None:
        self._request("answer", channel_id)
        channel = self._existing(channel_id)
        channel.state = "Up"
        self._send(ev.ChannelStateChange, channel)  # as Asterisk tells of an answer
        self._done("answer")

    async def hangup(self, channel_id: str, reason: str = "normal") -> bool:
        self._request("hangup", channel_id, reason=reason)
        channel = self.channels.get(channel_id)
        if channel is None or not channel.up:
            return False
        self._destroy(channel, 16)
        return True

    async def play(self, channel_id: str, media: str | Iterable[str],
                   playback_id: str | None = None) -> Any:
        media_list = [media] if isinstance(media, str) else list(media)
        self._request("play", channel_id, media=media_list, playback_id=playback_id)
        self._existing(channel_id)
        assert playback_id is not None
        timer = self._loop.call_later(self.sound_s * len(media_list), self._playback_finished,
                                      playback_id)
        self._playbacks[playback_id] = (channel_id, timer)
        return {"id": playback_id}

    async def stop_playback(self, playback_id: str) -> None:
        self._request("stop_playback", playback_id)
        if playback_id in self._playbacks:
            self._playbacks[playback_id][1].cancel()
            self._playback_finished(playback_id)

    async def start_moh(self, channel_id: str, moh_class: str = "default") -> None:
        self._request("start_moh", channel_id, moh_class=moh_class)
        self._existing(channel_id)

    async def stop_moh(self, channel_id: str) -> None:
        self._request("stop_moh", channel_id)

    async def create_bridge(self, bridge_id: str, bridge_type: str = "mixing") -> Any:
        self._request("create_bridge", bridge_id)
        self.bridges[bridge_id] = []
        return {"id": bridge_id}

    async def add_to_bridge(self, bridge_id: str, channel_ids: Iterable[str]) -> None:
        channel_ids = list(channel_ids)
        self._request("add_to_bridge", bridge_id, channels=channel_ids)
        for channel_id in channel_ids:
            if not self.channels.get(channel_id, FakeChannel("")).up:
                raise AriError("POST", f"/bridges/{bridge_id}/addChannel", 400,
                               "Channel not found")
        self.bridges[bridge_id] += channel_ids
        for channel_id in channel_ids:
            self._send(ev.ChannelEnteredBridge, self.channels[channel_id],
                       bridge=ev.Bridge(id=bridge_id))
        self._done("add_to_bridge")

    async def remove_from_bridge(self, bridge_id: str, channel_ids: Iterable[str]) -> None:
        channel_ids = list(channel_ids)
        self._request("remove_from_bridge", bridge_id, channels=channel_ids)
        for channel_id in channel_ids:
            if channel_id in self.bridges.get(bridge_id, []):
                self.bridges[bridge_id].remove(channel_id)

    async def destroy_bridge(self, bridge_id: str) -> bool:
        self._request("destroy_bridge", bridge_id)
        for name, (bridge, _, _) in list(self.live.items()):
            if bridge == bridge_id:  # the bridge's end ends its recording
                self._store(name)
        return self.bridges.pop(bridge_id, None) is not None

    # --- recordings ------------------------------------------------------------------

    async def record_bridge(self, bridge_id: str, name: str, file_format: str) -> Any:
        self._request("record_bridge", bridge_id, recording=name, format=file_format)
        if bridge_id not in self.bridges:
            raise AriError("POST", f"/bridges/{bridge_id}/record", 404, "Bridge not found")
        self.live[name] = (bridge_id, file_format, self._loop.time())
        return {"name": name, "format": file_format, "state": "queued"}

    async def record_channel(self, channel_id: str, name: str, file_format: str,
                             max_duration_s: int, max_silence_s: int) -> Any:
        """A message: it ends at ``max_duration_s``, or when the channel hangs up."""
        self._request("record_channel", channel_id, recording=name, format=file_format,
                      max_duration_s=max_duration_s)
        channel = self._existing(channel_id)
        self.live[name] = (f"channel:{channel_id}", file_format, self._loop.time())
        self._after(channel, max_duration_s,
                    lambda: self._store(name) if name in self.live else None)
        return {"name": name, "format": file_format, "state": "queued"}

    async def stop_recording(self, name: str) -> bool:
        self._request("stop_recording", name)
        if name not in self.live:
            return False
        self._store(name)
        return True

    async def live_recording(self, name: str) -> Any | None:
        if name not in self.live:
            return None
        return {"name": name, "format": self.live[name][1], "state": "recording"}

    def recording(self, bridge_id: str, name: str, file_format: str = "wav") -> None:
        """A recording of the bridge already live (a router that stopped started it)."""
        self.bridges.setdefault(bridge_id, [])
        self.live[name] = (bridge_id, file_format, self._loop.time())

    async def stored_recording(self, name: str) -> Any | None:
        return {"name": name, "format": "wav"} if name in self.stored else None

    async def recording_head(self, name: str, head_bytes: int = 64) -> tuple[int, bytes]:
        self._request("recording_head", name)
        if name not in self.stored:
            raise AriError("GET", f"/recordings/stored/{name}/file", 404, "Recording not found")
        data = self.stored[name]
        return len(data), data[:head_bytes]

    def _store(self, name: str) -> None:
        _, _, started = self.live.pop(name)
        audio = bytes(round((self._loop.time() - started) * 16_000) // 2 * 2)
        header = (b"RIFF" + (36 + len(audio)).to_bytes(4, "little") + b"WAVEfmt "
                  + (16).to_bytes(4, "little") + (1).to_bytes(2, "little")
                  + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
                  + (16_000).to_bytes(4, "little") + (2).to_bytes(2, "little")
                  + (16).to_bytes(2, "little") + b"data" + len(audio).to_bytes(4, "little"))
        self.stored[name] = header + audio

    # --- what Asterisk does by itself ----------------------------------------------

    def _existing(self, channel_id: str) -> FakeChannel:
        channel = self.channels.get(channel_id)
        if channel is None or not channel.up:
            raise AriError("POST", f"/channels/{channel_id}", 404, "Channel not found")
        return channel

    def _after(self, channel: FakeChannel, delay_s: float, action: Callable[[], None]) -> None:
        channel.timers.append(self._loop.call_later(delay_s, action))

    def _answer(self, channel: FakeChannel, phone: Phone) -> None:
        channel.state = "Up"
        channel.answered_at = self.now()
        self._send(ev.Dial, channel, dialstatus="ANSWER")
        self._send(ev.ChannelStateChange, channel)
        self.answered.append(channel.id)
        self._done("phone_answered")
        if phone.talk_s == 0:  # gone in the same instant: its BYE follows the 200 OK
            self.hang_up(channel.id)
        elif phone.talk_s is not None:
            self._after(channel, phone.talk_s, lambda: self.hang_up(channel.id))

    def _end_dial(self, channel: FakeChannel, status: str, cause: int) -> None:
        self._send(ev.Dial, channel, dialstatus=status)
        self._send(ev.ChannelHangupRequest, channel, cause=cause)
        self._destroy(channel, cause)

    def _destroy(self, channel: FakeChannel, cause: int) -> None:
        channel.up = False
        for name, (target, _, _) in list(self.live.items()):
            if target == f"channel:{channel.id}":  # a hangup ends the channel's recording
                self._store(name)
        for timer in channel.timers:
            timer.cancel()
        for bridge in self.bridges.values():
            if channel.id in bridge:
                bridge.remove(channel.id)
        self._send(ev.ChannelDestroyed, channel, cause=cause)
        self._send(ev.StasisEnd, channel)

    def _playback_finished(self, playback_id: str) -> None:
        channel_id, _ = self._playbacks.pop(playback_id)
        self.emit(ev.PlaybackFinished(
            timestamp=stamp(self.now()),
            playback=ev.Playback(id=playback_id, target_uri=f"channel:{channel_id}")))

    def _send(self, kind: type[Any], channel: FakeChannel, **fields: Any) -> None:
        snapshot = ev.Channel(id=channel.id, state=channel.state)
        key = "peer" if kind is ev.Dial else "channel"
        self.emit(msgspec.structs.replace(kind(**{key: snapshot}, **fields),
                                          timestamp=stamp(self.now())))

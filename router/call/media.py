"""What the caller hears, and whether the caller is answered.

The caller's line moves one way: silent, then ringback (SIP 180), then early
media (183: our audio, still unanswered, so not billed), then answered (200:
billing starts). Music on hold and prompts play over it. This object is the
only one that sends those to the caller's channel, so it always knows which
the caller has had.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from enum import IntEnum
from typing import TYPE_CHECKING
from uuid import uuid4

from router.ari import AriError
from router.call.events import CallerLeft

if TYPE_CHECKING:
    from router.call.story import Call

# Longest a prompt may play before we stop waiting for its end.
PROMPT_LIMIT_S = 120.0
# Longest an announcement before hanging up may play.
ANNOUNCEMENT_LIMIT_S = 60.0
# How long answering waits for Asterisk's ChannelStateChange (Up), whose time is
# the caller's answer; the router's clock only when it does not come.
ANSWER_EVENT_WAIT_S = 1.0


class Line(IntEnum):
    """How far the caller's channel has been taken; it only moves forward."""

    SILENT = 0       # unanswered, nothing sent yet
    RINGBACK = 1     # 180 Ringing: the caller hears the ring tone
    EARLY_MEDIA = 2  # 183 Session Progress: the caller hears our audio, unanswered
    ANSWERED = 3     # 200 OK: the caller is answered (billing starts)


class CallerMedia:
    """The caller's channel: ringback, early media, music, prompts, answering."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.line = Line.SILENT
        self.music_class: str | None = None  # music on hold playing, of this class
        self.finished_playbacks: set[str] = set()
        self.keys: deque[str] = deque()  # keys the caller pressed, not used yet
        self.up_at: datetime | None = None  # Asterisk's time of the caller's answer
        # The hotline's own ringback (企业彩铃) while it loops: its sounds and playback.
        self.ringback_sounds: tuple[str, ...] = ()
        self.ringback_playback: str | None = None

    @property
    def answered(self) -> bool:
        return self.line is Line.ANSWERED

    @property
    def _channel(self) -> str:
        return self.call.caller.id

    # --- events ----------------------------------------------------------------

    def playback_finished(self, playback_id: str) -> None:
        self.finished_playbacks.add(playback_id)

    def key_pressed(self, digit: str) -> None:
        self.keys.append(digit)

    # --- the line ----------------------------------------------------------------

    async def ringback(self) -> None:
        """Let the caller hear ringing while phones ring (a failure is only logged).

        Unanswered, that is a 180; answered (after a menu), Asterisk plays the
        ring tone in band. A hotline with its own ringback sound (企业彩铃)
        plays it instead, looped, as early media: the caller is not answered.
        """
        hotline = self.call.hotline
        sounds = hotline.screening.ringback if hotline else ()
        if sounds:
            await self.call.ari_quietly(self.call.services.ari.ring(self._channel))
            self.line = max(self.line, Line.RINGBACK)
            self.ringback_sounds = sounds
            try:
                await self.open_early_media()
                await self._loop_ringback()
            except AriError as exc:
                self.call.log.warning("ringback sound failed", error=str(exc))
            return
        self.line = max(self.line, Line.RINGBACK)
        await self.call.ari_quietly(self.call.services.ari.ring(self._channel))

    async def ringback_finished(self, playback_id: str) -> None:
        """One round of the ringback sound ended: the next, while it loops."""
        if playback_id == self.ringback_playback and self.ringback_sounds:
            try:
                await self._loop_ringback()
            except AriError as exc:
                self.call.log.warning("ringback sound failed", error=str(exc))

    async def _loop_ringback(self) -> None:
        playback_id = str(uuid4())
        self.ringback_playback = playback_id
        await self.call.services.ari.play(self._channel,
                                          [f"sound:{s}" for s in self.ringback_sounds],
                                          playback_id)

    async def stop_ringback(self) -> None:
        self.ringback_sounds = ()
        if self.ringback_playback is not None:
            playback_id, self.ringback_playback = self.ringback_playback, None
            await self.call.ari_quietly(self.call.services.ari.stop_playback(playback_id))

    async def open_early_media(self) -> None:
        """Open the unanswered caller's line to our audio (unbilled)."""
        if self.line < Line.EARLY_MEDIA:
            await self.call.services.ari.progress(self._channel)
            self.line = Line.EARLY_MEDIA

    async def answer(self) -> datetime | None:
        """Answer the caller; when, or None if answered already.

        The time is Asterisk's, from the caller's channel going Up (billing
        starts there); the router's clock only if that event does not come
        within ANSWER_EVENT_WAIT_S. Raises CallerLeft when the caller hung up
        meanwhile, AriError otherwise.
        """
        if self.answered:
            return None
        async with self.to_the_caller():
            await self.call.services.ari.answer(self._channel)
        self.line = Line.ANSWERED
        with contextlib.suppress(TimeoutError):
            await self.call.inbox.until(lambda: self.up_at is not None,
                                        timeout_s=ANSWER_EVENT_WAIT_S)
        if self.up_at is None:
            self.call.log.warning("no answer event from Asterisk: the router's clock is used")
            return self.call.clock()
        return self.up_at

    def caller_up(self, at: datetime) -> None:
        """Asterisk says the caller's channel is answered (Up), at ``at``."""
        if self.up_at is None:
            self.up_at = at

    async def start_music(self, moh_class: str = "default") -> None:
        """Music on hold, as early media unless answered (a failure is only logged)."""
        await self.stop_ringback()
        await self.open_early_media()
        try:
            await self.call.services.ari.start_moh(self._channel, moh_class)
            self.music_class = moh_class
        except AriError as exc:
            self.call.log.warning("music on hold failed", error=str(exc))

    async def stop_music(self) -> None:
        """Stop what the caller hears while waiting: music, or the ringback sound."""
        await self.stop_ringback()
        if self.music_class is not None:
            await self.call.ari_quietly(self.call.services.ari.stop_moh(self._channel))
            self.music_class = None

    # --- sounds ----------------------------------------------------------------------

    async def play(self, sounds: Sequence[str]) -> None:
        """Play to the caller and wait until it has been heard; unanswered, as
        early media (a greeting, 企业彩铃: never billed)."""
        if not self.answered:
            async with self.to_the_caller():
                await self.open_early_media()
        playback_id = await self._start_playback(sounds)
        try:
            await self.call.inbox.until(lambda: playback_id in self.finished_playbacks,
                                        timeout_s=PROMPT_LIMIT_S)
        except TimeoutError:
            self.call.log.warning("playback did not finish", sounds=list(sounds))

    async def prompt_for_key(self, sounds: Sequence[str], timeout_s: float) -> str | None:
        """Play a prompt until a key is pressed, then wait ``timeout_s`` for one.

        A key pressed during the prompt stops it; keys pressed ahead (during an
        earlier prompt) are used at once. None when no key came.
        """
        inbox = self.call.inbox
        if not self.keys:
            playback_id = await self._start_playback(sounds)
            try:
                await inbox.until(lambda: bool(self.keys)
                                  or playback_id in self.finished_playbacks,
                                  timeout_s=PROMPT_LIMIT_S)
            except TimeoutError:
                self.call.log.warning("prompt did not finish", sounds=list(sounds))
            if self.keys:
                await self.call.ari_quietly(self.call.services.ari.stop_playback(playback_id))
        if not self.keys:
            with contextlib.suppress(TimeoutError):
                await inbox.until(lambda: bool(self.keys), timeout_s=timeout_s)
        return self.keys.popleft() if self.keys else None

    async def announce(self, sounds: Sequence[str]) -> None:
        """An announcement before hanging up: early media, never answering;
        a failure is only logged (the caller is hung up on all the same)."""
        playback_id = str(uuid4())
        try:
            await self.stop_music()
            await self.open_early_media()
            await self.call.services.ari.play(self._channel, [f"sound:{s}" for s in sounds],
                                              playback_id)
        except AriError as exc:
            self.call.log.warning("announcement failed", error=str(exc))
            return
        try:
            await self.call.inbox.until(lambda: playback_id in self.finished_playbacks,
                                        timeout_s=ANNOUNCEMENT_LIMIT_S)
        except TimeoutError:
            self.call.log.warning("announcement did not finish", sound=list(sounds))

    async def _start_playback(self, sounds: Sequence[str]) -> str:
        playback_id = str(uuid4())
        async with self.to_the_caller():
            await self.call.services.ari.play(self._channel, [f"sound:{s}" for s in sounds],
                                              playback_id)
        return playback_id

    @contextlib.asynccontextmanager
    async def to_the_caller(self) -> AsyncIterator[None]:
        """A request to the caller's channel: if it fails because they left, they left."""
        try:
            yield
        except AriError as exc:
            await self.call.inbox.drain()
            if self.call.caller_left_at is not None:
                raise CallerLeft from exc
            raise

"""Recording a call (通话录音): Asterisk records the call's bridge.

The hotline's policy (router/recordings/policy.py) picks which answered calls
are recorded. Right after the caller is bridged with the phone
(``Call.connect``), :meth:`CallRecording.start` asks Asterisk to record the
bridge (ARI POST /bridges/{bridgeId}/record), named after the call id, in the
hotline's format. When the call is over (its bridge destroyed, which ends the
recording), :meth:`CallRecording.finish` reads the stored file's size and
length and writes a ``RecordingStored`` record through the call's store, so
a database outage spools it rather than losing it.

Both run beside the call, never in its way: a recording Asterisk refuses, or
whose file cannot be found, is logged and counted
(``hotline_router_recordings_failed``), and the call goes on as if unrecorded.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from router import deadline, metrics
from router.ari import AriError
from router.ari.client import UNREACHABLE
from router.recordings import audio
from router.records.kinds import RecordingStored

if TYPE_CHECKING:
    from router.call.story import Call
    from router.plan import Group

# How long after the call's end the stored file may take to be complete.
FINISH_WAIT_S = 5.0
POLL_S = 0.1
# Recordings still being collected, so a router that stops can wait for them.
_pending: set[asyncio.Task[None]] = set()


def asterisk_of(ari: Any) -> str:
    """The ARI address (host:port) that names the Asterisk holding a recording."""
    return urlsplit(str(getattr(ari, "base_url", ""))).netloc


class CallRecording:
    """The recording of one call's bridge, if its hotline records it."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.name = str(call.id)
        self.file_format: str | None = None  # set when the call is recorded
        self.started_at: datetime | None = None
        self._start: asyncio.Task[bool] | None = None

    @property
    def asked(self) -> bool:
        """Whether this call's recording row may still be on its way: Asterisk was
        asked to record it (or an adopted call's recording is looked for), and
        has not refused (or been found not recording) already."""
        started = self._start
        if started is None:
            return False
        return not started.done() or started.cancelled() or bool(started.result())

    async def notice(self, group: Group | None, menu_first: bool) -> None:
        """The hotline's "this call may be recorded" sounds, before phones ring:
        early media, so the caller is not answered (and not billed) for it.
        Played when ``group`` (None: the hotline's own phones) may record the
        call; when a voice menu chooses the group (``menu_first``), when the
        hotline or any group of its plan may."""
        hotline = self.call.hotline
        if hotline is None or not hotline.recording.notice:
            return
        shares = ([None, *(g.record_percent for g in hotline.plan.groups.values() if g.enabled)]
                  if menu_first else [group.record_percent if group else None])
        if hotline.recording.may_record(shares):
            await self.call.media.play(hotline.recording.notice)

    def start(self, group: Group | None) -> None:
        """Start recording the bridge if the hotline, or ``group`` (the group whose
        phone answered) when it has its own share, records this call (never blocks)."""
        hotline = self.call.hotline
        if hotline is None or self.call.bridge_id is None:
            return
        policy = hotline.recording.for_group(group.record_percent if group else None)
        if not policy.records(self.call.rng):
            return
        self.file_format = hotline.recording.file_format
        self._start = asyncio.get_running_loop().create_task(
            self._record(self.call.bridge_id, self.file_format), name=f"record-{self.name}")

    async def _record(self, bridge_id: str, file_format: str) -> bool:
        self.started_at = self.call.clock()
        try:
            await self.call.services.ari.record_bridge(bridge_id, self.name, file_format)
        except Exception as exc:  # Asterisk refused, or anything else: never the call's end
            self.started_at = None
            metrics.RECORDINGS_FAILED.labels(stage="start").inc()
            self.call.log.warning("recording not started, the call goes on unrecorded",
                                  error=str(exc))
            return False
        self.call.log.info("recording started", recording=self.name, format=file_format)
        return True

    def adopt(self, answered_at: datetime) -> None:
        """An adopted bridged call (its router stopped mid-call): the bridge may
        still be recording, as that router asked. If Asterisk has it live, it
        is stored at the call's end like any other; it started with the call's
        answer (``answered_at``), as near as is known."""
        self._start = asyncio.get_running_loop().create_task(
            self._find_live(answered_at), name=f"record-{self.name}")

    async def _find_live(self, answered_at: datetime) -> bool:
        try:
            live = await self.call.services.ari.live_recording(self.name)
        except Exception as exc:  # Asterisk away: counted as not recorded
            self.call.log.warning("recording of an adopted call not known", error=str(exc))
            return False
        if live is None:
            return False
        self.file_format = str(live.get("format") or "wav")
        self.started_at = answered_at
        self.call.log.info("recording adopted", recording=self.name, format=self.file_format)
        return True

    def finish(self) -> None:
        """The call is over: collect the stored file and write its row, in a task
        of its own (never blocks the call's end)."""
        if self._start is None:
            return
        task = asyncio.get_running_loop().create_task(self._collect(self._start),
                                                      name=f"recorded-{self.name}")
        _pending.add(task)
        task.add_done_callback(_pending.discard)

    async def _collect(self, started: asyncio.Task[bool]) -> None:
        if not await started or self.started_at is None or self.file_format is None:
            return
        with contextlib.suppress(Exception):  # not live (404) is the usual: the bridge ended it
            # Stopping covers a bridge Asterisk would not destroy.
            await self.call.services.ari.stop_recording(self.name)
        await store(self.call, self.name, self.file_format, self.started_at)


async def store(call: Call, name: str, file_format: str, started_at: datetime,
                kind: str = "call") -> bool:
    """Once Asterisk has finished recording ``name``, write its row (size and
    length read from the stored file) through the call's store. False, logged
    and counted, when no complete file turns up within FINISH_WAIT_S."""
    ari = call.services.ari
    try:
        await _until_stored(ari, name)
        size, head = await ari.recording_head(name, audio.HEAD_BYTES)
        duration_ms = audio.duration_ms(file_format, size, head)
    except Exception as exc:  # AriError, audio.NotAudio, TimeoutError, …
        metrics.RECORDINGS_FAILED.labels(stage="store").inc()
        call.log.warning("recording not stored", recording=name,
                         error=str(exc) or type(exc).__name__)
        return False
    await call.services.store.write(RecordingStored(
        call.id, name, file_format, asterisk_of(ari), started_at, duration_ms, size, kind))
    metrics.RECORDINGS.labels(kind=kind).inc()
    metrics.RECORDING_BYTES.inc(size)
    call.log.info("recording stored", recording=name, kind=kind, duration_ms=duration_ms,
                  size_bytes=size)
    return True


def passing(error: AriError) -> bool:
    """An ARI failure worth asking again: no answer at all (a connection or the
    websocket lost, a timeout) or Asterisk's own 5xx; a 4xx would answer the same."""
    return error.status == UNREACHABLE or error.status >= 500


async def still_recording(ari: Any, name: str) -> bool:
    """Whether Asterisk still records ``name``; a passing failure counts as yes
    (asked again at the next poll). Raises AriError for any other refusal."""
    try:
        return await ari.live_recording(name) is not None
    except AriError as exc:
        if passing(exc):
            return True
        raise


async def _until_stored(ari: Any, name: str) -> None:
    """Wait until Asterisk no longer records ``name`` and holds the stored file.

    Raises TimeoutError after FINISH_WAIT_S.
    """
    async def poll() -> None:
        while True:  # Asterisk tells of neither by an event we follow: ask
            try:
                if (await ari.live_recording(name) is None
                        and await ari.stored_recording(name) is not None):
                    return
            except AriError as exc:  # one lost answer does not lose the row
                if not passing(exc):
                    raise
            await asyncio.sleep(POLL_S)

    await deadline.within(FINISH_WAIT_S, poll())


async def settle(timeout_s: float) -> None:
    """Wait (up to ``timeout_s``) for recordings still being collected: a router
    that stops writes their rows first."""
    if _pending:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*_pending, return_exceptions=True),
                                   timeout_s)

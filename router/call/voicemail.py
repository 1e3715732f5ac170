"""Voicemail (语音留言): the caller leaves a message instead of an announcement.

When a hotline's overflow is ``voicemail``, or the plan says closed and the
hotline's closed action is ``voicemail``, the caller is answered (billing
starts there: docs/billing.md, the one rule), hears the prompt, then a beep,
and speaks. Asterisk records the caller's channel (ARI POST
/channels/{channelId}/record) until the hotline's longest message, a few
seconds of silence, #, or the caller's hangup. The message is stored as a
recording of kind ``voicemail`` (router/call/recording.py), and its row makes
the database enqueue a ``voicemail.left`` notification (migration 0018).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from router import metrics
from router.call import recording
from router.call.events import CallerLeft
from router.call.states import State
from router.records.kinds import Outcome

if TYPE_CHECKING:
    from router.call.story import Call
    from router.directory import Hotline

# Silence that ends a message, in seconds (maxSilenceSeconds).
SILENCE_ENDS_S = 5
# How often the call asks Asterisk whether the message is over.
POLL_S = 0.25


async def take_message(call: Call, hotline: Hotline, outcome: Outcome) -> None:
    """Answer the caller, prompt, record a message, store it; the call's
    outcome stays ``outcome`` (the caller was not put through to a phone)."""
    call.outcome = outcome
    call.state.to(State.VOICEMAIL, outcome=outcome)
    name = f"vm-{call.id}"
    file_format = hotline.recording.file_format
    ari = call.services.ari
    try:
        await call.media.stop_music()
        await call.answer_caller()
        await call.media.play(hotline.voicemail.prompt)
        started_at = call.clock()
        await ari.record_channel(call.caller.id, name, file_format, hotline.voicemail.max_s,
                                 SILENCE_ENDS_S)
    except CallerLeft:
        return  # gone before the beep: no message
    except Exception as exc:  # Asterisk refused: the caller is hung up on, as without one
        metrics.RECORDINGS_FAILED.labels(stage="start").inc()
        call.log.warning("voicemail not recorded", error=str(exc))
        return
    call.log.info("voicemail recording", recording=name, max_s=hotline.voicemail.max_s)
    # Asterisk ends the message by itself at voicemail_max_s: a poll that cannot
    # be answered meanwhile is asked again, never past that (and a margin).
    deadline = call.inbox.time() + hotline.voicemail.max_s + SILENCE_ENDS_S
    try:
        while call.inbox.time() < deadline and await recording.still_recording(ari, name):
            with contextlib.suppress(TimeoutError):
                await call.inbox.until(lambda: call.caller_left_at is not None,
                                       timeout_s=POLL_S)
    except CallerLeft:  # a hangup ends the message too
        pass
    except Exception as exc:  # Asterisk refused to say: store what it has
        call.log.warning("voicemail recording not followed", error=str(exc))
    await recording.store(call, name, file_format, started_at, kind="voicemail")

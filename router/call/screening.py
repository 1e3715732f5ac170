"""Answer screening (按键确认接听), the whisper (来电报号), and the caller id a phone sees.

A carrier's voicemail or secretary service (来电管家, 秘书台) *answers* a call
forwarded to a mobile that is off or busy; to the router that is a real
answer. With a confirm key, a phone that answers is not yet the call's: it
hears the whisper and the prompt while the caller, still unanswered, keeps
hearing ringback; the key makes it ready to be bridged (billing starts there),
while a wrong key, no key in time or a hangup ends it ``unconfirmed``, its
claim released at once, and the hunt goes on. A whisper without a key is
heard the same way, and the phone is ready when it ends.

:func:`screen_for` and :func:`caller_id_for` are pure (the hotline's settings,
its group's and the binding's overrides in, what the leg gets out); the rest
is what a leg's events do while it confirms, applied by router/call/intake.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import uuid4

from router.ari import AriError
from router.call.events import ConfirmTimeout
from router.call.states import State
from router.directory import Hotline, Screening
from router.plan import Group
from router.records.kinds import LegResult

if TYPE_CHECKING:
    from router.call.legs import Leg
    from router.call.story import Call

# Longest the whisper and the prompt may take before a screened phone's key
# timeout starts anyway (the prompt's end normally starts it).
PROMPT_LIMIT_S = 60.0


@dataclass(frozen=True)
class Screen:
    """What one answering phone hears before the bridge, and the key it must press.

    ``confirm_key`` None: no key asked (a whisper only). ``timeout_s``: seconds
    to press it once the prompt has played.
    """

    confirm_key: str | None
    timeout_s: float
    sounds: tuple[str, ...]  # the whisper, then the prompt when a key is asked


def screen_for(screening: Screening, group: Group | None,
               phone_confirm_key: str | None) -> Screen | None:
    """The screen of one phone: its binding's key, else its group's, else the
    hotline's ('none': no key); None when it hears nothing and presses nothing."""
    key = next((k for k in (phone_confirm_key, group.confirm_key if group else None,
                            screening.confirm_key) if k is not None), "none")
    asked = None if key == "none" else key
    if asked is None and not screening.whisper:
        return None
    prompt = screening.confirm_prompt if asked is not None else ()
    return Screen(asked, float(screening.confirm_timeout_s), screening.whisper + prompt)


def caller_id_for(screening: Screening, group: Group | None, caller: str,
                  dialled: str) -> tuple[str, str]:
    """(number, name) presented to a bound phone.

    'caller' (the default): the caller's number, the 400 number as the name;
    'hotline': the 400 number for both; 'prefix': the prefix before the
    caller's number in both (FreePBX's CID prefix). A group's own prefix
    (e.g. the menu choice that led there) wins over the hotline's rule.
    """
    number = caller or "anonymous"
    prefix = group.caller_id_prefix if group and group.caller_id_prefix else None
    if prefix is None and screening.caller_id_shown == "hotline":
        return dialled, dialled
    if prefix is None and screening.caller_id_shown == "prefix":
        prefix = screening.caller_id_prefix
    if prefix:
        return prefix + number, prefix + number
    return number, dialled


# --- a screened leg's events (I/O) ------------------------------------------------


async def start(call: Call, leg: Leg) -> None:
    """The screened ``leg`` answered: play it the whisper and the prompt (to
    that channel only; the caller hears none of it)."""
    screen = leg.screen
    assert screen is not None
    if leg.timer:
        leg.timer.cancel()  # its ring timeout; the confirm timer follows
    if screen.confirm_key is not None and call.state.current is State.RINGING:
        call.state.to(State.CONFIRMING, phone_id=leg.phone_id)
    playback_id = str(uuid4())
    leg.screen_playback = playback_id
    call.log.info("screening phone", phone_id=leg.phone_id, confirm_key=screen.confirm_key)
    wait_s = PROMPT_LIMIT_S  # until the prompt's end starts the key's timeout
    try:
        await call.services.ari.play(leg.channel_id, [f"sound:{s}" for s in screen.sounds],
                                     playback_id)
    except AriError as exc:
        call.log.warning("whisper failed", phone_id=leg.phone_id, error=str(exc))
        if screen.confirm_key is None:
            leg.ready_at = call.clock()  # a whisper is a courtesy: connect without it
            return
        wait_s = screen.timeout_s  # no prompt will end: the key's time starts now
    if screen.confirm_key is not None:
        leg.timer = call.inbox.after(wait_s, ConfirmTimeout(leg.id, playback_id))


async def playback_finished(call: Call, leg: Leg, playback_id: str, at: datetime) -> None:
    """The whisper (and prompt) ended: a whisper-only leg is ready; a screened
    one has ``timeout_s`` from now to press its key."""
    screen = leg.screen
    if screen is None or playback_id != leg.screen_playback or not leg.confirming:
        return
    if screen.confirm_key is None:
        leg.ready_at = at
        return
    if leg.timer:
        leg.timer.cancel()
    leg.timer = call.inbox.after(screen.timeout_s, ConfirmTimeout(leg.id, playback_id))


async def key_pressed(call: Call, leg: Leg, digit: str, at: datetime) -> None:
    """A key from the answering phone: the confirm key makes it ready (at
    Asterisk's time of the key); any other key ends it ``unconfirmed``."""
    screen = leg.screen
    if screen is None or screen.confirm_key is None or not leg.confirming:
        return
    if digit != screen.confirm_key:
        call.log.info("wrong confirm key", phone_id=leg.phone_id, digit=digit)
        await unconfirmed(call, leg)
        return
    leg.confirmed_at = leg.ready_at = at
    if leg.timer:
        leg.timer.cancel()
    if leg.screen_playback:
        await call.ari_quietly(call.services.ari.stop_playback(leg.screen_playback))
    call.log.info("phone confirmed", phone_id=leg.phone_id)


async def timed_out(call: Call, event: ConfirmTimeout) -> None:
    leg = call.legs.get(str(event.leg_id))
    if leg is not None and leg.confirming and leg.screen_playback == event.playback_id:
        call.log.info("no confirm key in time", phone_id=leg.phone_id)
        await unconfirmed(call, leg)


async def unconfirmed(call: Call, leg: Leg, at: datetime | None = None,
                      hangup: str | None = "normal") -> None:
    """End a screened leg that did not confirm; its phone is free at once."""
    await call.legs.end(leg, LegResult.UNCONFIRMED, at or call.clock(), hangup=hangup)
    after_confirming(call)


def after_confirming(call: Call) -> None:
    """No phone confirms any more: the call is ringing again."""
    if call.state.current is State.CONFIRMING and not any(leg.confirming for leg in call.legs):
        call.state.to(State.RINGING)


# --- what `plan explain` says about it (pure) ----------------------------------------


def explain(hotline: Hotline, group: Group, caller: str, menu: bool) -> dict[str, str]:
    """What the caller and the answering phone hear, the caller id shown and
    where billing starts, in words, for ``plan explain``."""
    settings = hotline.screening
    keys = {p.phone_id: p.confirm_key for p in hotline.phones}
    members = ([m.phone_id for m in group.members] if group.members is not None
               else list(keys))
    screens = {phone_id: screen_for(settings, group, keys.get(phone_id))
               for phone_id in members}
    asked = {s.confirm_key for s in screens.values() if s and s.confirm_key}
    off = [str(p) for p, s in screens.items() if s is None or s.confirm_key is None]
    if asked:
        prompt = ",".join(settings.confirm_prompt)
        screening = (f"confirm key {'/'.join(sorted(asked))} within "
                     f"{settings.confirm_timeout_s} s after '{prompt}'; no key: unconfirmed, "
                     "the hunt goes on" + (f" (not screened: phone {', '.join(off)})"
                                           if off else ""))
    else:
        screening = "off: the first phone to answer takes the call"
    number, name = caller_id_for(settings, group, caller, hotline.number)
    ringback = (f"'{','.join(settings.ringback)}' looped as early media (企业彩铃, not billed)"
                if settings.ringback else "the ring tone")
    if menu:
        billing = "at the voice menu's answer"
    elif asked and not off:
        billing = "at the phone's confirm key"
    elif asked:
        billing = "at the phone's confirm key (its answer where not screened)"
    else:
        billing = ("when the whisper to the phone ends" if settings.whisper
                   else "at the phone's answer")
    return {"screening": screening,
            "whisper": ",".join(settings.whisper) or "none",
            "ringback": ringback,
            "caller_id_shown": f"{number} ({name})",
            "billing_starts": billing}

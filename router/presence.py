"""An agent's presence (示忙/示闲, 小休): signed in, signed out, or paused with a reason.

Only a signed-in phone is offered calls (router/directory.py ``Lookup.idle``,
re-checked by the claim, router/claims.py). The state lives in
``phone_state.presence`` and changes through the SQL function
``set_presence()`` (migrations/0020_presence.sql), which a trigger logs in
``presence_history`` with where the change came from: ``cli``, ``sql``,
``phone`` (a feature code dialled on the phone, handled here) or ``auto``
(auto-pause after missed calls, the same migration).

Feature codes reach the router as a Stasis call whose dialled extension
starts with ``*`` (dialplan/extensions.conf, ``[phone-features]``). The phone
is recognised by what Asterisk knows of the call: a phone dialled as
``PJSIP/<endpoint>`` by the endpoint the call came in on; a phone dialled as
``PJSIP/phones/sip:USER@HOST:PORT`` (the generic endpoint, which has no
registration) by the address the call came from, HOST:PORT. The router then
sends the channel to ``[phone-feature-said]`` to hear the outcome.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog

from router import metrics
from router.settings import Settings

log = structlog.get_logger("router.presence")

# Where the dialplan plays the outcome of a feature code (dialplan/extensions.conf).
SAID_CONTEXT = "phone-feature-said"
# The generic endpoint of dialplan/pjsip.conf: phones reached through it are
# recognised by their address. Trunks are never: a carrier's address is shared
# by every caller it carries.
GENERIC_ENDPOINT = "phones"
# Pause reason when the agent dials the pause code without digits.
DEFAULT_PAUSE_REASON = "break"


class Presence(StrEnum):
    """What ``phone_state.presence`` holds."""

    SIGNED_IN = "signed_in"
    SIGNED_OUT = "signed_out"
    PAUSED = "paused"


class Source(StrEnum):
    """Where a change came from (``presence_history.source``)."""

    CLI = "cli"
    SQL = "sql"
    PHONE = "phone"
    AUTO = "auto"


class PresenceError(ValueError):
    """A change that cannot be made; the message says what to do instead."""


@dataclass(frozen=True)
class Request:
    """What a feature code asks: a presence (with its reason), or a resume."""

    presence: Presence
    reason: str | None = None
    resume: bool = False  # only from a pause


def parse_code(dialled: str, settings: Settings) -> Request | None:
    """The request a dialled feature code makes, or None when it is none of them.

    ``*73`` alone pauses with reason 'break'; ``*73`` then 1-6 digits pauses
    with those digits as the reason (``*7312`` -> '12'). Codes are the
    ``presence_*_code`` settings.
    """
    if dialled == settings.presence_sign_in_code:
        return Request(Presence.SIGNED_IN)
    if dialled == settings.presence_sign_out_code:
        return Request(Presence.SIGNED_OUT)
    if dialled == settings.presence_resume_code:
        return Request(Presence.SIGNED_IN, resume=True)
    code = settings.presence_pause_code
    if dialled.startswith(code):
        digits = dialled[len(code):]
        if digits == "":
            return Request(Presence.PAUSED, DEFAULT_PAUSE_REASON)
        if re.fullmatch(r"[0-9]{1,6}", digits):
            return Request(Presence.PAUSED, digits)
    return None


async def change(db: Any, phone_id: int, presence: Presence, reason: str | None,
                 source: Source, who: str) -> bool:
    """Set one phone's presence (``set_presence()``); True when it changed.

    Raises asyncpg's CheckViolationError for a pause without a reason (and the
    like) and ForeignKeyViolationError for an unknown phone, with the
    database's message.
    """
    return bool(await db.fetchval("SELECT set_presence($1, $2, $3, $4, $5)",
                                  phone_id, presence.value, reason, source.value, who))


async def resume(db: Any, phone_id: int, source: Source, who: str) -> bool:
    """End a pause: the phone is signed in again. PresenceError when it is not
    paused (a signed-out phone signs in instead: resuming is for a pause)."""
    resumed = await db.fetchval(
        """SELECT set_presence(phone_id, 'signed_in', NULL, $2, $3) FROM phone_state
           WHERE phone_id = $1 AND presence = 'paused'""", phone_id, source.value, who)
    if resumed is not None:
        return bool(resumed)
    current = await db.fetchval("SELECT presence FROM phone_state WHERE phone_id = $1", phone_id)
    if current is None:
        raise PresenceError(f"no phone with id {phone_id}")
    raise PresenceError(f"phone {phone_id} is {current.replace('_', ' ')}, not paused: "
                        "nothing to resume (sign it in instead)")


# A dial string through the generic endpoint: PJSIP/phones/sip:USER@HOST[:PORT][;params]
_ADDRESS = re.compile(r"^PJSIP/([^/]+)/sips?:(?:[^@;]*@)?([^;>?]+)")

_IDENTIFY = """
SELECT id FROM phones
WHERE enabled AND (dial_string = 'PJSIP/' || $1
    OR (dial_string LIKE 'PJSIP/' || $4 || '/sip%'
        AND substring(dial_string FROM '^PJSIP/[^/]+/sips?:(?:[^@;]*@)?([^;>?]+)')
            IN ($2, $3)))
ORDER BY id
"""


def address_of(dial_string: str) -> str | None:
    """HOST:PORT a generic-endpoint dial string reaches (port 5060 when none is
    given), or None for any other dial string."""
    found = _ADDRESS.match(dial_string)
    if found is None or found.group(1) != GENERIC_ENDPOINT:
        return None
    host = found.group(2)
    return host if re.search(r":[0-9]+$", host) else f"{host}:5060"


async def identify(db: Any, endpoint: str, remote_address: str) -> list[int]:
    """The enabled phones a call from ``endpoint`` at ``remote_address``
    (HOST:PORT, as Asterisk's CHANNEL(pjsip,remote_addr) gives it) belongs to:
    the phone dialled as PJSIP/<endpoint>, and any phone dialled through the
    generic endpoint at that address (a desk phone with several lines is one
    device). Empty when none."""
    bare = remote_address[:-len(":5060")] if remote_address.endswith(":5060") else None
    rows = await db.fetch(_IDENTIFY, endpoint, remote_address, bare, GENERIC_ENDPOINT)
    return [row["id"] for row in rows]


def endpoint_of(channel_name: str) -> str:
    """The endpoint of a PJSIP channel name ('PJSIP/callers-0000001a' -> 'callers')."""
    technology, _, rest = channel_name.partition("/")
    if technology != "PJSIP" or not rest:
        return ""
    return rest.rpartition("-")[0] or rest


_SAID = {Presence.SIGNED_IN: "signed-in", Presence.SIGNED_OUT: "signed-out",
         Presence.PAUSED: "paused"}


async def feature_call(ari: Any, db: Any, settings: Settings, channel_id: str,
                       channel_name: str, dialled: str) -> str:
    """Handle a feature code dialled on a phone; returns what the agent hears
    (the extension of ``[phone-feature-said]``: signed-in, signed-out, paused,
    refused). Refused: an unknown code, a phone not recognised, a resume when
    not paused. The channel always leaves Stasis for the dialplan."""
    said = "refused"
    try:
        said = await _apply(ari, db, settings, channel_id, channel_name, dialled)
    except PresenceError as exc:
        log.info("feature code refused", dialled=dialled, reason=str(exc))
    except Exception:
        log.exception("feature code failed", dialled=dialled)
    finally:
        metrics.PRESENCE_CODES.labels(outcome=said).inc()
        try:
            await ari.continue_in_dialplan(channel_id, SAID_CONTEXT, said)
        except Exception as exc:  # the agent hung up: nothing to say
            log.info("feature code outcome not played", channel=channel_id, error=str(exc))
    return said


async def _apply(ari: Any, db: Any, settings: Settings, channel_id: str, channel_name: str,
                 dialled: str) -> str:
    request = parse_code(dialled, settings)
    if request is None:
        raise PresenceError(f"{dialled} is not a feature code")
    endpoint = endpoint_of(channel_name)
    remote = await ari.get_variable(channel_id, "CHANNEL(pjsip,remote_addr)")
    phones = await identify(db, endpoint, remote)
    if not phones:
        raise PresenceError(f"no bound phone is at endpoint {endpoint!r} or {remote}")
    who = f"{endpoint} {remote}".strip()
    for phone_id in phones:
        if request.resume:
            await resume(db, phone_id, Source.PHONE, who)
        else:
            await change(db, phone_id, request.presence, request.reason, Source.PHONE, who)
        log.info("presence changed by the phone", phone=phone_id,
                 presence=request.presence.value, reason=request.reason, who=who)
    return _SAID[request.presence]


_STATUS = """
SELECT p.id AS phone, p.dial_string, p.label, p.enabled, s.presence, s.presence_reason AS reason,
       s.presence_since AS since, s.active_calls, p.capacity, s.last_call_ended_at,
       p.wrap_up_s, s.offer_after, s.missed_in_a_row
FROM phones p JOIN phone_state s ON s.phone_id = p.id
WHERE $1::bigint IS NULL
   OR p.id IN (SELECT b.phone_id FROM bound_phones b WHERE b.hotline_id = $1)
ORDER BY p.id
"""


async def status(db: Any, hotline_id: int | None = None) -> list[dict[str, Any]]:
    """Every phone (or a hotline's) with its presence, the reason, since when
    (UTC), and ``state``: what a call sees now, the stored presence or the
    derived busy / ringing / wrap-up / delayed (``derived_state``)."""
    rows = await db.fetch(_STATUS, hotline_id)
    now = await db.fetchval("SELECT now()")
    ringing = {row["phone_id"] for row in await db.fetch(
        """SELECT DISTINCT c.phone_id FROM phone_claims c JOIN call_legs l ON l.id = c.leg_id
           WHERE l.answered_at IS NULL AND l.ended_at IS NULL""")}
    return [{**dict(row), "state": derived_state(row, now, row["phone"] in ringing)}
            for row in rows]


def derived_state(row: Any, now: Any, ringing: bool) -> str:
    """What a call would find: disabled, signed out, paused, busy, ringing,
    wrap-up, delayed (after a reject or no answer) or idle."""
    if not row["enabled"]:
        return "disabled"
    if row["presence"] != Presence.SIGNED_IN:
        return str(row["presence"]).replace("_", " ")
    if ringing and row["active_calls"] >= row["capacity"]:
        return "ringing"
    if row["active_calls"] >= row["capacity"]:
        return "busy"
    if (row["wrap_up_s"] and row["last_call_ended_at"] is not None
            and (now - row["last_call_ended_at"]).total_seconds() < row["wrap_up_s"]):
        return "wrap-up"
    if row["offer_after"] is not None and row["offer_after"] > now:
        return "delayed"
    return "idle"

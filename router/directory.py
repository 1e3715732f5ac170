"""Reading a hotline, its bound phones and their shared busy state.

Two ways, same result: one query against the tables, or the in-memory
configuration :class:`Snapshot` (kept fresh by router/live_config.py) plus one
query for the phones' busy state. Busy state always comes fresh from the
database: claims, not this read, are what keep two calls off one phone.

The snapshot's query also answers what a new call asks next, saving a round
trip each before the first phone rings: whether billing refuses the hotline's
calls, and, where the call can only go to the hotline's own strategy, its
round-robin number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any

import strategies
from router.billing.balance import refusal_sql
from router.plan import Group, Plan, default_group
from router.plan_store import Plans, load_plans, sound_list
from router.recordings.policy import RecordingPolicy
from strategies import Candidate


class Overflow(StrEnum):
    """What a hotline does when no phone takes a call (``hotlines.overflow``)."""

    BUSY = "busy"        # the busy announcement
    QUEUE = "queue"      # music while waiting for a phone to free
    FORWARD = "forward"  # ring the hotline's forward number
    VOICEMAIL = "voicemail"  # take a message (router/call/voicemail.py)


@dataclass(frozen=True)
class Voicemail:
    """Taking a message (migration 0018): on closed hours when ``when_closed``;
    ``prompt`` before the beep; at most ``max_s`` seconds."""

    when_closed: bool = False
    max_s: int = 60
    prompt: tuple[str, ...] = ("vm-intro",)


@dataclass(frozen=True)
class BoundPhone:
    """A phone bound to a hotline, as configured (enabled binding and phone)."""

    phone_id: int
    dial_string: str
    position: int
    capacity: int
    weight: int
    wrap_up_s: int
    confirm_key: str | None = None  # overrides the group's and hotline's; None: theirs


@dataclass(frozen=True)
class Screening:
    """What the answering phone hears, and whether it must confirm (migration 0013).

    ``confirm_key`` 'none' or one key ('0'-'9', '*', '#'); sounds are Asterisk
    sound names played in order; ``caller_id_shown`` 'caller', 'hotline' or 'prefix'.
    """

    confirm_key: str = "none"
    confirm_timeout_s: int = 10
    confirm_prompt: tuple[str, ...] = ("beep",)
    whisper: tuple[str, ...] = ()
    ringback: tuple[str, ...] = ()
    caller_id_shown: str = "caller"
    caller_id_prefix: str | None = None


@dataclass(frozen=True)
class QueueRules:
    """How the hotline's hold queue behaves (migration 0019; router/call/queue.py).

    ``max_waiting`` None: no limit; ``announce_every_s`` 0: the position only
    on joining; ``overflow`` what a caller who cannot wait gets: 'busy', 'forward'
    or 'voicemail'.
    """

    max_waiting: int | None = None
    music_class: str = "default"
    announce_position: bool = False
    announce_every_s: int = 0
    announce_hold: bool = False
    overflow: str = "busy"


@dataclass(frozen=True)
class PhoneState:
    """A phone's shared busy state, read fresh from the database (``phone_state``)."""

    active_calls: int = 0
    last_call_ended_at: datetime | None = None
    calls_today: int = 0
    talk_ms_today: int = 0
    presence: str = "signed_in"            # signed_in | signed_out | paused (0020)
    offer_after: datetime | None = None    # not offered before (reject / no-answer delay)


@dataclass(frozen=True)
class Hotline:
    """A hotline as configured, with its enabled bound phones in hunting order."""

    id: int
    number: str
    enabled: bool
    strategy: str
    strategy_options: dict[str, Any]
    ring_timeout_s: int
    total_timeout_s: int
    max_attempts: int | None
    overflow: Overflow
    overflow_max_wait_s: int
    overflow_forward_to: str | None
    phones: tuple[BoundPhone, ...]
    plan: Plan = field(default_factory=Plan)
    screening: Screening = field(default_factory=Screening)
    recording: RecordingPolicy = field(default_factory=RecordingPolicy)
    voicemail: Voicemail = field(default_factory=Voicemail)
    queue: QueueRules = field(default_factory=QueueRules)

    @cached_property
    def hunts_at_once(self) -> bool:
        """Whether every call rings the hotline's own phones with its own rule
        (nothing in the plan can refuse or divert it) and that rule takes turns
        (round-robin numbers): then the number is taken with the lookup.
        Worked out once per snapshot, not per call (it scans the caller lists)."""
        if not self.enabled or self.number.startswith("800") or self.plan.rules:
            return False
        if any(entry.list == "blacklist" for entry in self.plan.lists):
            return False
        try:
            return bool(getattr(strategies.get(self.strategy), "uses_call_number", False))
        except strategies.UnknownStrategy:
            return False

    def default_group(self) -> Group:
        """Its own strategy over all its bound phones: a hotline without a plan."""
        return default_group(self.number, self.strategy, self.strategy_options)


@dataclass(frozen=True)
class Lookup:
    """What one lookup of a hotline found: its configuration and its phones' busy state.

    Only phones with a state are present: one deleted since the snapshot has
    none, and while the database is away a router sees only its own share.
    ``refuses_calls`` and ``call_number`` are None when not read with it.
    """

    hotline: Hotline
    states: Mapping[int, PhoneState]
    refuses_calls: bool | None = field(default=None, compare=False)
    call_number: int | None = field(default=None, compare=False)
    # Dial strings whose endpoint Asterisk reports offline (router/endpoints.py).
    offline: frozenset[str] = field(default=frozenset(), compare=False)

    @cached_property
    def phones(self) -> tuple[BoundPhone, ...]:
        """The hotline's phones present in this lookup, in hunting order."""
        return tuple(p for p in self.hotline.phones if p.phone_id in self.states)

    def idle(self, phone: BoundPhone, now: datetime) -> bool:
        """Signed in, reachable (its endpoint not offline), past any reject /
        no-answer delay, below capacity and out of wrap-up (the claim re-checks
        all but reachability atomically)."""
        state = self.states[phone.phone_id]
        if state.active_calls >= phone.capacity or state.presence != "signed_in":
            return False
        if phone.dial_string in self.offline:  # unregistered: it would only fail
            return False
        if state.offer_after is not None and state.offer_after > now:
            return False
        return (phone.wrap_up_s == 0 or state.last_call_ended_at is None
                or state.last_call_ended_at + timedelta(seconds=phone.wrap_up_s) <= now)

    def idle_candidates(self, now: datetime, group: Group | None = None) -> list[Candidate]:
        """The idle phones of ``group`` (default: all the hotline's phones), as a
        strategy sees them; a group gives its own order and weights."""
        if group is None or group.members is None:
            return [self._candidate(p, p.position, index, p.weight)
                    for index, p in enumerate(self.phones) if self.idle(p, now)]
        # A group's members that are enabled bound phones, in the group's order.
        bound = {p.phone_id: p for p in self.phones}
        members = [m for m in group.members if m.phone_id in bound]
        return [self._candidate(bound[m.phone_id], m.position, index, m.weight)
                for index, m in enumerate(members) if self.idle(bound[m.phone_id], now)]

    def member_count(self, group: Group | None = None) -> int:
        """Enabled phones in ``group``, busy or not."""
        if group is None or group.members is None:
            return len(self.phones)
        bound = {p.phone_id for p in self.phones}
        return sum(1 for m in group.members if m.phone_id in bound)

    def _candidate(self, phone: BoundPhone, position: int, index: int,
                   weight: int) -> Candidate:
        state = self.states[phone.phone_id]
        return Candidate(phone_id=phone.phone_id, dial_string=phone.dial_string,
                         position=position, index=index, capacity=phone.capacity,
                         active_calls=state.active_calls, weight=weight,
                         last_call_ended_at=state.last_call_ended_at,
                         calls_today=state.calls_today, talk_ms_today=state.talk_ms_today)


_LOOKUP = """
SELECT h.id, h.number, h.enabled, h.strategy, h.strategy_options, h.ring_timeout_s,
       h.total_timeout_s, h.max_attempts, h.overflow, h.overflow_max_wait_s,
       h.overflow_forward_to, h.confirm_key, h.confirm_timeout_s, h.confirm_prompt,
       h.whisper_sound, h.ringback_sound, h.caller_id_shown, h.caller_id_prefix,
       h.record_percent, h.record_format, h.record_notice, h.record_retention_days,
       h.closed_action, h.voicemail_max_s, h.voicemail_prompt,
       h.queue_max_waiting, h.queue_music_class, h.queue_announce_position,
       h.queue_announce_every_s, h.queue_announce_hold, h.queue_overflow,
       p.id AS phone_id, p.dial_string, b.position, b.weight, p.capacity, p.wrap_up_s,
       b.confirm_key AS phone_confirm_key, s.active_calls, s.last_call_ended_at,
       s.presence, s.offer_after,
       CASE WHEN s.stats_day = stats_today() THEN s.calls_today ELSE 0 END AS calls_today,
       CASE WHEN s.stats_day = stats_today() THEN s.talk_ms_today ELSE 0 END AS talk_ms_today
FROM hotlines h
LEFT JOIN bound_phones b ON b.hotline_id = h.id AND b.enabled
LEFT JOIN phones p ON p.id = b.phone_id AND p.enabled
LEFT JOIN phone_state s ON s.phone_id = p.id
WHERE h.number = $1
ORDER BY b.position, p.id
"""


async def find_hotline(db: Any, number: str, snapshot: Snapshot | None = None,
                       new_call: bool = False) -> Lookup | None:
    """The hotline dialled as ``number`` with its phones' busy state, or None.

    With a ``snapshot`` the configuration comes from memory and only the busy
    state from the database. A number the snapshot does not know is looked up
    in the tables, so a hotline created a moment ago answers its first call.
    For a ``new_call`` the snapshot's read also takes the call's round-robin
    number where :attr:`Hotline.hunts_at_once` (``call_number``).
    """
    if snapshot is not None and number in snapshot.hotlines:
        return await _from_snapshot(db, snapshot.hotlines[number], new_call)
    rows = await db.fetch(_LOOKUP, number)
    if not rows:
        return None
    bound = [r for r in rows if r["phone_id"] is not None]
    hotline = _hotline(rows[0], [_bound(r) for r in bound], await load_plans(db, rows[0]["id"]))
    return Lookup(hotline, {r["phone_id"]: _state(r) for r in bound})


def _hotline(head: Any, phones: list[BoundPhone], plans: Plans) -> Hotline:
    return Hotline(id=head["id"], number=head["number"], enabled=head["enabled"],
                   strategy=head["strategy"], strategy_options=dict(head["strategy_options"]),
                   ring_timeout_s=head["ring_timeout_s"],
                   total_timeout_s=head["total_timeout_s"], max_attempts=head["max_attempts"],
                   overflow=Overflow(head["overflow"]),
                   overflow_max_wait_s=head["overflow_max_wait_s"],
                   overflow_forward_to=head["overflow_forward_to"], phones=tuple(phones),
                   plan=plans.of(head["id"]), screening=_screening(head),
                   recording=_recording(head),
                   voicemail=Voicemail(when_closed=head["closed_action"] == "voicemail",
                                       max_s=head["voicemail_max_s"],
                                       prompt=sound_list(head["voicemail_prompt"])),
                   queue=_queue_rules(head))


def _recording(head: Any) -> RecordingPolicy:
    return RecordingPolicy(percent=head["record_percent"], file_format=head["record_format"],
                           notice=sound_list(head["record_notice"]),
                           retention_days=head["record_retention_days"])


def _queue_rules(head: Any) -> QueueRules:
    return QueueRules(max_waiting=head["queue_max_waiting"],
                      music_class=head["queue_music_class"],
                      announce_position=head["queue_announce_position"],
                      announce_every_s=head["queue_announce_every_s"],
                      announce_hold=head["queue_announce_hold"],
                      overflow=head["queue_overflow"])


def _screening(head: Any) -> Screening:
    return Screening(confirm_key=head["confirm_key"],
                     confirm_timeout_s=head["confirm_timeout_s"],
                     confirm_prompt=sound_list(head["confirm_prompt"]),
                     whisper=sound_list(head["whisper_sound"]),
                     ringback=sound_list(head["ringback_sound"]),
                     caller_id_shown=head["caller_id_shown"],
                     caller_id_prefix=head["caller_id_prefix"])


def _bound(row: Any) -> BoundPhone:
    return BoundPhone(phone_id=row["phone_id"], dial_string=row["dial_string"],
                      position=row["position"], capacity=row["capacity"], weight=row["weight"],
                      wrap_up_s=row["wrap_up_s"], confirm_key=row["phone_confirm_key"])


def _state(row: Any) -> PhoneState:
    return PhoneState(active_calls=row["active_calls"],
                      last_call_ended_at=row["last_call_ended_at"],
                      calls_today=row["calls_today"], talk_ms_today=row["talk_ms_today"],
                      presence=row["presence"], offer_after=row["offer_after"])


# --- the configuration snapshot --------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Every hotline by number, with its enabled bound phones in hunting order."""

    hotlines: Mapping[str, Hotline] = field(default_factory=dict)

    @property
    def phone_count(self) -> int:
        return len({p.phone_id for h in self.hotlines.values() for p in h.phones})


_ALL = """
SELECT h.id, h.number, h.enabled, h.strategy, h.strategy_options, h.ring_timeout_s,
       h.total_timeout_s, h.max_attempts, h.overflow, h.overflow_max_wait_s,
       h.overflow_forward_to, h.confirm_key, h.confirm_timeout_s, h.confirm_prompt,
       h.whisper_sound, h.ringback_sound, h.caller_id_shown, h.caller_id_prefix,
       h.record_percent, h.record_format, h.record_notice, h.record_retention_days,
       h.closed_action, h.voicemail_max_s, h.voicemail_prompt,
       h.queue_max_waiting, h.queue_music_class, h.queue_announce_position,
       h.queue_announce_every_s, h.queue_announce_hold, h.queue_overflow,
       p.id AS phone_id, p.dial_string, b.position, b.weight, p.capacity, p.wrap_up_s,
       b.confirm_key AS phone_confirm_key
FROM hotlines h
LEFT JOIN bound_phones b ON b.hotline_id = h.id AND b.enabled
LEFT JOIN phones p ON p.id = b.phone_id AND p.enabled
ORDER BY h.number, b.position, p.id
"""

# One row at least (phone_id NULL when the hotline has no phone), so the
# refusal and the round-robin number ($3: take one) always come back.
_BUSY = f"""
WITH turn AS (
    INSERT INTO hotline_state (hotline_id, calls_routed) SELECT $2, 1 WHERE $3
    ON CONFLICT (hotline_id) DO UPDATE SET calls_routed = hotline_state.calls_routed + 1
    RETURNING calls_routed - 1 AS call_number)
SELECT (SELECT call_number FROM turn) AS call_number, {refusal_sql('$2')} AS refuses,
       s.phone_id, s.active_calls, s.last_call_ended_at, s.presence, s.offer_after,
       CASE WHEN s.stats_day = stats_today() THEN s.calls_today ELSE 0 END AS calls_today,
       CASE WHEN s.stats_day = stats_today() THEN s.talk_ms_today ELSE 0 END AS talk_ms_today
FROM (VALUES (1)) AS one
LEFT JOIN phone_state s ON s.phone_id = ANY($1::bigint[])
"""


async def load_snapshot(db: Any) -> Snapshot:
    """The whole configuration, read in one consistent transaction."""
    phones: dict[str, list[BoundPhone]] = {}
    heads: dict[str, Any] = {}
    rows, plans = await _read_all(db)
    for row in rows:
        heads.setdefault(row["number"], row)
        bound = phones.setdefault(row["number"], [])
        if row["phone_id"] is not None:
            bound.append(_bound(row))
    return Snapshot({number: _hotline(head, phones[number], plans)
                     for number, head in heads.items()})


async def _read_all(db: Any) -> tuple[list[Any], Plans]:
    """Hotlines with phones, and every plan, as of one moment."""
    if hasattr(db, "acquire"):
        async with db.acquire() as connection:
            return await _read_all(connection)
    async with db.transaction(isolation="repeatable_read", readonly=True):
        return list(await db.fetch(_ALL)), await load_plans(db)


async def _from_snapshot(db: Any, hotline: Hotline, new_call: bool) -> Lookup:
    rows = await db.fetch(_BUSY, [p.phone_id for p in hotline.phones], hotline.id,
                          new_call and hotline.hunts_at_once)
    return Lookup(hotline, {r["phone_id"]: _state(r) for r in rows if r["phone_id"] is not None},
                  refuses_calls=rows[0]["refuses"], call_number=rows[0]["call_number"])

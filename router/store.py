"""The call path's view of PostgreSQL, which keeps calls going while it is away.

While the database answers, every operation goes straight to it. When an
operation finds it unreachable (refused, reset, or silent past a short
timeout) the store turns *degraded* and the router keeps routing:

- the configuration comes from the last snapshot the router loaded;
- busy state is the router's own: it claims only phones of its share (phone
  id modulo the routers that were alive, so two routers never both use a
  phone they cannot see each other claim), up to each phone's capacity;
- call records go to the local spool (router/spool.py), in order, durably.

Fencing: the routers alive are those whose lease (a heartbeat in the
database) is current. A degraded router cannot renew its own, so once most of
its lease has run out it is *fenced*: its peers may soon count it dead, adopt
its calls and use all its phones, so it claims no phone any more and declines
new calls (router/service.py hands them to a peer or the dialplan's fallback).

A watcher probes the database every second; once it answers, the spool is
replayed in order, the claims taken meanwhile are written back, and the
store is healthy again. Writes keep going to the spool until it is empty, so
records reach the database in the order they happened.

When the spool refuses a write too (a full or read-only disk) the record is
kept in memory, behind the spooled ones, and written back the same way; a
write never raises, so a call's teardown always completes. Meanwhile the
router cannot record a call durably: :attr:`Store.can_record` is False, which
``/readyz`` reports and new calls are declined by.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

import asyncpg
import structlog

from router import claims, deadline, metrics, rotation, transfer_rules, waiting
from router.billing import balance
from router.directory import Lookup, PhoneState, Snapshot, find_hotline
from router.records import sql as records
from router.records.kinds import AnyRecord, ClaimReleased
from router.spool import Spool
from router.transfer_rules import TransferRules

log = structlog.get_logger("router.store")
T = TypeVar("T")


# A degraded router fences itself this far into its lease, leaving the rest for
# clock differences and a heartbeat in flight.
FENCE_AT_LEASE_SHARE = 0.8
# A router without a lease setting: how long before its queued callers count as gone.
DEFAULT_LEASE_S = 15.0
# The longest a hold-queue operation may take before the caller looks again later.
QUEUE_TIMEOUT_S = 5.0


# PostgreSQL's "cannot execute … in a read-only transaction" (Appendix A).
READ_ONLY_SQL_TRANSACTION = "25006"


class Unavailable(Exception):
    """The database did not answer."""


def unreachable(exc: BaseException) -> bool:
    """True for failures that mean "the database is away", not "the request was wrong".

    Any connection-level failure counts: refused, reset, timed out, a session
    killed (``pg_terminate_backend``: admin shutdown, then a closed
    connection), a connection left mid-operation by a cancelled request
    (InternalClientError "another operation is in progress"), a pool that
    cannot open a new connection, no host of a multi-host URL taking writes
    (``target_session_attrs=read-write`` during a switchover), and a server
    that is a read-only standby now (SQLSTATE 25006: a connection made before
    it was demoted, or a URL without ``target_session_attrs``). The write it
    interrupted may or may not have committed; every write is idempotent, so
    it is spooled and replayed.
    """
    if isinstance(exc, ValueError):
        # asyncpg's own DataError ("invalid input for query argument") and
        # ClientConfigurationError are InterfaceErrors too, but the request was
        # wrong: a replay would fail the same way for ever.
        return False
    if isinstance(exc, OSError | TimeoutError | EOFError | asyncpg.exceptions.InterfaceError
                  | asyncpg.exceptions.InternalClientError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        # connection exception, operator intervention (shutdown), out of
        # resources; a read-only standby: the primary is elsewhere for now
        sqlstate = str(getattr(exc, "sqlstate", "") or "")
        return sqlstate[:2] in ("08", "57", "53") or sqlstate == READ_ONLY_SQL_TRANSACTION
    return False


def rolled_back(exc: BaseException) -> bool:
    """A statement PostgreSQL rolled back for another transaction's sake, not
    refused: a deadlock or a serialization failure (SQLSTATE class 40). The
    same statement can be run again (PostgreSQL's docs, "Serialization Failure
    Handling")."""
    return (isinstance(exc, asyncpg.PostgresError)
            and str(getattr(exc, "sqlstate", "") or "").startswith("40"))


# How many times a rolled-back record write is tried again before it is kept aside.
ROLLED_BACK_RETRIES = 3


@dataclass(frozen=True)
class LocalClaim:
    phone_id: int
    call_id: UUID


class Store:
    def __init__(self, pool: Any, router_id: str, spool: Spool,
                 snapshot: Callable[[], Snapshot | None],
                 fresh_snapshot: Callable[[], Snapshot | None],
                 timeout_s: float = 1.0, lease_s: float | None = None) -> None:
        self.db = pool
        self.lease_s = lease_s  # this router's lease in the database (None: not fenced)
        self.monotonic: Callable[[], float] = time.monotonic  # seconds, for the lease
        self._lease_renewed_at = self.monotonic()
        self._fenced_logged = False
        self.router_id = router_id
        self.spool = spool
        self._snapshot = snapshot
        self._fresh_snapshot = fresh_snapshot
        self.timeout_s = timeout_s
        self.healthy = True
        self.held: dict[UUID, int] = {}  # every live claim of this router: leg -> phone
        self.local: dict[UUID, LocalClaim] = {}  # those taken while degraded
        self.routers_alive: list[str] = [router_id]
        # Peers that say (in Asterisk) they cannot reach the database: they claim
        # only their share of the phones without the database, so this router
        # keeps to its own share too until they are back.
        self.peers_degraded: set[str] = set()
        # Live phone legs per phone, as Asterisk shows them (any router's), by
        # channel id -> phone id; None: not asked. Read while degraded, when the
        # database cannot say what other routers claimed just before the outage.
        self.live_legs: Callable[[], Awaitable[dict[str, int]]] | None = None
        # Dial strings of endpoints Asterisk reports offline (router/endpoints.py):
        # every lookup carries them, so no strategy rings one.
        self.offline_endpoints: Callable[[], frozenset[str]] = frozenset
        # Each phone's presence as last read (docs/presence.md): while the database
        # is away a paused or signed-out phone stays unrung.
        self.presence_seen: dict[int, str] = {}
        self._rotation: Counter[int] = Counter()
        # Records neither the database nor the spool took, in order, behind the spooled ones.
        self.unsaved: list[AnyRecord] = []
        self._retried = 0  # records replayed and claims written back since the outage began
        self._away_since: float | None = None  # loop time the database went away
        metrics.RECORDS_SPOOLED.set(spool.pending)
        metrics.RECORDS_UNSAVED.set(0)
        metrics.CANNOT_RECORD.set(0)

    @property
    def can_record(self) -> bool:
        """False while a record could go neither to the database nor to the spool."""
        return self.healthy or not self.unsaved

    # --- what a call asks ---------------------------------------------------

    async def find_hotline(self, number: str, new_call: bool = False) -> Lookup | None:
        """The hotline dialled as ``number`` with its phones' busy state, or None.

        Phones whose endpoint Asterisk reports offline are never idle in it.
        """
        lookup = await self._find_hotline(number, new_call)
        offline = self.offline_endpoints()
        if lookup is None or not offline:
            return lookup
        return replace(lookup, offline=offline)

    async def _find_hotline(self, number: str, new_call: bool = False) -> Lookup | None:
        """The hotline dialled as ``number`` with its phones' busy state, or None.

        While degraded: from the last snapshot, with only this router's share of
        the phones, its own claims as their busy state and their presence as
        last read.
        Raises Unavailable when the database is away and no snapshot was loaded.
        """
        if self.healthy:
            with contextlib.suppress(Unavailable):
                found = await self._run("lookup", find_hotline(self.db, number,
                                                               self._fresh_snapshot(), new_call))
                if found is not None:
                    self.presence_seen.update(
                        (phone, state.presence) for phone, state in found.states.items())
                return found
        snapshot = self._snapshot()
        if snapshot is None:
            raise Unavailable("no configuration loaded and the database is away")
        hotline = snapshot.hotlines.get(number)
        if hotline is None:
            return None
        busy = Counter(self.held.values())
        return Lookup(hotline, {p.phone_id: PhoneState(
                                    active_calls=busy[p.phone_id],
                                    presence=self.presence_seen.get(p.phone_id, "signed_in"))
                                for p in hotline.phones if self._mine(p.phone_id)})

    def configuration(self) -> Snapshot | None:
        """The live configuration, when it is known to be current (None: read
        the tables)."""
        return self._fresh_snapshot()

    # --- fencing ----------------------------------------------------------------

    def renew_lease(self) -> None:
        """This router's heartbeat reached the database: its lease runs anew."""
        self._lease_renewed_at = self.monotonic()
        self._fenced_logged = False

    @property
    def fenced(self) -> bool:
        """Degraded with most of the lease run out: peers may count this router
        dead, so it claims no phone and takes no new call."""
        if self.healthy or self.lease_s is None:
            return False
        fenced = self.monotonic() - self._lease_renewed_at >= self.lease_s * FENCE_AT_LEASE_SHARE
        if fenced and not self._fenced_logged:
            self._fenced_logged = True
            log.error("lease running out while the database is away: claiming no phones "
                      "and declining new calls", lease_s=self.lease_s)
        return fenced

    async def claim(self, phone_id: int, capacity: int, leg_id: UUID, call_id: UUID) -> bool:
        """Take a call slot on the phone for this leg; False when it is busy (or,
        while fenced, when the database cannot take the claim)."""
        attempted = False
        if self.healthy and self.peers_degraded and not self._mine(phone_id):
            return False  # a degraded peer may ring it without telling the database
        if self.healthy:
            try:
                attempted = True
                taken = await self._run("claim", claims.claim(self.db, phone_id, leg_id,
                                                              call_id, self.router_id))
            except Unavailable:
                pass
            else:
                if taken:
                    self.held[leg_id] = phone_id
                return taken
        if (self.fenced or not self._mine(phone_id)
                or await self._calls_on(phone_id) >= capacity):
            if attempted:  # the claim may have committed before the database went away
                await self.write(ClaimReleased(leg_id, None))  # idempotent: nothing if not
            return False
        self.held[leg_id] = phone_id
        self.local[leg_id] = LocalClaim(phone_id, call_id)
        return True

    def may_offer(self, phone_id: int, dial_string: str) -> bool:
        """Whether a phone may be offered a call, as far as this router knows
        without asking the database: its endpoint is not reported offline and
        its agent was last seen signed in (or never seen otherwise). The
        database's own claim checks presence again; a claim made while it is
        away has only this to go by."""
        return (dial_string not in self.offline_endpoints()
                and self.presence_seen.get(phone_id, "signed_in") == "signed_in")

    async def claim_in_order(self, phones: Sequence[tuple[int, str]], call_id: UUID,
                             wanted: int, hotline_id: int | None = None,
                             take_turn: bool = False,
                             check_refusal: bool = False) -> claims.InOrder | None:
        """Claim the first ``wanted`` idle phones of ``phones`` ((phone id, dial
        string) in the strategy's order) in one statement (router/claims.py
        claim_in_order), each for a new leg id; None when the database cannot
        take it now (degraded, or it went away meanwhile): the caller then
        claims phone by phone (:meth:`claim`), as while degraded.

        Phones whose endpoint Asterisk reports offline, and while a peer is
        degraded the phones not of this router's share, are listed but never
        claimed (as :meth:`claim` and :meth:`find_hotline` keep them out).
        """
        if not self.healthy:
            return None
        offline = self.offline_endpoints()
        leg_ids = [None if dial in offline or (self.peers_degraded and not self._mine(phone))
                   else uuid4() for phone, dial in phones]
        try:
            got = await self._run("claim", claims.claim_in_order(
                self.db, [phone for phone, _ in phones], leg_ids, call_id, self.router_id,
                wanted, hotline_id, take_turn, check_refusal))
        except Unavailable:
            # Some claims may have committed before the database went away:
            # released when it is back (idempotent: nothing if not).
            for leg_id in leg_ids:
                if leg_id is not None:
                    await self.write(ClaimReleased(leg_id, None))
            return None
        except asyncpg.exceptions.DeadlockDetectedError as exc:
            # Rolled back, nothing claimed. The bulk releases lock in the same
            # order (router/claims.py), so only another writer (an admin's own
            # statement over many phones) can make one: give way, not fail.
            metrics.DATABASE_ERRORS.labels(operation="claim").inc()
            log.warning("claim in order gave way to another transaction, claiming one by one",
                        error=str(exc))
            return None
        for phone in got.claimed:
            assert phone.leg_id is not None
            self.held[phone.leg_id] = phone.phone_id
        self.presence_seen.update((p.phone_id, p.presence) for p in got.listed)
        return got

    async def _calls_on(self, phone_id: int) -> int:
        """While degraded: the phone's calls, ours (claimed, perhaps not dialled
        yet) and any other router's that Asterisk shows live."""
        ours = Counter(self.held.values())[phone_id]
        if self.live_legs is None:
            return ours
        try:
            live = await asyncio.wait_for(self.live_legs(), self.timeout_s)
        except Exception as exc:  # Asterisk silent too: our own count is all we know
            log.warning("live legs not known to Asterisk", error=str(exc) or type(exc).__name__)
            return ours
        mine = {str(leg_id) for leg_id in self.held}
        return ours + sum(1 for channel, phone in live.items()
                          if phone == phone_id and channel not in mine)

    async def release(self, leg_id: UUID, talk_ms: int | None) -> None:
        self.held.pop(leg_id, None)
        if self.local.pop(leg_id, None) is not None:
            return  # taken while degraded and not yet written back: nothing to undo
        await self.write(ClaimReleased(leg_id, talk_ms))

    def hold(self, leg_id: UUID, phone_id: int) -> None:
        """Count a claim in the database as this router's (a call it adopted)."""
        self.held[leg_id] = phone_id

    def held_legs(self) -> list[UUID]:
        """The legs whose claims this router holds now."""
        return list(self.held)

    async def write(self, record: AnyRecord) -> None:
        """A record: to the database, or to the spool while it is away, or to
        memory while the spool refuses it too. Never raises.

        A record the database refuses while it is up (a bug, or a row deleted
        under it) is kept aside in the spool's rejected file, as a replay does.
        """
        kind = type(record).__name__
        if self.healthy and not self.spool.pending and not self.unsaved:
            for attempt in range(ROLLED_BACK_RETRIES + 1):
                try:
                    await self._run(kind, records.write(self.db, record))
                    return
                except Unavailable:
                    break
                except Exception as exc:
                    # A deadlock (e.g. with a month's partition being attached)
                    # is tried again; anything else is refused: retrying will not help.
                    if rolled_back(exc) and attempt < ROLLED_BACK_RETRIES:
                        continue
                    metrics.DATABASE_ERRORS.labels(operation=kind).inc()
                    self.spool.set_aside(record, exc)
                    return
        self._keep(record)

    def _keep(self, record: AnyRecord) -> None:
        """Journal a record for later: the spool, or memory behind what it refused."""
        if not self._spool_unsaved():
            self._remember(record)
            return
        try:
            self.spool.append(record)
        except OSError as exc:
            self._remember(record, exc)
        metrics.RECORDS_SPOOLED.set(self.spool.pending)

    def _remember(self, record: AnyRecord, exc: OSError | None = None) -> None:
        if exc is not None and not self.unsaved:
            log.error("spool refuses records: keeping them in memory until the database "
                      "or the disk takes them", error=str(exc), spool=str(self.spool.path))
        self.unsaved.append(record)
        metrics.RECORDS_UNSAVED.set(len(self.unsaved))
        metrics.CANNOT_RECORD.set(0 if self.can_record else 1)

    def _spool_unsaved(self) -> bool:
        """Move the records kept in memory to the spool, in order; True once none is left."""
        while self.unsaved:
            try:
                self.spool.append(self.unsaved[0])
            except OSError:
                return False
            self.unsaved.pop(0)
            metrics.RECORDS_UNSAVED.set(len(self.unsaved))
            if not self.unsaved:
                log.warning("spool takes records again: those kept in memory are on disk")
        metrics.CANNOT_RECORD.set(0 if self.can_record else 1)
        return True

    async def next_call_number(self, hotline_id: int) -> int:
        if self.healthy:
            with contextlib.suppress(Unavailable):
                return await self._run("rotation",
                                       rotation.next_call_number(self.db, hotline_id))
        self._rotation[hotline_id] += 1
        return self._rotation[hotline_id] - 1

    async def transfer_rules(self, hotline_id: int) -> TransferRules:
        """Where the hotline's phones may transfer callers (router/transfer_rules.py);
        while the database is away: none beyond its own phones and groups."""
        if not self.healthy:
            return TransferRules()
        try:
            return await self._run("transfer rules", transfer_rules.load(self.db, hotline_id))
        except Unavailable:
            return TransferRules()

    async def refuses_calls(self, lookup: Lookup) -> bool:
        """Whether billing refuses the hotline's calls; while degraded, keep routing."""
        if lookup.refuses_calls is not None:  # read with the hotline
            return lookup.refuses_calls
        if not self.healthy:
            return False
        try:
            return await self._run("balance", balance.refuses_calls(self.db, lookup.hotline.id))
        except Unavailable:
            return False

    # --- the hold queue (router/waiting.py) -----------------------------------
    # Each raises Unavailable while the database is away (the queue then waits
    # without an order across routers, router/call/queue.py) or does not answer
    # within QUEUE_TIMEOUT_S. A slow queue operation (many waiters taking turns
    # under one hotline's lock) does not count as an outage: records and claims
    # find out for themselves.

    async def queue_join(self, call_id: UUID, hotline_id: int, group_id: int, vip: bool,
                         arrived_at: datetime, max_waiting: int | None) -> int | None:
        """The call's place in its queue (1 = next); None when the queue is full."""
        return await self._queue(waiting.join(
            self.db, call_id, hotline_id, group_id, self.router_id, vip, arrived_at,
            max_waiting, self._queue_lease_s))

    async def queue_offer(self, call_id: UUID, hotline_id: int, phone_ids: list[int]) -> bool:
        """Whether it is the call's turn to ring its group's free phones."""
        return await self._queue(waiting.offer(self.db, call_id, hotline_id, phone_ids,
                                               self._queue_lease_s))

    async def queue_give_back(self, call_id: UUID) -> None:
        await self._queue(waiting.give_back(self.db, call_id))

    async def queue_leave(self, call_id: UUID, answered: bool) -> None:
        await self._queue(waiting.leave(self.db, call_id, answered))

    async def queue_position(self, call_id: UUID) -> int | None:
        return await self._queue(waiting.position(self.db, call_id))

    async def queue_waiting(self, hotline_id: int, group_id: int) -> bool:
        """Whether callers wait for the group (False while the database is away)."""
        try:
            return await self._queue(waiting.anyone_waiting(self.db, hotline_id, group_id))
        except Unavailable:
            return False

    async def queue_hold_ms(self, hotline_id: int) -> int | None:
        return await self._queue(waiting.hold_ms(self.db, hotline_id))

    @property
    def _queue_lease_s(self) -> float:
        return self.lease_s or DEFAULT_LEASE_S

    def _need_database(self) -> None:
        if not self.healthy:
            raise Unavailable("queue")

    async def _queue(self, work: Awaitable[T]) -> T:
        if not self.healthy:
            close = getattr(work, "close", None)
            if close is not None:
                close()  # never awaited: no warning about it
            raise Unavailable("queue")
        try:
            return await asyncio.wait_for(work, QUEUE_TIMEOUT_S)
        except Exception as exc:
            if unreachable(exc):
                metrics.DATABASE_ERRORS.labels(operation="queue").inc()
                raise Unavailable("queue") from exc
            raise

    # --- what reconciliation asks ---------------------------------------------

    async def open_calls(self, router_id: str) -> list[records.OpenCall]:
        """Open records of ``router_id``."""
        return await records.open_calls(self.db, router_id)

    async def take_over(self, previous: str) -> list[records.OpenCall]:
        """The open records and claims of router ``previous``, now this router's."""
        return await records.take_over(self.db, previous, self.router_id)

    async def legs_of_open_call(self, call_id: UUID) -> list[records.OpenLeg]:
        return await records.legs_of_open_call(self.db, call_id)

    async def open_channels(self) -> set[str]:
        """Channels of every open record, whichever router holds it."""
        return await records.open_channels(self.db)

    async def release_stale(self, older_than_s: float, mine: bool = True) -> int:
        """Free the claims of this router that no live call holds (``mine``), and
        anyone's claim older than ``older_than_s``; how many."""
        return await claims.release_stale(self.db, self.router_id if mine else "",
                                          self.held_legs() if mine else [], older_than_s)

    async def close_out(self) -> tuple[int, int]:
        """On exit: write back what waits, release every claim of this router
        and close its open records as interrupted; (claims released, records closed).

        Raises Unavailable while records still wait (the database is away):
        their calls' real ends are among them, so nothing is closed here, and
        the next start replays the spool. Records the spool refused are lost
        with the process: each is logged in full.
        """
        await self.watch_once()
        if self.spool.pending or self.unsaved or not self.healthy:
            self._spool_unsaved()
            for record in self.unsaved:
                log.error("record lost on exit: neither the database nor the spool took it",
                          record=repr(record))
            raise Unavailable("records wait in the spool for the next start")
        released = await claims.release_all(self.db, self.router_id)
        return released, await records.close_interrupted(self.db, self.router_id)

    # --- staying healthy ------------------------------------------------------

    async def watch(self, interval_s: float = 1.0) -> None:
        """Probe while degraded (or while the spool is not empty); recover. Runs until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            if (self.healthy and not self.spool.pending and not self.unsaved
                    and not self.spool.replaying.exists()):
                continue
            self._spool_unsaved()  # while the database is away, make them durable
            try:
                await self._run("probe", self.db.fetchval("SELECT 1"))
                await self._recover()
            except Unavailable:
                continue
            except Exception as exc:
                metrics.DATABASE_ERRORS.labels(operation="recover").inc()
                log.error("recovery failed, retrying", error=str(exc))

    async def watch_once(self) -> None:
        """Replay what is spooled now, if the database answers (at start)."""
        with contextlib.suppress(Unavailable):
            await self._run("probe", self.db.fetchval("SELECT 1"))
            await self._recover()

    async def _recover(self) -> None:
        while self.spool.pending or self.spool.replaying.exists():
            self._retried += await self._run("replay", self.spool.replay(self.db), timeout_s=60)
            metrics.RECORDS_SPOOLED.set(self.spool.pending)
        while self.unsaved:  # behind the spooled ones, in order
            record = self.unsaved[0]
            try:
                await self._run("replay", records.write(self.db, record))
            except Unavailable:
                raise
            except Exception as exc:  # refused, as a replay sets it aside
                self.spool.set_aside(record, exc)
            self.unsaved.pop(0)
            self._retried += 1
            metrics.RECORDS_UNSAVED.set(len(self.unsaved))
        for leg_id, local in list(self.local.items()):
            if not await self._run("claim", claims.adopt(self.db, local.phone_id, leg_id,
                                                         local.call_id, self.router_id)):
                metrics.CLAIM_CONFLICTS.inc()
                log.warning("claim not written back: its phone is at capacity "
                            "(kept in claim_conflicts)", phone_id=local.phone_id,
                            leg_id=str(leg_id), call_id=str(local.call_id))
            self._retried += 1
            if self.local.pop(leg_id, None) is None and leg_id not in self.held:
                # released while it was being written back: undo it there too
                await self._run("release", claims.release(self.db, leg_id, None))
        if not self.healthy:
            self.healthy = True
            metrics.DATABASE_DEGRADED.set(0)
            away_s = (asyncio.get_running_loop().time() - self._away_since
                      if self._away_since is not None else None)
            log.warning("database is back: records replayed, claims written back",
                        retried=self._retried,
                        away_s=round(away_s, 1) if away_s is not None else None)
        metrics.CANNOT_RECORD.set(0)
        self._retried = 0
        self._away_since = None

    def _degrade(self, operation: str, exc: BaseException) -> None:
        metrics.DATABASE_ERRORS.labels(operation=operation).inc()
        if self.healthy:
            self.healthy = False
            self._retried = 0
            self._away_since = asyncio.get_running_loop().time()
            metrics.DATABASE_DEGRADED.set(1)
            metrics.CANNOT_RECORD.set(0 if self.can_record else 1)
            log.warning("database unreachable: routing from the cached configuration, "
                        "records go to the spool", operation=operation,
                        error=str(exc) or type(exc).__name__, share_of=len(self.routers_alive))

    def _mine(self, phone_id: int) -> bool:
        """This router's share of the phones while it cannot see the others' claims
        (or they cannot see its): shared among the routers alive at the last
        heartbeat and the peers without the database, who share the same way
        (a degraded peer's own list is the one from before it was cut off)."""
        alive = sorted({*self.routers_alive, *self.peers_degraded, self.router_id})
        return phone_id % len(alive) == alive.index(self.router_id)

    async def _run(self, operation: str, work: Awaitable[T],
                   timeout_s: float | None = None) -> T:
        """``work`` within ``timeout_s`` (default the store's), its failure told
        apart: Unavailable when the database could not be reached (the store
        degrades), else the error as raised.

        The limit costs no task of its own (router/deadline.py)."""
        try:
            return await deadline.within(timeout_s or self.timeout_s, work)
        except Exception as exc:
            if unreachable(exc):
                self._degrade(operation, exc)
                raise Unavailable(operation) from exc
            raise

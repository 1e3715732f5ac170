"""The call path's view of PostgreSQL, which keeps calls going while it is away.

While the database answers, every operation goes straight to it. When an
operation finds it unreachable (refused, reset, or silent past a short
timeout) the store turns *degraded* and the router keeps routing:

- the configuration comes from the last snapshot the router loaded;
- busy state is the router's own: it claims only phones of its share (phone
  id modulo the routers that were alive, so two routers never both use a
  phone they cannot see each other claim), up to each phone's capacity;
- call records go to the local spool (router/spool.py), in order, durably.

A watcher probes the database every second; once it answers, the spool is
replayed in order, the claims taken meanwhile are written back, and the
store is healthy again. Writes keep going to the spool until it is empty, so
records reach the database in the order they happened.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import structlog

from router import claims, metrics, records, rotation
from router.billing import balance
from router.directory import Hotline, Snapshot, assemble, find_hotline
from router.spool import Spool

log = structlog.get_logger("router.store")
T = TypeVar("T")

# Writes that may wait in the spool: all idempotent (see router/spool.py).
SPOOLABLE: dict[str, Callable[..., Awaitable[Any]]] = {
    write.__name__: write for write in (
        records.call_started, records.call_bridged, records.caller_answered,
        records.call_overflow, records.call_ended, records.leg_started, records.leg_ended,
        claims.release,
        records.plan_decided, records.plan_routed, records.menu_keys)}


class Unavailable(Exception):
    """The database did not answer."""


def unreachable(exc: BaseException) -> bool:
    """True for failures that mean "the database is away", not "the request was wrong"."""
    if isinstance(exc, OSError | TimeoutError | asyncpg.exceptions.InterfaceError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        # connection exception, operator intervention (shutdown), out of resources
        return str(getattr(exc, "sqlstate", "") or "")[:2] in ("08", "57", "53")
    return False


@dataclass(frozen=True)
class LocalClaim:
    phone_id: int
    call_id: UUID


class Store:
    def __init__(self, pool: Any, router_id: str, spool: Spool,
                 snapshot: Callable[[], Snapshot | None],
                 fresh_snapshot: Callable[[], Snapshot | None],
                 timeout_s: float = 1.0) -> None:
        self.db = pool
        self.router_id = router_id
        self.spool = spool
        self._snapshot = snapshot
        self._fresh_snapshot = fresh_snapshot
        self.timeout_s = timeout_s
        self.healthy = True
        self.held: dict[UUID, int] = {}  # every live claim of this router: leg -> phone
        self.local: dict[UUID, LocalClaim] = {}  # those taken while degraded
        self.routers_alive: list[str] = [router_id]
        self._rotation: Counter[int] = Counter()
        metrics.RECORDS_SPOOLED.set(spool.pending)

    # --- what a call asks ---------------------------------------------------

    async def find_hotline(self, number: str, new_call: bool = False) -> Hotline | None:
        if self.healthy:
            with contextlib.suppress(Unavailable):
                return await self._run("lookup", find_hotline(self.db, number,
                                                              self._fresh_snapshot(), new_call))
        snapshot = self._snapshot()
        if snapshot is None:
            raise Unavailable("no configuration loaded and the database is away")
        config = snapshot.hotlines.get(number)
        if config is None:
            return None
        busy = Counter(self.held.values())
        state = {p.phone_id: {"active_calls": busy[p.phone_id], "last_call_ended_at": None,
                              "calls_today": 0, "talk_ms_today": 0}
                 for p in config.phones if self._mine(p.phone_id)}
        return assemble(config, state)

    async def claim(self, phone_id: int, capacity: int, leg_id: UUID, call_id: UUID) -> bool:
        """Take a call slot on the phone for this leg; False when it is busy."""
        attempted = False
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
        if not self._mine(phone_id) or Counter(self.held.values())[phone_id] >= capacity:
            if attempted:  # the claim may have committed before the database went away
                await self.write("release", leg_id, None)  # idempotent: nothing if it did not
            return False
        self.held[leg_id] = phone_id
        self.local[leg_id] = LocalClaim(phone_id, call_id)
        return True

    async def release(self, leg_id: UUID, talk_ms: int | None) -> None:
        self.held.pop(leg_id, None)
        if self.local.pop(leg_id, None) is not None:
            return  # taken while degraded and not yet written back: nothing to undo
        await self.write("release", leg_id, talk_ms)

    async def write(self, write: str, *args: Any) -> None:
        """A record write: to the database, or to the spool while it is away."""
        if self.healthy and not self.spool.pending:
            try:
                await self._run(write, SPOOLABLE[write](self.db, *args))
                return
            except Unavailable:
                pass
            except Exception as exc:  # a refused write is a bug: retrying will not help
                metrics.DATABASE_ERRORS.labels(operation=write).inc()
                log.error("record write refused", write=write, error=str(exc))
                return
        self.spool.append(write, *args)
        metrics.RECORDS_SPOOLED.set(self.spool.pending)

    async def next_call_number(self, hotline_id: int) -> int:
        if self.healthy:
            with contextlib.suppress(Unavailable):
                return await self._run("rotation",
                                       rotation.next_call_number(self.db, hotline_id))
        self._rotation[hotline_id] += 1
        return self._rotation[hotline_id] - 1

    async def refuses_calls(self, hotline: Hotline) -> bool:
        """Whether billing refuses the hotline's calls; while degraded, keep routing."""
        if hotline.refuses_calls is not None:  # read with the hotline
            return hotline.refuses_calls
        if not self.healthy:
            return False
        try:
            return await self._run("balance", balance.refuses_calls(self.db, hotline.id))
        except Unavailable:
            return False

    # --- staying healthy ------------------------------------------------------

    async def watch(self, interval_s: float = 1.0) -> None:
        """Probe while degraded (or while the spool is not empty); recover. Runs until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            if self.healthy and not self.spool.pending and not self.spool.replaying.exists():
                continue
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
            await self._run("replay", self.spool.replay(self.db), timeout_s=60)
            metrics.RECORDS_SPOOLED.set(self.spool.pending)
        for leg_id, local in list(self.local.items()):
            await self._run("claim", claims.adopt(self.db, local.phone_id, leg_id,
                                                  local.call_id, self.router_id))
            if self.local.pop(leg_id, None) is None and leg_id not in self.held:
                # released while it was being written back: undo it there too
                await self._run("release", claims.release(self.db, leg_id, None))
        if not self.healthy:
            self.healthy = True
            metrics.DATABASE_DEGRADED.set(0)
            log.warning("database is back: records replayed, claims written back")

    def _degrade(self, operation: str, exc: BaseException) -> None:
        metrics.DATABASE_ERRORS.labels(operation=operation).inc()
        if self.healthy:
            self.healthy = False
            metrics.DATABASE_DEGRADED.set(1)
            log.error("database unreachable: routing from the cached configuration, "
                      "records go to the spool", operation=operation,
                      error=str(exc) or type(exc).__name__, share_of=len(self.routers_alive))

    def _mine(self, phone_id: int) -> bool:
        """This router's share of the phones while it cannot see the others' claims."""
        alive = sorted({*self.routers_alive, self.router_id})
        return phone_id % len(alive) == alive.index(self.router_id)

    async def _run(self, operation: str, work: Awaitable[T],
                   timeout_s: float | None = None) -> T:
        try:
            return await asyncio.wait_for(work, timeout_s or self.timeout_s)
        except Exception as exc:
            if unreachable(exc):
                self._degrade(operation, exc)
                raise Unavailable(operation) from exc
            raise

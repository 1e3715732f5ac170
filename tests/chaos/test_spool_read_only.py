"""The database is cut while one router's spool is read-only (issue 13, item 1).

Router sa can write its records neither to the database nor to its spool: it
keeps them in memory and writes them back when the database returns, declines
new calls meanwhile (its peer sb takes them through StasisBroadcast) and says
so in /readyz and a metric. Nothing is lost or left open.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from router import db as router_db
from tests.chaos.support import assert_nothing_lost, prepare_private, tally
from tests.conftest import DAEMON_LOGIN, PhoneFactory, RouterFactory, dialplan_global
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.postgres import PrivatePostgres

pytestmark = [pytest.mark.lab, pytest.mark.chaos]

CALLS, HOLD_MS, EVERY_S, CUT_S = 30, 2000, 1.0, 15.0
HOTLINE = "4006000013"
# A lease longer than the cut: a peer adopting the calls of a router that is
# still connected to Asterisk is a fencing question of its own (item 2), not this one.
SETTINGS = {"DB_TIMEOUT_S": "0.5", "ROUTER_LEASE_S": "60"}


class ReadOnlySwitch:
    """A directory that can be made read-only and writable again: a tmpfs
    remounted read-only when run as root (root ignores file modes), else modes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True)
        self.mounted = os.geteuid() == 0
        if self.mounted:
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(path)],
                           check=True)

    def read_only(self) -> None:
        if self.mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)
        else:
            self.path.chmod(0o555)

    def writable(self) -> None:
        if self.mounted:
            subprocess.run(["mount", "-o", "remount,rw", str(self.path)], check=True)
        else:
            self.path.chmod(0o755)

    def remove(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], check=False)


@pytest.fixture
def spool_dir(tmp_path: Path) -> Iterator[ReadOnlySwitch]:
    switch = ReadOnlySwitch(tmp_path / "spool-sa")
    yield switch
    switch.remove()


async def test_a_read_only_spool_during_a_database_cut_loses_nothing(
        lab: AsteriskLab, routers: RouterFactory, phones: PhoneFactory,
        private_postgres: PrivatePostgres, spool_dir: ReadOnlySwitch) -> None:
    bound = [phones(answer_after_ms=200) for _ in range(3)]
    pool = await prepare_private(private_postgres, HOTLINE, bound)
    url = private_postgres.url("hotline_router", DAEMON_LOGIN)
    crippled = routers("hotline-router-sa", {**SETTINGS, "SPOOL_DIR": str(spool_dir.path)},
                       database_url=url)
    routers("hotline-router-sb", SETTINGS, database_url=url)

    async def caller(n: int) -> sipp.CallResult:
        await asyncio.sleep(n * EVERY_S)
        return await sipp.call(lab.sip_address, HOTLINE, caller=f"1371300{n:04d}",
                               hold_ms=HOLD_MS)

    cannot_record_seen = 0.0
    statuses: set[int] = set()
    recording: set[bool | None] = set()  # /readyz's "recording" check, as sampled
    with dialplan_global(lab, "ROUTER_APPS", "^hotline-router-s[ab]$"):
        placed = asyncio.ensure_future(asyncio.gather(*(caller(n) for n in range(CALLS))))
        await asyncio.sleep(5)
        spool_dir.read_only()
        await pool.close()
        down_at = time.monotonic()
        await asyncio.to_thread(private_postgres.stop)
        while time.monotonic() - down_at < CUT_S:
            scraped = crippled.metrics()
            cannot_record_seen = max(cannot_record_seen,
                                     scraped.value("hotline_router_cannot_record"))
            status, checks = await asyncio.to_thread(crippled.readyz)
            statuses.add(status)
            recording.add(checks.get("recording"))
            await asyncio.sleep(0.5)
        # The spool stays read-only: what sa kept in memory goes straight to the database.
        await asyncio.to_thread(private_postgres.start)
        seen = await placed
        back = time.monotonic()
        while any(r.metrics().value(name) for r in routers.started
                  for name in ("hotline_router_records_spooled", "hotline_router_records_unsaved",
                               "hotline_router_database_degraded")):
            if time.monotonic() - back > 30:
                break  # the figures below tell what was not written back
            await asyncio.sleep(0.2)
        spool_dir.writable()

    pool = await router_db.connect_pool(private_postgres.url("hotline_router"), min_size=1)
    try:
        figures = await tally(pool, HOTLINE, seen)
        answered = sum(1 for s in seen if s.result == "answered")
        print(figures.line("read-only spool during a database cut") +
              f", answered {answered}, cannot-record seen {cannot_record_seen:.0f}, "
              f"readyz statuses {sorted(statuses)}", file=sys.stderr)
        with contextlib.suppress(Exception):
            lost = crippled.log_path.read_text().count("record lost")
            print(f"'record lost' log lines: {lost}", file=sys.stderr)
        assert_nothing_lost(figures)
        assert answered > 0
        assert cannot_record_seen == 1
        assert 503 in statuses
        assert False in recording
        assert await pool.fetchval("SELECT sum(active_calls) FROM phone_state") == 0
    finally:
        await pool.close()

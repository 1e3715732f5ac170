"""Shared fixtures: a fresh database, the lab Asterisk, and a running router.

Nothing here skips: if the lab or the database cannot start, the tests that
need them fail with the reason.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import structlog
from hypothesis import settings

from router import admin
from router import db as router_db
from tests.lab import asterisk, database, sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess

# Property tests share two cores with the lab's Asterisk and sipp: a slow example
# is the machine, not a fault, so Hypothesis's per-example deadline is off.
settings.register_profile("lab", deadline=None)
# `make mutation` (HYPOTHESIS_PROFILE=mutation): no saved examples, as on a fresh CI
# checkout, and the same examples on every run, so a score does not depend on luck.
settings.register_profile("mutation", deadline=None, database=None, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "lab"))

TEST_DB = os.environ.get("TEST_DATABASE_NAME", database.name("test"))


def pytest_configure(config: pytest.Config) -> None:
    """Loggers are never cached in tests: a logger cached by one test (bound to
    that test's captured stderr, or to the processors of its configuration) would
    bypass a later test's ``capture_logs`` or write to a closed file when pytest
    runs twice in one process (``make mutation``)."""
    real_configure = structlog.configure

    def configure(**settings: Any) -> None:
        real_configure(**{**settings, "cache_logger_on_first_use": False})

    structlog.configure = configure  # type: ignore[assignment]


@pytest.fixture(scope="session")
async def database_url() -> str:
    """A fresh, migrated database for this test session."""
    return await database.fresh(TEST_DB)


DAEMON_LOGIN = "hotline_router_test_daemon"


async def as_daemon(database_url: str) -> str:
    """``database_url`` as the router sees it: a login in the least-privileged
    role (made once; roles belong to the whole cluster)."""
    connection = await router_db.connect(database_url)
    try:
        if not await connection.fetchval("SELECT true FROM pg_roles WHERE rolname = $1",
                                         DAEMON_LOGIN):
            await connection.execute(
                f"CREATE ROLE {DAEMON_LOGIN} LOGIN IN ROLE hotline_router_daemon")
    finally:
        await connection.close()
    return database_url.replace("//postgres@", f"//{DAEMON_LOGIN}@", 1)


@pytest.fixture(scope="session")
async def daemon_database_url(database_url: str) -> str:
    """The test database as the router sees it: a login in the least-privileged role."""
    return await as_daemon(database_url)


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[Any]:
    pool = await router_db.connect_pool(database_url, min_size=2, max_size=20)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def lab() -> Iterator[AsteriskLab]:
    """The lab Asterisk; started here (and stopped after) unless already up."""
    instance = asterisk.instance()
    was_running = asterisk.is_running(instance)
    started = time.monotonic()
    asterisk.up(instance)
    print(f"\nlab Asterisk ready in {time.monotonic() - started:.1f} s "
          f"({'warm' if was_running else 'started'})", file=sys.stderr)
    yield instance
    if not was_running:
        asterisk.stop(instance)


@pytest.fixture(autouse=True)
def _lab_asterisk_alive(request: pytest.FixtureRequest) -> Iterator[None]:
    """The lab Asterisk, if the test uses it, runs at its start and its end.

    Asterisk 22.10.1 has died of a segmentation fault in the lab when channels
    are torn down in quick succession (a run at 120 calls/s; the chaos test of
    phones that answer and vanish), as reported upstream for chan_pjsip's
    hangup (asterisk/asterisk#1985). That test fails saying so, and the lab
    starts again for the next one, which would otherwise fail on a dead
    Asterisk too."""
    if "lab" not in request.fixturenames:
        yield
        return
    instance: AsteriskLab = request.getfixturevalue("lab")
    if not asterisk.is_running(instance):
        print(f"\nlab Asterisk not running ({asterisk.exit_status(instance)}): started again",
              file=sys.stderr)
        asterisk.up(instance)
    yield
    if not asterisk.is_running(instance):
        pytest.fail(f"the lab Asterisk died during this test ({asterisk.exit_status(instance)})")


@pytest.fixture(scope="session")
def lab_b() -> Iterator[AsteriskLab]:
    """A second lab Asterisk (its own ports), for tests of several Asterisks."""
    instance = asterisk.instance("b", index=1)
    was_running = asterisk.is_running(instance)
    asterisk.up(instance)
    yield instance
    if not was_running:
        asterisk.stop(instance)


class RouterFactory:
    """Starts extra router processes for one test, each with its own app name."""

    def __init__(self, lab: AsteriskLab, database_url: str, log_dir: Path) -> None:
        self.lab, self.database_url, self.log_dir = lab, database_url, log_dir
        self.started: list[RouterProcess] = []

    def __call__(self, app: str, extra_env: dict[str, str] | None = None,
                 lab: AsteriskLab | None = None, database_url: str | None = None) -> RouterProcess:
        process = RouterProcess(lab or self.lab, database_url or self.database_url, app,
                                self.log_dir / f"{app}.log", extra_env)
        self.started.append(process)  # before start: a failed start is stopped too
        return process.start()

    def stop_all(self) -> None:
        for process in self.started:
            process.stop()


@pytest.fixture
def routers(lab: AsteriskLab, daemon_database_url: str,
            tmp_path: Path) -> Iterator[RouterFactory]:
    factory = RouterFactory(lab, daemon_database_url, tmp_path)
    yield factory
    factory.stop_all()


@contextmanager
def dialplan_global(lab: AsteriskLab, name: str, value: str) -> Iterator[None]:
    """Set a dialplan global for the duration of a block (e.g. which routers get calls)."""
    before = {"ROUTER_MODE": "broadcast", "ROUTER_APPS": "^hotline-router(-.*)?$",
              "ROUTER_DOWN_DIAL": "", "ROUTER_DOWN_503": "no"}[name]
    asterisk.set_global(lab, name, value)
    try:
        assert f"{name}={value}\n" in asterisk.cli(lab, "dialplan show globals")
        yield
    finally:
        asterisk.set_global(lab, name, before)
        assert f"{name}={before}\n" in asterisk.cli(lab, "dialplan show globals")


@pytest.fixture(scope="session")
def router(lab: AsteriskLab, daemon_database_url: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    """The session's router, connected as the least-privileged daemon role."""
    log_path = tmp_path_factory.mktemp("router") / "router.log"
    # Gauges read from the database refresh quickly so tests can watch them.
    process = RouterProcess(lab, daemon_database_url, "hotline-router", log_path,
                            extra_env={"METRICS_REFRESH_S": "0.5"}).start()
    yield process
    process.stop()


_numbers = itertools.count(1)


@pytest.fixture
def hotline_number() -> str:
    """A 400 number no other test uses."""
    return f"400{next(_numbers):07d}"


async def wait_for_call(db: Any, dialled: str, count: int = 1,
                        timeout_s: float = 60.0) -> list[Any]:
    """The ended call records of ``dialled`` once ``count`` of them exist."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = await db.fetch(
            "SELECT * FROM calls WHERE dialled = $1 AND ended_at IS NOT NULL ORDER BY started_at",
            dialled)
        if len(rows) >= count:
            return list(rows)
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(rows)} of {count} calls to {dialled} ended "
                                 f"within {timeout_s} s")
        await asyncio.sleep(0.1)


async def wait_until_answered(db: Any, dialled: str, caller: str,
                              timeout_s: float = 10.0) -> None:
    """Until the call from ``caller`` to ``dialled`` has been answered by a phone."""
    deadline = time.monotonic() + timeout_s
    while not await db.fetchval(
            "SELECT true FROM calls WHERE dialled = $1 AND caller = $2 "
            "AND answered_at IS NOT NULL", dialled, caller):
        if time.monotonic() > deadline:
            raise AssertionError(f"the call from {caller} to {dialled} was not answered "
                                 f"within {timeout_s} s")
        await asyncio.sleep(0.05)


@pytest.fixture
def phones() -> Iterator[PhoneFactory]:
    """Start sipp phones for one test; all are stopped when it ends."""
    factory = PhoneFactory()
    yield factory
    factory.stop_all()


class PhoneFactory:
    def __init__(self) -> None:
        self.started: list[sipp.Phone] = []

    def __call__(self, answer_after_ms: int | None = 200, reject_code: int | None = None,
                 hangup_after_ms: int | None = None, key_pcap: tuple[int, str] | None = None,
                 early_media: bool = False, scenario_file: Path | None = None,
                 inject: tuple[str, ...] = (), trace_messages: bool = False,
                 auto_answer: bool = False, host: str = "127.0.0.1") -> sipp.Phone:
        phone = sipp.Phone(answer_after_ms=answer_after_ms, reject_code=reject_code,
                           hangup_after_ms=hangup_after_ms, key_pcap=key_pcap,
                           early_media=early_media, scenario_file=scenario_file,
                           inject=inject, trace_messages=trace_messages,
                           auto_answer=auto_answer, host=host).start()
        self.started.append(phone)
        return phone

    def stop_all(self) -> None:
        for phone in self.started:
            phone.stop()


async def add_hotline(db: Any, number: str, bound: list[sipp.Phone], strategy: str = "sequential",
                      ring_timeout_s: int = 3) -> dict[str, int]:
    """Create a hotline and bind ``bound`` in order; returns dial string -> phone id."""
    await admin.add_hotline(db, number, strategy, ring_timeout_s=ring_timeout_s)
    ids = {}
    for phone in bound:
        row = await admin.add_phone(db, number, phone.dial_string)
        ids[phone.dial_string] = row["phone_id"]
    return ids


async def legs_of(db: Any, call_id: Any) -> list[Any]:
    return list(await db.fetch(
        "SELECT * FROM call_legs WHERE call_id = $1 ORDER BY dial_started_at, id", call_id))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed lab test shows the tail of each router's log next to the failure."""
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        processes = [funcargs.get("router")]
        if isinstance(funcargs.get("routers"), RouterFactory):
            processes += funcargs["routers"].started
        for process in processes:
            if isinstance(process, RouterProcess):
                report.sections.append((f"router log ({process.app})", process.log_tail(6000)))
    return report

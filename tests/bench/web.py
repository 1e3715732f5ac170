"""`python -m tests.bench.web`: the web console's two figures (see docs/web.md).

    wallboard   real lab calls through a router; a headless chromium on the
                wallboard; from each state change (Asterisk's time, stored in
                the records) to the wallboard drawing it: p50/p99
    call-log    100,000 calls of one hotline (and as many of others) seeded;
                GET /api/v1/calls as that hotline's customer and as the
                operator, first page, a deep page, by caller, missed only:
                p50/p99, then the same without the call log's indexes

Benchmarks, not tests: they print figures and assert nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from router import admin
from router import db as router_db
from router.web import tokens
from tests.bench.stats import percentile
from tests.lab import asterisk, database, sipp
from tests.lab.router import RouterProcess
from tests.lab.web import WebProcess

WEB_LOGIN = "hotline_router_bench_web"
DAEMON_LOGIN = "hotline_router_bench_daemon"


async def logins(url: str) -> tuple[str, str]:
    """The database as the web process and as the router see it (least privilege)."""
    connection = await router_db.connect(url)
    try:
        for login, role in ((WEB_LOGIN, "hotline_router_web"),
                            (DAEMON_LOGIN, "hotline_router_daemon")):
            if not await connection.fetchval("SELECT true FROM pg_roles WHERE rolname = $1",
                                             login):
                await connection.execute(f"CREATE ROLE {login} LOGIN IN ROLE {role}")
    finally:
        await connection.close()
    return (url.replace("//postgres@", f"//{WEB_LOGIN}@", 1),
            url.replace("//postgres@", f"//{DAEMON_LOGIN}@", 1))


def summary(name: str, values_ms: list[float]) -> str:
    return (f"{name:<34} n={len(values_ms):>4}  p50 {percentile(values_ms, 50):7.1f} ms"
            f"  p99 {percentile(values_ms, 99):7.1f} ms  mean {statistics.fmean(values_ms):7.1f}")


async def wallboard(calls: int) -> None:
    from playwright.async_api import async_playwright

    url = await database.fresh(database.name("bench_web"))
    web_url, daemon_url = await logins(url)
    db = await router_db.connect_pool(url, min_size=1, max_size=4)
    workdir = Path(tempfile.mkdtemp(prefix="bench-web-"))
    lab = asterisk.instance()
    asterisk.up(lab)
    router = RouterProcess(lab, daemon_url, "hotline-router", workdir / "router.log").start()
    web = WebProcess(web_url, workdir / "web.log").start()
    phone = sipp.Phone(answer_after_ms=1000).start()
    try:
        await admin.add_hotline(db, "4008880001", ring_timeout_s=10)
        await admin.add_phone(db, "4008880001", phone.dial_string, label="测试")
        token = (await tokens.create(db, "bench", "operator")).token
        async with async_playwright() as driver:
            browser = await driver.chromium.launch(executable_path="/usr/bin/chromium")
            page = await browser.new_page()
            await page.goto(f"{web.url}/login")
            await page.fill("input[name=token]", token)
            await page.click("button[type=submit]")
            await page.wait_for_selector("#status.ok")
            for n in range(calls):
                result = await sipp.call(lab.sip_address, "4008880001",
                                         caller=f"1390000{n:04d}", hold_ms=1000)
                assert result.result == "answered", result.errors
            await asyncio.sleep(1.0)
            shown = await page.evaluate("window.hotlineWallboard.shown")
            await browser.close()
        rows = await db.fetch(
            """SELECT c.caller, c.answered_at, c.ended_at,
                      (SELECT min(dial_started_at) FROM call_legs l WHERE l.call_id = c.id)
                          AS ringing_at
               FROM calls c WHERE c.dialled = '4008880001'""")
        changed = {(r["caller"], state): r[column] for r in rows
                   for state, column in (("ringing", "ringing_at"), ("talking", "answered_at"),
                                         ("gone", "ended_at"))}
        delays: dict[str, list[float]] = {"ringing": [], "talking": [], "gone": []}
        for event in shown:
            at = changed.get((event["caller"], event["state"]))
            if at is not None:
                delays[event["state"]].append(event["at"] - at.timestamp() * 1000)
        print(f"wallboard: {calls} lab calls, one state change -> drawn in the browser")
        for state, values in delays.items():
            print(summary(f"  {state}", values))
        print(summary("  all state changes", [v for vs in delays.values() for v in vs]))
    finally:
        phone.stop()
        web.stop()
        router.stop()
        await db.close()


SEED = """
INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id, started_at,
                   answered_at, ended_at, outcome, plan_result, plan_reason)
SELECT gen_random_uuid(), $1, $2, '139' || lpad((n % 50000)::text, 8, '0'), random()::text, 'seed',
       ts, CASE WHEN n % 5 <> 0 THEN ts + interval '6 s' END,
       ts + interval '66 s', CASE WHEN n % 5 <> 0 THEN 'answered' ELSE 'no-answer' END,
       'default', 'no rule matched'
FROM (SELECT n, $3::timestamptz - n * interval '5 minutes' AS ts
      FROM generate_series(1, $4) AS n) s
"""


async def timed(session: aiohttp.ClientSession, url: str, headers: dict[str, str],
                repeat: int) -> list[float]:
    values = []
    for _ in range(repeat):
        started = time.perf_counter()
        async with session.get(url, headers=headers) as response:
            await response.read()
            assert response.status == 200, await response.text()
        values.append((time.perf_counter() - started) * 1000)
    return values


async def call_log(calls: int, repeat: int) -> None:
    url = await database.fresh(database.name("bench_web"))
    web_url, _ = await logins(url)
    db = await router_db.connect_pool(url, min_size=1, max_size=4)
    workdir = Path(tempfile.mkdtemp(prefix="bench-web-"))
    try:
        started = time.monotonic()
        await tokens.add_customer(db, "big")
        await tokens.add_customer(db, "others")
        for number, owner in (("4008880001", "big"), ("4008880002", "others")):
            hotline = await db.fetchval(
                "INSERT INTO hotlines (number) VALUES ($1) RETURNING id", number)
            await tokens.assign(db, owner, [number])
            await db.execute(SEED, hotline, number, datetime.fromisoformat(
                "2026-11-28T00:00:00+08:00"), calls)
        await db.execute("DELETE FROM rating_queue")  # nothing rates this database
        await db.execute("VACUUM ANALYZE calls")
        print(f"call log: seeded {calls:,} calls on each of 2 hotlines in "
              f"{time.monotonic() - started:.0f} s")
        customer = (await tokens.create(db, "big", "customer", "big")).token
        operator = (await tokens.create(db, "ops", "operator")).token
        web = WebProcess(web_url, workdir / "web.log").start()

        async def measure(label: str) -> None:
            async with aiohttp.ClientSession(web.url) as session:
                base = "/api/v1/calls?hotline=4008880001&limit=50"
                first = await (await session.get(
                    base, headers={"Authorization": f"Bearer {customer}"})).json()
                deep = base
                for _ in range(200):  # 10,000 calls back
                    page = await (await session.get(
                        deep, headers={"Authorization": f"Bearer {customer}"})).json()
                    deep = f"{base}&before={page['next_before']}"
                assert first["calls"]
                cases: list[tuple[str, str, str]] = [
                    ("first page, customer", base, customer),
                    ("first page, operator", base, operator),
                    ("page 201 (10,000 back), customer", deep, customer),
                    ("one caller, customer", base + "&caller=13900000042", customer),
                    ("missed only, customer", base + "&outcome=missed", customer),
                    ("busy only (none), customer", base + "&outcome=busy", customer),
                ]
                print(f"  {label}")
                for name, path, token in cases:
                    values = await timed(session, path, {"Authorization": f"Bearer {token}"},
                                         repeat)
                    print(summary(f"    {name}", values))

        try:
            await measure("with the call log's indexes (migration 0011)")
            await db.execute("DROP INDEX calls_log_by_hotline_caller, "
                             "calls_log_by_hotline_outcome")
            await measure("without them (only 0001's calls_by_hotline_start)")
        finally:
            web.stop()
    finally:
        await db.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.web", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["wallboard", "call-log"])
    parser.add_argument("--calls", type=int, default=None,
                        help="wallboard: lab calls (default 30); call-log: calls per hotline "
                             "(default 100000)")
    parser.add_argument("--repeat", type=int, default=200, help="call-log: requests per case")
    args = parser.parse_args()
    job: Callable[[], Awaitable[Any]]
    if args.command == "wallboard":
        job = lambda: wallboard(args.calls or 30)  # noqa: E731
    else:
        job = lambda: call_log(args.calls or 100_000, args.repeat)  # noqa: E731
    asyncio.run(job())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

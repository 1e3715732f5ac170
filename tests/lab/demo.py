"""`make demo`: real SIP calls through the lab, then what the router recorded.

Hotline 4008001234 has three bound phones in this order: desk-1 (busy: it
answers every call with 486), desk-2 and desk-3. Ten callers ring it a little
apart with calls of different lengths, so the sequential rule hunts past the
busy phone and, when desk-2 is talking, on to desk-3.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from router import admin, logs
from router import db as router_db
from router.billing import config
from router.cli import output
from tests.lab import asterisk, database, sipp
from tests.lab.router import RouterProcess

DEMO_DB = database.name("demo")
HOTLINE = "4008001234"
CALLS = 10
PRICE_FEN_PER_MINUTE = 12


async def run(lab: asterisk.AsteriskLab, database_url: str) -> int:
    """Place the demo calls and print what happened; the number of calls answered."""
    phones = {"desk-1": sipp.Phone(reject_code=486).start(),
              "desk-2": sipp.Phone(answer_after_ms=800).start(),
              "desk-3": sipp.Phone(answer_after_ms=1200).start()}
    labels = {phone.dial_string: label for label, phone in phones.items()}
    pool = await router_db.connect_pool(database_url, min_size=1, max_size=4)
    router = RouterProcess(lab, database_url, "hotline-router",
                           Path(tempfile.mkdtemp(prefix="hotline-demo-")) / "router.log")
    try:
        await admin.add_hotline(pool, HOTLINE, "sequential", name="demo", ring_timeout_s=5)
        for label, phone in phones.items():
            await admin.add_phone(pool, HOTLINE, phone.dial_string, label=label)
        # ¥0.12 a minute, a part minute counts as a whole one; ¥3,000 prepaid.
        await config.set_tariff(pool, HOTLINE, PRICE_FEN_PER_MINUTE, 60, "2000-01-01")
        await config.top_up(pool, HOTLINE, 300_000, "demo package")
        router.start()
        print(f"router running (log: {router.log_path})")
        rng = random.Random(400)
        print(f"placing {CALLS} calls to {HOTLINE} ...")

        async def one(n: int) -> sipp.CallResult:
            await asyncio.sleep(n * 2.0)
            caller = f"139{rng.randrange(10**8):08d}"
            return await sipp.call(lab.sip_address, HOTLINE, caller=caller,
                                   hold_ms=rng.choice([1500, 3000, 5000, 8000]))

        started = time.monotonic()
        await asyncio.gather(*(one(n) for n in range(CALLS)))
        await asyncio.sleep(0.5)
        print(f"done in {time.monotonic() - started:.0f} s; waiting for the rating ...\n")
        await wait_until_rated(pool)
        rows = await pool.fetch(
            """SELECT c.id, c.caller, c.outcome, c.answered_dial_string, c.billable_ms,
                      coalesce(-(SELECT sum(amount_fen) FROM ledger g
                                 WHERE g.call_id = c.id), 0) AS charge_fen,
                      (SELECT string_agg(l.dial_string || ' ' || l.result, ', '
                                         ORDER BY l.dial_started_at)
                       FROM call_legs l WHERE l.call_id = c.id) AS attempts
               FROM calls c ORDER BY c.started_at""")
        print_table(rows, labels)
        balance = await pool.fetchval("SELECT sum(amount_fen) FROM ledger")
        print(f"prepaid balance now ¥{balance / 100:,.2f} (of ¥3,000.00)")
        return sum(1 for row in rows if row["outcome"] == "answered")
    finally:
        router.stop()
        for phone in phones.values():
            phone.stop()
        await pool.close()


async def wait_until_rated(pool: Any, timeout_s: float = 30.0) -> None:
    """Until every answered call has its charge in the ledger (the router rates them)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not await pool.fetchval(
                """SELECT count(*) FROM calls c WHERE c.answered_at IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM ledger g WHERE g.call_id = c.id)"""):
            return
        await asyncio.sleep(0.5)
    print("(some calls were not rated yet)")


def print_table(rows: list[Any], labels: dict[str, str]) -> None:
    def label(dial_string: str | None) -> str:
        return labels.get(dial_string or "", "-")

    shown = []
    for n, row in enumerate(rows, start=1):
        attempts = row["attempts"] or ""
        for dial_string, name in labels.items():
            attempts = attempts.replace(dial_string, name)
        shown.append({
            "call": n, "caller": row["caller"], "answered by": label(row["answered_dial_string"]),
            "outcome": row["outcome"], "seconds": f"{row['billable_ms'] / 1000:.3f}",
            # a part minute counts as a whole one
            "minutes": -(-row["billable_ms"] // 60_000),
            "charge": f"¥{row['charge_fen'] / 100:.2f}", "ring attempts": attempts})
    output.print_table(shown, list(shown[0]) if shown else ["call"],
                       right=("call", "seconds", "minutes", "charge"))
    answered = [r for r in rows if r["outcome"] == "answered"]
    print(f"\n{len(rows)} calls, {len(answered)} answered, "
          f"{sum(r['billable_ms'] for r in rows) / 1000:.3f} billable seconds, "
          f"charged ¥{sum(r['charge_fen'] for r in rows) / 100:.2f} at "
          f"¥{PRICE_FEN_PER_MINUTE / 100:.2f} a minute")


def main() -> int:
    logs.configure("console", "warning")
    lab = asterisk.instance()
    was_running = asterisk.is_running(lab)
    started = time.monotonic()
    asterisk.up(lab)
    print(f"lab Asterisk ready in {time.monotonic() - started:.1f} s")
    try:
        database_url = asyncio.run(database.fresh(DEMO_DB))
        print(f"demo database {DEMO_DB} migrated")
        answered = asyncio.run(run(lab, database_url))
    finally:
        if not was_running:
            asterisk.stop(lab)
            print("lab stopped")
    print(f"records kept in database {DEMO_DB}: "
          f"DATABASE_URL={database.SERVER_URL}/{DEMO_DB} hotline-router calls")
    if not answered:
        print("no call was answered: see the router's log above", file=sys.stderr)
        return 1
    return 0

"""The rating loop every router runs beside its calls.

Each pass rates the calls that ended at least ``rating_delay_s`` ago and, now
and then, settles the minimum spend of months that have ended. Several
routers may run it at once (see router/billing/rater.py for why that is safe).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import structlog

from router.billing import rater
from router.billing.balance import BalanceWatch
from router.quiet import QuietRetries

log = structlog.get_logger("router.billing")


@dataclass(frozen=True)
class RatingSettings:
    delay_s: float = 2.0       # an ended call waits this long to be rated (rating_delay_s)
    interval_s: float = 1.0    # pause between passes (rating_interval_s)
    settle_every_s: float = 60.0  # how often to look for months to settle and balances to show


async def run(db: Any, settings: RatingSettings) -> None:
    """Rate until cancelled; a failed pass is logged and retried on the next."""
    watch = BalanceWatch()
    next_settle = 0.0
    quiet = QuietRetries(log, "rating pass")
    log.info("rating started", delay_s=settings.delay_s, interval_s=settings.interval_s)
    while True:
        try:
            for hotline in await rater.rate_ready(db, settings.delay_s):
                log.info("calls rated", hotline=hotline.number, calls=len(hotline.calls),
                         charged_fen=sum(r.charge_fen for r in hotline.calls.values()),
                         balance_fen=hotline.balance_fen)
                watch.observe(hotline.number, hotline.balance_fen, hotline.low_balance_fen,
                              hotline.refuses_at_zero)
            if time.monotonic() >= next_settle:
                for month in await rater.settle_months(db, settings.delay_s):
                    log.info("minimum spend settled", hotline=month.number,
                             month=month.month.isoformat()[:7], minimum_fen=month.minimum_fen,
                             top_up_fen=month.top_up_fen)
                await watch.refresh(db)
                next_settle = time.monotonic() + settings.settle_every_s
            quiet.succeeded()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an outage is said once; anything else in full
            quiet.failed(exc)
        await asyncio.sleep(settings.interval_s)

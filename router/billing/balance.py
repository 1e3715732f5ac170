"""The prepaid balance as routing and operators see it.

- :func:`refuses_calls`: the one question routing asks (router/call.py).
- :class:`BalanceWatch`: log events and gauges when a balance runs low.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog

from router import metrics

log = structlog.get_logger("router.billing")


def refusal_sql(hotline_id: str) -> str:
    """SQL for "this hotline's calls are refused now" (the hotline id a parameter
    or column); routing reads it alongside busy state (router/directory.py).
    Only a hotline that refuses at zero pays for summing its ledger."""
    return f"""coalesce((
    SELECT coalesce((SELECT sum(l.amount_fen) FROM ledger l
                     WHERE l.hotline_id = b.hotline_id), 0) <= 0
    FROM hotline_billing b
    WHERE b.hotline_id = {hotline_id} AND b.at_zero_balance = 'refuse'), false)"""


_REFUSES = f"SELECT {refusal_sql('$1')}"


async def refuses_calls(db: Any, hotline_id: int) -> bool:
    """True when the hotline's balance is used up and its owner chose to refuse calls then."""
    try:
        return bool(await db.fetchval(_REFUSES, hotline_id))
    except Exception as exc:  # a billing fault must not stop routing: keep the call
        log.error("balance check failed, routing anyway", hotline_id=hotline_id, error=str(exc))
        return False


_BALANCES = """
SELECT h.number, coalesce(sum(l.amount_fen), 0) AS balance_fen,
       coalesce(b.low_balance_fen, 0) AS low_balance_fen,
       coalesce(b.at_zero_balance, 'keep-routing') AS at_zero_balance
FROM hotlines h
LEFT JOIN hotline_billing b ON b.hotline_id = h.id
LEFT JOIN ledger l ON l.hotline_id = h.id
WHERE b.hotline_id IS NOT NULL OR l.id IS NOT NULL
GROUP BY h.number, b.low_balance_fen, b.at_zero_balance
"""


@dataclass
class BalanceWatch:
    """Tells once when a hotline's balance falls below its threshold or is used up.

    Each router process watches for itself, so each logs the change once.
    """

    low: set[str] = field(default_factory=set)
    used_up: set[str] = field(default_factory=set)

    def observe(self, number: str, balance_fen: int, low_balance_fen: int,
                refuses_at_zero: bool = False) -> None:
        metrics.BALANCE.labels(hotline=number).set(balance_fen)
        is_low = balance_fen < low_balance_fen
        metrics.BALANCE_LOW.labels(hotline=number).set(1 if is_low else 0)
        if is_low and number not in self.low:
            self.low.add(number)
            log.warning("balance low", hotline=number, balance_fen=balance_fen,
                        threshold_fen=low_balance_fen)
        elif not is_low and number in self.low:
            self.low.discard(number)
            log.info("balance restored", hotline=number, balance_fen=balance_fen,
                     threshold_fen=low_balance_fen)
        # Postpaid hotlines (no threshold, keep routing) run below zero by design.
        used_up = balance_fen <= 0 and (low_balance_fen > 0 or refuses_at_zero)
        if used_up and number not in self.used_up:
            self.used_up.add(number)
            log.warning("balance used up", hotline=number, balance_fen=balance_fen,
                        refusing_calls=refuses_at_zero)
        elif not used_up:
            self.used_up.discard(number)

    async def refresh(self, db: Any) -> None:
        """Look at every hotline with billing (top-ups made with the CLI show up here)."""
        for row in await db.fetch(_BALANCES):
            self.observe(row["number"], int(row["balance_fen"]), row["low_balance_fen"],
                         row["at_zero_balance"] == "refuse")

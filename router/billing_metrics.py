"""Billing gauges. Not registered anywhere yet: add COLLECTORS to the registry /metrics serves."""

from __future__ import annotations

from prometheus_client import Gauge

BALANCE = Gauge("hotline_router_balance_fen",
                "Prepaid balance of a hotline in fen, from the ledger", ["hotline"],
                registry=None)
BALANCE_LOW = Gauge("hotline_router_balance_low",
                    "1 while a hotline's balance is below its low-balance threshold", ["hotline"],
                    registry=None)

COLLECTORS = (BALANCE, BALANCE_LOW)

"""Billing: tariffs, packages, the ledger, rating, statements, and the CDR cross-check.

rating.py     pure rating rules (no database, no clock)
months.py     billing months (YYYY-MM)
terms.py      a hotline's billing settings and price list, from the database
ledger.py     the append-only ledger: every movement of money
rater.py      charging answered calls exactly once; settling monthly minimum spend
loop.py       the rating loop each router runs
rerate.py     re-deriving a month after a tariff fix, as adjustments
balance.py    the zero-balance check routing asks, and low-balance events
money.py      fen and milliseconds shown to people
statements.py monthly statements; render.py prints them
cdr.py        Asterisk's own CDRs; reconcile.py compares them with ours
config.py     what admins set: tariffs, packages, settings, top-ups
"""

from router.billing.balance import refuses_calls

__all__ = ["refuses_calls"]
